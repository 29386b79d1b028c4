"""Synthetic monophonic recordings with known notes, for training and evaluating the transcriber.

Melodies come from two *disjoint* sources so that evaluation never sees a
training tune:

* training: the top voice of music21's Bach chorales, Palestrina, Monteverdi
  and Trecento pieces, plus random melodies (random walks in a scale with
  varied rhythms, repeated notes and rests), see :func:`random_melody`;
* evaluation: folk tunes (music21's ``essenFolksong``, ``ryansMammoth`` and
  ``oneills1850`` ABC collections), see :data:`EVAL_CORPORA`.

Each melody is performed (tempo, legato, transposition into the instrument's
range, velocity and timing jitter), rendered with FluidSynth on a General MIDI
program, and optionally degraded (:func:`add_reverb`, :func:`add_pink_noise`).
Everything is driven by a ``numpy.random.Generator`` so a seed reproduces it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tunesmith.audio import Audio
from tunesmith.notes import Note, NoteSequence

TRAIN_CORPORA = ("bach", "palestrina", "monteverdi", "trecento")
EVAL_CORPORA = ("essenFolksong", "ryansMammoth", "oneills1850")


@dataclass(frozen=True)
class Instrument:
    """A General MIDI program and the MIDI range a player would use for melodies on it."""

    name: str
    program: int
    low: int
    high: int


# GM programs are 0-based here (FluidSynth's numbering).
INSTRUMENTS = {
    i.name: i for i in (
        Instrument("piano", 0, 48, 84), Instrument("violin", 40, 55, 91), Instrument("viola", 41, 48, 79),
        Instrument("cello", 42, 36, 69), Instrument("contrabass", 43, 28, 55),
        Instrument("trumpet", 56, 55, 82), Instrument("trombone", 57, 40, 70), Instrument("horn", 60, 41, 77),
        Instrument("tuba", 58, 29, 58), Instrument("alto_sax", 65, 49, 80), Instrument("tenor_sax", 66, 44, 75),
        Instrument("oboe", 68, 58, 89), Instrument("english_horn", 69, 52, 81), Instrument("bassoon", 70, 34, 70),
        Instrument("clarinet", 71, 50, 89), Instrument("piccolo", 72, 74, 100), Instrument("flute", 73, 60, 96),
        Instrument("recorder", 74, 60, 86), Instrument("pan_flute", 75, 60, 86), Instrument("whistle", 78, 67, 91),
        Instrument("ocarina", 79, 60, 84), Instrument("voice_oohs", 53, 48, 79), Instrument("choir_aahs", 52, 48, 79),
        Instrument("guitar", 24, 40, 76), Instrument("steel_guitar", 25, 40, 76), Instrument("electric_guitar", 27, 40, 79),
        Instrument("bass", 33, 28, 55), Instrument("marimba", 12, 48, 84), Instrument("vibraphone", 11, 53, 89),
        Instrument("harmonica", 22, 60, 84), Instrument("accordion", 21, 53, 84), Instrument("organ", 19, 48, 84),
        Instrument("synth_lead", 80, 48, 84), Instrument("strings", 48, 48, 84), Instrument("harp", 46, 40, 88),
        Instrument("fiddle", 110, 55, 88), Instrument("shakuhachi", 77, 60, 86), Instrument("soprano_sax", 64, 56, 87),
    )
}
EVAL_INSTRUMENTS = ("flute", "violin", "cello", "clarinet", "alto_sax", "trumpet", "voice_oohs", "piano",
                    "bassoon", "guitar")


# ----------------------------------------------------------------------------- melodies
def corpus_paths(corpora) -> list[Path]:
    """Files of the named music21 corpus collections, sorted (deterministic)."""
    from music21 import corpus

    out: list[Path] = []
    for name in corpora:
        out += sorted(Path(p) for p in corpus.getComposer(name))
    return out


def load_melodies(path: Path, max_tunes: int = 4) -> list[NoteSequence]:
    """Monophonic melodies (top voice) of one corpus file; ABC books give up to ``max_tunes`` tunes."""
    import music21

    from tunesmith.notes import music21_to_note_sequence

    fmt = {".abc": "abc", ".krn": "humdrum"}.get(path.suffix.lower())
    try:
        obj = music21.converter.parse(str(path), format=fmt) if fmt else music21.converter.parse(str(path))
    except Exception:
        return []
    scores = list(obj.scores)[:max_tunes] if isinstance(obj, music21.stream.Opus) else [obj]
    out = []
    for i, sc in enumerate(scores):
        try:
            seq = music21_to_note_sequence(sc, name=f"{path.stem}_{i}")
        except Exception:
            continue
        if len(seq) >= 8:
            out.append(seq)
    return out


def random_melody(rng: np.random.Generator, n_notes: int = 60) -> NoteSequence:
    """A random tonal-ish melody: a random walk in a major/minor scale with varied rhythm.

    Steps are mostly small (scale steps of -2..2) with occasional leaps; about 12 %
    of notes repeat the previous pitch and 8 % are followed by a rest, so the
    transcriber learns to split repeated notes and to end notes before silence.
    Pitches are centred on MIDI 60 (transposed later into an instrument's range).
    """
    scale = np.array([0, 2, 4, 5, 7, 9, 11] if rng.random() < 0.6 else [0, 2, 3, 5, 7, 8, 10])
    durs = np.array([0.25, 0.5, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0, 3.0])
    weights = np.array([1.5, 3, 3, 0.7, 2.5, 2.5, 0.8, 1.0, 0.3])
    weights /= weights.sum()
    degree, t, notes = int(rng.integers(0, 7)), 0.0, []
    for _ in range(n_notes):
        r = rng.random()
        if r < 0.12 and notes:
            pass
        elif r < 0.85:
            degree += int(rng.choice([-2, -1, -1, 1, 1, 2]))
        else:
            degree += int(rng.choice([-7, -5, -4, -3, 3, 4, 5, 7]))
        degree = int(np.clip(degree, -10, 12))
        pitch = 60 + 12 * (degree // 7) + int(scale[degree % 7])
        d = float(rng.choice(durs, p=weights))
        notes.append(Note(float(pitch), t, t + d, 80, t, d))
        t += d + (float(rng.choice([0.5, 1.0])) if rng.random() < 0.08 else 0.0)
    # times are in beats here; perform() converts them to seconds
    return NoteSequence(notes, tempo=60.0, name="random")


def excerpt(seq: NoteSequence, rng: np.random.Generator, max_beats: float) -> NoteSequence:
    """A contiguous stretch of at most ``max_beats`` quarter notes, starting at a random note."""
    notes = seq.notes
    beats = [n.onset_beats if n.onset_beats is not None else n.onset for n in notes]
    start_i = int(rng.integers(0, max(1, len(notes) // 3)))
    b0 = beats[start_i]
    keep = [replace(n, onset_beats=beats[i] - b0,
                    duration_beats=(n.duration_beats if n.duration_beats is not None else n.duration))
            for i, n in enumerate(notes) if i >= start_i and beats[i] - b0 < max_beats]
    return seq.copy(notes=keep)


def perform(seq: NoteSequence, rng: np.random.Generator, instrument: Instrument, *, qpm: float,
            legato: float, jitter_s: float = 0.008, lead_in_s: float = 0.3) -> NoteSequence:
    """Turn a score (beats) into a performance (seconds) on ``instrument``.

    Tempo ``qpm`` quarter notes per minute; each note sounds for ``legato`` × its
    written length (at least 60 ms, and ending at least 15 ms before the next note so that
    the reference stays monophonic); onsets get Gaussian jitter of ``jitter_s``;
    the melody is transposed by whole octaves plus a random shift so that it
    fits the instrument's range; velocities vary around a random dynamic level.
    """
    notes = seq.notes
    pitches = np.array([n.pitch for n in notes])
    lo, hi = pitches.min(), pitches.max()
    span_room = (instrument.high - instrument.low) - (hi - lo)
    if span_room >= 0:
        target_low = instrument.low + rng.integers(0, int(span_room) + 1)
    else:
        target_low = instrument.low
    shift = int(target_low - lo)
    spb = 60.0 / qpm
    level = rng.uniform(55, 110)
    perf = []
    onsets = [lead_in_s + (n.onset_beats if n.onset_beats is not None else n.onset) * spb for n in notes]
    onsets = [t + float(rng.normal(0, jitter_s)) if i else t for i, t in enumerate(onsets)]
    for i, n in enumerate(notes):
        dur_b = n.duration_beats if n.duration_beats is not None else n.duration
        on = onsets[i]
        off = on + max(0.06, dur_b * spb * legato)
        if i + 1 < len(notes):
            off = min(off, onsets[i + 1] - 0.015)
        p = float(np.clip(n.pitch + shift, instrument.low - 12, instrument.high + 12))
        if off - on < 0.03:
            continue
        vel = int(np.clip(level + rng.normal(0, 8), 20, 127))
        perf.append(Note(p, float(on), float(off), vel))
    return NoteSequence(perf, tempo=qpm, time_signature=seq.time_signature, key=None,
                        program=instrument.program, name=seq.name)


# ----------------------------------------------------------------------------- degradations
def coloured_noise(n: int, rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """Noise of ``n`` samples with unit RMS and power spectrum ``P(f) ∝ f**-exponent``.

    ``exponent`` 0 is white, 1 pink, 2 brown (red), -1 blue. Shaped in the frequency domain:
    complex Gaussian bins scaled by ``f**(-exponent / 2)`` (the DC bin counts as ``f = 1``).
    """
    spec = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec * f ** (-exponent / 2), n)
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise of ``n`` samples with unit RMS (:func:`coloured_noise` with exponent 1)."""
    return coloured_noise(n, rng, 1.0)


def active_rms(y: np.ndarray) -> float:
    """RMS over the non-silent samples (above -80 dB of the peak); 0 for a silent signal."""
    active = np.abs(y) > 1e-4 * max(1e-9, float(np.abs(y).max()) if len(y) else 0.0)
    return float(np.sqrt(np.mean(y[active] ** 2))) if active.any() else 0.0


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """Add :func:`coloured_noise` at ``snr_db`` dB below the signal's RMS power (:func:`active_rms`)."""
    return (y + coloured_noise(len(y), rng, exponent) * active_rms(y) * 10 ** (-snr_db / 20)).astype(np.float32)


def add_pink_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add pink noise at ``snr_db`` dB below the signal's RMS power (RMS over the non-silent part)."""
    return add_noise(y, snr_db, rng, 1.0)


def room_impulse(sr: int, rt60: float, rng: np.random.Generator, pre_delay_s: float = 0.01) -> np.ndarray:
    """A synthetic room impulse response: direct path plus exponentially decaying (60 dB in ``rt60`` s) noise."""
    n = int(sr * rt60 * 1.2)
    t = np.arange(n) / sr
    tail = rng.normal(size=n) * np.exp(-6.9 * t / rt60)
    # a gentle low-pass on the tail: rooms absorb highs faster
    tail = np.convolve(tail, np.ones(4) / 4, mode="same")
    ir = np.zeros(n + int(pre_delay_s * sr))
    ir[0] = 1.0
    ir[int(pre_delay_s * sr):] += tail * 0.25
    return ir / np.sqrt(np.sum(ir ** 2))


def add_reverb(y: np.ndarray, sr: int, rng: np.random.Generator, rt60: float = 0.8,
               wet: float = 0.5) -> np.ndarray:
    """Convolve with :func:`room_impulse` and mix ``wet`` of it with the dry signal (RMS kept)."""
    from scipy.signal import fftconvolve

    ir = room_impulse(sr, rt60, rng)
    wet_sig = fftconvolve(y, ir)[: len(y)]
    out = (1 - wet) * y + wet * wet_sig
    scale = np.sqrt(np.mean(y ** 2) / (np.mean(out ** 2) + 1e-12))
    return (out * scale).astype(np.float32)


def render_performance(perf: NoteSequence, sr: int, tail_s: float = 0.6, soundfont=None) -> Audio:
    """FluidSynth render of ``perf`` (its ``program``) through ``soundfont`` (default: the system GM
    soundfont, FluidR3), peak-normalised to -3 dBFS."""
    from tunesmith.render import render

    audio = render(perf, sr, engine="fluidsynth", tail_s=tail_s, soundfont=soundfont)
    y = audio.samples
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return Audio(y * (0.708 / peak) if peak > 0 else y, sr)


RENDER_GAP_S = 2.0


def render_performances(perfs: list[NoteSequence], sr: int, *, soundfont=None, tail_s: float = 0.6,
                        gap_s: float = RENDER_GAP_S) -> list[Audio]:
    """:func:`render_performance` of several performances on ONE GM program in a single FluidSynth run.

    The performances are laid end to end, each starting ``gap_s`` after the previous one's last
    note-off plus ``tail_s``, rendered once (the soundfont is loaded once: a compressed .sf3 takes
    seconds to load), and cut back into one clip per performance (its notes from 0 to its last
    note-off + ``tail_s``), each peak-normalised to -3 dBFS like :func:`render_performance`.
    """
    if len({p.program for p in perfs}) > 1:
        raise ValueError("render_performances: every performance must use the same GM program")
    starts, notes, t0 = [], [], 0.0
    for p in perfs:
        starts.append(t0)
        notes += [replace(n, onset=n.onset + t0, offset=n.offset + t0) for n in p.notes]
        t0 += p.duration + tail_s + gap_s
    from tunesmith.render import render

    joined = perfs[0].copy(notes=notes)
    y = render(joined, sr, engine="fluidsynth", tail_s=tail_s, soundfont=soundfont).samples
    out = []
    for p, s0 in zip(perfs, starts):
        a = int(round(s0 * sr))
        seg = np.asarray(y[a:a + int(round((p.duration + tail_s) * sr))], dtype=np.float32)
        peak = float(np.abs(seg).max()) if len(seg) else 0.0
        out.append(Audio(seg * (0.708 / peak) if peak > 0 else seg, sr))
    return out
