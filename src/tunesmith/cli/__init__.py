"""``tunesmith <verb>``: a thin command line over the library.

Each verb lives in a module ``tunesmith.cli.cmd_<verb>`` that defines
``register(subparsers)`` (and, for trainable models, ``register_train(train_subparsers)``
for ``tunesmith train <model>``). Modules are discovered at start-up and must
import nothing heavy at module level: torch, music21 and librosa are imported
inside the function that runs the verb, so ``tunesmith --help`` is instant.

Errors the user can cause are :class:`tunesmith.errors.TunesmithError`; they are
printed as one line on stderr with a non-zero exit, never as a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from tunesmith import __version__
from tunesmith.errors import TunesmithError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunesmith",
        description="Recordings into music, music into new sound.",
    )
    parser.add_argument("--version", action="version", version=f"tunesmith {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    train = sub.add_parser("train", help="train a model (transcriber, composer, transform, classifier)",
                           description="Train one of tunesmith's models with Lightning.")
    train_sub = train.add_subparsers(dest="model", metavar="<model>")
    def train_help(args) -> int:
        train.print_help()
        return 2

    train.set_defaults(func=train_help)
    import tunesmith.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("cmd_"):
            continue
        mod = importlib.import_module(f"tunesmith.cli.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
        if hasattr(mod, "register_train"):
            mod.register_train(train_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from tunesmith.cli.common import show_library_log

    show_library_log()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except TunesmithError as exc:
        print(f"tunesmith: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tunesmith: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"tunesmith: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
