"""Training entry point: config -> data -> model -> Lightning -> exported checkpoint.

``train(data, config)`` is what ``tunesmith train transform`` calls. A run folder
(``out_dir``) receives:

* ``config.yaml`` -- the effective configuration;
* ``checkpoints/last.ckpt`` (Lightning, for resuming) and ``checkpoints/best.ckpt``;
* ``metrics.csv`` and ``curves.png`` -- the training curves;
* ``transform.pt`` -- the exported model: weights, normaliser, config, sample
  rate, STFT settings and tunesmith version in one file that loads with
  ``torch.load(..., weights_only=True)`` (see :func:`load_checkpoint`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from tunesmith.config import deep_merge
from tunesmith.errors import CheckpointError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_CONFIG", "load_config", "train", "export_checkpoint", "load_checkpoint",
           "build_module", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "default_checkpoint"]

KIND = "transform"
#: 0.1's ``format`` string (still read, :mod:`tunesmith.training.checkpoint`).
CHECKPOINT_FORMAT = "tunesmith-transform"
#: The model-file format written now (:data:`tunesmith.training.FORMAT_VERSION`).
CHECKPOINT_VERSION = 2

#: The built-in settings: the same values as ``configs/transform.yaml`` (a test keeps the two equal).
DEFAULT_CONFIG: dict = {
    "features": {"sr": 22050, "n_fft": 2048, "hop_length": 512},
    "data": {"crop_frames": 64, "batch_size": 8, "crops_per_epoch": 256, "valid_fraction": 0.1,
             "align": False, "max_lag_ms": 75.0, "max_length_diff_s": 0.25, "seed": 0,
             "random_gain_db": 12.0},
    "model": {"arch": "unet", "output": "residual", "base_channels": 8, "depth": 4, "freq_stem": 4,
              "lstm_hidden": 256, "lstm_layers": 2, "input_floor_std": 2.0, "input_floor_db": -80.0,
              "disc_channels": 16},
    "loss": {"l1_db": 1.0, "mrstft": 2.0, "mrstft_gl_iters": 4, "adversarial": 0.05, "top_db": 80.0},
    "optim": {"lr": 2e-3, "weight_decay": 0.0, "schedule": "constant", "min_lr_factor": 0.02},
    "trainer": {"max_epochs": 1000, "max_minutes": 30, "accelerator": "auto", "devices": 1, "threads": 0},
    "inversion": {"method": "gl", "n_iter": 4, "momentum": 0.99},
}


def load_config(path: str | Path | None = None, overrides: dict | list[str] | None = None) -> dict:
    """Defaults <- the YAML file at ``path`` <- ``overrides`` (nested dicts or ``section.key=value`` strings).

    Unknown keys are one-line errors (:func:`tunesmith.config.load_config`).
    """
    from tunesmith.config import load_config as load

    return load(DEFAULT_CONFIG, path, overrides)


def build_module(config: dict):
    """A fresh :class:`~tunesmith.transform.model.TransformModule` for ``config``."""
    from tunesmith.transform.model import PatchDiscriminator, TransformModule, build_generator

    n_bins = int(config["features"]["n_fft"]) // 2 + 1
    gen = build_generator(config["model"], n_bins)
    disc = PatchDiscriminator(config["model"].get("disc_channels", 16)) if config["model"]["arch"] == "gan" else None
    return TransformModule(gen, config, disc)


def export_checkpoint(module, path: str | Path) -> Path:
    """Write the inference checkpoint (generator weights + normaliser + config) atomically, the one format."""
    from tunesmith.training.checkpoint import save_model_file

    state = {k: v for k, v in module.state_dict().items() if not k.startswith("discriminator.")}
    return save_model_file(path, KIND, config=module.config, state_dict=state,
                           sr=int(module.config["features"]["sr"]))


def default_checkpoint() -> Path:
    """The shipped piano -> violin demo model, or ``$TUNESMITH_MODEL_TRANSFORM`` (:func:`tunesmith.models.path`)."""
    from tunesmith import models

    return models.path("transform")


def load_checkpoint(path: str | Path | None = None, map_location: str = "cpu"):
    """Load an exported checkpoint into an eval-mode TransformModule; clear CheckpointError on problems."""
    from tunesmith.training.checkpoint import load_model_file

    path = Path(path) if path is not None else default_checkpoint()
    payload = load_model_file(path, KIND, map_location=map_location,
                              hint="; train one with 'tunesmith train transform'")
    # only the file's own settings (a key it lacks keeps the meaning it had when it was written: the
    # module's fallback, not today's DEFAULT_CONFIG)
    config = deep_merge({"features": DEFAULT_CONFIG["features"], "model": {"arch": "unet"}}, payload["config"])
    config["model"] = dict(config["model"], arch="unet" if config["model"]["arch"] == "gan" else config["model"]["arch"])
    module = build_module(config)
    try:
        module.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not fit the model in its config ({str(exc).splitlines()[0][:120]})",
                              path) from None
    module.config = payload["config"]
    module.eval()
    return module


def _fit_normalizer(module, dm, max_pairs: int = 200) -> None:
    from tunesmith.transform.model import magnitude_to_db

    pairs = dm.train_pairs[:max_pairs]

    def dbs(attr):
        for p in pairs:
            yield magnitude_to_db(module.spectrogram(torch.from_numpy(getattr(p, attr))).abs())

    module.fit_normalizer(dbs("x"), dbs("y"))


def train(data: str | Path, config: dict | str | Path | None = None, *, out_dir: str | Path = "runs/transform",
          resume: bool | str = True, fast_dev_run: bool = False, quiet: bool = False,
          export_to: str | Path | None = None, init_from: str | Path | None = None, **overrides) -> Path:
    """Train a transformation model on the pair folder (or CSV) ``data``; return the exported checkpoint path.

    Parameters
    ----------
    data : folder with ``input/`` and ``output/`` (same file names) or a CSV of pairs.
    config : a config dict, a YAML path, or ``None`` for the defaults.
    out_dir : run folder (config, Lightning checkpoints, metrics, curves, ``transform.pt``).
    resume : ``True`` continues from ``out_dir/checkpoints/last.ckpt`` when it exists, ``"require"``
        insists on it (a one-line error when there is none), ``False`` starts afresh.
    fast_dev_run : one batch of training and validation (a smoke test).
    export_to : also copy the exported checkpoint there.
    init_from : start from the weights (and normaliser) of this exported checkpoint (fine-tuning); its
        architecture settings must match ``config``.
    overrides : nested sections, e.g. ``model={"arch": "lstm"}``, ``trainer={"max_minutes": 5}``.
    """
    import lightning as L
    import yaml
    from lightning.pytorch.callbacks import TQDMProgressBar

    from tunesmith.config import merge_checked
    from tunesmith.io import atomic_write_text
    from tunesmith.training import fit
    from tunesmith.training.fit import resume_path
    from tunesmith.transform.data import PairDataModule

    cfg = merge_checked(DEFAULT_CONFIG, config) if isinstance(config, dict) else load_config(config)
    cfg = merge_checked(cfg, overrides)
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    fit_resume = {"require": True, True: "auto"}.get(resume, False)
    if fit_resume is True and not fast_dev_run:
        resume_path(ckpt_dir, True)      # a one-line error before the pairs are read
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    tr, feat, d = cfg["trainer"], cfg["features"], cfg["data"]
    if int(tr.get("threads", 0)) > 0:
        torch.set_num_threads(int(tr["threads"]))
    L.seed_everything(int(d.get("seed", 0)), workers=True, verbose=False)
    dm = PairDataModule(data, sr=int(feat["sr"]), n_fft=int(feat["n_fft"]), hop_length=int(feat["hop_length"]),
                        crop_frames=int(d["crop_frames"]), batch_size=int(d["batch_size"]),
                        crops_per_epoch=int(d["crops_per_epoch"]), valid_fraction=float(d["valid_fraction"]),
                        align=bool(d["align"]), max_lag_ms=float(d["max_lag_ms"]),
                        max_length_diff_s=float(d["max_length_diff_s"]), top_db=float(cfg["loss"]["top_db"]),
                        seed=int(d.get("seed", 0)), quiet=quiet)
    dm.setup("fit")
    module = build_module(cfg)
    _fit_normalizer(module, dm)
    if init_from is not None:
        module.load_state_dict(load_checkpoint(init_from).state_dict())
    result = fit(module, dm, out, ckpt_dir=ckpt_dir, max_epochs=int(tr.get("max_epochs", 1000)),
                 max_minutes=float(tr.get("max_minutes") or 0), accelerator=tr.get("accelerator", "auto"),
                 devices=tr.get("devices", 1), resume=fit_resume, fast_dev_run=fast_dev_run,
                 monitor="val_loss" if dm.valid_pairs else "train_loss", progress=not quiet,
                 callbacks=[] if quiet else [TQDMProgressBar(refresh_rate=5)],
                 trainer_options={"reload_dataloaders_every_n_epochs": 1, "enable_model_summary": not quiet,
                                  "log_every_n_steps": 5, "num_sanity_val_steps": 0, "deterministic": False},
                 curves="curves.png", title=f"transform ({cfg['model']['arch']})")
    if not fast_dev_run:
        result.load_best(module)
    module.cpu().eval()
    exported = export_checkpoint(module, out / "transform.pt")
    if export_to:
        export_checkpoint(module, export_to)
    return exported
