"""Small CNNs over any front-end representation, the whole classifier, and its LightningModule.

The architecture is a plain ``nn.Module`` (:class:`CNN2d` or :class:`CNN1d`);
:class:`Classifier` chains front end (``tunesmith.features``), a per-bin
standardiser fitted on the training windows (:class:`BinNorm`) and the network,
so that it maps raw audio ``(batch, samples)`` to class logits.
:class:`ClassifierModule` is the LightningModule that trains it with
class-weighted cross-entropy and optional SpecAugment-style masking.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from tunesmith.features import registry
from tunesmith.features.normalize import Normalizer

try:  # Lightning is only needed for training
    import lightning as L
    _LightningBase = L.LightningModule
except ImportError:  # pragma: no cover
    _LightningBase = nn.Module

__all__ = ["FEATURE_KINDS", "DEFAULT_FEATURE_SETTINGS", "make_frontend", "WaveformStats", "MainsHum", "LogMelStats",
           "BinNorm", "CNN2d", "CNN1d", "input_statistics",
           "build_network", "Classifier", "ClassifierModule", "spec_augment", "mix_augment"]

#: Representations the classifier can be trained on (:data:`tunesmith.features.registry.FEATURE_KINDS`:
#: the ``tunesmith.features.frontend`` kinds and ``logmel+stats``, :class:`LogMelStats`).
FEATURE_KINDS = registry.FEATURE_KINDS
N_FFT = registry.N_FFT
HOP_LENGTH = registry.HOP_LENGTH
N_MELS = registry.N_MELS
#: Front-end settings per kind (librosa names; the registry's defaults); ``sr`` is added from the data.
DEFAULT_FEATURE_SETTINGS = {name: dict(rep.defaults) for name, rep in registry.REPRESENTATIONS.items()}
#: A sample counts as digital silence below half a 16-bit step (so exact zeros of PCM files).
SILENCE_LEVEL = 0.5 / 32768
#: A sample counts as "at the ceiling" when ``|x| >= NEAR_PEAK * max|x|`` over the whole window.
NEAR_PEAK = 0.98
#: One 16-bit step (full scale 1.0).
LSB = 1.0 / 32768
#: Flat tops: samples at least this share of their frame's peak ...
FLAT_NEAR_PEAK = 0.9
#: ... whose step from the previous sample is at most ``FLAT_STEP_LSB * LSB + FLAT_STEP_REL * frame peak`` ...
FLAT_STEP_LSB = 1.5
FLAT_STEP_REL = 1e-4
#: ... in frames whose peak is above 64 16-bit steps (quiet stretches move by whole steps).
FLAT_MIN_PEAK = 64 * LSB
#: Shares ``s`` of the statistics rows are given as ``log(1 + s / SHARE_SCALE)``.
SHARE_SCALE = 0.01
#: Floor of the frame level and peak in dB (amplitude 1e-5).
STATS_AMIN = 1e-5
BN_EPS = 1e-5
STD_FLOOR = 1e-5


def make_frontend(kind: str, sr: int, **settings) -> nn.Module:
    """The ``tunesmith.features`` module for ``kind`` with the given settings (defaults above)."""
    from tunesmith.errors import TunesmithError

    if kind not in FEATURE_KINDS:
        raise TunesmithError(f"unknown features {kind!r}; choose from {', '.join(FEATURE_KINDS)}")
    kw = {**DEFAULT_FEATURE_SETTINGS[kind], **settings}
    try:
        return registry.constructor(kind)(sr=sr, **kw)
    except (TypeError, ValueError) as exc:
        raise TunesmithError(f"invalid settings for the {kind} front end ({exc})") from None


class WaveformStats(nn.Module):
    """Six waveform statistics per frame that a standardised spectrogram hides, ``(batch, 6, frames)``.

    For centred frames of ``frame_length`` samples every ``hop_length`` (zero padding, so
    the frame count matches the STFT front ends with ``center=True``):

    0. level ``20 log10(max(sqrt(mean x[n]^2), a))`` (dB re full scale, ``a`` = ``STATS_AMIN``);
    1. peak ``20 log10(max(max |x[n]|, a))`` (dB);
    2. digital-silence share: samples with ``|x[n]| < SILENCE_LEVEL``;
    3. ceiling share: samples with ``|x[n]| >= NEAR_PEAK * max_window |x|``
       (flat-topped, clipped or limited stretches sit at the window's ceiling);
    4. flat-top share: samples at least ``FLAT_NEAR_PEAK`` of the *frame's* peak whose step from
       the previous sample is at most ``FLAT_STEP_LSB`` 16-bit steps plus ``FLAT_STEP_REL`` of
       the peak, in frames whose peak is above ``FLAT_MIN_PEAK``. Digital clipping leaves runs of equal
       samples at the clip level; a tone's crest moves by far more per sample except at
       very low frequencies. Frame-local, so it still sees clipped notes when a louder event
       (a noise burst) sets the window's maximum;
    5. at-maximum share: samples within ``FLAT_STEP_LSB`` 16-bit steps of the window's maximum ``|x|``.

    Rows 2-5 are shares ``s`` given as ``log(1 + s / SHARE_SCALE)``: a clipped attack fills
    a few percent of a frame and a clipped sustained note most of it, and the log keeps the
    first from looking like zero next to the second. Rows 2-5 are what gaps, dropouts and
    clipping look like in the waveform; in a spectrogram with a per-window dB floor they
    resemble rests and loud notes.
    """

    names = ("level_db", "peak_db", "silence_share", "ceiling_share", "flat_top_share", "at_max_share")

    def __init__(self, frame_length: int = N_FFT, hop_length: int = HOP_LENGTH):
        super().__init__()
        self.frame_length, self.hop_length = int(frame_length), int(hop_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(0)
        a = x.abs()
        window_max = a.amax(dim=1, keepdim=True)
        ceiling = NEAR_PEAK * window_max.clamp_min(STATS_AMIN)
        step = torch.cat([torch.zeros_like(x[:, :1]), (x[:, 1:] - x[:, :-1]).abs()], dim=1)
        pad = self.frame_length // 2
        frames = F.pad(a, (pad, pad)).unfold(1, self.frame_length, self.hop_length)  # (b, t, L)
        steps = F.pad(step, (pad, pad), value=1.0).unfold(1, self.frame_length, self.hop_length)
        level = 10.0 * torch.log10(frames.square().mean(-1).clamp_min(STATS_AMIN ** 2))
        frame_peak = frames.amax(-1, keepdim=True)
        peak = 20.0 * torch.log10(frame_peak[..., 0].clamp_min(STATS_AMIN))
        silent = (frames < SILENCE_LEVEL).float().mean(-1)
        at_ceiling = (frames >= ceiling[:, :, None]).float().mean(-1)
        flat = ((frames >= FLAT_NEAR_PEAK * frame_peak) & (steps <= FLAT_STEP_LSB * LSB + FLAT_STEP_REL * frame_peak)
                & (frame_peak > FLAT_MIN_PEAK)).float().mean(-1)
        at_max = (frames >= window_max[:, :, None] - FLAT_STEP_LSB * LSB).float().mean(-1)
        shares = torch.log1p(torch.stack([silent, at_ceiling, flat, at_max], dim=1) / SHARE_SCALE)
        return torch.cat([torch.stack([level, peak], dim=1), shares], dim=1)


class MainsHum(nn.Module):
    """Prominence of mains hum per frame, ``(batch, 2 * harmonics, frames)`` in dB.

    A 50 or 60 Hz hum is a line at fixed frequencies that lasts through notes and
    rests alike; in a 64-band log-mel it shares the lowest bands with bass notes. Here
    a long analysis window (the smallest power of two of at least ``window_s``
    seconds: 8192 samples, 1.95 Hz bins at 16 kHz) is taken at the front ends' hop
    and frame centres, and for ``f`` in (50, 60) Hz and ``k = 1..harmonics`` each row
    is ``10 log10(P(k f) / (3 median P(ring)))``: the power summed over the three bins
    nearest ``k f`` against the median of the bins 5-14 bins away on either side.
    A steady line stands 10-30 dB above its ring in every frame; a bass note near
    ``k f`` comes and goes with the melody, so the CNN can tell the two apart over time.
    """

    names = tuple(f"hum_{f}hz_k{k}" for f in (50, 60) for k in range(1, 5))

    def __init__(self, sr: int, hop_length: int = HOP_LENGTH, harmonics: int = 4, window_s: float = 0.5):
        super().__init__()
        self.sr, self.hop_length, self.harmonics = int(sr), int(hop_length), int(harmonics)
        self.n_fft = 1 << max(0, math.ceil(math.log2(window_s * self.sr)))
        df = self.sr / self.n_fft
        centres, rings = [], []
        for f0 in (50.0, 60.0):
            for k in range(1, self.harmonics + 1):
                c = int(round(f0 * k / df))
                centres.append([c - 1, c, c + 1])
                rings.append([c + d for d in range(-14, -4)] + [c + d for d in range(5, 15)])
        if min(min(r) for r in rings) < 0 or max(max(r) for r in rings) > self.n_fft // 2:
            raise ValueError(f"sample rate {sr} Hz is too low for {self.harmonics} hum harmonics")
        self.register_buffer("centres", torch.tensor(centres), persistent=False)
        self.register_buffer("rings", torch.tensor(rings), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(0)
        pad = self.n_fft // 2
        if x.shape[-1] <= pad:  # reflect padding needs more samples than half the window
            x = F.pad(x, (0, pad + 1 - x.shape[-1]))
        out = []
        for i in range(0, x.shape[0], 4):  # a few signals at a time: one long-window STFT is 4097 bins tall
            power = torch.stft(x[i:i + 4], self.n_fft, self.hop_length, window=self.window, center=True,
                               return_complex=True).abs().square()                  # (b, bins, t)
            peak = power[:, self.centres].sum(2)                                    # (b, rows, t)
            ring = 3.0 * power[:, self.rings].median(dim=2).values
            out.append(10.0 * torch.log10((peak + 1e-10) / (ring + 1e-10)))
        return torch.cat(out)


class LogMelStats(nn.Module):
    """Log-mel spectrogram without a per-window dB floor, stacked with :class:`WaveformStats`, :class:`MainsHum`
    and :class:`~tunesmith.classify.quality.QualityDescriptors`.

    Output ``(batch, n_mels + 6 + 8 + 18, frames)``: rows ``0..n_mels-1`` are
    ``10 log10(max(M[f, t], 1e-10))`` of the mel power spectrogram (absolute dB, so
    digital silence stays far below quiet playing instead of being raised to
    ``max - 80 dB``), the next six the frame statistics on the same frame grid
    (:attr:`WaveformStats.names`), then the eight mains-hum prominence rows
    (:attr:`MainsHum.names`), the last 18 the generator-agnostic quality descriptors
    (:attr:`QualityDescriptors.names`: saturation, reverberation, noise floor, bandwidth,
    tones at any frequency, dropouts, coding holes). Meant for recording-quality questions.
    """

    def __init__(self, sr: int, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, n_mels: int = N_MELS,
                 **mel_kw):
        super().__init__()
        from tunesmith import features

        mel_kw.setdefault("top_db", None)
        self.logmel = features.LogMelSpectrogram(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, **mel_kw)
        self.stats = WaveformStats(n_fft, hop_length)
        self.hum = MainsHum(sr, hop_length)
        from tunesmith.classify.quality import QualityDescriptors

        self.quality = QualityDescriptors(sr, n_fft, hop_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(0)
        mel = self.logmel(x)
        hum = self.hum(x)[..., :mel.shape[-1]]
        return torch.cat([mel, self.stats(x), hum, self.quality(x)[..., :mel.shape[-1]]], dim=1)


class BinNorm(Normalizer):
    """Per-bin standardisation ``(x - mean[f]) / std[f]``: the one normaliser (:class:`tunesmith.features.Normalizer`)
    with the classifier's settings (population std floored at :data:`STD_FLOOR`, no ``eps``, only ``mean`` and
    ``std`` in the state dict, as in every classifier checkpoint)."""

    def __init__(self, n_bins: int):
        super().__init__(n_bins, eps=0.0, std_floor=STD_FLOOR, keep_sums=False)


def _block2d(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=BN_EPS),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True))


def _block1d(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                         nn.BatchNorm1d(cout, eps=BN_EPS), nn.ReLU(inplace=True), nn.MaxPool1d(2, ceil_mode=True))


def input_statistics(x: torch.Tensor) -> torch.Tensor:
    """Per-row mean, maximum and standard deviation over time of ``(batch, bins, frames)``: ``(batch, 3 bins)``."""
    return torch.cat([x.mean(dim=2), x.amax(dim=2), x.std(dim=2, unbiased=False)], dim=1)


class CNN2d(nn.Module):
    """A small 2-D CNN over (bins, frames): conv3x3-BN-ReLU-maxpool2 blocks, then global
    mean and max pooling over both axes, dropout and a linear layer. Any input size works.

    With ``stats_head`` the linear layer also sees :func:`input_statistics` of the input
    (per bin: mean, maximum and spread over time), a direct path for cues that one row
    carries, such as a few clipped frames in a statistics row."""

    def __init__(self, n_bins: int, n_classes: int, channels=(16, 32, 64), dropout: float = 0.3,
                 stats_head: bool = False):
        super().__init__()
        chans = (1, *channels)
        self.stats_head = bool(stats_head)
        self.blocks = nn.Sequential(*[_block2d(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * chans[-1] + (3 * n_bins if self.stats_head else 0), n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.unsqueeze(1))
        parts = [h.mean(dim=(2, 3)), h.amax(dim=(2, 3))]
        return torch.cat(parts + [input_statistics(x)] if self.stats_head else parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.embed(x)))


class CNN1d(nn.Module):
    """A 1-D CNN over time with the bins as input channels (kernel ``kernel`` frames; the first
    convolution steps ``stride`` frames, which makes wide inputs such as a linear STFT cheap),
    global mean and max pooling over time, dropout and a linear layer (``stats_head``: as
    for :class:`CNN2d`)."""

    def __init__(self, n_bins: int, n_classes: int, channels=(64, 64, 64), kernel: int = 5,
                 dropout: float = 0.3, stride: int = 2, stats_head: bool = False):
        super().__init__()
        chans = (n_bins, *channels)
        self.stats_head = bool(stats_head)
        self.blocks = nn.Sequential(*[_block1d(a, b, kernel, stride if i == 0 else 1)
                                      for i, (a, b) in enumerate(zip(chans[:-1], chans[1:]))])
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * chans[-1] + (3 * n_bins if self.stats_head else 0), n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x)
        parts = [h.mean(dim=2), h.amax(dim=2)]
        return torch.cat(parts + [input_statistics(x)] if self.stats_head else parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.embed(x)))


def build_network(arch: str, n_bins: int, n_classes: int, **kw) -> nn.Module:
    """``arch`` is ``cnn2d`` or ``cnn1d``; ``kw`` go to the network (channels, dropout, kernel, stats_head)."""
    from tunesmith.errors import TunesmithError

    if arch == "cnn2d":
        kw.pop("kernel", None)
        kw.pop("stride", None)
        return CNN2d(n_bins, n_classes, **kw)
    if arch == "cnn1d":
        return CNN1d(n_bins, n_classes, **kw)
    raise TunesmithError(f"unknown architecture {arch!r}; choose cnn2d or cnn1d")


class Classifier(nn.Module):
    """Raw audio ``(batch, samples)`` -> class logits: front end, per-bin standardiser, network.

    ``config`` is the plain dict that rebuilds it (``features``, ``feature_settings``,
    ``sr``, ``arch``, ``network``, ``classes``, ``window_s``).
    """

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        self.classes = list(config["classes"])
        self.sr = int(config["sr"])
        self.window_s = float(config["window_s"])
        self.frontend = make_frontend(config["features"], self.sr, **config.get("feature_settings", {}))
        n_bins = self._n_bins()
        self.norm = BinNorm(n_bins)
        self.net = build_network(config.get("arch", "cnn2d"), n_bins, len(self.classes),
                                 **dict(config.get("network", {})))

    @torch.no_grad()
    def _n_bins(self) -> int:
        probe = torch.zeros(1, int(self.sr * min(self.window_s, 1.0)))
        return int(self.frontend(probe).shape[1])

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """Standardised features ``(batch, n_bins, frames)``."""
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)
        return self.norm(self.frontend(audio))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(audio))

    @torch.no_grad()
    def fit_norm(self, audio_batches) -> None:
        """Fit the standardiser on an iterable of raw-audio batches (training windows only)."""
        self.norm.fit(self.frontend(b) for b in audio_batches)

    @torch.no_grad()
    def predict_proba(self, audio: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Class probabilities ``(n, n_classes)`` for windows ``(n, samples)``, in eval mode."""
        was = self.training
        self.eval()
        out = [F.softmax(self(audio[i:i + batch_size]), dim=1) for i in range(0, len(audio), batch_size)]
        self.train(was)
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))


def spec_augment(feats: torch.Tensor, *, time_masks: int = 2, time_width: float = 0.1,
                 freq_masks: int = 2, freq_width: float = 0.15, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
    """SpecAugment-style masking: zero ``time_masks`` random spans of up to ``time_width`` of the
    frames and ``freq_masks`` spans of up to ``freq_width`` of the bins, independently per example.

    Applied to standardised features, so zero is the per-bin mean.
    """
    b, nf, nt = feats.shape
    out = feats.clone()
    dev = feats.device

    def masks(n_masks, size, width):
        keep = torch.ones(b, size, device=dev, dtype=torch.bool)
        max_w = max(1, int(size * width))
        idx = torch.arange(size, device=dev)
        for _ in range(n_masks):
            w = torch.randint(0, max_w + 1, (b, 1), generator=generator).to(dev)
            s = (torch.rand(b, 1, generator=generator).to(dev) * (size - w + 1)).floor()
            keep &= ~((idx >= s) & (idx < s + w))
        return keep

    if time_masks:
        out = out * masks(time_masks, nt, time_width)[:, None, :]
    if freq_masks:
        out = out * masks(freq_masks, nf, freq_width)[:, :, None]
    return out


def mix_augment(audio: torch.Tensor, labels: torch.Tensor, *, source: int, target: int, prob: float = 0.5,
                max_gain_db: float = 12.0, max_parts: int = 3, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """Replace some ``target``-class windows by sums of ``source``-class windows of the same batch.

    For a task such as "one voice or several" a sum of single-voice windows *is* a
    several-voice window, so every batch yields new mixtures of sources the data set
    never combined. Each window of class ``target`` is replaced with probability
    ``prob`` by ``sum_j g_j s_j / rms(s_j)`` over 2 to ``max_parts`` different
    ``source`` windows ``s_j`` (``g_1 = 1``, the others ``10^(-u/20)`` with ``u``
    uniform in ``[0, max_gain_db]`` dB), rescaled to the replaced window's RMS so
    that the level distribution is unchanged. Labels are unchanged; needs at least
    two source windows in the batch (otherwise the batch is returned as is).
    """
    src = torch.nonzero(labels == source).flatten()
    tgt = torch.nonzero(labels == target).flatten()
    if len(src) < 2 or len(tgt) == 0 or prob <= 0:
        return audio
    out = audio.clone()
    rms = audio.square().mean(dim=1).sqrt().clamp_min(1e-8)
    for i in tgt.tolist():
        if torch.rand(1, generator=generator).item() >= prob:
            continue
        k = int(torch.randint(2, max(2, min(max_parts, len(src))) + 1, (1,), generator=generator))
        parts = src[torch.randperm(len(src), generator=generator)[:k]]
        gains = 10.0 ** (-torch.rand(k, generator=generator) * max_gain_db / 20.0)
        gains[0] = 1.0
        mix = (gains[:, None].to(audio) * audio[parts] / rms[parts, None]).sum(0)
        out[i] = mix * (rms[i] / mix.square().mean().sqrt().clamp_min(1e-8))
    return out


def class_weights(counts, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``n / (k * count_c)`` (1 for an absent class)."""
    counts = torch.as_tensor(counts, dtype=torch.float32)
    total = counts.sum()
    w = torch.where(counts > 0, total / (n_classes * counts.clamp_min(1)), torch.ones_like(counts))
    return w


class ClassifierModule(_LightningBase):
    """Trains a :class:`Classifier` with class-weighted cross-entropy (AdamW, cosine decay).

    ``mix_augment`` (optional) is ``{"source": class name, "target": class name, "prob": p, ...}``:
    see :func:`mix_augment`; applied to the training audio before the front end.
    """

    def __init__(self, model: Classifier, *, lr: float = 2e-3, weight_decay: float = 1e-3,
                 class_counts=None, spec_augment: dict | None = None, max_epochs: int = 30,
                 mix_augment: dict | None = None):
        super().__init__()
        self.model = model
        self.lr, self.weight_decay, self.max_epochs = lr, weight_decay, max_epochs
        n = len(model.classes)
        self.register_buffer("class_w", class_weights(class_counts if class_counts is not None
                                                      else [1] * n, n))
        self.augment = dict(spec_augment) if spec_augment else None
        self.mix = None
        if mix_augment:
            from tunesmith.errors import TunesmithError

            mix = dict(mix_augment)
            missing = [mix.get(k) for k in ("source", "target") if mix.get(k) not in model.classes]
            if missing:
                raise TunesmithError(f"mix_augment classes {missing} are not among {model.classes}")
            mix["source"], mix["target"] = model.classes.index(mix["source"]), model.classes.index(mix["target"])
            self.mix = mix

    def forward(self, audio):
        return self.model(audio)

    def _step(self, batch, train: bool):
        x, y = batch
        if train and self.mix:
            x = mix_augment(x, y, **self.mix)
        feats = self.model.features(x)
        if train and self.augment:
            feats = spec_augment(feats, **self.augment)
        logits = self.model.net(feats)
        loss = F.cross_entropy(logits, y, weight=self.class_w)
        return loss, logits

    def training_step(self, batch, batch_idx):
        loss, logits = self._step(batch, True)
        acc = (logits.argmax(1) == batch[1]).float().mean()
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=len(batch[1]))
        self.log("train_acc", acc, on_epoch=True, on_step=False, batch_size=len(batch[1]))
        return loss

    def on_validation_epoch_start(self):
        self._val = []

    def validation_step(self, batch, batch_idx):
        loss, logits = self._step(batch, False)
        self.log("val_loss", loss, prog_bar=True, on_epoch=True, batch_size=len(batch[1]))
        self._val.append((logits.argmax(1).cpu(), batch[1].cpu()))

    def on_validation_epoch_end(self):
        if not self._val:
            return
        pred = torch.cat([p for p, _ in self._val])
        true = torch.cat([t for _, t in self._val])
        self.log("val_acc", (pred == true).float().mean(), prog_bar=True)
        self.log("val_bacc", balanced_accuracy(pred, true, len(self.model.classes)))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.max_epochs))
        return {"optimizer": opt, "lr_scheduler": sched}


def balanced_accuracy(pred: torch.Tensor, true: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean over present classes of per-class recall."""
    recalls = [((pred == c) & (true == c)).sum() / (true == c).sum()
               for c in range(n_classes) if (true == c).any()]
    return torch.stack(recalls).float().mean() if recalls else torch.tensor(math.nan)
