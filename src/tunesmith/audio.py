"""Audio I/O: one :class:`Audio` type, loading, saving, resampling and windowing.

Every loader returns :class:`Audio` (mono float32 samples in [-1, 1] and a sample
rate) and every writer takes one. Decoding is done by libsndfile through
``soundfile`` (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...); resampling by
``soxr`` (high quality, linear phase).

Long recordings do not need to fit in memory: :func:`stream` reads a file in
blocks and resamples them with a streaming resampler, so per-block work (feature
extraction, transcription) runs in bounded memory.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.errors import AudioError
from tunesmith.io import atomic_path

__all__ = [
    "Audio", "Windows", "load", "save", "resample", "info", "stream", "windows",
    "check_not_silent", "DEFAULT_WINDOW_S",
]

DEFAULT_WINDOW_S = 10.0
#: Peak amplitude below which a recording counts as silent (about -90 dBFS).
SILENCE_PEAK = 3e-5


@dataclass(frozen=True)
class Audio:
    """Mono audio: ``samples`` is a 1-D float32 array, ``sr`` the rate in Hz."""

    samples: np.ndarray
    sr: int

    def __post_init__(self):
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"Audio samples must be 1-D (mono), got shape {samples.shape}")
        if int(self.sr) <= 0:
            raise ValueError(f"sample rate must be positive, got {self.sr}")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sr", int(self.sr))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sr

    def __len__(self) -> int:
        return len(self.samples)

    def resample(self, sr: int) -> "Audio":
        """Return a copy at ``sr`` Hz (``self`` when the rate already matches)."""
        return self if int(sr) == self.sr else Audio(resample(self.samples, self.sr, sr), sr)

    def slice(self, start_s: float, end_s: float | None = None) -> "Audio":
        """Return the part between ``start_s`` and ``end_s`` seconds."""
        a = max(0, int(round(start_s * self.sr)))
        b = len(self.samples) if end_s is None else int(round(end_s * self.sr))
        return Audio(self.samples[a:b], self.sr)

    def to_torch(self):
        """The samples as a float32 torch tensor of shape ``(samples,)``."""
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.samples))


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``y`` (``(..., samples)``) from ``orig_sr`` to ``target_sr`` with soxr (HQ)."""
    if int(orig_sr) == int(target_sr):
        return np.asarray(y, dtype=np.float32)
    import soxr

    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    flat = y.reshape(-1, y.shape[-1])
    out = np.stack([soxr.resample(row, orig_sr, target_sr, quality="HQ") for row in flat])
    return out.reshape(*y.shape[:-1], -1).astype(np.float32, copy=False)


def _open_checked(path: Path):
    """Open ``path`` with soundfile, turning every failure into a one-line AudioError."""
    import soundfile as sf

    if not path.exists():
        raise AudioError("no such file", path)
    if path.is_dir():
        raise AudioError("is a folder, not an audio file", path)
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", path)
    try:
        return sf.SoundFile(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"not a readable audio file ({_short(exc)})", path) from None


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    # libsndfile messages repeat the path; keep the reason only.
    if ":" in text and "Error opening" in text:
        text = text.rsplit(":", 1)[-1].strip()
    return text[:160] or type(exc).__name__


def info(path: str | Path) -> dict:
    """Sample rate, channels, frames, duration and format of ``path`` without decoding it."""
    path = Path(path)
    with _open_checked(path) as f:
        return {
            "sr": f.samplerate, "channels": f.channels, "frames": f.frames,
            "duration": f.frames / f.samplerate if f.frames >= 0 else float("nan"),
            "format": f.format, "subtype": f.subtype,
        }


def load(path: str | Path, sr: int | None = None, *, offset: float = 0.0,
         duration: float | None = None) -> Audio:
    """Load an audio file as mono float32, optionally resampled to ``sr``.

    Parameters
    ----------
    path : file path (WAV, FLAC, OGG, MP3, AIFF, ... anything libsndfile reads).
    sr : target sample rate in Hz; ``None`` keeps the file's rate.
    offset, duration : read only this part (seconds).

    Multichannel files are averaged to mono. Raises :class:`AudioError` with a
    one-line message naming the file for a missing, empty, unreadable,
    truncated or zero-length file.
    """
    path = Path(path)
    with _open_checked(path) as f:
        native_sr = f.samplerate
        try:
            if offset:
                f.seek(int(round(offset * native_sr)))
            frames = -1 if duration is None else int(round(duration * native_sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError(f"cannot decode audio ({_short(exc)}); the file may be truncated", path) from None
    if data.shape[0] == 0:
        raise AudioError("contains no samples (zero length)", path)
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(y)):
        raise AudioError("contains NaN or infinite samples", path)
    audio = Audio(np.ascontiguousarray(y), native_sr)
    return audio.resample(sr) if sr else audio


def check_not_silent(audio: Audio, path: str | Path | None = None) -> Audio:
    """Raise :class:`AudioError` when ``audio`` is silent (peak below about -90 dBFS)."""
    if len(audio.samples) == 0 or float(np.max(np.abs(audio.samples))) < SILENCE_PEAK:
        raise AudioError("is silent (no signal above -90 dBFS)", path)
    return audio


_SUBTYPES = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS", ".oga": "VORBIS",
             ".mp3": "MPEG_LAYER_III", ".aif": "PCM_16", ".aiff": "PCM_16"}


def save(audio: Audio, path: str | Path, *, subtype: str | None = None, normalize: bool = False) -> Path:
    """Write ``audio`` to ``path`` atomically; the format follows the extension.

    Samples are clipped to [-1, 1] (or peak-normalised to -1 dBFS with
    ``normalize=True``). WAV and FLAC are written as 16-bit PCM unless ``subtype``
    says otherwise (e.g. ``"FLOAT"``).
    """
    import soundfile as sf

    path = Path(path)
    y = np.asarray(audio.samples, dtype=np.float32)
    if normalize:
        peak = float(np.max(np.abs(y))) if len(y) else 0.0
        if peak > 0:
            y = y * (0.891 / peak)
    y = np.clip(y, -1.0, 1.0)
    subtype = subtype or _SUBTYPES.get(path.suffix.lower())
    with atomic_path(path) as tmp:
        sf.write(str(tmp), y, audio.sr, subtype=subtype)
    return path


def stream(path: str | Path, block_s: float = 60.0, sr: int | None = None) -> Iterator[Audio]:
    """Read ``path`` in consecutive mono blocks of about ``block_s`` seconds.

    Blocks are contiguous and non-overlapping; with ``sr`` they are resampled
    with a streaming soxr resampler so that the joined blocks equal a resampled
    whole file (no edge effects at block boundaries). Memory stays bounded by the
    block size whatever the file's length.
    """
    import soxr

    path = Path(path)
    with _open_checked(path) as f:
        native_sr = f.samplerate
        resampler = soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ") \
            if sr and sr != native_sr else None
        block = max(1, int(round(block_s * native_sr)))
        got_any = False
        while True:
            try:
                data = f.read(frames=block, dtype="float32", always_2d=True)
            except Exception as exc:
                raise AudioError(f"cannot decode audio ({_short(exc)}); the file may be truncated", path) from None
            last = data.shape[0] < block
            y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
            if resampler is not None:
                y = resampler.resample_chunk(np.ascontiguousarray(y), last=last)
            if len(y):
                got_any = True
                yield Audio(np.ascontiguousarray(y), sr or native_sr)
            if last:
                break
        if not got_any:
            raise AudioError("contains no samples (zero length)", path)


@dataclass(frozen=True)
class Windows:
    """Fixed-length windows cut from one recording.

    ``samples`` has shape ``(n_windows, window_samples)``; ``starts`` the start of
    each window in seconds; ``lengths`` the number of real (unpadded) samples in
    each; ``padded`` is True for windows that were zero-padded at the end.
    """

    samples: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    sr: int

    @property
    def padded(self) -> np.ndarray:
        return self.lengths < self.samples.shape[1]

    def __len__(self) -> int:
        return self.samples.shape[0]


def windows(audio: Audio, window_s: float = DEFAULT_WINDOW_S, hop_s: float | None = None,
            *, pad_last: bool = True) -> Windows:
    """Cut ``audio`` into windows of ``window_s`` seconds every ``hop_s`` (default: no overlap).

    The last window is zero-padded to full length and flagged in ``padded``
    (``pad_last=False`` drops an incomplete last window instead, unless it is the
    only one). A recording shorter than one window gives one padded window.
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    hop_s = window_s if hop_s is None else hop_s
    if hop_s <= 0:
        raise ValueError(f"hop_s must be positive, got {hop_s}")
    win = int(round(window_s * audio.sr))
    hop = int(round(hop_s * audio.sr))
    n = len(audio.samples)
    starts = list(range(0, max(n - win, 0) + 1, hop))
    if starts[-1] + win < n:  # samples left after the last full window
        starts.append(starts[-1] + hop)
    if not pad_last and len(starts) > 1 and starts[-1] + win > n:
        starts.pop()
    out = np.zeros((len(starts), win), dtype=np.float32)
    lengths = np.zeros(len(starts), dtype=np.int64)
    for i, s in enumerate(starts):
        chunk = audio.samples[s:s + win]
        out[i, :len(chunk)] = chunk
        lengths[i] = len(chunk)
    return Windows(out, np.asarray(starts, dtype=np.float64) / audio.sr, lengths, audio.sr)
