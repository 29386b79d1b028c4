"""Training the window classifier, its portable checkpoint, and classifying files.

``train_classifier`` runs Lightning on a labelled folder (see
:mod:`tunesmith.classify.data`) and writes into ``out_dir``::

    config.yaml        the effective configuration (also inside the checkpoint)
    classifier.pt      the portable checkpoint (best validation loss), loads with weights_only=True
    last.ckpt          Lightning's last checkpoint, to resume an interrupted run
    metrics.csv        the CSV log; curves.png its picture

``classify_files`` cuts each file into the model's windows and returns per-window
and per-file class probabilities (the file's probability is the mean over its
windows, weighted by how much real audio each window holds).
"""
from __future__ import annotations

import copy
import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.errors import CheckpointError, TunesmithError

__all__ = ["DEFAULT_CONFIG", "load_config", "train_classifier", "save_classifier", "load_classifier",
           "classify_audio", "classify_files", "WindowPredictions", "write_predictions_csv"]

KIND = "classifier"
#: 0.1's ``format`` string (still read, :mod:`tunesmith.training.checkpoint`).
CHECKPOINT_FORMAT = "tunesmith.classifier"
#: The model-file format written now (:data:`tunesmith.training.FORMAT_VERSION`).
CHECKPOINT_VERSION = 2
#: Free-form sections: ``network`` keywords go to the network's constructor (channels, dropout, kernel, ...).
OPEN_SECTIONS = ("network",)

DEFAULT_CONFIG: dict = {
    "features": "logmel",
    "feature_settings": {},
    "sr": 16000,
    "window_s": 10.0,
    "hop_s": None,
    "arch": "cnn2d",
    "network": {"channels": [16, 32, 64], "dropout": 0.3},
    "group_by": "stem",
    "class_weighting": True,
    "spec_augment": {"time_masks": 2, "time_width": 0.1, "freq_masks": 2, "freq_width": 0.15},
    "mix_augment": None,
    "training": {"max_epochs": 30, "batch_size": 16, "lr": 0.002, "weight_decay": 0.001,
                 "val_fraction": 0.2, "seed": 0, "patience": 8, "init": None},
}


def load_config(path: str | Path | None = None, base: dict | None = None, **overrides) -> dict:
    """The default config (or ``base``), updated from a YAML file and then from non-None ``overrides``.

    ``overrides`` are top-level keys or keys of ``training`` (``max_epochs=5``, ``seed=1``). Unknown keys
    are one-line errors naming the key and the file (:func:`tunesmith.config.load_config`).
    """
    from tunesmith.config import load_config as load, merge_checked

    cfg = load(base if base is not None else DEFAULT_CONFIG, path, open_sections=OPEN_SECTIONS)
    for k, v in overrides.items():
        if v is None:
            continue
        if k == "features" and v != cfg.get("features"):
            cfg["feature_settings"] = {}  # settings of another front end would not fit this one
        over = {"training": {k: v}} if k in cfg.get("training", {}) else {k: v}
        cfg = merge_checked(cfg, over, open_sections=OPEN_SECTIONS)
    return cfg


def _model_config(cfg: dict, classes: list[str]) -> dict:
    keys = ("features", "feature_settings", "sr", "window_s", "hop_s", "arch", "network")
    out = {k: copy.deepcopy(cfg[k]) for k in keys}
    out["network"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in out["network"].items()}
    out["classes"] = list(classes)
    return out


def save_classifier(model, path: str | Path, extra: dict | None = None) -> Path:
    """Write the portable checkpoint (the one model-file format): config, classes, sample rate, front-end
    settings, weights, and ``extra`` (training metadata, decision threshold, ...)."""
    from tunesmith.training.checkpoint import save_model_file

    return save_model_file(path, KIND, config=copy.deepcopy(model.config), state_dict=model.state_dict(),
                           extra=extra or {})


def load_classifier(path: str | Path, expected_classes: list[str] | None = None):
    """Load a portable checkpoint into a :class:`~tunesmith.classify.model.Classifier` (eval mode)."""
    from tunesmith.classify.model import Classifier
    from tunesmith.training.checkpoint import load_model_file

    path = Path(path)
    payload = load_model_file(path, KIND)
    try:
        model = Classifier(payload["config"])
        model.load_state_dict(payload["state_dict"])
    except TunesmithError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint does not match this tunesmith's classifier "
                              f"({str(exc).splitlines()[0][:120]})", path) from None
    if expected_classes is not None and list(model.classes) != list(expected_classes):
        raise CheckpointError(f"checkpoint classes {model.classes} are not {expected_classes}", path)
    model.eval()
    model.checkpoint_path = path
    model.extra = payload.get("extra", {})
    return model


def train_classifier(data_dir, out_dir: str | Path = "runs/classifier", *,
                     config: str | Path | dict | None = None, features: str | None = None,
                     arch: str | None = None, max_epochs: int | None = None, seed: int | None = None,
                     resume: bool | str = True, fast_dev_run: bool = False, progress: bool = True,
                     accelerator: str = "auto", devices="auto", overrides: list[str] | None = None):
    """Train the window classifier on a labelled folder with :func:`tunesmith.training.fit`.

    Returns the path of ``classifier.pt`` (the weights with the lowest validation loss).

    ``data_dir`` is one folder of label sub-folders or a list of them (the union of their
    label sub-folders, :func:`~tunesmith.classify.data.scan_labelled_folders`).

    ``config`` is a YAML path or a dict of settings (see :data:`DEFAULT_CONFIG`);
    ``features``, ``arch``, ``max_epochs`` and ``seed`` override it, then ``overrides``
    (``section.key=value`` strings, e.g. ``training.lr=0.001``). ``resume=True`` continues an
    interrupted run in ``out_dir`` from ``last.ckpt`` when there is one (``"require"``: there must be
    one), with its ``metrics.csv`` history.
    ``training.init`` (a portable checkpoint of the same front end and network) starts
    the weights and the normaliser from that model instead of from scratch (fine-tuning).
    """
    import lightning as L
    import torch
    import yaml

    from tunesmith.classify.data import ClassifyDataModule
    from tunesmith.classify.model import Classifier, ClassifierModule
    from tunesmith.config import merge_checked
    from tunesmith.io import atomic_write_text
    from tunesmith.training import fit

    base = merge_checked(DEFAULT_CONFIG, config, open_sections=OPEN_SECTIONS) if isinstance(config, dict) else None
    cfg = load_config(None if isinstance(config, dict) else config, base=base, features=features, arch=arch,
                      max_epochs=max_epochs, seed=seed)
    if overrides:
        from tunesmith.config import load_config as load

        cfg = load(cfg, None, overrides, open_sections=OPEN_SECTIONS)
    tr = cfg["training"]
    out_dir = Path(out_dir)
    fit_resume = {"require": True, True: "auto"}.get(resume, False)
    out_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(tr["seed"], workers=True, verbose=False)

    dm = ClassifyDataModule(data_dir, sr=cfg["sr"], window_s=cfg["window_s"], hop_s=cfg["hop_s"],
                            val_fraction=tr["val_fraction"], batch_size=tr["batch_size"],
                            group_by=cfg["group_by"], seed=tr["seed"])
    dm.setup("fit")
    model = Classifier(_model_config(cfg, dm.classes))
    if tr.get("init"):  # fine-tuning: weights and normaliser of a portable checkpoint of the same network
        start = load_classifier(tr["init"], expected_classes=dm.classes)
        if _model_config(start.config, dm.classes) != _model_config(cfg, dm.classes):
            raise CheckpointError("its front end or network differs from this run's config", tr["init"])
        model.load_state_dict(start.state_dict())
    else:
        train_x = torch.from_numpy(dm.train_set.x)
        model.fit_norm(train_x[i:i + 32] for i in range(0, len(train_x), 32))
    counts = dm.class_counts() if cfg["class_weighting"] else None
    module = ClassifierModule(model, lr=tr["lr"], weight_decay=tr["weight_decay"], class_counts=counts,
                              spec_augment=cfg["spec_augment"], max_epochs=tr["max_epochs"],
                              mix_augment=cfg.get("mix_augment"))
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))

    has_val = len(dm.val_set) > 0
    result = fit(module, dm, out_dir, max_epochs=tr["max_epochs"], accelerator=accelerator,
                 devices=1 if devices == "auto" else (int(devices) if str(devices).isdigit() else devices),
                 resume=fit_resume, fast_dev_run=fast_dev_run,
                 monitor="val_loss" if has_val else "train_loss",
                 patience=tr.get("patience") if has_val else None, progress=progress,
                 trainer_options={"deterministic": "warn", "log_every_n_steps": 1},
                 curves="curves.png", title="classifier")
    if not fast_dev_run:
        result.load_best(module)
    model = module.model.cpu().eval()
    return save_classifier(model, out_dir / "classifier.pt",
                           extra={"train_files": len(dm.train_set.files), "classes": dm.classes})


@dataclass
class WindowPredictions:
    """Class probabilities of one file: per window ``probs`` (n, k) with ``starts``/``ends`` in
    seconds, and ``file_probs`` (k,) the length-weighted mean over windows."""

    path: Path | None
    classes: list[str]
    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    file_probs: np.ndarray

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.file_probs))]

    @property
    def window_labels(self) -> list[str]:
        return [self.classes[i] for i in self.probs.argmax(axis=1)]


def classify_audio(audio, model, *, hop_s: float | None = None, batch_size: int = 32,
                   path: Path | None = None) -> WindowPredictions:
    """Per-window and per-file probabilities for an :class:`~tunesmith.audio.Audio`."""
    import torch

    from tunesmith.audio import windows

    if audio.sr != model.sr:
        audio = audio.resample(model.sr)
    w = windows(audio, model.window_s, hop_s)
    probs = model.predict_proba(torch.from_numpy(w.samples), batch_size=batch_size).numpy()
    weights = w.lengths.astype(np.float64)
    file_probs = (probs * weights[:, None]).sum(0) / max(weights.sum(), 1.0)
    return WindowPredictions(path, list(model.classes), w.starts.astype(float),
                             w.starts + w.lengths / w.sr, probs, file_probs)


def write_predictions_csv(results: list[WindowPredictions], path: str | Path) -> Path:
    """One row per file (``scope=file``) followed by its windows (``scope=window``)."""
    from tunesmith.io import atomic_write_text

    if not results:
        raise TunesmithError("nothing to write")
    classes = results[0].classes
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "scope", "start_s", "end_s", "label", *[f"p_{c}" for c in classes]])
    for r in results:
        w.writerow([str(r.path), "file", "0.000", f"{r.ends.max():.3f}", r.label,
                    *[f"{p:.4f}" for p in r.file_probs]])
        for s, e, lab, p in zip(r.starts, r.ends, r.window_labels, r.probs):
            w.writerow([str(r.path), "window", f"{s:.3f}", f"{e:.3f}", lab, *[f"{x:.4f}" for x in p]])
    return atomic_write_text(path, buf.getvalue())


def classify_files(paths, checkpoint, *, hop_s: float | None = None, csv_path: str | Path | None = None,
                   quiet: bool = False):
    """Classify audio files (or folders) with a checkpoint (path or loaded model).

    Returns ``(results, batch)``: the :class:`WindowPredictions` of the good files,
    and the :class:`~tunesmith.batch.BatchResult` with the skipped ones.
    ``batch.throughput`` is windows per second of model time (loading excluded).
    """
    from tunesmith.audio import check_not_silent, load
    from tunesmith.batch import iter_inputs, run_batch
    from tunesmith.io import AUDIO_EXTENSIONS

    model = load_classifier(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    files = iter_inputs([str(p) for p in paths], AUDIO_EXTENSIONS)
    timing = {"seconds": 0.0, "windows": 0}

    def one(f: Path) -> WindowPredictions:
        audio = check_not_silent(load(f, sr=model.sr), f)
        t0 = time.perf_counter()
        r = classify_audio(audio, model, hop_s=hop_s, path=f)
        timing["seconds"] += time.perf_counter() - t0
        timing["windows"] += len(r.starts)
        return r

    batch = run_batch(files, one, desc="classifying", quiet=quiet)
    results = [batch.done[f] for f in files if f in batch.done]
    batch.throughput = timing["windows"] / timing["seconds"] if timing["seconds"] > 0 else float("nan")
    batch.windows = timing["windows"]
    if csv_path is not None and results:
        write_predictions_csv(results, csv_path)
    return results, batch
