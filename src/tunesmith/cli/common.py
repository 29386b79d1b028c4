"""Helpers shared by the verbs: settings lines, output flags, and showing the library's log on stderr.

The folder runner (:func:`run_batch`, :func:`iter_inputs`, :class:`BatchResult`)
lives in the library, :mod:`tunesmith.batch`; it is re-exported here for the verbs.
"""
from __future__ import annotations

import argparse
import logging
import sys

from tunesmith.batch import BatchResult, iter_inputs, run_batch
from tunesmith.errors import TunesmithError

__all__ = ["BatchResult", "iter_inputs", "run_batch", "say", "add_output", "add_checkpoint", "add_common_output",
           "parse_range", "print_settings", "show_library_log", "add_train_flags", "train_overrides"]
LOG_PREFIX = "tunesmith: "


class _TqdmStderrHandler(logging.Handler):
    """Writes each record as one ``tunesmith: message`` line on the current stderr, above any progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(LOG_PREFIX + self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001  (logging must never raise)
            self.handleError(record)


def show_library_log(level: int = logging.INFO) -> None:
    """Show the ``tunesmith`` loggers' messages (INFO and up) on stderr; idempotent."""
    logger = logging.getLogger("tunesmith")
    handler = next((h for h in logger.handlers if isinstance(h, _TqdmStderrHandler)), None)
    if handler is None:
        handler = _TqdmStderrHandler()
        logger.addHandler(handler)
    handler.setLevel(level)  # DEBUG records (music21's chatter) stay out even when a logger below asks for them
    logger.setLevel(level)


def say(message: str) -> None:
    """Print a line to stdout without breaking a running progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(message)


#: Output-flag spellings of 0.1, accepted (hidden from --help) for one release.
OLD_OUTPUT_FLAGS = ("--out-dir", "--out")
#: Model-flag spellings of 0.1, accepted (hidden) for one release; every verb says --checkpoint.
OLD_CHECKPOINT_FLAGS = ("--model",)


def add_output(parser, *, dest: str = "out_dir", required: bool = False, default: str | None = None,
               metavar: str = "OUT_DIR", help: str = "folder for the outputs") -> None:
    """``-o/--output``, the one output flag of every verb (old spellings accepted, hidden)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("-o", "--output", dest=dest, default=default, metavar=metavar, help=help)
    for old in OLD_OUTPUT_FLAGS:
        group.add_argument(old, dest=dest, default=default, metavar=metavar, help=argparse.SUPPRESS)


def add_checkpoint(parser, *, dest: str = "checkpoint", required: bool = False, help: str) -> None:
    """``--checkpoint``, the one model flag of every verb (``--model`` accepted, hidden)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--checkpoint", dest=dest, default=None, metavar="CKPT", help=help)
    for old in OLD_CHECKPOINT_FLAGS:
        group.add_argument(old, dest=dest, default=None, metavar="CKPT", help=argparse.SUPPRESS)


def add_common_output(parser, *, required: bool = True, default: str | None = None) -> None:
    add_output(parser, required=required, default=default,
               help="folder for the outputs (created if needed; the input tree is mirrored)")


def parse_range(text: str) -> tuple[float, float]:
    """'55-79' or 'G3-C6' → (low, high) MIDI numbers."""
    from tunesmith.notes import name_to_midi

    def one(s: str) -> float:
        s = s.strip()
        try:
            return float(s)
        except ValueError:
            return float(name_to_midi(s))

    if "-" not in text[1:]:
        raise TunesmithError(f"range {text!r} must look like LOW-HIGH, e.g. 55-79 or G3-C6")
    i = text.index("-", 1)
    lo, hi = one(text[:i]), one(text[i + 1:])
    if lo > hi:
        raise TunesmithError(f"range {text!r}: low end above high end")
    return lo, hi


def print_settings(title: str, settings: dict, file=None) -> None:
    """Print the effective values of a command's knobs (one line, stderr by default)."""
    parts = ", ".join(f"{k}={v}" for k, v in settings.items())
    print(f"{title}: {parts}", file=file or sys.stderr)


def add_train_flags(parser, *, default_out: str, out_help: str, limit: str = "epochs", auto_resume: bool = False,
                    example: str = "optim.lr=0.001", config_help: str | None = None) -> None:
    """The flags every ``tunesmith train <model>`` shares (one spelling each).

    ``--config``, ``-o/--output``, ``--resume`` (continue ``last.ckpt``; an error when there is none),
    ``--max-epochs`` or ``--max-steps`` (``limit``), ``--accelerator``, ``--devices`` and
    ``--set section.key=value``. With ``auto_resume`` a run also continues by itself when the run
    folder holds ``last.ckpt``, and ``--no-resume`` starts afresh.
    """
    parser.add_argument("--config", default=None, metavar="YAML", help=config_help or "settings file (default: the "
                        "built-in settings, the same values as the model's configs/*.yaml)")
    add_output(parser, default=default_out, help=out_help)
    auto = " (without it a run also continues when last.ckpt is there)" if auto_resume else ""
    parser.add_argument("--resume", action="store_const", const=True, default="auto" if auto_resume else False,
                        help=f"continue OUT_DIR's last checkpoint with its metric history; an error when there is "
                             f"none{auto}")
    if auto_resume:
        parser.add_argument("--no-resume", dest="resume", action="store_const", const=False, help="start afresh")
    flag = "--max-steps" if limit == "steps" else "--max-epochs"
    parser.add_argument(flag, type=int, default=None, metavar="N", help=f"train at most N {limit} (overrides the config)")
    parser.add_argument("--accelerator", default=None, help="Lightning accelerator: cpu, gpu, auto (overrides the config)")
    parser.add_argument("--devices", default=None, help="Lightning devices, e.g. 1 or 2 (overrides the config)")
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE",
                        help=f"any setting as section.key=value, e.g. {example}")


def train_overrides(args, flags: dict[str, str]) -> list[str]:
    """``args.overrides`` plus ``key=value`` for each flag in ``flags`` (attribute -> dotted key) that is set."""
    out = list(args.overrides)
    for attr, key in flags.items():
        value = getattr(args, attr, None)
        if value is not None and value is not False:
            out.append(f"{key}={value}")
    return out
