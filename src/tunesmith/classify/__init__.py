"""Classifying windows of audio: which class, which representation is best, one voice or several.

* :mod:`tunesmith.classify.data` -- a folder of labelled sub-folders cut into
  windows, file-level (source-level) folds and a Lightning DataModule.
* :mod:`tunesmith.classify.model` -- small 2-D and 1-D CNNs over any front-end
  representation, wrapped with the front end and a fitted normaliser in
  :class:`~tunesmith.classify.model.Classifier`, and the LightningModule.
* :mod:`tunesmith.classify.train` -- training, checkpoints, and classifying files.
* :mod:`tunesmith.classify.compare` -- "which representation is best?" by k-fold
  cross-validation, including descriptor baselines, a convolutional RBM and a
  convolutional autoencoder.
* :mod:`tunesmith.classify.voices` -- one voice/instrument or several, the
  GMM-on-MFCC baseline, and streaming decisions.
* :mod:`tunesmith.classify.export` -- ONNX export that takes raw audio.

Heavy modules are imported lazily.
"""
from __future__ import annotations

from tunesmith._lazy import lazy_getattr

_LAZY = {
    "train_classifier": ("tunesmith.classify.train", "train_classifier"),
    "load_classifier": ("tunesmith.classify.train", "load_classifier"),
    "classify_files": ("tunesmith.classify.train", "classify_files"),
    "classify_audio": ("tunesmith.classify.train", "classify_audio"),
    "compare_features": ("tunesmith.classify.compare", "compare_features"),
    "detect_voices": ("tunesmith.classify.voices", "detect_voices"),
    "stream_voices": ("tunesmith.classify.voices", "stream_voices"),
    "GMMBaseline": ("tunesmith.classify.voices", "GMMBaseline"),
    "export_onnx": ("tunesmith.classify.export", "export_onnx"),
    "Classifier": ("tunesmith.classify.model", "Classifier"),
    "scan_labelled_folder": ("tunesmith.classify.data", "scan_labelled_folder"),
    "scan_labelled_folders": ("tunesmith.classify.data", "scan_labelled_folders"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
