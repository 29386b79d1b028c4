"""Spectrogram-to-spectrogram networks and the Lightning module that trains them.

Representation: the power spectrogram in dB, ``X_dB = 10 log10 max(|STFT(x)|^2, 1e-10)``
(n_fft 2048, hop 512 by default), normalised per frequency bin with the
training set's mean and standard deviation. Because input and output share
pitch and timing, the networks predict a *change* of the input's log spectrum
(``output="residual"``: ``Y_dB = X_dB + 20 * f(X)``), a bounded gain
(``"mask"``: ``Y_dB = X_dB + 20 log10(max_gain * sigmoid(f(X)))``) or the output
directly (``"direct"``: ``Y_dB = mean + std * f(X)``).

Architectures (plain ``nn.Module``, injected into :class:`TransformModule`):

* :class:`UNet` -- 2-D U-Net over (frequency, time): a stem folding 4 bins
  into channels, strided-conv encoder, transposed-conv decoder with skip
  connections, BatchNorm + LeakyReLU, and a full-resolution head that sees the
  input spectrogram again.
* :class:`FrameLSTM` -- per-frame spectrum -> dense bottleneck -> bidirectional
  LSTM over frames -> per-bin output: the recurrent answer.
* ``arch: gan`` -- the U-Net trained with an extra least-squares adversarial
  loss from a pix2pix-style :class:`PatchDiscriminator` that sees
  ``(input, output)`` spectrogram pairs.

Losses: L1 between predicted and true dB spectrograms, both floored at the
output file's peak minus 80 dB (the floor of the log-spectral distance), plus
a multi-resolution STFT distance between the true output waveform and the
prediction inverted with the input's phase, or with ``loss.mrstft_gl_iters``
differentiable fast Griffin-Lim steps started from it (so the loss sees what the
inversion used at conversion time produces), plus the adversarial term for the GAN.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from tunesmith.transform.invert import griffinlim_steps, istft, stft

__all__ = ["UNet", "FrameLSTM", "PatchDiscriminator", "build_generator", "TransformModule", "DB_FLOOR_POWER",
           "magnitude_to_db", "db_to_magnitude", "cosine_lr"]

#: Power floor before taking dB (-100 dB); far below any audible level of a [-1, 1] signal's STFT.
DB_FLOOR_POWER = 1e-10
#: dB per unit of network output for residual prediction.
RESIDUAL_SCALE_DB = 20.0
#: Input bins more than this many standard deviations below the training mean are raised to that level.
INPUT_FLOOR_STD = 2.0
#: Largest gain of the mask output (20 dB).
MASK_MAX_GAIN = 10.0
#: Final learning rate of the cosine schedule, as a share of ``optim.lr``.
COSINE_MIN_LR_FACTOR = 0.02


def magnitude_to_db(mag: torch.Tensor) -> torch.Tensor:
    """``10 log10 max(mag^2, 1e-10)``: linear STFT magnitude to power dB."""
    return 10.0 * torch.log10(mag.pow(2).clamp_min(DB_FLOOR_POWER))


def db_to_magnitude(db: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`magnitude_to_db` above the floor: ``10^(dB / 20)``."""
    return torch.pow(10.0, db / 20.0)


def cosine_lr(lr: float, fraction: float, min_factor: float = COSINE_MIN_LR_FACTOR) -> float:
    """Cosine-decayed learning rate after ``fraction`` (0..1) of the run.

    ``lr_t = lr_min + (lr - lr_min) (1 + cos(pi t)) / 2`` with ``lr_min = min_factor * lr``:
    ``lr`` at ``t = 0``, ``lr_min`` at ``t = 1`` (and after).
    """
    t = min(1.0, max(0.0, float(fraction)))
    lr_min = lr * min_factor
    return lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * t))


class _ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel=(3, 3), stride=(1, 1)):
        pad = (kernel[0] // 2, kernel[1] // 2)
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=False), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.2, inplace=True))


class UNet(nn.Module):
    """2-D U-Net on ``(batch, 1, n_bins, frames)``; output has the same shape.

    A strided stem first folds ``freq_stem`` neighbouring frequency bins into
    ``base_channels`` feature maps (the expensive full-resolution grid is touched
    only by the stem and the head), then ``depth`` levels each halve frequency and
    time with a strided 4x4 convolution and double the channels (capped at 128).
    The decoder mirrors this with transposed convolutions and skip connections; the
    head upsamples back to full frequency resolution and mixes in the input
    spectrogram itself, so sharp harmonic detail survives the bottleneck.

    Parameters
    ----------
    base_channels : channels after the stem; level ``i`` has ``base * 2**i`` (capped at 128).
    depth : number of frequency-and-time downsampling steps.
    freq_stem : frequency downsampling factor of the stem (1, 2 or 4).

    Inputs are zero-padded to a multiple of the total stride on both axes and the
    output is cropped back, so any size works.
    """

    def __init__(self, base_channels: int = 12, depth: int = 4, freq_stem: int = 4, in_channels: int = 1):
        super().__init__()
        if freq_stem not in (1, 2, 4):
            raise ValueError(f"freq_stem must be 1, 2 or 4, got {freq_stem}")
        self.depth, self.freq_stem = depth, freq_stem
        chans = [min(128, base_channels * 2 ** i) for i in range(depth + 1)]
        ks = 2 * freq_stem if freq_stem > 1 else 3
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, chans[0], (ks, 3), (freq_stem, 1), ((ks - freq_stem) // 2, 1), bias=False),
            nn.BatchNorm2d(chans[0]), nn.LeakyReLU(0.2, inplace=True), _ConvBlock(chans[0], chans[0]))
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for i in range(depth):
            self.down.append(nn.Sequential(
                nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(chans[i + 1]), nn.LeakyReLU(0.2, inplace=True), _ConvBlock(chans[i + 1], chans[i + 1])))
        for i in reversed(range(depth)):
            self.up.append(nn.Sequential(
                nn.ConvTranspose2d(chans[i + 1], chans[i], 4, 2, 1, bias=False),
                nn.BatchNorm2d(chans[i]), nn.LeakyReLU(0.2, inplace=True)))
            self.merge.append(_ConvBlock(2 * chans[i], chans[i]))
        head_ch = max(4, chans[0] // 2)
        self.unstem = nn.Sequential(
            nn.ConvTranspose2d(chans[0], head_ch, (ks, 3), (freq_stem, 1), ((ks - freq_stem) // 2, 1), bias=False),
            nn.BatchNorm2d(head_ch), nn.LeakyReLU(0.2, inplace=True))
        self.head = nn.Conv2d(head_ch + in_channels, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def total_stride(self) -> tuple[int, int]:
        return (self.freq_stem * 2 ** self.depth, 2 ** self.depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        F_, T = x.shape[-2:]
        sf, st = self.total_stride
        pf, pt = (-F_) % sf, (-T) % st
        h_in = F.pad(x, (0, pt, 0, pf))
        h = self.stem(h_in)
        skips = []
        for down in self.down:
            skips.append(h)
            h = down(h)
        for up, merge in zip(self.up, self.merge):
            h = merge(torch.cat([up(h), skips.pop()], dim=1))
        out = self.head(torch.cat([self.unstem(h), h_in], dim=1))
        return out[..., :F_, :T]


class FrameLSTM(nn.Module):
    """Bidirectional LSTM over frames of the spectrum: ``(batch, 1, n_bins, frames)`` -> same shape.

    Each frame's normalised spectrum is projected to ``hidden`` features, the
    bidirectional LSTM (``layers`` deep) runs over time, and a linear layer maps
    back to ``n_bins`` values per frame.
    """

    def __init__(self, n_bins: int, hidden: int = 256, layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(n_bins, hidden), nn.LeakyReLU(0.2))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(2 * hidden, n_bins)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x[:, 0].transpose(1, 2)  # (batch, frames, bins)
        h, _ = self.lstm(self.proj(h))
        return self.out(h).transpose(1, 2)[:, None]


class PatchDiscriminator(nn.Module):
    """pix2pix-style patch discriminator on ``(input, output)`` spectrogram pairs (2 channels).

    ``n_layers`` strided 4x4 convolutions followed by a 1-channel map of
    real/fake scores, one per overlapping patch of the spectrogram.
    """

    def __init__(self, base_channels: int = 16, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(2, base_channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = base_channels
        for _ in range(1, n_layers):
            layers += [nn.Conv2d(c, min(c * 2, 128), 4, 2, 1), nn.BatchNorm2d(min(c * 2, 128)),
                       nn.LeakyReLU(0.2, inplace=True)]
            c = min(c * 2, 128)
        layers += [nn.Conv2d(c, 1, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y], dim=1))


def build_generator(model_cfg: dict, n_bins: int) -> nn.Module:
    """The generator named by ``model_cfg["arch"]`` (``unet``, ``lstm`` or ``gan``)."""
    arch = model_cfg.get("arch", "unet")
    if arch in ("unet", "gan"):
        return UNet(model_cfg.get("base_channels", 12), model_cfg.get("depth", 4), model_cfg.get("freq_stem", 4))
    if arch == "lstm":
        return FrameLSTM(n_bins, model_cfg.get("lstm_hidden", 256), model_cfg.get("lstm_layers", 2),
                         model_cfg.get("dropout", 0.0))
    raise ValueError(f"model.arch must be unet, lstm or gan, got {arch!r}")


try:
    import lightning as L
except ImportError:  # pragma: no cover
    L = None


class TransformModule(L.LightningModule if L is not None else nn.Module):
    """Trains a generator to map input dB spectrograms to output dB spectrograms.

    Parameters
    ----------
    generator : the network (:func:`build_generator`).
    config : the full configuration dict (saved in checkpoints; see ``configs/transform.yaml``).
    discriminator : a :class:`PatchDiscriminator` for the GAN variant, else ``None``.

    Buffers ``in_mean``/``in_std`` (per-bin dB statistics of the training inputs)
    and ``out_mean``/``out_std`` (of the outputs) are set by :meth:`fit_normalizer`
    before training and travel with the weights.
    """

    def __init__(self, generator: nn.Module, config: dict, discriminator: nn.Module | None = None):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.config = config
        feat = config["features"]
        self.n_fft, self.hop_length = int(feat["n_fft"]), int(feat["hop_length"])
        n_bins = self.n_fft // 2 + 1
        self.output_mode = config["model"].get("output", "residual")
        self.input_floor_std = float(config["model"].get("input_floor_std", INPUT_FLOOR_STD))
        floor = config["model"].get("input_floor_db")
        #: Input dB values are raised to this floor before the network sees them (``None``: no floor), so
        #: exact digital zeros (lossy codecs, gated silence) and a faint noise floor look alike.
        self.input_floor_db = None if floor is None else float(floor)
        #: Training crops get one random gain, uniform in +-this many dB, on both input and output.
        self.random_gain_db = float(config.get("data", {}).get("random_gain_db", 0.0) or 0.0)
        for name, val in (("in_mean", -60.0), ("in_std", 20.0), ("out_mean", -60.0), ("out_std", 20.0)):
            self.register_buffer(name, torch.full((n_bins, 1), val))
        loss = config.get("loss", {})
        self.w_db = float(loss.get("l1_db", 1.0))
        self.w_mrstft = float(loss.get("mrstft", 0.5))
        #: Griffin-Lim iterations (from the input's phase) between prediction and the MR-STFT loss; 0: input phase.
        self.loss_gl_iters = int(loss.get("mrstft_gl_iters", 0) or 0)
        self.w_adv = float(loss.get("adversarial", 0.0)) if discriminator is not None else 0.0
        self.top_db = float(loss.get("top_db", 80.0))
        if discriminator is not None:
            self.automatic_optimization = False

    # ----- features -------------------------------------------------------------------------
    def spectrogram(self, wave: torch.Tensor, center: bool = True) -> torch.Tensor:
        """Complex STFT ``(batch, bins, frames)`` of ``(batch, samples)`` with the model's settings."""
        return stft(wave, self.n_fft, self.hop_length, center=center)

    @torch.no_grad()
    def fit_normalizer(self, x_db_batches, y_db_batches) -> None:
        """Per-bin mean and standard deviation of input and output dB spectrograms (iterables of ``(bins, frames)``)."""
        for batches, mean, std in ((x_db_batches, self.in_mean, self.in_std), (y_db_batches, self.out_mean, self.out_std)):
            s = s2 = n = 0
            for b in batches:
                b = b.double()
                s = s + b.sum(-1, keepdim=True)
                s2 = s2 + (b ** 2).sum(-1, keepdim=True)
                n += b.shape[-1]
            m = s / n
            mean.copy_(m.float())
            std.copy_(torch.sqrt((s2 / n - m ** 2).clamp_min(1.0)).float())

    def forward(self, x_db: torch.Tensor) -> torch.Tensor:
        """Predicted output dB spectrogram ``(batch, bins, frames)`` from the input's ``(batch, bins, frames)``."""
        if self.input_floor_db is not None:
            x_db = x_db.clamp_min(self.input_floor_db)
        if self.input_floor_std > 0:
            # Lossy codecs (MP3, Vorbis) zero whole regions of the spectrum, far below anything seen in
            # training; raise such bins to the training distribution's low end before predicting.
            x_db = torch.maximum(x_db, self.in_mean - self.input_floor_std * self.in_std)
        z = self.generator(((x_db - self.in_mean) / self.in_std)[:, None])[:, 0]
        if self.output_mode == "residual":
            return x_db + RESIDUAL_SCALE_DB * z
        if self.output_mode == "mask":
            return x_db + 20.0 * torch.log10(MASK_MAX_GAIN * torch.sigmoid(z) + 1e-8)
        if self.output_mode == "direct":
            return self.out_mean + self.out_std * z
        raise ValueError(f"model.output must be residual, mask or direct, got {self.output_mode!r}")

    # ----- training --------------------------------------------------------------------------
    def _losses(self, batch):
        xw, yw, floor = batch
        if self.training and self.random_gain_db > 0:
            # Level augmentation: the mapping should not depend on how loud the recording is.
            gain_db = (torch.rand(xw.shape[0], device=xw.device) * 2.0 - 1.0) * self.random_gain_db
            g = torch.pow(10.0, gain_db / 20.0)[:, None]
            xw, yw, floor = xw * g, yw * g, floor + gain_db
        X = self.spectrogram(xw, center=False)
        Y = self.spectrogram(yw, center=False)
        x_db, y_db = magnitude_to_db(X.abs()), magnitude_to_db(Y.abs())
        pred_db = self(x_db)
        fl = floor[:, None, None]
        l1 = (torch.maximum(pred_db, fl) - torch.maximum(y_db, fl)).abs().mean()
        losses = {"l1_db": l1}
        total = self.w_db * l1 / 10.0
        if self.w_mrstft > 0:
            from tunesmith.transform.metrics import mrstft_loss

            # Clamp so exp() cannot overflow early in training; 40 dB above the floor-free peak is plenty.
            mag = db_to_magnitude(torch.minimum(pred_db, y_db.amax(dim=(-2, -1), keepdim=True) + 40.0))
            if self.loss_gl_iters > 0:  # the loss sees the waveform after a few Griffin-Lim steps
                est = griffinlim_steps(mag, X, self.loss_gl_iters, hop_length=self.hop_length)
            else:
                est = istft(mag * (X / (X.abs() + 1e-8)), self.hop_length)
            ref = yw[:, self.n_fft // 2: self.n_fft // 2 + est.shape[-1]]
            trim = self.n_fft // 2
            mr = mrstft_loss(ref[:, trim:-trim], est[:, trim:-trim])
            losses["mrstft"] = mr
            total = total + self.w_mrstft * mr
        return total, losses, x_db, y_db, pred_db

    def _norm_out(self, db):
        return (db - self.out_mean) / self.out_std

    def training_step(self, batch, batch_idx):
        if self.discriminator is None:
            total, losses, *_ = self._losses(batch)
            self.log("train_loss", total, prog_bar=True, batch_size=batch[0].shape[0])
            self.log("train_l1_db", losses["l1_db"], batch_size=batch[0].shape[0])
            return total
        opt_g, opt_d = self.optimizers()
        total, losses, x_db, y_db, pred_db = self._losses(batch)
        xn = ((x_db - self.in_mean) / self.in_std)[:, None]
        fake = self._norm_out(pred_db)[:, None]
        real = self._norm_out(y_db)[:, None]
        score_fake = self.discriminator(xn, fake)
        adv = ((score_fake - 1.0) ** 2).mean()
        g_loss = total + self.w_adv * adv
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        d_real = self.discriminator(xn, real)
        d_fake = self.discriminator(xn, fake.detach())
        d_loss = 0.5 * (((d_real - 1.0) ** 2).mean() + (d_fake ** 2).mean())
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        bs = batch[0].shape[0]
        self.log("train_loss", g_loss, prog_bar=True, batch_size=bs)
        self.log("train_l1_db", losses["l1_db"], batch_size=bs)
        self.log("train_d_loss", d_loss, batch_size=bs)
        return None

    def validation_step(self, batch, batch_idx):
        from tunesmith.transform.metrics import lsd_torch

        total, losses, x_db, y_db, pred_db = self._losses(batch)
        bs = batch[0].shape[0]
        self.log("val_loss", total, prog_bar=True, batch_size=bs)
        self.log("val_l1_db", losses["l1_db"], batch_size=bs)
        self.log("val_lsd_mag", lsd_torch(y_db, pred_db, batch[2][:, None, None]), prog_bar=True, batch_size=bs)

    def _time_fraction(self) -> float | None:
        """Share of the wall-clock training budget spent (0..1), or ``None`` without a time budget.

        From Lightning's public ``Timer`` API: spent / (spent + remaining).
        """
        from lightning.pytorch.callbacks import Timer

        try:
            callbacks = self.trainer.callbacks
        except RuntimeError:  # not attached to a Trainer
            return None
        timer = next((c for c in callbacks if isinstance(c, Timer)), None)
        remaining = timer.time_remaining() if timer is not None else None
        if remaining is None:
            return None
        elapsed = timer.time_elapsed()
        return min(1.0, elapsed / max(elapsed + remaining, 1e-9))

    def on_train_batch_start(self, batch, batch_idx) -> None:
        """Cosine learning-rate decay over the wall-clock budget (``optim.schedule: cosine``).

        ``lr(t) = lr_min + (lr - lr_min) * (1 + cos(pi * t)) / 2`` with ``t`` the
        share of ``trainer.max_minutes`` spent (kept across resumes by Lightning's
        timer) and ``lr_min = optim.min_lr_factor * lr``. A time-based schedule
        fits a time-budgeted run, whose number of steps is not known in advance.
        """
        opt = self.config.get("optim", {})
        if opt.get("schedule", "constant") != "cosine":
            return
        t = self._time_fraction()
        if t is None:
            return
        now = cosine_lr(float(opt.get("lr", 2e-3)), t, float(opt.get("min_lr_factor", COSINE_MIN_LR_FACTOR)))
        optims = self.optimizers()
        for o in (optims if isinstance(optims, list) else [optims]):
            for group in o.param_groups:
                group["lr"] = now * group.get("lr_scale", 1.0)
        self.log("lr", now, batch_size=1)

    def configure_optimizers(self):
        opt = self.config.get("optim", {})
        lr, wd = float(opt.get("lr", 2e-3)), float(opt.get("weight_decay", 0.0))
        g = torch.optim.AdamW(self.generator.parameters(), lr=lr, weight_decay=wd)
        if self.discriminator is None:
            return g
        d = torch.optim.AdamW(self.discriminator.parameters(), lr=lr * 0.5, betas=(0.5, 0.999))
        d.param_groups[0]["lr_scale"] = 0.5
        return [g, d]
