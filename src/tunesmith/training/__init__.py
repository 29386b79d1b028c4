"""The one training harness of every model: :func:`fit` (Lightning) and the one model-file format.

* :func:`fit` runs ``lightning.Trainer.fit`` on a LightningModule and a DataModule with what every
  ``train`` verb needs: best/last checkpoints (``ModelCheckpoint``), a ``metrics.csv`` history
  (``CSVLogger``) that a resumed run appends to, a training-curves picture, a wall-clock budget
  (``max_time``, Lightning's ``Timer``), progress, ``--accelerator``/``--devices`` and ``--resume``.
* :func:`save_model_file` / :func:`load_model_file` write and read the shipped/exported model file of
  all four models: a dict with ``kind``, ``format_version``, ``tunesmith_version``, ``config`` and
  ``state_dict`` (+ model-specific extras), saved atomically, loaded with ``weights_only=True``; the
  formats written before 0.2 are still read.
"""
from __future__ import annotations

from tunesmith.training.checkpoint import FORMAT_VERSION, KINDS, load_model_file, save_model_file
from tunesmith.training.fit import FitResult, fit
from tunesmith.training.history import HELD_METRICS_FILE, METRICS_FILE, hold_metrics_for_resume, merge_metrics

__all__ = ["fit", "FitResult", "save_model_file", "load_model_file", "KINDS", "FORMAT_VERSION",
           "METRICS_FILE", "HELD_METRICS_FILE", "hold_metrics_for_resume", "merge_metrics"]
