"""STFT front ends: :class:`Spectrogram` (magnitude or power) and :class:`LogSpectrogram` (dB)."""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from tunesmith.features._engine import _framewise, _serial_ops
from tunesmith.features.core import (
    AMIN_POWER,
    DEFAULT_HOP,
    DEFAULT_N_FFT,
    DEFAULT_TOP_DB,
    _apply_top_db,
    _buf,
    _from_batch,
    _n_frames,
    _power,
    _to_batch,
    _window_tensor,
    stft,
)


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

    def __init__(self, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, win_length: int | None = None,
                 window: str | tuple | np.ndarray = "hann", center: bool = True, power: float = 1.0,
                 pad_mode: str = "constant", sr: int | None = None):
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

    def __init__(self, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, win_length: int | None = None,
                 window: str | tuple | np.ndarray = "hann", center: bool = True, top_db: float | None = DEFAULT_TOP_DB,
                 ref: float = 1.0, amin: float = AMIN_POWER, pad_mode: str = "constant", sr: int | None = None):
        super().__init__(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center,
                         power=2.0, pad_mode=pad_mode, sr=sr)
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
