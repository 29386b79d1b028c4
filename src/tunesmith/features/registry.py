"""The one list of representations: name → description, constructor, row layout, default settings.

Imports neither torch nor numpy, so the CLI can build its ``choices`` and help from it
without loading the front end. Everything that offers a representation by name reads
it from here: :func:`tunesmith.features.frontend`, the ``features``, ``train classifier``
and ``compare-features`` verbs, :func:`tunesmith.classify.model.make_frontend`,
:func:`tunesmith.classify.compare.compare_features` and the ONNX exporter.

Adding a representation means one :class:`Representation` here (and its module).

Row layout (used by the frequency and level augmentations of the classifier):

* ``frequency_rows``: the first rows are frequency bins in increasing order, so a shift
  by whole rows is a shift in frequency;
* ``db_rows``: which of those rows are in dB (a level change of ``g`` dB adds ``g``):
  ``"all"``, ``"none"`` or ``"mel+level"`` (the mel rows and the frame level and peak
  rows that follow them, for ``logmel+stats``).
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Representation", "REPRESENTATIONS", "KINDS", "FRONTEND_KINDS", "FEATURE_KINDS", "CNN_KINDS",
           "CLI_KINDS", "EXPORTABLE_KINDS", "COMPARE_METHODS", "ALL_REPRESENTATIONS", "get", "constructor"]

#: Analysis settings of the classifier's front ends (librosa names); ``sr`` comes from the data.
N_FFT = 1024
HOP_LENGTH = 512
N_MELS = 64
_STFT = {"n_fft": N_FFT, "hop_length": HOP_LENGTH}
_MEL = {**_STFT, "n_mels": N_MELS}


@dataclass(frozen=True)
class Representation:
    """One representation offered by name.

    Parameters
    ----------
    name : str
        The name on the command line and in configs (``"logmel"``).
    description : str
        One line: what the rows hold and in which unit.
    constructor : str
        ``"module:attribute"`` of the class built with ``(sr, **settings)``.
    frequency_rows : bool
        Whether the leading rows are frequency bins in increasing order.
    db_rows : str
        ``"all"``, ``"none"`` or ``"mel+level"`` (see the module docstring).
    defaults : Mapping
        Settings the classifier and ``compare-features`` use (``sr`` is added from the data).
    cli_options : tuple of str
        Constructor keywords the ``features`` verb sets from its options (``fmin``/``fmax`` when given).
    frontend : bool
        Built by :func:`tunesmith.features.frontend` (a base-layer module); else by the classifier.
    exportable : bool
        The ONNX exporter rebuilds it from ``conv1d`` (:class:`tunesmith.classify.export.DFTFrontend`).
    """

    name: str
    description: str
    constructor: str
    frequency_rows: bool
    db_rows: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    cli_options: tuple[str, ...] = ()
    frontend: bool = True
    exportable: bool = False

    def __post_init__(self) -> None:
        if self.db_rows not in ("all", "none", "mel+level"):
            raise ValueError(f"db_rows of {self.name} must be all, none or mel+level, got {self.db_rows!r}")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))


_F = "tunesmith.features"
_STFT_OPTIONS = ("n_fft", "hop_length")
_MEL_OPTIONS = (*_STFT_OPTIONS, "n_mels", "fmin", "fmax")

#: Every representation, in the order the CLI and the comparison list them.
REPRESENTATIONS: Mapping[str, Representation] = MappingProxyType({r.name: r for r in (
    Representation("stft", "STFT magnitude |X[f, t]|, 1 + n_fft/2 linear-frequency rows",
                   f"{_F}.spectral:Spectrogram", True, "none", _STFT, _STFT_OPTIONS, exportable=True),
    Representation("logstft", "STFT power in dB (80 dB below the window's maximum), 1 + n_fft/2 rows",
                   f"{_F}.spectral:LogSpectrogram", True, "all", _STFT, _STFT_OPTIONS, exportable=True),
    Representation("mel", "mel power spectrogram (Slaney mel scale and area normalisation), n_mels rows",
                   f"{_F}.mel:MelSpectrogram", True, "none", _MEL, _MEL_OPTIONS, exportable=True),
    Representation("logmel", "mel power in dB (80 dB below the window's maximum), n_mels rows",
                   f"{_F}.mel:LogMelSpectrogram", True, "all", _MEL, _MEL_OPTIONS, exportable=True),
    Representation("pcen", "per-channel energy normalised mel magnitudes (librosa's PCEN), n_mels rows",
                   f"{_F}.pcen:PCEN", True, "none", _MEL, _MEL_OPTIONS),
    Representation("mfcc", "orthonormal DCT-II of the log-mel dB spectrogram, n_mfcc rows",
                   f"{_F}.mfcc:MFCC", False, "none", {**_MEL, "n_mfcc": 20}, (*_MEL_OPTIONS, "n_mfcc")),
    Representation("cqt", "constant-Q magnitude (librosa's multirate CQT), n_bins rows from fmin",
                   f"{_F}.cqt:CQT", True, "none", {"hop_length": HOP_LENGTH, "n_bins": 84, "bins_per_octave": 12},
                   ("hop_length", "n_bins", "bins_per_octave", "fmin")),
    Representation("descriptors", "frame descriptors: RMS, zero-crossing rate, centroid, flux, band-energy ratio",
                   f"{_F}.descriptors:Descriptors", False, "none", _STFT),
    Representation("logmel+stats", "mel power in absolute dB, then waveform statistics, mains hum and "
                   "recording-quality rows", "tunesmith.classify.model:LogMelStats", True, "mel+level", _MEL,
                   frontend=False),
)})

#: ``compare-features`` entries that are methods over a representation rather than a front end.
COMPARE_METHODS: Mapping[str, str] = MappingProxyType({
    "descriptors+lr": "descriptors and quality rows, summarised per window, logistic regression",
    "descriptors+gmm": "descriptor frames with deltas scored by one Gaussian mixture per class",
    "qualitynet+lr": "outputs of the shipped fault detector (pretrained on many kinds of damage), with "
                     "descriptors+lr, logistic regression",
    "qualitynet+ft": "the shipped fault detector fine-tuned on the training part (from its own bad/good "
                     "decision)",
    "crbm": "codes of a convolutional RBM trained on the training part (Lee et al. 2009), then the CNN",
    "autoencoder": "codes of a convolutional autoencoder trained on the training part, then the CNN",
})

#: Names accepted by :func:`tunesmith.features.frontend` (base-layer front ends).
FRONTEND_KINDS = tuple(n for n, r in REPRESENTATIONS.items() if r.frontend)
KINDS = FRONTEND_KINDS
#: Representations the classifier trains on (``train classifier --features``).
FEATURE_KINDS = tuple(REPRESENTATIONS)
#: Representations ``compare-features`` feeds to its CNN (descriptors go to the methods instead).
CNN_KINDS = tuple(n for n in REPRESENTATIONS if n != "descriptors")
#: Everything ``compare-features --features`` accepts.
ALL_REPRESENTATIONS = (*CNN_KINDS, *COMPARE_METHODS)
#: Kinds the ``features`` verb writes (those it has options for).
CLI_KINDS = tuple(n for n, r in REPRESENTATIONS.items() if r.cli_options)
#: Kinds the ONNX exporter supports.
EXPORTABLE_KINDS = tuple(n for n, r in REPRESENTATIONS.items() if r.exportable)


def get(name: str) -> Representation:
    """The entry for ``name``; ``KeyError`` naming the choices when unknown."""
    try:
        return REPRESENTATIONS[name]
    except KeyError:
        raise KeyError(f"unknown representation {name!r}; choose from {', '.join(REPRESENTATIONS)}") from None


def constructor(name: str) -> Any:
    """The class named by ``get(name).constructor``, imported on first use (this may import torch)."""
    module, _, attr = get(name).constructor.partition(":")
    return getattr(importlib.import_module(module), attr)
