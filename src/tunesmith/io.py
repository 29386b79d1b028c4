"""Small file utilities shared by every command: atomic writes, folder expansion.

Outputs are written to a temporary file in the destination folder and renamed
into place, so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from tunesmith.errors import TunesmithError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus")
SYMBOLIC_EXTENSIONS = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".abc", ".krn", ".csv", ".json")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix so that writers which look at the
    extension (soundfile, matplotlib, music21) choose the right format. On error
    the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def expand_paths(
    paths: Iterable[str | Path], extensions: tuple[str, ...] = AUDIO_EXTENSIONS
) -> list[Path]:
    """Expand files and folders into a sorted list of files.

    Folders are searched recursively for files whose extension (case-insensitive)
    is in ``extensions``; files named directly are kept whatever their extension,
    so that the loader can report a wrong format by name. A path that does not
    exist raises :class:`TunesmithError`.
    """
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in extensions and not f.name.startswith(".")
            )
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise TunesmithError("no such file or folder", p)
    return out


def output_path(src: Path, roots: Iterable[str | Path], out_dir: str | Path, suffix: str) -> Path:
    """Mirror ``src``'s position under whichever of ``roots`` holds it into ``out_dir``.

    ``song.wav`` named directly maps to ``out_dir/song<suffix>``; ``in/a/b.wav``
    found under the folder ``in`` maps to ``out_dir/a/b<suffix>``.
    """
    src = Path(src).resolve()
    for root in roots:
        root = Path(root).resolve()
        if root.is_dir():
            try:
                rel = src.relative_to(root)
            except ValueError:
                continue
            return Path(out_dir) / rel.with_suffix(suffix) if suffix else Path(out_dir) / rel
    return Path(out_dir) / (src.stem + suffix)
