"""A pretrained detector of recording faults, whose outputs are a representation for good-vs-bad questions.

Why: a user's folder of good and bad takes holds a few hundred windows, a handful per kind of fault.
A classifier trained on those alone learns the faults it saw several times (noise, clipping) and misses
the rare ones (a dropout, a level jump, wow). :class:`QualityNet` has seen every fault family of
:mod:`tunesmith.classify.degrade`, with random parameters, on many hours of clean real recordings
(:func:`train_quality_net`); its outputs -- the probability of "bad", of each family, and its
embedding -- summarise a window's faults in a few numbers, so that ``compare-features``'s
``qualitynet+lr`` (a logistic regression on them) needs few of the user's windows, and
``qualitynet+ft`` (the whole network fine-tuned on them, starting from its own decision) few more.

Input: mono audio at :data:`SR` (16 kHz), any length of at least a second. The front end
(:class:`QualityFrontend`) scales each window to unit loudness (the RMS of its louder half of frames),
then stacks per frame (hop :data:`HOP`, 16 ms):

* the log-mel power spectrum (:data:`N_MELS` bands to 8 kHz) in dB, floored at -120 dB, so digital
  silence stays distinct from quiet sound;
* the six waveform statistics of :class:`~tunesmith.classify.model.WaveformStats` (level, peak, shares of
  silent samples, of samples at the ceiling, of flat tops, at the maximum): clipping shows in the
  waveform, not in a spectrogram;
* a speed-change profile: the correlation of each 32-ms frame's log-frequency spectrum (300 Hz-3 kHz, 10-cent
  steps) with the spectrum one frame earlier, shifted by -40 to +40 cents (:data:`SHIFT_LAGS` rows). A
  tape's wow moves every partial by the same ratio at once, which is a shift along log frequency.

Network: 1-D convolutions over time (bands as channels) with dilations 1-8 (about a second of context),
mean, maximum and spread over time, a 128-wide embedding and ``1 + len(FAMILIES)`` logits (bad, then
each family; trained with binary cross-entropy).

A model file holds one detector or several (an ensemble of runs with other seeds, :func:`pack_quality_nets`;
:func:`load_quality_nets` returns them all, :func:`load_quality_net` the first). ``qualitynet+ft`` fine-tunes
every member and averages their probabilities; ``qualitynet+lr`` fits one regression on each member's
outputs and averages those.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.classify.degrade import FAMILIES

__all__ = ["SR", "QualityFrontend", "QualityNet", "load_quality_net", "load_quality_nets", "pack_quality_nets",
           "quality_outputs", "OUTPUT_NAMES", "OUTPUT_WIDTH"]

SR = 16000
N_FFT = 1024
HOP = 256
N_MELS = 80
SHIFT_FFT = 2048
SHIFT_FMIN, SHIFT_FMAX, SHIFT_STEP_CENTS = 300.0, 3000.0, 10.0
SHIFT_HOP = 512           # the profile is computed every two frames and repeated
SHIFT_LAGS = 9            # -40..+40 cents in 10-cent steps
SHIFT_DELAY = 1           # profile frames (32 ms) between the compared spectra
FLOOR_DB = -120.0
CHANNELS = 128
EMBED = 128
OUTPUT_NAMES = ("bad", *FAMILIES)
#: columns of :func:`quality_outputs` per detector: its logits, then its embedding
OUTPUT_WIDTH = len(OUTPUT_NAMES) + EMBED


class QualityFrontend(nn.Module):
    """Waveforms ``(batch, samples)`` at 16 kHz to rows ``(batch, N_MELS + 6 + SHIFT_LAGS, frames)``."""

    def __init__(self):
        super().__init__()
        from tunesmith import features
        from tunesmith.classify.model import WaveformStats

        self.mel = features.MelSpectrogram(SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
        self.stats = WaveformStats(2 * HOP, HOP)
        self.register_buffer("window", torch.hann_window(SHIFT_FFT), persistent=False)
        freqs = np.arange(SHIFT_FFT // 2 + 1) * SR / SHIFT_FFT
        top = int(np.searchsorted(freqs, SHIFT_FMAX * 1.05)) + 1
        grid = SHIFT_FMIN * 2 ** (np.arange(0, 1200 * math.log2(SHIFT_FMAX / SHIFT_FMIN), SHIFT_STEP_CENTS) / 1200)
        # linear interpolation of the STFT bins onto the log-frequency grid, as a (bins, grid) matrix
        pos = grid / (SR / SHIFT_FFT)
        lo = np.floor(pos).astype(int)
        w = pos - lo
        m = np.zeros((top, len(grid)), dtype=np.float32)
        m[lo, np.arange(len(grid))] = 1 - w
        m[lo + 1, np.arange(len(grid))] = w
        self.register_buffer("to_log", torch.from_numpy(m), persistent=False)
        self.top = top
        self.n_rows = N_MELS + len(WaveformStats.names) + SHIFT_LAGS

    @staticmethod
    def loudness_normalise(x: torch.Tensor) -> torch.Tensor:
        """Scale each window so the mean power of its louder half of 16-ms frames is 1 (silence stays)."""
        n = x.shape[-1] // HOP
        if n < 2:
            return x / x.square().mean(-1, keepdim=True).sqrt().clamp_min(1e-8)
        p = x[:, : n * HOP].reshape(x.shape[0], n, HOP).square().mean(-1)
        loud = p.sort(dim=1, descending=True).values[:, : max(1, n // 2)].mean(1, keepdim=True)
        return x / loud.sqrt().clamp_min(1e-8)

    def shift_profile(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        spec = torch.stft(x, SHIFT_FFT, SHIFT_HOP, window=self.window, center=True, return_complex=True)
        mag = spec[:, : self.top].abs().transpose(1, 2)                      # (b, t, bins)
        logf = torch.log1p(torch.matmul(mag, self.to_log) * 100.0)            # (b, t, grid)
        logf = logf - logf.mean(-1, keepdim=True)
        logf = logf / logf.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        prev = F.pad(logf, (0, 0, SHIFT_DELAY, 0))[:, : logf.shape[1]]
        half = SHIFT_LAGS // 2
        g = logf.shape[-1]
        rows = []
        for lag in range(-half, half + 1):
            a = logf[..., max(0, lag): g + min(0, lag)]
            b = prev[..., max(0, -lag): g - max(0, lag)]
            rows.append((a * b).sum(-1))
        out = torch.stack(rows, dim=1).repeat_interleave(SHIFT_HOP // HOP, dim=-1)  # (b, lags, t)
        if out.shape[-1] < frames:
            out = F.pad(out, (0, frames - out.shape[-1]), mode="replicate")
        return out[..., :frames]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(0)
        x = self.loudness_normalise(x.float())
        mel = 10.0 * torch.log10(self.mel(x).clamp_min(10 ** (FLOOR_DB / 10)))
        t = mel.shape[-1]
        return torch.cat([mel, self.stats(x)[..., :t], self.shift_profile(x, t)], dim=1)


class _Res(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, 3, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm1d(ch)

    def forward(self, x):
        return x + F.relu(self.bn(self.conv(x)))


class QualityNet(nn.Module):
    """Front end, dilated 1-D CNN, pooled statistics, embedding and the bad/family logits."""

    def __init__(self, channels: int = CHANNELS, embed: int = EMBED):
        super().__init__()
        self.frontend = QualityFrontend()
        n = self.frontend.n_rows
        self.norm = nn.BatchNorm1d(n)
        self.stem = nn.Sequential(nn.Conv1d(n, channels, 5, padding=2), nn.BatchNorm1d(channels), nn.ReLU())
        self.blocks = nn.Sequential(*[_Res(channels, d) for d in (2, 4, 8, 16)])
        self.embed = nn.Sequential(nn.Linear(3 * channels, embed), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Linear(embed, len(OUTPUT_NAMES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(self.norm(self.frontend(x))))
        pooled = torch.cat([h.mean(-1), h.amax(-1), h.std(-1)], dim=1)
        return self.embed(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


#: State-dict key prefix of member ``k`` in a model file holding several detectors (``config.members``).
MEMBER_PREFIX = "member{}."


def load_quality_nets(path: str | Path | None = None) -> list[QualityNet]:
    """Every detector in the shipped fault-detector file (``tunesmith.models.path("quality")``) or in the
    model file ``path``: one for a file written by ``tunesmith train quality``, several for an ensemble
    (:func:`pack_quality_nets`; ``qualitynet+ft`` fine-tunes each and averages their probabilities)."""
    from tunesmith import models
    from tunesmith.training.checkpoint import load_model_file

    p = Path(path) if path is not None else models.path("quality")
    ckpt = load_model_file(p, "classifier", hint=" (the fault detector; set TUNESMITH_MODEL_QUALITY or pass path=)")
    cfg = ckpt.get("config", {})
    if cfg.get("model") != "qualitynet":
        from tunesmith.errors import TunesmithError

        raise TunesmithError("not a fault-detector model file (config.model is not 'qualitynet')", p)
    sd = ckpt["state_dict"]
    count = int(cfg.get("members", 0))
    parts = [sd] if count == 0 else [
        {k[len(MEMBER_PREFIX.format(i)):]: v for k, v in sd.items() if k.startswith(MEMBER_PREFIX.format(i))}
        for i in range(count)]
    nets = []
    for part in parts:
        net = QualityNet(**cfg.get("network", {}))
        net.load_state_dict(part)
        nets.append(net.eval())
    return nets


def load_quality_net(path: str | Path | None = None) -> QualityNet:
    """The first (or only) detector of the shipped fault-detector file or of the model file ``path``."""
    return load_quality_nets(path)[0]


def pack_quality_nets(paths: list[str | Path], out: str | Path) -> Path:
    """Write the detectors of the model files ``paths`` (in order) into one ensemble model file ``out``."""
    from tunesmith.training.checkpoint import save_model_file

    nets = [n for p in paths for n in load_quality_nets(p)]
    sd = {MEMBER_PREFIX.format(i) + k: v for i, n in enumerate(nets) for k, v in n.state_dict().items()}
    return save_model_file(out, "classifier", state_dict=sd,
                           config={"model": "qualitynet", "network": {}, "members": len(nets),
                                   "outputs": list(OUTPUT_NAMES), "sr": SR,
                                   "packed_from": [Path(p).name for p in paths]})


@torch.no_grad()
def quality_outputs(net: QualityNet, x, *, batch_size: int = 16) -> np.ndarray:
    """Per window ``(n, samples)`` at 16 kHz: the logits (``OUTPUT_NAMES``) then the embedding, ``(n, 12 + 128)``."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    out = []
    for i in range(0, len(x), batch_size):
        e = net.features(x[i:i + batch_size])
        out.append(torch.cat([net.head(e), e], dim=1))
    return torch.cat(out).numpy().astype(np.float64)
