"""The registry of representations (tunesmith.features.registry): torch-free, complete, read by every user."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from tunesmith.features import registry

SR = 16000


def test_registry_imports_neither_torch_nor_numpy():
    code = ("import sys, tunesmith.features.registry as r, tunesmith.cli.cmd_classify, tunesmith.cli.cmd_features; "
            "assert r.FEATURE_KINDS; print(sorted(m for m in ('torch', 'numpy', 'librosa') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", list(registry.REPRESENTATIONS))
def test_every_entry_builds_with_its_defaults_and_has_the_rows_it_claims(name):
    from tunesmith.classify.compare import augment_rows
    from tunesmith.classify.model import make_frontend

    entry = registry.get(name)
    module = make_frontend(name, SR)
    assert isinstance(module, registry.constructor(name))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(SR // 2).astype(np.float32) * 0.1)
    with torch.no_grad():
        y = module(x[None])
    hop = entry.defaults["hop_length"]
    assert y.ndim == 3 and y.shape[0] == 1 and y.shape[-1] == 1 + x.shape[0] // hop
    assert torch.isfinite(y).all()
    freq_rows, db_rows = augment_rows(name, y.shape[1])
    assert (freq_rows > 0) == entry.frequency_rows and (db_rows > 0) == (entry.db_rows != "none")
    if entry.frequency_rows and hasattr(module, "frequencies"):
        f = np.asarray(module.frequencies)[:freq_rows]
        assert len(f) == freq_rows and np.all(np.diff(f) > 0)
    if entry.frontend:
        from tunesmith.features import frontend

        assert type(frontend(name, SR, **entry.defaults)) is type(module)


def test_frontend_builds_only_base_layer_kinds_and_names_the_choices():
    from tunesmith.features import KINDS, frontend

    assert KINDS == registry.FRONTEND_KINDS and "logmel+stats" not in KINDS
    with pytest.raises(ValueError, match="logmel"):
        frontend("logmel+stats", SR)
    with pytest.raises(KeyError, match="choose from"):
        registry.get("nope")


def test_constructors_take_keywords_after_sr():
    from tunesmith import features as F

    with pytest.raises(TypeError):
        F.MelSpectrogram(SR, 1024)
    with pytest.raises(TypeError):
        F.Spectrogram(1024)
    assert F.LogMelSpectrogram(sr=SR, n_mels=32).n_mels == 32


def test_cli_classifier_compare_and_exporter_read_the_registry():
    from tunesmith.classify import compare, export, model
    from tunesmith.cli import build_parser, cmd_classify, cmd_features

    assert cmd_classify.ALL_REPRESENTATIONS is compare.ALL_REPRESENTATIONS is registry.ALL_REPRESENTATIONS
    assert cmd_classify.FEATURE_KINDS is model.FEATURE_KINDS is registry.FEATURE_KINDS
    assert export.EXPORTABLE_FEATURES is registry.EXPORTABLE_KINDS
    assert cmd_features.KIND_CHOICES is registry.CLI_KINDS
    assert model.DEFAULT_FEATURE_SETTINGS == {n: dict(r.defaults) for n, r in registry.REPRESENTATIONS.items()}
    parser = build_parser()
    for kind in registry.CLI_KINDS:  # every option a kind needs exists on the features verb
        args = parser.parse_args(["features", "x.wav", "-o", "out", "--kind", kind, "--fmin", "40"])
        kw = cmd_features.module_kwargs(kind, args)
        assert set(kw) == set(registry.get(kind).cli_options) - {"fmax"}
