"""``tunesmith train composer``: YAML config + overrides → DataModule, LightningModule, Trainer.

The configuration has four sections, each passed as keyword arguments:
``data`` → :class:`~tunesmith.compose.data.ComposerDataModule`, ``model`` →
:class:`~tunesmith.compose.model.MelodyLSTM`, ``optim`` →
:class:`~tunesmith.compose.model.ComposerModule`, ``trainer`` →
:class:`lightning.Trainer` (any Trainer option: ``devices``, ``precision``,
``strategy``, ``max_epochs``, ``gradient_clip_val``...), plus ``early_stopping``
(patience) and ``seed``. Values come from :data:`DEFAULTS`, then the YAML file,
then ``section.key=value`` overrides (values parsed as YAML).

A run folder holds ``config.yaml`` (the effective configuration),
``last.ckpt`` and ``best.ckpt`` (lowest validation bits per note),
``metrics.csv``, ``training_curves.png`` and ``songs.csv`` (each input file: how
many pieces it gave, and the skipped ones with the reason).
"""
from __future__ import annotations

import copy
import logging
import statistics
from collections import Counter
from pathlib import Path

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

__all__ = ["DEFAULTS", "load_config", "apply_overrides", "train_composer"]

#: The built-in settings: the same values as ``configs/composer.yaml`` (the shipped model's recipe; a test
#: keeps the two equal).
DEFAULTS: dict = {
    "seed": 0,
    "data": {"valid_fraction": 0.1, "track": None, "key_normalize": True, "transpose": [0, 0],
             "seq_len": 256, "batch_size": 16, "cache_dir": None, "workers": None, "num_workers": 0},
    "model": {"pitch_dim": 64, "dur_dim": 32, "pos_dim": 16, "bar_dim": 0, "hidden": 256, "layers": 2,
              "dropout": 0.3},
    "optim": {"lr": 2e-3, "weight_decay": 1e-4, "lr_schedule": "plateau", "duration_weight": 1.0,
              "plateau_patience": 3},
    "trainer": {"max_epochs": 60, "accelerator": "auto", "devices": 1, "gradient_clip_val": 1.0,
                "log_every_n_steps": 5, "enable_progress_bar": True},
    "early_stopping": {"patience": 8},
}


#: Sections that accept any key: every ``lightning.Trainer`` option may go into ``trainer``.
OPEN_SECTIONS = ("trainer",)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """DEFAULTS <- YAML file <- ``section.key=value`` overrides (:func:`tunesmith.config.load_config`)."""
    from tunesmith.config import load_config as load

    return load(DEFAULTS, path, overrides, open_sections=OPEN_SECTIONS)


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """``cfg`` with ``section.key=value`` settings checked and merged."""
    from tunesmith.config import load_config as load

    return load(cfg, None, overrides, open_sections=OPEN_SECTIONS)


def _training_meta(dm) -> dict:
    """What sampling needs to know about the training data (stored in the checkpoint)."""
    import numpy as np

    mels = dm.train_melodies
    ts = Counter(tuple(m.time_signature) for m in mels if m.time_signature).most_common(1)
    tempos = [m.tempo for m in mels if m.tempo]
    pitches = np.concatenate([m.pitch[m.pitch < 128] - m.shift for m in mels])
    return {"key_normalize": bool(dm.key_normalize), "time_signature": list(ts[0][0]) if ts else [4, 4],
            "tempo": float(statistics.median(tempos)) if tempos else 100.0,
            "pitch_range": [int(np.percentile(pitches, 1)), int(np.percentile(pitches, 99))],
            "train_songs": len(mels)}


SONGS_FILE = "songs.csv"


def _songs_report(dm) -> str:
    """CSV ``file,pieces,skipped,reasons``: what each input file gave (usable files, then failed ones)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "pieces", "skipped", "reasons"])
    for f, r in sorted(dm.report.items()):
        w.writerow([f, r["pieces"], len(r["skipped"]), "; ".join(f"{k}: {v}" for k, v in r["skipped"].items())])
    for f, why in sorted(dm.failed.items()):
        w.writerow([f, 0, "file", why])
    return buf.getvalue()


def train_composer(data=None, *, config: str | Path | None = None, out_dir: str | Path = "runs/composer",
                   overrides: list[str] | None = None, resume: bool = False, valid_data=None,
                   cfg: dict | None = None) -> Path:
    """Train a composer on a folder of songs with :func:`tunesmith.training.fit`; returns the best checkpoint.

    ``resume=True`` continues from ``OUT_DIR/last.ckpt`` (model, optimiser, schedule, epoch,
    early-stopping state and the ``metrics.csv`` history).
    """
    import torch
    import yaml

    import lightning as L

    from tunesmith.compose.data import ComposerDataModule
    from tunesmith.compose.model import ComposerModule, MelodyLSTM
    from tunesmith.io import atomic_write_text
    from tunesmith.training import fit
    from tunesmith.training.fit import LAST_CHECKPOINT, is_main_process, resume_path

    cfg = copy.deepcopy(cfg) if cfg is not None else load_config(config, overrides)
    out = Path(out_dir)
    resume_path(out, bool(resume))          # a one-line error before the songs are parsed
    if not resume and (out / LAST_CHECKPOINT).exists():
        raise TunesmithError("run folder already holds a training run (use --resume to continue it, "
                             "or choose another -o)", out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(int(cfg["seed"]), workers=True, verbose=False)
    dcfg = dict(cfg["data"])
    dcfg["transpose"] = tuple(dcfg["transpose"])
    dm = ComposerDataModule(data, valid_data, **dcfg)
    dm.prepare_data()
    dm.setup("fit")
    log.info("composer data: %s", dm.summary())
    if is_main_process():
        atomic_write_text(out / SONGS_FILE, _songs_report(dm))
    module = ComposerModule(MelodyLSTM(**cfg["model"]), **cfg["optim"])
    module.tunesmith_extra = {**_training_meta(dm), "config": yaml.safe_dump(cfg)}
    if not resume or not (out / "config.yaml").exists():
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    tcfg = dict(cfg["trainer"])
    torch.set_float32_matmul_precision("high")
    result = fit(module, dm, out, max_epochs=tcfg.pop("max_epochs", None), max_steps=tcfg.pop("max_steps", None),
                 accelerator=tcfg.pop("accelerator", "auto"), devices=tcfg.pop("devices", 1),
                 progress=tcfg.pop("enable_progress_bar", True), fast_dev_run=tcfg.pop("fast_dev_run", False),
                 resume=bool(resume), monitor="val_bits_per_note", mode="min",
                 patience=cfg["early_stopping"].get("patience"), trainer_options=tcfg,
                 title=f"composer ({out.name})")
    return result.best or result.last
