"""How the shipped transcriber checkpoint is made: a thin caller of ``tunesmith train transcriber``.

    python scripts/train_transcriber.py [--ship] [any `tunesmith train transcriber` option]

Trains with configs/transcriber.yaml into runs/transcriber (unless -o is given); with ``--ship``
the result is copied to src/tunesmith/models/transcriber.pt (the shipped model). The recipe lives in tunesmith.transcribe.train.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from tunesmith.cli import main as cli

    argv = list(sys.argv[1:] if argv is None else argv)
    ship = "--ship" in argv
    argv = [a for a in argv if a != "--ship"]
    out_flag = next((f for f in ("-o", "--output", "--out-dir") if f in argv), None)
    if out_flag is None:
        out_flag = "-o"
        argv += [out_flag, str(ROOT / "runs" / "transcriber")]
    rc = cli(["train", "transcriber", *argv])
    if rc == 0 and ship:
        out = Path(argv[argv.index(out_flag) + 1])
        shutil.copyfile(out / "transcriber.pt", ROOT / "src" / "tunesmith" / "models" / "transcriber.pt")
        print(f"shipped {out / 'transcriber.pt'} -> src/tunesmith/models/transcriber.pt", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
