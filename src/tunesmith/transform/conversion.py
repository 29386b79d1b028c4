"""Convert sounds of any length with a trained model, chunk by chunk, without seams.

The input is cut into chunks of ``chunk_s`` seconds on the STFT frame grid.
Each chunk is analysed with ``context_s`` seconds of real signal on both sides
(so the network and the inversion see what lies beyond the chunk's edges),
converted, inverted, and overlap-added into the output with complementary
linear cross-fades of ``crossfade_s`` at each boundary. With Griffin-Lim, the
frames a chunk shares with the previous one start from -- and keep -- the
previous chunk's final phase, so the waveforms agree where they are blended.

Memory is bounded by the chunk size, not by the input: the waveform itself
(4 bytes per sample: 53 MB for 10 minutes at 22,050 Hz) plus one chunk's
spectrograms; the before/after picture is made from spectrograms pooled to
at most ``max_png_columns`` columns as the chunks go by.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tunesmith.errors import TunesmithError

__all__ = ["Converter", "convert", "convert_file", "INVERSIONS"]

INVERSIONS = ("gl", "input-phase")
#: Columns of the before/after picture (the spectrograms are max-pooled in time to fit).
MAX_PNG_COLUMNS = 1200


@dataclass
class _Pooled:
    """Running max-pool of dB spectrogram frames into a fixed number of columns."""

    total_frames: int
    columns: int
    data: np.ndarray | None = None

    def add(self, first_frame: int, db: np.ndarray) -> None:
        if self.data is None:
            self.data = np.full((db.shape[0], self.columns), -200.0, dtype=np.float32)
        cols = (np.arange(first_frame, first_frame + db.shape[1]) * self.columns) // max(1, self.total_frames)
        cols = np.minimum(cols, self.columns - 1)  # frames past total_frames (padded short inputs) go to the end
        np.maximum.at(self.data.T, cols, db.T)


class Converter:
    """A loaded transformation model plus the inversion settings.

    Parameters
    ----------
    checkpoint : exported checkpoint (``transform.pt``); ``None`` for the shipped default.
    inversion : ``"gl"`` (fast Griffin-Lim from the input's phase) or ``"input-phase"``.
    n_iter, momentum : Griffin-Lim iterations and momentum (defaults from the checkpoint's config).
    chunk_s, context_s, crossfade_s : chunking (seconds); ``crossfade_s`` must not exceed ``2 * context_s``.
    device : torch device for the network and the inversion.
    """

    def __init__(self, checkpoint=None, *, inversion: str | None = None, n_iter: int | None = None,
                 momentum: float | None = None, chunk_s: float = 10.0, context_s: float = 1.5,
                 crossfade_s: float = 0.5, device: str = "cpu"):
        from tunesmith.transform.training import DEFAULT_CONFIG, load_checkpoint

        self.module = checkpoint if isinstance(checkpoint, torch.nn.Module) else load_checkpoint(checkpoint)
        self.module.to(device).eval()
        inv = self.module.config.get("inversion", {})
        self.inversion = inversion or inv.get("method", "gl")
        if self.inversion not in INVERSIONS:
            raise TunesmithError(f"inversion must be one of {', '.join(INVERSIONS)}, got {self.inversion!r}")
        self.n_iter = int(inv.get("n_iter", DEFAULT_CONFIG["inversion"]["n_iter"]) if n_iter is None else n_iter)
        if self.n_iter < 0:
            raise TunesmithError(f"iterations must be >= 0, got {self.n_iter}")
        self.momentum = float(inv.get("momentum", 0.99) if momentum is None else momentum)
        self.sr = int(self.module.config["features"]["sr"])
        self.n_fft, self.hop = self.module.n_fft, self.module.hop_length
        self.chunk_frames = max(8, int(round(chunk_s * self.sr / self.hop)))
        self.context_frames = max(2, int(round(context_s * self.sr / self.hop)))
        self.fade = min(int(round(crossfade_s * self.sr)), self.context_frames * self.hop)
        self.device = device

    def settings(self) -> dict:
        return {"inversion": self.inversion, "iters": self.n_iter if self.inversion == "gl" else 0,
                "momentum": self.momentum, "sr": self.sr, "n_fft": self.n_fft, "hop_length": self.hop,
                "arch": self.module.config["model"]["arch"]}

    @torch.no_grad()
    def predict_db(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input complex STFT, predicted output dB)`` for a whole (short) waveform ``(samples,)``."""
        from tunesmith.transform.model import magnitude_to_db

        X = self.module.spectrogram(x.to(self.device)[None])
        return X[0], self.module(magnitude_to_db(X.abs()))[0]

    @torch.no_grad()
    def __call__(self, samples: np.ndarray, *, pooled: tuple | None = None) -> np.ndarray:
        """Convert mono ``samples`` at ``self.sr`` Hz; returns float32 samples of the same length."""
        from tunesmith.transform.invert import griffinlim, invert_with_phase
        from tunesmith.transform.model import db_to_magnitude, magnitude_to_db

        y_in = np.asarray(samples, dtype=np.float32)
        n = len(y_in)
        if 0 < n < self.n_fft:  # shorter than one frame: convert a zero-padded frame, keep the first n samples
            return self(np.pad(y_in, (0, self.n_fft - n)), pooled=pooled)[:n]
        hop, half = self.hop, self.n_fft // 2
        total = 1 + n // hop
        out = np.zeros(n, dtype=np.float32)
        prev_phase, prev_range = None, (0, 0)
        K = self.context_frames
        for c0 in range(0, total, self.chunk_frames):
            c1 = min(total, c0 + self.chunk_frames)
            a0, a1 = max(0, c0 - K), min(total, c1 + K)
            seg = torch.from_numpy(_segment(y_in, a0 * hop - half, (a1 - 1) * hop + self.n_fft - half)).to(self.device)
            X = self.module.spectrogram(seg[None], center=False)[0]
            x_db = magnitude_to_db(X.abs())
            pred_db = self.module(x_db[None])[0]
            mag = db_to_magnitude(pred_db)
            length = (a1 - a0 - 1) * hop
            if self.inversion == "input-phase" or self.n_iter == 0:
                wav = invert_with_phase(mag, X, hop_length=hop, length=length)
                phase = None
            else:
                init = X.clone()
                fixed = 0
                if prev_phase is not None and prev_range[1] > a0:
                    shared = prev_range[1] - a0
                    init[:, :shared] = prev_phase[:, a0 - prev_range[0]:]
                    fixed = max(0, min(shared, c0 - a0))
                wav, phase = griffinlim(mag, n_iter=self.n_iter, hop_length=hop, length=length,
                                        momentum=self.momentum, init=init, fixed_frames=fixed, return_phase=True)
            prev_phase, prev_range = phase, (a0, a1)
            wav = wav.cpu().numpy()
            # Samples of this chunk's waveform: global a0*hop .. a0*hop + length.
            g0, g1 = c0 * hop, min(n, c1 * hop) if c1 < total else n
            lo = g0 - self.fade // 2 if c0 > 0 else 0
            hi = g1 + self.fade // 2 if c1 < total else n
            lo, hi = max(lo, a0 * hop), min(hi, a0 * hop + len(wav), n)
            w = np.ones(hi - lo, dtype=np.float32)
            if c0 > 0 and self.fade > 0:
                r = np.clip((np.arange(lo, hi) - (g0 - self.fade / 2)) / self.fade, 0, 1)
                w *= r.astype(np.float32)
            if c1 < total and self.fade > 0:
                r = np.clip(((g1 + self.fade / 2) - np.arange(lo, hi)) / self.fade, 0, 1)
                w *= r.astype(np.float32)
            # The fade-out of one chunk and the fade-in of the next are complementary ramps: they sum to 1.
            out[lo:hi] += w * wav[lo - a0 * hop: hi - a0 * hop]
            if pooled is not None:
                core = slice(c0 - a0, c1 - a0)
                pooled[0].add(c0, x_db[:, core].cpu().numpy())
        if pooled is not None:
            # "After" is measured on the converted audio itself, streamed through the same STFT.
            for c0 in range(0, total, self.chunk_frames):
                c1 = min(total, c0 + self.chunk_frames)
                seg = torch.from_numpy(_segment(out, c0 * hop - half, (c1 - 1) * hop + self.n_fft - half))
                Y = self.module.spectrogram(seg[None], center=False)[0]
                pooled[1].add(c0, magnitude_to_db(Y.abs()).numpy())
        return out


def _segment(y: np.ndarray, a: int, b: int) -> np.ndarray:
    """``y[a:b]`` with zeros where the range runs past either end (no padded copy of ``y``)."""
    seg = np.zeros(b - a, dtype=np.float32)
    lo, hi = max(a, 0), min(b, len(y))
    if hi > lo:
        seg[lo - a: hi - a] = y[lo:hi]
    return seg


def convert(audio, checkpoint=None, **kwargs):
    """Convert an :class:`~tunesmith.audio.Audio` with a checkpoint; returns Audio at the model's rate.

    ``kwargs`` are :class:`Converter` settings (``inversion``, ``n_iter``, ...).
    A :class:`Converter` can be passed as ``checkpoint`` to reuse a loaded model.
    """
    from tunesmith.audio import Audio

    conv = checkpoint if isinstance(checkpoint, Converter) else Converter(checkpoint, **kwargs)
    x = audio.resample(conv.sr)
    return Audio(conv(x.samples), conv.sr)


def convert_file(path, out_path, converter: Converter, *, png: bool = True) -> Path:
    """Convert the file ``path`` into ``out_path`` (format by extension) and draw ``<out>.png`` before/after."""
    from tunesmith.audio import Audio, check_not_silent, load, save

    path, out_path = Path(path), Path(out_path)
    audio = check_not_silent(load(path, sr=converter.sr), path)
    frames = 1 + len(audio.samples) // converter.hop
    pooled = None
    if png:
        cols = min(MAX_PNG_COLUMNS, frames)
        pooled = (_Pooled(frames, cols), _Pooled(frames, cols))
    y = converter(audio.samples, pooled=pooled)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.999:  # keep the file from clipping; the model may overshoot on loud inputs
        y = y * (0.999 / peak)
    save(Audio(y, converter.sr), out_path)
    if png:
        _before_after_png(pooled, out_path.with_suffix(".png"), converter, audio.duration, path.name)
    return out_path


def _before_after_png(pooled, png_path: Path, conv: Converter, duration: float, title: str) -> Path:
    from tunesmith.plots import draw_spectrogram, figure, save_figure

    before, after = pooled
    fig, axes = figure(11, 6.5, nrows=2)
    freqs = np.arange(conv.n_fft // 2 + 1) * conv.sr / conv.n_fft
    hop_s = duration / before.columns
    vmax = float(max(before.data.max(), after.data.max()))
    for ax, p, label in ((axes[0, 0], before, "input"), (axes[1, 0], after, "converted")):
        draw_spectrogram(ax, p.data, sr=1, hop_length=1, freqs=freqs, vmin=vmax - 80)
        ax.set_title(f"{title}: {label}")
        ticks = ax.get_xticks()
        ax.set_xticks(ticks)
        fmt = "{:.1f}" if duration < 20 else "{:.0f}"
        ax.set_xticklabels([fmt.format(t * hop_s) for t in ticks])
        ax.set_xlim(0, p.columns)
        ax.set_ylim(0, 8000)
    return save_figure(fig, png_path)
