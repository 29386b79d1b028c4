"""Shared fixtures: small real signals and note sequences made in code."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def melody():
    """A known 8-note C-major melody at 120 BPM (quantised), as a NoteSequence."""
    from tunesmith.notes import Note, NoteSequence

    pitches = [60, 62, 64, 65, 67, 65, 64, 60]
    beats = [1, 1, 1, 1, 2, 1, 1, 2]
    notes, t = [], 0.0
    for p, b in zip(pitches, beats):
        notes.append(Note(float(p), t * 0.5, (t + b) * 0.5, 90, t, float(b)))
        t += b
    return NoteSequence(notes, tempo=120.0, time_signature=(4, 4), key="C major", name="scale")


@pytest.fixture(scope="session")
def chorale():
    """The soprano line of a Bach chorale from music21's corpus (bwv10.7, G minor)."""
    from tunesmith.notes import music21_to_note_sequence

    return music21_to_note_sequence(_corpus("bach/bwv10.7.mxl"))


def _corpus(path: str):
    import music21

    return music21.corpus.parse(path)


@pytest.fixture(scope="session")
def sine():
    """One second of a 440 Hz sine at 22,050 Hz, amplitude 0.5."""
    from tunesmith.audio import Audio

    sr = 22050
    t = np.arange(sr) / sr
    return Audio((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)


def _write_tone_take(path, pitches, sr: int = 16000, dur: float = 0.4) -> None:
    """A take of harmonic tones (``dur`` s each, MIDI ``pitches``) and its reference ``.csv`` beside it."""
    import soundfile as sf

    t = np.arange(int(dur * sr)) / sr
    y = np.concatenate([sum(np.sin(2 * np.pi * k * 440 * 2 ** ((p - 69) / 12) * t) / k for k in (1, 2, 3))
                        * np.minimum(1, t / 0.01) * 0.2 for p in pitches])
    sf.write(path, y.astype(np.float32), sr)
    rows = [f"{i * dur:.3f},{(i + 1) * dur - 0.02:.3f},{p}" for i, p in enumerate(pitches)]
    path.with_suffix(".csv").write_text("onset_s,offset_s,pitch_midi\n" + "\n".join(rows) + "\n")


@pytest.fixture
def tone_take():
    """``tone_take(path, pitches)`` writes a transcriber training take with its reference notes."""
    return _write_tone_take
