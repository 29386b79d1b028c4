#!/usr/bin/env python
"""Reading ABC books: music21's whole-book parse (before) vs ``tunesmith.notes.load_pieces`` (after), one run.

    python benchmarks/abc_books.py [--repeats 3]

Books (real, from music21's corpus): James Aird's *Selection of Scotch, English, Irish and Foreign
Airs*, book 1 (``airdsAirs/book1.abc``, 200 tunes) and the Essen collection's ``altdeu10.abc``
(313 German folk songs). For each book, median wall time of:

* **before** (tunesmith 0.1): ``music21.converter.parse`` of the whole book (an ``Opus``), then each
  score's soprano/first part through ``stripTies().flatten()`` and the note loop (what
  ``music21_to_note_sequence`` did per score). 0.1 itself read only the first tune of a book;
  this row is the cost of reading all of them that way.
* **after, 1 process** and **after, all cores**: ``load_pieces(book, workers=...)`` (split on ``X:``
  lines, tunes parsed without music21's notation-only beaming and re-barring, ties joined without a deep copy).

Also checks that both give the same notes for every tune. Writes ``benchmarks/results/abc_books.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "abc_books.md"
BOOKS = ("airdsAirs/book1.abc", "essenFolksong/altdeu10.abc")


def before(path: str) -> list:
    """The 0.1 way, applied to every tune: whole-book music21 parse, stripTies per score."""
    import music21

    from tunesmith.notes import DEFAULT_TEMPO, Note, NoteSequence, quiet_music21

    with quiet_music21():
        opus = music21.converter.parse(path, format="abc", forceSource=True)
        out = []
        for score in opus.scores:
            parts = list(score.parts) if len(score.parts) else [score]
            chosen = next((p for p in parts if (p.partName or "").lower().startswith("soprano")), parts[0])
            flat = chosen.stripTies().flatten()
            marks = list(score.flatten().getElementsByClass(music21.tempo.MetronomeMark))
            tempo = float(marks[0].getQuarterBPM()) if marks and marks[0].number else DEFAULT_TEMPO
            spb, notes = 60.0 / tempo, []
            for el in flat.notes:
                if el.duration.isGrace or el.quarterLength <= 0:
                    continue
                midi = max(p.midi for p in el.pitches) if el.isChord else el.pitch.midi
                on, dur = float(el.offset), float(el.quarterLength)
                vel = el.volume.velocity if el.volume.velocity is not None else 80
                notes.append(Note(float(midi), on * spb, (on + dur) * spb, int(vel), on, dur))
            seq = NoteSequence(notes)
            out.append(seq.melody() if not seq.is_monophonic(tolerance=1e-6) else seq)
    return out


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import music21

    from tunesmith.notes import load_pieces

    cores = os.cpu_count() or 1
    load0 = os.getloadavg()
    rows = []
    for book in BOOKS:
        path = str(music21.corpus.getWork(book))
        t_before, old = timed(lambda: before(path), args.repeats)
        t_one, new1 = timed(lambda: load_pieces(path, workers=1), args.repeats)
        t_all, new_all = timed(lambda: load_pieces(path, workers=cores), args.repeats)
        same = len(old) == len(new1) and all(a.notes == b.notes for a, b in zip(old, new1.sequences))
        same_pool = [s.notes for s in new1.sequences] == [s.notes for s in new_all.sequences]
        rows.append((book, len(new1), len(new1.skipped), t_before, t_one, t_all, same and same_pool))
        print(f"{book}: {len(new1)} tunes, before {t_before:.1f} s, after {t_one:.1f} s (1 process), "
              f"{t_all:.1f} s ({cores} processes), same notes: {same and same_pool}", file=sys.stderr)
    load1 = os.getloadavg()
    lines = [
        "# Reading ABC books (song collections)", "",
        f"Command: `python benchmarks/abc_books.py --repeats {args.repeats}`. "
        f"Machine: {cpu_name()}, {cores} cores, Python {platform.python_version()}, music21 {music21.__version__}. "
        f"Load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end (other jobs ran: speed "
        f"figures are pessimistic). {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Median of {args.repeats} runs.", "",
        "| book | tunes read | skipped | before: music21 whole book (s) | after, 1 process (s) | "
        f"after, {cores} processes (s) | speed-up (1 process / {cores}) | same notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for book, n, skipped, tb, t1, ta, same in rows:
        lines.append(f"| `{book}` | {n} | {skipped} | {tb:.1f} | {t1:.1f} | {ta:.1f} | "
                     f"{tb / t1:.1f}× / {tb / ta:.1f}× | {'yes' if same else 'NO'} |")
    lines += ["", "Before = tunesmith 0.1's reading path applied to every tune (0.1 itself kept only the "
              "first tune of a book); after = `tunesmith.notes.load_pieces`. The composer also caches each "
              "parsed file by content hash, so a second training run over the same folder parses nothing.", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
