"""The wow measure finds a slow speed wobble on real violin and stays quiet on the clean recording."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SR = 16000
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
VIOLIN = SHARED / "melody" / "bach_violin" / "john-garner_bwv1002_mov6.mp3"
SPEECH = SHARED / "speech" / "librispeech" / "1040-133433-0000.flac"


def _real(path: Path, offset: float) -> np.ndarray:
    if not path.is_file():
        pytest.skip(f"{path} is absent (the real recordings in ../shared/data)")
    from tunesmith.audio import load

    y = load(path, sr=SR, offset=offset, duration=10.0).samples.astype(np.float64)
    return np.resize(y, 10 * SR)


def _wow(y: np.ndarray, rate_hz: float, depth: float) -> np.ndarray:
    """``y`` read at the speed ``1 + depth sin(2 pi rate t)``."""
    t = np.arange(len(y)) / SR
    pos = t + depth / (2 * np.pi * rate_hz) * (1 - np.cos(2 * np.pi * rate_hz * t))
    return np.interp(np.clip(pos * SR, 0, len(y) - 1), np.arange(len(y)), y)


def test_wow_on_real_violin_is_caught_and_the_clean_take_and_speech_are_not():
    from tunesmith.classify.wobble import WOBBLE_LO, wobble, wow_probability

    violin = _real(VIOLIN, 20.0)
    speech = _real(SPEECH, 0.0)
    wobbly = _wow(violin, 0.8, 0.012)
    clean_w, clean_cov = wobble(violin)
    assert clean_cov > 0.5 and clean_w < WOBBLE_LO
    assert wobble(wobbly)[0] > 2 * clean_w
    p = wow_probability(np.stack([violin, wobbly, speech]))
    assert p[1] > 0.9 and p[0] == 0.0 and p[2] == 0.0
    # too short to say anything: no decision
    assert wobble(violin[: SR // 2]) == (0.0, 0.0)


def test_with_wow_raises_only_the_bad_class_and_keeps_rows_summing_to_one():
    from tunesmith.classify.compare import with_wow

    violin = _real(VIOLIN, 20.0)
    x = np.stack([violin, _wow(violin, 0.8, 0.012)])
    probs = np.array([[0.9, 0.1], [0.8, 0.2]])          # class 0 is the reference ("good")
    out = with_wow(probs, x, reference=0)
    assert np.allclose(out.sum(1), 1.0)
    assert out[0, 1] == pytest.approx(0.1)              # the clean take keeps its decision
    assert out[1, 1] > 0.9                               # the wobbly one is now called bad
    assert probs[1, 1] == 0.2                            # the input is not changed in place
