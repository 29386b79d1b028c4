#!/usr/bin/env python
"""Train the shipped one-voice-or-several detector, ``checkpoints/voices.pt``.

    python scripts/make_classify_data.py --only voices      # bench_data/voices/{train,test}
    python scripts/train_default_voices.py [--data bench_data/voices/train] [--epochs N]

Trains with ``configs/voices.yaml`` (30 epochs, with "several" windows made on
the fly from sums of "one" windows: ``mix_augment``) on the training instruments
only (the test instruments in ``bench_data/voices/test`` are never seen), then copies the
checkpoint (about 1 MB) to ``checkpoints/voices.pt``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", default=str(ROOT / "bench_data" / "voices" / "train"))
    ap.add_argument("--out-dir", default=str(ROOT / "runs" / "voices"))
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from tunesmith.classify.train import train_classifier

    path = train_classifier(args.data, args.out_dir, config=ROOT / "configs" / "voices.yaml",
                            max_epochs=args.epochs, resume=False)
    dest = ROOT / "checkpoints" / "voices.pt"
    dest.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, dest)
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
