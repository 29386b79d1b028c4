"""One normaliser: ``features.Normalizer`` is also the classifier's ``BinNorm`` and compare-features' standardiser.

Each use reproduces the numbers of the implementation it replaced, on real recordings (``data/songs``), so the
shipped classifier checkpoints load and decide as before.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


@pytest.fixture(scope="module")
def real_features() -> torch.Tensor:
    """Log-mel windows ``(n, 64, frames)`` of 1-s excerpts of four real demo songs."""
    from tunesmith.audio import load
    from tunesmith.features import LogMelSpectrogram

    songs = sorted((ROOT / "data" / "songs").iterdir())[:4]
    windows = []
    for f in songs:
        y = load(f, sr=SR).samples
        windows += [y[i:i + SR] for i in range(SR, min(len(y), 6 * SR) - SR + 1, SR)]
    with torch.no_grad():
        return LogMelSpectrogram(SR, n_mels=64)(torch.from_numpy(np.stack(windows).astype(np.float32)))


def _old_binnorm(batches):
    """The classifier's BinNorm statistics before it became the one normaliser (raw float64 sums)."""
    s = s2 = None
    n = 0
    for b in batches:
        b = b.double()
        bs, b2 = b.sum(dim=(0, 2)), (b * b).sum(dim=(0, 2))
        s, s2 = (bs, b2) if s is None else (s + bs, s2 + b2)
        n += b.shape[0] * b.shape[2]
    mean = s / n
    return mean.float(), (s2 / n - mean * mean).clamp_min(0.0).sqrt().clamp_min(1e-5).float()


def test_binnorm_is_the_normaliser_and_reproduces_its_old_numbers(real_features):
    from tunesmith.classify.model import BinNorm
    from tunesmith.features import Normalizer

    batches = [real_features[i:i + 5] for i in range(0, len(real_features), 5)]
    norm = BinNorm(64).fit(iter(batches))
    assert isinstance(norm, Normalizer) and set(norm.state_dict()) == {"mean", "std"}  # the checkpoint layout
    mean, std = _old_binnorm(batches)
    assert torch.allclose(norm.mean, mean, rtol=1e-5, atol=1e-5) and torch.allclose(norm.std, std, rtol=1e-5)
    ref = (real_features - mean[:, None]) / std[:, None]
    assert (norm(real_features) - ref).abs().max() < 1e-4


def test_compare_standardiser_is_the_normaliser_with_sample_std(real_features):
    from tunesmith.classify.compare import fit_standardiser

    mean, std = fit_standardiser(real_features)
    assert mean.shape == std.shape == (1, 64, 1)
    ref_mean = real_features.mean(dim=(0, 2), keepdim=True)
    ref_std = real_features.std(dim=(0, 2), keepdim=True).clamp_min(1e-5)   # its former torch one-liner
    assert torch.allclose(mean, ref_mean, atol=1e-4) and torch.allclose(std, ref_std, rtol=1e-4)


def test_shipped_voices_model_loads_into_the_normaliser_and_keeps_its_statistics():
    from tunesmith import models
    from tunesmith.classify.train import load_classifier
    from tunesmith.features import Normalizer

    model = load_classifier(models.path("voices"))
    raw = torch.load(models.path("voices"), map_location="cpu", weights_only=True)["state_dict"]
    assert isinstance(model.norm, Normalizer)
    assert torch.equal(model.norm.mean, raw["norm.mean"]) and torch.equal(model.norm.std, raw["norm.std"])
    x = torch.randn(2, model.norm.n_features, 7)
    assert torch.equal(model.norm(x), (x - raw["norm.mean"][:, None]) / raw["norm.std"][:, None])


def test_sample_and_population_std_and_floor():
    from tunesmith.features import Normalizer

    x = torch.tensor([[[1.0, 3.0], [5.0, 5.0]]])          # one example, two rows, two frames
    pop = Normalizer(2).fit(x)
    sample = Normalizer(2, ddof=1, std_floor=0.5).fit(x)
    assert pop.std.tolist() == [1.0, 0.0]
    assert sample.std[0].item() == pytest.approx(2 ** 0.5) and sample.std[1].item() == 0.5
