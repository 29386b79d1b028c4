"""Labelled folders -> windows, file-level folds and the Lightning DataModule.

A dataset is a folder whose sub-folders are the labels::

    data/
      good/  take01.wav take02.flac ...
      bad/   take07.wav ...

Several such folders can be used together (``tunesmith train classifier --data A B C``): their label
sub-folders are merged by name (:func:`scan_labelled_folders`).

Every file is cut into windows of ``window_s`` seconds (the last one
zero-padded) and each window inherits its file's label. Windows of one source
never straddle a train/validation/test boundary: folds are made over *groups*,
and by default a group is a file's name without extension, so ``good/x.wav`` and
``bad/x.wav`` (a clean take and its damaged copy) always land in the same fold.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.errors import TunesmithError

__all__ = ["LabelledFile", "WindowSet", "scan_labelled_folder", "scan_labelled_folders", "group_key", "load_windows",
           "file_folds", "holdout_split", "ClassifyDataModule"]

GROUP_BY = ("stem", "file", "prefix")
PREFIX_SEPARATOR = "__"


@dataclass(frozen=True)
class LabelledFile:
    """One audio file, its label index and the source group it belongs to."""

    path: Path
    label: int
    group: str


@dataclass
class WindowSet:
    """Windows of many files: ``x`` (n, samples) float32 audio, ``y`` (n,) label index,
    ``file_index`` (n,) index into ``files``, ``starts`` (n,) window start in seconds."""

    x: np.ndarray
    y: np.ndarray
    file_index: np.ndarray
    starts: np.ndarray
    files: list[LabelledFile]
    classes: list[str]
    sr: int
    failed: dict[Path, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def groups(self) -> np.ndarray:
        """The source group of every window (for grouped folds)."""
        return np.array([self.files[i].group for i in self.file_index])

    def subset(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.x[mask], self.y[mask], self.file_index[mask], self.starts[mask],
                         self.files, self.classes, self.sr, self.failed)


def group_key(path: Path, group_by: str = "stem") -> str:
    """The source a file belongs to: its name without extension (``stem``), the whole
    path (``file``), or the part of the name before ``__`` (``prefix``)."""
    if group_by == "stem":
        return path.stem
    if group_by == "file":
        return str(path)
    if group_by == "prefix":
        return path.stem.split(PREFIX_SEPARATOR, 1)[0]
    raise TunesmithError(f"group-by must be one of {', '.join(GROUP_BY)}, got {group_by!r}")


def _label_dirs(root: Path) -> dict[str, Path]:
    """The label sub-folders of one dataset folder (hidden ones skipped), by name."""
    if not root.exists():
        raise TunesmithError("no such folder", root)
    if not root.is_dir():
        raise TunesmithError("is not a folder (expected one sub-folder per label)", root)
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}


def scan_labelled_folders(roots, group_by: str = "stem") -> tuple[list[LabelledFile], list[str]]:
    """Files and sorted class names of one or several folders whose sub-folders are labels.

    The classes are the union of the label sub-folder names over all ``roots`` (``A/good`` and
    ``B/good`` are one class ``good``); label folders are searched recursively. Source groups
    (:func:`group_key`) are shared across folders: with ``group_by="stem"`` a ``x.wav`` in two
    folders is one source, which can only keep related takes together. A folder without any
    audio in its label sub-folders is an error naming that folder, as is a total of fewer than
    two labels with audio.
    """
    from tunesmith.io import AUDIO_EXTENSIONS, expand_paths

    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    if not roots:
        raise TunesmithError("no data folder given")
    found: dict[str, list[Path]] = {}
    for root in dict.fromkeys(roots):
        n_before = sum(len(v) for v in found.values())
        for name, sub in _label_dirs(root).items():
            found.setdefault(name, []).extend(sorted(expand_paths([sub], AUDIO_EXTENSIONS)))
        if len(roots) > 1 and sum(len(v) for v in found.values()) == n_before:
            raise TunesmithError("holds no audio in label sub-folders", root)
    classes = sorted(name for name, paths in found.items() if paths)
    if len(classes) < 2:
        where = "" if len(roots) == 1 else " of " + ", ".join(str(r) for r in roots)
        raise TunesmithError(f"needs audio in at least two label sub-folders{where}, found {len(classes)} "
                             f"({', '.join(classes) or 'none'})", roots[0] if len(roots) == 1 else None)
    files = [LabelledFile(f, label, group_key(f, group_by))
             for label, name in enumerate(classes) for f in found[name]]
    return files, classes


def scan_labelled_folder(root, group_by: str = "stem") -> tuple[list[LabelledFile], list[str]]:
    """Files and sorted class names of a folder whose sub-folders are labels (searched recursively);
    ``root`` may also be a list of folders (see :func:`scan_labelled_folders`)."""
    return scan_labelled_folders(root, group_by)


def load_windows(files: list[LabelledFile], classes: list[str], *, sr: int, window_s: float,
                 hop_s: float | None = None, progress: bool = True) -> WindowSet:
    """Load and window every file (mono, resampled to ``sr``); bad files are reported and skipped."""
    from tqdm.auto import tqdm

    from tunesmith.audio import check_not_silent, load, windows

    xs, ys, fi, st, failed = [], [], [], [], {}
    bar = tqdm(files, desc="loading", unit="file", disable=not progress or len(files) < 2, file=sys.stderr)
    for i, f in enumerate(bar):
        try:
            audio = check_not_silent(load(f.path, sr=sr), f.path)
        except TunesmithError as exc:
            failed[f.path] = exc.message if exc.path else str(exc)
            bar.write(f"tunesmith: skipped {f.path}: {failed[f.path]}", file=sys.stderr)
            continue
        w = windows(audio, window_s, hop_s)
        xs.append(w.samples)
        ys.append(np.full(len(w), f.label))
        fi.append(np.full(len(w), i))
        st.append(w.starts)
    if not xs:
        first = next(iter(failed.items()), None)
        why = f" (first: {first[0]}: {first[1]})" if first else ""
        raise TunesmithError(f"none of the {len(files)} audio files could be read{why}")
    return WindowSet(np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64),
                     np.concatenate(fi).astype(np.int64), np.concatenate(st).astype(np.float64),
                     files, classes, sr, failed)


def file_folds(groups: np.ndarray, labels: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """A fold number for every item such that items of one group share a fold.

    Groups are dealt to folds so that each fold's label mix is close to the
    whole set's (scikit-learn's ``StratifiedGroupKFold``, shuffled with ``seed``).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups.tolist()))
    if n_folds < 2:
        raise TunesmithError(f"folds must be at least 2, got {n_folds}")
    if n_groups < n_folds:
        raise TunesmithError(f"{n_folds} folds need at least {n_folds} distinct source files, found {n_groups}")
    fold = np.full(len(groups), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(groups)), labels, groups)):
        fold[test] = k
    return fold


def holdout_split(groups: np.ndarray, labels: np.ndarray, val_fraction: float = 0.2,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train/validation masks with whole groups on one side (about ``val_fraction`` held out)."""
    n_groups = len(set(groups.tolist()))
    if n_groups < 2 or val_fraction <= 0:
        return np.ones(len(groups), bool), np.zeros(len(groups), bool)
    k = int(np.clip(round(1.0 / val_fraction), 2, n_groups))
    fold = file_folds(groups, labels, k, seed)
    val = fold == 0
    return ~val, val


class _Windows:
    """A torch Dataset over the windows of a :class:`WindowSet` (audio, label)."""

    def __init__(self, ws: WindowSet):
        self.ws = ws

    def __len__(self) -> int:
        return len(self.ws)

    def __getitem__(self, i):
        import torch

        return torch.from_numpy(self.ws.x[i]), int(self.ws.y[i])


def _datamodule_base():
    import lightning as L

    return L.LightningDataModule


class ClassifyDataModule(_datamodule_base()):
    """Loads a labelled folder once and splits it by source into train and validation windows.

    Parameters
    ----------
    data_dir : folder with one sub-folder per label, or a list of such folders (their union).
    sr : sample rate the audio is resampled to (Hz).
    window_s, hop_s : window length and hop in seconds (hop defaults to the window).
    val_fraction : share of source groups held out for validation.
    group_by : ``stem``, ``file`` or ``prefix`` (see :func:`group_key`).
    """

    def __init__(self, data_dir, *, sr: int = 16000, window_s: float = 10.0,
                 hop_s: float | None = None, val_fraction: float = 0.2, batch_size: int = 16,
                 group_by: str = "stem", seed: int = 0, num_workers: int = 0):
        super().__init__()
        self.data_dir = [Path(d) for d in data_dir] if isinstance(data_dir, (list, tuple)) else Path(data_dir)
        self.sr, self.window_s, self.hop_s = sr, window_s, hop_s
        self.val_fraction, self.batch_size = val_fraction, batch_size
        self.group_by, self.seed, self.num_workers = group_by, seed, num_workers
        self.windows: WindowSet | None = None
        self.train_set: WindowSet | None = None
        self.val_set: WindowSet | None = None
        self.classes: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        if self.windows is not None:
            return
        files, self.classes = scan_labelled_folder(self.data_dir, self.group_by)
        self.windows = load_windows(files, self.classes, sr=self.sr, window_s=self.window_s, hop_s=self.hop_s)
        train, val = holdout_split(self.windows.groups, self.windows.y, self.val_fraction, self.seed)
        self.train_set, self.val_set = self.windows.subset(train), self.windows.subset(val)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.train_set.y, minlength=len(self.classes))

    def train_dataloader(self):
        import torch
        from torch.utils.data import DataLoader

        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(_Windows(self.train_set), batch_size=self.batch_size, shuffle=True,
                          generator=g, num_workers=self.num_workers)

    def val_dataloader(self):
        from torch.utils.data import DataLoader

        if self.val_set is None or len(self.val_set) == 0:
            return []
        return DataLoader(_Windows(self.val_set), batch_size=self.batch_size, num_workers=self.num_workers)
