"""One spelling per flag across verbs: ``-o/--output`` for outputs, ``--checkpoint`` for models.

The 0.1 spellings (``--out-dir``, ``--out``, ``--model``) still parse, hidden from ``--help``, for one release.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from tunesmith.cli import build_parser


def _verbs(parser=None, prefix=()):
    """(name, subparser) for every verb, ``train <model>`` included."""
    parser = parser or build_parser()
    for action in parser._actions:  # argparse keeps subparsers here; no public accessor exists
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _verbs(sub, prefix + (name,))
                yield " ".join(prefix + (name,)), sub


def _visible_flags(sub) -> set[str]:
    return {s for a in sub._actions if a.help != argparse.SUPPRESS for s in a.option_strings}


def test_every_output_is_dash_o_output_and_every_model_is_checkpoint():
    outputs, models = 0, 0
    for name, sub in _verbs():
        flags = _visible_flags(sub)
        assert not flags & {"--out-dir", "--out", "--model"}, (name, sorted(flags))
        if "-o" in flags:
            assert "--output" in flags, name
            outputs += 1
        models += "--checkpoint" in flags
    assert outputs >= 10 and models >= 6


@pytest.mark.parametrize("argv,dest,value", [
    (["render", "a.mid", "--out", "x.wav"], "out", "x.wav"),
    (["render", "a.mid", "--output", "x.wav"], "out", "x.wav"),
    (["generate", "--out-dir", "new"], "out_dir", "new"),
    (["generate", "-o", "new"], "out_dir", "new"),
    (["transcribe", "a.wav", "-o", "o", "--model", "m.pt"], "model", "m.pt"),
    (["transcribe", "a.wav", "-o", "o", "--checkpoint", "m.pt"], "model", "m.pt"),
    (["train", "composer", "--data", "d", "--out-dir", "r"], "out_dir", "r"),
])
def test_old_spellings_still_parse(argv, dest, value):
    assert getattr(build_parser().parse_args(argv), dest) == value


def test_python_dash_m_tunesmith_is_the_cli():
    out = subprocess.run([sys.executable, "-m", "tunesmith", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage: tunesmith" in out.stdout and "transcribe" in out.stdout


def test_train_verbs_share_set_accelerator_devices_resume_and_max_epochs():
    from tunesmith.config import parse_overrides

    for model in ("composer", "transform", "classifier", "transcriber"):
        limit = "--max-steps" if model == "transcriber" else "--max-epochs"
        args = build_parser().parse_args(["train", model, "--data", "d", "-o", "r", "--set", "trainer.max_epochs=3",
                                          "model.x=[1, 2]", "--accelerator", "cpu", "--devices", "1",
                                          limit, "2", "--resume", "--config", "c.yaml"])
        assert args.overrides == ["trainer.max_epochs=3", "model.x=[1, 2]"] and args.out_dir == "r"
        assert args.accelerator == "cpu" and args.devices == "1" and args.resume is True and args.config == "c.yaml"
        assert getattr(args, limit[2:].replace("-", "_")) == 2
    args = build_parser().parse_args(["train", "quality", "--clean", "a", "b", "-o", "r", "--set", "lr=0.001",
                                      "--accelerator", "cpu", "--devices", "1", "--max-steps", "2", "--resume",
                                      "--config", "c.yaml", "--minutes", "5", "--init", "shipped"])
    assert args.clean == ["a", "b"] and args.max_steps == 2 and args.resume is True and args.overrides == ["lr=0.001"]
    assert args.minutes == 5 and args.init == "shipped" and args.accelerator == "cpu" and args.config == "c.yaml"
    assert parse_overrides(["a.b=3", "a.c=[0, 1]", "d=null", "a.b=4"]) == {"a": {"b": 4, "c": [0, 1]}, "d": None}
    from tunesmith.errors import TunesmithError

    with pytest.raises(TunesmithError, match="section.key=value"):
        parse_overrides(["trainer.max_epochs"])


def test_transform_set_rejects_unknown_sections_and_resume_needs_a_run(tmp_path, capsys):
    from tunesmith.cli import main

    assert main(["train", "transform", "--data", str(tmp_path), "-o", str(tmp_path / "r"), "--set", "nope.x=1"]) == 1
    assert "unknown setting nope (known: " in capsys.readouterr().err
    assert main(["train", "transform", "--data", str(tmp_path), "-o", str(tmp_path / "r"), "--resume"]) == 1
    assert "nothing to resume" in capsys.readouterr().err
