"""Note segmentation of a pitch contour by exact dynamic programming (sung and bowed lines).

A frame contour (fractional MIDI pitch ``m[t]``, voicing probability ``v[t]``,
onset strength ``o[t]`` in [0, 1]) is cut into notes and gaps with the
smallest total cost

    J = sum over notes [ B(t0) + sum_{t in note} ( -ln v[t] + W v[t] d(m[t], mu) ) ]
      + sum over gap frames  ( -ln (1 - v[t]) )

where each note has one pitch ``mu`` (a candidate on a :data:`GRID_CENTS` grid),
``d(m, mu) = min(max(|m - mu| - DEAD_ZONE, 0), CAP)`` semitones (vibrato within the
dead zone costs nothing; a glide costs at most ``CAP`` per frame, so a short glide
is absorbed by the note it leads into rather than made a note of its own), and
``B(t0) = hold / hop - ONSET_GAIN * o[t0] * hold / hop`` is the price of starting a note at
frame ``t0``: a clear onset (re-articulation, consonant, bow change, plucked or
struck attack) makes a start cheap, so a repeated note splits there, while a
pitch change without an onset must be held for about ``hold`` before a new
note pays off. The minimum is found exactly (a semi-Markov Viterbi pass with
O(T K) time and O(T + K) memory, ``K`` the number of pitch candidates).

The note's pitch is its ``mu``: the cost-minimising (clipped-median) pitch of
its voiced frames, so scoops at the start and falls at the end do not pull it.
A glide left at the end of a note by the optimum is moved to the start of the note it
leads into (:func:`_glides_to_targets`). Onset evidence is optional: ``o`` is the
strength at the peaks of an onset curve (:func:`~tunesmith.transcribe.onsets.pick_onsets`),
0 elsewhere. The sung path (:func:`contour_notes`) uses none: on real singing the
instrument-trained CNN's onsets fire on consonants and vowel changes (vocadito_1 onset F1
0.85 without them, 0.66-0.78 with them, development measurements).
"""
from __future__ import annotations

import numpy as np

GRID_CENTS = 10.0           # spacing of the note-pitch candidates
DEAD_ZONE = 0.25            # semitones of deviation that cost nothing (vibrato, intonation)
CAP = 1.5                   # most a frame can cost for being off the note's pitch (semitones)
PITCH_WEIGHT = 2.0          # W: cost per semitone of deviation, per voiced frame
DEFAULT_HOLD_MS = 150.0     # note start price as the held duration it buys; chosen on vocadito_1 (A1), 60-220 tried
ONSET_GAIN = 0.9            # share of the start price a full-strength onset pays back
V_CLIP = (0.02, 0.98)       # voicing probabilities are clipped to this (finite log costs)


def segment_contour(midi: np.ndarray, voiced: np.ndarray, onset: np.ndarray | None, hop_s: float, *,
                    hold_ms: float = DEFAULT_HOLD_MS, onset_gain: float = ONSET_GAIN,
                    dead_zone: float = DEAD_ZONE, pitch_weight: float = PITCH_WEIGHT,
                    cap: float = CAP, onset_threshold: float = 0.3) -> list[tuple[int, int, float]]:
    """Notes ``[(first_frame, stop_frame, mu_midi), ...]`` of a contour (see the module docstring).

    ``midi`` is the frame f0 in fractional MIDI (NaN where no pitch was measured),
    ``voiced`` the probability that a note sounds, ``onset`` an onset-strength curve in [0, 1]
    (``None``: no onset evidence; otherwise its peaks at or above ``onset_threshold`` lower the
    start price), ``hop_s`` the frame hop in seconds.
    """
    m = np.asarray(midi, dtype=np.float64)
    n = len(m)
    if n == 0:
        return []
    v = np.clip(np.nan_to_num(np.asarray(voiced, dtype=np.float64)), *V_CLIP)
    has = np.isfinite(m)
    if not has.any():
        return []
    o = np.zeros(n)
    if onset is not None:
        from tunesmith.transcribe.onsets import pick_onsets

        strength = np.clip(np.nan_to_num(np.asarray(onset, dtype=np.float64)), 0, 1)
        peaks, _ = pick_onsets(strength, onset_threshold, min_gap=2)
        o[peaks] = strength[peaks]
    step = GRID_CENTS / 100.0
    lo, hi = np.floor(np.nanmin(m) / step) * step, np.ceil(np.nanmax(m) / step) * step
    mu = np.arange(lo, hi + step / 2, step)
    w = np.where(has, v, 0.0) * pitch_weight
    mm = np.where(has, m, 0.0)
    note_cost = -np.log(v)
    gap_cost = -np.log(1 - v)
    beta = hold_ms / 1000.0 / hop_s
    start_cost = beta * (1 - onset_gain * o)
    K = len(mu)
    vn = np.full(K, np.inf)           # best cost of a path now inside note k
    seg0 = np.zeros(K, dtype=np.int64)    # first frame of that note
    vg, gap0 = 0.0, 0                 # best cost of a path now in a gap, and the gap's first frame
    best_kind = np.empty(n, dtype=np.int64)   # state that is best at frame t: -1 gap, k note
    best_seg0 = np.empty(n, dtype=np.int64)   # first frame of its segment
    prev_best = 0.0
    work = np.empty(K)
    for t in range(n):
        # enter a note at t from the best state at t-1 (gap or any note: re-articulation allowed)
        enter = prev_best + start_cost[t]
        new = enter < vn
        vn[new] = enter
        seg0[new] = t
        # stay in / enter a gap
        if t > 0 and prev_best < vg:
            vg, gap0 = prev_best, t
        vg += gap_cost[t]
        np.subtract(mu, mm[t], out=work)
        np.abs(work, out=work)
        work -= dead_zone
        np.clip(work, 0.0, cap, out=work)
        work *= w[t]
        work += note_cost[t]
        vn += work
        k = int(np.argmin(vn))
        if vn[k] < vg:
            best_kind[t], best_seg0[t], prev_best = k, seg0[k], float(vn[k])
        else:
            best_kind[t], best_seg0[t], prev_best = -1, gap0, vg
    notes = []
    t = n - 1
    while t >= 0:
        k, a = int(best_kind[t]), int(best_seg0[t])
        if k >= 0:
            notes.append((a, t + 1, float(mu[k])))
        t = a - 1
    notes.reverse()
    return _glides_to_targets(notes, m, dead_zone, hop_s)


MAX_GLIDE_S = 0.15          # longest glide moved from the end of one note to the start of the next


def _glides_to_targets(notes, m, dead_zone, hop_s):
    """Move a glide that the optimum left at the end of a note to the start of the next one.

    When note ``i + 1`` follows note ``i`` without a gap, the frames at the end of
    note ``i`` that have left its pitch (by more than ``dead_zone``) and move
    monotonically towards note ``i + 1``'s pitch belong to the portamento into note
    ``i + 1``: its start moves back over them (at most :data:`MAX_GLIDE_S`).
    """
    max_frames = int(round(MAX_GLIDE_S / hop_s))
    out = [list(n) for n in notes]
    for i in range(1, len(out)):
        a0, b0, mu0 = out[i - 1]
        a1, _, mu1 = out[i]
        if b0 != a1 or abs(mu1 - mu0) < 2 * dead_zone:
            continue
        sign = np.sign(mu1 - mu0)
        k = a1
        while k - 1 > a0 + 1 and a1 - (k - 1) <= max_frames:
            x = m[k - 1]
            if not np.isfinite(x) or sign * (x - mu0) <= dead_zone:
                break
            if np.isfinite(m[k]) and sign * (m[k] - x) < 0:     # not moving towards the target
                break
            k -= 1
        out[i - 1][1], out[i][0] = k, k
    return [tuple(n) for n in out]


SUNG_HOLD_MS = DEFAULT_HOLD_MS


def contour_notes(midi: np.ndarray, voiced: np.ndarray, power: np.ndarray, hop_s: float, *,
                  hold_ms: float = SUNG_HOLD_MS, min_note_ms: float = 50.0) -> list:
    """:class:`~tunesmith.notes.Note` list of a contour: :func:`segment_contour` without onset evidence.

    Onsets are the first frame's leading edge ``(a - 0.5) * hop_s``, offsets the last
    frame's trailing edge; the pitch is the note's ``mu`` in fractional MIDI (the
    sung pitch, to :data:`GRID_CENTS`); velocity from the loudness of its first
    100 ms (:func:`tunesmith.transcribe.segment.velocity_from_power`). Notes shorter
    than ``min_note_ms`` are dropped.
    """
    from tunesmith.notes import Note
    from tunesmith.transcribe.segment import VELOCITY_WINDOW_S, velocity_from_power

    win = max(1, int(round(VELOCITY_WINDOW_S / hop_s)))
    out = []
    for a, b, mu in segment_contour(midi, voiced, None, hop_s, hold_ms=hold_ms):
        on, off = max(0.0, (a - 0.5) * hop_s), (b - 0.5) * hop_s
        if (off - on) * 1000 < min_note_ms:
            continue
        out.append(Note(round(float(mu), 2), round(on, 4), round(off, 4), velocity_from_power(power[a:a + win])))
    return out
