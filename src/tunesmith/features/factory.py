"""Build a front-end module by name (:func:`frontend`); the names are :mod:`tunesmith.features.registry`."""
from __future__ import annotations

from typing import Any

from torch import nn

from tunesmith.features.cqt import CQT
from tunesmith.features.descriptors import Descriptors
from tunesmith.features.mel import LogMelSpectrogram, MelSpectrogram
from tunesmith.features.mfcc import MFCC
from tunesmith.features.pcen import PCEN
from tunesmith.features.spectral import LogSpectrogram, Spectrogram
from tunesmith.features.registry import KINDS

def frontend(kind: str, sr: int, **kwargs: Any) -> nn.Module:
    """Build a front-end module by name.

    ``kind`` is one of ``"stft"`` (:class:`Spectrogram`), ``"logstft"`` (:class:`LogSpectrogram`),
    ``"mel"`` (:class:`MelSpectrogram`), ``"logmel"`` (:class:`LogMelSpectrogram`), ``"pcen"``
    (:class:`PCEN`), ``"mfcc"`` (:class:`MFCC`), ``"cqt"`` (:class:`CQT`) or ``"descriptors"``
    (:class:`Descriptors`); ``kwargs`` go to the constructor. Every module gets ``sr``.
    """
    key = kind.lower().replace("-", "").replace("_", "")
    if key in ("stft", "spectrogram"):
        return Spectrogram(sr=sr, **kwargs)
    if key in ("logstft", "logspectrogram"):
        return LogSpectrogram(sr=sr, **kwargs)
    table: dict[str, type[nn.Module]] = {"mel": MelSpectrogram, "logmel": LogMelSpectrogram, "pcen": PCEN,
                                          "mfcc": MFCC, "cqt": CQT, "descriptors": Descriptors}
    if key not in table:
        raise ValueError(f"unknown front end {kind!r}; choose from {', '.join(KINDS)}")
    return table[key](sr, **kwargs)


