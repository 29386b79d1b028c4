"""YAML configuration files shared by the trainable models (composer, transform, classifier).

Each model keeps its own defaults and decides which keys it accepts; this module
only reads a file into a mapping with one-line errors and merges mappings.
"""
from __future__ import annotations

import copy
from pathlib import Path

from tunesmith.errors import TunesmithError

__all__ = ["read_yaml_mapping", "deep_merge", "parse_overrides", "check_known"]


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


def parse_overrides(items: list[str] | None) -> dict:
    """``["trainer.max_epochs=5", "model.arch=lstm"]`` -> ``{"trainer": {"max_epochs": 5}, "model": {"arch": "lstm"}}``.

    The one ``--set section.key=value`` syntax of every ``train`` verb. Values are
    parsed as YAML (``5`` is an int, ``[0, 3]`` a list, ``null`` None); later
    items win. Raises :class:`TunesmithError` for an item without ``=`` or a key.
    """
    import yaml

    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not sep or not parts:
            raise TunesmithError(f"setting {item!r} must look like section.key=value, e.g. trainer.max_epochs=5")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        nested: dict = {parts[-1]: parsed}
        for p in reversed(parts[:-1]):
            nested = {p: nested}
        out = deep_merge(out, nested)
    return out


def check_known(settings: dict, known, *, path: str | Path | None = None) -> None:
    """Raise :class:`TunesmithError` (naming ``path`` when given) if ``settings`` has keys not in ``known``."""
    unknown = set(settings or {}) - set(known)
    if unknown:
        raise TunesmithError(f"unknown config section(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(known)})", path)
