"""A broad, randomised family of recording faults, for training detectors of bad takes.

:func:`degrade` spoils a clean mono signal with one fault drawn from :data:`FAMILIES` (or two, with
probability ``combo``), each with random parameters over wide ranges, and says what it did
(:class:`Fault`). :func:`nuisance` makes the harmless changes that good and bad takes both go
through (level, a gentle tilt of the spectrum, polarity), so a detector cannot learn that "processed"
means "bad". The families and their ranges are written for generality, not for one benchmark's
generator: saturation has seven curve shapes, noise any colour from blue to brown or other voices,
tones any frequency, dropouts any depth and fade, speed changes any rate from slow wow to flutter.

Families (what a listener would call the take):

``saturation``  soft curves (tanh, arctan, algebraic, cubic), hard clipping, asymmetric "tube" and
                rectifying curves, 3-28 dB of drive, sometimes a dry blend or a loudspeaker-like low-pass after.
``reverb``      a synthetic room: direct sound, early reflections and an exponentially decaying tail
                whose high band dies sooner, RT60 0.4-3.5 s, direct-to-reverberant -12 to +3 dB (to -1 dB below 1 s).
``noise``       stationary noise of spectral slope -1 to +2 (blue to brown), noise that swells and fades,
                or a babble of other signals, 0-18 dB SNR.
``band``        low-pass (1.2-6.5 kHz), high-pass (180-1200 Hz) or band-pass (telephone-like) filters of
                order 2-10.
``codec``       coarse coding: spectral cells under a per-frame threshold removed with a cut of the top band,
                bit-depth reduction, mu-law at low resolution, or decimation without an anti-alias filter.
``tone``        a stable tone at 30 Hz-6 kHz with up to ten harmonics (mains buzz, whine, feedback), -28 to -3 dB
                against the signal, optionally drifting slowly.
``dropout``     1-5 losses of 40-900 ms, 12-60 dB down or to digital zero, with fades of 0-80 ms, on sounding audio.
``level``       abrupt or fast gain steps of 5-20 dB, or pumping (gain modulated by 4-14 dB at 0.4-8 Hz).
``skip``        splices (segments of 20-400 ms removed), stutters (a segment repeated), or packet loss
                (10-40 ms frames zeroed or repeated).
``pitch``       speed changes: wow (0.2-3 Hz, 0.3-3 %), flutter (4-25 Hz, 0.05-1 %) or a random drift.
``clicks``      impulsive clicks and crackle, or single-sample digital spikes.

:func:`ambience` is what is *not* a fault: an ordinary short room (RT60 0.15-0.7 s, direct sound ahead
by 1-12 dB) with, usually, a quiet background 25-45 dB down; good and bad examples may both have it.

Every function takes and returns ``float64`` samples; the level of the result is arbitrary (a
detector normalises its input). Everything random comes from the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FAMILIES", "Fault", "ambience", "degrade", "nuisance", "apply_family"]

#: The ``reverb`` family's wettest direct-to-reverberant ratio (dB) for long (RT60 >= 1 s) and short rooms,
#: and the ``noise`` family's highest SNR: beyond :func:`ambience`, the ordinary room a good take may have.
REVERB_DRR_MAX_LONG, REVERB_DRR_MAX_SHORT = 3.0, -1.0
NOISE_SNR_MAX_DB = 18.0
AMBIENCE_RT60_S, AMBIENCE_DRR_DB, AMBIENCE_SNR_DB = (0.15, 0.7), (1.0, 12.0), (25.0, 45.0)
FAMILIES = ("saturation", "reverb", "noise", "band", "codec", "tone", "dropout", "level", "skip", "pitch",
            "clicks")
EPS = 1e-12


@dataclass
class Fault:
    """What :func:`degrade` did: the families (one, or two for a combination) and their parameters."""

    families: list[str] = field(default_factory=list)
    params: list[dict] = field(default_factory=list)

    def describe(self) -> str:
        return "; ".join(f"{f}(" + ", ".join(f"{k}={v}" for k, v in p.items()) + ")"
                         for f, p in zip(self.families, self.params))


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(y ** 2)) + EPS)


def _loguniform(rng, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _active_positions(y: np.ndarray, sr: int, rng, count: int, margin_s: float = 0.05) -> list[int]:
    """Sample positions where the signal sounds (frame level within 20 dB of the loudest 50 ms)."""
    hop = max(1, int(0.05 * sr))
    n = len(y) // hop
    if n < 3:
        return [int(rng.integers(0, max(1, len(y))))] * count
    lev = 10 * np.log10(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1) + EPS)
    ok = np.flatnonzero(lev >= lev.max() - 20.0)
    m = int(margin_s * sr) // hop
    ok = ok[(ok >= m) & (ok < n - m)] if len(ok) > 2 * m + 1 else ok
    if len(ok) == 0:
        ok = np.arange(n)
    return sorted(int(ok[rng.integers(len(ok))]) * hop + int(rng.integers(hop)) for _ in range(count))


def _coloured(n: int, slope: float, rng) -> np.ndarray:
    """Gaussian noise whose power falls as ``f ** -slope`` (0 white, 1 pink, 2 brown, -1 blue), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec * f ** (-slope / 2.0), n)
    return x / _rms(x)


def _smooth_random(n: int, sr: int, rate_hz: float, rng) -> np.ndarray:
    """A random curve of unit RMS varying at about ``rate_hz``."""
    knots = max(4, int(n / sr * rate_hz) + 4)
    v = rng.standard_normal(knots)
    curve = np.interp(np.linspace(0, knots - 1, n), np.arange(knots), v)
    return curve / _rms(curve)


def _sos(kind: str, fc, order: int, sr: int):
    from scipy.signal import butter

    return butter(order, fc, btype=kind, fs=sr, output="sos")


def _filter(y: np.ndarray, sos) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(sos, y)


# ------------------------------------------------------------------ the families
def saturation(y, sr, rng):
    curve = str(rng.choice(["tanh", "arctan", "algebraic", "cubic", "hard", "tube", "rectify"]))
    drive = rng.uniform(3.0, 28.0)
    g = 10 ** (drive / 20) / (np.max(np.abs(y)) + EPS)
    x = g * y
    if curve == "tanh":
        z = np.tanh(x)
    elif curve == "arctan":
        z = np.arctan(x) * (2 / np.pi)
    elif curve == "algebraic":
        z = x / np.sqrt(1 + x ** 2)
    elif curve == "cubic":
        c = np.clip(x, -1.0, 1.0)
        z = c - c ** 3 / 3
    elif curve == "hard":
        z = np.clip(x, -1.0, 1.0)
    elif curve == "tube":
        bias = rng.uniform(0.1, 0.8)
        z = np.tanh(x + bias) - np.tanh(bias)
    else:  # rectifying: the two half-waves saturate differently
        k = rng.uniform(0.2, 0.7)
        z = np.where(x > 0, np.tanh(x), k * np.tanh(x / k))
    p = {"curve": curve, "drive_db": round(drive, 1)}
    if rng.random() < 0.2:  # parallel (dry/wet) blend
        wet = rng.uniform(0.5, 0.9)
        z = wet * z / _rms(z) + (1 - wet) * y / _rms(y)
        p["wet"] = round(wet, 2)
    if rng.random() < 0.25:  # a small loudspeaker after the amplifier
        fc = rng.uniform(3000, 7000)
        z = _filter(z, _sos("lowpass", min(fc, 0.45 * sr), 2, sr))
        p["lowpass_hz"] = int(fc)
    return z - np.mean(z), p


def _room(sr: int, rt60: float, drr_db: float, rng) -> np.ndarray:
    n = int(min(1.3 * rt60, 4.0) * sr)
    t = np.arange(n) / sr
    lo = _filter(rng.standard_normal(n), _sos("lowpass", min(2500.0, 0.45 * sr), 2, sr))
    hi = _filter(rng.standard_normal(n), _sos("highpass", min(2500.0, 0.45 * sr), 2, sr))
    hi_rt = rt60 * rng.uniform(0.4, 0.9)
    tail = lo * 10 ** (-3 * t / rt60) + hi * 10 ** (-3 * t / hi_rt)
    onset = int(rng.uniform(0.003, 0.02) * sr)
    tail[:onset] = 0.0
    for _ in range(int(rng.integers(3, 12))):  # early reflections
        k = int(rng.uniform(0.002, 0.06) * sr)
        if k < n:
            tail[k] += rng.uniform(-0.7, 0.7) * math.sqrt(np.sum(tail ** 2) / max(1, n)) * 30
    tail *= 10 ** (-drr_db / 20) / math.sqrt(np.sum(tail ** 2) + EPS)
    tail[0] = 1.0
    return tail


def reverb(y, sr, rng):
    from scipy.signal import fftconvolve

    rt60 = _loguniform(rng, 0.4, 3.5)
    drr = rng.uniform(-12.0, REVERB_DRR_MAX_LONG if rt60 >= 1.0 else REVERB_DRR_MAX_SHORT)
    z = fftconvolve(y, _room(sr, rt60, drr, rng))[: len(y)]
    return z, {"rt60_s": round(rt60, 2), "drr_db": round(drr, 1)}


def noise(y, sr, rng, others: Callable[[int], np.ndarray] | None = None):
    kind = str(rng.choice(["stationary", "stationary", "swelling", "babble"] if others else
                          ["stationary", "stationary", "swelling"]))
    snr = rng.uniform(0.0, NOISE_SNR_MAX_DB)
    n = len(y)
    if kind == "babble":
        count = int(rng.integers(3, 9))
        v = sum(others(n) * 10 ** (rng.uniform(-6, 0) / 20) for _ in range(count))
        v = v / _rms(v)
        p = {"kind": kind, "voices": count}
    else:
        slope = rng.uniform(-1.0, 2.0)
        v = _coloured(n, slope, rng)
        p = {"kind": kind, "slope": round(slope, 2)}
        if kind == "swelling":
            v = v * np.exp(0.7 * _smooth_random(n, sr, rng.uniform(0.2, 2.0), rng))
            v = v / _rms(v)
    p["snr_db"] = round(snr, 1)
    return y + v * _rms(y) / 10 ** (snr / 20), p


def band(y, sr, rng):
    kind = str(rng.choice(["lowpass", "highpass", "bandpass"]))
    order = int(rng.integers(2, 11))
    nyq = 0.45 * sr
    if kind == "lowpass":
        fc = _loguniform(rng, 1200.0, min(6500.0, nyq))
        return _filter(y, _sos("lowpass", fc, order, sr)), {"kind": kind, "hz": int(fc), "order": order}
    if kind == "highpass":
        fc = _loguniform(rng, 180.0, 1200.0)
        return _filter(y, _sos("highpass", fc, order, sr)), {"kind": kind, "hz": int(fc), "order": order}
    lo, hi = rng.uniform(200.0, 600.0), min(rng.uniform(2600.0, 4500.0), nyq)
    order = max(2, order // 2)
    return _filter(y, _sos("bandpass", [lo, hi], order, sr)), {"kind": kind, "lo_hz": int(lo), "hi_hz": int(hi),
                                                               "order": order}


def codec(y, sr, rng):
    kind = str(rng.choice(["spectral", "spectral", "bits", "mulaw", "alias"]))
    if kind == "spectral":
        from scipy.signal import istft, stft

        n_fft = int(rng.choice([256, 512, 1024]))
        _, _, s = stft(y, fs=sr, nperseg=n_fft, noverlap=n_fft // 2)
        mag = np.abs(s)
        drop_db = rng.uniform(18.0, 45.0)
        keep = 20 * np.log10(mag + EPS) >= 20 * np.log10(mag.max(axis=0, keepdims=True) + EPS) - drop_db
        cut = rng.uniform(3500.0, min(8000.0, 0.5 * sr))
        keep[np.fft.rfftfreq(n_fft, 1 / sr) > cut] = False
        _, z = istft(s * keep, fs=sr, nperseg=n_fft, noverlap=n_fft // 2)
        z = np.pad(z, (0, max(0, len(y) - len(z))))[: len(y)]
        return z, {"kind": kind, "n_fft": n_fft, "threshold_db": round(drop_db, 1), "cut_hz": int(cut)}
    peak = np.max(np.abs(y)) + EPS
    x = y / peak
    if kind == "bits":
        bits = int(rng.integers(3, 9))
        q = 2.0 ** (1 - bits)
        return np.round(x / q) * q * peak, {"kind": kind, "bits": bits}
    if kind == "mulaw":
        mu = float(rng.choice([63.0, 127.0, 255.0]))
        levels = int(rng.integers(16, 128))
        c = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
        c = np.round(c * levels) / levels
        return np.sign(c) * ((1 + mu) ** np.abs(c) - 1) / mu * peak, {"kind": kind, "mu": int(mu), "levels": levels}
    factor = int(rng.integers(2, 5))  # decimate without an anti-alias filter, then interpolate back
    from scipy.signal import resample_poly

    z = resample_poly(y[::factor], factor, 1)[: len(y)]
    return np.pad(z, (0, max(0, len(y) - len(z)))), {"kind": kind, "factor": factor}


def tone(y, sr, rng):
    n = len(y)
    t = np.arange(n) / sr
    f0 = _loguniform(rng, 30.0, 6000.0)
    harmonics = max(1, min(int(rng.integers(1, 11)), int(0.45 * sr / f0)))
    tilt = rng.uniform(0.0, 12.0)  # dB per harmonic
    drift = rng.uniform(0.0, 0.01) if rng.random() < 0.3 else 0.0
    phase_f = 2 * np.pi * f0 * (t + drift * np.cumsum(_smooth_random(n, sr, 0.3, rng)) / sr)
    z = sum(10 ** (-tilt * (k - 1) / 20) * np.sin(k * phase_f + rng.uniform(0, 2 * np.pi))
            for k in range(1, harmonics + 1))
    level = rng.uniform(-28.0, -3.0)
    z = z / _rms(z) * _rms(y) * 10 ** (level / 20)
    return y + z, {"f0_hz": round(f0, 1), "harmonics": harmonics, "level_db": round(level, 1),
                   "drift": round(drift, 4)}


def dropout(y, sr, rng):
    z = y.copy()
    count = int(rng.integers(1, 6))
    zero = rng.random() < 0.3
    depth = rng.uniform(12.0, 60.0)
    for pos in _active_positions(y, sr, rng, count):
        dur = int(_loguniform(rng, 0.04, 0.9) * sr)
        fade = int(rng.uniform(0.0, 0.08) * sr)
        end = min(len(y), pos + dur)
        floor = 0.0 if zero else 10 ** (-depth / 20)
        g = np.full(end - pos, floor)
        f = min(fade, (end - pos) // 2)
        if f > 0:
            ramp = np.linspace(1.0, floor, f)
            g[:f], g[-f:] = ramp, ramp[::-1]
        z[pos:end] *= g
    return z, {"count": count, "depth_db": "zero" if zero else round(depth, 1)}


def level(y, sr, rng):
    n = len(y)
    if rng.random() < 0.7:
        count = int(rng.integers(1, 5))
        gain_db = np.zeros(n)
        steps = []
        for pos in _active_positions(y, sr, rng, count):
            step = rng.uniform(5.0, 20.0) * rng.choice([-1.0, 1.0])
            width = int(rng.uniform(0.0, 0.03) * sr)
            ramp = np.clip((np.arange(n) - pos) / max(1, width), 0.0, 1.0)
            gain_db += step * ramp
            steps.append(round(float(step), 1))
        gain_db -= np.median(gain_db)
        return y * 10 ** (gain_db / 20), {"kind": "steps", "steps_db": steps}
    depth = rng.uniform(4.0, 14.0)
    rate = _loguniform(rng, 0.4, 8.0)
    t = np.arange(n) / sr
    mod = np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)) if rng.random() < 0.5 else \
        np.clip(_smooth_random(n, sr, rate, rng), -1.5, 1.5) / 1.5
    return y * 10 ** (depth / 2 * mod / 20), {"kind": "pumping", "depth_db": round(depth, 1), "rate_hz": round(rate, 2)}


def skip(y, sr, rng):
    kind = str(rng.choice(["splice", "splice", "stutter", "packets"]))
    n = len(y)
    if kind == "packets":
        frame = int(rng.uniform(0.01, 0.04) * sr)
        share = rng.uniform(0.02, 0.12)
        repeat = rng.random() < 0.5
        z = y.copy()
        for k in range(frame, n - frame, frame):
            if rng.random() < share:
                z[k:k + frame] = z[k - frame:k] if repeat else 0.0
        return z, {"kind": kind, "frame_ms": int(1000 * frame / sr), "share": round(share, 3),
                   "fill": "repeat" if repeat else "zero"}
    count = int(rng.integers(1, 7))
    pos = _active_positions(y, sr, rng, count)
    pieces, last = [], 0
    for p in pos:
        if p < last:
            continue
        seg = int(_loguniform(rng, 0.02, 0.4) * sr)
        pieces.append(y[last:p])
        if kind == "stutter":
            pieces += [y[p:p + seg]] * int(rng.integers(1, 4))
            last = p
        else:
            last = min(n, p + seg)
    pieces.append(y[last:])
    z = np.concatenate(pieces)
    if len(z) < n:  # keep the length: carry on with the rest of the signal repeated
        z = np.concatenate([z, y[: n - len(z)]])
    return z[:n], {"kind": kind, "count": count}


def _resample_along(y: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``y`` read at fractional sample ``positions``, by 4x polyphase oversampling and linear interpolation."""
    from scipy.signal import resample_poly

    up = resample_poly(y, 4, 1)
    p = np.clip(positions * 4.0, 0, len(up) - 1)
    return np.interp(p, np.arange(len(up)), up)


def pitch(y, sr, rng):
    n = len(y)
    t = np.arange(n) / sr
    kind = str(rng.choice(["wow", "flutter", "drift"]))
    if kind == "wow":
        rate, depth = _loguniform(rng, 0.2, 3.0), _loguniform(rng, 0.003, 0.03)
        speed = depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    elif kind == "flutter":
        rate, depth = _loguniform(rng, 4.0, 25.0), _loguniform(rng, 0.0005, 0.01)
        speed = depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    else:
        rate, depth = _loguniform(rng, 0.3, 4.0), _loguniform(rng, 0.003, 0.03)
        speed = depth * _smooth_random(n, sr, rate, rng)
    pos = np.arange(n) + np.cumsum(speed)
    pos -= pos[0]
    return _resample_along(y, pos), {"kind": kind, "rate_hz": round(rate, 2), "depth": round(depth, 4)}


def clicks(y, sr, rng):
    z = y.copy()
    n = len(y)
    if rng.random() < 0.6:
        rate = _loguniform(rng, 1.0, 60.0)
        count = max(1, int(rate * n / sr))
        amp = rng.uniform(0.5, 6.0) * np.max(np.abs(y))
        for p in rng.integers(0, n - 64, size=count):
            width = int(rng.integers(1, 48))
            z[p:p + width] += amp * rng.uniform(0.2, 1.0) * rng.choice([-1, 1]) * np.hanning(width + 2)[1:-1]
        return z, {"kind": "clicks", "per_s": round(rate, 1)}
    count = int(rng.integers(3, 40))
    idx = rng.integers(0, n, size=count)
    z[idx] = rng.choice([-1.0, 1.0], size=count) * np.max(np.abs(y)) * rng.uniform(0.8, 1.5)
    return z, {"kind": "spikes", "count": count}


_FUNCS = {"saturation": saturation, "reverb": reverb, "noise": noise, "band": band, "codec": codec, "tone": tone,
          "dropout": dropout, "level": level, "skip": skip, "pitch": pitch, "clicks": clicks}


def apply_family(family: str, y: np.ndarray, sr: int, rng, *, others=None) -> tuple[np.ndarray, dict]:
    """Apply one fault of ``family`` with random parameters; returns the samples and the parameters."""
    if family not in _FUNCS:
        raise ValueError(f"unknown fault family {family!r}; choose from {', '.join(FAMILIES)}")
    y = np.asarray(y, dtype=np.float64)
    if family == "noise":
        z, p = noise(y, sr, rng, others)
    else:
        z, p = _FUNCS[family](y, sr, rng)
    return np.asarray(z, dtype=np.float64), p


def degrade(y: np.ndarray, sr: int, rng: np.random.Generator, *, families=FAMILIES, combo: float = 0.2,
            others: Callable[[int], np.ndarray] | None = None) -> tuple[np.ndarray, Fault]:
    """``y`` with one fault from ``families`` (two different ones with probability ``combo``).

    ``others(n)``, when given, returns ``n`` samples of other clean material (the babble noise).
    """
    count = 2 if (rng.random() < combo and len(families) > 1) else 1
    chosen = [str(f) for f in rng.choice(list(families), size=count, replace=False)]
    fault = Fault()
    z = np.asarray(y, dtype=np.float64)
    for fam in chosen:
        z, p = apply_family(fam, z, sr, rng, others=others)
        fault.families.append(fam)
        fault.params.append(p)
    return z, fault


def ambience(y: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The sound of an ordinary room, which a take may have and still be good: a short, mostly direct room
    (RT60 ``AMBIENCE_RT60_S``, direct-to-reverberant ``AMBIENCE_DRR_DB``) and, usually, a quiet steady
    background of any colour (``AMBIENCE_SNR_DB``). Meeting-room and home recordings sound like this; the
    ``reverb`` and ``noise`` families stay clearly beyond it (wetter rooms, louder noise)."""
    from scipy.signal import fftconvolve

    rt60 = _loguniform(rng, *AMBIENCE_RT60_S)
    drr = rng.uniform(*AMBIENCE_DRR_DB)
    z = fftconvolve(np.asarray(y, dtype=np.float64), _room(sr, rt60, drr, rng))[: len(y)]
    p = {"rt60_s": round(rt60, 2), "drr_db": round(drr, 1)}
    if rng.random() < 0.75:
        snr = rng.uniform(*AMBIENCE_SNR_DB)
        v = _coloured(len(z), rng.uniform(-0.5, 2.0), rng)
        z = z + v * _rms(z) / (_rms(v) * 10 ** (snr / 20))
        p["snr_db"] = round(snr, 1)
    return z, p


def nuisance(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Harmless changes for good and bad takes alike: polarity, a gentle shelf (within +-3 dB) and, one
    time in five, the resampling path of ``pitch`` at constant speed (so its filter is no cue)."""
    z = np.asarray(y, dtype=np.float64)
    if rng.random() < 0.2:
        z = _resample_along(z, np.arange(len(z)) + rng.uniform(0.0, 1.0))
    if rng.random() < 0.5:
        z = -z
    if rng.random() < 0.5:
        fc = _loguniform(rng, 300.0, 4000.0)
        gain = rng.uniform(-3.0, 3.0)
        hi = _filter(z, _sos("highpass", fc, 1, sr))
        z = z + (10 ** (gain / 20) - 1) * hi
    return z
