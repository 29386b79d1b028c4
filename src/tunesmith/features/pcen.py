"""Per-channel energy normalisation (librosa's PCEN) over a mel spectrogram."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from tunesmith.features._engine import _batch_parallel
from tunesmith.features.core import DEFAULT_HOP, DEFAULT_N_FFT, _from_batch, _needs_graph, _to_batch
from tunesmith.features.mel import MelSpectrogram


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

    def __init__(self, sr: int, *, n_fft: int = DEFAULT_N_FFT, hop_length: int = DEFAULT_HOP, n_mels: int = 128,
                 fmin: float = 0.0, fmax: float | None = None, power: float = 1.0, scale: float = 2.0 ** 31,
                 gain: float = 0.98, bias: float = 2.0, pcen_power: float = 0.5, time_constant: float = 0.400,
                 eps: float = 1e-6, fft_dtype: torch.dtype | str | None = "auto", **kwargs: Any):
        super().__init__(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=power,
                         **kwargs)
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


