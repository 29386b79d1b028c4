"""Onset detection: a spectral-flux novelty curve and peak picking with sub-frame timing.

The learned model predicts an onset probability per frame; any other f0 tracker
(pYIN, CREPE, ...) gets :func:`spectral_flux` instead. Both go through
:func:`pick_onsets`, so the segmentation downstream is the same for every tracker.
"""
from __future__ import annotations

import numpy as np

FLUX_N_FFT = 1024
FLUX_WINDOW_S = 1.0        # length of the moving median/max used to normalise the flux


def spectral_flux(y: np.ndarray, sr: int, hop_length: int, n_fft: int = FLUX_N_FFT,
                  n_frames: int | None = None) -> np.ndarray:
    """Onset strength in [0, 1] per frame (frame ``i`` centred on sample ``i * hop_length``).

    The flux is ``sum_f max(0, L(f, t) - max(L(f-1..f+1, t - 1)))`` over log-compressed
    magnitudes ``L = log(1 + 100 |X|)`` (Hann window of ``n_fft``; the maximum over
    neighbouring bins, as in SuperFlux, keeps vibrato from looking like onsets); a moving median
    over :data:`FLUX_WINDOW_S` is subtracted and the result is divided by its
    99th percentile and clipped to [0, 1], so that a threshold of about 0.3-0.5
    means "a clear onset" whatever the recording's level.
    """
    import torch
    from scipy.ndimage import median_filter

    x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    X = torch.stft(x, n_fft, hop_length, window=torch.hann_window(n_fft), center=True, pad_mode="constant",
                   return_complex=True).abs()
    L = torch.log1p(100 * X)
    # SuperFlux-style: compare with the maximum of the previous frame over +-1 bin, so that
    # vibrato and the spectral spread of a fading note do not count as onsets
    prev = torch.nn.functional.max_pool1d(L[None, :, :-1].transpose(1, 2), 3, 1, 1).transpose(1, 2)[0]
    flux = torch.relu(L[:, 1:] - prev).sum(0).numpy()
    flux = np.concatenate([[0.0], flux])
    if n_frames is not None:
        flux = np.pad(flux, (0, max(0, n_frames - len(flux))))[:n_frames]
    win = max(3, int(FLUX_WINDOW_S * sr / hop_length) | 1)
    flux = np.maximum(0.0, flux - median_filter(flux, win, mode="nearest"))
    scale = np.percentile(flux, 99) if len(flux) else 0.0
    return np.clip(flux / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(flux)


def pick_onsets(strength: np.ndarray, threshold: float = 0.5, min_gap: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of ``strength`` at or above ``threshold``, at least ``min_gap`` frames apart.

    Returns ``(frames, positions)``: the integer frame of each peak and its
    sub-frame position from a parabola through the peak and its neighbours
    (``frame + 0.5 (a - c) / (a - 2b + c)``, clipped to ±0.5). When two peaks are
    closer than ``min_gap`` the stronger one is kept.
    """
    s = np.asarray(strength, dtype=np.float64)
    if len(s) < 3:
        return np.zeros(0, dtype=int), np.zeros(0)
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    cand = np.nonzero((s >= threshold) & (s > left) & (s >= right))[0]
    keep: list[int] = []
    for i in cand[np.argsort(-s[cand], kind="stable")]:
        if all(abs(i - k) >= min_gap for k in keep):
            keep.append(int(i))
    frames = np.array(sorted(keep), dtype=int)
    pos = frames.astype(np.float64)
    inner = (frames > 0) & (frames < len(s) - 1)
    a, b, c = s[frames[inner] - 1], s[frames[inner]], s[frames[inner] + 1]
    denom = a - 2 * b + c
    delta = np.where(np.abs(denom) > 1e-9, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    pos[inner] += np.clip(delta, -0.5, 0.5)
    return frames, pos
