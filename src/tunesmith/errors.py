"""Exceptions that carry a one-line, user-facing message.

Every error that a user can cause (a missing file, a corrupt recording, a
checkpoint from another version) is raised as a :class:`TunesmithError`
subclass whose ``str()`` names the file and the problem on one line. The CLI
prints exactly that line and exits non-zero; it never shows a traceback for
these.
"""
from __future__ import annotations

from pathlib import Path


class TunesmithError(Exception):
    """Base class: a problem with the user's input, reported in one line."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class AudioError(TunesmithError):
    """An audio file is missing, unreadable, empty, silent or malformed."""


class NotesError(TunesmithError):
    """A symbolic file (MIDI, MusicXML, ABC, kern, CSV, JSON) cannot be used."""


class CheckpointError(TunesmithError):
    """A checkpoint is missing, corrupt, or from an incompatible version."""


class QuantizationError(NotesError):
    """A NoteSequence cannot be quantised as asked (no tempo, bad grid, ...)."""
