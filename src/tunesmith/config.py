"""The one configuration scheme of every trainable model (transcriber, composer, transform, classifier).

A model keeps its built-in settings in ONE dict beside its constructors (``DEFAULTS`` /
``DEFAULT_CONFIG``), whose sections are passed as keyword arguments to them. A run's settings are

    built-in defaults  <-  YAML file (``--config``)  <-  ``--set section.key=value`` overrides

merged key by key (:func:`load_config`). A key that the defaults do not have is a one-line
:class:`~tunesmith.errors.TunesmithError` naming the dotted key and the file, except inside a
*free-form* section: one whose default is ``None`` or an empty mapping, or one named in
``open_sections`` (e.g. the composer's ``trainer``, which accepts any ``lightning.Trainer`` option).
"""
from __future__ import annotations

import copy
from pathlib import Path

from tunesmith.errors import TunesmithError

__all__ = ["read_yaml_mapping", "deep_merge", "parse_overrides", "check_known", "merge_checked", "load_config"]


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


def merge_checked(base: dict, over: dict | None, *, path: str | Path | None = None,
                  open_sections: tuple[str, ...] = (), where: str = "", hint: str = "") -> dict:
    """A copy of ``base`` with ``over`` merged in, rejecting keys that ``base`` does not have.

    Nested mappings merge key by key. A mapping whose value in ``base`` is ``None`` or ``{}``,
    or whose dotted name is in ``open_sections``, is free-form: any key is taken. A section
    may be set to ``None`` (e.g. ``spec_augment: null`` switches it off).

    Raises
    ------
    TunesmithError
        ``unknown setting model.hiden (known: dropout, hidden, ...)``, naming ``path`` when given.
    """
    out = copy.deepcopy(base)
    free = where in open_sections
    for k, v in (over or {}).items():
        dotted = f"{where}.{k}" if where else str(k)
        if k not in out:
            if free:
                out[k] = copy.deepcopy(v)
                continue
            known = ", ".join(sorted(map(str, out))) or "none"
            raise TunesmithError(f"unknown setting {dotted} (known{' in ' + where if where else ''}: {known}){hint}",
                                 path)
        cur = out[k]
        if isinstance(v, dict) and isinstance(cur, dict) and cur and not free:
            out[k] = merge_checked(cur, v, path=path, open_sections=open_sections, where=dotted, hint=hint)
        elif isinstance(v, dict) and isinstance(cur, dict):
            out[k] = deep_merge(cur, v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(defaults: dict, path: str | Path | None = None, overrides: list[str] | dict | None = None, *,
                open_sections: tuple[str, ...] = ()) -> dict:
    """``defaults`` <- the YAML file ``path`` <- ``overrides``, each merged with :func:`merge_checked`.

    ``overrides`` is a list of ``section.key=value`` strings (:func:`parse_overrides`) or a nested
    mapping. Unknown keys are one-line errors naming the key and the file (or the command line).
    """
    cfg = copy.deepcopy(defaults)
    if path is not None:
        cfg = merge_checked(cfg, read_yaml_mapping(path), path=path, open_sections=open_sections)
    if overrides:
        over = overrides if isinstance(overrides, dict) else parse_overrides(list(overrides))
        cfg = merge_checked(cfg, over, open_sections=open_sections,
                            hint="" if isinstance(overrides, dict) else "; settings are section.key=value")
    return cfg
