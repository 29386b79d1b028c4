"""The one training harness (``tunesmith.training``): fit, resume with history, the one model-file format, config.

The transcriber's port to the harness is checked by a short real run: the loss falls over 20 steps on
two recorded-style takes, and ``--resume`` continues the step count and the metric history.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from tunesmith.errors import CheckpointError, TunesmithError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {"transcriber": "transcriber.pt", "composer": "composer-chorales.pt",
           "transform": "transform-piano2violin.pt", "classifier": "voices.pt"}


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text().splitlines()))


# ----------------------------------------------------------------------------- fit on a toy module
class _Line(torch.utils.data.Dataset):
    def __init__(self, n: int = 64):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def _toy():
    import lightning as L

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return torch.utils.data.DataLoader(_Line(), batch_size=16)

        def val_dataloader(self):
            return torch.utils.data.DataLoader(_Line(32), batch_size=16)

    class Fit(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self.lin(batch[0])[:, 0], batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=False)
            return loss

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self.lin(batch[0])[:, 0], batch[1]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    return Fit(), Data()


def test_fit_writes_checkpoints_history_curves_and_resume_appends(tmp_path):
    from tunesmith.training import fit

    common = dict(accelerator="cpu", devices=1, progress=False, trainer_options={"log_every_n_steps": 1})
    first = fit(*_toy(), tmp_path, max_epochs=2, **common)
    assert first.best.name == "best.ckpt" and first.last.is_file() and first.curves.stat().st_size > 0
    steps_before = sorted({int(r["step"]) for r in _rows(first.metrics)})
    with pytest.raises(TunesmithError, match="nothing to resume"):
        fit(*_toy(), tmp_path / "empty", max_epochs=2, resume=True, **common)
    second = fit(*_toy(), tmp_path, max_epochs=4, resume=True, **common)
    assert second.resumed and second.trainer.current_epoch == 4
    steps_after = sorted({int(r["step"]) for r in _rows(second.metrics)})
    assert steps_after[:len(steps_before)] == steps_before        # the earlier history is still there
    assert max(steps_after) > max(steps_before)                   # ... and the resumed run appended to it
    assert not (tmp_path / "metrics.before-resume.csv").exists()


def test_last_checkpoint_is_the_last_step_even_when_validation_stopped_improving(tmp_path):
    """Resuming continues from the last step, not from the best one."""
    from tunesmith.training import fit

    model, data = _toy()

    def worse_every_time(batch, batch_idx=0):  # the validation loss only ever rises
        model.log("val_loss", torch.tensor(float(model.global_step)))

    model.validation_step = worse_every_time
    res = fit(model, data, tmp_path, max_epochs=3, accelerator="cpu", devices=1, progress=False, curves=None)
    best = torch.load(res.best, map_location="cpu", weights_only=True)
    last = torch.load(res.last, map_location="cpu", weights_only=True)
    assert best["global_step"] == 4 and last["global_step"] == 12 == res.trainer.global_step
    assert not list(tmp_path.glob("*.part"))


def test_resume_with_more_steps_stretches_a_one_cycle_schedule(tmp_path):
    """A run resumed with a larger step budget goes on along a schedule over the new length (the restored
    OneCycleLR would fail past its old end), from the learning rate it had reached."""
    from tunesmith.training import fit

    def toy(total):
        model, data = _toy()

        def configure_optimizers():
            opt = torch.optim.SGD(model.parameters(), lr=0.05)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=total, pct_start=0.25)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

        model.configure_optimizers = configure_optimizers
        return model, data

    common = dict(accelerator="cpu", devices=1, progress=False, curves=None)
    fit(*toy(6), tmp_path, max_steps=6, **common)
    res = fit(*toy(12), tmp_path, max_steps=12, resume=True, **common)
    assert res.trainer.global_step == 12
    sched = res.trainer.lr_scheduler_configs[0].scheduler
    assert sched.total_steps == 12 and sched.last_epoch == 12
    expected = torch.optim.lr_scheduler.OneCycleLR(torch.optim.SGD([torch.zeros(1)], lr=0.05), max_lr=0.05,
                                                   total_steps=12, pct_start=0.25)
    for _ in range(12):
        expected.optimizer.step()
        expected.step()
    assert sched.get_last_lr() == pytest.approx(expected.get_last_lr())


def test_fit_time_budget_uses_lightnings_timer(tmp_path):
    from lightning.pytorch.callbacks import Timer

    from tunesmith.training import fit

    result = fit(*_toy(), tmp_path, max_epochs=1000, max_minutes=0.02, accelerator="cpu", devices=1,
                 progress=False, curves=None)
    assert any(isinstance(c, Timer) for c in result.trainer.callbacks)
    assert result.trainer.current_epoch < 1000                    # stopped by the 1.2-s budget


# ----------------------------------------------------------------------------- the one model-file format
@pytest.mark.parametrize("kind", list(SHIPPED))
def test_every_shipped_model_file_reads_through_the_one_loader(kind):
    from tunesmith import models
    from tunesmith.training import load_model_file

    name = {"classifier": "voices"}.get(kind, kind)
    info = load_model_file(models.path(name), kind)
    assert info["kind"] == kind and info["format_version"] in (1, 2)
    assert isinstance(info["config"], dict) and info["config"] and len(info["state_dict"]) > 3
    other = "composer" if kind != "composer" else "transcriber"
    with pytest.raises(CheckpointError, match=rf"{SHIPPED[kind]}: a {kind} checkpoint, not a {other} checkpoint$"):
        load_model_file(models.path(name), other)


def test_model_file_roundtrip_and_version_error(tmp_path):
    from tunesmith import __version__
    from tunesmith.training import FORMAT_VERSION, load_model_file, save_model_file

    net = torch.nn.Linear(4, 2)
    path = save_model_file(tmp_path / "m.pt", "classifier", config={"a": 1}, state_dict=net.state_dict(),
                           extra={"note": "x"})
    raw = torch.load(path, weights_only=True)
    assert {k: raw[k] for k in ("kind", "format_version", "tunesmith_version", "config")} == \
        {"kind": "classifier", "format_version": FORMAT_VERSION, "tunesmith_version": __version__, "config": {"a": 1}}
    assert torch.equal(load_model_file(path, "classifier")["state_dict"]["weight"], net.weight.detach())
    raw["format_version"] = 7
    torch.save(raw, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=r"future.pt: classifier checkpoint format 7 .* not supported"):
        load_model_file(tmp_path / "future.pt", "classifier")
    torch.save({"weights": 1}, tmp_path / "alien.pt")
    with pytest.raises(CheckpointError, match="alien.pt: not a tunesmith transform checkpoint"):
        load_model_file(tmp_path / "alien.pt", "transform")


def test_trained_models_write_the_one_format(tmp_path):
    """The exported files of the composer and transcriber (the other two: their own tests) carry kind and version."""
    from tunesmith.compose.model import export_checkpoint
    from tunesmith.transcribe.pitch import load_model
    from tunesmith.transcribe.train import save_checkpoint

    slim = torch.load(export_checkpoint(ROOT / "src/tunesmith/models/composer-chorales.pt", tmp_path / "c.pt"),
                      weights_only=True)
    assert slim["kind"] == "composer" and slim["format_version"] == 2 and slim["meta"]["tempo"] > 0
    net = load_model(ROOT / "src/tunesmith/models/transcriber.pt")
    from tunesmith.transcribe.pitch import TranscriberNet

    fresh = TranscriberNet(**net.config)
    path = save_checkpoint(fresh, tmp_path / "t.pt", 3)
    raw = torch.load(path, weights_only=True)
    assert raw["kind"] == "transcriber" and raw["train_steps"] == 3
    assert load_model(path).config == net.config


# ----------------------------------------------------------------------------- one config scheme
def test_unknown_keys_are_one_line_errors_naming_key_and_file(tmp_path):
    from tunesmith.compose.train import load_config as composer
    from tunesmith.transcribe.train import load_config as transcriber
    from tunesmith.transform.training import load_config as transform

    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  hiden: 3\n")
    for load in (composer, transcriber, transform):
        with pytest.raises(TunesmithError) as err:
            load(bad)
        assert str(err.value).startswith(f"{bad}: unknown setting model.hiden (known in model: ")
        assert "\n" not in str(err.value)
    with pytest.raises(TunesmithError, match="unknown setting optim.lrr"):
        composer(None, ["optim.lrr=0.1"])
    # trainer takes any Lightning option (composer, transcriber); a free-form section takes any key
    assert composer(None, ["trainer.precision=bf16-mixed"])["trainer"]["precision"] == "bf16-mixed"
    assert transcriber(None, ["trainer.accelerator=cpu"])["trainer"]["accelerator"] == "cpu"


def test_classifier_config_checks_nested_keys(tmp_path):
    from tunesmith.classify.train import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  max_epoch: 3\n")
    with pytest.raises(TunesmithError, match=r"bad.yaml: unknown setting training.max_epoch"):
        load_config(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text("feature_settings: {n_mels: 40}\nnetwork: {kernel: 5}\nspec_augment: null\n")
    cfg = load_config(ok, max_epochs=2)
    assert cfg["feature_settings"] == {"n_mels": 40} and cfg["network"]["kernel"] == 5
    assert cfg["spec_augment"] is None and cfg["training"]["max_epochs"] == 2


@pytest.mark.parametrize("name, module, attr", [
    ("composer.yaml", "tunesmith.compose.train", "DEFAULTS"),
    ("transform.yaml", "tunesmith.transform.training", "DEFAULT_CONFIG"),
    ("classifier.yaml", "tunesmith.classify.train", "DEFAULT_CONFIG"),
    ("transcriber.yaml", "tunesmith.transcribe.train", "BUILTIN_CONFIG"),
    ("quality.yaml", "tunesmith.classify.qualitytrain", "DEFAULT_CONFIG"),
])
def test_built_in_defaults_equal_the_shipped_yaml(name, module, attr):
    """Defaults live in one place: each model's built-in dict and its ``configs/*.yaml`` say the same."""
    import importlib

    import yaml

    defaults = getattr(importlib.import_module(module), attr)
    loaded = yaml.safe_load((ROOT / "configs" / name).read_text())
    from tunesmith.config import merge_checked

    assert merge_checked(defaults, loaded, open_sections=("trainer", "network")) == defaults


def test_griffin_lim_iterations_agree():
    """The issue's disagreement (4, 32 or 64): the transform recipe, its yaml and the converter's fallback say 4."""
    import inspect

    from tunesmith.transform import conversion
    from tunesmith.transform.training import DEFAULT_CONFIG

    assert DEFAULT_CONFIG["inversion"]["n_iter"] == DEFAULT_CONFIG["loss"]["mrstft_gl_iters"] == 4
    assert '"n_iter", 64' not in inspect.getsource(conversion)


# ----------------------------------------------------------------------------- the transcriber on the harness
def test_transcriber_on_the_harness_learns_and_resumes_its_step_count_and_history(tmp_path, tone_take):
    from tunesmith.transcribe.train import clips_from_folder, load_config, train_transcriber

    takes = tmp_path / "takes"
    takes.mkdir()
    for i in range(5):
        tone_take(takes / f"t{i}.wav", [60 + i, 64 + i, 67 + i, 72 - i, 65, 62])
    clips = clips_from_folder(takes, tmp_path / "clips.npz")
    over = ["optim.batch=4", "optim.crop_frames=48", "optim.lr=0.01", "trainer.eval_every=5", "data.val_clips=1"]
    out = tmp_path / "run"
    train_transcriber(clips, out, load_config(None, over + ["trainer.max_steps=20"]))
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    assert float(rows[-1]["train_loss"]) < 0.7 * float(rows[0]["train_loss"])   # it learns
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    assert torch.load(out / "last.ckpt", weights_only=True)["global_step"] == 20
    train_transcriber(clips, out, load_config(None, over + ["trainer.max_steps=27"]), resume=True)
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20, 25, 27]          # continued, and the last step is scored
    assert torch.load(out / "last.ckpt", weights_only=True)["global_step"] == 27
    assert torch.load(out / "transcriber.pt", weights_only=True)["kind"] == "transcriber"


def test_constructor_defaults_equal_the_models_defaults_dict():
    """A section's keys are keyword arguments of a constructor; where the constructor has its own default, it is the
    defaults dict's value (the issue's composer batch 32 vs 16 disagreement, and the like, are gone)."""
    import inspect

    from tunesmith.compose.data import ComposerDataModule
    from tunesmith.compose.model import ComposerModule, MelodyLSTM
    from tunesmith.compose.train import DEFAULTS
    from tunesmith.transcribe.pitch import TranscriberNet
    from tunesmith.transcribe.train import BUILTIN_CONFIG
    from tunesmith.transform.data import PairDataModule
    from tunesmith.transform.training import DEFAULT_CONFIG

    pairs = [(MelodyLSTM, DEFAULTS["model"]), (ComposerModule, DEFAULTS["optim"]), (ComposerDataModule, DEFAULTS["data"]),
             (PairDataModule, DEFAULT_CONFIG["data"]), (PairDataModule, DEFAULT_CONFIG["features"]),
             (TranscriberNet, BUILTIN_CONFIG["model"])]
    checked = 0
    for cls, section in pairs:
        params = inspect.signature(cls.__init__).parameters
        for key, value in section.items():
            if key in params and params[key].default is not inspect.Parameter.empty:
                default = params[key].default
                assert (list(default) if isinstance(default, tuple) else default) == value, (cls.__name__, key)
                checked += 1
    assert checked >= 20
