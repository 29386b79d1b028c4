"""Defects of issues #13 and #15, each pinned by a test that failed before its fix."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_transform_package_binds_the_functions_even_after_its_modules_are_imported():
    import tunesmith.transform.conversion  # noqa: F401  (the modules being loaded must not shadow the functions)
    import tunesmith.transform.training  # noqa: F401
    from tunesmith.transform import convert, train
    from tunesmith.transform.conversion import convert as convert_fn
    from tunesmith.transform.training import train as train_fn

    assert train is train_fn and convert is convert_fn and callable(train) and callable(convert)


def test_musicxml_writer_writes_the_path_it_returns(tmp_path, melody):
    from tunesmith.notes import load_notes, note_sequence_to_musicxml

    for name in ("x.xml", "y.musicxml"):
        out = note_sequence_to_musicxml(melody, tmp_path / name)
        assert out == tmp_path / name and out.is_file()
        assert [n.pitch for n in load_notes(out)] == [n.pitch for n in melody]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.xml", "y.musicxml"]   # nothing else written


def test_composer_config_help_names_the_real_default(capsys):
    from tunesmith.cli import build_parser
    from tunesmith.compose.train import DEFAULTS, load_config

    assert load_config(None) == load_config(ROOT / "configs" / "composer.yaml") == load_config(None, [])
    assert DEFAULTS["data"]["batch_size"] == 16
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "composer", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "tunesmith.compose.train.DEFAULTS, the same values as configs/composer.yaml" in help_text


def test_music21_chatter_goes_to_the_log_not_the_terminal(capsys, caplog):
    import logging
    import warnings

    import music21

    from tunesmith.notes import quiet_music21

    with caplog.at_level(logging.DEBUG, logger="tunesmith.notes"), quiet_music21():
        music21.environment.Environment("beam").warn("Found a messed up beam pair")
        print("beaming noise")
        warnings.warn("MusicXMLWarning: something", stacklevel=1)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert "messed up beam pair" in caplog.text and "beaming noise" in caplog.text and "MusicXMLWarning" in caplog.text


# ----------------------------------------------------------------------------- a malformed MusicXML file
def _malformed_chorale(tmp_path: Path) -> Path:
    """A real chorale (bwv10.7 soprano) written as MusicXML, then one note's step emptied."""
    from tunesmith.notes import music21_to_note_sequence, note_sequence_to_musicxml

    import music21

    seq = music21_to_note_sequence(music21.corpus.parse("bach/bwv10.7.mxl"))
    good = note_sequence_to_musicxml(seq, tmp_path / "good.musicxml")
    text = good.read_text(encoding="utf-8")
    bad = tmp_path / "bad.musicxml"
    bad.write_text(re.sub(r"<step>[A-G]</step>", "<step></step>", text, count=1), encoding="utf-8")
    return bad


def _cli(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=180)


@pytest.mark.parametrize("verb", ["render", "score", "generate"])
def test_malformed_musicxml_is_one_line_naming_the_file(verb, tmp_path):
    bad = _malformed_chorale(tmp_path)
    args = {"render": ("render", bad, "-o", tmp_path / "x.wav"),
            "score": ("score", bad),
            "generate": ("generate", "-o", tmp_path / "gen", "-n", "1", "--length", "4", "--no-audio",
                         "--primer", bad)}[verb]
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    named = [line for line in r.stderr.splitlines() if "bad.musicxml" in line and "error" in line]
    assert len(named) == 1 and "step" in named[0], r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr and "partName" not in r.stderr
    assert "beam" not in r.stdout.lower()


# ----------------------------------------------------------------------------- causality of melody_bits
def test_melody_bits_is_causal_changing_note_t_leaves_earlier_probabilities(chorale):
    from tunesmith import models
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.score import melody_bits
    from tunesmith.compose.tokens import encode
    from tunesmith.notes import quantize

    composer = load_composer(models.shipped_path("composer"))
    seq = chorale if chorale.is_quantized else quantize(chorale, grid=0.25)
    mel = encode(seq)
    t = 12
    changed = encode(seq)
    changed.pitch = mel.pitch.copy()
    changed.pitch[t] = mel.pitch[t] + 5   # a different note at t, same duration
    for adapt_lr in (0.0, 0.05):           # plain and with dynamic evaluation
        pb, _, dists = melody_bits(composer, mel, adapt_lr=adapt_lr, return_dists=True)
        pc, _, dists_c = melody_bits(composer, changed, adapt_lr=adapt_lr, return_dists=True)
        assert np.allclose(dists[:t + 1], dists_c[:t + 1], atol=1e-6)   # P(event i) for i <= t: the past only
        assert np.allclose(pb[:t], pc[:t], atol=1e-6)
        assert not np.allclose(dists[t + 1], dists_c[t + 1], atol=1e-4)  # the future sees the change


def test_classifier_folder_with_no_readable_audio_names_a_file(tmp_path):
    """A labelled folder whose every file is unreadable: one line that counts them and names the first."""
    from tunesmith.classify.data import load_windows, scan_labelled_folder
    from tunesmith.errors import TunesmithError

    for label in ("one", "several"):
        (tmp_path / label).mkdir()
        (tmp_path / label / f"{label}.wav").write_text("not audio")
    files, classes = scan_labelled_folder(tmp_path)
    with pytest.raises(TunesmithError) as exc:
        load_windows(files, classes, sr=16000, window_s=1.0, progress=False)
    msg = str(exc.value)
    assert "none of the 2 audio files" in msg and ".wav" in msg and "\n" not in msg
