"""Mel scale (Slaney), mel filterbank and the mel front ends."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tunesmith.features._engine import _batch_parallel
from tunesmith.features.core import (
    AMIN_POWER,
    DEFAULT_HOP,
    DEFAULT_N_FFT,
    DEFAULT_TOP_DB,
    _buf,
    _from_batch,
    _needs_graph,
    _power,
    _to_batch,
    power_to_db,
)
from tunesmith.features.spectral import Spectrogram

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

    def __init__(self, sr: int, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 fmin: float = 0.0, fmax: float | None = None, power: float = 2.0,
                 win_length: int | None = None, window: str | tuple | np.ndarray = "hann", center: bool = True,
                 pad_mode: str = "constant", htk: bool = False, norm: str | float | None = "slaney"):
        super().__init__(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center,
                         power=power, pad_mode=pad_mode, sr=sr)
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

    def __init__(self, sr: int, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 fmin: float = 0.0, fmax: float | None = None, power: float = 2.0, top_db: float | None = DEFAULT_TOP_DB,
                 ref: float = 1.0, amin: float = AMIN_POWER, **kwargs: Any):
        super().__init__(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=power,
                         **kwargs)
        self.top_db, self.ref, self.amin = top_db, ref, amin

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        fn = lambda z: power_to_db(self._mel(z), self.ref, self.amin, self.top_db)  # noqa: E731
        return _from_batch(_batch_parallel(fn, x), lead)


