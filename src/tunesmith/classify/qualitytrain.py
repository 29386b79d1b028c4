"""Training of the fault detector (:class:`~tunesmith.classify.qualitynet.QualityNet`) with Lightning.

Examples are made on the fly: a random crop of clean material (:class:`CleanPool`), at a random level,
either left good (only :func:`~tunesmith.classify.degrade.nuisance` changes) or spoiled by
:func:`~tunesmith.classify.degrade.degrade`; targets are "bad" and the multi-hot fault families. The
validation examples are a fixed, seeded draw from clean material kept apart from training (other
talkers, other files), so ``val_auc`` (of "bad") chooses the checkpoint and the numbers repeat.

:func:`train_quality_from_folders` (``tunesmith train quality --clean DIR ...``) makes the two pools
from a user's folders of clean recordings: each folder is one kind with an equal share, one file in
:data:`VAL_EVERY_FILE` of each is held out for validation (a folder of one file: its last
:data:`VAL_TAIL` of samples).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tunesmith.classify.degrade import FAMILIES, ambience, degrade, nuisance
from tunesmith.classify.qualitynet import OUTPUT_NAMES, SR, QualityNet
from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

__all__ = ["CleanPool", "FaultExamples", "QualityModule", "QualityDataModule", "train_quality_net",
           "DEFAULT_CONFIG", "load_config", "train_quality_from_folders", "FolderTraining", "split_clean_folder",
           "VAL_EVERY_FILE", "VAL_TAIL"]

DEFAULT_CONFIG = {
    "crop_s": 4.0,          # seconds per training example
    "bad_share": 0.5,       # share of spoiled examples
    "combo": 0.2,           # share of spoiled examples with two faults
    "ambience": 0.4,        # share of examples (good and bad) put in an ordinary room first (degrade.ambience)
    "perturb": 0.0,         # share of examples (good and bad) played at another constant speed first: a new
                            # talker's or player's pitch and formants, which is no fault (:func:`speed_perturb`);
                            # 0.5 measured no gain (development sets, 2026-12-02), so it is off
    "perturb_semitones": 3.0,  # the speed change is up to this many semitones either way (uniform)
    "level_db": [-38.0, -12.0],  # RMS of the crop before the fault, dBFS
    "family_weight": 0.5,   # weight of the family losses next to the bad/good loss
    "batch_size": 48,
    "lr": 2e-3,
    "weight_decay": 1e-4,
    "val_examples": 512,
    "workers": 1,
    "max_steps": 3000,      # optimiser steps (the one-cycle schedule spans them)
    "val_every": 250,       # steps between validations (each writes last.ckpt; best.ckpt by val_auc)
    "keep": "last",         # quality.pt holds the weights of the last step ("last") or of best val_auc ("best")
    "max_minutes": None,    # wall-clock budget of the run (null: none)
    "seed": 0,
    "init": None,           # start from these weights: "shipped" (the packaged detector) or a quality.pt
}
#: Keys of :data:`DEFAULT_CONFIG` that steer the run, not the examples; keywords of :func:`train_quality_net`.
RUN_KEYS = ("max_steps", "val_every", "max_minutes", "seed", "init")
#: One file in this many of each clean folder (sorted by path, the first, the eleventh, ...) is for validation.
VAL_EVERY_FILE = 10
#: A folder of a single file gives this last share of its samples to validation.
VAL_TAIL = 0.15
#: Shortest usable clean recording, in samples (what :class:`CleanPool` keeps).
MIN_SAMPLES = SR // 4


def load_config(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> dict:
    """:data:`DEFAULT_CONFIG` <- the YAML file ``path`` (e.g. ``configs/quality.yaml``) <- ``overrides``.

    Unknown keys are one-line :class:`TunesmithError` naming the key and the file
    (:func:`tunesmith.config.load_config`).
    """
    from tunesmith.config import load_config as load

    cfg = load(DEFAULT_CONFIG, path, overrides)
    _check_config(cfg)
    return cfg


#: settings that are shares of the examples, each within 0-1
_SHARES = ("bad_share", "combo", "ambience", "perturb")


def _check_config(cfg: dict) -> None:
    """One-line errors, before any audio is read, for a ``keep`` other than last/best, a number setting
    given something else, or a share outside 0-1."""
    if cfg["keep"] not in ("last", "best"):
        raise TunesmithError(f"keep must be last or best, not {cfg['keep']!r}")
    for key, default in DEFAULT_CONFIG.items():
        value = cfg[key]
        if isinstance(default, (int, float)) and not isinstance(default, bool) and value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TunesmithError(f"{key} must be a number, not {value!r}")
    for key in _SHARES:
        if not 0.0 <= cfg[key] <= 1.0:
            raise TunesmithError(f"{key} is a share of the examples, between 0 and 1, not {cfg[key]!r}")
    if cfg["perturb_semitones"] < 0:
        raise TunesmithError(f"perturb_semitones must be 0 or more, not {cfg['perturb_semitones']!r}")


class CleanPool:
    """Clean recordings in memory, drawn from by kind with fixed shares.

    ``sources``: kind -> list of mono ``float32`` arrays at 16 kHz. ``joinable`` kinds (short utterances,
    spoken digits) are strung together with 10-ms cross-fades until a crop is long enough.
    """

    def __init__(self, sources: dict[str, list[np.ndarray]], shares: dict[str, float] | None = None,
                 joinable: tuple[str, ...] = ()):
        self.sources = {k: [np.asarray(a, dtype=np.float32) for a in v if len(a) > MIN_SAMPLES] for k, v in sources.items()}
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


def speed_perturb(pool: CleanPool, n: int, rng: np.random.Generator, semitones: float) -> np.ndarray:
    """``n`` samples of a clean crop played at a constant speed ``2 ** (u / 12)``, ``u`` uniform in
    +-``semitones`` (band-limited resampling, so no aliasing cue): pitch, formants and tempo move together,
    as from another talker or player; a steady speed is no fault (wow and flutter are changing speeds)."""
    import soxr

    factor = 2.0 ** (rng.uniform(-semitones, semitones) / 12.0)
    m = int(np.ceil(n * factor)) + 32
    z = soxr.resample(pool.crop(m, rng), SR * factor, SR, quality="HQ")
    if len(z) < n:
        z = np.pad(z, (0, n - len(z)), mode="reflect")
    return np.asarray(z[:n], dtype=np.float64)


def make_example(pool: CleanPool, rng: np.random.Generator, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """One ``(samples float32, targets float32[1 + families])`` example."""
    n = int(cfg["crop_s"] * SR)
    if rng.random() < cfg["perturb"]:
        y = speed_perturb(pool, n, rng, cfg["perturb_semitones"])
    else:
        y = pool.crop(n, rng)
    y = y / (np.sqrt(np.mean(y ** 2)) + 1e-9) * 10 ** (rng.uniform(*cfg["level_db"]) / 20)
    if rng.random() < cfg["ambience"]:  # an ordinary room is no fault (good and bad alike)
        y = ambience(y, SR, rng)[0]
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
    """An endless stream of examples, each worker seeded from ``seed``, ``start`` and its id.

    ``start`` is the optimiser step the stream begins at: a resumed run passes its restored step, so it
    draws new examples rather than replaying the ones its first steps already saw."""

    def __init__(self, pool: CleanPool, cfg: dict, seed: int = 0, start: int = 0):
        super().__init__()
        self.pool, self.cfg, self.seed, self.start = pool, cfg, seed, int(start)
        self.epoch = 0

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        key = [self.seed, self.epoch, wid] if self.start == 0 else [self.seed, self.start, self.epoch, wid]
        rng = np.random.default_rng(key)  # a fresh run draws the stream it always drew
        self.epoch += 1
        while True:
            yield make_example(self.pool, rng, self.cfg)


def _lightning():
    import lightning as L

    return L


class QualityDataModule(_lightning().LightningDataModule):
    """Training stream from ``train_pool``; a fixed validation draw of ``val_examples`` from ``val_pool``."""

    def __init__(self, train_pool: CleanPool, val_pool: CleanPool, cfg: dict, seed: int = 0):
        super().__init__()
        self.train_pool, self.val_pool, self.cfg, self.seed = train_pool, val_pool, cfg, seed
        self._val = None

    def train_dataloader(self):
        trainer = getattr(self, "trainer", None)
        start = int(trainer.global_step) if trainer is not None else 0  # restored by the time this is built
        ds = FaultExamples(self.train_pool, self.cfg, self.seed, start)
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
        bad = _bce(logits[:, 0], target[:, 0])
        fam = _bce(logits[:, 1:], target[:, 1:])
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
        sched = _one_cycle(opt, float(self.cfg["lr"]), self.total_steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _one_cycle(opt, lr: float, total_steps: int):
    """``OneCycleLR`` with its peak ``lr`` after 10 % of ``max(2, total_steps)`` (a resumed run with another
    length is redrawn by :func:`tunesmith.training.fit`)."""
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(2, int(total_steps)), pct_start=0.1)


def _bce(logits, target):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)


def _auc(score: torch.Tensor, y: torch.Tensor) -> float:
    pos, neg = score[y > 0.5], score[y <= 0.5]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float((pos[:, None] > neg[None, :]).float().mean() + 0.5 * (pos[:, None] == neg[None, :]).float().mean())


def _resolve_init(init: str | Path | None) -> Path | None:
    """``"shipped"`` -> the packaged detector (``tunesmith.models.path("quality")``), else the path itself."""
    if init in (None, ""):
        return None
    from tunesmith import models

    return models.path("quality") if str(init) == "shipped" else Path(init)


def train_quality_net(train_pool: CleanPool, val_pool: CleanPool, out_dir: str | Path, *,
                      max_steps: int | None = None, val_every: int | None = None, max_minutes: float | None = None,
                      resume: bool | str = False, config: dict | None = None, seed: int | None = None,
                      progress: bool = True, accelerator: str = "auto", devices="auto",
                      init: str | Path | None = None, fast_dev_run: bool = False) -> tuple[QualityNet, Path]:
    """Train with :func:`tunesmith.training.fit`; writes ``quality.pt`` in ``out_dir``: the weights of the last
    step (config ``keep: last``, the default) or of the best validation AUC of "bad" (``keep: best``).
    The last step won where both were compared (two of the good-vs-bad development sets, 2026-12-02):
    the validation draw of 512 examples is too small and too like the training material to pick a step by.

    ``config`` holds keys of :data:`DEFAULT_CONFIG` (unknown keys are an error); the keywords
    ``max_steps``, ``val_every``, ``max_minutes``, ``seed`` and ``init`` win over it when not ``None``
    (defaults: 3000 steps, a validation every 250, no time budget, seed 0, random weights). ``init``
    (``"shipped"`` or a ``quality.pt``) loads those weights before training (fine-tuning; a resumed run
    takes its own from ``last.ckpt``). ``fast_dev_run``: one batch of training and validation, no checkpoints.
    """
    import lightning as L

    from tunesmith.config import merge_checked
    from tunesmith.training import fit
    from tunesmith.training.checkpoint import save_model_file

    cfg = merge_checked(DEFAULT_CONFIG, config or {})
    _check_config(cfg)
    given = {"max_steps": max_steps, "val_every": val_every, "max_minutes": max_minutes, "seed": seed,
             "init": None if init is None else str(init)}
    cfg.update({k: v for k, v in given.items() if v is not None})
    L.seed_everything(int(cfg["seed"]), workers=True)
    module = QualityModule(cfg, int(cfg["max_steps"]))
    start = _resolve_init(cfg["init"])
    if start is not None:
        from tunesmith.classify.qualitynet import load_quality_net

        module.net.load_state_dict(load_quality_net(start).state_dict())
        log.info("starting from the weights of %s", start)
    data = QualityDataModule(train_pool, val_pool, cfg, int(cfg["seed"]))
    # AUC of "bad", not the loss, chooses the checkpoint: many drawn faults are nearly inaudible (a tone
    # 28 dB down, noise at 18 dB SNR), and the loss on those rises with confidence while the ranking improves.
    res = fit(module, data, out_dir, max_steps=int(cfg["max_steps"]), max_minutes=cfg["max_minutes"], resume=resume,
              accelerator=accelerator, devices=devices, monitor="val_auc", mode="max", progress=progress,
              fast_dev_run=fast_dev_run,
              trainer_options={"val_check_interval": int(cfg["val_every"]), "check_val_every_n_epoch": None,
                               "gradient_clip_val": 1.0, "num_sanity_val_steps": 0},
              title="fault detector")
    (res.load_last if cfg["keep"] == "last" else res.load_best)(module)
    path = save_model_file(Path(out_dir) / "quality.pt", "classifier",
                           config={"model": "qualitynet", "network": {}, "training": cfg,
                                   "outputs": list(OUTPUT_NAMES), "sr": SR},
                           state_dict=module.net.state_dict())
    return module.net.eval(), path


def split_clean_folder(recordings: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(train, validation)`` recordings of one folder, deterministically.

    Recordings ``0, 10, 20, ...`` (one in :data:`VAL_EVERY_FILE`, at least one) go to validation when
    there are two or more; a single recording gives its last :data:`VAL_TAIL` of samples to validation
    and keeps the rest for training.
    """
    if len(recordings) == 1:
        y = recordings[0]
        cut = int(round(len(y) * (1.0 - VAL_TAIL)))
        return [y[:cut]], [y[cut:]]
    val = [y for i, y in enumerate(recordings) if i % VAL_EVERY_FILE == 0]
    train = [y for i, y in enumerate(recordings) if i % VAL_EVERY_FILE != 0]
    return train, val


@dataclass
class FolderTraining:
    """What :func:`train_quality_from_folders` did.

    ``path``: the written ``quality.pt``; ``net``: the trained detector (eval mode); ``skipped``: file ->
    one-line reason for each unusable file; ``kinds``: folder -> ``{"train_files", "val_files",
    "train_s", "val_s"}`` (seconds of clean material at 16 kHz); ``config``: the effective settings;
    ``warnings``: one line each (e.g. a folder without enough audio to validate on).
    """

    path: Path
    net: QualityNet
    skipped: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def _read_clean(path: Path) -> np.ndarray:
    from tunesmith.audio import check_not_silent, load

    audio = check_not_silent(load(path, sr=SR), path)
    if len(audio.samples) <= MIN_SAMPLES:
        raise TunesmithError(f"shorter than {MIN_SAMPLES / SR:g} s", path)
    return audio.samples


def read_clean_folders(folders, *, progress: bool = True) -> tuple[dict, dict]:
    """``({folder: [recordings]}, {file: reason})``: every audio file under each folder (recursive), at 16 kHz.

    Unreadable, silent and too-short files are skipped (logged one line each by
    :func:`tunesmith.batch.run_batch`). Raises :class:`TunesmithError` naming the folder when it is
    missing, holds no audio file, or no usable one.
    """
    from tunesmith.batch import run_batch
    from tunesmith.io import AUDIO_EXTENSIONS, expand_paths

    recordings, skipped, seen = {}, {}, set()
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise TunesmithError("not a folder of clean recordings" if folder.exists() else "no such folder", folder)
        key = folder.resolve()
        if key in seen:
            continue
        seen.add(key)
        files = expand_paths([folder], AUDIO_EXTENSIONS)
        if not files:
            raise TunesmithError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder", folder)
        batch = run_batch(files, _read_clean, desc=f"reading {folder}", progress=progress)
        skipped.update(batch.failed)
        if not batch.done:
            raise TunesmithError(f"no usable audio in this folder ({len(files)} file(s), all skipped)", folder)
        recordings[str(folder)] = [batch.done[f] for f in files if f in batch.done]
    return recordings, skipped


def train_quality_from_folders(folders, out_dir: str | Path = "runs/quality", *, config: str | Path | dict | None = None,
                               overrides: list[str] | None = None, resume: bool | str = False,
                               fast_dev_run: bool = False, accelerator: str = "auto", devices="auto",
                               progress: bool = True) -> FolderTraining:
    """Train (or fine-tune, ``init``) the fault detector on folders of the user's clean recordings.

    Parameters
    ----------
    folders : folders of clean material; every audio file under each (recursive) counts. Each folder is
        one kind of :class:`CleanPool` with an equal share, so a large folder does not drown a small one,
        and every kind is joinable (recordings shorter than ``crop_s`` are strung together).
    out_dir : run folder: ``quality.pt``, ``best.ckpt``, ``last.ckpt``, ``metrics.csv``, curves.
    config : a YAML file (``configs/quality.yaml``) or a mapping of :data:`DEFAULT_CONFIG` keys.
    overrides : ``key=value`` strings (``--set``), after ``config``.
    resume : ``True`` continues ``last.ckpt`` (an error without one), ``"auto"`` when present.
    fast_dev_run, accelerator, devices, progress : as :func:`tunesmith.training.fit`.

    Validation: :func:`split_clean_folder` per folder. Raises :class:`TunesmithError` (one line naming
    the folder or key) for a folder without usable audio, an unknown setting, or no validation audio.
    """
    from tunesmith.config import load_config as load, merge_checked

    given = isinstance(config, dict)
    cfg = load(merge_checked(DEFAULT_CONFIG, config) if given else DEFAULT_CONFIG, None if given else config,
               overrides)
    _check_config(cfg)
    from tunesmith.training.fit import resume_path

    resume_path(Path(out_dir), resume)  # --resume without a run: say so before reading hours of audio
    start = _resolve_init(cfg["init"])
    if start is not None and not start.is_file():
        raise TunesmithError("no such model file to start from (init)", start)
    recordings, skipped = read_clean_folders(folders, progress=progress)
    train, val, kinds, notes = {}, {}, {}, []
    for kind, recs in recordings.items():
        tr, va = split_clean_folder(recs)
        va = [y for y in va if len(y) > MIN_SAMPLES]
        if not va:
            notes.append(f"{kind}: too little audio to hold some out, so validation has none of it")
            log.warning("%s", notes[-1])
        train[kind], val[kind] = tr, va
        kinds[kind] = {"train_files": len(tr), "val_files": len(va), "train_s": sum(map(len, tr)) / SR,
                       "val_s": sum(map(len, va)) / SR}
    if not any(val.values()):
        raise TunesmithError(f"too little clean audio to validate on (each folder needs two files, or one longer "
                             f"than {MIN_SAMPLES / SR / VAL_TAIL:.1f} s): {', '.join(recordings)}")
    kinds_all = tuple(recordings)
    equal = {k: 1.0 for k in kinds_all}
    train_pool = CleanPool(train, equal, joinable=kinds_all)
    val_pool = CleanPool({k: v for k, v in val.items() if v}, {k: 1.0 for k in kinds_all if val[k]},
                         joinable=kinds_all)
    run = {k: cfg[k] for k in RUN_KEYS}
    net, path = train_quality_net(train_pool, val_pool, out_dir, resume=resume, config=cfg, progress=progress,
                                  accelerator=accelerator, devices=devices, fast_dev_run=fast_dev_run, **run)
    return FolderTraining(path=path, net=net, skipped=skipped, kinds=kinds, config=cfg, warnings=notes)
