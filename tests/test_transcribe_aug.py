"""The transcriber recipe's augmentations each do what their docstring says, on short signals."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tunesmith.transcribe import dataset as ds
from tunesmith.transcribe import train as tr

SR = 16000


def _band_power(y, lo, hi, sr=SR):
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum())


def _tone(freq, dur=1.0, sr=SR):
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(dur * sr)) / sr)).astype(np.float32)


@pytest.mark.parametrize("exponent, low_over_high", [(0.0, (0.02, 0.05)), (1.0, (0.6, 1.6)), (2.0, (15, 70))])
def test_coloured_noise_has_its_spectral_slope(exponent, low_over_high):
    """Power per octave band: white doubles per octave up, pink is flat, brown halves."""
    y = ds.coloured_noise(2 ** 16, np.random.default_rng(0), exponent)
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(1.0, rel=1e-3)
    # 100-200 Hz band vs 3200-6400 Hz band (5 octaves apart): ratio 2**(5*(exponent-1))
    ratio = _band_power(y, 100, 200) / _band_power(y, 3200, 6400)
    assert low_over_high[0] < ratio < low_over_high[1]


def test_add_noise_reaches_the_requested_snr():
    y = _tone(440)
    noisy = ds.add_noise(y, 10.0, np.random.default_rng(1), 2.0)
    snr = 10 * np.log10(np.mean(y ** 2) / np.mean((noisy - y) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)


def test_pink_noise_is_unchanged_by_the_refactor():
    """The evaluation sets were made with pink_noise: the same seed must give the same samples."""
    rng = np.random.default_rng(3)
    n = 1000
    spec = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    ref = np.fft.irfft(spec / np.sqrt(f), n)
    ref = ref / np.sqrt(np.mean(ref ** 2))
    np.testing.assert_allclose(ds.pink_noise(n, np.random.default_rng(3)), ref, atol=1e-6)


def test_random_eq_changes_the_spectrum_but_not_the_pitch():
    y = ds.coloured_noise(SR, np.random.default_rng(0), 0.0) * 0.1
    out = tr.random_eq(y, np.random.default_rng(5), SR, max_bands=3, max_db=12.0)
    assert out.dtype == np.float32 and len(out) == len(y)
    # per-band gains differ from 1 somewhere by several dB, and stay within 3 x 12 dB
    bands = [(150, 300), (300, 600), (600, 1200), (1200, 2400), (2400, 4800)]
    gains = [10 * np.log10(_band_power(out, a, b) / _band_power(y, a, b)) for a, b in bands]
    assert max(abs(g) for g in gains) > 2.0 and max(abs(g) for g in gains) < 36.0
    tone = tr.random_eq(_tone(440), np.random.default_rng(5), SR)
    spec = np.abs(np.fft.rfft(tone[SR // 4:]))
    assert np.fft.rfftfreq(len(tone) - SR // 4, 1 / SR)[spec.argmax()] == pytest.approx(440, abs=3)


def test_phone_band_removes_lows_and_highs():
    y = _tone(100) + _tone(1000) + _tone(5000)
    out = tr.phone_band(y, SR)
    assert len(out) == len(y)
    keep = _band_power(out, 950, 1050) / _band_power(y, 950, 1050)
    assert keep > 0.5
    assert _band_power(out, 90, 110) / _band_power(y, 90, 110) < 0.05 * keep
    assert _band_power(out, 4900, 5100) / _band_power(y, 4900, 5100) < 1e-3


def test_level_ramp_moves_slowly_within_its_range():
    y = np.ones(8 * SR, dtype=np.float32) * 0.1
    out = tr.level_ramp(y, np.random.default_rng(2), SR, max_db=10.0, segment_s=(1.0, 4.0))
    db = 20 * np.log10(out / 0.1)
    assert db.max() <= 10.0 + 1e-4 and db.min() >= -10.0 - 1e-4
    assert db.max() - db.min() > 3.0                          # it does change the level
    step = np.abs(np.diff(db)).max() * SR                     # dB per second: a ramp, not a jump
    assert step < 20.0 / 1.0 + 1e-3


def test_augment_keeps_labels_with_the_audio_and_the_level_in_range():
    rng = np.random.default_rng(4)
    y, notes = tr.sung_clip(rng, SR)
    aug = dict(tr.BUILTIN_CONFIG["augment"], p_detune=1.0, p_reverb=1.0, p_eq=1.0, p_phone=1.0, p_level=1.0,
               p_noise=1.0)
    out, moved = tr.augment(y, notes, rng, aug, SR)
    assert out.dtype == np.float32 and np.abs(out).max() <= 1.0
    assert moved.shape == notes.shape
    cents = (moved[:, 2] - notes[:, 2]) * 100
    assert np.allclose(cents, cents[0], atol=1e-2) and abs(cents[0]) <= aug["max_cents"]   # one detune for the clip
    np.testing.assert_allclose(moved[:, 0] * 2 ** (cents[0] / 1200), notes[:, 0], rtol=1e-5)
    assert abs(len(out) / SR - moved[-1, 1] - (len(y) / SR - notes[-1, 1])) < 0.05


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(),
                    reason="FluidSynth + FluidR3 needed (apt-get install fluidsynth fluid-soundfont-gm)")
def test_render_performances_cuts_each_clip_at_its_own_notes():
    """Two performances rendered in one FluidSynth run come back as two clips whose sound starts at
    their own first onset (not at the other clip's) and has the same length as a single render."""
    from tunesmith.notes import Note, NoteSequence

    a = NoteSequence([Note(60.0, 0.5, 1.0, 90), Note(64.0, 1.1, 1.6, 90)], program=40)
    b = NoteSequence([Note(67.0, 0.2, 0.7, 90)], program=40)
    clips = ds.render_performances([a, b], SR, soundfont="/usr/share/sounds/sf2/FluidR3_GM.sf2")
    single = ds.render_performance(b, SR, soundfont="/usr/share/sounds/sf2/FluidR3_GM.sf2")
    assert [len(c.samples) for c in clips] == [int(round((1.6 + 0.6) * SR)), len(single.samples)]
    for clip, first_on in zip(clips, (0.5, 0.2)):
        y = clip.samples
        onset = np.argmax(np.abs(y) > 0.05 * np.abs(y).max()) / SR
        assert onset == pytest.approx(first_on, abs=0.03)
    np.testing.assert_allclose(clips[1].samples, single.samples, atol=0.02)
    with pytest.raises(ValueError, match="same GM program"):
        ds.render_performances([a, b.copy(program=0)], SR)


def test_builtin_settings_equal_the_shipped_config():
    """configs/transcriber.yaml is the recipe of the shipped model; the DEFAULTS dict must say the same."""
    assert tr.load_config(None) == tr.load_config(tr.DEFAULT_CONFIG)


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(),
                    reason="FluidSynth + FluidR3 needed (apt-get install fluidsynth fluid-soundfont-gm)")
def test_make_clips_mixes_renders_and_sung_phrases_with_labels_inside_the_audio(tmp_path):
    cfg = tr.load_config(None, ["data.clips=4", "data.p_corpus=0", "data.p_sung=0.5", "data.workers=1",
                                "data.soundfonts=[/usr/share/sounds/sf2/FluidR3_GM.sf2]"])
    d = np.load(tr.make_clips(cfg, tmp_path / "clips.npz"))
    assert len(d["lengths"]) == 4 and d["audio"].dtype == np.int16
    ends = np.cumsum(d["n_notes"])
    for k, (n_audio, end) in enumerate(zip(d["lengths"], ends)):
        notes = d["notes"][end - d["n_notes"][k]:end]
        assert len(notes) >= 3 and notes[:, 1].max() <= n_audio / SR + 1e-3
        assert 24 <= notes[:, 2].min() and notes[:, 2].max() <= 107
