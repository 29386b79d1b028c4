"""The fault family of ``classify.degrade``: every family does what it says on a real recording."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SR = 16000
SPEECH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "speech" / "librispeech"
UTTERANCE = "1040-133433-0000.flac"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """4 s of real read speech (LibriSpeech, ../shared/data), RMS 0.05; skipped where the folder is absent."""
    if not (SPEECH / UTTERANCE).is_file():
        pytest.skip(f"{SPEECH / UTTERANCE} is absent (the real recordings in ../shared/data)")
    from tunesmith.audio import load

    y = load(SPEECH / UTTERANCE, sr=SR).samples.astype(np.float64)[: 4 * SR]
    return 0.05 * y / np.sqrt(np.mean(y ** 2))


def _frame_db(y, hop=160):
    n = len(y) // hop
    return 10 * np.log10(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)


def test_every_family_keeps_length_is_finite_seeded_and_changes_the_signal(speech):
    from tunesmith.classify import degrade

    for fam in degrade.FAMILIES:
        for seed in range(4):
            a, pa = degrade.apply_family(fam, speech, SR, np.random.default_rng(seed),
                                         others=lambda n: np.resize(speech[::-1], n))
            b, pb = degrade.apply_family(fam, speech, SR, np.random.default_rng(seed),
                                         others=lambda n: np.resize(speech[::-1], n))
            assert a.shape == speech.shape and np.all(np.isfinite(a)), fam
            assert pa == pb and np.array_equal(a, b), fam       # the generator decides everything
            scale = np.dot(a, speech) / np.dot(speech, speech)   # the best gain-matched copy is still different
            assert np.sqrt(np.mean((a - scale * speech) ** 2)) > 0.01 * np.sqrt(np.mean(speech ** 2)), (fam, pa)


def test_degrade_reports_what_it_did_and_combines_two_families(speech):
    from tunesmith.classify import degrade

    seen = set()
    for seed in range(40):
        _, fault = degrade.degrade(speech, SR, np.random.default_rng(seed), combo=0.5)
        assert 1 <= len(fault.families) <= 2 and len(set(fault.families)) == len(fault.families)
        assert all(f in degrade.FAMILIES for f in fault.families) and len(fault.params) == len(fault.families)
        seen.add(len(fault.families))
        assert fault.describe().startswith(fault.families[0] + "(")
    assert seen == {1, 2}
    with pytest.raises(ValueError, match="unknown fault family"):
        degrade.apply_family("hiss", speech, SR, np.random.default_rng(0))


def test_dropouts_and_level_steps_happen_on_sounding_audio(speech):
    from tunesmith.classify import degrade

    before = _frame_db(speech)
    loud = before > before.max() - 20
    for seed in range(6):
        z, p = degrade.dropout(speech, SR, np.random.default_rng(seed))
        drop = _frame_db(z) < before - 10                       # frames that lost 10 dB or more
        starts = np.flatnonzero(drop & ~np.r_[False, drop[:-1]])
        assert len(starts) and all(loud[max(0, s - 9): s + 1].any() for s in starts), p  # each begins on speech
    z, p = degrade.level(speech, SR, np.random.default_rng(1))
    assert np.abs(_frame_db(z) - before).max() > 4.0, p


def test_pitch_family_moves_a_steady_tone():
    from tunesmith.classify import degrade

    t = np.arange(4 * SR) / SR
    tone = 0.1 * np.sin(2 * np.pi * 1000 * t)
    z, p = degrade.pitch(tone, SR, np.random.default_rng(3))
    # instantaneous frequency from the phase of the analytic signal
    from scipy.signal import hilbert

    f = np.diff(np.unwrap(np.angle(hilbert(z)))) * SR / (2 * np.pi)
    f = f[SR // 4: -SR // 4]
    assert np.ptp(np.percentile(f, [5, 95])) > 1000 * 0.5 * p["depth"], p   # the speed change shows
    assert abs(np.median(f) - 1000) < 1000 * 2 * p["depth"] + 2


def test_band_and_noise_do_what_they_say(speech):
    from tunesmith.classify import degrade

    def share_above(y, hz):
        s = np.abs(np.fft.rfft(y)) ** 2
        return s[np.fft.rfftfreq(len(y), 1 / SR) > hz].sum() / s.sum()

    for seed in range(10):
        z, p = degrade.band(speech, SR, np.random.default_rng(seed))
        if p["kind"] == "lowpass":
            assert share_above(z, p["hz"] * 1.5) < 0.3 * share_above(speech, p["hz"] * 1.5), p
    z, p = degrade.noise(speech, SR, np.random.default_rng(0))
    snr = 10 * np.log10(np.sum(speech ** 2) / np.sum((z - speech) ** 2))
    assert abs(snr - p["snr_db"]) < 0.5


def test_nuisance_is_harmless(speech):
    from tunesmith.classify import degrade

    for seed in range(5):
        z = degrade.nuisance(speech, SR, np.random.default_rng(seed))
        c = abs(np.corrcoef(z, speech)[0, 1])
        assert c > 0.95 and abs(_frame_db(z).mean() - _frame_db(speech).mean()) < 3.5


def test_an_ordinary_room_stays_drier_and_quieter_than_the_reverb_and_noise_faults():
    """``ambience`` (a room a good take may have) and the ``reverb``/``noise`` faults do not overlap: on white
    noise, where the added energy is the room's tail plus the background, the ambience adds at least 1 dB
    less than the direct sound, while a short faulty room adds more than it and a noise fault is 18 dB or
    louder against the signal."""
    from tunesmith.classify.degrade import AMBIENCE_DRR_DB, NOISE_SNR_MAX_DB, ambience, apply_family

    sr = 16000
    x = np.random.default_rng(1).standard_normal(4 * sr)
    amb, short_rooms = [], []
    for seed in range(12):
        z, p = ambience(x, sr, np.random.default_rng(seed))
        assert len(z) == len(x) and np.isfinite(z).all()
        assert AMBIENCE_DRR_DB[0] <= p["drr_db"] <= AMBIENCE_DRR_DB[1]
        amb.append(10 * np.log10(np.sum((z - x) ** 2) / np.sum(x ** 2)))
        z, p = apply_family("reverb", x, sr, np.random.default_rng(seed))
        if p["rt60_s"] < 1.0:
            short_rooms.append(10 * np.log10(np.sum((z - x) ** 2) / np.sum(x ** 2)))
        _, p = apply_family("noise", x, sr, np.random.default_rng(seed))
        assert p["snr_db"] <= NOISE_SNR_MAX_DB
    assert max(amb) < -0.5 and short_rooms and min(short_rooms) > max(amb)
    z1, _ = ambience(x, sr, np.random.default_rng(3))
    assert np.array_equal(z1, ambience(x, sr, np.random.default_rng(3))[0])
