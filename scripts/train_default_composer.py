#!/usr/bin/env python
"""Train the shipped default composer on the Bach chorale soprano lines and export it.

Uses the *train* and *valid* parts of ``../shared/benchmarks/chorale_split.json``
(music21 corpus paths; the test part is never read here) with
``configs/composer.yaml``, then writes a slim copy (weights + metadata, no
optimiser state) to ``src/tunesmith/models/composer-chorales.pt``.

    python scripts/train_default_composer.py [--out-dir runs/chorales] [--set trainer.max_epochs=40]

Run it niced on a shared machine: ``nice -n 10 python scripts/train_default_composer.py``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPLIT = ROOT.parent / "shared" / "benchmarks" / "chorale_split.json"  # the repository's sibling folder


def corpus_files(names: list[str]) -> list[Path]:
    """music21 corpus paths ('bach/bwv1.6.mxl') → files on disk."""
    from music21 import corpus

    return [Path(str(corpus.getWork(n))) for n in names]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default=str(SPLIT))
    ap.add_argument("--config", default=str(ROOT / "configs" / "composer.yaml"))
    ap.add_argument("--out-dir", default=str(ROOT / "runs" / "chorales"))
    ap.add_argument("--export", default=str(ROOT / "src" / "tunesmith" / "models" / "composer-chorales.pt"))
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = ap.parse_args()

    import torch

    from tunesmith.compose.model import export_checkpoint
    from tunesmith.compose.train import load_config, train_composer

    if args.threads:
        torch.set_num_threads(args.threads)
    split = json.loads(Path(args.split).read_text())
    train, valid = corpus_files(split["train"]), corpus_files(split["valid"])
    cfg = load_config(args.config, args.overrides)
    t0, cpu0 = time.time(), time.process_time()
    best = train_composer(train, valid_data=valid, out_dir=args.out_dir, resume=args.resume, cfg=cfg)
    wall = time.time() - t0
    export_checkpoint(best, args.export)
    size = Path(args.export).stat().st_size / 1e6
    import os

    print(json.dumps({"best": str(best), "export": args.export, "size_mb": round(size, 2),
                      "wall_s": round(wall, 1), "cpu_s": round(time.process_time() - cpu0, 1),
                      "threads": torch.get_num_threads(), "load_avg_15min": round(os.getloadavg()[2], 1)}))


if __name__ == "__main__":
    main()
