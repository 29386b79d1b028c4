"""From performed notes to a score: tempo, beat phase, metre and key estimation, then quantisation.

* **Tempo** (:func:`estimate_tempo`): the note onsets, each weighted by
  ``1 + log(1 + duration / 0.1 s)`` (long notes mark beats more often), are
  smoothed into an onset curve (Gaussian, σ = 25 ms, 10 ms steps) whose
  autocorrelation is weighted by a log-normal tempo prior (centre
  :data:`PRIOR_QPM`, σ = half an octave) over 40-220 quarter notes per minute; the
  best lag, refined by a parabola, is the beat period.
* **Beat phase** (:func:`estimate_beat_offset`): the phase of the weighted
  phasor sum ``Σ w exp(2πi t / P)`` of the onsets.
* **Metre** (:func:`estimate_time_signature`): 3/4 when the onset curve's
  autocorrelation at 3 beats clearly beats that at 2 and 4 beats, else 4/4.
* **Key** (:func:`estimate_key`): Krumhansl-Kessler profiles correlated with the
  duration-weighted pitch-class histogram; the best of the 24 keys.

:func:`score` returns a quantised copy (``tunesmith.notes.quantize``) on the
estimated grid, ready for MusicXML.
"""
from __future__ import annotations

import numpy as np

from tunesmith.notes import NoteSequence, quantize

PRIOR_QPM = 100.0
PRIOR_OCTAVES = 0.5           # width (σ) of the log-normal tempo prior
MIN_QPM, MAX_QPM = 40.0, 220.0
CURVE_STEP_S = 0.01
CURVE_SIGMA_S = 0.025
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def _weights(seq: NoteSequence) -> tuple[np.ndarray, np.ndarray]:
    on = np.array([n.onset for n in seq.notes], dtype=np.float64)
    dur = np.array([n.duration for n in seq.notes], dtype=np.float64)
    return on, 1.0 + np.log1p(np.maximum(dur, 0) / 0.1)


def onset_curve(seq: NoteSequence) -> np.ndarray:
    """Weighted note onsets smoothed by a Gaussian (σ = 25 ms), sampled every 10 ms."""
    on, w = _weights(seq)
    n = int(np.ceil((on.max() if len(on) else 0) / CURVE_STEP_S)) + 50
    curve = np.zeros(n)
    np.add.at(curve, np.round(on / CURVE_STEP_S).astype(int), w)
    k = np.arange(-4 * CURVE_SIGMA_S, 4 * CURVE_SIGMA_S + 1e-9, CURVE_STEP_S)
    return np.convolve(curve, np.exp(-0.5 * (k / CURVE_SIGMA_S) ** 2), mode="same")


def _autocorr(curve: np.ndarray) -> np.ndarray:
    n = len(curve)
    f = np.fft.rfft(curve - curve.mean(), 2 * n)
    ac = np.fft.irfft(np.abs(f) ** 2)[:n]
    return ac / ac[0] if ac[0] > 0 else ac


def estimate_tempo(seq: NoteSequence, prior_qpm: float = PRIOR_QPM) -> float | None:
    """Beat rate in quarter notes per minute, or ``None`` with fewer than 4 notes."""
    if len(seq) < 4:
        return None
    ac = _autocorr(onset_curve(seq))
    lags = np.arange(len(ac)) * CURVE_STEP_S
    valid = (lags >= 60 / MAX_QPM) & (lags <= 60 / MIN_QPM)
    if not valid.any():
        return None
    qpm = np.where(valid, 60 / np.maximum(lags, 1e-9), 1.0)
    prior = np.exp(-0.5 * (np.log2(qpm / prior_qpm) / PRIOR_OCTAVES) ** 2)
    score = np.where(valid, np.maximum(ac, 0) * prior, -np.inf)
    i = int(np.argmax(score))
    if not np.isfinite(score[i]) or score[i] <= 0:
        return None
    if 0 < i < len(ac) - 1:
        a, b, c = ac[i - 1], ac[i], ac[i + 1]
        d = a - 2 * b + c
        i = i + (float(np.clip(0.5 * (a - c) / d, -0.5, 0.5)) if d != 0 else 0.0)
    return float(60.0 / (i * CURVE_STEP_S))


def estimate_beat_offset(seq: NoteSequence, tempo: float) -> float:
    """Time (s) of a beat at or before the first note: the phase of the onsets' weighted phasor sum."""
    on, w = _weights(seq)
    if not len(on):
        return 0.0
    period = 60.0 / tempo
    phase = np.angle(np.sum(w * np.exp(2j * np.pi * on / period))) / (2 * np.pi) * period
    first = on.min()
    return float(phase - np.ceil((phase - first) / period - 1e-6) * period)


def estimate_time_signature(seq: NoteSequence, tempo: float) -> tuple[int, int]:
    """``(3, 4)`` when onsets repeat every 3 beats clearly more than every 2 or 4, else ``(4, 4)``."""
    ac = _autocorr(onset_curve(seq))
    period = 60.0 / tempo / CURVE_STEP_S

    def at(k: float) -> float:
        i = int(round(k * period))
        return float(ac[i]) if i < len(ac) else 0.0

    return (3, 4) if at(3) > 1.15 * max(at(2), at(4)) else (4, 4)


def estimate_key(seq: NoteSequence) -> str | None:
    """The best-correlated of the 24 Krumhansl-Kessler key profiles, e.g. ``"D minor"``."""
    if len(seq) < 3:
        return None
    hist = np.zeros(12)
    for n in seq.notes:
        hist[int(round(n.pitch)) % 12] += max(n.duration, 0.05)
    if hist.std() == 0:
        return None
    best, name = -2.0, None
    for tonic in range(12):
        for prof, tonics, mode in ((_KK_MAJOR, _MAJOR_TONICS, "major"), (_KK_MINOR, _MINOR_TONICS, "minor")):
            r = float(np.corrcoef(hist, np.roll(prof, tonic))[0, 1])
            if r > best:
                best, name = r, f"{tonics[tonic]} {mode}"
    return name


def annotate(seq: NoteSequence, tempo: float | None = None) -> NoteSequence:
    """A copy with ``tempo``, ``time_signature`` and ``key`` estimated where possible (times unchanged)."""
    tempo = tempo or estimate_tempo(seq)
    ts = estimate_time_signature(seq, tempo) if tempo else None
    return seq.copy(tempo=tempo, time_signature=ts, key=estimate_key(seq))


def score(seq: NoteSequence, *, grid: float = 0.25, tempo: float | None = None) -> NoteSequence:
    """A quantised copy on the estimated beat grid (``grid`` in quarter notes; 120 qpm if no tempo)."""
    seq = seq if seq.tempo and seq.key else annotate(seq, tempo)
    t = tempo or seq.tempo or 120.0
    offset = estimate_beat_offset(seq, t) if len(seq) else 0.0
    q = quantize(seq.copy(tempo=t), tempo=t, grid=grid, offset_s=offset)
    # a monophonic line stays one: notes snapped onto the same grid point keep only the longest
    # as performed (a chord in the score would be wrong)
    best: dict[float, tuple[float, object]] = {}
    for orig, n in zip(seq.notes, q.notes):
        key = round(n.onset_beats, 6)
        if key not in best or orig.duration > best[key][0]:
            best[key] = (orig.duration, n)
    return q.copy(notes=[n for _, n in best.values()])
