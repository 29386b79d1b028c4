"""Frame descriptors: RMS, zero-crossing rate, spectral centroid, flux, band-energy ratio."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tunesmith.features.core import (
    AMIN_POWER,
    DEFAULT_HOP,
    DEFAULT_N_FFT,
    DEFAULT_TOP_DB,
    _buf,
    _center_pad,
    _from_batch,
    _to_batch,
    power_to_db,
)
from tunesmith.features.mel import MelSpectrogram
from tunesmith.features.spectral import Spectrogram


def _frame_pool(x: Tensor, frame_length: int, hop_length: int, center: bool, pad_mode: str = "constant") -> Tensor:
    """Mean of ``x`` over frames of ``frame_length`` every ``hop_length``: ``(batch, frames)``."""
    if center:
        x = _center_pad(x, frame_length // 2, pad_mode)
    return torch.nn.functional.avg_pool1d(x.unsqueeze(1), frame_length, hop_length).squeeze(1)


class RMS(nn.Module):
    """Root-mean-square energy per frame, ``sqrt(mean(x[n]**2))`` over ``frame_length`` samples.

    Output ``(batch, 1, frames)``; matches ``librosa.feature.rms(y=y)`` (centred frames, zero padding).
    """

    def __init__(self, *, frame_length: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, center: bool = True):
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

    def __init__(self, *, frame_length: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, center: bool = True,
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

    def __init__(self, sr: int, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, **kwargs: Any):
        kwargs.setdefault("power", 1.0)
        super().__init__(n_fft=n_fft, hop_length=hop_length, sr=sr, **kwargs)
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

    def __init__(self, sr: int, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 top_db: float | None = DEFAULT_TOP_DB, **kwargs: Any):
        super().__init__(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, **kwargs)
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

    def __init__(self, sr: int, *, split_hz: float = 2000.0, n_fft: int = DEFAULT_N_FFT,
                 hop_length: int = DEFAULT_HOP, amin: float = AMIN_POWER, **kwargs: Any):
        super().__init__(n_fft=n_fft, hop_length=hop_length, power=2.0, sr=sr, **kwargs)
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

    def __init__(self, sr: int, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP,
                 split_hz: float = 2000.0, n_mels: int = 128):
        super().__init__()
        self.sr, self.n_fft, self.hop_length = sr, n_fft, hop_length
        self.rms = RMS(frame_length=n_fft, hop_length=hop_length)
        self.zcr = ZeroCrossingRate(frame_length=n_fft, hop_length=hop_length)
        self.flux = SpectralFlux(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        self.ber = BandEnergyRatio(sr, split_hz=split_hz, n_fft=n_fft, hop_length=hop_length)
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


