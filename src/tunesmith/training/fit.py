"""``fit``: the one Lightning training run behind every ``tunesmith train <model>``.

A run folder ``out_dir`` receives ``metrics.csv`` (Lightning's ``CSVLogger``; a resumed run appends
to the earlier history, :mod:`tunesmith.training.history`), ``best.ckpt`` (lowest/highest
``monitor``) and ``last.ckpt`` (Lightning's ``ModelCheckpoint``; ``ckpt_dir`` may put them in a
sub-folder) and a training-curves picture (:func:`tunesmith.plots.training_curves_png`). The model's
own ``train`` function writes its config and exports its model file (:mod:`tunesmith.training.checkpoint`).

A resumed run continues ``last.ckpt`` (written after every validation, epoch and at the end); a restored
``OneCycleLR`` whose length differs from the one the module builds now (a larger ``max_steps`` or
``max_epochs``) is redrawn over the new length from the step reached.

Stopping: ``max_epochs``, ``max_steps``, a wall-clock budget ``max_minutes`` (Lightning's ``Timer``
callback through ``Trainer(max_time=...)``; the model can read the spent share with
``trainer.callbacks`` ``Timer.time_elapsed("train")``) and early stopping on ``monitor`` (``patience``).
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

__all__ = ["fit", "FitResult", "is_main_process", "LAST_CHECKPOINT", "BEST_CHECKPOINT"]

LAST_CHECKPOINT = "last.ckpt"
BEST_CHECKPOINT = "best"          # ModelCheckpoint file name stem: best.ckpt


@dataclass
class FitResult:
    """What :func:`fit` leaves behind: checkpoint paths (``best`` falls back to ``last``), the trainer."""

    best: Path | None
    last: Path
    metrics: Path
    curves: Path | None
    trainer: object
    resumed: bool

    def load_best(self, module) -> Path | None:
        """Load the weights of ``best.ckpt`` (else ``last.ckpt``) into ``module`` (``weights_only=True``).

        Returns the file it read, or ``None`` when the run left no checkpoint (``fast_dev_run``).
        """
        return _load_weights(module, self.best if self.best is not None else self.last)

    def load_last(self, module) -> Path | None:
        """Load the weights of ``last.ckpt`` (the run's final step) into ``module`` (``weights_only=True``).

        Returns the file it read, or ``None`` when the run left no checkpoint (``fast_dev_run``).
        """
        return _load_weights(module, self.last)


def _load_weights(module, path: Path) -> Path | None:
    """``path``'s ``state_dict`` into ``module`` when the file exists; the path read, or ``None``."""
    if not path.is_file():
        return None
    import torch

    module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
    return path


def is_main_process() -> bool:
    """True in the launching process (rank 0); DDP worker processes get a non-zero rank in the environment."""
    return all(os.environ.get(v, "0") == "0" for v in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def resume_path(ckpt_dir: Path, resume: bool | str) -> Path | None:
    """The checkpoint to continue from: ``resume=True`` needs one, ``"auto"`` uses one if present, ``False`` none.

    Raises :class:`TunesmithError` naming the folder when ``resume=True`` and there is no ``last.ckpt``.
    """
    last = Path(ckpt_dir) / LAST_CHECKPOINT
    if resume is True and not last.is_file():
        raise TunesmithError(f"nothing to resume: no {LAST_CHECKPOINT} in the run folder", ckpt_dir)
    if resume in (True, "auto") and last.is_file():
        return last
    return None


def _last_checkpoint(path: Path):
    """A callback that writes ``path`` after every validation, epoch and at the end of training.

    ``ModelCheckpoint(save_last=True)`` rewrites ``last.ckpt`` only when it also saved a best checkpoint at
    that step, so a run whose validation loss stopped improving would resume from its best step, not its
    last. Written through a temporary file and renamed (atomic)."""
    from lightning.pytorch.callbacks import Callback

    class LastCheckpoint(Callback):
        def __init__(self):
            self.saved_step = -1

        def _save(self, trainer) -> None:
            if trainer.sanity_checking or getattr(trainer, "fast_dev_run", False) or \
                    trainer.global_step == self.saved_step:
                return
            tmp = path.with_name(path.name + ".part")
            trainer.save_checkpoint(str(tmp))
            if trainer.is_global_zero:
                os.replace(tmp, path)
            self.saved_step = trainer.global_step

        def on_validation_end(self, trainer, pl_module):
            self._save(trainer)

        def on_train_epoch_end(self, trainer, pl_module):
            self._save(trainer)

        def on_train_end(self, trainer, pl_module):
            self._save(trainer)

    return LastCheckpoint()


def _schedulers(configured) -> list:
    """The LR schedulers in what ``configure_optimizers`` returned (a dict, a pair of lists, or an optimiser)."""
    def sched_of(entry):
        return entry.get("scheduler") if isinstance(entry, dict) else entry

    if isinstance(configured, dict):
        entry = configured.get("lr_scheduler")
        return [] if entry is None else [sched_of(entry)]
    if isinstance(configured, (list, tuple)) and len(configured) == 2 and isinstance(configured[1], (list, tuple)):
        return [sched_of(e) for e in configured[1]]
    return []


def _redrawn_one_cycle(fresh, restored):
    """A ``OneCycleLR`` with ``fresh``'s settings (length, peak, phases) on ``restored``'s optimiser, positioned
    at the step ``restored`` had reached."""
    import torch

    groups = fresh.optimizer.param_groups
    max_lr = [g["max_lr"] for g in groups]
    phases = fresh._schedule_phases
    kw = {}
    if fresh.cycle_momentum:
        kw = {"base_momentum": [g["base_momentum"] for g in groups], "max_momentum": [g["max_momentum"] for g in groups]}
    sched = torch.optim.lr_scheduler.OneCycleLR(
        restored.optimizer, max_lr=max_lr, total_steps=fresh.total_steps,
        pct_start=(phases[0]["end_step"] + 1) / fresh.total_steps,
        anneal_strategy=getattr(fresh, "_anneal_func_type", "cos"), cycle_momentum=fresh.cycle_momentum,
        div_factor=groups[0]["max_lr"] / groups[0]["initial_lr"],
        final_div_factor=groups[0]["initial_lr"] / groups[0]["min_lr"], three_phase=len(phases) == 3, **kw)
    done = min(int(restored.last_epoch), fresh.total_steps - 1)
    if done > 0:
        sched.last_epoch = done - 1
        with warnings.catch_warnings():  # "step() before optimizer.step()": the optimiser did step, before
            warnings.simplefilter("ignore")
            sched.step()
    return sched


def _stretch_one_cycle():
    """A callback that, on a resumed run, redraws each restored ``OneCycleLR`` whose length differs from the one
    the module would build now (``--max-steps``/``--max-epochs`` raised or lowered): the schedule goes on from
    the step reached over the new length, instead of failing past its old end or restarting warm."""
    from lightning.pytorch.callbacks import Callback

    class StretchOneCycle(Callback):
        def on_train_start(self, trainer, pl_module):
            import torch

            if trainer.ckpt_path is None:
                return
            fresh = _schedulers(pl_module.configure_optimizers())
            for conf, new in zip(trainer.lr_scheduler_configs, fresh):
                old = conf.scheduler
                one_cycle = torch.optim.lr_scheduler.OneCycleLR
                if isinstance(old, one_cycle) and isinstance(new, one_cycle) and new.total_steps != old.total_steps:
                    conf.scheduler = _redrawn_one_cycle(new, old)
                    log.info("one-cycle schedule redrawn over %d steps from step %d", new.total_steps,
                             conf.scheduler.last_epoch)

    return StretchOneCycle()


def fit(module, data, out_dir: str | Path, *, max_epochs: int | None = None, max_steps: int | None = None,
        max_minutes: float | None = None, accelerator: str = "auto", devices="auto", resume: bool | str = False,
        monitor: str | None = "val_loss", mode: str = "min", patience: int | None = None,
        ckpt_dir: str | Path | None = None, trainer_options: dict | None = None, fast_dev_run: bool = False,
        progress: bool = True, curves: str | None = "training_curves.png", title: str | None = None,
        callbacks: list | tuple = ()) -> FitResult:
    """Train ``module`` on the DataModule ``data`` with Lightning, owning checkpoints, history and curves.

    Parameters
    ----------
    module : a ``LightningModule``; it logs ``monitor`` (e.g. ``val_loss``) with ``self.log``.
    data : a ``LightningDataModule``.
    out_dir : run folder (``metrics.csv``, curves; checkpoints unless ``ckpt_dir``).
    max_epochs, max_steps : Lightning's limits (``None``: Lightning's default / unlimited).
    max_minutes : wall-clock budget of the fit in minutes (``Trainer(max_time=...)``); ``None``/0: none.
    accelerator, devices : ``lightning.Trainer`` options (``"cpu"``, ``"gpu"``, ``"auto"``; 1, 2, ``"auto"``).
    resume : ``True`` continues ``last.ckpt`` (an error when there is none), ``"auto"`` continues it when
        present, ``False`` starts afresh. Model, optimiser, schedule, step and callbacks' state continue,
        and the new rows are appended to the earlier ``metrics.csv``.
    monitor, mode : the metric that chooses ``best.ckpt`` (and early stopping); ``None``: keep only ``last``.
    patience : early stopping on ``monitor`` after this many validation rounds without improvement.
    ckpt_dir : where ``best.ckpt`` and ``last.ckpt`` go (default ``out_dir``).
    trainer_options : any other ``lightning.Trainer`` keyword (``precision``, ``strategy``,
        ``gradient_clip_val``, ``val_check_interval``, ...).
    fast_dev_run : one batch of training and validation, nothing resumed, no checkpoints.
    progress : show Lightning's progress bar.
    curves : file name of the training-curves PNG in ``out_dir`` (``None``: no picture).
    title : the picture's title.
    callbacks : more Lightning callbacks.

    Returns
    -------
    FitResult
    """
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from tunesmith.training.history import METRICS_FILE, hold_metrics_for_resume, merge_metrics

    opts = dict(trainer_options or {})
    fast_dev_run = fast_dev_run or opts.pop("fast_dev_run", False)
    out = Path(out_dir)
    ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else out
    ckpt_path = None if fast_dev_run else resume_path(ckpt_dir, resume)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_cb = ModelCheckpoint(dirpath=ckpt_dir, filename=BEST_CHECKPOINT, monitor=monitor, mode=mode,
                              save_last=False, save_top_k=1, enable_version_counter=False)
    cbs = [ckpt_cb, _last_checkpoint(ckpt_dir / LAST_CHECKPOINT), _stretch_one_cycle(), *callbacks]
    if patience and monitor:
        cbs.append(EarlyStopping(monitor=monitor, mode=mode, patience=int(patience)))
    held = hold_metrics_for_resume(out) if ckpt_path is not None and is_main_process() else None
    opts.setdefault("enable_model_summary", False)
    if max_minutes:
        opts["max_time"] = {"minutes": float(max_minutes)}
    trainer = L.Trainer(default_root_dir=str(out), logger=CSVLogger(str(out), name="", version=""),
                        callbacks=cbs, accelerator=accelerator, devices=devices, fast_dev_run=fast_dev_run,
                        enable_progress_bar=progress,
                        max_epochs=max_epochs if max_epochs is not None else (-1 if max_steps else None),
                        max_steps=int(max_steps) if max_steps else -1, **opts)
    if ckpt_path is not None:
        log.info("resuming from %s", ckpt_path)
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")  # the run's own files are there
    try:
        trainer.fit(module, datamodule=data, ckpt_path=str(ckpt_path) if ckpt_path else None)
    finally:  # also after an interruption of the resumed run: the history is never lost
        if held is not None:
            merge_metrics(held, out / METRICS_FILE)
    metrics = out / METRICS_FILE
    picture = None
    if curves and trainer.global_rank == 0 and metrics.exists():
        try:
            from tunesmith.plots import training_curves_png

            picture = training_curves_png(metrics, out / curves, title=title or out.name)
        except Exception as exc:  # noqa: BLE001 - a missing picture must not lose a trained model
            log.warning("could not draw training curves (%s)", exc)
    best = Path(ckpt_cb.best_model_path) if ckpt_cb.best_model_path else None
    return FitResult(best=best if best and best.exists() else None, last=ckpt_dir / LAST_CHECKPOINT,
                     metrics=metrics, curves=Path(picture) if picture else None, trainer=trainer,
                     resumed=ckpt_path is not None)
