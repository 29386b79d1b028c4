"""Recording-quality descriptors that do not assume one degradation generator.

:class:`QualityDescriptors` maps audio ``(batch, samples)`` to ``(batch, len(names), frames)`` on the
front ends' frame grid (centred frames every ``hop_length`` samples). Two rows vary per frame; the
others describe the whole window and are repeated on every frame, so a CNN (and its statistics head)
and a per-window summary (``descriptors+lr``) can both use them. Every row is a ratio or a difference of
levels, so none depends on the recording's overall loudness.

Notation: ``x`` the window's samples; ``L[b, t]`` the power in dB of coarse band ``b`` (``N_BANDS``
equal-width bands of an ``n_fft``-point STFT, 0 Hz to Nyquist) in frame ``t``; ``l[t]`` the frame's
broadband level in dB (the window scaled to unit RMS first); "active" frames are those with ``l[t]`` at or above the window's median.

Per frame
    ``level_above_floor_db``: ``l[t] - q20(l)``. Pauses of speech or music sit at the room's noise
    floor (about 0); a dropout, faded or not, takes everything away, floor included, and falls below it.
    ``coherent_change``: ``mean_b d[b, t] / (std_b d[b, t] + 1 dB)`` with ``d = L[:, t] - L[:, t-1]``.
    Natural onsets and offsets move bands unequally (formants, reverberant tails); a gain jump,
    a dropout edge or a gap moves all bands by the same amount.
Clipping and saturation of any curve
    ``crest_db``: ``20 log10(max|x| / rms(active))``; saturation flattens peaks and lowers it.
    ``peak_crowding``: ``log(#{|x| >= 0.9 m} / #{|x| >= 0.5 m})`` with ``m = max|x|``: the shape of the
    amplitude histogram near its top. Speech and music have thin tails there; a soft or hard clipper
    piles samples up under its ceiling.
    ``kurtosis_log``: ``log`` of the kurtosis of ``x`` over active frames (saturation lowers it).
    ``loud_brightness``: correlation over active frames between ``l[t]`` and the share of power above
    ``BRIGHT_HZ`` (dB): a non-linearity adds harmonics in proportion to level, so loud frames turn bright.
Reverberation
    ``fall_fast_db``: the ``FALL_Q`` quantile of ``d[b, t]`` over cells whose previous frame stood at least
    ``ACTIVE_ABOVE_FLOOR_DB`` above the band's floor: how fast energy can fall. In a dry room speech and
    plucked notes drop 20-40 dB in one 32-ms hop; a reverberant tail with RT60 ``T`` decays by at most
    about ``60 hop / (sr T)`` dB per hop (2 dB at 16 kHz, hop 512, T = 1 s).
    ``rise_fast_db``: the matching ``1 - FALL_Q`` quantile of rises (onsets stay fast under reverberation;
    noise slows both).
Noise
    ``snr_db``: median over bands of ``q95(L[b]) - q10(L[b])`` (signal level over the band's floor);
    ``snr_low_db``: its ``SNR_BAND_Q`` quantile over bands (the noisiest band);
    ``floor_spread_db``: median over bands of ``q30(L[b]) - q5(L[b])``: a steady noise floor has a narrow
    low end, pauses in a clean recording a wide one.
Bandwidth (long-term average spectrum ``A[f]`` in dB over active frames, per STFT bin)
    ``hf_edge_db``: the largest fall of ``A`` over ``EDGE_SPAN_HZ`` between ``EDGE_LO_HZ`` and ``EDGE_HI_HZ``
    (a low-pass or codec cut is a cliff; natural spectra slope gently);
    ``hf_share_db``: mean ``A`` over 4-7 kHz minus mean over 0.5-2 kHz;
    ``lf_share_db``: mean ``A`` over 80-250 Hz minus mean over 0.5-1 kHz (high-pass, telephone band).
Tonal interference at any frequency (a ``TONE_WINDOW_S`` window, about 2 Hz bins at 16 kHz)
    prominence ``Q[f, t] = P[f, t] - mean(P[f + k, t], TONE_GUARD <= |k| <= TONE_RING)`` (dB);
    a line that stays is prominent in nearly every frame, through notes and pauses, while speech
    harmonics glide and notes change; per bin the ``TONE_Q`` quantile over frames measures that.
    ``tone_db``: its maximum over ``TONE_LO_HZ``-``TONE_HI_HZ``; ``tone_count``: ``log(1 + bins above
    TONE_DB)`` (a buzz has harmonics); ``tone_level_db``: the median power over time of those bins
    against the window's mean power, ``10 log10(sum_f med_t P[f, t] / mean_t sum_f P[f, t])`` (floored at
    ``TONE_FLOOR_DB``). Many real recordings carry a faint mains line of their own (tens of dB above
    its neighbouring bins, yet 40 dB or more below the signal); interference is loud.
Coarse coding
    ``hole_share``: ``log(1 + s / SHARE_SCALE)`` with ``s`` the share of STFT cells of active frames in
    0.3-4 kHz more than ``HOLE_DB`` below the frame's strongest cell (a codec removes bins it cannot
    afford; a real room never leaves such holes inside the speech band).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["QualityDescriptors"]

N_FFT = 1024
HOP_LENGTH = 512
N_BANDS = 24
#: windows are scaled to unit RMS first (digital silence, below this RMS, is left as it is)
RMS_FLOOR = 1e-6
FLOOR_Q = 0.2
EPS = 1e-10
BRIGHT_HZ = 3000.0
FALL_Q = 0.02
ACTIVE_ABOVE_FLOOR_DB = 20.0
SNR_BAND_Q = 0.1
EDGE_LO_HZ, EDGE_HI_HZ, EDGE_SPAN_HZ = 1500.0, 7500.0, 400.0
TONE_WINDOW_S = 0.5
TONE_GUARD, TONE_RING = 4, 24
TONE_Q = 0.2
TONE_LO_HZ, TONE_HI_HZ = 30.0, 4000.0
TONE_DB = 8.0
TONE_FLOOR_DB = -80.0
HOLE_DB = 50.0
SHARE_SCALE = 0.01


def _db(p: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(p + EPS)


def _quantile(x: torch.Tensor, q: float, dim: int) -> torch.Tensor:
    return torch.quantile(x, q, dim=dim)


def _masked_quantile(x: torch.Tensor, mask: torch.Tensor, q: float) -> torch.Tensor:
    """Per batch row, the ``q`` quantile of ``x`` (flattened after dim 0) where ``mask``; 0 when empty."""
    out = []
    for xi, mi in zip(x.flatten(1), mask.flatten(1)):
        v = xi[mi]
        out.append(torch.quantile(v, q) if v.numel() else xi.new_zeros(()))
    return torch.stack(out)


def _band_mean(a: torch.Tensor, freqs: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    sel = (freqs >= lo) & (freqs < hi)
    return a[:, sel].mean(1)


class QualityDescriptors(nn.Module):
    """Generator-agnostic quality descriptors (see the module docstring), ``(batch, 18, frames)``."""

    names = ("level_above_floor_db", "coherent_change", "crest_db", "peak_crowding", "kurtosis_log",
             "loud_brightness", "fall_fast_db", "rise_fast_db", "snr_db", "snr_low_db", "floor_spread_db",
             "hf_edge_db", "hf_share_db", "lf_share_db", "tone_db", "tone_count", "tone_level_db", "hole_share")
    per_frame = 2

    def __init__(self, sr: int, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH):
        super().__init__()
        self.sr, self.n_fft, self.hop_length = int(sr), int(n_fft), int(hop_length)
        self.tone_fft = 1 << max(0, math.ceil(math.log2(TONE_WINDOW_S * self.sr)))
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer("tone_window", torch.hann_window(self.tone_fft), persistent=False)
        freqs = torch.arange(self.n_fft // 2 + 1) * (self.sr / self.n_fft)
        self.register_buffer("freqs", freqs, persistent=False)
        band = torch.clamp((torch.arange(self.n_fft // 2 + 1) * N_BANDS) // (self.n_fft // 2 + 1), max=N_BANDS - 1)
        self.register_buffer("bands", F.one_hot(band, N_BANDS).float(), persistent=False)  # (bins, bands)
        k = torch.zeros(2 * TONE_RING + 1)
        k[: TONE_RING - TONE_GUARD + 1] = 1.0
        k[TONE_RING + TONE_GUARD:] = 1.0
        self.register_buffer("ring", (k / k.sum()).view(1, 1, -1), persistent=False)

    @property
    def n_bins(self) -> int:
        return len(self.names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(0)
        x = x.float()
        x = x / x.square().mean(1, keepdim=True).sqrt().clamp_min(RMS_FLOOR)  # unit RMS: level-free by design
        P = torch.stft(x, self.n_fft, self.hop_length, window=self.window, center=True,
                       return_complex=True).abs().square()                          # (b, bins, t)
        n_t = P.shape[-1]
        level = _db(P.sum(1))                                                       # (b, t)
        L = _db(torch.einsum("bft,fk->bkt", P, self.bands))                         # (b, bands, t)
        floor = _quantile(level, FLOOR_Q, dim=1)
        above = level - floor[:, None]
        d = torch.diff(L, dim=2, prepend=L[:, :, :1])
        coherent = d.mean(1) / (d.std(1) + 1.0)
        active = level >= level.median(dim=1, keepdim=True).values                  # (b, t)

        rows = [self._clipping(x, P, level, active), self._reverb(L, d),
                self._noise(L), self._bandwidth(P, active), self._tones(x), self._holes(P, active)]
        window_rows = torch.cat(rows, dim=1)                                        # (b, k)
        return torch.cat([above[:, None], coherent[:, None],
                          window_rows[:, :, None].expand(-1, -1, n_t)], dim=1)

    # ----------------------------------------------------------------- per-window parts, (b, k) each
    def _clipping(self, x, P, level, active):
        a = x.abs()
        m = a.amax(1).clamp_min(EPS)
        frames = F.pad(x, (self.n_fft // 2, self.n_fft // 2)).unfold(1, self.n_fft, self.hop_length)[:, :P.shape[-1]]
        act = active[:, :, None].expand_as(frames)
        out = []
        for xi, ai, mi, fi, acti in zip(x, a, m, frames, act):
            v = fi[acti]
            rms = v.square().mean().sqrt().clamp_min(EPS)
            crowd = ((ai >= 0.9 * mi).sum() + 1.0) / ((ai >= 0.5 * mi).sum() + 1.0)
            c = v - v.mean()
            kurt = (c ** 4).mean() / (c.square().mean().square() + EPS)
            out.append(torch.stack([20 * torch.log10(mi / rms), torch.log(crowd), torch.log(kurt + EPS)]))
        bright = _db(P[:, self.freqs >= BRIGHT_HZ].sum(1)) - level                   # (b, t)
        corr = []
        for li, bi, ac in zip(level, bright, active):
            lv, bv = li[ac], bi[ac]
            lv, bv = lv - lv.mean(), bv - bv.mean()
            corr.append((lv * bv).sum() / ((lv.square().sum() * bv.square().sum()).sqrt() + EPS))
        return torch.cat([torch.stack(out), torch.stack(corr)[:, None]], dim=1)

    def _reverb(self, L, d):
        band_floor = _quantile(L, FLOOR_Q, dim=2)                                   # (b, bands)
        prev_active = (L - band_floor[:, :, None]) >= ACTIVE_ABOVE_FLOOR_DB
        prev_active = torch.cat([torch.zeros_like(prev_active[:, :, :1]), prev_active[:, :, :-1]], dim=2)
        fall = _masked_quantile(d, prev_active, FALL_Q)
        rise = _masked_quantile(d, torch.ones_like(prev_active), 1.0 - FALL_Q)
        return torch.stack([fall, rise], dim=1)

    def _noise(self, L):
        q = torch.quantile(L, torch.tensor([0.05, 0.1, 0.3, 0.95], device=L.device), dim=2)  # (4, b, bands)
        snr = q[3] - q[1]
        return torch.stack([snr.median(1).values, _quantile(snr, SNR_BAND_Q, dim=1),
                            (q[2] - q[0]).median(1).values], dim=1)

    def _bandwidth(self, P, active):
        w = active.float()[:, None]
        A = _db((P * w).sum(2) / w.sum(2).clamp_min(1.0))                           # (b, bins)
        span = max(1, round(EDGE_SPAN_HZ / (self.sr / self.n_fft)))
        smooth = F.avg_pool1d(A[:, None], 5, 1, 2, count_include_pad=False)[:, 0]
        sel = (self.freqs >= EDGE_LO_HZ) & (self.freqs <= min(EDGE_HI_HZ, self.sr / 2 - EDGE_SPAN_HZ))
        idx = torch.nonzero(sel)[:, 0]
        drop = smooth[:, idx] - smooth[:, (idx + span).clamp(max=smooth.shape[1] - 1)]
        hi = min(7000.0, 0.45 * self.sr)
        return torch.stack([drop.amax(1), _band_mean(A, self.freqs, 4000.0, hi) - _band_mean(A, self.freqs, 500.0, 2000.0),
                            _band_mean(A, self.freqs, 80.0, 250.0) - _band_mean(A, self.freqs, 500.0, 1000.0)], dim=1)

    def _tones(self, x):
        n = self.tone_fft
        if x.shape[-1] <= n // 2:
            x = F.pad(x, (0, n // 2 + 1 - x.shape[-1]))
        out = []
        for i in range(0, x.shape[0], 4):
            P = torch.stft(x[i:i + 4], n, n // 4, window=self.tone_window, center=True,
                           return_complex=True).abs().square()                       # (b, bins, t)
            power = P
            P = _db(P)
            b, f, t = P.shape
            flat = P.permute(0, 2, 1).reshape(b * t, 1, f)
            ref = F.conv1d(F.pad(flat, (TONE_RING, TONE_RING), mode="replicate"), self.ring).reshape(b, t, f)
            Q = P - ref.permute(0, 2, 1)
            stable = torch.quantile(Q, TONE_Q, dim=2)                                # (b, bins)
            freqs = torch.arange(f, device=x.device) * (self.sr / n)
            band = (freqs >= TONE_LO_HZ) & (freqs <= TONE_HI_HZ)
            stable = stable[:, band]
            lines = (stable > TONE_DB).float()
            line_power = (power[:, band].median(dim=2).values * lines).sum(1)
            total = power.sum(1).mean(1)
            level = (_db(line_power) - _db(total)).clamp_min(TONE_FLOOR_DB)
            out.append(torch.stack([stable.amax(1), torch.log1p(lines.sum(1)), level], dim=1))
        return torch.cat(out)

    def _holes(self, P, active):
        sel = (self.freqs >= 300.0) & (self.freqs <= min(4000.0, 0.45 * self.sr))
        D = _db(P[:, sel])
        low = D < (D.amax(1, keepdim=True) - HOLE_DB)
        share = (low & active[:, None]).float().sum((1, 2)) / (active.float().sum(1) * sel.sum()).clamp_min(1.0)
        return torch.log1p(share / SHARE_SCALE)[:, None]
