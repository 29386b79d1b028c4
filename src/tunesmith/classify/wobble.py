"""Speed wobble (wow) on sustained tones: how much of a window's pitch motion is one slow sinusoid.

Wow (a tape or turntable running at a slowly varying speed) multiplies every frequency by
``1 + d sin(2 pi f t)`` with ``f`` about 0.3-2 Hz. On music held on steady notes this is a clear cue:
every partial drifts up and down together, periodically, across note changes. The measure:

1. a magnitude spectrogram (2048-point frames, 8-ms hop, 16 kHz) resampled onto a 5-cent log-frequency
   grid from 150 Hz to 4 kHz;
2. the shift along that grid between frames 32 ms apart (the lag of the best normalised
   cross-correlation, +-50 cents, refined by a parabola): a track of pitch *motion* in cents;
3. only frames whose two spectra match well (correlation above :data:`MATCH`) count: note changes,
   onsets and noise drop out;
4. the track is smoothed over 200 ms (vibrato at 4-8 Hz drops out) and the share of its power that the
   best single sinusoid of :data:`RATE_HZ` explains is the *wobble* (0-1).

Measured on the development side (``goodbad_dev1``-``5`` clean windows: 309 LibriSpeech, 59 FSDD, 52
violin: at most 0.279 / 0.193 / 0.232), 10-s windows of the shipped FluidR3 demo renders (``data/songs``,
``data/pairs*``: at most 0.272) and 20 synthetic singers with vibrato and per-note drift (0.174); 0.481-0.911
on the 7 development violin windows with wow. Wow on speech is *not* caught (0.08-0.25,
inside the clean range): speech's own intonation moves hundreds of cents, a 0.5-2 % wobble tens.
:func:`wow_probability` maps the wobble to a probability of "bad" that is 0 up to :data:`WOBBLE_LO`
and 1 from :data:`WOBBLE_HI`, and 0 when less than :data:`MIN_COVERAGE` of the frames match (noise).
"""
from __future__ import annotations

import numpy as np

SR = 16000
N_FFT = 2048
HOP = 128                      # 8 ms
LAG_FRAMES = 4                 # spectra compared 32 ms apart
CENTS_STEP = 5.0
FMIN, FMAX = 150.0, 4000.0
MAX_LAG = 10                   # +-50 cents per 32 ms
MATCH = 0.8                    # normalised correlation a frame pair needs to count
SMOOTH_FRAMES = 25             # 200 ms
RATE_HZ = (0.25, 2.5)
MIN_COVERAGE = 0.5             # share of frames that must match
MIN_FRAMES = 200
WOBBLE_LO, WOBBLE_HI = 0.35, 0.45


def _log_spectrogram(y: np.ndarray) -> np.ndarray:
    n = 1 + (len(y) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP][:n]
    mag = np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)).T        # (bins, frames)
    grid = FMIN * 2 ** (np.arange(int(1200 * np.log2(FMAX / FMIN) / CENTS_STEP)) * CENTS_STEP / 1200)
    idx = grid / (SR / N_FFT)
    i0 = np.floor(idx).astype(int)
    frac = (idx - i0)[:, None]
    spec = mag[i0] * (1 - frac) + mag[i0 + 1] * frac
    return np.log1p(spec / (np.median(mag) + 1e-9))


def wobble(y: np.ndarray, sr: int = SR) -> tuple[float, float]:
    """``(wobble, coverage)`` of a mono window: the share of the smoothed pitch-motion track's power
    explained by one sinusoid of 0.25-2.5 Hz, and the share of frames that took part."""
    y = np.asarray(y, dtype=np.float64)
    if sr != SR:
        import soxr

        y = soxr.resample(y, sr, SR)
    if len(y) < N_FFT + HOP * (MIN_FRAMES + LAG_FRAMES):
        return 0.0, 0.0
    spec = _log_spectrogram(y)
    a, b = spec[:, :-LAG_FRAMES], spec[:, LAG_FRAMES:]
    a = a - a.mean(0)
    b = b - b.mean(0)
    n_bins = spec.shape[0]
    corr = np.stack([(a[:n_bins - lag] * b[lag:]).sum(0) if lag >= 0 else (a[-lag:] * b[:n_bins + lag]).sum(0)
                     for lag in range(-MAX_LAG, MAX_LAG + 1)])
    corr /= np.sqrt((a ** 2).sum(0) * (b ** 2).sum(0)) + 1e-9
    best = corr.argmax(0)
    cols = np.arange(corr.shape[1])
    j = np.clip(best, 1, 2 * MAX_LAG - 1)
    lo, mid, hi = corr[j - 1, cols], corr[j, cols], corr[j + 1, cols]
    offset = np.clip(0.5 * (lo - hi) / (lo - 2 * mid + hi - 1e-12), -0.5, 0.5)
    shift = (j - MAX_LAG + offset) * CENTS_STEP
    ok = (corr.max(0) > MATCH) & (best > 0) & (best < 2 * MAX_LAG)
    kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
    w_sum = np.convolve(ok.astype(float), kernel, mode="same")
    s_sum = np.convolve(np.where(ok, shift, 0.0), kernel, mode="same")
    keep = w_sum > 0.3
    coverage = float(keep.mean())
    if keep.sum() < MIN_FRAMES:
        return 0.0, coverage
    track = np.where(keep, s_sum / np.maximum(w_sum, 1e-9), 0.0)
    t = np.arange(len(track)) * HOP / SR
    rates = np.arange(RATE_HZ[0], RATE_HZ[1] + 1e-9, 0.05)
    line = np.abs(np.exp(-2j * np.pi * rates[:, None] * t[None, :]) @ track) ** 2 * 2 / keep.sum()
    return float(line.max() / ((track ** 2).sum() + 1e-12)), coverage


def wow_probability(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """``(n,)`` probability that each window of ``x`` (``(n, samples)``) has wow on sustained tones."""
    out = np.zeros(len(x))
    for i, y in enumerate(np.asarray(x)):
        w, coverage = wobble(y, sr)
        if coverage >= MIN_COVERAGE:
            out[i] = np.clip((w - WOBBLE_LO) / (WOBBLE_HI - WOBBLE_LO), 0.0, 1.0)
    return out
