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
