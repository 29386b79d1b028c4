"""The fast CPU path: frames processed in cache-sized blocks, examples spread over threads."""
from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tunesmith.features.core import _needs_graph

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
