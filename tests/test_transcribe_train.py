"""``tunesmith train transcriber``: a few steps on tiny real data, then a resume that continues the history."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from tunesmith.cli import main


def test_train_transcriber_runs_resumes_and_writes_a_loadable_checkpoint(tmp_path, tone_take):
    from tunesmith.transcribe.pitch import load_model

    data = tmp_path / "takes"
    data.mkdir()
    tone_take(data / "a.wav", [60, 62, 64, 65, 67])
    tone_take(data / "b.wav", [72, 71, 69, 67, 65])
    out = tmp_path / "run"
    small = ["--set", "optim.batch=2", "optim.crop_frames=48", "trainer.eval_every=2", "data.val_clips=1"]
    assert main(["train", "transcriber", "--data", str(data), "-o", str(out), "--max-steps", "2", *small]) == 0
    assert main(["train", "transcriber", "--data", str(data), "-o", str(out), "--max-steps", "4", "--resume",
                 *small]) == 0
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == [2, 4]            # the history continues, not restarts
    net = load_model(out / "transcriber.pt")
    assert sum(p.numel() for p in net.parameters()) > 10_000
    assert (out / "training_curves.png").stat().st_size > 0


def test_train_transcriber_resume_without_a_run_is_a_one_line_error(tmp_path, capsys, tone_take):
    data = tmp_path / "takes"
    data.mkdir()
    tone_take(data / "a.wav", [60, 62])
    assert main(["train", "transcriber", "--data", str(data), "-o", str(tmp_path / "run"), "--resume",
                 "--max-steps", "2"]) == 1
    assert "resume" in capsys.readouterr().err


def test_sung_clip_labels_are_exact_and_in_range():
    from tunesmith.transcribe.train import sung_clip

    y, notes = sung_clip(np.random.default_rng(0))
    assert y.dtype == np.float32 and np.abs(y).max() <= 1.0
    assert len(notes) >= 6 and np.all(np.diff(notes[:, 0]) > 0) and np.all(notes[:, 1] > notes[:, 0])
    assert notes[-1, 1] < len(y) / 16000


def test_config_override_errors_are_clear():
    from tunesmith.errors import TunesmithError
    from tunesmith.transcribe.train import load_config

    assert load_config(None, ["optim.lr=0.01"])["optim"]["lr"] == pytest.approx(0.01)
    with pytest.raises(TunesmithError, match="section.key=value"):
        load_config(None, ["lr=0.01"])


def test_init_shipped_starts_from_the_packaged_model(tmp_path, tone_take):
    """``--init shipped`` (the README's fine-tuning command) loads the packaged weights before training."""
    import torch

    from tunesmith import models

    data = tmp_path / "takes"
    data.mkdir()
    tone_take(data / "a.wav", [60, 62, 64])
    out = tmp_path / "run"
    small = ["--set", "optim.batch=2", "optim.crop_frames=48", "trainer.eval_every=1", "data.val_clips=1",
             "optim.lr=1e-9"]
    assert main(["train", "transcriber", "--data", str(data), "-o", str(out), "--max-steps", "1",
                 "--init", "shipped", *small]) == 0
    shipped = torch.load(models.path("transcriber"), map_location="cpu", weights_only=True)["state_dict"]
    tuned = torch.load(out / "transcriber.pt", map_location="cpu", weights_only=True)["state_dict"]
    k = next(k for k, v in shipped.items() if v.dtype.is_floating_point and v.numel() > 100)
    assert torch.allclose(shipped[k], tuned[k], atol=1e-4)     # a 1e-9 step from the shipped weights
