"""Folder runs for every adapter: expand inputs, apply a function per file, skip and report bad files.

The CLI, a web app or a notebook call the same two functions::

    files = iter_inputs(["takes/", "extra.wav"], AUDIO_EXTENSIONS)
    result = run_batch(files, lambda f: transcribe_file(f), desc="transcribing")
    result.done      # {file: value} for the files that worked
    result.failed    # {file: one-line reason} for the ones that raised TunesmithError

Nothing here prints. Each skipped file is logged at WARNING on the
``tunesmith.batch`` logger as it happens (``skipped: FILE: reason``), and a
summary line follows; the CLI shows these on stderr. A progress bar (tqdm, on
stderr) is drawn for two or more files unless ``progress=False``.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.errors import TunesmithError

__all__ = ["BatchResult", "run_batch", "iter_inputs"]

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What a folder run did: results of the good files and the one-line reasons for the bad ones."""

    done: dict[Path, Any] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every file worked, 1 when any failed (the good ones are still done)."""
        return 1 if self.failed else 0

    def summary(self, desc: str = "files") -> str:
        """One line: how many files were done and how many skipped."""
        total = len(self.done) + len(self.failed)
        return f"{desc}: {len(self.done)} of {total} files done, {len(self.failed)} skipped"


def run_batch(files: Sequence[Path], fn: Callable[[Path], Any], *, desc: str = "files",
              progress: bool = True, quiet: bool | None = None) -> BatchResult:
    """Apply ``fn`` to each file; record and skip the files that raise :class:`~tunesmith.errors.TunesmithError`.

    Parameters
    ----------
    files : the inputs, in order (see :func:`iter_inputs`).
    fn : called once per file; its return value is kept in ``BatchResult.done``.
    desc : label of the progress bar and of the summary line.
    progress : draw a progress bar on stderr (only for two or more files).
    quiet : old spelling of ``progress=False`` (kept for one release).

    Each failure is logged at once as ``error: FILE: reason`` (one input) or
    ``skipped: FILE: reason``; the good files are processed whatever happens to
    the bad ones. Other exceptions (bugs) propagate.
    """
    from tqdm.auto import tqdm

    if quiet is not None:
        progress = not quiet
    result = BatchResult()
    bar = tqdm(files, desc=desc, unit="file", disable=not progress or len(files) < 2, file=sys.stderr)
    for f in bar:
        try:
            result.done[f] = fn(f)
        except TunesmithError as exc:
            msg = exc.message if exc.path else str(exc)
            result.failed[f] = msg
            log.warning("%s: %s: %s", "error" if len(files) == 1 else "skipped", f, msg)
    if result.failed and len(files) > 1:
        log.warning("%s", result.summary(desc))
    return result


def iter_inputs(paths: Iterable[str | Path], extensions: Iterable[str]) -> list[Path]:
    """Expand ``paths`` (files and folders, folders searched recursively) into input files.

    A missing path among several stays in the list, so that :func:`run_batch`
    reports it in one line and still processes the others; when nothing exists
    at all, or no input file is found, raises :class:`~tunesmith.errors.TunesmithError`.
    """
    from tunesmith.io import expand_paths

    given = [Path(p) for p in paths]
    missing = [p for p in given if not p.exists()]
    if missing and len(missing) == len(given):
        raise TunesmithError("no such file or folder", missing[0])
    files = expand_paths([p for p in given if p.exists()], tuple(extensions)) + missing
    if not files:
        raise TunesmithError(f"no input files found in {', '.join(map(str, given))}")
    return files
