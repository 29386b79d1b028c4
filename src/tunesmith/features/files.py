"""Long files window by window: features computed block by block, saved as ``.npy``, described, drawn."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tunesmith.features.descriptors import Descriptors
from tunesmith.features.factory import frontend


def _iter_windows(path: str | Path, sr: int | None, window_s: float, block_s: float) -> Iterator[tuple[int, np.ndarray, int, int]]:
    """Yield ``(index, window_samples, n_valid, sr)`` for consecutive non-overlapping windows of a file.

    Reads with :func:`tunesmith.audio.stream` so memory is bounded by ``block_s``.
    The last window is zero-padded (``n_valid`` < window length).
    """
    from tunesmith.audio import stream

    buf = np.zeros(0, dtype=np.float32)
    idx = 0
    win = None
    rate = sr
    for block in stream(path, block_s=block_s, sr=sr):
        rate = block.sr
        if win is None:
            win = max(1, int(round(window_s * rate)))
        buf = np.concatenate([buf, block.samples]) if len(buf) else block.samples
        while len(buf) >= win:
            yield idx, buf[:win], win, rate
            idx += 1
            buf = buf[win:]
    if win is not None and (len(buf) or idx == 0):
        out = np.zeros(win, dtype=np.float32)
        out[: len(buf)] = buf
        yield idx, out, len(buf), rate


def iter_file_features(path: str | Path, kind: str = "logmel", sr: int | None = 22050, window_s: float = 10.0,
                       *, batch_size: int = 8, module: nn.Module | None = None, block_s: float = 60.0,
                       device: str | torch.device = "cpu", check_silence: bool = True,
                       info: dict | None = None, **kwargs: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Features of a file, window by window, with bounded memory.

    Yields ``(starts_s, features)`` per batch of up to ``batch_size`` windows, with
    ``features`` a float32 array ``(n, n_bins, frames)``. Each window of ``window_s``
    seconds is analysed on its own (no overlap; the last is zero-padded). ``module``
    overrides ``kind``/``kwargs`` (it must have been built for the rate ``sr``). With
    ``check_silence``, a file whose every sample is zero raises
    :class:`tunesmith.errors.AudioError`. ``info``, when given, is filled with ``sr``,
    ``n_windows`` and ``n_valid`` (real samples in the last window).
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    from tunesmith.audio import Audio, check_not_silent

    net = module
    pending: list[np.ndarray] = []
    starts: list[float] = []
    peak = 0.0
    rate_seen = sr

    def flush():
        nonlocal net
        x = torch.from_numpy(np.stack(pending)).to(device)
        with torch.inference_mode():
            out = net(x)
        return np.asarray(starts, dtype=np.float64), out.float().cpu().numpy()

    for idx, w, n_valid, rate in _iter_windows(path, sr, window_s, block_s):
        if idx == 0 and net is not None and getattr(net, "sr", rate) != rate:
            raise ValueError(f"module was built for sr={net.sr} but the audio is read at {rate} Hz")
        rate_seen = rate
        if info is not None:
            info.update(sr=rate, n_windows=idx + 1, n_valid=n_valid)
        if net is None:
            net = frontend(kind, rate, **kwargs).to(device).eval()
        peak = max(peak, float(np.max(np.abs(w[:n_valid]))) if n_valid else 0.0)
        pending.append(w)
        starts.append(idx * window_s)
        if len(pending) >= batch_size:
            yield flush()
            pending, starts = [], []
    if check_silence:  # the file's peak against tunesmith.audio's silence threshold
        check_not_silent(Audio(np.array([peak], dtype=np.float32), rate_seen or 22050), path)
    if pending:
        yield flush()


def features_from_file(path: str | Path, kind: str = "logmel", sr: int | None = 22050, window_s: float = 10.0,
                       **kwargs: Any) -> np.ndarray:
    """All windows' features of a file as one array ``(n_windows, n_bins, frames)`` float32.

    See :func:`iter_file_features`; for very long files prefer :func:`save_file_features`,
    which writes to disk as it goes.
    """
    parts = [f for _, f in iter_file_features(path, kind, sr, window_s, **kwargs)]
    return np.concatenate(parts, axis=0)


_NPY_HEADER_BYTES = 128


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A version-1.0 ``.npy`` header for little-endian float32 C-order data, padded to a fixed size."""
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (repr(tuple(int(s) for s in shape)),)
    body_len = _NPY_HEADER_BYTES - 10
    if len(d) + 1 > body_len:
        raise ValueError("array shape too long for the fixed header")
    body = d + " " * (body_len - len(d) - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little") + body.encode("latin1")


def save_file_features(path: str | Path, out_path: str | Path, kind: str = "logmel", sr: int | None = 22050,
                       window_s: float = 10.0, *, on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
                       **kwargs: Any) -> tuple[int, ...]:
    """Write a file's features to ``out_path`` (``.npy``, ``(n_windows, n_bins, frames)`` float32).

    The array is streamed to disk batch by batch (atomically: a temporary file renamed
    at the end), so a 60-minute file needs only one batch of windows in memory.
    ``on_batch(starts_s, features)`` is called for each batch (e.g. to draw pictures).
    Returns the shape written.
    """
    from tunesmith.io import atomic_path

    n = 0
    inner: tuple[int, ...] | None = None
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(_npy_header((0,)))
            for starts, feats in iter_file_features(path, kind, sr, window_s, **kwargs):
                feats = np.ascontiguousarray(feats, dtype="<f4")
                inner = feats.shape[1:]
                fh.write(feats.tobytes())
                n += feats.shape[0]
                if on_batch is not None:
                    on_batch(starts, feats)
            shape = (n, *(inner or ()))
            fh.seek(0)
            fh.write(_npy_header(shape))
    return shape


def describe(module: nn.Module, kind: str | None = None) -> dict:
    """Settings of a front-end module as plain JSON-able values (saved beside features and checkpoints)."""
    d: dict[str, Any] = {"class": type(module).__name__}
    if kind:
        d["kind"] = kind
    for key in ("sr", "n_fft", "hop_length", "win_length", "center", "power", "n_mels", "fmin", "fmax",
                "top_db", "n_mfcc", "n_bins", "bins_per_octave", "gain", "bias", "pcen_power",
                "time_constant", "eps", "scale"):
        if hasattr(module, key):
            v = getattr(module, key)
            if isinstance(v, (int, float, bool, str)) or v is None:
                d[key] = v
    if isinstance(module, Descriptors):
        d["rows"] = list(module.names)
    return d


def _frequencies_or_none(module: nn.Module) -> np.ndarray | None:
    try:
        return np.asarray(module.frequencies, dtype=float)
    except (AttributeError, TypeError):
        return None


#: Rows drawn at most in a picture (a 4-inch plot has fewer pixels than a 2048-point STFT has bins).
_MAX_IMAGE_ROWS = 400


def features_png(features: np.ndarray, path: str | Path, *, kind: str, module: nn.Module, t0: float = 0.0,
                 title: str | None = None) -> Path:
    """Draw one window's features ``(n_bins, frames)`` as a PNG with time in seconds and rows in Hz.

    Power and magnitude spectrograms (``stft``, ``mel``, ``cqt``) are shown in dB (80 dB range);
    ``logstft``/``logmel`` are already dB; ``pcen`` is drawn on its own scale; ``mfcc``
    and ``descriptors`` rows are numbered coefficients.
    """
    from tunesmith.plots import draw_spectrogram, figure, save_figure

    S = np.asarray(features, dtype=np.float32)
    sr, hop = int(module.sr), int(module.hop_length)
    freqs = _frequencies_or_none(module)
    k = -(-S.shape[0] // _MAX_IMAGE_ROWS)
    if k > 1:  # more rows than pixels: keep the loudest of each group of k rows (cheap to draw)
        n = S.shape[0] // k * k
        S = S[:n].reshape(-1, k, S.shape[1]).max(axis=1)
        if freqs is not None:
            freqs = freqs[:n].reshape(-1, k).mean(axis=1)
    fig, axes = figure(10, 4)
    ax = axes[0, 0]
    if kind in ("stft", "mel", "cqt"):
        power = float(getattr(module, "power", 1.0)) or 1.0
        S_db = (20.0 / power) * np.log10(np.maximum(S, 1e-30))  # |X|**power -> dB
        draw_spectrogram(ax, S_db, sr=sr, hop_length=hop, freqs=freqs, t0=t0, log_y=(kind == "cqt"))
    elif kind in ("logstft", "logmel"):
        draw_spectrogram(ax, S, sr=sr, hop_length=hop, freqs=freqs, t0=t0)
    else:
        times = t0 + np.arange(S.shape[1] + 1) * hop / sr
        if kind == "pcen" and freqs is not None:
            mid = (freqs[1:] + freqs[:-1]) / 2
            edges = np.concatenate([[max(freqs[0] - (mid[0] - freqs[0]), 0.0)], mid,
                                    [freqs[-1] + (freqs[-1] - mid[-1])]])
            ylabel = "frequency (Hz)"
        else:
            edges = np.arange(S.shape[0] + 1) - 0.5
            ylabel = "coefficient" if kind == "mfcc" else "row"
        mesh = ax.pcolormesh(times, edges, S, shading="flat", cmap="magma" if kind == "pcen" else "coolwarm",
                             rasterized=True)
        fig.colorbar(mesh, ax=ax, pad=0.01)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
