"""Spectral front end: batched, differentiable feature extractors as ``torch.nn.Module``.

Every transform takes audio of shape ``(batch, samples)`` or ``(samples,)`` (float32
or float64, on any device) and returns ``(batch, n_bins, frames)`` (or
``(n_bins, frames)`` for 1-D input). Windows and filterbanks are registered
buffers, so ``module.to(device)`` / ``module.double()`` move them with the module
and they are saved in ``state_dict``. Names and defaults follow librosa 0.11
(``sr, n_fft, hop_length, win_length, window, center, fmin, fmax, n_mels, top_db``),
and the outputs agree with librosa's on the same signal (see ``tests/test_features.py``):

* framing: ``center=True`` pads ``n_fft // 2`` zeros on both sides (librosa 0.11's
  ``pad_mode="constant"``), so a signal of ``n`` samples gives ``1 + n // hop_length``
  frames; frame ``t`` is centred on sample ``t * hop_length``;
* mel: Slaney mel scale (``htk=False``) with Slaney area normalisation
  (:func:`mel_filters`, equal to :func:`librosa.filters.mel`);
* dB: ``10 log10(max(S, amin)) - 10 log10(max(ref, amin))`` floored at ``max - top_db``,
  where the maximum is taken **per example** (over bins and frames), so a batch
  gives exactly the stacked results of its items;
* MFCC: orthonormal DCT-II of the log-mel dB spectrogram;
* PCEN: librosa's formula and defaults (see :class:`PCEN`);
* CQT: librosa's multirate constant-Q transform (one octave of wavelet kernels
  applied per octave, the signal halved in rate between octaves), within 0.1 dB of
  ``librosa.cqt`` on 99 % of the bins in the top 60 dB.

librosa itself is imported only by :class:`CQT` (for its wavelet kernels).

Speed: on the CPU without autograd, STFT-based modules process frames in cache-sized
blocks (window, FFT, power, sparse filterbank and dB fused per block) and spread the
examples of a batch over ``torch.get_num_threads()`` threads with single-threaded ops;
with autograd or on a GPU they run as plain batched torch ops (same results).

Functional helpers: :func:`power_to_db`, :func:`amplitude_to_db`, :func:`stft`, :func:`mel_filters`.
Factory: :func:`frontend` builds a module by name. Long files: :func:`iter_file_features`,
:func:`features_from_file` and :func:`save_file_features` compute features window by
window from :func:`tunesmith.audio.stream`, with memory bounded by the block size.
"""
from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "AMIN_POWER", "DEFAULT_TOP_DB", "KINDS", "mel_filters", "mel_frequencies", "hz_to_mel", "mel_to_hz",
    "power_to_db", "amplitude_to_db", "stft",
    "Spectrogram", "LogSpectrogram", "MelSpectrogram", "LogMelSpectrogram", "PCEN", "MFCC", "CQT",
    "RMS", "ZeroCrossingRate", "SpectralCentroid", "SpectralFlux", "BandEnergyRatio", "Descriptors",
    "BandPass", "Normalizer", "frontend",
    "iter_file_features", "features_from_file", "save_file_features", "describe", "features_png",
]

#: Floor applied to power values before the logarithm (librosa's ``amin`` for power_to_db).
AMIN_POWER = 1e-10
#: Floor for amplitudes (librosa's ``amin`` for amplitude_to_db); ``AMIN_AMPLITUDE**2 == AMIN_POWER``.
AMIN_AMPLITUDE = 1e-5
#: Dynamic range kept by the log transforms, in dB below the per-example maximum.
DEFAULT_TOP_DB = 80.0
#: Default analysis settings (librosa's).
DEFAULT_N_FFT = 2048
DEFAULT_HOP = 512
#: Kinds accepted by :func:`frontend`.
KINDS = ("stft", "logstft", "mel", "logmel", "pcen", "mfcc", "cqt", "descriptors")
#: Frequency of C1 in Hz (librosa's default CQT ``fmin``).
C1_HZ = 32.70319566257483


# --------------------------------------------------------------------------------------
# shape helpers


def _to_batch(x: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """Flatten ``(..., samples)`` to ``(batch, samples)``; return the leading shape to restore."""
    if not torch.is_tensor(x):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if x.ndim == 0:
        raise ValueError("audio must have at least one dimension (samples)")
    if not torch.is_floating_point(x):
        x = x.to(torch.float32)
    lead = tuple(x.shape[:-1])
    return x.reshape(-1, x.shape[-1]), lead


def _from_batch(y: Tensor, lead: tuple[int, ...]) -> Tensor:
    """Inverse of :func:`_to_batch` for an output ``(batch, *rest)``."""
    return y.reshape(*lead, *y.shape[1:])


def _buf(t: Tensor, like: Tensor) -> Tensor:
    """A buffer cast to the dtype and device of ``like`` (no copy when they already match)."""
    if t.dtype != like.dtype and not t.is_complex():
        t = t.to(like.dtype)
    elif t.is_complex() and like.dtype == torch.float64 and t.dtype != torch.complex128:
        t = t.to(torch.complex128)
    elif t.is_complex() and like.dtype == torch.float32 and t.dtype != torch.complex64:
        t = t.to(torch.complex64)
    return t if t.device == like.device else t.to(like.device)


def _n_frames(n_samples: int, hop_length: int, center: bool, n_fft: int) -> int:
    if center:
        return 1 + n_samples // hop_length
    return 1 + (n_samples - n_fft) // hop_length


# --------------------------------------------------------------------------------------
# functional


def power_to_db(S: Tensor, ref: float | Callable[[Tensor], Tensor] = 1.0, amin: float = AMIN_POWER,
                top_db: float | None = DEFAULT_TOP_DB) -> Tensor:
    """Convert a power spectrogram to decibels, like :func:`librosa.power_to_db`.

    ``S_db = 10 log10(max(S, amin)) - 10 log10(max(ref, amin))``, then, when
    ``top_db`` is given, ``S_db = max(S_db, S_db.max() - top_db)``.

    Parameters
    ----------
    S : Tensor, shape ``(..., n_bins, frames)``
        Non-negative power values.
    ref : float or callable
        Reference power (0 dB). A callable receives each example ``(n_bins, frames)``
        batched as ``(..., n_bins, frames)`` and must return its reference with the
        reduced dims kept (e.g. ``lambda S: S.amax(dim=(-2, -1), keepdim=True)``).
    amin : float
        Floor on power before the logarithm.
    top_db : float or None
        Dynamic range kept below the maximum. The maximum is taken over the last two
        dimensions (each example separately) for inputs with two or more dimensions.

    Returns
    -------
    Tensor of the same shape, in dB.
    """
    if amin <= 0:
        raise ValueError("amin must be strictly positive")
    log_spec = 10.0 * torch.log10(torch.clamp(S, min=amin))
    if callable(ref):
        ref_val = ref(S)
        log_spec = log_spec - 10.0 * torch.log10(torch.clamp(ref_val, min=amin))
    elif ref != 1.0:
        log_spec = log_spec - 10.0 * math.log10(max(float(ref), amin))
    return _apply_top_db(log_spec, top_db)


def amplitude_to_db(S: Tensor, ref: float | Callable[[Tensor], Tensor] = 1.0, amin: float = AMIN_AMPLITUDE,
                    top_db: float | None = DEFAULT_TOP_DB) -> Tensor:
    """Convert an amplitude (magnitude) spectrogram to dB: ``20 log10(S / ref)``, like librosa.

    Equal to ``power_to_db(S**2, ref**2, amin**2, top_db)``; see :func:`power_to_db`.
    """
    if callable(ref):
        r = ref
        ref2: float | Callable = lambda P: r(P.sqrt()) ** 2  # noqa: E731
    else:
        ref2 = float(ref) ** 2
    return power_to_db(S * S, ref=ref2, amin=amin * amin, top_db=top_db)


def _window_tensor(window: str | tuple | np.ndarray | Tensor, win_length: int, n_fft: int) -> Tensor:
    """Periodic analysis window of ``win_length`` samples, zero-padded (centred) to ``n_fft``."""
    if torch.is_tensor(window) or isinstance(window, np.ndarray):
        w = np.asarray(window.detach().cpu() if torch.is_tensor(window) else window, dtype=np.float64)
        if w.shape != (win_length,):
            raise ValueError(f"window has {w.shape} samples, expected ({win_length},)")
    elif window in ("hann", "hanning"):  # periodic Hann, as scipy.signal.get_window(fftbins=True)
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    else:
        import scipy.signal

        w = scipy.signal.get_window(window, win_length, fftbins=True)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = np.pad(w, (left, n_fft - win_length - left))
    elif win_length > n_fft:
        raise ValueError(f"win_length={win_length} must be <= n_fft={n_fft}")
    return torch.as_tensor(w, dtype=torch.float64)  # kept exact; cast to the audio's dtype on use


def _center_pad(x: Tensor, pad: int, pad_mode: str = "constant") -> Tensor:
    """Pad ``(batch, samples)`` by ``pad`` on both sides: zeros, or ``reflect``/``replicate``/... ."""
    if pad_mode == "constant":
        return torch.nn.functional.pad(x, (pad, pad))
    return torch.nn.functional.pad(x.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)


def stft(x: Tensor, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, window: Tensor | None = None,
         center: bool = True, pad_mode: str = "constant") -> Tensor:
    """Complex STFT ``(batch, 1 + n_fft // 2, frames)`` of ``(batch, samples)`` audio.

    ``window`` is an ``n_fft``-long tensor (default: periodic Hann). With ``center``
    the signal is padded by ``n_fft // 2`` on both sides using ``pad_mode``
    (``"constant"`` = zeros, librosa 0.11's default). Unnormalised DFT, like librosa.
    """
    if window is None:
        window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    if x.shape[-1] == 0:
        raise ValueError("cannot compute an STFT of an empty signal")
    if center:
        x = _center_pad(x, n_fft // 2, pad_mode)
    if x.shape[-1] < n_fft:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than n_fft={n_fft} (use center=True)")
    return torch.stft(x, n_fft, hop_length=hop_length, win_length=n_fft, window=window, center=False,
                      return_complex=True)


def _power(D: Tensor, power: float, out: Tensor | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """``|D| ** power`` from ``re**2 + im**2`` (much faster than ``abs`` of a complex tensor on CPU).

    The squared magnitude is formed in ``D``'s precision and then cast to ``dtype`` (or
    ``out``'s dtype) before the root. For ``power < 2`` it is floored at the smallest
    normal float, so that gradients stay finite in silent bins. With ``out`` (no
    autograd) it works in place.
    """
    re, im = D.real, D.imag
    if out is not None:
        if out.dtype == re.dtype:
            torch.mul(re, re, out=out).addcmul_(im, im)
        else:
            out.copy_(re.square().addcmul_(im, im))
        if power == 2.0:
            return out
        return out.sqrt_() if power == 1.0 else out.pow_(power / 2.0)  # no autograd here: no floor needed
    P = re.square() + im.square()
    if dtype is not None and P.dtype != dtype:
        P = P.to(dtype)
    if power == 2.0:
        return P
    P = P.clamp(min=torch.finfo(P.dtype).tiny)
    if power == 1.0:
        return P.sqrt()
    return P.pow(power / 2.0)


# CPU threading. Many small ops (one block of frames each) parallelise badly inside torch:
# on a loaded machine an OpenMP barrier waiting for a descheduled thread can make two
# threads ten times slower than one. So the fast CPU path runs every op single-threaded
# and spreads whole examples of the batch over ``torch.get_num_threads()`` Python
# threads instead (torch releases the GIL), which scales and degrades gracefully.
_THREADS_LOCK = threading.Lock()
_THREADS = {"depth": 0, "saved": 1}
_POOL: list = []


@contextlib.contextmanager
def _serial_ops() -> Iterator[int]:
    """Make torch's CPU ops single-threaded inside the block; yield the caller's thread budget.

    Re-entrant and thread-safe: the caller's ``torch.get_num_threads()`` is restored when
    the outermost block ends.
    """
    with _THREADS_LOCK:
        if _THREADS["depth"] == 0:
            _THREADS["saved"] = torch.get_num_threads()
            if _THREADS["saved"] > 1:
                torch.set_num_threads(1)
        _THREADS["depth"] += 1
        budget = _THREADS["saved"]
    try:
        yield budget
    finally:
        with _THREADS_LOCK:
            _THREADS["depth"] -= 1
            if _THREADS["depth"] == 0 and _THREADS["saved"] > 1:
                torch.set_num_threads(_THREADS["saved"])


_WORKER = threading.local()


def _parallel_map(fn: Callable[[Any], Any], items: list, workers: int) -> list:
    """``[fn(i) for i in items]`` on up to ``workers`` threads (in order; serial when nested)."""
    if workers <= 1 or len(items) <= 1 or getattr(_WORKER, "busy", False):
        return [fn(i) for i in items]

    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def task(item):  # autograd modes are thread-local: carry the caller's into the worker
        _WORKER.busy = True
        try:
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                return fn(item)
        finally:
            _WORKER.busy = False

    with _THREADS_LOCK:
        if not _POOL:
            import os
            from concurrent.futures import ThreadPoolExecutor

            _POOL.append(ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                                            thread_name_prefix="tunesmith-features"))
    return list(_POOL[0].map(task, items))


def _batch_parallel(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Apply ``fn`` (per-example, ``(batch, samples) -> (batch, ...)``) with the fast CPU threading.

    On the CPU without autograd the batch is split over the caller's thread budget with
    single-threaded ops (see :func:`_serial_ops`); elsewhere ``fn(x)`` runs as is.
    """
    if x.device.type != "cpu" or _needs_graph(x):
        return fn(x)
    with _serial_ops() as budget:
        n = min(budget, x.shape[0])
        if n <= 1:
            return fn(x)
        return torch.cat(_parallel_map(fn, list(x.tensor_split(n)), n))


#: Frames per block on the CPU fast path: about 1 MB of frame data for n_fft = 2048,
#: so that windowing, FFT, power and the filterbank of one block stay in cache.
_BLOCK_BYTES = 1 << 20


def _needs_graph(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _framewise(x: Tensor, n_fft: int, hop_length: int, window: Tensor, center: bool, pad_mode: str,
               fn: Callable[[Tensor], Tensor], n_rows: int, fft_dtype: torch.dtype | str | None = None,
               rows_major: bool = False, refine: Callable[[Tensor, Tensor], Tensor] | None = None) -> Tensor:
    """Apply ``fn`` to the STFT of ``(batch, samples)`` audio, frame block by frame block.

    ``fn(D, out)`` maps complex STFT frames ``D`` ``(..., frames, 1 + n_fft // 2)`` to real
    rows ``(..., frames, n_rows)`` (power, filterbank, dB...), writing into ``out`` when it
    is given. The result is ``(batch, n_rows, frames)``, a transposed view of frame-major
    memory (like :func:`torch.stft` and :func:`librosa.stft`). On the CPU without autograd
    the frames are processed in cache-sized blocks written straight into the output, which
    is several times faster than materialising the whole complex STFT; elsewhere (GPU, or
    when gradients are needed) the whole STFT is computed at once, with identical results.

    ``fft_dtype=torch.float64`` windows and transforms float32 audio in double precision
    (as librosa does internally), which lowers the round-off floor of the spectrum from
    about -130 dB to far below -200 dB re. full scale; the output keeps the input's dtype.
    ``fft_dtype="auto"`` (with ``refine``) computes in the audio's dtype and recomputes in
    float64 only the frames that ``refine(windowed_frames, rows)`` flags (a boolean per
    frame), e.g. frames whose quietest band is close to float32 round-off.
    ``rows_major`` makes the fast path's output a contiguous ``(batch, n_rows, frames)``
    (``out`` is then a strided view; best for a few rows, e.g. mel bands).
    """
    if x.shape[-1] == 0:
        raise ValueError("cannot compute an STFT of an empty signal")
    out_dtype = x.dtype
    fast = x.device.type == "cpu" and not _needs_graph(x, window)
    if fft_dtype == "auto":
        if x.dtype == torch.float64 or refine is None:
            fft_dtype = x.dtype
        elif not fast:  # one big transform: no frame-wise refinement, just use double precision
            fft_dtype = torch.float64
        else:
            fft_dtype = x.dtype
    else:
        refine = None
    fft_dtype = x.dtype if fft_dtype is None or fft_dtype == x.dtype else fft_dtype
    window_hi = window.to(device=x.device, dtype=torch.float64) if refine is not None else None
    window = window.to(device=x.device, dtype=fft_dtype)
    segments = _frame_segments(x, n_fft, hop_length, center, pad_mode, split=fast)
    if not fast:
        frames = segments[0][1]
        res = fn(torch.fft.rfft(frames * window, dim=-1), None)
        return res.to(out_dtype).transpose(-1, -2)
    n_batch = x.shape[0]
    n_frames = sum(fr.shape[1] for _, fr in segments)
    block = max(8, _BLOCK_BYTES // (n_fft * (8 if fft_dtype == torch.float64 else 4)))
    if rows_major:
        out = _empty_cpu((n_batch, n_rows, n_frames), out_dtype)
        view = out.transpose(1, 2)
    else:
        view = _empty_cpu((n_batch, n_frames, n_rows), out_dtype)
        out = view.transpose(1, 2)

    def one_example(b: int) -> None:
        for offset, frames in segments:
            n_seg = frames.shape[1]
            fb = frames[b]
            for t0 in range(0, n_seg, block):
                raw = fb[t0:t0 + block]
                blk = raw * window if fft_dtype == out_dtype else raw.to(fft_dtype).mul_(window)
                D = torch.fft.rfft(blk, dim=-1)
                o = view[b, offset + t0:offset + min(t0 + block, n_seg)]
                fn(D, o)
                if refine is not None:
                    redo = refine(blk, o).nonzero().squeeze(1)
                    if len(redo):
                        D = torch.fft.rfft(raw[redo].to(torch.float64).mul_(window_hi), dim=-1)
                        redone = torch.empty(len(redo), n_rows, dtype=out_dtype, device=x.device)
                        fn(D, redone)
                        o[redo] = redone

    with _serial_ops() as budget:
        _parallel_map(one_example, list(range(n_batch)), min(budget, n_batch))
    return out


def _empty_cpu(shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """An uninitialised CPU tensor; large ones are backed by transparent huge pages where possible.

    numpy asks the kernel for huge pages (``madvise(MADV_HUGEPAGE)``) on its large
    allocations, torch only when ``THP_MEM_ALLOC_ENABLE=1`` was set before it started.
    Writing a fresh 100 MB spectrogram then costs ~50 page faults instead of ~25,000,
    which is a third of the whole STFT's time. The tensor shares numpy's memory and
    behaves like any other CPU tensor.
    """
    n_bytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if n_bytes < _HUGE_ALLOC_BYTES or dtype not in _NUMPY_DTYPES:
        return torch.empty(shape, dtype=dtype)
    return torch.from_numpy(np.empty(shape, dtype=_NUMPY_DTYPES[dtype]))


_HUGE_ALLOC_BYTES = 4 << 20
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def _frame_segments(x: Tensor, n_fft: int, hop_length: int, center: bool, pad_mode: str,
                    split: bool = True) -> list[tuple[int, Tensor]]:
    """Frames of ``(batch, n)`` audio as ``[(first_frame_index, view (batch, frames, n_fft)), ...]``.

    With ``center`` and zero padding and ``split``, only the few frames that overlap the
    padding are built from small padded copies; the interior frames are views of ``x``
    itself, so a long batch is never copied just to pad it. Otherwise one segment of
    the padded signal is returned.
    """
    n = x.shape[-1]
    pad = n_fft // 2 if center else 0
    if center and split and pad_mode == "constant":
        t_lo = -(-pad // hop_length)  # first frame that starts inside x
        t_hi = (n - n_fft + pad) // hop_length  # last frame that ends inside x
        n_frames = 1 + (n + 2 * pad - n_fft) // hop_length
        if t_lo <= t_hi:
            segs = []
            if t_lo > 0:
                need = (t_lo - 1) * hop_length + n_fft  # padded samples the head frames span
                xs = x[:, : max(0, min(n, need - pad))]
                head = torch.nn.functional.pad(xs, (pad, need - pad - xs.shape[-1]))
                segs.append((0, head.unfold(-1, n_fft, hop_length)))
            start = t_lo * hop_length - pad
            segs.append((t_lo, x[:, start:].unfold(-1, n_fft, hop_length)[:, : t_hi - t_lo + 1]))
            if t_hi + 1 < n_frames:
                tail = torch.nn.functional.pad(x[:, (t_hi + 1) * hop_length - pad:], (0, pad))
                segs.append((t_hi + 1, tail.unfold(-1, n_fft, hop_length)[:, : n_frames - t_hi - 1]))
            return segs
    if center:
        if pad_mode == "constant":
            x = torch.nn.functional.pad(x, (pad, pad))
        else:
            x = torch.nn.functional.pad(x.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)
    if x.shape[-1] < n_fft:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than n_fft={n_fft} (use center=True)")
    return [(0, x.unfold(-1, n_fft, hop_length))]


def _apply_top_db(S_db: Tensor, top_db: float | None) -> Tensor:
    """Floor each example of a dB tensor ``(..., n_bins, frames)`` at its maximum minus ``top_db``."""
    if top_db is None:
        return S_db
    if top_db < 0:
        raise ValueError("top_db must be non-negative")
    dims = (-2, -1) if S_db.ndim >= 2 else (-1,)
    peak = S_db.detach().amax(dim=dims, keepdim=True)
    if _needs_graph(S_db):
        return torch.maximum(S_db, peak - top_db)
    return torch.maximum(S_db, peak - top_db, out=S_db)


# --------------------------------------------------------------------------------------
# STFT-based modules


class Spectrogram(nn.Module):
    """Magnitude (``power=1``) or power (``power=2``) STFT spectrogram.

    ``S[f, t] = |sum_n w[n] x[n + t*hop - n_fft/2] e^{-2 pi i f n / n_fft}| ** power``
    with ``1 + n_fft // 2`` bins at ``f * sr / n_fft`` Hz. Matches
    ``np.abs(librosa.stft(y, ...)) ** power``.

    Parameters
    ----------
    n_fft, hop_length, win_length, window, center, pad_mode
        As :func:`librosa.stft` (``win_length`` defaults to ``n_fft``).
    power : float
        Exponent applied to the magnitude.
    sr : int, optional
        Sample rate, only used for :attr:`frequencies`.
    """

    def __init__(self, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, win_length: int | None = None,
                 window: str | tuple | np.ndarray = "hann", center: bool = True, power: float = 1.0,
                 *, pad_mode: str = "constant", sr: int | None = None):
        super().__init__()
        if n_fft <= 0 or hop_length <= 0:
            raise ValueError("n_fft and hop_length must be positive")
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.win_length = int(win_length or n_fft)
        self.center = bool(center)
        self.power = float(power)
        self.pad_mode = pad_mode
        self.sr = sr
        self.register_buffer("window", _window_tensor(window, self.win_length, self.n_fft))

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frequencies(self) -> np.ndarray:
        """Centre frequency of each output row in Hz (needs ``sr``)."""
        if self.sr is None:
            raise AttributeError("frequencies need the sample rate: construct with sr=...")
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sr)

    def n_frames(self, n_samples: int) -> int:
        """Number of frames produced for ``n_samples`` input samples."""
        return _n_frames(n_samples, self.hop_length, self.center, self.n_fft)

    def complex_stft(self, x: Tensor) -> Tensor:
        """Complex STFT of ``(batch, samples)`` audio, ``(batch, n_bins, frames)``."""
        return stft(x, self.n_fft, self.hop_length, _buf(self.window, x), self.center, self.pad_mode)

    #: dtype of the windowing and FFT (None: the audio's; "auto": see :func:`_framewise`).
    fft_dtype: torch.dtype | str | None = None

    def _map(self, x: Tensor, fn: Callable[[Tensor], Tensor], n_rows: int, rows_major: bool = False,
             refine: Callable[[Tensor, Tensor], Tensor] | None = None) -> Tensor:
        """``fn`` applied to the STFT frames of ``x``; see :func:`_framewise`."""
        return _framewise(x, self.n_fft, self.hop_length, self.window, self.center, self.pad_mode, fn, n_rows,
                          self.fft_dtype, rows_major, refine)

    def _spec(self, x: Tensor, power: float | None = None) -> Tensor:
        p = self.power if power is None else power
        return self._map(x, lambda D, out: _power(D, p, out), self.n_fft // 2 + 1)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(self._spec(x), lead)

    def extra_repr(self) -> str:
        return (f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
                f"center={self.center}, power={self.power}")


class LogSpectrogram(Spectrogram):
    """STFT spectrogram in dB: ``amplitude_to_db(|STFT|, ref, top_db)`` (= ``power_to_db(|STFT|**2)``).

    Matches ``librosa.amplitude_to_db(np.abs(librosa.stft(y)), ref=ref, top_db=top_db)``
    with the ``top_db`` floor taken per example.
    """

    def __init__(self, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, win_length: int | None = None,
                 window: str | tuple | np.ndarray = "hann", center: bool = True, top_db: float | None = DEFAULT_TOP_DB,
                 *, ref: float = 1.0, amin: float = AMIN_POWER, pad_mode: str = "constant", sr: int | None = None):
        super().__init__(n_fft, hop_length, win_length, window, center, power=2.0, pad_mode=pad_mode, sr=sr)
        self.top_db = top_db
        self.ref = float(ref) ** 2
        self.amin = amin

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        offset = 10.0 * math.log10(max(self.ref, self.amin))
        amin = self.amin

        def db(D: Tensor, out: Tensor | None) -> Tensor:
            if out is None:
                S = 10.0 * torch.log10(_power(D, 2.0).clamp(min=amin))
                return S - offset if offset else S
            _power(D, 2.0, out).clamp_(min=amin).log10_().mul_(10.0)
            return out.sub_(offset) if offset else out

        S_db = self._map(x, db, self.n_fft // 2 + 1)
        with _serial_ops() if x.device.type == "cpu" else contextlib.nullcontext():
            return _from_batch(_apply_top_db(S_db, self.top_db), lead)


#: Slaney mel scale: linear (3 mel per 200 Hz) below 1 kHz, logarithmic above (27 mel per factor 6.4).
_SLANEY_F_SP = 200.0 / 3
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Hz to mel: Slaney's scale (librosa's default) or HTK's ``2595 log10(1 + f / 700)``."""
    f = np.asanyarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    min_log_mel = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
    with np.errstate(divide="ignore"):
        log_part = min_log_mel + np.log(np.maximum(f, 1e-300) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return np.where(f >= _SLANEY_MIN_LOG_HZ, log_part, f / _SLANEY_F_SP)


def mel_to_hz(m: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asanyarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    min_log_mel = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
    return np.where(m >= min_log_mel, _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - min_log_mel)),
                    _SLANEY_F_SP * m)


def mel_frequencies(n_mels: int, fmin: float, fmax: float, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax``."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels), htk)


def mel_filters(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
                htk: bool = False, norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filterbank ``(n_mels, 1 + n_fft // 2)``, equal to :func:`librosa.filters.mel`.

    Filter ``m`` rises linearly from centre ``c[m-1]`` to ``c[m]`` and falls to ``c[m+1]``, where
    ``c`` are ``n_mels + 2`` frequencies equally spaced in mel between ``fmin`` and ``fmax``;
    ``norm="slaney"`` scales each filter by ``2 / (c[m+1] - c[m-1])`` (constant area per Hz).
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    centres = mel_frequencies(n_mels + 2, fmin, fmax, htk)
    widths = np.diff(centres)
    offsets = centres[:, None] - fft_freqs[None, :]  # (n_mels + 2, n_freq)
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (centres[2:] - centres[:-2]))[:, None]
    return weights.astype(np.float32)


class MelSpectrogram(Spectrogram):
    """Mel spectrogram: ``M = mel_basis @ |STFT| ** power``, ``(batch, n_mels, frames)``.

    The filterbank is :func:`mel_filters` (equal to :func:`librosa.filters.mel`: Slaney
    scale and area normalisation by default). Matches :func:`librosa.feature.melspectrogram`.
    :attr:`frequencies` are the filters' centre frequencies in Hz.
    """

    def __init__(self, sr: int, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 fmin: float = 0.0, fmax: float | None = None, power: float = 2.0, *,
                 win_length: int | None = None, window: str | tuple | np.ndarray = "hann", center: bool = True,
                 pad_mode: str = "constant", htk: bool = False, norm: str | float | None = "slaney"):
        super().__init__(n_fft, hop_length, win_length, window, center, power, pad_mode=pad_mode, sr=sr)
        fmax = sr / 2.0 if fmax is None else float(fmax)
        if not 0 <= fmin < fmax <= sr / 2.0 + 1e-6:
            raise ValueError(f"need 0 <= fmin < fmax <= sr/2, got fmin={fmin}, fmax={fmax}, sr={sr}")
        self.n_mels, self.fmin, self.fmax, self.htk = int(n_mels), float(fmin), fmax, htk
        self.register_buffer("mel_basis", torch.from_numpy(mel_filters(sr, self.n_fft, self.n_mels, self.fmin,
                                                                       fmax, htk, norm)))

    @property
    def n_bins(self) -> int:
        return self.n_mels

    @property
    def frequencies(self) -> np.ndarray:
        return mel_frequencies(self.n_mels + 2, self.fmin, self.fmax, self.htk)[1:-1]

    def _sparse_basis(self, like: Tensor) -> Tensor:
        """The mel filterbank as a CSR sparse matrix (each FFT bin feeds at most two bands,
        so about 2 % of the dense matrix is non-zero); cached per dtype and device."""
        key = (like.dtype, like.device, self.mel_basis._version, self.mel_basis.data_ptr())
        cache = self.__dict__.setdefault("_csr_cache", {})
        if key not in cache:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
                cache.clear()
                cache[key] = _buf(self.mel_basis, like).to_sparse_csr()
        return cache[key]

    def _mel(self, x: Tensor) -> Tensor:
        basis = _buf(self.mel_basis, x)  # (n_mels, n_freq)
        p = self.power
        fast = x.device.type == "cpu" and not _needs_graph(x, basis)
        csr = self._sparse_basis(x) if fast else None

        def mel(D: Tensor, out: Tensor | None) -> Tensor:
            P = _power(D, p, dtype=basis.dtype)
            if out is None:
                return torch.matmul(P, basis.T)
            return out.T.copy_(torch.sparse.mm(csr, P.T))

        refine = self._roundoff_check(basis) if self.fft_dtype == "auto" else None
        return self._map(x, mel, self.n_mels, rows_major=True, refine=refine)

    #: float32 FFT error per bin is below about 4e-6 x the frame's RMS-norm (measured max
    #: over tones and noise, window rounding included); a band whose mean magnitude is
    #: within ``_ROUNDOFF_MARGIN`` of that bound is recomputed in float64.
    _FFT32_ERROR = 4e-6
    _ROUNDOFF_MARGIN = 10.0

    def _roundoff_check(self, basis: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """Flag frames whose quietest mel band is near the float32 FFT's round-off floor."""
        weight = basis.sum(1).clamp(min=torch.finfo(basis.dtype).tiny)  # (n_mels,)
        inv_p, limit = 1.0 / self.power, self._FFT32_ERROR * self._ROUNDOFF_MARGIN

        def check(windowed: Tensor, rows: Tensor) -> Tensor:
            norm = windowed.square().sum(-1).sqrt()  # (frames,)
            mean_mag = (rows / weight).amin(-1)
            if inv_p != 1.0:
                mean_mag = mean_mag.clamp(min=0).pow(inv_p)
            return (mean_mag < limit * norm) & (norm > 0)

        return check

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(_batch_parallel(self._mel, x), lead)

    def extra_repr(self) -> str:
        return (f"sr={self.sr}, n_fft={self.n_fft}, hop_length={self.hop_length}, n_mels={self.n_mels}, "
                f"fmin={self.fmin}, fmax={self.fmax}, power={self.power}")


class LogMelSpectrogram(MelSpectrogram):
    """Log-mel spectrogram in dB: ``power_to_db(MelSpectrogram(...)(x), ref, amin, top_db)``.

    Matches ``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, ...), top_db=80)``.
    """

    def __init__(self, sr: int, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 fmin: float = 0.0, fmax: float | None = None, power: float = 2.0, top_db: float | None = DEFAULT_TOP_DB,
                 *, ref: float = 1.0, amin: float = AMIN_POWER, **kwargs: Any):
        super().__init__(sr, n_fft, hop_length, n_mels, fmin, fmax, power, **kwargs)
        self.top_db, self.ref, self.amin = top_db, ref, amin

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        fn = lambda z: power_to_db(self._mel(z), self.ref, self.amin, self.top_db)  # noqa: E731
        return _from_batch(_batch_parallel(fn, x), lead)


def pcen_smoothing_coef(sr: float, hop_length: int, time_constant: float) -> float:
    """IIR coefficient ``b`` of PCEN's smoother for a time constant in seconds (librosa's rule).

    With ``T = time_constant * sr / hop_length`` frames, ``b`` solves
    ``b**2 + (1 - b) / T - 2 = 0`` in its usable root ``(sqrt(1 + 4 T**2) - 1) / (2 T**2)``.
    """
    t_frames = time_constant * sr / float(hop_length)
    return float((math.sqrt(1.0 + 4.0 * t_frames ** 2) - 1.0) / (2.0 * t_frames ** 2))


def first_order_smooth(S: Tensor, b: float, initial: float | None = 1.0, block: int = 32) -> Tensor:
    """Causal one-pole smoother along the last axis: ``M[t] = (1 - b) M[t-1] + b S[t]``.

    The state before the first frame is ``M[-1] = initial`` (librosa's :func:`librosa.pcen`
    uses ``scipy.signal.lfilter([b], [1, b - 1], S, zi=lfilter_zi(...))``, i.e. ``initial=1``);
    ``initial=None`` starts in steady state on the first frame (``M[-1] = S[..., 0]``). It is computed in
    blocks of ``block`` frames: inside a block the recursion is a small
    lower-triangular matrix product, and only the block boundaries are carried
    sequentially, so it is fast and differentiable.
    """
    T = S.shape[-1]
    a = 1.0 - b
    L = min(block, T)
    idx = torch.arange(L, device=S.device, dtype=S.dtype)
    diff = idx[:, None] - idx[None, :]
    # K[i, j] = b * a**(i-j) for j <= i: the block's response to its own inputs
    K = torch.where(diff >= 0, b * torch.pow(torch.as_tensor(a, dtype=S.dtype, device=S.device), diff.clamp(min=0)),
                    torch.zeros((), dtype=S.dtype, device=S.device))
    decay = torch.pow(torch.as_tensor(a, dtype=S.dtype, device=S.device), idx + 1)  # a**(i+1) for the carry
    n_blocks = -(-T // L)
    pad = n_blocks * L - T
    Sp = torch.nn.functional.pad(S, (0, pad)) if pad else S
    blocks = Sp.reshape(*S.shape[:-1], n_blocks, L)
    local = torch.matmul(blocks, K.T)  # (..., n_blocks, L)
    carry = S[..., :1] if initial is None else torch.full_like(S[..., :1], float(initial))
    outs = []
    for k in range(n_blocks):
        out = local[..., k, :] + carry * decay
        outs.append(out)
        carry = out[..., -1:]
    return torch.cat(outs, dim=-1)[..., :T]


class PCEN(MelSpectrogram):
    """Per-channel energy normalisation of a mel spectrogram (Wang et al. 2017), as :func:`librosa.pcen`.

    ``M = smooth(E)`` (one-pole IIR, coefficient ``b`` from ``time_constant`` seconds),
    ``PCEN = (E / (eps + M) ** gain + bias) ** power - bias ** power``, computed as
    librosa does, in log space: ``smooth = exp(-gain (log eps + log1p(M / eps)))``.

    The input energy ``E`` is the mel spectrogram (``power`` on the STFT, default 1 =
    magnitude, librosa's recommendation) multiplied by ``scale`` (default ``2**31``,
    the range of 32-bit integer audio that PCEN's constants were designed for):
    ``PCEN(sr)(y)`` equals ``librosa.pcen(scale * melspectrogram(y, power=power), sr=sr,
    hop_length=hop_length, gain, bias, power=pcen_power, time_constant, eps)``.
    The ``2**31`` scale makes PCEN sensitive to spectral content 130 dB below full scale,
    where a float32 FFT's round-off noise lives (librosa computes its STFT in float64).
    With ``fft_dtype="auto"`` (default) frames are transformed in float32 and the few
    whose quietest band lies within 20 dB of the float32 round-off bound (digital
    silence in part of the spectrum, pure synthetic tones) are redone in float64, so
    results match a float64 STFT at float32 speed on recorded audio; ``torch.float64``
    forces double precision everywhere, ``None`` uses the audio's dtype.
    """

    def __init__(self, sr: int, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 fmin: float = 0.0, fmax: float | None = None, *, power: float = 1.0, scale: float = 2.0 ** 31,
                 gain: float = 0.98, bias: float = 2.0, pcen_power: float = 0.5, time_constant: float = 0.400,
                 eps: float = 1e-6, fft_dtype: torch.dtype | str | None = "auto", **kwargs: Any):
        super().__init__(sr, n_fft, hop_length, n_mels, fmin, fmax, power, **kwargs)
        # PCEN's 2**31 gain lifts spectral content 130 dB down into view, where a float32
        # FFT's round-off noise lives: frames with such quiet bands are redone in float64
        self.fft_dtype = fft_dtype
        if gain < 0 or bias < 0 or pcen_power < 0 or eps <= 0 or time_constant <= 0:
            raise ValueError("PCEN needs gain, bias, pcen_power >= 0 and eps, time_constant > 0")
        self.scale, self.gain, self.bias, self.pcen_power = float(scale), float(gain), float(bias), float(pcen_power)
        self.time_constant, self.eps = float(time_constant), float(eps)
        self.b = pcen_smoothing_coef(sr, hop_length, time_constant)

    def pcen(self, E: Tensor) -> Tensor:
        """PCEN of an energy tensor ``(..., n_bins, frames)`` (already scaled)."""
        M = first_order_smooth(E, self.b)
        g, p, bias = self.gain, self.pcen_power, self.bias
        if not _needs_graph(E):  # same formula, in place: 2x less memory traffic
            smooth = M.div_(self.eps).log1p_().add_(math.log(self.eps)).mul_(-g).exp_()
            if p == 0:
                return smooth.mul_(E).log1p_()
            if bias == 0:
                return smooth.log_().add_(torch.log(E)).mul_(p).exp_()
            return smooth.mul_(E).div_(bias).log1p_().mul_(p).expm1_().mul_(bias ** p)
        smooth = torch.exp(-g * (math.log(self.eps) + torch.log1p(M / self.eps)))
        if p == 0:
            return torch.log1p(E * smooth)
        if bias == 0:
            return torch.exp(p * (torch.log(E) + torch.log(smooth)))
        return (bias ** p) * torch.expm1(p * torch.log1p(E * smooth / bias))

    def _forward(self, x: Tensor) -> Tensor:
        E = self._mel(x)
        E = E * self.scale if _needs_graph(E) else E.mul_(self.scale)
        return self.pcen(E)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(_batch_parallel(self._forward, x), lead)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``(n_out, n_in)``: ``C[k, n] = s_k cos(pi k (2n + 1) / (2 n_in))``.

    ``s_0 = sqrt(1/n_in)``, ``s_k = sqrt(2/n_in)``; equal to rows of ``scipy.fft.dct(eye, norm='ortho')``.
    """
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    C = np.cos(np.pi * k * (2 * n + 1) / (2.0 * n_in)) * np.sqrt(2.0 / n_in)
    C[0] /= np.sqrt(2.0)
    return C


class MFCC(LogMelSpectrogram):
    """Mel-frequency cepstral coefficients: orthonormal DCT-II of the log-mel dB spectrogram.

    ``MFCC = D @ power_to_db(mel, top_db=80)`` with ``D`` the first ``n_mfcc`` rows of the
    ``(n_mels, n_mels)`` orthonormal DCT-II; optional liftering
    ``1 + (lifter / 2) sin(pi (k + 1) / lifter)``. Matches :func:`librosa.feature.mfcc`.
    Output ``(batch, n_mfcc, frames)``; rows are quefrency indices (no :attr:`frequencies`).
    """

    def __init__(self, sr: int, n_mfcc: int = 20, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP,
                 n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None, *, lifter: float = 0.0,
                 top_db: float | None = DEFAULT_TOP_DB, **kwargs: Any):
        super().__init__(sr, n_fft, hop_length, n_mels, fmin, fmax, top_db=top_db, **kwargs)
        if not 0 < n_mfcc <= n_mels:
            raise ValueError(f"n_mfcc must be in 1..n_mels={n_mels}, got {n_mfcc}")
        self.n_mfcc = int(n_mfcc)
        D = dct_matrix(self.n_mfcc, self.n_mels)
        if lifter > 0:
            D = D * (1 + (lifter / 2) * np.sin(np.pi * np.arange(1, 1 + self.n_mfcc) / lifter))[:, None]
        self.lifter = float(lifter)
        self.register_buffer("dct", torch.as_tensor(D, dtype=torch.float32))

    @property
    def n_bins(self) -> int:
        return self.n_mfcc

    @property
    def frequencies(self) -> np.ndarray:
        raise AttributeError("MFCC rows are cepstral coefficients, not frequencies")

    def _forward(self, x: Tensor) -> Tensor:
        logmel = power_to_db(self._mel(x), self.ref, self.amin, self.top_db)
        return torch.matmul(_buf(self.dct, x), logmel)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(_batch_parallel(self._forward, x), lead)


# --------------------------------------------------------------------------------------
# constant-Q


def sparsify_rows(K: np.ndarray, quantile: float) -> np.ndarray:
    """Zero the smallest entries of each row of ``K`` that together hold ``quantile`` of its L1 mass.

    This is how librosa trims its CQT kernels (``sparsity=0.01``): the discarded far
    side lobes change quiet bins by a few dB, so keeping it makes the two agree.
    """
    if quantile <= 0:
        return K
    mag = np.abs(K)
    order = np.argsort(mag, axis=1)
    sorted_mag = np.take_along_axis(mag, order, axis=1)
    mass = np.cumsum(sorted_mag, axis=1) / np.maximum(sorted_mag.sum(axis=1, keepdims=True), 1e-300)
    drop_sorted = mass < quantile
    drop = np.zeros_like(drop_sorted)
    np.put_along_axis(drop, order, drop_sorted, axis=1)
    out = K.copy()
    out[drop] = 0
    return out


#: Zeros appended before the FFT-domain decimation, so that the ideal low-pass acts
#: (almost) linearly instead of wrapping the end of the signal onto its start.
_DECIMATION_PAD = 4096


def _fft_size(n: int) -> int:
    """Smallest even 5-smooth integer >= n (fast FFT lengths)."""
    best = None
    p2 = 2
    while best is None or p2 < best:
        p3 = p2
        while p3 < (best or 2 * n + 2):
            p5 = p3
            while p5 < n:
                p5 *= 5
            if best is None or p5 < best:
                best = p5
            p3 *= 3
        p2 *= 2
    return best


def _halve_rate(x: Tensor) -> Tensor:
    """Downsample ``(batch, n)`` by 2 with an ideal (FFT-domain) low-pass at the new Nyquist.

    The signal is zero-padded (by at least ``_DECIMATION_PAD``, to a fast FFT length)
    first, so the window's edges behave as if the audio outside it were silence, as with
    a linear resampler. Output length ``ceil(n / 2)``; sinusoids below the new Nyquist
    keep their amplitude.
    """
    n = x.shape[-1]
    size = _fft_size(n + _DECIMATION_PAD)
    half = size // 2
    X = torch.fft.rfft(x, n=size)
    y = torch.fft.irfft(X[..., : half // 2 + 1], n=half) * 0.5
    return y[..., : (n + 1) // 2]


class CQT(nn.Module):
    """Constant-Q magnitude spectrogram ``(batch, n_bins, frames)``, comparable to ``np.abs(librosa.cqt(...))``.

    Multirate algorithm (as librosa's): the top octave's ``bins_per_octave`` filters are
    Hann-windowed complex wavelets (:func:`librosa.filters.wavelet`, L1-normalised,
    ``Q = filter_scale / alpha`` with ``alpha = (r**2 - 1)/(r**2 + 1)``, ``r = 2**(1/bpo)``)
    applied in the frequency domain to an STFT with a rectangular window; the signal is
    then halved in rate (ideal FFT-domain low-pass; librosa uses soxr) and the same
    kernels, shifted an octave down, give the next octave, and so on. With
    ``scale=True`` each bin is divided by ``sqrt(filter length)`` like librosa, and, like
    librosa, each kernel drops its smallest coefficients holding ``sparsity`` (1 %) of its
    L1 mass (``sparsity=0`` keeps the exact kernels).
    Frequencies: ``fmin * 2 ** (k / bins_per_octave)`` Hz. Frame ``t`` is centred on
    sample ``t * hop_length``; ``hop_length`` must be divisible by ``2 ** (n_octaves - 1)``
    for all octaves to keep the hop (as librosa, otherwise later octaves stop halving).
    """

    def __init__(self, sr: int, hop_length: int = DEFAULT_HOP, fmin: float = C1_HZ, n_bins: int = 84,
                 bins_per_octave: int = 12, *, filter_scale: float = 1.0, norm: float = 1.0,
                 window: str = "hann", scale: bool = True, power: float = 1.0, sparsity: float = 0.01):
        super().__init__()
        import librosa

        self.sr, self.hop_length, self.fmin = int(sr), int(hop_length), float(fmin)
        self.n_bins, self.bins_per_octave = int(n_bins), int(bins_per_octave)
        self.filter_scale, self.scale, self.power = float(filter_scale), bool(scale), float(power)
        freqs = librosa.cqt_frequencies(self.n_bins, fmin=self.fmin, bins_per_octave=self.bins_per_octave)
        self._freqs = freqs
        r = 2.0 ** (1.0 / self.bins_per_octave)
        alpha_c = (r * r - 1.0) / (r * r + 1.0)
        alpha = np.full(self.n_bins, alpha_c)
        lengths, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window=window,
                                                          filter_scale=filter_scale, gamma=0, alpha=alpha)
        if cutoff > sr / 2.0:
            raise ValueError(f"CQT top filter reaches {cutoff:.0f} Hz, above the Nyquist frequency {sr / 2:.0f} Hz; "
                             "lower n_bins or fmin")
        self.n_octaves = int(math.ceil(self.n_bins / self.bins_per_octave))
        n_filters = min(self.bins_per_octave, self.n_bins)
        # early downsampling, librosa's rule: skip rates the top octave does not need
        nyq = sr / 2.0
        c1 = max(0, int(math.ceil(math.log2(nyq / cutoff)) - 1) - 1)
        twos = (self.hop_length & -self.hop_length).bit_length() - 1
        c2 = max(0, twos - self.n_octaves + 1)
        self.early = min(c1, c2)
        my_sr, my_hop = sr / 2 ** self.early, self.hop_length // 2 ** self.early
        self.hop_plan: list[int] = []
        self.n_fft_plan: list[int] = []
        self.halve_after: list[bool] = []
        for i in range(self.n_octaves):
            sl = slice(self.n_bins - n_filters * (i + 1), self.n_bins - n_filters * i)
            lo = max(sl.start, 0)
            f_oct = freqs[lo:sl.stop]
            basis, lens = librosa.filters.wavelet(freqs=f_oct, sr=my_sr, filter_scale=filter_scale, norm=norm,
                                                  pad_fft=True, window=window, gamma=0, alpha=alpha[lo:sl.stop])
            n_fft = basis.shape[1]
            basis = basis * (lens[:, None] / float(n_fft))
            fb = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
            fb *= np.sqrt(sr / my_sr)
            fb = sparsify_rows(fb, sparsity)
            self.register_buffer(f"kernel_{i}", torch.as_tensor(fb.astype(np.complex64)))
            self.hop_plan.append(my_hop)
            self.n_fft_plan.append(n_fft)
            halve = my_hop % 2 == 0
            self.halve_after.append(halve and i < self.n_octaves - 1)
            if halve:
                my_hop //= 2
                my_sr /= 2.0
        out_sr = sr / 2 ** self.early
        lengths_out, _ = librosa.filters.wavelet_lengths(freqs=freqs, sr=out_sr, window=window,
                                                         filter_scale=filter_scale, gamma=0, alpha=alpha)
        self.register_buffer("length_scale", torch.as_tensor(1.0 / np.sqrt(lengths_out), dtype=torch.float32))

    @property
    def frequencies(self) -> np.ndarray:
        return self._freqs.copy()

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(_batch_parallel(self._forward, x), lead)

    def _forward(self, x: Tensor) -> Tensor:
        n_frames = self.n_frames(x.shape[-1])
        y = x
        for _ in range(self.early):
            y = _halve_rate(y) * math.sqrt(2.0)
        resp = []
        for i in range(self.n_octaves):
            n_fft, hop = self.n_fft_plan[i], self.hop_plan[i]
            kern = _buf(getattr(self, f"kernel_{i}"), y)
            pad = n_fft // 2
            yp = torch.nn.functional.pad(y, (pad, pad))
            if yp.shape[-1] < n_fft:
                yp = torch.nn.functional.pad(yp, (0, n_fft - yp.shape[-1]))
            frames = yp.unfold(-1, n_fft, hop)  # (batch, frames, n_fft): rectangular window
            D = torch.fft.rfft(frames, dim=-1)  # (batch, frames, n_fft//2+1)
            C = torch.matmul(D, kern.T)  # (batch, frames, n_filt)
            resp.append(C.abs()[:, :n_frames].transpose(1, 2))
            if self.halve_after[i]:
                y = _halve_rate(y) * math.sqrt(2.0)
        n_min = min(r.shape[-1] for r in resp)
        C = torch.cat([r[..., :n_min] for r in reversed(resp)], dim=1)
        if self.scale:
            C = C * _buf(self.length_scale, C)[:, None]
        if self.power != 1.0:
            C = C.pow(self.power)
        return C

    def extra_repr(self) -> str:
        return (f"sr={self.sr}, hop_length={self.hop_length}, fmin={self.fmin:.2f}, n_bins={self.n_bins}, "
                f"bins_per_octave={self.bins_per_octave}")


# --------------------------------------------------------------------------------------
# descriptors


def _frame_pool(x: Tensor, frame_length: int, hop_length: int, center: bool, pad_mode: str = "constant") -> Tensor:
    """Mean of ``x`` over frames of ``frame_length`` every ``hop_length``: ``(batch, frames)``."""
    if center:
        x = _center_pad(x, frame_length // 2, pad_mode)
    return torch.nn.functional.avg_pool1d(x.unsqueeze(1), frame_length, hop_length).squeeze(1)


class RMS(nn.Module):
    """Root-mean-square energy per frame, ``sqrt(mean(x[n]**2))`` over ``frame_length`` samples.

    Output ``(batch, 1, frames)``; matches ``librosa.feature.rms(y=y)`` (centred frames, zero padding).
    """

    def __init__(self, frame_length: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, center: bool = True):
        super().__init__()
        self.frame_length, self.hop_length, self.center = int(frame_length), int(hop_length), center

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        ms = _frame_pool(x * x, self.frame_length, self.hop_length, self.center)
        return _from_batch(ms.clamp(min=0).sqrt().unsqueeze(1), lead)


class ZeroCrossingRate(nn.Module):
    """Fraction of sign changes per frame, as ``librosa.feature.zero_crossing_rate``.

    Samples with ``|x| <= threshold`` count as zero, zero counts as positive; the rate is
    the number of sign changes between consecutive samples of a frame divided by
    ``frame_length``. Centred frames use edge padding (librosa's choice). Output
    ``(batch, 1, frames)`` in [0, 1]; not differentiable (piecewise constant).
    """

    def __init__(self, frame_length: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, center: bool = True,
                 threshold: float = 1e-10):
        super().__init__()
        self.frame_length, self.hop_length, self.center = int(frame_length), int(hop_length), center
        self.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        if self.center:
            p = self.frame_length // 2
            x = torch.nn.functional.pad(x.unsqueeze(1), (p, p), mode="replicate").squeeze(1)
        neg = (x < -self.threshold).to(x.dtype)  # sign bit with small values treated as +0
        change = (neg[:, 1:] != neg[:, :-1]).to(x.dtype)  # change[j]: between samples j and j+1
        L = self.frame_length
        rate = torch.nn.functional.avg_pool1d(change.unsqueeze(1), L - 1, self.hop_length).squeeze(1)
        rate = rate * ((L - 1) / L)
        return _from_batch(rate.unsqueeze(1), lead)


class SpectralCentroid(Spectrogram):
    """Spectral centroid in Hz: ``sum_f freq[f] S[f, t] / sum_f S[f, t]`` on the magnitude STFT.

    Output ``(batch, 1, frames)``; matches ``librosa.feature.spectral_centroid`` (0 for silent frames).
    """

    def __init__(self, sr: int, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, **kwargs: Any):
        kwargs.setdefault("power", 1.0)
        super().__init__(n_fft, hop_length, sr=sr, **kwargs)
        self.register_buffer("freqs", torch.as_tensor(np.fft.rfftfreq(self.n_fft, 1.0 / sr), dtype=torch.float32))

    @staticmethod
    def centroid(S: Tensor, freqs: Tensor) -> Tensor:
        total = S.sum(dim=-2, keepdim=True)
        num = (S * freqs[:, None]).sum(dim=-2, keepdim=True)
        tiny = torch.finfo(S.dtype).tiny
        return torch.where(total > tiny, num / total.clamp(min=tiny), torch.zeros_like(total))

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(self.centroid(self._spec(x), _buf(self.freqs, x)), lead)


class SpectralFlux(MelSpectrogram):
    """Spectral flux: mean over mel bands of the rise in log-mel dB from one frame to the next.

    ``flux[t] = mean_f max(0, L[f, t] - L[f, t - 1])``, ``flux[0] = 0``, with ``L`` the
    log-mel spectrogram (``top_db=80``). This is the onset strength of
    ``librosa.onset.onset_strength`` (lag 1, mean aggregation) without librosa's
    extra delay of ``n_fft // (2 * hop_length)`` frames: here row ``t`` describes the
    change arriving at frame ``t``. Output ``(batch, 1, frames)``.
    """

    def __init__(self, sr: int, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 *, top_db: float | None = DEFAULT_TOP_DB, **kwargs: Any):
        super().__init__(sr, n_fft, hop_length, n_mels, **kwargs)
        self.top_db = top_db

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        L = power_to_db(self._mel(x), top_db=self.top_db)
        rise = torch.relu(L[..., 1:] - L[..., :-1]).mean(dim=-2, keepdim=True)
        return _from_batch(torch.nn.functional.pad(rise, (1, 0)), lead)


class BandEnergyRatio(Spectrogram):
    """Band-energy ratio: STFT power below ``split_hz`` divided by power at and above it.

    ``BER[t] = sum_{f < split} |X[f, t]|**2 / max(sum_{f >= split} |X[f, t]|**2, amin)``;
    values above 1 mean a dark (bass-heavy) frame. Output ``(batch, 1, frames)``.
    """

    def __init__(self, sr: int, split_hz: float = 2000.0, n_fft: int = DEFAULT_N_FFT,
                 hop_length: int = DEFAULT_HOP, *, amin: float = AMIN_POWER, **kwargs: Any):
        super().__init__(n_fft, hop_length, power=2.0, sr=sr, **kwargs)
        if not 0 < split_hz < sr / 2:
            raise ValueError(f"split_hz must be in (0, {sr / 2}), got {split_hz}")
        self.split_hz, self.amin = float(split_hz), float(amin)
        self.split_bin = int(np.searchsorted(np.fft.rfftfreq(self.n_fft, 1.0 / sr), split_hz))

    @staticmethod
    def ratio(P: Tensor, split_bin: int, amin: float) -> Tensor:
        low = P[..., :split_bin, :].sum(dim=-2, keepdim=True)
        high = P[..., split_bin:, :].sum(dim=-2, keepdim=True)
        return low / high.clamp(min=amin)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        return _from_batch(self.ratio(self._spec(x), self.split_bin, self.amin), lead)


class Descriptors(nn.Module):
    """All frame descriptors stacked: ``(batch, 5, frames)``, rows named in :attr:`names`.

    Rows: RMS, zero-crossing rate, spectral centroid (Hz), spectral flux (dB), band-energy
    ratio (below/above ``split_hz``). One STFT is shared by centroid and band-energy ratio.
    """

    names = ("rms", "zcr", "centroid_hz", "flux_db", "band_energy_ratio")

    def __init__(self, sr: int, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, *,
                 split_hz: float = 2000.0, n_mels: int = 128):
        super().__init__()
        self.sr, self.n_fft, self.hop_length = sr, n_fft, hop_length
        self.rms = RMS(n_fft, hop_length)
        self.zcr = ZeroCrossingRate(n_fft, hop_length)
        self.flux = SpectralFlux(sr, n_fft, hop_length, n_mels)
        self.ber = BandEnergyRatio(sr, split_hz, n_fft, hop_length)
        self.register_buffer("freqs", torch.as_tensor(np.fft.rfftfreq(n_fft, 1.0 / sr), dtype=torch.float32))

    @property
    def n_bins(self) -> int:
        return len(self.names)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        P = self.ber._spec(x)  # power STFT, shared
        centroid = SpectralCentroid.centroid(P.sqrt(), _buf(self.freqs, x))
        ber = BandEnergyRatio.ratio(P, self.ber.split_bin, self.ber.amin)
        L = power_to_db(torch.matmul(_buf(self.flux.mel_basis, x), P), top_db=self.flux.top_db)
        flux = torch.nn.functional.pad(torch.relu(L[..., 1:] - L[..., :-1]).mean(dim=-2, keepdim=True), (1, 0))
        out = torch.cat([self.rms(x), self.zcr(x), centroid, flux, ber], dim=1)
        return _from_batch(out, lead)


# --------------------------------------------------------------------------------------
# pre-filter and normalisation


class BandPass(nn.Module):
    """Zero-phase band-pass pre-filter applied in the frequency domain; ``(batch, samples)`` in and out.

    The gain is 1 between ``low_hz`` and ``high_hz`` and falls to 0 with a raised-cosine
    (half-Hann) slope ``transition_hz`` wide outside each edge (no ripple, no phase
    shift). The signal is zero-padded by ``pad_s`` seconds before the FFT so that the
    filter's short response does not wrap around. ``low_hz=0`` gives a low-pass,
    ``high_hz >= sr/2`` a high-pass.
    """

    def __init__(self, sr: int, low_hz: float, high_hz: float, *, transition_hz: float | None = None,
                 pad_s: float = 0.05):
        super().__init__()
        if not 0 <= low_hz < high_hz:
            raise ValueError(f"need 0 <= low_hz < high_hz, got {low_hz}, {high_hz}")
        self.sr, self.low_hz, self.high_hz = int(sr), float(low_hz), float(high_hz)
        self.transition_hz = float(transition_hz) if transition_hz else max(20.0, 0.1 * (high_hz - low_hz))
        self.pad = int(round(pad_s * sr))
        self.hop_length = 1

    def gain(self, freqs: Tensor) -> Tensor:
        """Filter gain at ``freqs`` (Hz)."""
        t = self.transition_hz
        below = ((freqs - (self.low_hz - t)) / t).clamp(0, 1) if self.low_hz > 0 else torch.ones_like(freqs)
        above = (((self.high_hz + t) - freqs) / t).clamp(0, 1)
        ramp = lambda u: 0.5 - 0.5 * torch.cos(math.pi * u)  # noqa: E731
        return ramp(below) * ramp(above)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        n = x.shape[-1]
        n_fft = n + 2 * self.pad
        X = torch.fft.rfft(torch.nn.functional.pad(x, (self.pad, self.pad)), n=n_fft)
        freqs = torch.fft.rfftfreq(n_fft, 1.0 / self.sr, device=x.device, dtype=x.dtype)
        y = torch.fft.irfft(X * self.gain(freqs), n=n_fft)[..., self.pad:self.pad + n]
        return y.reshape(*lead, n)


class Normalizer(nn.Module):
    """Per-bin standardisation ``(x - mean[f]) / (std[f] + eps)`` fitted on a data set.

    Statistics are accumulated in float64 over every frame of every example passed to
    :meth:`fit` / :meth:`partial_fit` (inputs ``(batch, n_features, frames)`` or
    ``(n_features, frames)``; sums are taken around a shift, the first batch's mean, so
    large offsets such as dB values keep full precision). ``mean``, ``std``, ``count``
    and the running sums are buffers, so the fitted state is saved in the ``state_dict``
    of any model that contains the normaliser (and fitting can resume after loading);
    :meth:`to_dict` / :meth:`from_dict` give a plain-Python form of ``mean`` and ``std``.
    """

    def __init__(self, n_features: int, eps: float = 1e-5):
        super().__init__()
        self.n_features, self.eps = int(n_features), float(eps)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("shift", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("sum", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("sumsq", torch.zeros(n_features, dtype=torch.float64))

    @property
    def fitted(self) -> bool:
        return bool(self.count > 0)

    def partial_fit(self, x: Tensor) -> "Normalizer":
        """Add the frames of ``x`` to the running statistics and update ``mean``/``std``."""
        x = torch.as_tensor(x).detach()
        if x.ndim == 2:
            x = x.unsqueeze(0)
        if x.ndim != 3 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (batch, {self.n_features}, frames), got {tuple(x.shape)}")
        if x.shape[0] * x.shape[2] == 0:
            return self
        x = x.to(self.sum.device, torch.float64)
        if not self.fitted:
            self.shift.copy_(x.mean(dim=(0, 2)))
        d = x - self.shift[None, :, None]
        self.sum += d.sum(dim=(0, 2))
        self.sumsq += (d * d).sum(dim=(0, 2))
        self.count += float(x.shape[0] * x.shape[2])
        m = self.sum / self.count
        var = (self.sumsq / self.count - m * m).clamp(min=0)
        self.mean.copy_(m + self.shift)
        self.std.copy_(var.sqrt())
        return self

    def fit(self, batches: Iterable[Tensor] | Tensor) -> "Normalizer":
        """Reset, then accumulate statistics over ``batches`` (a tensor or an iterable of tensors)."""
        self.reset()
        if torch.is_tensor(batches) or isinstance(batches, np.ndarray):
            batches = [batches]
        for b in batches:
            self.partial_fit(b)
        if not self.fitted:
            raise ValueError("Normalizer.fit got no data")
        return self

    def reset(self) -> None:
        for name in ("mean", "count", "shift", "sum", "sumsq"):
            getattr(self, name).zero_()
        self.std.fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        mean = _buf(self.mean, x)[:, None]
        std = _buf(self.std, x)[:, None]
        return (x - mean) / (std + self.eps)

    def inverse(self, z: Tensor) -> Tensor:
        """Undo :meth:`forward`."""
        return z * (_buf(self.std, z)[:, None] + self.eps) + _buf(self.mean, z)[:, None]

    def to_dict(self) -> dict:
        return {"n_features": self.n_features, "eps": self.eps, "mean": self.mean.tolist(),
                "std": self.std.tolist(), "count": float(self.count)}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        m = cls(int(d["n_features"]), float(d.get("eps", 1e-5)))
        m.mean.copy_(torch.as_tensor(d["mean"], dtype=torch.float32))
        m.std.copy_(torch.as_tensor(d["std"], dtype=torch.float32))
        m.count.fill_(float(d.get("count", 1.0)))
        return m

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, fitted={self.fitted}"


# --------------------------------------------------------------------------------------
# factory


def frontend(kind: str, sr: int, **kwargs: Any) -> nn.Module:
    """Build a front-end module by name.

    ``kind`` is one of ``"stft"`` (:class:`Spectrogram`), ``"logstft"`` (:class:`LogSpectrogram`),
    ``"mel"`` (:class:`MelSpectrogram`), ``"logmel"`` (:class:`LogMelSpectrogram`), ``"pcen"``
    (:class:`PCEN`), ``"mfcc"`` (:class:`MFCC`), ``"cqt"`` (:class:`CQT`) or ``"descriptors"``
    (:class:`Descriptors`); ``kwargs`` go to the constructor. Every module gets ``sr``.
    """
    key = kind.lower().replace("-", "").replace("_", "")
    if key in ("stft", "spectrogram"):
        return Spectrogram(sr=sr, **kwargs)
    if key in ("logstft", "logspectrogram"):
        return LogSpectrogram(sr=sr, **kwargs)
    table: dict[str, type[nn.Module]] = {"mel": MelSpectrogram, "logmel": LogMelSpectrogram, "pcen": PCEN,
                                          "mfcc": MFCC, "cqt": CQT, "descriptors": Descriptors}
    if key not in table:
        raise ValueError(f"unknown front end {kind!r}; choose from {', '.join(KINDS)}")
    return table[key](sr, **kwargs)


# --------------------------------------------------------------------------------------
# long files, window by window


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
