"""Shared constants, shape helpers and the functional transforms (dB scaling, framed STFT)."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

#: Floor applied to power values before the logarithm (librosa's ``amin`` for power_to_db).
AMIN_POWER = 1e-10
#: Floor for amplitudes (librosa's ``amin`` for amplitude_to_db); ``AMIN_AMPLITUDE**2 == AMIN_POWER``.
AMIN_AMPLITUDE = 1e-5
#: Dynamic range kept by the log transforms, in dB below the per-example maximum.
DEFAULT_TOP_DB = 80.0
#: Default analysis settings (librosa's).
DEFAULT_N_FFT = 2048
DEFAULT_HOP = 512
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


def _needs_graph(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


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


