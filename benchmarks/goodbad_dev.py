#!/usr/bin/env python
"""Good vs bad on the DEVELOPMENT sets of real recordings: the place where the recipe was judged.

    python scripts/make_goodbad_dev.py --split dev --seed 1     # and --seed 2, --seed 3
    python scripts/make_goodbad_dev.py --split dev --seed 4 --rooms   # every clip in an ordinary room
    python scripts/make_goodbad_dev.py --split heldout --seed 5 --n 200   # sources the detector never heard
    python benchmarks/goodbad_dev.py [--seeds 1 2 3] [--features qualitynet+ft,qualitynet+lr,logmel+stats,...]

For each development set (``bench_data/goodbad_dev<seed>``: 160 real 10-s clips, none of the final set's
talkers, players or degradation kinds), ``compare_features`` with 5 folds, once as shipped and once
with the quality descriptors (:mod:`tunesmith.classify.quality`) taken out of ``logmel+stats`` and
``descriptors+lr`` (the rows they had before), and the out-of-fold recall per degradation. Writes
``benchmarks/results/classify_goodbad_dev.md``.

The fault detector behind ``qualitynet+lr`` and ``qualitynet+ft`` was trained on the same clean recordings
these sets are made from (the development side, ``scripts/train_default_quality.py``), with fault families
that overlap these kinds by name: its figures here are optimistic, the final set is the measure.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from _common import cpu_name, goodbad_dev_sets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "classify_goodbad_dev.md"
#: Representations with quality rows to take out (the others run once, as shipped).
WITH_QUALITY_ROWS = ("logmel+stats", "descriptors+lr", "qualitynet+lr")


@contextlib.contextmanager
def without_quality():
    """``logmel+stats`` and ``descriptors+lr`` without the quality rows, for the ablation."""
    from tunesmith.classify import compare, model, quality

    nq = len(quality.QualityDescriptors.names)
    saved = model.LogMelStats.forward, compare.with_quality, compare.augment_rows
    forward, augment_rows = saved[0], saved[2]
    model.LogMelStats.forward = lambda self, x: forward(self, x)[:, :-nq]
    compare.with_quality = lambda desc, q: desc
    compare.augment_rows = lambda rep, n: augment_rows(rep, n + nq) if rep == "logmel+stats" else augment_rows(rep, n)
    try:
        yield
    finally:
        model.LogMelStats.forward, compare.with_quality, compare.augment_rows = saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="good vs bad on the development sets of real recordings")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--rooms-seeds", type=int, nargs="*", default=[4],
                    help="development sets made with --rooms (every clip in an ordinary room)")
    ap.add_argument("--heldout-seeds", type=int, nargs="*", default=[5],
                    help="development sets made with --split heldout (sources the fault detector never heard)")
    ap.add_argument("--features", default="qualitynet+ft,qualitynet+lr,logmel+stats,descriptors+lr,logmel")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--results", type=Path, default=RESULTS,
                    help="results file (default benchmarks/results/classify_goodbad_dev.md)")
    ap.add_argument("--title", default="Good vs bad on the development sets of real recordings")
    args = ap.parse_args(argv)
    import torch

    from tunesmith.classify.compare import compare_features

    torch.set_num_threads(args.threads)
    found = goodbad_dev_sets(ROOT, args.seeds, args.rooms_seeds, args.heldout_seeds)
    if found is None:
        return 1
    sets = [d for _, d, _ in found]
    reps = args.features.split(",")
    bacc = {}     # (variant, rep) -> [per set]
    recall = {}   # (variant, rep) -> {degradation: [hits]}
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    for d in sets:
        with open(d / "degradations.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        tags = {r["file"]: r["degradation"] for r in rows}
        for variant in ("with quality rows", "without"):
            ctx = contextlib.nullcontext() if variant == "with quality rows" else without_quality()
            run = reps if variant == "with quality rows" else [r for r in reps if r in WITH_QUALITY_ROWS]
            if not run:
                continue
            with ctx:
                res = compare_features(d, features=run, folds=5, seed=0, progress=False)
            if res.failed:
                print(f"{d.name} {variant}: failed {res.failed}", file=sys.stderr)
            for rep in res.scores:
                if rep not in WITH_QUALITY_ROWS:
                    variant_name = "no quality rows (none to take out)"
                else:
                    variant_name = variant
                bacc.setdefault((variant_name, rep), []).append(res.summary(rep)["balanced_accuracy"][0])
                for k, (r, n) in res.recall_by(rep, tags).items():
                    recall.setdefault((variant_name, rep), {}).setdefault(k, []).append((r, n))
            print(f"{d.name} {variant} done ({(time.perf_counter() - t0) / 60:.1f} min)", file=sys.stderr)
    wall = (time.perf_counter() - t0) / 60
    names = [d.name for d in sets]
    lines = ["| representation | rows | " + " | ".join(names) + " | mean |", "|---|---|" + "---|" * (len(names) + 1)]
    for (variant, rep), v in sorted(bacc.items(), key=lambda kv: -np.mean(kv[1])):
        lines.append(f"| {rep} | {variant} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {np.mean(v):.3f} |")
    keys = [k for k in sorted(bacc, key=lambda k: -np.mean(bacc[k]))]
    kinds = sorted({k for key in keys for k in recall[key]}, key=lambda k: (k != "none", k))
    rec = ["| degradation | windows | " + " | ".join(f"{rep} ({variant})" for variant, rep in keys) + " |",
           "|---|---|" + "---|" * len(keys)]
    for k in kinds:
        n = sum(c for _, c in recall[keys[0]].get(k, []))
        cells = []
        for key in keys:
            got = recall[key].get(k, [])
            cells.append(f"{sum(r * c for r, c in got) / max(1, sum(c for _, c in got)):.2f}")
        rec.append(f"| {'none (clean: recall of good)' if k == 'none' else k} | {n} | " + " | ".join(cells) + " |")
    cmd = "python benchmarks/goodbad_dev.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    model = os.environ.get("TUNESMITH_MODEL_QUALITY")
    text = (f"# {args.title}\n\nCommand: `{'TUNESMITH_MODEL_QUALITY=' + model + ' ' if model else ''}{cmd.strip()}` (data: "
            f"`python scripts/make_goodbad_dev.py --split dev --seed N` for N in {' '.join(map(str, args.seeds))}"
            + (f"; with `--rooms` for N in {' '.join(map(str, args.rooms_seeds))}: every clip, good or bad, first in an "
               "ordinary room with a quiet background, meeting-like takes that are still good" if args.rooms_seeds else "")
            + (f"; with `--split heldout --n 200` for N in {' '.join(map(str, args.heldout_seeds))}: only sources "
               "the fault detector never heard (its validation talkers and violin)" if args.heldout_seeds else "")
            + "). "
            f"Machine: 2-core shared CPU VM ({cpu_name()}), torch {torch.__version__}, {args.threads} thread(s); "
            f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; {wall:.1f} min in all. "
            f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
            "Balanced accuracy, 5 folds, out-of-fold (mean over folds), per development set; 'without' is the same "
            "representation without the quality descriptors. The fault detector behind `qualitynet+lr` and "
            "`qualitynet+ft` trained on the clean recordings these sets are made from (except the held-out set's), "
            "with fault families that overlap these kinds by name: its figures here are optimistic, least so on "
            "the held-out set.\n\n" + "\n".join(lines) +
            "\n\nOut-of-fold recall per degradation, pooled over the sets:\n\n" + "\n".join(rec) + "\n")
    print(text)
    from tunesmith.io import atomic_write_text

    atomic_write_text(args.results, text)
    print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
