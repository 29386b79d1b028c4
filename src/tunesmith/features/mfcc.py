"""MFCC: orthonormal DCT-II of the log-mel dB spectrogram."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from tunesmith.features._engine import _batch_parallel
from tunesmith.features.core import (
    DEFAULT_HOP,
    DEFAULT_N_FFT,
    DEFAULT_TOP_DB,
    _buf,
    _from_batch,
    _to_batch,
    power_to_db,
)
from tunesmith.features.mel import LogMelSpectrogram


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

    def __init__(self, sr: int, *, n_mfcc: int = 20, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP,
                 n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None, lifter: float = 0.0,
                 top_db: float | None = DEFAULT_TOP_DB, **kwargs: Any):
        super().__init__(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, top_db=top_db,
                         **kwargs)
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


