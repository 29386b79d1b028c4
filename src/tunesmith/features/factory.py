"""Build a front-end module by name (:func:`frontend`); the names come from :mod:`tunesmith.features.registry`."""
from __future__ import annotations

from typing import Any

from torch import nn

from tunesmith.features import registry

#: Older spellings accepted by :func:`frontend` (after lower-casing and dropping ``-`` and ``_``).
ALIASES = {"spectrogram": "stft", "logspectrogram": "logstft"}


def frontend(kind: str, sr: int, **kwargs: Any) -> nn.Module:
    """Build a front-end module by name.

    ``kind`` is one of :data:`tunesmith.features.registry.FRONTEND_KINDS`: ``"stft"``
    (:class:`Spectrogram`), ``"logstft"`` (:class:`LogSpectrogram`), ``"mel"``
    (:class:`MelSpectrogram`), ``"logmel"`` (:class:`LogMelSpectrogram`), ``"pcen"``
    (:class:`PCEN`), ``"mfcc"`` (:class:`MFCC`), ``"cqt"`` (:class:`CQT`) or ``"descriptors"``
    (:class:`Descriptors`), case, ``-`` and ``_`` ignored; ``kwargs`` go to the constructor
    (keyword-only, librosa names). Every module gets ``sr``.
    """
    key = kind.lower().replace("-", "").replace("_", "")
    key = ALIASES.get(key, key)
    if key not in registry.FRONTEND_KINDS:
        raise ValueError(f"unknown front end {kind!r}; choose from {', '.join(registry.FRONTEND_KINDS)}")
    return registry.constructor(key)(sr=sr, **kwargs)
