"""Note- and frame-level scores of a transcription against reference notes (mir_eval).

* Note precision / recall / F1, onset only: a match needs the onset within
  :data:`ONSET_TOLERANCE_S` (50 ms) and the pitch within :data:`PITCH_TOLERANCE_CENTS` (50 cents).
* The same with offsets: also the offset within 20 % of the reference note's
  duration (at least 50 ms) (:data:`OFFSET_RATIO`).
* Frame raw pitch accuracy: the share of the reference's voiced 10 ms frames
  whose estimated f0 is within 50 cents (mir_eval.melody).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.notes import NoteSequence, midi_to_hz

ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
OFFSET_RATIO = 0.2
FRAME_STEP_S = 0.01
REFERENCE_EXTENSIONS = (".csv", ".mid", ".midi")


@dataclass
class Scores:
    """Precision, recall and F1 of one file or of a whole set."""

    precision: float
    recall: float
    f1: float
    precision_offset: float
    recall_offset: float
    f1_offset: float
    raw_pitch_accuracy: float | None = None
    n_ref: int = 0
    n_est: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _intervals(seq: NoteSequence) -> tuple[np.ndarray, np.ndarray]:
    notes = [n for n in seq.notes if n.offset > n.onset]
    iv = np.array([[n.onset, n.offset] for n in notes], dtype=np.float64).reshape(-1, 2)
    return iv, np.asarray(midi_to_hz([n.pitch for n in notes]), dtype=np.float64).reshape(-1)


def note_scores(ref: NoteSequence, est: NoteSequence) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``((P, R, F1) onset only, (P, R, F1) with offsets)``; empty vs empty counts as perfect."""
    import mir_eval

    ri, rp = _intervals(ref)
    ei, ep = _intervals(est)
    if not len(ri) and not len(ei):
        return (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)
    if not len(ri) or not len(ei):
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    on = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None)
    off = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS,
        offset_ratio=OFFSET_RATIO)
    return tuple(float(x) for x in on[:3]), tuple(float(x) for x in off[:3])


def notes_to_f0(seq: NoteSequence, times: np.ndarray) -> np.ndarray:
    """f0 in Hz at ``times`` from a monophonic note list (0 where no note sounds; the highest wins)."""
    f0 = np.zeros(len(times))
    for n in sorted(seq.notes, key=lambda n: n.pitch):
        f0[(times >= n.onset) & (times < n.offset)] = float(midi_to_hz(n.pitch))
    return f0


def raw_pitch_accuracy(ref: NoteSequence, est_times: np.ndarray, est_f0_hz: np.ndarray) -> float | None:
    """Share of the reference's voiced frames where the estimated f0 is within 50 cents (octave errors count)."""
    import mir_eval

    end = max(ref.duration, float(est_times[-1]) if len(est_times) else 0.0)
    times = np.arange(0, end + FRAME_STEP_S, FRAME_STEP_S)
    ref_f0 = notes_to_f0(ref, times)
    if not np.any(ref_f0 > 0):
        return None
    est = np.zeros_like(times)
    if len(est_times):  # the frame at or after each time (interpolating across voicing edges would invent pitches)
        idx = np.clip(np.searchsorted(est_times, times), 0, len(est_times) - 1)
        est = np.nan_to_num(est_f0_hz, nan=0.0)[idx]
    rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(times, ref_f0, times, est)
    return float(mir_eval.melody.raw_pitch_accuracy(rv, rc, ev, ec))


def score_file(ref: NoteSequence, est: NoteSequence, est_times: np.ndarray | None = None,
               est_f0_hz: np.ndarray | None = None) -> Scores:
    """All scores of one transcription (frame accuracy only when an f0 track is given)."""
    (p, r, f), (po, ro, fo) = note_scores(ref, est)
    rpa = raw_pitch_accuracy(ref, est_times, est_f0_hz) if est_times is not None else None
    return Scores(p, r, f, po, ro, fo, rpa, len(ref), len(est))


def pair_files(data: str | Path) -> list[tuple[Path, Path]]:
    """(audio, reference) pairs under ``data``: a reference ``.csv``/``.mid``/``.midi`` with the audio's stem.

    The reference is looked for beside the audio first, then anywhere under ``data``
    (e.g. the shipped layout: ``data/songs/x.flac`` with ``data/reference/x.csv``); of
    several candidates with the same stem a ``.csv`` wins, then the nearest folder.
    Raises :class:`TunesmithError` when the folder does not exist or holds no pair.
    """
    from tunesmith.io import AUDIO_EXTENSIONS

    root = Path(data)
    if not root.is_dir():
        raise TunesmithError("no such folder", root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        if p.suffix.lower() in REFERENCE_EXTENSIONS:
            by_stem.setdefault(p.stem, []).append(p)
    pairs = []
    for audio in (p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS):
        cands = by_stem.get(audio.stem, [])
        if not cands:
            continue
        beside = [c for c in cands if c.parent == audio.parent]
        pool = beside or cands
        pool.sort(key=lambda c: (REFERENCE_EXTENSIONS.index(c.suffix.lower()), len(c.relative_to(root).parts)))
        pairs.append((audio, pool[0]))
    if not pairs:
        raise TunesmithError("no audio files with a reference .csv or .mid of the same name", root)
    return pairs


def overall(results: list[Scores]) -> Scores:
    """Set-level scores: the mean over files (each file counts once, as in mir_eval practice)."""
    keys = ("precision", "recall", "f1", "precision_offset", "recall_offset", "f1_offset")
    vals = {k: float(np.mean([getattr(s, k) for s in results])) for k in keys}
    rpas = [s.raw_pitch_accuracy for s in results if s.raw_pitch_accuracy is not None]
    return Scores(**vals, raw_pitch_accuracy=float(np.mean(rpas)) if rpas else None,
                  n_ref=sum(s.n_ref for s in results), n_est=sum(s.n_est for s in results))


def format_table(rows: list[tuple[str, Scores]]) -> str:
    """A markdown table: one row per file plus whatever summary rows the caller adds."""
    head = "| file | notes ref/est | P | R | F1 | P off | R off | F1 off | RPA |\n|---|---|---|---|---|---|---|---|---|"
    lines = [head]
    for name, s in rows:
        rpa = f"{s.raw_pitch_accuracy:.3f}" if s.raw_pitch_accuracy is not None else "-"
        lines.append(f"| {name} | {s.n_ref}/{s.n_est} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | "
                     f"{s.precision_offset:.3f} | {s.recall_offset:.3f} | {s.f1_offset:.3f} | {rpa} |")
    return "\n".join(lines)
