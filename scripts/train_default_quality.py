#!/usr/bin/env python
"""Train the shipped fault detector, ``src/tunesmith/models/quality.pt``.

    python scripts/train_default_quality.py [--max-steps N] [--minutes M] [--seeds 0 1] [--threads 1] [--resume] [--install]

The shipped detector of 2026-12-02 (second version) is this command's defaults: an ensemble of two
detectors, seeds 0 and 1, each 3,000 steps of 48 crops of 4 s (about 31 min on 2 CPU cores, one of them
making the examples), each kept at its last step (``keep: last``), packed into one file
(``classify.qualitynet.pack_quality_nets``; ``qualitynet+ft`` fine-tunes both and averages them). Each
run's folder is ``runs/quality/seed<k>`` (``metrics.csv`` holds its validation curve); ``--resume``
continues each from its ``last.ckpt``.

Chosen on the four development sets of good vs bad (``benchmarks/goodbad_dev.py``; experiments in the
session-8 note): rooms as no fault (``ambience: 0.4``, the fourth set's meeting-like takes), the last
step rather than the best validation AUC, two members rather than one.

Clean material (read from ``../shared/data``; none of it is committed), the DEVELOPMENT side of the
good-vs-bad split of ``scripts/make_goodbad_dev.py`` only, so the benchmark's final set
(``bench_data/goodbad_real``: the other quarter of the LibriSpeech readers, the other two FSDD talkers,
the other violinist, vocadito) shares no talker, player or singer with it:

* LibriSpeech: the readers of the development side (three in four), one in ten of them for validation;
* FSDD: george, jackson and lucas (training), nicolas (validation), digits strung together;
* solo violin, John Garner: BWV 1002 mov. 6 and the first three quarters of mov. 8 (training), the rest
  of mov. 8 (validation);
* FluidSynth renders of the transcription development set (``bench_data/transcription_dev_t17/clean``,
  when present; FluidR3 and MuseScore General), a tenth of the crops, for other instruments.

The faults are :mod:`tunesmith.classify.degrade`'s families. The development sets of good vs bad
(``bench_data/goodbad_dev*``) are made from the same clean recordings by another generator
(``scripts/make_goodbad_dev.py``) whose fault kinds overlap these families by name: figures on them are
optimistic; the final set's talkers and eight of its fault kinds are unseen.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RUN = ROOT / "runs" / "quality"
SHARES = {"librispeech": 0.55, "violin": 0.2, "fsdd": 0.15, "renders": 0.1}


def pools():
    from tunesmith.audio import load
    from tunesmith.classify.qualitytrain import CleanPool

    def read(f):
        return load(f, sr=16000).samples

    # the development side of make_goodbad_dev.py, less its detector_validation() share (the set
    # bench_data/goodbad_dev5 is made of that share: sources this detector never hears)
    from make_goodbad_dev import DETECTOR_VAL_VIOLIN, clean_sources, detector_validation

    dev, held = clean_sources("dev"), detector_validation()
    libri_val = held["librispeech"]
    libri_train = [f for f in dev["librispeech"] if f not in libri_val]
    fsdd_val = held["fsdd"]
    fsdd_train = [f for f in dev["fsdd"] if f not in fsdd_val]
    violin = DATA / "melody" / "bach_violin"
    mov6, mov8 = read(violin / "john-garner_bwv1002_mov6.mp3"), read(violin / DETECTOR_VAL_VIOLIN[0])
    cut = int(len(mov8) * DETECTOR_VAL_VIOLIN[1])
    renders = sorted((ROOT / "bench_data" / "transcription_dev_t17" / "clean").glob("*.wav"))
    r_val = renders[::5]
    r_train = [f for f in renders if f not in r_val]
    train = {"librispeech": [read(f) for f in libri_train], "fsdd": [read(f) for f in fsdd_train],
             "violin": [mov6, mov8[:cut]], "renders": [read(f) for f in r_train]}
    val = {"librispeech": [read(f) for f in libri_val], "fsdd": [read(f) for f in fsdd_val],
           "violin": [mov8[cut:]], "renders": [read(f) for f in r_val]}
    counts = {k: len(v) for k, v in train.items()}
    print(f"clean material: training {counts}, validation { {k: len(v) for k, v in val.items()} }",
          file=sys.stderr)
    join = ("librispeech", "fsdd")
    return CleanPool(train, SHARES, join), CleanPool(val, SHARES, join)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget of each member's run")
    ap.add_argument("--val-every", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                    help="one detector per seed (weights and example stream), packed into one ensemble file")
    ap.add_argument("--resume", action="store_true", help="resume each member's run from its last.ckpt")
    ap.add_argument("--out", type=Path, default=RUN)
    ap.add_argument("--install", action="store_true", help="copy the result to src/tunesmith/models/quality.pt")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a training-config value (tunesmith.classify.qualitytrain.DEFAULT_CONFIG), e.g. perturb=0.5")
    args = ap.parse_args(argv)
    if not (DATA / "speech").is_dir():
        print(f"{DATA}: no such folder (the shared real recordings)", file=sys.stderr)
        return 1
    import torch

    from tunesmith.classify.qualitynet import pack_quality_nets
    from tunesmith.classify.qualitytrain import train_quality_net

    from tunesmith.config import parse_overrides

    config = parse_overrides(args.set)
    torch.set_num_threads(args.threads)
    train, val = pools()
    members = []
    for seed in args.seeds:
        _, path = train_quality_net(train, val, args.out / f"seed{seed}", max_steps=args.max_steps,
                                    max_minutes=args.minutes, val_every=args.val_every, seed=seed, config=config,
                                    resume="auto" if args.resume else False, accelerator="cpu", devices=1)
        print(f"wrote {path}", file=sys.stderr)
        members.append(path)
    path = pack_quality_nets(members, args.out / "quality.pt")
    print(f"wrote {path} ({len(members)} member(s))", file=sys.stderr)
    if args.install:
        dest = ROOT / "src" / "tunesmith" / "models" / "quality.pt"
        shutil.copyfile(path, dest)
        print(f"installed {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
