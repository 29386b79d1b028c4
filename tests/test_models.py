"""Shipped models: found as package data, overridable by one environment variable, every one loads."""
from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith import models
from tunesmith.errors import CheckpointError


def test_every_shipped_model_is_package_data_and_benchmark_only_ones_are_not():
    pkg = Path(models.__file__).parent
    for name, file in models.MODELS.items():
        assert models.shipped_path(name) == pkg / file and (pkg / file).stat().st_size > 100_000
    assert not list(pkg.glob("*seed1*")) and not list(pkg.glob("*bars*"))


def test_override_scheme_and_unknown_names(monkeypatch, tmp_path):
    monkeypatch.delenv("TUNESMITH_MODEL_VOICES", raising=False)
    monkeypatch.delenv("TUNESMITH_VOICES_CHECKPOINT", raising=False)
    assert models.env_var("voices") == "TUNESMITH_MODEL_VOICES"
    assert models.path("voices") == models.shipped_path("voices")
    monkeypatch.setenv("TUNESMITH_VOICES_CHECKPOINT", str(tmp_path / "old.pt"))  # the old spelling, one release
    assert models.path("voices") == tmp_path / "old.pt"
    monkeypatch.setenv("TUNESMITH_MODEL_VOICES", str(tmp_path / "new.pt"))  # the new one wins
    assert models.path("voices") == tmp_path / "new.pt"
    with pytest.raises(CheckpointError, match="no shipped model called 'nope'"):
        models.path("nope")


def test_a_missing_override_is_reported_by_name(monkeypatch, tmp_path):
    from tunesmith.transform.training import load_checkpoint

    monkeypatch.setenv("TUNESMITH_MODEL_TRANSFORM", str(tmp_path / "gone.pt"))
    with pytest.raises(CheckpointError, match="gone.pt"):
        load_checkpoint()


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_shipped_checkpoint_loads_with_its_default_loader(name, monkeypatch):
    monkeypatch.delenv(models.env_var(name), raising=False)
    for var in models.LEGACY_ENV.values():
        monkeypatch.delenv(var, raising=False)
    if name == "transcriber":
        from tunesmith.transcribe.pitch import load_model

        assert sum(p.numel() for p in load_model().parameters()) > 10_000
    elif name == "composer":
        from tunesmith.compose.model import load_composer

        assert load_composer(models.path("composer")) is not None
    elif name == "transform":
        from tunesmith.transform.training import load_checkpoint

        assert not load_checkpoint().training
    else:
        from tunesmith.classify.voices import load_voices_model

        assert load_voices_model() is not None
