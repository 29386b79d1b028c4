"""YAML configuration files shared by the trainable models (composer, transform, classifier).

Each model keeps its own defaults and decides which keys it accepts; this module
only reads a file into a mapping with one-line errors and merges mappings.
"""
from __future__ import annotations

import copy
from pathlib import Path

from tunesmith.errors import TunesmithError

__all__ = ["read_yaml_mapping", "deep_merge"]


def read_yaml_mapping(path: str | Path) -> dict:
    """Read a YAML file that must hold a mapping (an empty file gives ``{}``).

    Raises :class:`TunesmithError` naming the file when it is missing, is not
    valid YAML, or holds something other than a mapping.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise TunesmithError("no such config file", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = " ".join(str(exc).split())[:120]
        raise TunesmithError(f"not valid YAML ({first})", path) from None
    if not isinstance(data, dict):
        raise TunesmithError("a config must be a mapping of settings", path)
    return data


def deep_merge(base: dict, over: dict | None) -> dict:
    """A copy of ``base`` with ``over`` merged in; nested mappings are merged key by key."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out
