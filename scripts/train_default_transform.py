"""Train the piano -> violin model shipped as ``checkpoints/transform-piano2violin.pt``.

By default this reproduces the shipped checkpoint: it builds the benchmark
recipe's *training* pairs (200 clips of training-split Bach chorales, piano and
violin renders from the same notes; never the test chorales) with
``scripts/make_transform_pairs.py`` if they are missing, trains the U-Net of
``configs/transform.yaml`` for 20 minutes on one CPU thread, and exports it.

``--data data/pairs --config configs/transform-demo.yaml`` trains on the small
demo pair set shipped in the repository instead (a few minutes, rougher).

    python scripts/train_default_transform.py
    python scripts/train_default_transform.py --data data/pairs --config configs/transform-demo.yaml --minutes 8
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / "bench_data" / "transform" / "train")
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "transform.yaml")
    ap.add_argument("--minutes", type=float, default=20.0, help="training budget")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench_data" / "runs" / "default")
    ap.add_argument("--checkpoint", type=Path, default=REPO / "checkpoints" / "transform-piano2violin.pt")
    args = ap.parse_args(argv)

    import torch

    from tunesmith.transform.train import train

    torch.set_num_threads(args.threads)
    if not args.data.exists() and args.data == ap.get_default("data"):
        import make_transform_pairs

        make_transform_pairs.main(["bench", "--out", str(args.data.parent)])
    path = train(args.data, args.config, out_dir=args.out_dir, trainer={"max_minutes": args.minutes})
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, args.checkpoint)
    print(args.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
