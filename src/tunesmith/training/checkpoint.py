"""The one model-file format of the shipped/exported models (transcriber, composer, transform, classifier).

A model file is a plain dict that ``torch.load(weights_only=True)`` reads::

    {"kind": "composer",                 # transcriber | composer | transform | classifier
     "format_version": 2,                # FORMAT_VERSION: bumped when the layout or a field's meaning changes
     "tunesmith_version": "0.2.0",       # the release that wrote it
     "config": {...},                    # what the model's constructor needs
     "state_dict": {...},                # the weights (and normaliser buffers)
     ...}                                # model-specific extras (front-end settings, training metadata, ...)

:func:`load_model_file` returns that dict for any file written by this or an earlier tunesmith:
the formats of 0.1 (transcriber and classifier ``format``/``format_version``, composer ``tunesmith``
sub-dict, transform ``format``/``format_version``) are translated on reading (``format_version`` 1).
A Lightning ``.ckpt`` written during training carries the same keys beside Lightning's own (its
``state_dict`` holds the LightningModule's keys). Problems are one-line
:class:`~tunesmith.errors.CheckpointError` messages naming the file.
"""
from __future__ import annotations

from pathlib import Path

from tunesmith.errors import CheckpointError

__all__ = ["KINDS", "FORMAT_VERSION", "save_model_file", "load_model_file", "model_file_header"]

KINDS = ("transcriber", "composer", "transform", "classifier")
FORMAT_VERSION = 2
LEGACY_VERSION = 1
#: the ``format`` strings of tunesmith 0.1's model files
LEGACY_FORMATS = {"tunesmith-transcriber": "transcriber", "tunesmith.composer/1": "composer",
                  "tunesmith-transform": "transform", "tunesmith.classifier": "classifier"}
HEADER_KEYS = ("kind", "format_version", "tunesmith_version", "config")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def model_file_header(kind: str, config: dict) -> dict:
    """``kind``, ``format_version``, ``tunesmith_version`` and ``config``: the keys every model file starts with."""
    from tunesmith import __version__

    _check_kind(kind)
    return {"kind": kind, "format_version": FORMAT_VERSION, "tunesmith_version": __version__, "config": config}


def save_model_file(path: str | Path, kind: str, *, config: dict, state_dict: dict, **extras) -> Path:
    """Write a model file atomically (:func:`tunesmith.io.atomic_path`); tensors are detached CPU copies."""
    import torch

    from tunesmith.io import atomic_path

    clash = set(extras) & {*HEADER_KEYS, "state_dict"}
    if clash:
        raise ValueError(f"extras may not replace {', '.join(sorted(clash))}")
    payload = {**model_file_header(kind, config),
               "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()}, **extras}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, str(tmp))
    return path


def _legacy(ckpt: dict) -> dict | None:
    """A 0.1 model file as the current layout (``format_version`` 1), or None when it is not one."""
    if isinstance(ckpt.get("tunesmith"), dict) and ckpt["tunesmith"].get("format") in LEGACY_FORMATS:
        info = dict(ckpt["tunesmith"])           # composer: everything in a "tunesmith" sub-dict
        kind = LEGACY_FORMATS[info.pop("format")]
        out = {"kind": kind, "format_version": LEGACY_VERSION, "tunesmith_version": info.pop("version", None),
               "config": info.pop("model", {}), "state_dict": ckpt.get("state_dict", {})}
        out["meta"] = info                       # key_normalize, time_signature, tempo, ..., config (the recipe)
        return out
    legacy_kind = LEGACY_FORMATS.get(str(ckpt.get("format")))
    if legacy_kind is None:
        return None
    kind = legacy_kind
    out = {k: v for k, v in ckpt.items() if k != "format"}
    if ckpt.get("format_version") != LEGACY_VERSION:
        out["format_version"] = ("unknown", ckpt.get("format_version"))
    else:
        out["format_version"] = LEGACY_VERSION
    out["kind"] = kind
    if kind == "transcriber":
        out["config"] = out.pop("model_config", {})
    out.setdefault("config", {})
    return out


def load_model_file(path: str | Path, kind: str, *, map_location: str = "cpu", hint: str = "") -> dict:
    """Read a model file of ``kind`` (any tunesmith version's layout) with ``weights_only=True``.

    Returns the dict of the current layout (``format_version`` is 1 for a 0.1 file). ``hint`` is added
    to the "not found" message (e.g. which environment variable overrides the model).

    Raises
    ------
    CheckpointError
        for a missing or unreadable file, a file of another kind, or a format this tunesmith cannot read.
    """
    import torch

    _check_kind(kind)
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint ({kind} file not found){hint}", path)
    try:
        ckpt = torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        first = " ".join(str(exc).split())[:120]
        raise CheckpointError(f"not a readable checkpoint ({type(exc).__name__}: {first})", path) from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"not a tunesmith {kind} checkpoint (a {type(ckpt).__name__})", path)
    info = ckpt if "kind" in ckpt else _legacy(ckpt)
    if info is None or info.get("kind") not in KINDS:
        raise CheckpointError(f"not a tunesmith {kind} checkpoint", path)
    if info["kind"] != kind:
        raise CheckpointError(f"a {info['kind']} checkpoint, not a {kind} checkpoint", path)
    version = info.get("format_version")
    if version not in (LEGACY_VERSION, FORMAT_VERSION):
        shown = version[1] if isinstance(version, tuple) else version
        raise CheckpointError(f"{kind} checkpoint format {shown} (written by tunesmith "
                              f"{info.get('tunesmith_version')}) is not supported by this tunesmith "
                              f"(it reads formats {LEGACY_VERSION} and {FORMAT_VERSION}); retrain or re-export it", path)
    if "state_dict" not in info:
        raise CheckpointError(f"{kind} checkpoint holds no weights", path)
    return info
