#!/usr/bin/env python
"""Classifier benchmark: voices (CNN vs GMM-MFCC), good-vs-bad representation comparison, throughput.

    apt-get install espeak-ng                       # speech lines of the voices set
    python scripts/make_classify_data.py            # bench_data/{voices,voices_dev,goodbad} (~8 min)
    python scripts/make_goodbad_dev.py --split final   # bench_data/goodbad_real (real recordings, ~10 s)
    python benchmarks/classify.py [--quick] [--retrain] [--threads N]

No extra packages are needed (scikit-learn's GaussianMixture is the baseline).

1. **Voices** -- windows (2 s, hop 1 s) of held-out *instruments and voices*
   (``bench_data/voices/test``: GM programs and espeak-ng speakers never used in
   training). The CNN is the shipped ``checkpoints/voices.pt`` (trained on
   ``bench_data/voices/train`` and ``bench_data/voices_dev``, never the test
   instruments; ``--retrain`` trains it again in this run with
   ``configs/voices.yaml``); the baseline is :class:`GMMBaseline` (16 diagonal
   components per class on 20 MFCCs + deltas, log-likelihood ratio) fitted in
   this run on the same training windows. Reports window accuracy,
   ROC-AUC, error rates and their ratio. Bar: accuracy >= 0.95 and error rate at
   most half the GMM's.
2. **Good vs bad takes** -- ``compare_features`` on ``bench_data/goodbad`` (clean
   renders vs degraded copies, grouped by source melody), 5 folds, every
   representation, wall time measured. Bar: best balanced accuracy >= 0.97 and
   the whole comparison <= 15 min on 2 CPU cores.
3. **Good vs bad on real recordings** -- ``compare_features`` on ``bench_data/goodbad_real``:
   300 real 10-s clips from ``../shared/data`` (LibriSpeech readers, FSDD talkers, a violinist and
   a singer that no development set uses), half spoiled by ``make_goodbad_dev.py``'s family of
   degradations, eight kinds of which never occur in the development sets. 5 folds, every
   representation, recall per degradation, wall time and load average. Bar: best balanced accuracy
   >= 0.92 and the whole comparison <= 15 min on 2 CPU cores.
4. **Throughput** -- windows/s of ``classify`` (torch) for the voices detector
   (2-s windows) and a default 10-s log-mel 2-D CNN, and of the exported ONNX
   voices model in onnxruntime; streaming decision latency.

The tables go to stdout and to ``benchmarks/results/classify.md``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "classify.md"
#: The good-vs-bad comparison runs ``compare_features`` with its own defaults (``compare.EPOCHS`` = 25 epochs
#: per fold, the head's input statistics, crop / frequency-shift / level augmentation). They were chosen
#: on four separately generated development sets (``make_classify_data.py --seed 7|8|9|10 --only goodbad``),
#: never on the benchmark set (seed 0); see benchmarks/results/classify.md.


def voices_benchmark(data: Path, quick: bool, retrain: bool, seed: int = 0) -> tuple[str, dict]:
    import torch
    from sklearn.metrics import roc_auc_score

    from tunesmith.classify.data import load_windows, scan_labelled_folder
    from tunesmith.classify.train import load_classifier, train_classifier
    from tunesmith.classify.voices import VOICE_CLASSES, GMMBaseline

    train_dirs = [data / "train"] + [d for d in (data.parent / "voices_dev",) if d.is_dir() and not quick]
    if retrain or not (ROOT / "checkpoints" / "voices.pt").exists():
        out = Path(tempfile.mkdtemp(prefix="voices-bench-"))
        ckpt = train_classifier(train_dirs, out, config=ROOT / "configs" / "voices.yaml",  # union of the folders
                                max_epochs=4 if quick else None, resume=False)
    else:
        ckpt = ROOT / "checkpoints" / "voices.pt"
    model = load_classifier(ckpt, expected_classes=VOICE_CLASSES)
    step = 4 if quick else 1

    def windows_of(folder):
        files, classes = scan_labelled_folder(folder, "stem")
        assert classes == VOICE_CLASSES, classes
        files = files[::step]
        return load_windows(files, classes, sr=model.sr, window_s=model.window_s,
                            hop_s=model.config.get("hop_s"), progress=False)

    parts = [windows_of(d) for d in train_dirs]
    train_x, train_y = np.concatenate([w.x for w in parts]), np.concatenate([w.y for w in parts])
    test = windows_of(data / "test")
    t0 = time.perf_counter()
    p_cnn = model.predict_proba(torch.from_numpy(test.x), batch_size=64).numpy()[:, 1]
    t_cnn = time.perf_counter() - t0
    t0 = time.perf_counter()
    gmm = GMMBaseline(model.sr, seed=seed).fit(train_x, train_y)
    t_gmm_fit = time.perf_counter() - t0
    p_gmm = gmm.predict_proba(test.x)[:, 1]
    rows, res = [], {}
    for name, p in (("CNN (log-mel, tunesmith voices)", p_cnn), ("GMM on MFCC+deltas (baseline)", p_gmm)):
        acc = float(((p > 0.5) == test.y).mean())
        auc = float(roc_auc_score(test.y, p))
        res[name] = (acc, auc)
        rows.append(f"| {name} | {acc:.3f} | {1 - acc:.3f} | {auc:.3f} |")
    (acc_c, _), (acc_g, _) = res.values()
    ratio = (1 - acc_c) / max(1 - acc_g, 1e-9)
    n_one, n_sev = int((test.y == 0).sum()), int((test.y == 1).sum())
    table = ("| detector | window accuracy | error rate | ROC-AUC |\n|---|---|---|---|\n" + "\n".join(rows) +
             f"\n\nHeld-out instruments: {len(test)} test windows ({n_one} one, {n_sev} several) from "
             f"{len(test.files)} files; {len(train_y)} training windows ({', '.join(d.name for d in train_dirs)}). CNN error / GMM error = {ratio:.2f} "
             f"(bar <= 0.5); CNN accuracy {acc_c:.3f} (bar >= 0.95). GMM fitted in {t_gmm_fit:.0f} s.\n")
    return table, {"acc": acc_c, "ratio": ratio, "cnn_seconds": t_cnn, "checkpoint": ckpt}


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _recall_table(res, tags: dict, held_out: set[str] = frozenset(), reps: int = 3) -> str:
    """Out-of-fold recall per degradation (rows) of the ``reps`` best representations (columns)."""
    top = res.ranked()[:reps]
    by_rep = {r: res.recall_by(r, tags) for r in top}
    kinds = sorted(by_rep[top[0]], key=lambda k: (k != "none", k in held_out, k))
    lines = ["| degradation | windows | " + " | ".join(f"recall, {r}" for r in top) + " |",
             "|---|---|" + "---|" * len(top)]
    for k in kinds:
        name = "none (clean take, recall of good)" if k == "none" else k + (" (held out of development)"
                                                                            if k in held_out else "")
        lines.append(f"| {name} | {by_rep[top[0]][k][1]} | " +
                     " | ".join(f"{by_rep[r][k][0]:.2f}" for r in top) + " |")
    return "\n".join(lines) + "\n"


def goodbad_benchmark(data: Path, quick: bool, seed: int = 0) -> tuple[str, dict]:
    import csv
    import os

    from tunesmith.classify.compare import compare_features

    feats = "logmel,logstft,descriptors+lr,crbm" if quick else "all"
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = compare_features(data, features=feats, folds=3 if quick else 5, seed=seed,
                           out_dir=None if quick else ROOT / "benchmarks" / "results" / "classify_goodbad")
    wall = time.perf_counter() - t0
    best = res.best()
    bacc = res.summary(best)["balanced_accuracy"][0]
    text = (res.markdown() + f"\n{res.folds} folds by source melody, {res.n_windows} windows of 10 s from "
            f"{res.n_groups} melodies; whole comparison {wall / 60:.1f} min (bar <= 15; load average "
            f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end). Best: {best} "
            f"balanced accuracy {bacc:.3f} (bar >= 0.97). Chart: benchmarks/results/classify_goodbad/compare.png "
            f"Run ended {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {torch_threads()} torch thread(s).\n")
    manifest = data / "degradations.csv"
    if manifest.exists():  # stem,program,degradations (make_classify_data.py)
        tags = {}
        with open(manifest, newline="") as fh:
            manifest_rows = list(csv.DictReader(fh))
        for row in manifest_rows:
            tags[f"bad/{row['stem']}.wav"] = row["degradations"]
            tags[f"good/{row['stem']}.wav"] = "none"
        text += "\nOut-of-fold recall per degradation (a bad copy's combination of degradations):\n\n" + \
            _recall_table(res, tags)
    if res.failed:
        text += "\nFailed: " + "; ".join(f"{k}: {v}" for k, v in res.failed.items()) + "\n"
    return text, {"best": best, "bacc": bacc, "minutes": wall / 60}


def goodbad_real_benchmark(data: Path, quick: bool, seed: int = 0) -> tuple[str, dict]:
    """Good vs bad on REAL recordings (``scripts/make_goodbad_dev.py --split final``): all representations,
    5 folds, recall per degradation, wall time and load."""
    import csv
    import os

    from tunesmith.classify.compare import compare_features

    feats = "logmel,logmel+stats,descriptors+lr" if quick else "all"
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = compare_features(data, features=feats, folds=3 if quick else 5, seed=seed,
                           out_dir=None if quick else ROOT / "benchmarks" / "results" / "classify_goodbad_real")
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    best = res.best()
    bacc = res.summary(best)["balanced_accuracy"][0]
    with open(data / "degradations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    tags = {r["file"]: r["degradation"] for r in rows}
    held = set((data / "HELD_OUT_KINDS.txt").read_text().split()) if (data / "HELD_OUT_KINDS.txt").exists() else set()
    sources = sorted({r["source"] for r in rows})
    text = (res.markdown() +
            f"\n{res.folds} folds, {res.n_windows} windows of 10 s, one clip per window ({len(rows)} clips: "
            f"{', '.join(sources)}); half are spoiled, by one degradation each. Whole comparison "
            f"{wall / 60:.1f} min (bar <= 15 on 2 cores; load average {load0:.1f} at the start, "
            f"{load1[0]:.1f} at the end, {load1[1]:.1f} over its last 5 min: other jobs shared the cores). "
            f"Best: {best} balanced accuracy {bacc:.3f} (bar >= 0.92). "
            "Chart: benchmarks/results/classify_goodbad_real/compare.png. "
            f"Run ended {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {torch_threads()} torch thread(s).\n\n"
            "Out-of-fold recall per degradation:\n\n" + _recall_table(res, tags, held))
    if res.failed:
        text += "\nFailed: " + "; ".join(f"{k}: {v}" for k, v in res.failed.items()) + "\n"
    return text, {"best": best, "bacc": bacc, "minutes": wall / 60}


def throughput_benchmark(voices_ckpt: Path, data: Path, quick: bool) -> str:
    import torch

    from tunesmith.classify.export import export_onnx
    from tunesmith.classify.model import Classifier
    from tunesmith.classify.train import load_classifier
    from tunesmith.classify.voices import stream_voices

    rng = np.random.default_rng(0)
    rows = []
    voices = load_classifier(voices_ckpt)
    ten = Classifier({"features": "logmel", "sr": 16000, "window_s": 10.0, "classes": ["a", "b"],
                      "arch": "cnn2d", "network": {"channels": [16, 32, 64]}}).eval()
    for name, model, n in (("voices CNN, 2-s windows (torch)", voices, 64 if quick else 256),
                           ("log-mel 2-D CNN, 10-s windows (torch)", ten, 16 if quick else 64)):
        x = torch.from_numpy((rng.standard_normal((n, int(model.window_s * model.sr))) * 0.1).astype(np.float32))
        model.predict_proba(x[:4])
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            model.predict_proba(x, batch_size=32)
            times.append(time.perf_counter() - t0)
        wps = n / float(np.median(times))
        rows.append(f"| {name} | {wps:.1f} | {wps * model.window_s:.0f}x |")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(voices, Path(tmp) / "v.onnx")
        n = 64 if quick else 256
        x = (rng.standard_normal((n, int(voices.window_s * voices.sr))) * 0.1).astype(np.float32)
        import onnxruntime as ort

        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        sess.run(None, {"audio": x[:4]})
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, n, 32):
                sess.run(None, {"audio": x[i:i + 32]})
            times.append(time.perf_counter() - t0)
        wps = n / float(np.median(times))
        rows.append(f"| voices, exported ONNX (onnxruntime) | {wps:.1f} | "
                    f"{wps * voices.window_s:.0f}x |")
        size_kb = onnx_path.stat().st_size / 1024
    test_file = sorted((data / "test" / "several").glob("*.wav"))[0]
    lat = [d.latency_s for d in stream_voices(test_file, voices, follow=False)]
    return ("| model | windows/s | real-time factor |\n|---|---|---|\n" + "\n".join(rows) +
            f"\n\nStreaming (`voices --stream`): {len(lat)} decisions on a {len(lat)}-s file, latency median "
            f"{np.median(lat) * 1000:.1f} ms, max {np.max(lat) * 1000:.1f} ms after each 1-s block arrives. "
            f"ONNX file {size_kb:.0f} KB; checkpoint {voices_ckpt.stat().st_size / 1024:.0f} KB.\n")


def _merge_sections(path: Path, parts: list[str]) -> str:
    """Parts of this run replace same-titled sections of an earlier results file (``--skip`` runs)."""
    def sections(text):
        out = {}
        for chunk in ("\n" + text).split("\n## ")[1:]:
            title = chunk.split("\n", 1)[0]
            out[title] = "## " + chunk.strip() + "\n"
        return out

    old = sections(path.read_text()) if path.exists() else {}
    new = sections("\n".join(p for p in parts[1:] if p.startswith("## ")))
    merged = {**old, **new}
    order = ["One voice or several (held-out instruments)", "Good vs bad takes: which representation?",
             "Good vs bad takes on real recordings", "Throughput (CPU)"]
    body = "\n".join(merged[t] for t in sorted(merged, key=lambda t: order.index(t) if t in order else 99))
    return parts[0] + "\n" + body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="classifier benchmark")
    ap.add_argument("--quick", action="store_true", help="subsets, fewer representations and folds")
    ap.add_argument("--retrain", action="store_true", help="train the voices CNN in this run")
    ap.add_argument("--data", default=str(ROOT / "bench_data"))
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: voices,goodbad,goodbad-real,throughput")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    skip = set(filter(None, args.skip.split(",")))
    needed = [] if "voices" in skip else ["voices/train", "voices/test"]
    needed += [] if "goodbad" in skip else ["goodbad"]
    for sub in needed:
        if not (data / sub).is_dir():
            print(f"missing {data / sub}: run python scripts/make_classify_data.py first", file=sys.stderr)
            return 1
    if "goodbad-real" not in skip and not (data / "goodbad_real").is_dir():
        print(f"missing {data / 'goodbad_real'}: run python scripts/make_goodbad_dev.py --split final first "
              "(it needs the real recordings in ../shared/data)", file=sys.stderr)
        return 1
    cmd = "python benchmarks/classify.py" + (" --quick" if args.quick else "") + (" --retrain" if args.retrain else "") \
        + (f" --threads {args.threads}" if args.threads else "") + (f" --skip {args.skip}" if args.skip else "")
    parts = [f"# Classifier benchmark\n\nCommand: `{cmd}` (data: `python scripts/make_classify_data.py`). "
             f"Machine: 2-core shared CPU VM ({cpu_name()}), torch "
             f"{torch.__version__}, {torch.get_num_threads()} threads; other jobs were running, so timings are noisy.\n"]
    t_start = time.perf_counter()
    voices_ckpt = ROOT / "checkpoints" / "voices.pt"
    if "voices" not in skip:
        table, info = voices_benchmark(data / "voices", args.quick, args.retrain)
        voices_ckpt = Path(info["checkpoint"])
        parts.append("## One voice or several (held-out instruments)\n\n" + table)
        print(parts[-1], flush=True)
    if "goodbad" not in skip:
        table, info = goodbad_benchmark(data / "goodbad", args.quick)
        parts.append("## Good vs bad takes: which representation?\n\n" + table)
        print(parts[-1], flush=True)
    if "goodbad-real" not in skip:
        table, info = goodbad_real_benchmark(data / "goodbad_real", args.quick)
        parts.append("## Good vs bad takes on real recordings\n\n" + table)
        print(parts[-1], flush=True)
    if "throughput" not in skip and voices_ckpt.exists():
        parts.append("## Throughput (CPU)\n\n" + throughput_benchmark(voices_ckpt, data / "voices", args.quick))
        print(parts[-1], flush=True)
    print(f"total benchmark time {(time.perf_counter() - t_start) / 60:.1f} min", file=sys.stderr)
    if not args.quick:
        from tunesmith.io import atomic_write_text

        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(RESULTS, _merge_sections(RESULTS, parts))
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
