"""librosa's multirate constant-Q transform as a torch module."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from tunesmith.features._engine import _batch_parallel
from tunesmith.features.core import C1_HZ, DEFAULT_HOP, _buf, _from_batch, _to_batch


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

    def __init__(self, sr: int, *, hop_length: int = DEFAULT_HOP, fmin: float = C1_HZ, n_bins: int = 84,
                 bins_per_octave: int = 12, filter_scale: float = 1.0, norm: float = 1.0,
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


