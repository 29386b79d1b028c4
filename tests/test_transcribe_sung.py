"""The sung-line path: contour segmentation, the consonant test, and real singing (vocadito_1)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunesmith.errors import TunesmithError
from tunesmith.notes import Note, NoteSequence, hz_to_midi
from tunesmith.transcribe.contour import contour_notes, segment_contour

HOP = 256 / 16000
VOCADITO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "melody" / "vocadito"


def _sung_contour(rng, notes, vibrato_cents=80.0, rate_hz=5.5, glide_s=0.08, gap_s=0.0):
    """Frame contour (MIDI) of a sung line: vibrato on every note, a glide into each next note."""
    m, v = [], []
    t = 0.0
    for i, (pitch, dur) in enumerate(notes):
        n = int(round(dur / HOP))
        tt = t + np.arange(n) * HOP
        line = pitch + vibrato_cents / 100 * np.sin(2 * np.pi * rate_hz * tt + rng.uniform(0, 6.28))
        if i > 0 and glide_s and not gap_s:
            k = int(round(glide_s / HOP))
            line[:k] = np.linspace(notes[i - 1][0], pitch, k)   # portamento from the previous note
        m.append(line + rng.normal(0, 0.03, n))
        v.append(np.full(n, 0.95))
        t += dur
        if gap_s:
            g = int(round(gap_s / HOP))
            m.append(np.full(g, np.nan))
            v.append(np.full(g, 0.05))
            t += g * HOP
    return np.concatenate(m), np.concatenate(v)


def test_vibrato_and_glides_give_one_note_per_sung_note():
    rng = np.random.default_rng(0)
    sung = [(60, 0.5), (62, 0.4), (64, 0.6), (62, 0.45), (60, 0.7)]
    m, v = _sung_contour(rng, sung)
    notes = segment_contour(m, v, None, HOP)
    assert [round(mu) for _, _, mu in notes] == [p for p, _ in sung]     # 5 notes, no vibrato splits
    starts = np.cumsum([0] + [d for _, d in sung[:-1]])
    for (a, _, _), s in zip(notes, starts):          # each glide is merged into the note it leads to
        assert abs(a * HOP - s) <= 0.05


def test_repeated_note_splits_at_a_gap_and_unvoiced_frames_are_no_note():
    rng = np.random.default_rng(1)
    m, v = _sung_contour(rng, [(67, 0.4), (67, 0.4), (69, 0.5)], gap_s=0.08)
    notes = segment_contour(m, v, None, HOP)
    assert [round(mu) for _, _, mu in notes] == [67, 67, 69]
    assert segment_contour(np.full(50, np.nan), np.full(50, 0.02), None, HOP) == []


def test_contour_notes_pitch_is_the_sung_pitch_and_short_blips_go():
    rng = np.random.default_rng(2)
    m, v = _sung_contour(rng, [(57.3, 0.5), (59.3, 0.5)], vibrato_cents=40)
    notes = contour_notes(m, v, np.full(len(m), 1e-2), HOP)
    assert [round(n.pitch, 1) for n in notes] == pytest.approx([57.3, 59.3], abs=0.15)   # 30 cents sharp kept
    assert all(1 <= n.velocity <= 127 for n in notes)


def _tone(f0_hz, dur, sr=16000, vib=0.0):
    t = np.arange(int(dur * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0_hz * 2 ** (vib / 1200 * np.sin(2 * np.pi * 5.5 * t))) / sr
    return sum(np.sin(k * phase) / k for k in range(1, 8)).astype(np.float32) * 0.2


def _fricative(dur, sr=16000, rng=None):
    from scipy.signal import butter, sosfilt

    sos = butter(4, 4000, "highpass", fs=sr, output="sos")
    return (sosfilt(sos, rng.normal(size=int(dur * sr))) * 0.3).astype(np.float32)


def test_consonant_test_separates_sung_words_from_a_plain_tone():
    from tunesmith.transcribe import voice as V

    rng = np.random.default_rng(3)

    def pause():     # a quiet room between phrases
        return (rng.normal(size=2400) * 1e-4).astype(np.float32)

    freqs = (220, 247, 262, 294)
    plain = np.concatenate([np.concatenate([pause(), _tone(f, 0.5)]) for f in freqs])
    worded = np.concatenate([np.concatenate([pause(), _fricative(0.08, rng=rng), _tone(f, 0.5)]) for f in freqs])
    hiss = plain + (rng.normal(size=len(plain)) * 0.02).astype(np.float32)     # white noise, about 20 dB SNR

    def analyse(y):
        a = V.SungAnalysis()
        a.push(y)
        return a.finish(len(y) // 256)

    assert not V.is_sung(analyse(plain))
    assert not V.is_sung(analyse(hiss))          # background hiss is not a consonant
    assert V.is_sung(analyse(worded))


def test_segmentation_option_is_checked():
    from tunesmith.transcribe import transcribe

    with pytest.raises(TunesmithError, match="segmentation"):
        transcribe(np.zeros(16000, np.float32), sr=16000, segmentation="syllables")


@pytest.mark.skipif(not (VOCADITO / "vocadito_1.wav").exists(), reason="../shared/data/melody/vocadito not present")
def test_real_singing_takes_the_sung_path_and_finds_the_sung_notes():
    from tunesmith.audio import load
    from tunesmith.transcribe import transcribe_track
    from tunesmith.transcribe.evaluate import note_scores

    y = load(VOCADITO / "vocadito_1.wav", sr=16000).samples[: 12 * 16000]      # the first 12 s
    a = np.loadtxt(VOCADITO / "vocadito_1_notesA1.csv", delimiter=",")
    ref = NoteSequence([Note(float(hz_to_midi(p)), s, s + d) for s, p, d in a if s + d < 11.9])
    res = transcribe_track([y])
    assert res.sung                                        # chosen without any flag
    est = NoteSequence([n for n in res.notes.notes if n.onset < 11.9])
    (_, _, f1), _ = note_scores(ref, est)
    assert f1 >= 0.75, f1                                  # the attack path scores about 0.5 here
    assert abs(len(est) - len(ref)) <= 3
    attack = transcribe_track([y], segmentation="attack")
    assert not attack.sung
