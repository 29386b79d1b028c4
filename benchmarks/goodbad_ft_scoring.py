#!/usr/bin/env python
"""How ``qualitynet+ft`` should decide, on the DEVELOPMENT sets of good vs bad: the shipped detector as it
is (no training on the user's windows) against fine-tuned, and whole windows against crops.

    python benchmarks/goodbad_ft_scoring.py [--seeds 1 2 3] [--rooms-seeds 4] [--heldout-seeds 5] [--threads 2]

For each development set (``bench_data/goodbad_dev<seed>``, made by ``scripts/make_goodbad_dev.py``), 5
folds exactly as ``compare-features`` makes them, each member of the shipped detector
(``src/tunesmith/models/quality.pt``) fine-tuned once per fold (``compare.finetune_detector_net``), then
scored in several ways, the members' probabilities averaged (``goodbad_dev5``, made with ``--split
heldout``, holds only talkers and a violin passage that the detector never heard):

* ``zero-shot``: the shipped detectors' own p(bad) above 0.5, untrained on the fold (the peer: what the
  fine-tuning has to beat);
* ``+ft, whole windows``: the fine-tuned detectors on each whole window (what shipped until 2026-12-02);
* ``+ft, 4 crops of 40 %`` / ``3 crops of 60 %``: the mean of the logits over overlapping crops that
  cover the window (the detector pools over time with a maximum, which a longer window raises); three
  of 60 % is what ``qualitynet+ft`` ships (``compare.detector_probabilities`` with its defaults).

Prints and writes ``benchmarks/results/classify_goodbad_ft_scoring.md``: balanced accuracy per set (mean
over folds, as ``compare-features``), recall of clean takes per source, recall of bad takes. The detector
trained on the clean recordings these sets are made from: figures here are optimistic, and they are for
choosing, not for reporting quality (the final set, ``benchmarks/classify.py``, is that).
"""
from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from _common import cpu_name, goodbad_dev_sets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "classify_goodbad_ft_scoring.md"
VARIANTS = ("zero-shot", "+ft, whole windows", "+ft, 4 crops of 40 %", "+ft, 3 crops of 60 % (shipped)")
SOURCES = ("librispeech", "fsdd", "violin")


def score_set(folder: Path) -> dict:

    from tunesmith.classify import compare as C
    from tunesmith.classify.data import file_folds, load_windows, scan_labelled_folder
    from tunesmith.classify.qualitynet import load_quality_nets, quality_outputs

    files, classes = scan_labelled_folder(folder, "stem")
    ws = load_windows(files, classes, sr=16000, window_s=10.0, progress=False)
    y = ws.y
    fold = file_folds(ws.groups, y, 5, 0)
    ref = next(i for i, c in enumerate(classes) if c.lower() in C.REFERENCE_CLASSES)
    x = ws.x                                   # loaded at the detector's 16 kHz
    probs = {v: np.zeros((len(y), 2)) for v in VARIANTS}
    p_bad = np.mean([1 / (1 + np.exp(-quality_outputs(net, x)[:, 0])) for net in load_quality_nets()], axis=0)
    probs["zero-shot"][:, 1 - ref] = p_bad
    probs["zero-shot"][:, ref] = 1 - p_bad
    for k in range(5):
        tr, te = fold != k, fold == k
        nets = load_quality_nets()
        tuned = [C.finetune_detector_net(net, x[tr], y[tr], 2, k, reference=ref) for net in nets]
        for v, fn in (("+ft, whole windows", lambda n: C.detector_probabilities(n, x[te], 1, 1.0)),
                      ("+ft, 4 crops of 40 %", lambda n: C.detector_probabilities(n, x[te], 4, 0.4)),
                      ("+ft, 3 crops of 60 % (shipped)", lambda n: C.detector_probabilities(n, x[te]))):
            probs[v][te] = np.mean([fn(n) for n in tuned], axis=0)
    tags = {r["file"]: r["degradation"] for r in csv.DictReader(open(folder / "degradations.csv"))}
    paths = [ws.files[i].path for i in ws.file_index]
    kinds = np.array([tags.get(f"{p.parent.name}/{p.name}", "?") for p in paths])
    source = np.array([p.stem.split("_", 1)[-1] for p in paths])
    out = {}
    for v in VARIANTS:
        pred = probs[v].argmax(1)
        ba = np.mean([np.mean([np.mean(pred[(fold == k) & (y == c)] == c) for c in (0, 1)]) for k in range(5)])
        out[v] = {"ba": ba, "hits_bad": pred[kinds != "none"] == y[kinds != "none"],
                  **{s: pred[(kinds == "none") & (source == s)] == ref for s in SOURCES}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="qualitynet+ft: zero-shot vs fine-tuned, whole windows vs crops")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--rooms-seeds", type=int, nargs="*", default=[4])
    ap.add_argument("--heldout-seeds", type=int, nargs="*", default=[5],
                    help="sets of sources the detector never heard (make_goodbad_dev.py --split heldout)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    found = goodbad_dev_sets(ROOT, args.seeds, args.rooms_seeds, args.heldout_seeds)
    if found is None:
        return 1
    names = [d.name for _, d, _ in found]
    t0, load0 = time.time(), os.getloadavg()[0]
    per = {}
    for n in names:
        per[n] = score_set(ROOT / "bench_data" / n)
        print(f"{n}: " + ", ".join(f"{v} {per[n][v]['ba']:.3f}" for v in VARIANTS), file=sys.stderr, flush=True)
    minutes = (time.time() - t0) / 60
    command = "python benchmarks/goodbad_ft_scoring.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    lines = ["# qualitynet+ft on the development sets: zero-shot, fine-tuned, whole windows or crops", "",
             f"Command: `{command.strip()}`. Machine: {cpu_name()}, torch {torch.__version__}, {args.threads} "
             f"thread(s); load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
             f"{minutes:.1f} min in all. Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "Balanced accuracy, 5 folds (mean over folds), per development set; then pooled recall of clean "
             "takes per source and of bad takes. The shipped detector (two members, probabilities averaged) "
             "trained on the clean recordings these sets are made from, except the held-out sets' ("
             + (", ".join(f"goodbad_dev{s}" for s in args.heldout_seeds) or "none here")
             + ": talkers and violin it never heard): optimistic figures, for choosing.", "",
             "| scoring | " + " | ".join(names) + " | mean | clean " + " | clean ".join(SOURCES) + " | bad |",
             "|---|" + "---|" * (len(names) + len(SOURCES) + 2)]
    for v in VARIANTS:
        bas = [per[n][v]["ba"] for n in names]
        rec = [np.mean(np.concatenate([per[n][v][s] for n in names])) for s in SOURCES + ("hits_bad",)]
        lines.append(f"| {v} | " + " | ".join(f"{b:.3f}" for b in bas) + f" | {np.mean(bas):.3f} | "
                     + " | ".join(f"{r:.2f}" for r in rec) + " |")
    counts = {s: sum(len(per[n][VARIANTS[0]][s]) for n in names) for s in SOURCES + ("hits_bad",)}
    lines += ["", "Clean takes per source: " + ", ".join(f"{s} {counts[s]}" for s in SOURCES)
              + f"; bad takes {counts['hits_bad']}."]
    text = "\n".join(lines) + "\n"
    print(text)
    from tunesmith.io import atomic_write_text

    atomic_write_text(args.results, text)
    print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
