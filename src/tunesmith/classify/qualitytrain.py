"""Training of the fault detector (:class:`~tunesmith.classify.qualitynet.QualityNet`) with Lightning.

Examples are made on the fly: a random crop of clean material (:class:`CleanPool`), at a random level,
either left good (only :func:`~tunesmith.classify.degrade.nuisance` changes) or spoiled by
:func:`~tunesmith.classify.degrade.degrade`; targets are "bad" and the multi-hot fault families. The
validation examples are a fixed, seeded draw from clean material kept apart from training (other
talkers, other files), so ``val_auc`` (of "bad") chooses the checkpoint and the numbers repeat.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from tunesmith.classify.degrade import FAMILIES, degrade, nuisance
from tunesmith.classify.qualitynet import OUTPUT_NAMES, SR, QualityNet
from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

__all__ = ["CleanPool", "FaultExamples", "QualityModule", "QualityDataModule", "train_quality_net",
           "DEFAULT_CONFIG"]

DEFAULT_CONFIG = {
    "crop_s": 4.0,          # seconds per training example
    "bad_share": 0.5,       # share of spoiled examples
    "combo": 0.2,           # share of spoiled examples with two faults
    "level_db": [-38.0, -12.0],  # RMS of the crop before the fault, dBFS
    "family_weight": 0.5,   # weight of the family losses next to the bad/good loss
    "batch_size": 48,
    "lr": 2e-3,
    "weight_decay": 1e-4,
    "val_examples": 512,
    "workers": 1,
}


class CleanPool:
    """Clean recordings in memory, drawn from by kind with fixed shares.

    ``sources``: kind -> list of mono ``float32`` arrays at 16 kHz. ``joinable`` kinds (short utterances,
    spoken digits) are strung together with 10-ms cross-fades until a crop is long enough.
    """

    def __init__(self, sources: dict[str, list[np.ndarray]], shares: dict[str, float] | None = None,
                 joinable: tuple[str, ...] = ()):
        self.sources = {k: [np.asarray(a, dtype=np.float32) for a in v if len(a) > SR // 4] for k, v in sources.items()}
        self.sources = {k: v for k, v in self.sources.items() if v}
        if not self.sources:
            raise TunesmithError("no clean material to train the fault detector on")
        shares = shares or {k: 1.0 for k in self.sources}
        kinds = [k for k in self.sources if shares.get(k, 0) > 0]
        w = np.array([shares[k] for k in kinds], dtype=np.float64)
        self.kinds, self.weights = kinds, w / w.sum()
        self.joinable = set(joinable)

    def crop(self, n: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
        kind = kind or self.kinds[int(rng.choice(len(self.kinds), p=self.weights))]
        pool = self.sources[kind]
        parts, total = [], 0
        while total < n + SR // 2:  # room for the cross-fades
            a = pool[int(rng.integers(len(pool)))]
            if not parts and len(a) > n:
                s = int(rng.integers(0, len(a) - n + 1))
                return a[s:s + n].astype(np.float64)
            if kind not in self.joinable and len(a) >= n:
                s = int(rng.integers(0, len(a) - n + 1))
                return a[s:s + n].astype(np.float64)
            parts.append(a.astype(np.float64) / (np.sqrt(np.mean(a.astype(np.float64) ** 2)) + 1e-9))
            total += len(a)
        out = parts[0]
        fade = int(0.01 * SR)
        ramp = np.linspace(0.0, 1.0, fade)
        for p in parts[1:]:
            if len(out) > fade and len(p) > fade:
                out = np.concatenate([out[:-fade], out[-fade:] * (1 - ramp) + p[:fade] * ramp, p[fade:]])
            else:
                out = np.concatenate([out, p])
        s = int(rng.integers(0, len(out) - n + 1))
        return out[s:s + n]


def make_example(pool: CleanPool, rng: np.random.Generator, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """One ``(samples float32, targets float32[1 + families])`` example."""
    n = int(cfg["crop_s"] * SR)
    y = pool.crop(n, rng)
    y = y / (np.sqrt(np.mean(y ** 2)) + 1e-9) * 10 ** (rng.uniform(*cfg["level_db"]) / 20)
    y = nuisance(y, SR, rng)
    target = np.zeros(len(OUTPUT_NAMES), dtype=np.float32)
    if rng.random() < cfg["bad_share"]:
        y, fault = degrade(y, SR, rng, combo=cfg["combo"], others=lambda m: pool.crop(m, rng))
        target[0] = 1.0
        for f in fault.families:
            target[1 + FAMILIES.index(f)] = 1.0
    peak = np.max(np.abs(y))
    if peak > 0.99:
        y = y * (0.99 / peak)
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y)
    return y.astype(np.float32), target


class FaultExamples(torch.utils.data.IterableDataset):
    """An endless stream of examples (each worker seeded from ``seed`` and its id)."""

    def __init__(self, pool: CleanPool, cfg: dict, seed: int = 0):
        super().__init__()
        self.pool, self.cfg, self.seed = pool, cfg, seed
        self.epoch = 0

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, self.epoch, wid])
        self.epoch += 1
        while True:
            yield make_example(self.pool, rng, self.cfg)


def _lightning():
    import lightning as L

    return L


class QualityDataModule(_lightning().LightningDataModule):
    """Training stream from ``train_pool``; a fixed validation draw of ``val_examples`` from ``val_pool``."""

    def __init__(self, train_pool: CleanPool, val_pool: CleanPool, cfg: dict, seed: int = 0,
                 steps_per_epoch: int = 200):
        super().__init__()
        self.train_pool, self.val_pool, self.cfg, self.seed = train_pool, val_pool, cfg, seed
        self.steps_per_epoch = steps_per_epoch
        self._val = None

    def train_dataloader(self):
        ds = FaultExamples(self.train_pool, self.cfg, self.seed)
        workers = int(self.cfg.get("workers", 0))
        return torch.utils.data.DataLoader(ds, batch_size=int(self.cfg["batch_size"]), num_workers=workers,
                                           persistent_workers=False)

    def val_dataloader(self):
        if self._val is None:
            rng = np.random.default_rng([self.seed, 999])
            ex = [make_example(self.val_pool, rng, self.cfg) for _ in range(int(self.cfg["val_examples"]))]
            self._val = torch.utils.data.TensorDataset(torch.from_numpy(np.stack([e[0] for e in ex])),
                                                       torch.from_numpy(np.stack([e[1] for e in ex])))
        return torch.utils.data.DataLoader(self._val, batch_size=64)


class QualityModule(_lightning().LightningModule):
    """BCE on "bad" plus ``family_weight`` x BCE on the families; logs loss, accuracy and AUC of "bad"."""

    def __init__(self, cfg: dict, total_steps: int):
        super().__init__()
        self.cfg, self.total_steps = cfg, int(total_steps)
        self.net = QualityNet()
        self._val_out: list = []

    def _loss(self, logits, target):
        bad = F_bce(logits[:, 0], target[:, 0])
        fam = F_bce(logits[:, 1:], target[:, 1:])
        return bad + float(self.cfg["family_weight"]) * fam

    def training_step(self, batch, _):
        x, t = batch
        loss = self._loss(self.net(x), t)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, _):
        x, t = batch
        logits = self.net(x)
        self._val_out.append((logits.detach(), t))
        self.log("val_loss", self._loss(logits, t), prog_bar=True, on_epoch=True)

    def on_validation_epoch_end(self):
        if not self._val_out:
            return
        logits = torch.cat([o[0] for o in self._val_out])
        t = torch.cat([o[1] for o in self._val_out])
        self._val_out.clear()
        p, y = logits[:, 0], t[:, 0]
        self.log("val_acc", ((p > 0).float() == y).float().mean())
        self.log("val_auc", _auc(p, y))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=float(self.cfg["lr"]),
                                weight_decay=float(self.cfg["weight_decay"]))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(self.cfg["lr"]),
                                                    total_steps=max(2, self.total_steps), pct_start=0.1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def F_bce(logits, target):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)


def _auc(score: torch.Tensor, y: torch.Tensor) -> float:
    pos, neg = score[y > 0.5], score[y <= 0.5]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float((pos[:, None] > neg[None, :]).float().mean() + 0.5 * (pos[:, None] == neg[None, :]).float().mean())


def train_quality_net(train_pool: CleanPool, val_pool: CleanPool, out_dir: str | Path, *, max_steps: int = 3000,
                      val_every: int = 250, max_minutes: float | None = None, resume: bool | str = False,
                      config: dict | None = None, seed: int = 0, progress: bool = True,
                      accelerator: str = "auto", devices="auto") -> tuple[QualityNet, Path]:
    """Train with :func:`tunesmith.training.fit`; writes ``quality.pt`` (best by ``val_auc``) in ``out_dir``."""
    import lightning as L

    from tunesmith.training import fit
    from tunesmith.training.checkpoint import save_model_file

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    L.seed_everything(seed, workers=True)
    module = QualityModule(cfg, max_steps)
    data = QualityDataModule(train_pool, val_pool, cfg, seed)
    # AUC of "bad", not the loss, chooses the checkpoint: many drawn faults are nearly inaudible (a tone
    # 28 dB down, noise at 22 dB SNR), and the loss on those rises with confidence while the ranking improves.
    res = fit(module, data, out_dir, max_steps=max_steps, max_minutes=max_minutes, resume=resume,
              accelerator=accelerator, devices=devices, monitor="val_auc", mode="max", progress=progress,
              trainer_options={"val_check_interval": int(val_every), "check_val_every_n_epoch": None,
                               "gradient_clip_val": 1.0, "num_sanity_val_steps": 0},
              title="fault detector")
    res.load_best(module)
    path = save_model_file(Path(out_dir) / "quality.pt", "classifier",
                           config={"model": "qualitynet", "network": {}, "training": cfg,
                                   "outputs": list(OUTPUT_NAMES), "sr": SR},
                           state_dict=module.net.state_dict())
    return module.net.eval(), path
