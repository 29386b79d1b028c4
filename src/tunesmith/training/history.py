"""The metric history of a run folder (``metrics.csv``), kept whole across ``--resume``.

Lightning's ``CSVLogger`` starts a fresh ``metrics.csv`` when a run starts, so a resumed run would
lose the earlier rows. Before a resumed fit the file is moved aside (:func:`hold_metrics_for_resume`)
and afterwards the two are joined (:func:`merge_metrics`): the earlier rows before the first step
the resumed run logged, then the new rows.
"""
from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["METRICS_FILE", "HELD_METRICS_FILE", "read_metrics", "hold_metrics_for_resume", "merge_metrics"]

METRICS_FILE = "metrics.csv"
HELD_METRICS_FILE = "metrics.before-resume.csv"


def read_metrics(path: Path) -> tuple[list[str], list[dict]]:
    """``(columns, rows)`` of a metrics CSV (empty when the file is missing)."""
    path = Path(path)
    if not path.exists():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def hold_metrics_for_resume(out: Path) -> Path | None:
    """Move ``out/metrics.csv`` aside before a resumed run; returns the held copy's path (or None).

    If a held copy is already there (a previous resume was killed before it could merge), the
    current file is merged into it first.
    """
    out = Path(out)
    metrics, held = out / METRICS_FILE, out / HELD_METRICS_FILE
    if held.exists():
        if metrics.exists():
            merge_metrics(held, metrics)  # writes the union into metrics.csv
            metrics.replace(held)
        return held
    if metrics.exists():
        metrics.replace(held)
        return held
    return None


def merge_metrics(held: Path, metrics: Path) -> None:
    """Write the earlier rows of ``held`` followed by the rows of ``metrics`` into ``metrics``; remove ``held``.

    Rows of the earlier run at or after the first global step logged by the resumed run (an
    interval that was interrupted and is trained again) are dropped, so each step appears once.
    Columns are the union of both files' columns.
    """
    from tunesmith.io import atomic_path

    held, metrics = Path(held), Path(metrics)
    old_cols, old_rows = read_metrics(held)
    new_cols, new_rows = read_metrics(metrics)
    steps = [int(float(r["step"])) for r in new_rows if r.get("step")]
    if steps:
        first = min(steps)
        old_rows = [r for r in old_rows if r.get("step") and int(float(r["step"])) < first]
    cols = old_cols + [c for c in new_cols if c not in old_cols]
    if cols:
        with atomic_path(metrics) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=cols, restval="")
            writer.writeheader()
            writer.writerows(old_rows + new_rows)
    held.unlink(missing_ok=True)
