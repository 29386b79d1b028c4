"""Lazy package exports: names resolve to their submodule on first use (PEP 562).

Keeps ``import tunesmith.<package>`` cheap (no torch, music21 or librosa until a
name that needs them is touched), so the CLI starts instantly.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_getattr(package: str, table: Mapping[str, str | tuple[str, str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``table`` maps a name to ``"module"`` or ``("module", "attr")``."""

    def __getattr__(name: str):
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = (target, name) if isinstance(target, str) else target
        return getattr(importlib.import_module(module), attr)

    return __getattr__
