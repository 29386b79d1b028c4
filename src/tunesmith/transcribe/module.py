"""The transcriber's training run on the shared harness: a DataModule of random crops and a LightningModule.

:class:`ClipDataModule` reads a clip file (:func:`tunesmith.transcribe.train.make_clips`), holds out
``val_clips`` clips (a random permutation with ``seed``) and serves an endless stream of training
batches: ``batch`` random crops of ``crop_frames`` frames (+ :data:`CROP_MARGIN` frames of audio on
each side, dropped after the front end), passed through :class:`~tunesmith.transcribe.pitch.HarmonicFrontEnd`,
with per-frame targets from :func:`~tunesmith.transcribe.train.frame_targets`. The validation batches
(8 clips each, their crops drawn with seed 1) are fixed.

:class:`TranscriberModule` trains :class:`~tunesmith.transcribe.pitch.TranscriberNet` with

    loss = CE(pitch class; ignore -100) + BCE(onset; pos. weight 4) + 0.5 * BCE(offset; pos. weight 2)

AdamW and a one-cycle learning rate over ``max_steps + 1`` steps (peak ``lr`` after ``pct_start``).
Every ``eval_every`` steps, and at the last step, it scores the validation batches and writes one
row ``step, train_loss, train_pitch, val_loss, val_frame_acc, elapsed_s`` to the run's
``metrics.csv`` (through the Lightning logger).
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

import lightning as L

from tunesmith.transcribe.train import CROP_MARGIN, frame_targets

__all__ = ["ClipDataModule", "TranscriberModule", "transcriber_loss", "CROP_MARGIN", "VAL_BATCH"]

VAL_BATCH = 8                 # clips per validation batch
VAL_SEED = 1                  # the validation crops are always the same
ONSET_POS_WEIGHT, OFFSET_POS_WEIGHT, OFFSET_LOSS_WEIGHT = 4.0, 2.0, 0.5


def transcriber_loss(out, cls, on, off):
    """``(total, pitch cross-entropy)`` for network outputs ``out`` and frame targets (see the module docstring)."""
    pl, ol, fl = out
    l_p = F.cross_entropy(pl, cls, ignore_index=-100)
    l_on = F.binary_cross_entropy_with_logits(ol, on, pos_weight=torch.tensor(ONSET_POS_WEIGHT, device=ol.device))
    l_off = F.binary_cross_entropy_with_logits(fl, off, pos_weight=torch.tensor(OFFSET_POS_WEIGHT, device=fl.device))
    return l_p + l_on + OFFSET_LOSS_WEIGHT * l_off, l_p


class _EndlessBatches(torch.utils.data.IterableDataset):
    """Training batches drawn with the DataModule's current random generator, for ever."""

    def __init__(self, dm: "ClipDataModule"):
        self.dm = dm

    def __iter__(self):
        while True:
            yield self.dm.make_batch(self.dm.rng.choice(self.dm.train_ids, self.dm.batch), self.dm.rng)


class ClipDataModule(L.LightningDataModule):
    """Random crops of a clip file (npz: int16 audio at 16 kHz + notes) as front-end batches.

    Parameters
    ----------
    clips : the clip file.
    seed : the split and the training crops' random generator (``reseed(step)`` on resume).
    val_clips : clips held out for validation (at most a fifth; none when there is one clip).
    batch, crop_frames : training batch size and crop length in frames (16 ms each).
    """

    def __init__(self, clips, *, seed: int, val_clips: int, batch: int, crop_frames: int):
        super().__init__()
        from tunesmith.transcribe.pitch import HarmonicFrontEnd

        self.seed, self.batch, self.crop = int(seed), int(batch), int(crop_frames)
        self.rng = np.random.default_rng(self.seed)
        d = np.load(clips)
        self.starts = np.concatenate([[0], np.cumsum(d["lengths"])])
        self.nstarts = np.concatenate([[0], np.cumsum(d["n_notes"])])
        self.audio, self.notes = d["audio"], d["notes"]
        n = len(d["lengths"])
        idx = self.rng.permutation(n)
        n_val = min(int(val_clips), max(1, n // 5)) if n > 1 else 0
        self.val_ids, self.train_ids = idx[:n_val], (idx[n_val:] if n > n_val else idx)
        self.fe = HarmonicFrontEnd()
        vrng = np.random.default_rng(VAL_SEED)
        self.val_batches = [self.make_batch(self.val_ids[k:k + VAL_BATCH], vrng)
                            for k in range(0, len(self.val_ids), VAL_BATCH)]

    def reseed(self, step: int) -> None:
        """Continue a run at ``step`` with the generator the hand-written loop used (``seed + step``)."""
        if step > 0:
            self.rng = np.random.default_rng(self.seed + int(step))

    def sample(self, i: int, rng: np.random.Generator):
        """One random crop of clip ``i``: ``(audio, pitch classes, onset, offset)``."""
        from tunesmith.transcribe.pitch import HOP_LENGTH, SR

        y = self.audio[self.starts[i]:self.starts[i + 1]].astype(np.float32) / 32767
        notes = self.notes[self.nstarts[i]:self.nstarts[i + 1]]
        n_fr = self.crop + 2 * CROP_MARGIN
        total = len(y) // HOP_LENGTH
        f0 = int(rng.integers(-CROP_MARGIN, max(-CROP_MARGIN + 1, total - self.crop - CROP_MARGIN)))
        a = f0 * HOP_LENGTH
        seg = np.zeros(n_fr * HOP_LENGTH, dtype=np.float32)
        lo, hi = max(0, a), min(len(y), a + len(seg))
        if hi > lo:
            seg[lo - a:hi - a] = y[lo:hi]
        return (seg, *frame_targets(notes, (f0 + CROP_MARGIN) * HOP_LENGTH / SR, self.crop))

    def make_batch(self, ids, rng: np.random.Generator):
        """``(spec, bands, classes, onsets, offsets)`` tensors of the crops of clips ``ids``."""
        items = [self.sample(int(i), rng) for i in ids]
        with torch.no_grad():
            spec, bands, _ = self.fe(torch.from_numpy(np.stack([it[0] for it in items])))
        sl = slice(CROP_MARGIN, CROP_MARGIN + self.crop)
        return (spec[:, :, sl], bands[:, :, sl], *(torch.from_numpy(np.stack([it[k] for it in items]))
                                                   for k in (1, 2, 3)))

    def train_dataloader(self):
        # Lightning asks for the loader after restoring a resumed run's step and prefetches from it before
        # ``on_train_start``: this is where the stream of a run that starts at step k is chosen
        trainer = getattr(self, "trainer", None)
        self.reseed(int(trainer.global_step) if trainer is not None else 0)
        return torch.utils.data.DataLoader(_EndlessBatches(self), batch_size=None)

    def val_dataloader(self):
        # without validation clips one empty round still writes the metrics row (and the checkpoints)
        return torch.utils.data.DataLoader(self.val_batches or [()], batch_size=None)


class TranscriberModule(L.LightningModule):
    """Trains a :class:`~tunesmith.transcribe.pitch.TranscriberNet` (see the module docstring).

    Parameters
    ----------
    net : the network.
    lr, weight_decay, pct_start : AdamW and one-cycle settings (``optim`` section).
    max_steps : optimiser steps of the run (the schedule's length; a resumed run may extend it).
    progress : called with each metrics row (a dict), e.g. to print it.
    """

    def __init__(self, net, *, lr: float, weight_decay: float, pct_start: float, max_steps: int, progress=None):
        super().__init__()
        self.net = net
        self.lr, self.weight_decay, self.pct_start = float(lr), float(weight_decay), float(pct_start)
        self.max_steps = int(max_steps)
        self.progress = progress
        self._last_train: tuple[float, float] = (float("nan"), float("nan"))
        self._val: list = []
        self._t0 = time.time()

    def forward(self, spec, bands):
        return self.net(spec, bands)

    def on_train_start(self) -> None:
        """Extend a resumed schedule to ``max_steps`` (the crops' stream is continued by the DataModule)."""
        self._t0 = time.time()
        sched = self.lr_schedulers()
        if sched is not None:
            sched.total_steps = self.max_steps + 1

    def training_step(self, batch, batch_idx):
        loss, l_p = transcriber_loss(self.net(batch[0], batch[1]), *batch[2:])
        self._last_train = (float(loss.detach()), float(l_p.detach()))
        self.log("train_loss", loss, prog_bar=True, logger=False, batch_size=int(batch[0].shape[0]))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.global_step >= self.max_steps:      # validate at the last step too, not only every eval_every
            self.trainer.should_stop = True

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch, batch_idx):
        if not batch:
            return
        out = self.net(batch[0], batch[1])
        m = batch[2] >= 0
        self._val.append((float(transcriber_loss(out, *batch[2:])[0]), int((out[0].argmax(1)[m] == batch[2][m]).sum()),
                          int(m.sum())))

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        train_loss, train_pitch = self._last_train
        row = {"train_loss": round(train_loss, 4), "train_pitch": round(train_pitch, 4)}
        if self._val:
            hit, cnt = sum(v[1] for v in self._val), sum(v[2] for v in self._val)
            val_loss = float(np.mean([v[0] for v in self._val]))
            row["val_loss"] = round(val_loss, 4)
            row["val_frame_acc"] = round(hit / max(1, cnt), 4) if cnt else float("nan")
            self.log("val_loss", val_loss, logger=False, prog_bar=True)
        row["elapsed_s"] = round(time.time() - self._t0, 1)
        if self.logger is not None:
            self.logger.log_metrics(row, step=self.global_step)
        if self.progress is not None:
            self.progress({"step": self.global_step, **row})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """The network's size and the schedule's length travel in Lightning's checkpoints (for ``--resume``)."""
        checkpoint["config"] = dict(self.net.config)
        checkpoint["max_steps"] = self.max_steps

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=self.max_steps + 1,
                                                    pct_start=self.pct_start)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
