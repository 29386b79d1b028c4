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

import logging
import copy
import statistics
import warnings
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


def _merge(base: dict, extra: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        if k not in out:
            if where in ("trainer",):  # any Trainer option is allowed
                out[k] = v
                continue
            raise TunesmithError(f"unknown setting {where + '.' if where else ''}{k} "
                                 f"(known: {', '.join(sorted(out))})")
        out[k] = _merge(out[k], v, k) if isinstance(out[k], dict) and isinstance(v, dict) else v
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """DEFAULTS ← YAML file ← ``section.key=value`` overrides; raises TunesmithError on unknown keys."""
    from tunesmith.config import read_yaml_mapping

    cfg = copy.deepcopy(DEFAULTS)
    if path:
        cfg = _merge(cfg, read_yaml_mapping(path), "")
    return apply_overrides(cfg, overrides or [])


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """``cfg`` with ``section.key=value`` settings (:func:`tunesmith.config.parse_overrides`) checked and merged."""
    from tunesmith.config import parse_overrides

    return _merge(cfg, parse_overrides(overrides), "")


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


METRICS_FILE = "metrics.csv"
HELD_METRICS_FILE = "metrics.before-resume.csv"


def _is_main_process() -> bool:
    """True in the launching process (rank 0); DDP worker processes get a non-zero rank in the environment."""
    import os

    return all(os.environ.get(v, "0") == "0" for v in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _read_metrics(path: Path) -> tuple[list[str], list[dict]]:
    import csv

    if not path.exists():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _hold_metrics_for_resume(out: Path) -> Path | None:
    """Move ``metrics.csv`` aside before a resumed run (Lightning's CSV logger deletes it on start).

    If a held copy is already there (a previous resume was killed before it could
    merge), the current file is merged into it first. Returns the held copy's path.
    """
    metrics, held = out / METRICS_FILE, out / HELD_METRICS_FILE
    if held.exists():
        if metrics.exists():
            _merge_metrics(held, metrics)  # writes the union into metrics.csv
            metrics.replace(held)
        return held
    if metrics.exists():
        metrics.replace(held)
        return held
    return None


def _merge_metrics(held: Path, metrics: Path) -> None:
    """Write the earlier rows of ``held`` followed by the rows of ``metrics`` into ``metrics``; remove ``held``.

    Rows of the earlier run at or after the first global step logged by the
    resumed run (an epoch that was interrupted and is trained again) are dropped,
    so each step appears once. Columns are the union of both files' columns.
    """
    from tunesmith.io import atomic_path

    old_cols, old_rows = _read_metrics(held)
    new_cols, new_rows = _read_metrics(metrics)
    steps = [int(float(r["step"])) for r in new_rows if r.get("step")]
    if steps:
        first = min(steps)
        old_rows = [r for r in old_rows if r.get("step") and int(float(r["step"])) < first]
    cols = old_cols + [c for c in new_cols if c not in old_cols]
    if cols:
        import csv

        with atomic_path(metrics) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=cols, restval="")
            writer.writeheader()
            writer.writerows(old_rows + new_rows)
    held.unlink(missing_ok=True)


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
    """Train a composer on a folder of songs; returns the path of the best checkpoint.

    ``resume=True`` continues from ``OUT_DIR/last.ckpt`` (model, optimiser,
    schedule, epoch and early-stopping state).
    """
    import torch
    import yaml

    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from tunesmith.compose.data import ComposerDataModule
    from tunesmith.compose.model import ComposerModule, MelodyLSTM
    from tunesmith.io import atomic_write_text
    from tunesmith.plots import training_curves_png

    cfg = copy.deepcopy(cfg) if cfg is not None else load_config(config, overrides)
    out = Path(out_dir)
    last = out / "last.ckpt"
    if resume and not last.exists():
        raise TunesmithError("nothing to resume: no last.ckpt in the run folder", out)
    if not resume and last.exists():
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
    if _is_main_process():
        atomic_write_text(out / SONGS_FILE, _songs_report(dm))
    net = MelodyLSTM(**cfg["model"])
    module = ComposerModule(net, **cfg["optim"])
    module.tunesmith_extra = {**_training_meta(dm), "config": yaml.safe_dump(cfg)}
    if not resume or not (out / "config.yaml").exists():
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    ckpt_best = ModelCheckpoint(dirpath=out, filename="best", monitor="val_bits_per_note", mode="min",
                                save_last=True, save_top_k=1, enable_version_counter=False)
    callbacks = [ckpt_best]
    if cfg["early_stopping"].get("patience"):
        callbacks.append(EarlyStopping(monitor="val_bits_per_note", mode="min",
                                       patience=int(cfg["early_stopping"]["patience"])))
    held = _hold_metrics_for_resume(out) if resume and _is_main_process() else None
    logger = CSVLogger(save_dir=str(out), name="", version="")
    tcfg = dict(cfg["trainer"])
    trainer = L.Trainer(default_root_dir=str(out), callbacks=callbacks, logger=logger,
                        enable_model_summary=False, **tcfg)
    torch.set_float32_matmul_precision("high")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")  # our own config.yaml is there
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=str(last) if resume else None)
    finally:  # also after an interruption of the resumed run: the history is never lost
        if held is not None:
            _merge_metrics(held, out / METRICS_FILE)
    if trainer.global_rank == 0:
        metrics = out / "metrics.csv"
        if metrics.exists():
            training_curves_png(metrics, out / "training_curves.png", title=f"composer ({out.name})")
    best = Path(ckpt_best.best_model_path) if ckpt_best.best_model_path else last
    return best
