"""Train the piano -> violin model shipped as ``src/tunesmith/models/transform-piano2violin.pt``.

It builds the benchmark recipe's *training* pairs (200 clips of
training-split Bach chorales, piano and violin renders from the same notes;
never the test chorales) with ``scripts/make_transform_pairs.py`` if they are
missing, trains the U-Net of ``configs/transform.yaml`` on one CPU thread, and
exports it. ``--init-from`` fine-tunes an exported checkpoint instead.

The shipped checkpoint came from a chain of such runs: 34 minutes from scratch
(lr 2e-3, loss L1-dB + 0.5 MR-STFT after input-phase inversion), 14 + 9 minutes
with random gain and the input floor (lr 1e-3, 5e-4), then 6 minutes (lr 1e-3),
55 minutes (lr 1e-3 cosine-decayed to 2e-5, ``--lr 1e-3 --cosine``), 18 minutes (1 thread),
22 minutes (2 threads), 80 minutes (1 thread; these three lr 3e-4 cosine-decayed) and 30 minutes
(1 thread, lr 2e-4 cosine-decayed) with the present loss (L1-dB + 2.0 MR-STFT after 4 Griffin-Lim
steps); see
``benchmarks/results/transform.md``.

``--data data/pairs --config configs/transform-demo.yaml`` trains on the small
demo pair set shipped in the repository instead (a few minutes, rougher).

    python scripts/train_default_transform.py
    python scripts/train_default_transform.py --init-from src/tunesmith/models/transform-piano2violin.pt --minutes 80 --lr 3e-4 --cosine
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
    ap.add_argument("--init-from", type=Path, default=None, help="fine-tune this exported checkpoint")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: the config's)")
    ap.add_argument("--cosine", action="store_true", help="cosine learning-rate decay over --minutes")
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench_data" / "runs" / "default")
    ap.add_argument("--checkpoint", type=Path, default=REPO / "src" / "tunesmith" / "models" / "transform-piano2violin.pt")
    args = ap.parse_args(argv)

    import torch

    from tunesmith.transform.training import train

    torch.set_num_threads(args.threads)
    if not args.data.exists() and args.data == ap.get_default("data"):
        import make_transform_pairs

        make_transform_pairs.main(["bench", "--out", str(args.data.parent)])
    optim = {"schedule": "cosine"} if args.cosine else {}
    if args.lr is not None:
        optim["lr"] = args.lr
    path = train(args.data, args.config, out_dir=args.out_dir, init_from=args.init_from, optim=optim,
                 trainer={"max_minutes": args.minutes, "threads": args.threads})
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, args.checkpoint)
    print(args.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
