"""Note segmentation: frame track (pitch, voicing, onset strength) → notes.

The same procedure serves every f0 tracker (the learned model, or pYIN /
CREPE with :func:`tunesmith.transcribe.onsets.spectral_flux` as onset strength):

1. **Starts.** Onset peaks (:func:`~tunesmith.transcribe.onsets.pick_onsets`,
   ``onset_threshold``) where a note sounds within the next few frames, plus
   the start of every voiced stretch that has no onset peak near it (soft
   attacks), plus pitch changes inside a note that stay put for at least
   ``min_note_ms`` (slurred legato, where no new attack is heard). A repeated
   note of the same pitch is split only by an onset peak.
2. **Ends.** A note ends where the voicing probability drops below
   ``voicing_threshold`` or where the next note starts.
3. **Pitch.** The most common semitone over the note's frames, each frame
   weighted by its confidence (robust to vibrato, scoops and glides, which
   move the frame f0 but rarely its most common semitone).
4. **Blips.** Notes shorter than ``min_note_ms`` are dropped.
5. **Velocity** from loudness: ``127 + VELOCITY_PER_DB * L``, where ``L`` is the peak
   frame power in dBFS over the first :data:`VELOCITY_WINDOW_S` of the note,
   clipped to 1-127 (0 dBFS RMS → 127, -30 dBFS → 67).
"""
from __future__ import annotations

import numpy as np

from tunesmith.notes import Note
from tunesmith.transcribe.onsets import pick_onsets

DEFAULT_ONSET_THRESHOLD = 0.5
DEFAULT_VOICING_THRESHOLD = 0.5
DEFAULT_MIN_NOTE_MS = 50.0
VELOCITY_PER_DB = 2.0
VELOCITY_WINDOW_S = 0.1
ONSET_LOOKAHEAD_S = 0.05      # an onset peak counts if a note sounds within this time after it
SOFT_START_S = 0.06           # a voiced stretch needs no extra start if an onset peak is this close
MEDIAN_FRAMES = 5             # smoothing of the frame pitch before looking for slurred pitch changes


def velocity_from_power(power: np.ndarray) -> int:
    """MIDI velocity from mean-square amplitudes: ``127 + 2 dB`` per dBFS of the loudest frame."""
    p = float(np.max(power)) if len(power) else 0.0
    db = 10 * np.log10(max(p, 1e-12))
    return int(np.clip(round(127 + VELOCITY_PER_DB * db), 1, 127))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the True runs of a boolean array."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


def _smoothed_pitch(pitch: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    from scipy.ndimage import median_filter

    p = pitch.astype(np.float64).copy()
    p[~voiced] = np.nan
    out = p.copy()
    for a, b in _runs(voiced):
        if b - a >= MEDIAN_FRAMES:
            out[a:b] = median_filter(p[a:b], MEDIAN_FRAMES, mode="nearest")
    return out


def _slur_splits(sp: np.ndarray, a: int, b: int, min_frames: int) -> list[int]:
    """Frames in [a, b) where the smoothed pitch moves to a new semitone held at least ``min_frames``."""
    splits = []
    cur = sp[a]
    i = a + 1
    while i < b:
        if sp[i] != cur and not np.isnan(sp[i]):
            j = i
            while j < b and sp[j] == sp[i]:
                j += 1
            if j - i >= min_frames:
                splits.append(i)
                cur = sp[i]
            i = j
        else:
            i += 1
    return splits


def segment(track, *, onset_threshold: float = DEFAULT_ONSET_THRESHOLD, min_note_ms: float = DEFAULT_MIN_NOTE_MS,
            voicing_threshold: float = DEFAULT_VOICING_THRESHOLD) -> list[Note]:
    """Notes (seconds, integer MIDI relative to the track's tuning) from a :class:`FrameTrack`."""
    n = len(track)
    if n == 0:
        return []
    hop = track.hop_s
    voiced = track.voiced >= voicing_threshold
    min_frames = max(1, int(round(min_note_ms / 1000 / hop)))
    look = max(1, int(round(ONSET_LOOKAHEAD_S / hop)))
    frames, pos = pick_onsets(track.onset, onset_threshold, min_gap=max(2, min_frames // 2))
    starts: dict[int, float] = {}
    for f, p in zip(frames, pos):
        nxt = np.nonzero(voiced[f:f + look + 1])[0]
        if len(nxt):
            starts[int(f + nxt[0])] = float(p) * hop    # note frames begin where voicing begins
    soft = int(round(SOFT_START_S / hop))
    sp = _smoothed_pitch(track.pitch, voiced)
    onset_frames = np.array(sorted(starts)) if starts else np.zeros(0, dtype=int)
    for a, b in _runs(voiced):
        near = onset_frames[(onset_frames >= a - soft) & (onset_frames <= a + soft)] if len(onset_frames) else []
        if not len(near):
            starts[a] = a * hop - hop / 2
        inner = sorted(k for k in starts if a <= k < b)
        bounds = inner + [b]
        for s0, s1 in zip(bounds[:-1], bounds[1:]):
            for k in _slur_splits(sp, s0, s1, min_frames):
                if all(abs(k - m) > soft for m in inner):
                    starts[k] = k * hop - hop / 2
    keys = sorted(starts)
    notes: list[Note] = []
    for i, k in enumerate(keys):
        stop = keys[i + 1] if i + 1 < len(keys) else n
        run_end = k
        while run_end < stop and voiced[run_end]:
            run_end += 1
        if run_end <= k:
            continue
        onset_s = max(0.0, starts[k])
        if run_end >= stop and i + 1 < len(keys):
            offset_s = starts[keys[i + 1]]          # legato: the note lasts until the next one starts
        else:
            offset_s = (run_end - 0.5) * hop
        if i + 1 < len(keys):
            offset_s = min(offset_s, starts[keys[i + 1]])
        if (offset_s - onset_s) * 1000 < min_note_ms:
            continue
        p = track.pitch[k:run_end]
        w = np.maximum(track.confidence[k:run_end], 1e-3)
        vals, inv = np.unique(p, return_inverse=True)
        pitch = int(vals[np.argmax(np.bincount(inv, weights=w))])
        win = max(1, int(round(VELOCITY_WINDOW_S / hop)))
        notes.append(Note(float(pitch), round(onset_s, 4), round(offset_s, 4),
                          velocity_from_power(track.power[k:k + win])))
    return notes
