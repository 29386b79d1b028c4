#!/usr/bin/env python
"""Train the shipped one-voice-or-several detector, ``src/tunesmith/models/voices.pt``.

    python scripts/make_classify_data.py --only voices      # bench_data/voices/{train,test}, bench_data/voices_dev
    python scripts/make_classify_data.py --only speech      # bench_data/voices_speech/{train,val} (real talkers)
    python scripts/train_default_voices.py [--data DIR ...] [--epochs N] [--threads 1]

Trains with ``configs/voices.yaml`` on every instrument outside the test split
(``bench_data/voices/train``: 59 GM programs and 7 espeak voices; ``bench_data/voices_dev``:
16 more programs) and on 2-s mixtures of the REAL training talkers
(``bench_data/voices_speech/train``: LibriSpeech readers and FSDD talkers; the validation and
test talkers are never in it). Then the decision threshold on ``p(several)`` is calibrated
on the validation talkers (``bench_data/voices_speech/val``: best balanced accuracy,
:func:`~tunesmith.classify.voices.calibrate_threshold`) and folded into the network's last
bias (:func:`~tunesmith.classify.voices.fold_threshold`), so every consumer decides with
it. Validation figures of the new and of the current shipped checkpoint are printed, and
the new one is copied to ``src/tunesmith/models/voices.pt`` only with ``--install``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench_data"
DEFAULT_DATA = [BENCH / "voices" / "train", BENCH / "voices_dev", BENCH / "voices_speech" / "train"]


def union_folder(folders: list[Path], dest: Path) -> Path:
    """A labelled folder ``dest/<label>/`` of links to the files of every ``folders[i]/<label>/``."""
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: no such folder (run python scripts/make_classify_data.py "
                         f"--only voices and --only speech)")
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


def validation_scores(model, folder: Path):
    """``(p_several, labels)`` of the windows of a labelled folder."""
    import torch

    from tunesmith.classify.data import load_windows, scan_labelled_folder

    files, classes = scan_labelled_folder(folder, "stem")
    ws = load_windows(files, classes, sr=model.sr, window_s=model.window_s, hop_s=model.config.get("hop_s"),
                      progress=False)
    return model.predict_proba(torch.from_numpy(ws.x), batch_size=64).numpy()[:, 1], ws.y


def summary(p, y, threshold: float = 0.5) -> dict:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    pred = p >= threshold
    yb = y.astype(bool)
    return {"accuracy": float((pred == yb).mean()), "balanced_accuracy": float(0.5 * (pred[yb].mean() + (~pred[~yb]).mean())),
            "auc": float(roc_auc_score(y, p)), "windows": int(len(y)), "several": int(np.sum(y))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA,
                    help="labelled folders (one/ and several/ inside) to train on together")
    ap.add_argument("--val", type=Path, default=BENCH / "voices_speech" / "val",
                    help="labelled folder of validation talkers: threshold calibration and the printed comparison")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "voices")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "voices.yaml")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--install", action="store_true", help="copy the result to src/tunesmith/models/voices.pt")
    ap.add_argument("--no-train", action="store_true", help="only calibrate and compare the run's classifier.pt")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from tunesmith.classify.train import load_classifier, save_classifier, train_classifier
    from tunesmith.classify.voices import VOICE_CLASSES, calibrate_threshold, fold_threshold

    if not args.val.is_dir():
        raise SystemExit(f"{args.val}: no such folder (run python scripts/make_classify_data.py --only speech)")
    if args.no_train:
        path = args.out_dir / "classifier.pt"
    else:
        data = args.data[0] if len(args.data) == 1 else union_folder(args.data, args.out_dir / "data")
        path = train_classifier(data, args.out_dir, config=args.config, max_epochs=args.epochs, resume=True)
    model = load_classifier(path, expected_classes=VOICE_CLASSES)
    p, y = validation_scores(model, args.val)
    threshold, bacc = calibrate_threshold(p, y)
    report = {"new, threshold 0.5": summary(p, y), f"new, calibrated threshold {threshold:.2f}": summary(p, y, threshold)}
    fold_threshold(model, threshold)
    extra = {**getattr(model, "extra", {}), "decision_threshold": threshold,
             "calibrated_on": f"{args.val.relative_to(ROOT) if args.val.is_relative_to(ROOT) else args.val} "
                              f"(balanced accuracy {bacc:.3f})"}
    calibrated = save_classifier(model, args.out_dir / "voices-calibrated.pt", extra=extra)
    shipped = ROOT / "src" / "tunesmith" / "models" / "voices.pt"
    if shipped.exists():
        old = load_classifier(shipped, expected_classes=VOICE_CLASSES)
        report["current src/tunesmith/models/voices.pt"] = summary(*validation_scores(old, args.val))
    text = json.dumps(report, indent=1)
    (args.out_dir / "validation.json").write_text(text + "\n")
    print(text)
    if args.install:
        shutil.copyfile(calibrated, shipped)
        print(f"wrote {shipped} ({shipped.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
