"""tunesmith: recordings into music, music into new sound.

The package is layered the way the pipeline runs: :mod:`tunesmith.audio` (I/O,
windows), :mod:`tunesmith.features` (spectral front end as torch modules),
:mod:`tunesmith.notes` (``Note`` / ``NoteSequence`` and file formats),
:mod:`tunesmith.transcribe`, :mod:`tunesmith.compose`, :mod:`tunesmith.transform`,
:mod:`tunesmith.classify`, :mod:`tunesmith.render` and :mod:`tunesmith.plots`.

Heavy submodules are imported lazily, so ``import tunesmith`` is cheap.
"""
from __future__ import annotations

from tunesmith._lazy import lazy_getattr

__version__ = "0.1.0"

from tunesmith.errors import TunesmithError, AudioError, NotesError  # noqa: E402

_LAZY = {
    "Audio": ("tunesmith.audio", "Audio"),
    "load": ("tunesmith.audio", "load"),
    "save": ("tunesmith.audio", "save"),
    "Note": ("tunesmith.notes", "Note"),
    "NoteSequence": ("tunesmith.notes", "NoteSequence"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["__version__", "TunesmithError", "AudioError", "NotesError", *_LAZY]
