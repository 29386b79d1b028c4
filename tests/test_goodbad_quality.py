"""Quality descriptors respond to their degradation on a realistic signal and not on a clean one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

SR = 16000
SECONDS = 8.0
SPEECH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "speech" / "librispeech"
#: A reader without a mains line of their own (several LibriSpeech readings carry a steady 60-Hz hum,
#: ``103-1240-0000`` for one, 28 dB above its neighbouring bins).
CLEAN_UTTERANCE = "1040-133433-0000.flac"


def _clean() -> np.ndarray:
    """8 s of real read speech (LibriSpeech, from ../shared/data), RMS 0.05; the tests skip where that
    folder is absent (a synthesised stand-in did not carry the pauses and noise floor real speech has)."""
    n = int(SECONDS * SR)
    if not (SPEECH / CLEAN_UTTERANCE).is_file():
        pytest.skip(f"{SPEECH / CLEAN_UTTERANCE} is absent (the real recordings in ../shared/data)")
    from tunesmith.audio import load

    y = np.resize(load(SPEECH / CLEAN_UTTERANCE, sr=SR).samples.astype(np.float64), n)
    return 0.05 * y / np.sqrt(np.mean(y ** 2))


def _rows(*signals) -> dict[str, np.ndarray]:
    """Each descriptor row of each signal: the frame minimum for the per-frame rows, else the value."""
    from tunesmith.classify.quality import QualityDescriptors

    q = QualityDescriptors(SR)
    with torch.no_grad():
        f = q(torch.tensor(np.stack(signals), dtype=torch.float32)).numpy()
    return {name: (f[:, i].min(1) if i < q.per_frame else f[:, i, 0]) for i, name in enumerate(q.names)}


@pytest.fixture(scope="module")
def clean():
    return _clean()


def test_shape_and_level_invariance(clean):
    from tunesmith.classify.quality import QualityDescriptors

    f = QualityDescriptors(SR)(torch.tensor(clean[None], dtype=torch.float32))
    assert f.shape == (1, len(QualityDescriptors.names), 1 + len(clean) // 512)
    for name, v in _rows(clean, 0.05 * clean).items():   # -26 dB changes no descriptor
        assert abs(v[0] - v[1]) < 0.05 * max(1.0, abs(v[0])), name


def test_soft_saturation_lowers_crest_and_crowds_the_peak(clean):
    g = 10 ** (18 / 20) / np.max(np.abs(clean))
    r = _rows(clean, np.tanh(g * clean) * 0.3)       # tanh overdrive: no flat tops
    assert r["crest_db"][1] < r["crest_db"][0] - 4.0
    assert r["peak_crowding"][1] > r["peak_crowding"][0] + 1.0
    assert r["kurtosis_log"][1] < r["kurtosis_log"][0]


def test_buzz_at_317_hz_is_a_stable_tone(clean):
    t = np.arange(len(clean)) / SR
    buzz = sum(np.sin(2 * np.pi * 317.0 * k * t) / k for k in (1, 2, 3))
    noisy = clean + buzz * np.sqrt(np.mean(clean ** 2)) / np.sqrt(np.mean(buzz ** 2)) * 10 ** (-15 / 20)
    r = _rows(clean, noisy)
    assert r["tone_db"][1] > r["tone_db"][0] + 6.0
    assert r["tone_count"][1] > r["tone_count"][0]
    assert r["tone_level_db"][1] > r["tone_level_db"][0] + 10.0


def test_faded_dropout_falls_below_the_noise_floor(clean):
    gain = np.ones(len(clean))
    s, fade, length = int(3.1 * SR), int(0.02 * SR), int(0.3 * SR)
    gain[s:s + fade] = np.linspace(1, 10 ** (-30 / 20), fade)
    gain[s + fade:s + length] = 10 ** (-30 / 20)                    # -30 dB, never digital zero
    gain[s + length:s + length + fade] = np.linspace(10 ** (-30 / 20), 1, fade)
    dropped = clean * gain
    assert np.max(np.abs(dropped[s + fade:s + length])) > 0      # the dropout still carries signal
    r = _rows(clean, dropped)
    assert r["level_above_floor_db"][1] < r["level_above_floor_db"][0] - 8.0


def test_reverberation_slows_the_fastest_falls(clean):
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(1)
    t = np.arange(int(1.5 * SR)) / SR
    rir = rng.standard_normal(len(t)) * 10 ** (-3 * t / 1.2)        # RT60 1.2 s
    rir[0] = 3.0
    wet = fftconvolve(clean, rir)[: len(clean)]
    r = _rows(clean, wet)
    assert r["fall_fast_db"][1] > r["fall_fast_db"][0] + 8.0


def test_noise_and_low_pass_are_seen(clean):
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(2)
    noisy = clean + rng.standard_normal(len(clean)) * np.sqrt(np.mean(clean ** 2)) * 10 ** (-5 / 20)
    dull = sosfiltfilt(butter(8, 3000, fs=SR, output="sos"), clean)
    r = _rows(clean, noisy, dull)
    assert r["snr_db"][1] < r["snr_db"][0] - 10.0
    assert r["hf_share_db"][2] < r["hf_share_db"][0] - 15.0
    assert r["hf_edge_db"][2] > r["hf_edge_db"][0] + 10.0


def test_recall_by_degradation_counts_out_of_fold_hits():
    from tunesmith.classify.compare import CompareResult

    paths = [Path("good/a.wav"), Path("bad/b.wav"), Path("bad/c.wav"), Path("bad/d.wav")]
    res = CompareResult(["bad", "good"], 4, 4, 2, y=np.array([1, 0, 0, 0]), paths=paths)
    res.probs["x"] = np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    got = res.recall_by("x", {"good/a.wav": "none", "bad/b.wav": "noise", "c.wav": "noise", "bad/d.wav": "wow"})
    assert got == {"none": (1.0, 1), "noise": (0.5, 2), "wow": (1.0, 1)}


def test_range_exceedance_is_zero_inside_the_clean_range_and_grows_outside():
    from tunesmith.classify.compare import range_exceedance

    rng = np.random.default_rng(0)
    clean = rng.normal(0.0, 1.0, (400, 2))
    exceed = range_exceedance(clean, q=0.05)
    got = exceed(np.array([[0.0, 0.0], [4.0, 0.0], [8.0, 0.0], [0.0, -6.0]]))
    assert got.shape == (4, 4)                      # (above hi, below lo) for each column
    assert np.all(got[0] == 0.0)                    # the clean median exceeds nothing
    assert 0.0 < got[1, 0] < got[2, 0]              # further out, larger
    assert got[1, 2] == 0.0 and got[3, 3] > 0.0     # each side only where its bound is passed
    assert got[3, 0] == 0.0 and got[3, 1] == 0.0


def test_descriptors_lr_tells_saturated_and_noisy_speech_from_clean(clean):
    """The ``descriptors+lr`` classifier, trained on 2-s windows of one real reading (clean, tanh-
    saturated or at 3 dB SNR in white noise), calls held-out windows of the same kinds right (the
    windows overlap by three quarters: this checks the fit and the decision, not generalisation)."""
    from tunesmith.classify.compare import descriptors_lr, frontend_features, with_quality

    rng = np.random.default_rng(3)
    n = 2 * SR
    clips = [clean[i:i + n] for i in range(0, len(clean) - n + 1, n // 4)]   # 13 overlapping windows
    good = np.stack(clips)
    sat = np.tanh(20 * good / np.abs(good).max(1, keepdims=True)) * 0.05
    noisy = good + rng.standard_normal(good.shape) * 0.05 * 10 ** (-3 / 20)
    x = np.concatenate([good, sat, noisy]).astype(np.float32)
    y = np.array([1] * len(good) + [0] * (2 * len(good)))
    d = with_quality(frontend_features("descriptors", x, SR), frontend_features("quality", x, SR)).numpy()
    test = np.zeros(len(y), bool)
    test[[2, 9, len(good) + 4, 2 * len(good) + 7]] = True
    probs = descriptors_lr(d[~test], y[~test], d[test], 0, reference=1)
    assert probs.argmax(1).tolist() == y[test].tolist()
