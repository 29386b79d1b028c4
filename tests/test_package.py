"""Package surface: lazy exports resolve, and building the CLI imports nothing heavy."""
from __future__ import annotations

import subprocess
import sys

import pytest


def test_lazy_exports_resolve_and_unknown_names_fail():
    import tunesmith
    import tunesmith.classify
    import tunesmith.compose
    import tunesmith.transform
    from tunesmith.notes import NoteSequence

    assert tunesmith.NoteSequence is NoteSequence
    assert callable(tunesmith.compose.load_composer) and callable(tunesmith.transform.griffinlim)
    assert callable(tunesmith.classify.compare_features)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tunesmith.transform.nope  # noqa: B018


def test_cli_parser_imports_nothing_heavy():
    code = ("import sys; from tunesmith.cli import build_parser; build_parser(); "
            "print(','.join(m for m in ('torch', 'music21', 'librosa', 'lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
