"""Uploads: bounded in size, recognised by their content (never by their name), stored under a server name.

A file is accepted when its first bytes are those of a format the library reads
(:data:`AUDIO_SIGNATURES`, :data:`NOTE_SIGNATURES`) *and* the library can open it
(``tunesmith.audio.info`` for audio). The client's file name is used for nothing
but the name shown back (:func:`display_name`); the bytes are written to
``<job folder>/upload<suffix>``, the suffix chosen from the detected format.
"""
from __future__ import annotations

import re
from pathlib import Path

from tunesmith.errors import TunesmithError

MAX_UPLOAD_BYTES = 64 * 1024 * 1024    # 64 MiB: about 6 min of 44.1 kHz stereo WAV, hours of FLAC/OGG
MAX_DURATION_S = 15 * 60.0             # longest recording accepted (seconds)
MIN_DURATION_S = 0.25                  # shortest (seconds): below this there is no note to hear
READ_CHUNK = 1 << 20
NAME_CHARS = 60                        # characters of the client's file name kept for display


class UploadError(TunesmithError):
    """An upload the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.status = status


def sniff_audio(head: bytes) -> str | None:
    """The audio container in the first bytes, as a file suffix, or ``None``.

    WAV ``RIFF....WAVE`` (also RF64), FLAC ``fLaC``, Ogg ``OggS``, AIFF ``FORM....AIFF/AIFC``,
    MP3 an ``ID3`` tag or an MPEG audio frame sync (11 set bits, layer III).
    """
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE6) == 0xE2):
        return ".mp3"
    return None


def sniff_notes(head: bytes) -> str | None:
    """A note file in the first bytes: Standard MIDI ``MThd``, MusicXML (an XML score), ABC (``X:``)."""
    if head[:4] == b"MThd":
        return ".mid"
    text = head[:4096].decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
    if text.startswith(("<?xml", "<score-partwise", "<!DOCTYPE score")) and (
            "score-partwise" in text or "score-timewise" in text):
        return ".musicxml"
    if re.match(r"(%[^\n]*\n\s*)*X:\s*\d+", text):
        return ".abc"
    return None


def display_name(filename: str | None, default: str = "take") -> str:
    """A short, safe label from the client's file name (its stem, letters/digits/-_. and spaces only)."""
    stem = Path((filename or "").replace("\\", "/")).stem
    clean = re.sub(r"[^\w\-. ]+", "_", stem).strip(" ._")[:NAME_CHARS]
    return clean or default


async def save_upload(upload, workdir: Path, *, allow_notes: bool = False,
                      max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Read an upload (a Starlette ``UploadFile``) into ``workdir``, checked; returns the stored path.

    Raises :class:`UploadError` (413 too large, 415 not a recording / note file,
    422 unreadable audio) with a one-line message naming the upload.
    """
    label = display_name(getattr(upload, "filename", None), "upload")
    head = await upload.read(READ_CHUNK)
    if not head:
        raise UploadError(f"{label}: the upload is empty", 422)
    suffix = sniff_audio(head) or (sniff_notes(head) if allow_notes else None)
    if suffix is None:
        what = "a recording (WAV, FLAC, OGG, MP3, AIFF)" + (" or a note file (MIDI, MusicXML, ABC)"
                                                             if allow_notes else "")
        raise UploadError(f"{label}: not {what}: its content is not in any of these formats", 415)
    target = workdir / f"upload{suffix}"
    size = len(head)
    with open(target, "wb") as fh:
        fh.write(head)
        while chunk := await upload.read(READ_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadError(f"{label}: larger than the {max_bytes // (1024 * 1024)} MiB limit", 413)
            fh.write(chunk)
    if suffix in (".mid", ".musicxml", ".abc"):
        return target
    from tunesmith.audio import info
    from tunesmith.errors import AudioError

    try:
        meta = info(target)
    except AudioError:
        raise UploadError(f"{label}: looks like {suffix[1:].upper()} but cannot be decoded "
                          "(truncated or damaged?)", 422) from None
    if not meta["frames"] > 0:
        raise UploadError(f"{label}: contains no samples", 422)
    if meta["duration"] < MIN_DURATION_S:
        raise UploadError(f"{label}: {meta['duration']:.3f} s is shorter than {MIN_DURATION_S} s "
                          "(truncated?)", 422)
    if meta["duration"] > MAX_DURATION_S:
        raise UploadError(f"{label}: {meta['duration'] / 60:.0f} min is longer than the "
                          f"{MAX_DURATION_S / 60:.0f} min limit", 413)
    return target
