"""Distances between a produced sound and the wanted one, for timbre transfer.

SDR-like metrics are meaningless here (the output's phase is not determined by
the input), so every distance compares magnitudes:

* :func:`log_spectral_distance` (LSD, dB): power spectrograms
  ``P = |STFT|^2`` (n_fft 2048, hop 512, Hann) in dB, both floored at the
  reference's maximum minus ``top_db`` (80 dB), then
  ``LSD = mean_frames sqrt(mean_bins (dB_ref - dB_est)^2)``.
* :func:`mrstft_distance`: multi-resolution STFT distance, the mean over
  resolutions (FFT 1024/2048/512, hops 120/240/50, windows 600/1200/240) of
  spectral convergence ``||S_ref - S_est||_F / ||S_ref||_F`` plus the
  log-magnitude L1 ``mean |ln S_ref - ln S_est|`` (magnitudes clamped at 1e-7).
* :func:`mel_cepstral_distance` (MCD, dB): 13 mel-cepstral coefficients
  (c1..c13, c0 = loudness left out): DCT-II of the natural log of an 80-band mel
  amplitude spectrogram floored 80 dB below the reference's peak,
  ``MCD = mean_frames (10 / ln 10) * sqrt(2 * sum_k (c_ref,k - c_est,k)^2)``.

All take 1-D float arrays (or tensors) at the same sample rate; lengths are
cut to the shorter one. :func:`lsd_torch` and :func:`mrstft_loss` are the
differentiable forms used as training losses.
"""
from __future__ import annotations

import numpy as np
import torch

from tunesmith.transform.invert import stft

__all__ = ["log_spectral_distance", "mrstft_distance", "mel_cepstral_distance", "power_db",
           "lsd_torch", "mrstft_loss", "MRSTFT_RESOLUTIONS", "LSD_N_FFT", "LSD_HOP", "TOP_DB"]

LSD_N_FFT = 2048
LSD_HOP = 512
#: Dynamic range kept below the reference's peak (dB).
TOP_DB = 80.0
#: Power floor before the logarithm (avoids log 0; far below any floor actually used).
_POWER_FLOOR = 1e-12
#: (n_fft, hop_length, win_length) of the multi-resolution STFT distance.
MRSTFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
_MAG_CLAMP = 1e-7
MCD_N_MFCC = 13
MCD_N_MELS = 80


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.float()


def _pair(ref, est):
    ref, est = _t(ref), _t(est)
    n = min(ref.shape[-1], est.shape[-1])
    return ref[..., :n], est[..., :n]


def power_db(y: torch.Tensor, n_fft: int = LSD_N_FFT, hop_length: int = LSD_HOP) -> torch.Tensor:
    """``10 log10 |STFT(y)|^2`` (``(..., 1 + n_fft//2, frames)``), floored at 1e-12 before the log."""
    return 10.0 * torch.log10(stft(y, n_fft, hop_length).abs().pow(2).clamp_min(_POWER_FLOOR))


def lsd_torch(ref_db: torch.Tensor, est_db: torch.Tensor, floor_db: torch.Tensor | float) -> torch.Tensor:
    """Differentiable LSD between dB spectrograms ``(..., bins, frames)``, both floored at ``floor_db``.

    ``floor_db`` is a number or a tensor broadcastable to ``(..., 1, 1)``
    (per-example floors). Returns the mean over frames and batch of the per-frame
    RMS difference in dB.
    """
    a = torch.maximum(ref_db, torch.as_tensor(floor_db, dtype=ref_db.dtype, device=ref_db.device))
    b = torch.maximum(est_db, torch.as_tensor(floor_db, dtype=est_db.dtype, device=est_db.device))
    return torch.sqrt(((a - b) ** 2).mean(dim=-2) + 1e-8).mean()


def log_spectral_distance(ref, est, *, n_fft: int = LSD_N_FFT, hop_length: int = LSD_HOP,
                          top_db: float = TOP_DB) -> float:
    """Log-spectral distance in dB (see module docstring); 0 for identical signals."""
    ref, est = _pair(ref, est)
    a, b = power_db(ref, n_fft, hop_length), power_db(est, n_fft, hop_length)
    floor = a.amax(dim=(-2, -1), keepdim=True) - top_db
    return float(lsd_torch(a, b, floor))


def mrstft_loss(ref: torch.Tensor, est: torch.Tensor, resolutions=MRSTFT_RESOLUTIONS) -> torch.Tensor:
    """Differentiable multi-resolution STFT distance between waveforms ``(..., samples)``."""
    total = ref.new_zeros(())
    for n_fft, hop, win in resolutions:
        A = stft(ref, n_fft, hop, win).abs().clamp_min(_MAG_CLAMP)
        B = stft(est, n_fft, hop, win).abs().clamp_min(_MAG_CLAMP)
        sc = torch.linalg.vector_norm(A - B, dim=(-2, -1)) / torch.linalg.vector_norm(A, dim=(-2, -1)).clamp_min(1e-7)
        mag = (A.log() - B.log()).abs().mean(dim=(-2, -1))
        total = total + (sc + mag).mean()
    return total / len(resolutions)


def mrstft_distance(ref, est) -> float:
    """Multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged over 3 resolutions)."""
    ref, est = _pair(ref, est)
    with torch.no_grad():
        return float(mrstft_loss(ref, est))


def _mfcc(y: np.ndarray, sr: int, floor: float) -> np.ndarray:
    import librosa
    import scipy.fft

    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=LSD_N_FFT, hop_length=LSD_HOP, n_mels=MCD_N_MELS)
    logmel = 0.5 * np.log(np.maximum(mel, floor))  # natural log of the mel amplitude

    return scipy.fft.dct(logmel, axis=0, type=2, norm="ortho")[1:MCD_N_MFCC + 1]


def mel_cepstral_distance(ref, est, sr: int = 22050) -> float:
    """Mel-cepstral distance in dB (c1..c13, natural-log mel cepstrum, frames averaged)."""
    ref, est = _pair(ref, est)
    import librosa

    peak = float(np.max(librosa.feature.melspectrogram(y=ref.numpy(), sr=sr, n_fft=LSD_N_FFT, hop_length=LSD_HOP,
                                                       n_mels=MCD_N_MELS)))
    floor = max(peak, 1e-20) * 10.0 ** (-TOP_DB / 10.0)
    a, b = _mfcc(ref.numpy(), sr, floor), _mfcc(est.numpy(), sr, floor)
    k = 10.0 / np.log(10.0) * np.sqrt(2.0)
    return float(np.mean(k * np.sqrt(np.sum((a - b) ** 2, axis=0))))
