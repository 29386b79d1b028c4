"""The shipped models: checkpoints carried as package data and found with :mod:`importlib.resources`.

Every verb that has a default model finds it through :func:`path`, so a wheel
installed anywhere (not only a source checkout) runs on its own models.

Every file is read by :func:`tunesmith.training.load_model_file` (the one model-file format: ``kind``,
``format_version``, ``tunesmith_version``, ``config``, ``state_dict``); the files shipped here are still
in tunesmith 0.1's layouts, which it also reads.

Overrides follow one scheme: the environment variable ``TUNESMITH_MODEL_<NAME>``
(``NAME`` upper-cased, e.g. ``TUNESMITH_MODEL_TRANSCRIBER=/data/my.pt``) names a
checkpoint file that replaces the shipped one. The spellings used before 0.2
(``TUNESMITH_TRANSCRIBER``, ``TUNESMITH_VOICES_CHECKPOINT``) still work for one
release.

========================  ==============================  ==========================
name                      file                            used by
========================  ==============================  ==========================
``transcriber``           ``transcriber.pt``              ``tunesmith transcribe``
``composer``              ``composer-chorales.pt``        ``generate``, ``score``
``transform``             ``transform-piano2violin.pt``   ``convert``
``voices``                ``voices.pt``                   ``voices``, ``export``
``quality``               ``quality.pt``                  ``compare-features`` (``qualitynet+lr``, ``+ft``)
========================  ==============================  ==========================
"""
from __future__ import annotations

import atexit
import contextlib
import os
from importlib import resources
from pathlib import Path

from tunesmith.errors import CheckpointError

__all__ = ["MODELS", "ENV_PREFIX", "env_var", "path", "shipped_path"]

#: Model name -> file name inside this package.
MODELS: dict[str, str] = {
    "transcriber": "transcriber.pt",
    "composer": "composer-chorales.pt",
    "transform": "transform-piano2violin.pt",
    "voices": "voices.pt",
    "quality": "quality.pt",
}
ENV_PREFIX = "TUNESMITH_MODEL_"
#: Old override names, honoured for one release (the new name wins when both are set).
LEGACY_ENV = {"transcriber": "TUNESMITH_TRANSCRIBER", "voices": "TUNESMITH_VOICES_CHECKPOINT"}

_extracted = contextlib.ExitStack()  # keeps files extracted from a zipped install alive until exit
atexit.register(_extracted.close)


def env_var(name: str) -> str:
    """The environment variable that overrides model ``name`` (``TUNESMITH_MODEL_<NAME>``)."""
    return ENV_PREFIX + name.upper().replace("-", "_")


def _check(name: str) -> str:
    if name not in MODELS:
        raise CheckpointError(f"no shipped model called {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name]


def shipped_path(name: str) -> Path:
    """Where the package's own copy of model ``name`` is, ignoring overrides.

    Raises :class:`~tunesmith.errors.CheckpointError` when the installation
    does not carry the file.
    """
    res = resources.files(__name__) / _check(name)
    if not res.is_file():
        raise CheckpointError(f"the shipped {name} model is missing from this installation "
                              f"(looked for {res}); set {env_var(name)} to a checkpoint file")
    if isinstance(res, Path):
        return res
    return Path(_extracted.enter_context(resources.as_file(res)))


def path(name: str) -> Path:
    """The checkpoint for model ``name``: ``$TUNESMITH_MODEL_<NAME>`` when set, else the shipped file.

    The override is returned as given (the loader reports a missing file by
    name); the shipped file must exist.
    """
    _check(name)
    for var in (env_var(name), LEGACY_ENV.get(name)):
        value = os.environ.get(var) if var else None
        if value:
            return Path(value)
    return shipped_path(name)
