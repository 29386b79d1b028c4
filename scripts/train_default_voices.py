#!/usr/bin/env python
"""Train the shipped one-voice-or-several detector, ``checkpoints/voices.pt``.

    python scripts/make_classify_data.py --only voices      # bench_data/voices/{train,test}, bench_data/voices_dev
    python scripts/train_default_voices.py [--data DIR ...] [--epochs N]

Trains with ``configs/voices.yaml`` (30 epochs, with "several" windows made on
the fly from sums of "one" windows: ``mix_augment``) on every instrument outside
the test split: ``bench_data/voices/train`` (20 GM programs, 7 espeak voices and
39 further programs) and the development split ``bench_data/voices_dev`` (16 more
programs), which chose the training set before it joined it. The test instruments
in ``bench_data/voices/test`` are never seen. Copies the checkpoint (about 1 MB)
to ``checkpoints/voices.pt``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def union_folder(folders: list[Path], dest: Path) -> Path:
    """A labelled folder ``dest/<label>/`` of links to the files of every ``folders[i]/<label>/``."""
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: no such folder (run python scripts/make_classify_data.py --only voices)")
    shutil.rmtree(dest, ignore_errors=True)
    for folder in folders:
        for label_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            out = dest / label_dir.name
            out.mkdir(parents=True, exist_ok=True)
            for f in sorted(label_dir.iterdir()):
                link = out / f.name
                if link.exists():
                    raise SystemExit(f"{f}: a file of that name is already in {out}")
                link.symlink_to(f.resolve())
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", type=Path, nargs="+",
                    default=[ROOT / "bench_data" / "voices" / "train", ROOT / "bench_data" / "voices_dev"],
                    help="labelled folders (one/ and several/ inside) to train on together")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "voices")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from tunesmith.classify.train import train_classifier

    data = args.data[0] if len(args.data) == 1 else union_folder(args.data, args.out_dir / "data")
    path = train_classifier(data, args.out_dir, config=ROOT / "configs" / "voices.yaml",
                            max_epochs=args.epochs, resume=False)
    dest = ROOT / "checkpoints" / "voices.pt"
    dest.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, dest)
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
