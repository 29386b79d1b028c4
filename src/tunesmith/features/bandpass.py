"""Zero-phase band-pass pre-filter in the frequency domain."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tunesmith.features.core import _to_batch


class BandPass(nn.Module):
    """Zero-phase band-pass pre-filter applied in the frequency domain; ``(batch, samples)`` in and out.

    The gain is 1 between ``low_hz`` and ``high_hz`` and falls to 0 with a raised-cosine
    (half-Hann) slope ``transition_hz`` wide outside each edge (no ripple, no phase
    shift). The signal is zero-padded by ``pad_s`` seconds before the FFT so that the
    filter's short response does not wrap around. ``low_hz=0`` gives a low-pass,
    ``high_hz >= sr/2`` a high-pass.
    """

    def __init__(self, sr: int, low_hz: float, high_hz: float, *, transition_hz: float | None = None,
                 pad_s: float = 0.05):
        super().__init__()
        if not 0 <= low_hz < high_hz:
            raise ValueError(f"need 0 <= low_hz < high_hz, got {low_hz}, {high_hz}")
        self.sr, self.low_hz, self.high_hz = int(sr), float(low_hz), float(high_hz)
        self.transition_hz = float(transition_hz) if transition_hz else max(20.0, 0.1 * (high_hz - low_hz))
        self.pad = int(round(pad_s * sr))
        self.hop_length = 1

    def gain(self, freqs: Tensor) -> Tensor:
        """Filter gain at ``freqs`` (Hz)."""
        t = self.transition_hz
        below = ((freqs - (self.low_hz - t)) / t).clamp(0, 1) if self.low_hz > 0 else torch.ones_like(freqs)
        above = (((self.high_hz + t) - freqs) / t).clamp(0, 1)
        ramp = lambda u: 0.5 - 0.5 * torch.cos(math.pi * u)  # noqa: E731
        return ramp(below) * ramp(above)

    def forward(self, x: Tensor) -> Tensor:
        x, lead = _to_batch(x)
        n = x.shape[-1]
        n_fft = n + 2 * self.pad
        X = torch.fft.rfft(torch.nn.functional.pad(x, (self.pad, self.pad)), n=n_fft)
        freqs = torch.fft.rfftfreq(n_fft, 1.0 / self.sr, device=x.device, dtype=x.dtype)
        y = torch.fft.irfft(X * self.gain(freqs), n=n_fft)[..., self.pad:self.pad + n]
        return y.reshape(*lead, n)


