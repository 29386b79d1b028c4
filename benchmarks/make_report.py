#!/usr/bin/env python
"""Assemble BENCHMARKS.md from the latest tables in benchmarks/results/*.md.

Each benchmark script writes its own results file (tables, the command that made
them and the machine); this script only concatenates them in pipeline order.
Run: ``python benchmarks/make_report.py``.
"""
from __future__ import annotations

from pathlib import Path

ORDER = ["frontend", "transcription", "transcription_speed", "transcription_choice", "transcription_polyphony",
         "composer", "abc_books", "transform", "classify_voices",
         "classify_voices_seed1", "classify", "classify_goodbad_dev", "classify_goodbad_dev_previous",
         "classify_goodbad_ft_scoring", "web"]
HEADER = """# Benchmarks

Latest tables from `benchmarks/`. Every benchmark runs with one command, compares tunesmith against
its named peers in the same run and prints these tables; each section says the command and the machine.
Timings come from a shared 2-core CPU VM: read medians and the ratios measured side by side, not the
absolute numbers. Assembled by `python benchmarks/make_report.py` from `benchmarks/results/*.md`.
"""


def _as_section(text: str) -> str:
    """One results file as one section: its first heading at level 2, later top headings at level 3."""
    out, fence, first = [], False, True
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            title = line.lstrip("#").strip()
            level = 2 if first else max(level + (1 if text.startswith("# ") else 0), 3)
            first = False
            line = "#" * level + " " + title
        out.append(line)
    return "\n".join(out)


def main() -> None:
    root = Path(__file__).resolve().parent
    results = root / "results"
    files = sorted(results.glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    parts = [HEADER]
    for f in files:
        parts.append(_as_section(f.read_text().strip()) + "\n")
    (root.parent / "BENCHMARKS.md").write_text("\n".join(parts))
    print(f"BENCHMARKS.md: {len(files)} sections ({', '.join(f.stem for f in files)})")


if __name__ == "__main__":
    main()
