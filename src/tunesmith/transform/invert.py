"""Magnitude spectrogram -> waveform: batched fast Griffin-Lim and input-phase inversion.

The transformation model predicts a magnitude only; the phase has to come from
somewhere. Two answers are offered:

* :func:`invert_with_phase` borrows the input recording's phase, frame by frame:
  ``y = ISTFT(|Y| * exp(i * angle(X)))``. One inverse STFT, no iterations.
* :func:`griffinlim` runs the "fast" Griffin-Lim algorithm (Perraudin, Balazs &
  Sondergaard, 2013): alternate projections between the set of spectrograms with
  the target magnitude and the set of consistent STFTs, with a momentum term
  ``alpha`` applied to the consistent estimate,

      c_n = STFT(ISTFT(|Y| * p_{n-1}))
      t_n = c_n - alpha / (1 + alpha) * c_{n-1}
      p_n = t_n / |t_n|

  initialised from a given phase (e.g. the input's: far better than random for
  timbre transfer, since the pitch and timing are shared) or at random.

Everything is torch, batched over a leading dimension and device-agnostic: a
``(batch, n_freq, frames)`` magnitude gives ``(batch, samples)``. numpy inputs
are accepted and give numpy outputs. STFT conventions follow librosa
(``center=True``, zero padding, periodic Hann window, no normalisation), so
magnitudes from ``librosa.stft`` can be inverted here and vice versa.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["stft", "istft", "griffinlim", "griffinlim_steps", "invert_with_phase", "DEFAULT_MOMENTUM",
           "DEFAULT_N_ITER"]

#: Momentum of fast Griffin-Lim (0 gives the classic algorithm). 0.99 is the value Perraudin et al. recommend.
DEFAULT_MOMENTUM = 0.99
#: Default number of Griffin-Lim iterations.
DEFAULT_N_ITER = 32
#: Smallest modulus divided by when normalising a complex STFT to unit phasors.
_PHASE_EPS = 1e-8


def _window(n_fft: int, win_length: int | None, window: str, device, dtype) -> torch.Tensor:
    win_length = win_length or n_fft
    if window != "hann":
        raise ValueError(f"only the 'hann' window is supported, got {window!r}")
    return torch.hann_window(win_length, periodic=True, device=device, dtype=dtype)


def stft(y: torch.Tensor, n_fft: int = 2048, hop_length: int | None = None, win_length: int | None = None,
         window: str = "hann", center: bool = True) -> torch.Tensor:
    """Complex STFT ``(..., 1 + n_fft // 2, frames)`` of ``y`` ``(..., samples)``, as ``librosa.stft``.

    Frames are centred (``center=True`` pads ``n_fft // 2`` zeros on each side)
    and unnormalised: a full-scale sine of amplitude ``a`` peaks near
    ``a * win_length / 4``.
    """
    from tunesmith.features import stft as framed_stft

    hop_length = hop_length or n_fft // 4
    shape = y.shape
    win = _window(n_fft, win_length, window, y.device, y.dtype)
    if win.shape[-1] < n_fft:  # a shorter window sits in the middle of the frame, as in librosa
        left = (n_fft - win.shape[-1]) // 2
        win = torch.nn.functional.pad(win, (left, n_fft - win.shape[-1] - left))
    S = framed_stft(y.reshape(-1, shape[-1]), n_fft, hop_length, win, center)
    return S.reshape(*shape[:-1], *S.shape[-2:])


def istft(S: torch.Tensor, hop_length: int | None = None, win_length: int | None = None,
          window: str = "hann", center: bool = True, length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft` by weighted overlap-add: ``(..., n_freq, frames)`` -> ``(..., samples)``.

    ``y[n] = sum_t w[n - t H] x_t[n - t H] / sum_t w[n - t H]^2`` with ``x_t`` the inverse
    real FFT of frame ``t`` (the least-squares inverse of Griffin & Lim, as ``torch.istft``
    and ``librosa.istft``). When the hop divides ``n_fft`` (the usual 4x overlap) the sum runs
    over ``n_fft / hop`` shifted blocks, about twice as fast as ``torch.istft``.
    """
    n_fft = 2 * (S.shape[-2] - 1)
    hop_length = hop_length or n_fft // 4
    shape = S.shape
    flat = S.reshape(-1, *shape[-2:])
    real_dtype = torch.float64 if flat.dtype == torch.complex128 else torch.float32
    win = _window(n_fft, win_length, window, S.device, real_dtype)
    if length is None:
        length = (shape[-1] - 1) * hop_length if center else None
    if center and win.shape[-1] == n_fft and n_fft % hop_length == 0 and length is not None:
        y = _overlap_add_istft(flat, win, hop_length, length)
    else:
        y = torch.istft(flat, n_fft, hop_length=hop_length, win_length=win_length or n_fft, window=win,
                        center=center, length=length)
    return y.reshape(*shape[:-2], y.shape[-1])


def _overlap_add_istft(S: torch.Tensor, win: torch.Tensor, hop: int, length: int) -> torch.Tensor:
    """Centred ISTFT of ``S`` ``(batch, n_freq, frames)`` for a hop that divides ``n_fft``."""
    n_fft = win.shape[-1]
    r = n_fft // hop
    frames = torch.fft.irfft(S.transpose(-1, -2), n=n_fft).mul_(win)    # (batch, frames, n_fft)
    b, t = frames.shape[0], frames.shape[1]
    blocks = frames.reshape(b, t, r, hop)
    out = frames.new_zeros(b, t + r - 1, hop)
    for k in range(r):  # block k of frame i lands at block i + k of the signal
        out[:, k:k + t] += blocks[:, :, k]
    y = (out * _inverse_envelope(win, hop, t)).reshape(b, -1)
    y = y[:, n_fft // 2: n_fft // 2 + length]
    if y.shape[-1] < length:
        y = torch.nn.functional.pad(y, (0, length - y.shape[-1]))
    return y


_ENVELOPES: dict = {}


def _inverse_envelope(win: torch.Tensor, hop: int, n_frames: int) -> torch.Tensor:
    """``1 / sum_t w[n - t H]^2`` as ``(n_frames + n_fft / hop - 1, hop)`` blocks (1 where the sum is 0).

    Griffin-Lim inverts the same frame count many times over: the last few are cached.
    """
    key = (win.shape[-1], hop, n_frames, win.dtype, win.device)
    env = _ENVELOPES.get(key)
    if env is None:
        r = win.shape[-1] // hop
        w2 = (win * win).reshape(r, hop)
        env = win.new_zeros(n_frames + r - 1, hop)
        for k in range(r):
            env[k:k + n_frames] += w2[k]
        env = torch.where(env > 1e-11, env.reciprocal(), torch.ones_like(env))
        if len(_ENVELOPES) >= 16:
            _ENVELOPES.pop(next(iter(_ENVELOPES)))
        _ENVELOPES[key] = env
    return env


def _as_tensor(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x)), True
    return x, False


def _unit_phase(phase: torch.Tensor) -> torch.Tensor:
    """A complex unit-modulus tensor from either angles (real) or a complex spectrogram."""
    if torch.is_complex(phase):
        unit = torch.sgn(phase)
        # Digital silence has no phase: use angle 0 there so a magnitude put on it is not lost.
        return torch.where(phase == 0, torch.ones_like(unit), unit)
    return torch.polar(torch.ones_like(phase), phase)


def invert_with_phase(magnitude, phase, *, hop_length: int | None = None, win_length: int | None = None,
                      window: str = "hann", center: bool = True, length: int | None = None):
    """Waveform whose STFT has ``magnitude`` and, approximately, the given ``phase``.

    Parameters
    ----------
    magnitude : array or tensor ``(..., n_freq, frames)``, linear STFT magnitude.
    phase : same shape; either angles in radians or a complex STFT (e.g. the
        input recording's) whose angles are used.
    length : number of output samples (default ``(frames - 1) * hop_length``).

    Returns
    -------
    ``(..., samples)`` float32 waveform, numpy if ``magnitude`` was numpy.
    """
    mag, was_np = _as_tensor(magnitude)
    ph, _ = _as_tensor(phase)
    mag = mag.to(torch.float32)
    ph = ph.to(mag.device)
    if ph.shape != mag.shape:
        raise ValueError(f"phase shape {tuple(ph.shape)} differs from magnitude shape {tuple(mag.shape)}")
    y = istft(mag * _unit_phase(ph).to(torch.complex64), hop_length, win_length, window, center, length)
    return y.numpy() if was_np else y


def griffinlim_steps(magnitude: torch.Tensor, phase: torch.Tensor, n_iter: int, *, hop_length: int | None = None,
                     momentum: float = DEFAULT_MOMENTUM, length: int | None = None) -> torch.Tensor:
    """Differentiable fast Griffin-Lim: ``n_iter`` unrolled iterations, returns the waveform.

    The same iteration as :func:`griffinlim` (centred frames, Hann window,
    ``win_length = n_fft``) written without ``no_grad``, so a training loss on the
    waveform reaches the magnitude through the iterations. ``phase`` is the
    starting phase (a complex spectrogram or unit phasors, e.g. the input's).
    """
    n_fft = 2 * (magnitude.shape[-2] - 1)
    hop_length = hop_length or n_fft // 4
    n_samples = length if length is not None else (magnitude.shape[-1] - 1) * hop_length
    unit = _gl_iterations(magnitude, _unit_phase(phase), n_iter, hop_length, None, "hann", True, n_samples, momentum)
    return istft(magnitude * unit, hop_length, length=n_samples)


def _gl_iterations(mag: torch.Tensor, phase: torch.Tensor, n_iter: int, hop_length: int, win_length, window: str,
                   center: bool, n_samples: int, momentum: float, fixed_frames: int = 0) -> torch.Tensor:
    """``n_iter`` fast Griffin-Lim updates of the unit phasors ``phase``; returns the final phasors.

    The one iteration behind :func:`griffinlim` (under ``no_grad``) and :func:`griffinlim_steps`
    (differentiable). ``fixed_frames`` keeps the first frames' starting phase throughout.
    The loop carries the spectrogram ``|Y| t / |t|`` itself, formed in one pass by
    :func:`_with_magnitude`; the phasors are normalised once, at the end.
    """
    if n_iter <= 0:
        return phase
    n_fft = 2 * (mag.shape[-2] - 1)
    n_frames = mag.shape[-1]
    fixed = (mag[..., :fixed_frames] * phase[..., :fixed_frames]) if fixed_frames else None
    beta = momentum / (1.0 + momentum)
    spec, prev = mag * phase, None
    for _ in range(n_iter):
        y = istft(spec, hop_length, win_length, window, center, n_samples)
        rebuilt = stft(y, n_fft, hop_length, win_length, window, center)[..., :n_frames]
        if rebuilt.shape[-1] < n_frames:  # length cut the last frame off: keep it as it was
            rebuilt = torch.cat([rebuilt, spec[..., rebuilt.shape[-1]:]], dim=-1)
        # the momentum step on real views: complex add is several times slower on CPU
        t = rebuilt if prev is None else torch.view_as_complex(
            torch.add(torch.view_as_real(rebuilt), torch.view_as_real(prev), alpha=-beta))
        prev = rebuilt
        spec = _with_magnitude(t, mag)
        if fixed is not None:
            spec = torch.cat([fixed, spec[..., fixed_frames:]], dim=-1)
    phase_out = _with_magnitude(t, torch.ones_like(mag))
    if fixed_frames:
        phase_out = torch.cat([phase[..., :fixed_frames], phase_out[..., fixed_frames:]], dim=-1)
    return phase_out


def _with_magnitude(t: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """``mag * t / |t|`` (0 where ``t`` is 0), from ``re^2 + im^2`` and one reciprocal square root.

    Complex ``abs``, ``sgn`` and division are several times slower than this on CPU. Moduli
    below ``_PHASE_EPS`` are raised to it, which keeps the gradient finite.
    """
    re, im = t.real, t.imag
    if t.requires_grad or mag.requires_grad:
        scale = mag * (re * re + im * im).clamp_min(_PHASE_EPS ** 2).rsqrt()
    else:
        scale = (re * re).addcmul_(im, im).clamp_min_(_PHASE_EPS ** 2).rsqrt_().mul_(mag)
    return t * scale


@torch.no_grad()
def griffinlim(magnitude, *, n_iter: int = DEFAULT_N_ITER, hop_length: int | None = None,
               win_length: int | None = None, window: str = "hann", center: bool = True,
               length: int | None = None, momentum: float = DEFAULT_MOMENTUM, init=None,
               fixed_frames: int = 0, return_phase: bool = False, seed: int | None = None):
    """Fast Griffin-Lim: a waveform whose STFT magnitude approaches ``magnitude``.

    Parameters
    ----------
    magnitude : array or tensor ``(..., n_freq, frames)``, linear STFT magnitude
        (``n_fft = 2 * (n_freq - 1)``). Leading dimensions are a batch, processed
        in one go.
    n_iter : number of projection iterations (0 returns the initial estimate).
    momentum : ``alpha`` of fast Griffin-Lim; 0 is the classic algorithm. Values
        above 1 may diverge.
    init : initial phase: ``None`` or ``"random"`` (uniform angles, ``seed``),
        ``"zeros"``, or angles / a complex STFT of the same shape (e.g. the input's).
    fixed_frames : keep the phase of the first ``fixed_frames`` frames at ``init``
        throughout (used by chunked conversion to continue the previous chunk's
        phase seamlessly).
    return_phase : also return the final unit-modulus complex phase.

    Returns
    -------
    waveform ``(..., samples)`` (numpy if ``magnitude`` was numpy), and the phase
    when ``return_phase``.
    """
    mag, was_np = _as_tensor(magnitude)
    mag = mag.to(torch.float32)
    if momentum < 0:
        raise ValueError(f"momentum must be >= 0, got {momentum}")
    if isinstance(init, str) or init is None:
        kind = init or "random"
        if kind == "random":
            gen = torch.Generator(device="cpu")
            gen.manual_seed(0 if seed is None else int(seed))
            angles = torch.rand(mag.shape, generator=gen).to(mag.device) * (2 * math.pi)
            phase = torch.polar(torch.ones_like(mag), angles)
        elif kind == "zeros":
            phase = torch.ones_like(mag, dtype=torch.complex64)
        else:
            raise ValueError(f"init must be 'random', 'zeros' or a phase array, got {init!r}")
    else:
        ph, _ = _as_tensor(init)
        if ph.shape != mag.shape:
            raise ValueError(f"init phase shape {tuple(ph.shape)} differs from magnitude shape {tuple(mag.shape)}")
        phase = _unit_phase(ph.to(mag.device)).to(torch.complex64)
    n_fft = 2 * (mag.shape[-2] - 1)
    hop_length = hop_length or n_fft // 4
    n_samples = length if length is not None else (mag.shape[-1] - 1) * hop_length
    phase = _gl_iterations(mag, phase, n_iter, hop_length, win_length, window, center, n_samples, momentum,
                           fixed_frames)
    y = istft(mag * phase, hop_length, win_length, window, center, n_samples)
    y = y.numpy() if was_np else y
    return (y, phase) if return_phase else y
