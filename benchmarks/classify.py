#!/usr/bin/env python
"""Classifier benchmark: voices (CNN vs GMM-MFCC), good-vs-bad representation comparison, throughput.

    apt-get install espeak-ng                       # speech lines of the voices set
    python scripts/make_classify_data.py            # bench_data/{voices,voices_dev,goodbad} (~8 min)
    python scripts/make_classify_data.py --only speech   # bench_data/voices_speech (real talkers, ~2 min)
    python scripts/make_goodbad_dev.py --split final   # bench_data/goodbad_real (real recordings, ~10 s)
    python benchmarks/classify.py [--quick] [--retrain] [--threads N]

No extra packages are needed (scikit-learn's GaussianMixture is the baseline).

1. **Voices** -- windows (2 s, hop 1 s) of held-out *instruments and voices*
   (``bench_data/voices/test``: GM programs and espeak-ng speakers never used in
   training). The CNN is the shipped ``src/tunesmith/models/voices.pt`` (trained on
   ``bench_data/voices/train``, ``bench_data/voices_dev`` and the real-talker mixtures
   ``bench_data/voices_speech/train``, never the test instruments or talkers;
   ``--retrain`` trains it again in this run with ``configs/voices.yaml``); the
   baseline is :class:`GMMBaseline` (16 diagonal components per class on 20 MFCCs +
   deltas, log-likelihood ratio) fitted in this run on the same training windows.
   Reports window accuracy, ROC-AUC, error rates and their ratio. Bar: accuracy >= 0.95.
1b. **Real talkers never heard** -- the TEST talkers of
   :func:`tunesmith.classify.mixing.split_talkers` (LibriSpeech readers and one FSDD
   talker from ``../shared/data/speech``), mixed in this run: 2-s windows of the
   training recipe, 8-s files (one talker vs two or three at once; the file's decision),
   and meeting-like scenes (turn-taking, short overlaps, back-channels, reverberant far
   field, noise; window labels from the exact overlap). CNN beside the same GMM.
   Skipped with a message when ``../shared/data`` is absent.
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
   voices model in onnxruntime; streaming decision latency; latency per decision
   (batch 1) in torch and ONNX, and the export's parity on real speech. Bar: <= 50 ms.

The tables go to stdout; sections 1, 1b and 4 to ``benchmarks/results/classify_voices.md``,
sections 2 and 3 to ``benchmarks/results/classify.md``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "classify.md"
#: The one-voice-or-several sections (instruments, real talkers, throughput) go to their own file.
RESULTS_VOICES = ROOT / "benchmarks" / "results" / "classify_voices.md"
SHIPPED_VOICES = ROOT / "src" / "tunesmith" / "models" / "voices.pt"
VOICES_SECTIONS = ("One voice or several (held-out instruments)", "One voice or several: real talkers never heard",
                   "Throughput (CPU)")
#: The good-vs-bad comparison runs ``compare_features`` with its own defaults (``compare.EPOCHS`` = 25 epochs
#: per fold, the head's input statistics, crop / frequency-shift / level augmentation). They were chosen
#: on four separately generated development sets (``make_classify_data.py --seed 7|8|9|10 --only goodbad``),
#: never on the benchmark set (seed 0); see benchmarks/results/classify.md.


def voices_benchmark(data: Path, quick: bool, retrain: bool, seed: int = 0,
                     checkpoint: Path | None = None) -> tuple[str, dict]:
    import torch
    from sklearn.metrics import roc_auc_score

    from tunesmith.classify.data import load_windows, scan_labelled_folder
    from tunesmith.classify.train import load_classifier, train_classifier
    from tunesmith.classify.voices import VOICE_CLASSES, GMMBaseline

    train_dirs = [data / "train"] + [d for d in (data.parent / "voices_dev", data.parent / "voices_speech" / "train")
                                     if d.is_dir() and not quick]
    if retrain or not SHIPPED_VOICES.exists():
        out = Path(tempfile.mkdtemp(prefix="voices-bench-"))
        ckpt = train_classifier(train_dirs, out, config=ROOT / "configs" / "voices.yaml",  # union of the folders
                                max_epochs=4 if quick else None, resume=False)
    else:
        ckpt = checkpoint or SHIPPED_VOICES
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
        acc = float(((p >= 0.5) == test.y).mean())
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
    return table, {"acc": acc_c, "ratio": ratio, "cnn_seconds": t_cnn, "checkpoint": ckpt, "gmm": gmm,
                   "train_dirs": train_dirs}


#: Real-speech test material, all from the TEST talkers of ``mixing.split_talkers`` (seed 0), mixed in this run.
SPEECH_WINDOWS_PER_LABEL = 500
SPEECH_FILES_PER_CLASS = 40
MEETINGS = 16
MEETING_S = 20.0
SPEECH_SEED_OFFSET = 16


def _speech_root() -> Path | None:
    root = ROOT.parent / "shared" / "data" / "speech"
    return root if root.is_dir() else None


def _scores(y: np.ndarray, p: np.ndarray) -> dict:
    """Accuracy and balanced accuracy of ``p >= 0.5`` (the detector's own decision), ROC-AUC, recall per class."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(bool)
    pred = np.asarray(p) >= 0.5
    rec1, rec0 = float(pred[y].mean()), float((~pred[~y]).mean())
    return {"n": int(len(y)), "several": int(y.sum()), "acc": float((pred == y).mean()),
            "bacc": 0.5 * (rec1 + rec0), "auc": float(roc_auc_score(y, p)), "rec_several": rec1, "rec_one": rec0,
            "one_as_several": int((pred & ~y).sum()), "several_as_one": int((~pred & y).sum())}


def speech_benchmark(ckpt: Path, quick: bool, gmm=None, train_dirs=None, seed: int = 0) -> tuple[str, dict]:
    """Held-out REAL talkers: 2-s windows, 8-s files and meeting-like scenes; CNN beside the GMM."""
    import torch

    from tunesmith.classify import mixing
    from tunesmith.classify.data import load_windows, scan_labelled_folder
    from tunesmith.classify.train import load_classifier
    from tunesmith.classify.voices import VOICE_CLASSES, GMMBaseline

    root = _speech_root()
    if root is None:
        return "Skipped: ../shared/data/speech is absent.\n", {}
    model = load_classifier(ckpt, expected_classes=VOICE_CLASSES)
    split = mixing.split_talkers(mixing.list_talkers(root), seed=0)
    test_audio = {t.name: mixing.talker_audio(t, model.sr) for t in split["test"]}
    if gmm is None:  # the voices section was skipped: fit the baseline here on the same training windows
        train_dirs = [d for d in (ROOT / "bench_data" / "voices" / "train", ROOT / "bench_data" / "voices_dev",
                                  ROOT / "bench_data" / "voices_speech" / "train") if d.is_dir()]
        parts = []
        for d in train_dirs:
            files, classes = scan_labelled_folder(d, "stem")
            parts.append(load_windows(files[::4 if quick else 1], classes, sr=model.sr, window_s=model.window_s,
                                      hop_s=model.config.get("hop_s"), progress=False))
        gmm = GMMBaseline(model.sr, seed=seed).fit(np.concatenate([w.x for w in parts]),
                                                   np.concatenate([w.y for w in parts]))
    scale = 5 if quick else 1

    def detect(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"CNN": model.predict_proba(torch.from_numpy(x), batch_size=64).numpy()[:, 1],
                "GMM": gmm.predict_proba(x)[:, 1]}

    # (a) 2-s windows from the training recipe, test talkers
    rng = np.random.default_rng([seed, SPEECH_SEED_OFFSET, 0])
    mixer = mixing.SpeechMixer(test_audio, seconds=model.window_s, sr=model.sr)
    clips = list(mixing.balanced_clips(mixer, rng, SPEECH_WINDOWS_PER_LABEL // scale))
    xa, ya = np.stack([c.audio for c in clips]), np.array([c.label for c in clips])
    results = {"windows": (ya, detect(xa))}

    # (b) 8-s files: one talker vs two or three at once; the file's decision is the mean window probability
    from tunesmith.audio import Audio, windows

    rng = np.random.default_rng([seed, SPEECH_SEED_OFFSET, 1])
    files, yb = [], []
    for i in range(2 * SPEECH_FILES_PER_CLASS // scale):
        k = 1 if i % 2 == 0 else int(rng.choice([2, 3]))
        files.append(mixing.file_scene(test_audio, rng, k, sr=model.sr)[0])
        yb.append(int(k > 1))
    wins = [windows(Audio(f, model.sr), model.window_s, model.config.get("hop_s")).samples for f in files]
    per_win = detect(np.concatenate(wins))
    bounds = np.cumsum([0] + [len(w) for w in wins])
    results["files"] = (np.array(yb), {k: np.array([v[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])])
                                       for k, v in per_win.items()})

    # (c) meeting-like scenes: turn-taking with short overlaps, back-channels, reverberant far field, noise
    rng = np.random.default_rng([seed, SPEECH_SEED_OFFSET, 2])
    xs, ys = [], []
    for _ in range(max(2, MEETINGS // scale)):
        audio, acts, _ = mixing.meeting_scene(test_audio, rng, seconds=MEETING_S, sr=model.sr)
        lab, _ = mixing.window_labels(acts, len(audio), window_s=model.window_s,
                                      hop_s=model.config.get("hop_s") or model.window_s, sr=model.sr)
        xs.append(windows(Audio(audio, model.sr), model.window_s, model.config.get("hop_s")).samples)
        ys.append(lab)
    xc, yc = np.concatenate(xs), np.concatenate(ys)
    results["meetings"] = (yc, detect(xc))

    names = {"windows": "2-s windows (training recipe)", "files": "8-s files, 1 vs 2-3 at once (file decision)",
             "meetings": f"meeting-like scenes, 2-s windows every {model.config.get('hop_s')} s"}
    shipped = Path(ckpt).resolve() == (SHIPPED_VOICES).resolve()
    cnn_name = "CNN (shipped voices)" if shipped else f"CNN ({Path(ckpt).name}, not shipped)"
    rows, out = [], {}
    for cond, (y, ps) in results.items():
        for det, p in ps.items():
            r = _scores(y, p)
            out[(cond, det)] = r
            rows.append(f"| {names[cond]} | {cnn_name if det == 'CNN' else 'GMM-MFCC baseline'} | "
                        f"{r['n']} ({r['several']} several) | {r['acc']:.3f} | {r['bacc']:.3f} | {r['auc']:.3f} | "
                        f"{r['rec_several']:.3f} | {r['one_as_several']} / {r['several_as_one']} |")
    n_test = len(split["test"])
    table = ("| condition | detector | items | accuracy | balanced accuracy | ROC-AUC | recall several | "
             "errors one→several / several→one |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) +
             f"\n\nHeld-out talkers: the {n_test} TEST talkers of `mixing.split_talkers` (seed 0; "
             f"{', '.join(sorted({t.corpus for t in split['test']}))}; {sum(t.sex == 'F' for t in split['test'])} "
             f"women), never in training or validation; mixed in this run (seeds [{seed}, {SPEECH_SEED_OFFSET}, 0-2]). "
             f"Training used {len(split['train'])} other talkers, threshold calibration {len(split['val'])} more. "
             f"The 2-s windows share the training generator (recipe, rooms, noises); the 8-s files and the meeting "
             f"scenes are arranged differently (whole-file overlap; turn-taking, back-channels, far field) but use "
             f"the same RIR and noise models. Decisions at p >= 0.5 (the CNN's calibrated threshold is folded "
             f"into it: {model.config.get('decision_threshold', 'none')}). GMM: fitted on the CNN's training "
             f"windows ({', '.join(str(d.relative_to(ROOT)) for d in (train_dirs or []))}).\n")
    return table, out


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


def _timed_compare(data: Path, quick_features: str, quick: bool, seed: int, results_name: str,
                   features: str = "all"):
    """``compare_features`` on ``data`` (``features``, every representation by default, 5 folds;
    ``quick_features`` and 3 folds with --quick), timed, with the load average before and after: ``(result, wall s, load before, (1, 5, 15-min
    load after), best representation, its balanced accuracy)``. Charts go to benchmarks/results/<results_name>."""
    import os

    from tunesmith.classify.compare import compare_features

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = compare_features(data, features=quick_features if quick else features, folds=3 if quick else 5, seed=seed,
                           out_dir=None if quick else ROOT / "benchmarks" / "results" / results_name)
    wall = time.perf_counter() - t0
    best = res.best()
    return res, wall, load0, os.getloadavg(), best, res.summary(best)["balanced_accuracy"][0]


def goodbad_benchmark(data: Path, quick: bool, seed: int = 0) -> tuple[str, dict]:
    import csv

    res, wall, load0, load1, best, bacc = _timed_compare(data, "logmel,logstft,descriptors+lr,crbm", quick, seed,
                                                     "classify_goodbad")
    text = (res.markdown() + f"\n{res.folds} folds by source melody, {res.n_windows} windows of 10 s from "
            f"{res.n_groups} melodies; whole comparison {wall / 60:.1f} min (bar <= 15; load average "
            f"{load0:.1f} at the start, {load1[0]:.1f} at the end). Best: {best} "
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


#: What the fault detector behind ``qualitynet+lr`` shares with the good-vs-bad sets (scripts/train_default_quality.py).
QUALITYNET_NOTE = ("`qualitynet+lr` and `qualitynet+ft` use the shipped fault detector (`src/tunesmith/models/quality.pt`, "
                   "`python scripts/train_default_quality.py`: two members, `+ft` fine-tunes both and averages, `+lr` "
                   "fits one regression per member and averages them), pretrained on clean recordings of the DEVELOPMENT side "
                   "only (three quarters of the LibriSpeech readers, four FSDD talkers, one violinist, FluidSynth "
                   "renders), spoiled by `tunesmith.classify.degrade`'s eleven fault families: it shares no talker, "
                   "player or singer with the final set, and its families were written apart from this set's "
                   "generator (`scripts/make_goodbad_dev.py`), though several carry the same names (noise, reverb, "
                   "clipping, band limits, dropouts, wow, flutter, level steps, splices, codec, tones). The "
                   "development sets are made from the same clean recordings it trained on.")


def goodbad_real_benchmark(data: Path, quick: bool, seed: int = 0, features: str = "all") -> tuple[str, dict]:
    """Good vs bad on REAL recordings (``scripts/make_goodbad_dev.py --split final``): all representations,
    5 folds, recall per degradation, wall time and load."""
    import csv

    res, wall, load0, load1, best, bacc = _timed_compare(data, "logmel,logmel+stats,descriptors+lr", quick, seed,
                                                         "classify_goodbad_real", features)
    with open(data / "degradations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    tags = {r["file"]: r["degradation"] for r in rows}
    held = set((data / "HELD_OUT_KINDS.txt").read_text().split()) if (data / "HELD_OUT_KINDS.txt").exists() else set()
    sources = sorted({r["source"] for r in rows})
    text = (res.markdown() +
            f"\n{res.folds} folds, {res.n_windows} windows of 10 s, one clip per window ({len(rows)} clips: "
            f"{', '.join(sources)}); half are spoiled, by one degradation each. "
            + ("Whole comparison " if features == "all" else
               f"Comparison of {len(res.scores)} representations only (--goodbad-features; the bar's time is for all) ")
            + f"{wall / 60:.1f} min (bar <= 15 on 2 cores; load average {load0:.1f} at the start, "
            f"{load1[0]:.1f} at the end, {load1[1]:.1f} over its last 5 min: other jobs shared the cores). "
            f"Best: {best} balanced accuracy {bacc:.3f} (bar >= 0.92). "
            "Chart: benchmarks/results/classify_goodbad_real/compare.png. "
            f"Run ended {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {torch_threads()} torch thread(s).\n\n"
            + QUALITYNET_NOTE + "\n\nOut-of-fold recall per degradation:\n\n" + _recall_table(res, tags, held))
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

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        sess.run(None, {"audio": x[:4]})
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, n, 32):
                sess.run(None, {"audio": x[i:i + 32]})
            times.append(time.perf_counter() - t0)
        wps = n / float(np.median(times))
        rows.append(f"| voices, exported ONNX (onnxruntime, 1 thread) | {wps:.1f} | "
                    f"{wps * voices.window_s:.0f}x |")
        size_kb = onnx_path.stat().st_size / 1024
        # one decision = one window, batch 1: the streaming case, torch and ONNX side by side
        lat_t, lat_o = [], []
        with torch.no_grad():
            for i in range(min(n, 64)):
                t0 = time.perf_counter()
                voices(torch.from_numpy(x[i:i + 1]))
                lat_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                sess.run(None, {"audio": x[i:i + 1]})
                lat_o.append(time.perf_counter() - t0)
        speech = sorted((ROOT / "bench_data" / "voices_speech" / "val").glob("*/*.wav"))[:64]
        real = x[:64]
        if speech:
            from tunesmith.audio import load

            real = np.stack([load(f, sr=voices.sr).samples[:x.shape[1]] for f in speech]).astype(np.float32)
        p_t = voices.predict_proba(torch.from_numpy(real)).numpy()
        p_o = sess.run(None, {"audio": real})[0]
        parity = float(np.abs(p_t - p_o).max())
        agree = float((p_t.argmax(1) == p_o.argmax(1)).mean())
    latency = (f"Per decision (one 2-s window, batch 1, {torch.get_num_threads()} torch thread(s), ONNX 1 thread): "
               f"torch median {np.median(lat_t) * 1000:.1f} ms (max {np.max(lat_t) * 1000:.1f}), ONNX median "
               f"{np.median(lat_o) * 1000:.1f} ms (max {np.max(lat_o) * 1000:.1f}); bar <= 50 ms. ONNX parity on "
               f"{len(real)} {'validation-talker speech windows' if speech else 'noise windows'}: max |p_torch - p_onnx| "
               f"{parity:.1e}, same decision on {agree:.3f} of them. Ratio torch / ONNX per decision "
               f"{np.median(lat_t) / np.median(lat_o):.2f}.\n")
    test_file = sorted((data / "test" / "several").glob("*.wav"))[0]
    lat = [d.latency_s for d in stream_voices(test_file, voices, follow=False)]
    return ("| model | windows/s | real-time factor |\n|---|---|---|\n" + "\n".join(rows) +
            f"\n\nStreaming (`voices --stream`): {len(lat)} decisions on a {len(lat)}-s file, latency median "
            f"{np.median(lat) * 1000:.1f} ms, max {np.max(lat) * 1000:.1f} ms after each 1-s block arrives. "
            f"ONNX file {size_kb:.0f} KB; checkpoint {voices_ckpt.stat().st_size / 1024:.0f} KB.\n\n" + latency)


def _run_line(args) -> str:
    """Command, threads, time and load of this run, for a section's footer."""
    import os
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"\nThis run: `python benchmarks/classify.py{' --quick' if args.quick else ''}"
            f"{' --skip ' + args.skip if args.skip else ''}{f' --threads {args.threads}' if args.threads else ''}"
            f"{f' --checkpoint {args.checkpoint}' if args.checkpoint else ''}"
            f"{f' --results {args.results}' if args.results else ''}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {torch.get_num_threads()} torch thread(s), "
            f"load average {load:.2f} (other jobs share the 2 cores).\n")


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
    order = ["One voice or several (held-out instruments)", "One voice or several: real talkers never heard",
             "Good vs bad takes: which representation?", "Good vs bad takes on real recordings",
             "Throughput (CPU)"]
    body = "\n".join(merged[t] for t in sorted(merged, key=lambda t: order.index(t) if t in order else 99))
    return parts[0] + "\n" + body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="classifier benchmark")
    ap.add_argument("--quick", action="store_true", help="subsets, fewer representations and folds")
    ap.add_argument("--retrain", action="store_true", help="train the voices CNN in this run")
    ap.add_argument("--data", default=str(ROOT / "bench_data"))
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="voices detector to measure instead of the shipped src/tunesmith/models/voices.pt (e.g. another training seed)")
    ap.add_argument("--results", type=Path, default=None,
                    help="file for the voices sections (default benchmarks/results/classify_voices.md)")
    ap.add_argument("--goodbad-features", default="all",
                    help="representations of the real-recordings good-vs-bad comparison (default all)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: voices,speech,goodbad,goodbad-real,throughput")
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
        + (f" --skip {args.skip}" if args.skip else "") \
        + (f" --goodbad-features {args.goodbad_features}" if args.goodbad_features != "all" else "") + (f" --threads {args.threads}" if args.threads else "") \
        + (f" --checkpoint {args.checkpoint}" if args.checkpoint else "") + (f" --results {args.results}" if args.results else "")
    parts = [f"# Classifier benchmark\n\nCommand: `{cmd}` (data: `python scripts/make_classify_data.py`). "
             f"Machine: 2-core shared CPU VM ({cpu_name()}), torch "
             f"{torch.__version__}, {torch.get_num_threads()} threads; other jobs were running, so timings are noisy.\n"]
    t_start = time.perf_counter()
    voices_ckpt = args.checkpoint or SHIPPED_VOICES
    if "voices" not in skip:
        table, info = voices_benchmark(data / "voices", args.quick, args.retrain, checkpoint=args.checkpoint)
        voices_ckpt = Path(info["checkpoint"])
        parts.append("## One voice or several (held-out instruments)\n\n" + table + _run_line(args))
        print(parts[-1], flush=True)
    else:
        info = {}
    if "speech" not in skip:
        table, _ = speech_benchmark(voices_ckpt, args.quick, info.get("gmm"), info.get("train_dirs"))
        parts.append("## One voice or several: real talkers never heard\n\n" + table + _run_line(args))
        print(parts[-1], flush=True)
    if "goodbad" not in skip:
        table, info = goodbad_benchmark(data / "goodbad", args.quick)
        parts.append("## Good vs bad takes: which representation?\n\n" + table)
        print(parts[-1], flush=True)
    if "goodbad-real" not in skip:
        table, info = goodbad_real_benchmark(data / "goodbad_real", args.quick, features=args.goodbad_features)
        parts.append("## Good vs bad takes on real recordings\n\n" + table)
        print(parts[-1], flush=True)
    if "throughput" not in skip and voices_ckpt.exists():
        parts.append("## Throughput (CPU)\n\n" + throughput_benchmark(voices_ckpt, data / "voices", args.quick)
                     + _run_line(args))
        print(parts[-1], flush=True)
    print(f"total benchmark time {(time.perf_counter() - t_start) / 60:.1f} min", file=sys.stderr)
    if not args.quick:
        from tunesmith.io import atomic_write_text

        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        head, body = parts[0], parts[1:]
        for path, mine in ((args.results or RESULTS_VOICES, True), (RESULTS, False)):
            chosen = [p for p in body if any(p.startswith(f"## {t}\n") for t in VOICES_SECTIONS) == mine]
            if chosen:
                title = "# Classifier benchmark: one voice or several\n" if mine else None
                top = head if title is None else head.replace("# Classifier benchmark\n", title, 1)
                atomic_write_text(path, _merge_sections(path, [top, *chosen]))
                print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
