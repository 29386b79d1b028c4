"""Melodies as token sequences: one event per note or rest.

Every event ``i`` carries three integer tokens:

* ``pitch[i]``: the MIDI pitch 0–127 of a note, or :data:`REST` (128);
* ``dur[i]``: the duration in twelfths of a quarter note, minus one, clipped to
  ``0 .. N_DURATIONS - 1`` (so 1/12 to 16 quarter notes; triplets are exact);
* ``pos[i]``: the metrical position of the event's onset: its place in the bar in
  twelfths of a quarter note (clipped to ``N_POSITIONS - 1``) plus
  ``N_POSITIONS`` times the bar's number modulo :data:`BAR_CYCLE` (bar 0 is the
  first, possibly incomplete, bar), so phrase-level metre is visible too.

The position of event ``i`` is known before event ``i`` is predicted (it is the
onset of event ``i - 1`` plus its duration), so the model may condition on it
without looking ahead. Pitches may be *key-normalised*: transposed by
:func:`key_shift` semitones so that every key signature becomes the one without
sharps or flats (C major / A minor). The transposition is a bijection, so
probabilities in the normalised space are probabilities of the real pitches.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tunesmith.errors import NotesError

__all__ = [
    "REST", "BOS", "N_PITCH_TOKENS", "N_PITCH_INPUTS", "N_DURATIONS", "N_POSITIONS", "TICKS_PER_BEAT", "BAR_CYCLE",
    "metre_token",
    "TokenMelody", "encode", "decode", "key_shift", "key_signature_tonic", "scale_pitch_classes",
    "estimate_key", "duration_token", "token_duration",
]

TICKS_PER_BEAT = 12             # duration / position resolution: 1/12 of a quarter note
N_DURATIONS = 16 * TICKS_PER_BEAT  # up to 16 quarter notes
N_POSITIONS = 12 * TICKS_PER_BEAT  # bars up to 12 quarter notes long
BAR_CYCLE = 4                   # bar numbers are seen modulo 4 (phrases of 2 and 4 bars)
REST = 128                      # pitch token of a rest
BOS = 129                       # "start of melody" input token (pitch and duration inputs)
N_PITCH_TOKENS = 129            # output classes of the pitch head: 128 MIDI pitches + rest
N_PITCH_INPUTS = 130            # input vocabulary of the pitch embedding (+ BOS)
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor plus the raised leading note
# Krumhansl–Kessler key profiles (probe-tone ratings), index 0 = tonic.
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_PC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass
class TokenMelody:
    """The token arrays of one melody plus what is needed to turn them back into notes.

    ``shift`` is the transposition (semitones) already applied to ``pitch``;
    ``bar_ticks`` the bar length and ``start_tick`` the onset of the first
    event counted from the start of bar 0, both in ticks (1/12 quarter note).
    """

    pitch: np.ndarray
    dur: np.ndarray
    pos: np.ndarray
    shift: int = 0
    bar_ticks: int = 4 * TICKS_PER_BEAT
    start_tick: int = 0
    key: str | None = None
    tempo: float | None = None
    time_signature: tuple[int, int] | None = None
    name: str | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pitch)

    @property
    def n_notes(self) -> int:
        return int((self.pitch != REST).sum())

    def to_dict(self) -> dict:
        return {"pitch": self.pitch, "dur": self.dur, "pos": self.pos,
                "info": np.array([self.shift, self.bar_ticks, self.start_tick], dtype=np.int64)}


# ----------------------------------------------------------------------------- keys
def key_signature_tonic(key: str | None) -> int | None:
    """Pitch class of the major key sharing ``key``'s signature ('D minor' → 5, F), or None."""
    from tunesmith.notes import parse_key

    parsed = parse_key(key)
    if parsed is None:
        return None
    pc, mode = parsed
    return (pc + 3) % 12 if mode == "minor" else pc


def key_shift(key: str | None) -> int:
    """Semitones (−6..5) that move ``key``'s signature to no sharps or flats (0 when unknown)."""
    pc = key_signature_tonic(key)
    if pc is None:
        return 0
    return ((-pc + 6) % 12) - 6


def scale_pitch_classes(key: str) -> set[int]:
    """Pitch classes of ``key``: the major scale, or natural minor plus the raised 7th."""
    from tunesmith.notes import parse_key

    parsed = parse_key(key)
    if parsed is None:
        raise NotesError(f"unknown key {key!r} (try e.g. 'D minor', 'Bb major', 'f#')")
    pc, mode = parsed
    return {(pc + d) % 12 for d in (MINOR_SCALE if mode == "minor" else MAJOR_SCALE)}


def estimate_key(pitches, durations=None) -> str:
    """Krumhansl–Schmuckler key estimate: the key whose profile best correlates with the
    duration-weighted pitch-class histogram. Returns a name such as ``"G major"``."""
    pitches = np.asarray(pitches, dtype=np.int64)
    w = np.ones(len(pitches)) if durations is None else np.asarray(durations, dtype=np.float64)
    hist = np.bincount(pitches % 12, weights=w, minlength=12) if len(pitches) else np.ones(12)
    best, best_r = "C major", -np.inf
    for tonic in range(12):
        for profile, mode in ((_KK_MAJOR, "major"), (_KK_MINOR, "minor")):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1] if hist.std() > 0 else 0.0
            if r > best_r:
                best, best_r = f"{_PC_NAMES[tonic]} {mode}", r
    return best


# ----------------------------------------------------------------------------- durations
def duration_token(beats: float) -> int:
    """Duration in quarter notes → token (nearest 1/12 quarter, clipped to the vocabulary)."""
    return int(np.clip(round(beats * TICKS_PER_BEAT) - 1, 0, N_DURATIONS - 1))


def token_duration(token: int) -> float:
    """Token → duration in quarter notes."""
    return (int(token) + 1) / TICKS_PER_BEAT


def metre_token(tick, bar_ticks: int):
    """Onset tick (from the start of bar 0) → position token: tick in bar + N_POSITIONS × (bar mod BAR_CYCLE).

    Works on ints and on integer tensors/arrays alike.
    """
    in_bar = tick % bar_ticks
    in_bar = in_bar.clip(max=N_POSITIONS - 1) if hasattr(in_bar, "clip") else min(in_bar, N_POSITIONS - 1)
    return in_bar + N_POSITIONS * ((tick // bar_ticks) % BAR_CYCLE)


def bar_ticks_of(time_signature: tuple[int, int] | None) -> int:
    num, den = time_signature or (4, 4)
    return max(1, int(round(num * 4 / den * TICKS_PER_BEAT)))


# ----------------------------------------------------------------------------- encode / decode
def encode(seq, *, key_normalize: bool = True, pickup_beats: float = 0.0, key: str | None = None) -> TokenMelody:
    """Turn a quantised monophonic NoteSequence into a :class:`TokenMelody`.

    ``pickup_beats`` is the bar position (quarter notes) of beat 0 of the
    sequence (the length of the missing part of an anacrusis bar). ``key``
    overrides ``seq.key``; with neither, the key is estimated from the notes.
    """
    from tunesmith.notes import iter_events

    events = list(iter_events(seq))
    if not any(e[0] == "note" for e in events):
        raise NotesError("no notes in the melody", seq.name)
    key = key or seq.key or estimate_key([e[1] for e in events if e[0] == "note"],
                                         [e[2] for e in events if e[0] == "note"])
    shift = key_shift(key) if key_normalize else 0
    bar = bar_ticks_of(seq.time_signature)
    first_on = min(n.onset_beats for n in seq.notes)
    t = t0 = int(round((first_on + pickup_beats) * TICKS_PER_BEAT))
    pitch, dur, pos = [], [], []
    for kind, p, beats in events:
        ticks = max(1, int(round(beats * TICKS_PER_BEAT)))
        pitch.append(REST if kind == "rest" else int(np.clip(round(p) + shift, 0, 127)))
        dur.append(min(ticks, N_DURATIONS) - 1)
        pos.append(metre_token(t, bar))
        t += ticks
    return TokenMelody(np.array(pitch, dtype=np.int64), np.array(dur, dtype=np.int64),
                       np.array(pos, dtype=np.int64), shift=shift, bar_ticks=bar,
                       start_tick=t0, key=key, tempo=seq.tempo, time_signature=seq.time_signature,
                       name=seq.name)


def positions(dur: np.ndarray, bar_ticks: int, start_tick: int = 0) -> np.ndarray:
    """Bar positions (ticks) of events with duration tokens ``dur`` starting at ``start_tick``."""
    ticks = np.asarray(dur, dtype=np.int64) + 1
    onsets = start_tick + np.concatenate([[0], np.cumsum(ticks)[:-1]])
    return metre_token(onsets, bar_ticks)


def decode(pitch, dur, *, shift: int = 0, tempo: float = 100.0, time_signature=None, key=None,
           program: int = 0, name: str | None = None, start_tick: int = 0, velocity: int = 80):
    """Token arrays → quantised NoteSequence (rests become gaps; ``shift`` is undone)."""
    from tunesmith.notes import Note, NoteSequence

    spb = 60.0 / tempo
    notes, t = [], 0.0
    for p, d in zip(np.asarray(pitch).tolist(), np.asarray(dur).tolist()):
        beats = token_duration(d)
        if p != REST and p < 128:
            midi = float(p - shift)
            if 0 <= midi <= 127:
                notes.append(Note(midi, t * spb, (t + beats) * spb, velocity, t, beats))
        t += beats
    return NoteSequence(notes, tempo=tempo, time_signature=time_signature, key=key, program=program, name=name)
