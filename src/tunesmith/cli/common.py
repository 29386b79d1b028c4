"""Helpers shared by the verbs: folder-aware batch runs with progress and per-file error reports."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.errors import TunesmithError


@dataclass
class BatchResult:
    """What a folder run did: results of the good files and the one-line reasons for the bad ones."""

    done: dict[Path, Any] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every file worked, 1 when any failed (the good ones are still done)."""
        return 1 if self.failed else 0


def run_batch(files: Sequence[Path], fn: Callable[[Path], Any], *, desc: str = "files",
              quiet: bool = False) -> BatchResult:
    """Apply ``fn`` to each file with a progress bar; report and skip files that raise TunesmithError.

    Each failure prints one line ``tunesmith: skipped FILE: reason`` on stderr at
    once, and a summary follows at the end; the good files are processed
    whatever happens to the bad ones.
    """
    from tqdm.auto import tqdm

    result = BatchResult()
    bar = tqdm(files, desc=desc, unit="file", disable=quiet or len(files) < 2, file=sys.stderr)
    for f in bar:
        try:
            result.done[f] = fn(f)
        except TunesmithError as exc:
            msg = exc.message if exc.path else str(exc)
            result.failed[f] = msg
            verb = "error" if len(files) == 1 else "skipped"
            bar.write(f"tunesmith: {verb}: {f}: {msg}", file=sys.stderr)
    if result.failed and len(files) > 1:
        print(f"tunesmith: {desc}: {len(result.done)} of {len(files)} files done, "
              f"{len(result.failed)} skipped", file=sys.stderr)
    return result


def say(message: str) -> None:
    """Print a line to stdout without breaking a running progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(message)


def add_common_output(parser, *, required: bool = True, default: str | None = None) -> None:
    parser.add_argument("-o", "--out-dir", required=required, default=default, metavar="OUT_DIR",
                        help="folder for the outputs (created if needed; the input tree is mirrored)")


def parse_range(text: str) -> tuple[float, float]:
    """'55-79' or 'G3-C6' → (low, high) MIDI numbers."""
    from tunesmith.notes import name_to_midi

    def one(s: str) -> float:
        s = s.strip()
        try:
            return float(s)
        except ValueError:
            return float(name_to_midi(s))

    if "-" not in text[1:]:
        raise TunesmithError(f"range {text!r} must look like LOW-HIGH, e.g. 55-79 or G3-C6")
    i = text.index("-", 1)
    lo, hi = one(text[:i]), one(text[i + 1:])
    if lo > hi:
        raise TunesmithError(f"range {text!r}: low end above high end")
    return lo, hi


def print_settings(title: str, settings: dict, file=None) -> None:
    """Print the effective values of a command's knobs (one line, stderr by default)."""
    parts = ", ".join(f"{k}={v}" for k, v in settings.items())
    print(f"{title}: {parts}", file=file or sys.stderr)


def iter_inputs(paths: Iterable[str], extensions) -> list[Path]:
    """Expand ``paths`` (files and folders) into input files.

    A missing path among several stays in the list, so that the batch reports it
    in one line and still processes the others; when nothing exists at all the
    command stops with one line.
    """
    from tunesmith.io import expand_paths

    paths = [Path(p) for p in paths]
    missing = [p for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        raise TunesmithError("no such file or folder", missing[0])
    files = expand_paths([p for p in paths if p.exists()], extensions) + missing
    if not files:
        raise TunesmithError(f"no input files found in {', '.join(map(str, paths))}")
    return files
