"""Verbs ``classify``, ``compare-features``, ``voices``, ``export``, ``train classifier`` and ``train quality``.

Thin wrappers over :mod:`tunesmith.classify`; nothing heavy is imported at module level.
"""
from __future__ import annotations

import sys

from tunesmith.cli.common import add_output, add_train_flags

from tunesmith.features.registry import ALL_REPRESENTATIONS, FEATURE_KINDS  # torch-free

COMPARE_EPOCHS = 25  # tunesmith.classify.compare.EPOCHS


def register(sub) -> None:
    p = sub.add_parser("classify", help="class probabilities per window and per file with a trained classifier",
                       description="Cut each file into the model's windows and print/write class probabilities "
                                   "per window and per file (the file's is the mean over its windows).")
    p.add_argument("audio", nargs="+", help="audio files or folders (searched recursively)")
    p.add_argument("--checkpoint", required=True, help="classifier.pt from `tunesmith train classifier`")
    p.add_argument("--hop-s", type=float, default=None, help="seconds between windows (default: the window length)")
    p.add_argument("-o", "--output", default="classify.csv", help="CSV of per-file and per-window probabilities")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file lines, only the CSV")
    p.set_defaults(func=run_classify)

    p = sub.add_parser("compare-features", help="which representation is best for my labelled folder? (k-fold)",
                       description="Train the same classifier on each representation with k-fold cross-validation "
                                   "split by source file; write a table (Markdown + CSV) and a bar chart.")
    p.add_argument("--data", required=True, nargs="+",
                   help="folder(s) whose sub-folders are the labels (several: the union of their labels)")
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--features", default="all",
                   help=f"comma-separated list or 'all' ({', '.join(ALL_REPRESENTATIONS)})")
    p.add_argument("--seed", type=int, default=0, help="seed for folds and training (same seed, same table)")
    p.add_argument("--arch", choices=("cnn1d", "cnn2d"), default="cnn1d",
                   help="classifier on the spectral representations (cnn1d is fast enough for k-fold on a CPU)")
    p.add_argument("--epochs", type=int, default=COMPARE_EPOCHS,
                   help=f"training epochs per fold (default {COMPARE_EPOCHS})")
    p.add_argument("--no-augment", action="store_true",
                   help="train without random crops, frequency shifts and level changes, and without the "
                        "head's input statistics (the plain recipe)")
    p.add_argument("--window-s", type=float, default=10.0, help="window length in seconds")
    p.add_argument("--sr", type=int, default=16000, help="sample rate the audio is resampled to")
    p.add_argument("--group-by", choices=("stem", "file", "prefix"), default="stem",
                   help="what counts as one source: file name without extension (good/x.wav and bad/x.wav "
                        "together), the file, or the name part before '__'")
    add_output(p, default="compare_features", help="folder for compare.md/.csv/.png")
    p.set_defaults(func=run_compare)

    p = sub.add_parser("voices", help="one voice/instrument or several at once? per window, per file, or live",
                       description="Probability that several voices or instruments sound at once, per window and "
                                   "per file, with the shipped detector (or --checkpoint). With --stream, decide "
                                   "every second on audio as it arrives (a growing file, or '-' for stdin).")
    p.add_argument("audio", nargs="*", help="audio files or folders")
    p.add_argument("--checkpoint", default=None, help="detector checkpoint (default: the shipped voices model, tunesmith.models)")
    p.add_argument("--hop-s", type=float, default=None,
                   help="seconds between windows (default: the model's, 1 s for the shipped detector)")
    p.add_argument("-o", "--output", default=None, help="CSV of per-file and per-window probabilities")
    p.add_argument("--stream", metavar="SOURCE", default=None,
                   help="live mode: a WAV/raw file that is still being written, or '-' for standard input")
    p.add_argument("--decide-every-s", type=float, default=1.0, help="live mode: seconds between decisions")
    p.add_argument("--rate", type=int, default=16000, help="live mode: sample rate of raw 16-bit PCM input")
    p.add_argument("--channels", type=int, default=1, help="live mode: channels of raw 16-bit PCM input")
    p.add_argument("--idle-timeout-s", type=float, default=2.0,
                   help="live mode: stop when a file has not grown for this long")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file lines")
    p.set_defaults(func=run_voices)

    p = sub.add_parser("export", help="export a classifier (default: the voices detector) to ONNX",
                       description="Write an ONNX model mapping raw audio windows (batch, samples) to class "
                                   "probabilities; the STFT runs as a convolution so browsers and phones can run it. "
                                   "The output is checked against torch with onnxruntime.")
    p.add_argument("--checkpoint", default=None, help="classifier checkpoint (default: the shipped voices model, tunesmith.models)")
    p.add_argument("-o", "--output", default="voices.onnx", help="ONNX file to write")
    p.set_defaults(func=run_export)


def register_train(train_sub) -> None:
    p = train_sub.add_parser("classifier", help="window classifier on a folder of labelled sub-folders",
                             description="Train a small CNN on windows of a folder whose sub-folders are the labels.")
    p.add_argument("--data", required=True, nargs="+",
                   help="folder(s) whose sub-folders are the labels (several: the union of their labels)")
    add_train_flags(p, default_out="runs/classifier", auto_resume=True, example="training.lr=0.001 window_s=2",
                    out_help="checkpoints, config, log and curves go here",
                    config_help="YAML config (default: the built-in settings, the same values as "
                                "configs/classifier.yaml)")
    p.add_argument("--features", choices=FEATURE_KINDS, default=None, help="representation (default from config: logmel)")
    p.add_argument("--arch", choices=("cnn2d", "cnn1d"), default=None, help="network (default from config: cnn2d)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--fast-dev-run", action="store_true", help="one batch of training and validation (smoke test)")
    p.set_defaults(func=run_train)

    p = train_sub.add_parser("quality", help="the fault detector (qualitynet) on your own clean recordings",
                             description="Train or fine-tune the fault detector of compare-features' qualitynet+lr "
                                         "on folders of clean recordings; faults are added on the fly "
                                         "(classify.degrade). Each DIR is one kind with an equal share; one file "
                                         "in ten of each is held out for validation. Writes OUT_DIR/quality.pt.")
    p.add_argument("--clean", required=True, nargs="+", metavar="DIR",
                   help="folders of clean recordings (searched recursively; each folder gets an equal share)")
    add_train_flags(p, default_out="runs/quality", limit="steps", example="crop_s=2 lr=0.001 batch_size=16",
                    out_help="run folder: quality.pt, best.ckpt, last.ckpt, metrics.csv, training curves",
                    config_help="YAML config (default: the built-in settings, the same values as "
                                "configs/quality.yaml)")
    p.add_argument("--minutes", type=float, default=None, metavar="M",
                   help="wall-clock budget in minutes (overrides the config's max_minutes)")
    p.add_argument("--init", default=None, metavar="shipped|PATH",
                   help="fine-tune: start from the shipped detector ('shipped': the first of its members) or this quality.pt")
    p.add_argument("--fast-dev-run", action="store_true", help="one batch of training and validation (smoke test)")
    p.set_defaults(func=run_train_quality)


def _data_folders(data: list[str]):
    """One ``--data`` folder as itself, several as a list (the library takes the union of their labels)."""
    return data[0] if len(data) == 1 else list(data)


def _print_results(results, quiet: bool) -> None:
    if quiet:
        return
    for r in results:
        probs = ", ".join(f"{c}={p:.3f}" for c, p in zip(r.classes, r.file_probs))
        print(f"{r.path}: {r.label} ({probs}; {len(r.starts)} windows)")


def run_classify(args) -> int:
    from tunesmith.classify.train import classify_files, load_classifier
    from tunesmith.cli.common import print_settings

    model = load_classifier(args.checkpoint)
    print_settings("classify", {"classes": "/".join(model.classes), "features": model.config["features"],
                                "window_s": model.window_s, "hop_s": args.hop_s or model.window_s, "sr": model.sr})
    results, batch = classify_files(args.audio, model, hop_s=args.hop_s, csv_path=args.output)
    _print_results(results, args.quiet)
    if results:
        print(f"tunesmith: {batch.windows} windows at {batch.throughput:.1f} windows/s; wrote {args.output}",
              file=sys.stderr)
    return batch.exit_code


def run_compare(args) -> int:
    from pathlib import Path

    from tunesmith.classify.compare import compare_features
    from tunesmith.cli.common import print_settings

    print_settings("compare-features", {"folds": args.folds, "features": args.features, "seed": args.seed,
                                        "arch": args.arch, "epochs": args.epochs, "window_s": args.window_s,
                                        "sr": args.sr, "group_by": args.group_by, "augment": not args.no_augment})
    res = compare_features(_data_folders(args.data), features=args.features, folds=args.folds, seed=args.seed, arch=args.arch,
                           epochs=args.epochs, sr=args.sr, window_s=args.window_s, group_by=args.group_by,
                           out_dir=args.out_dir, augment=not args.no_augment)
    print(res.markdown())
    out = Path(args.out_dir)
    print(f"tunesmith: best: {res.best()}; wrote {out / 'compare.md'}, {out / 'compare.csv'}, {out / 'compare.png'}",
          file=sys.stderr)
    return 1 if res.failed else 0


def run_voices(args) -> int:
    from tunesmith.classify.voices import detect_voices, load_voices_model, stream_voices
    from tunesmith.errors import TunesmithError

    model = load_voices_model(args.checkpoint)
    if args.stream is not None:
        if args.audio:
            raise TunesmithError("give either files or --stream SOURCE, not both")
        import numpy as np

        lat = []
        print(f"tunesmith: listening to {args.stream} (window {model.window_s:g} s, a decision every "
              f"{args.decide_every_s:g} s)", file=sys.stderr)
        for d in stream_voices(args.stream, model, decide_every_s=args.decide_every_s, sr=args.rate,
                               channels=args.channels, idle_timeout_s=args.idle_timeout_s):
            lat.append(d.latency_s)
            print(f"{d.time_s:8.2f}s  {d.label:<8} p_several={d.p_several:.3f}  latency {d.latency_s * 1000:.1f} ms",
                  flush=True)
        if not lat:
            from pathlib import Path

            src = Path(args.stream)
            if args.stream != "-" and src.is_file() and src.stat().st_size == 0:
                raise TunesmithError("empty file (0 bytes): no audio arrived", args.stream)
            raise TunesmithError("no audio arrived", args.stream)
        print(f"tunesmith: {len(lat)} decisions, latency median {np.median(lat) * 1000:.1f} ms, "
              f"max {np.max(lat) * 1000:.1f} ms (plus up to {args.decide_every_s:g} s of buffering)", file=sys.stderr)
        return 0
    if not args.audio:
        raise TunesmithError("give audio files or folders, or --stream SOURCE")
    hop = args.hop_s if args.hop_s is not None else model.config.get("hop_s")
    results, batch = detect_voices(args.audio, model, hop_s=hop, csv_path=args.output, quiet=args.quiet)
    _print_results(results, args.quiet)
    if args.output and results:
        print(f"tunesmith: wrote {args.output}", file=sys.stderr)
    return batch.exit_code


def run_export(args) -> int:
    from tunesmith.classify.export import export_onnx
    from tunesmith.classify.voices import default_checkpoint

    ckpt = args.checkpoint or default_checkpoint()
    path = export_onnx(ckpt, args.output)
    print(f"tunesmith: wrote {path} (checked against torch with onnxruntime)", file=sys.stderr)
    return 0


def run_train(args) -> int:
    from tunesmith.classify.train import train_classifier

    path = train_classifier(_data_folders(args.data), args.out_dir, config=args.config, features=args.features,
                            arch=args.arch, max_epochs=args.max_epochs, seed=args.seed,
                            resume={True: "require", "auto": True}.get(args.resume, False),
                            fast_dev_run=args.fast_dev_run, accelerator=args.accelerator or "auto",
                            devices=args.devices or "auto", overrides=args.overrides)
    print(f"tunesmith: wrote {path}", file=sys.stderr)
    return 0


def run_train_quality(args) -> int:
    from tunesmith.classify.qualitytrain import load_config, train_quality_from_folders
    from tunesmith.cli.common import print_settings, train_overrides

    overrides = train_overrides(args, {"max_steps": "max_steps", "minutes": "max_minutes", "init": "init"})
    cfg = load_config(args.config, overrides)
    print_settings("train quality", {"clean": " ".join(args.clean), "out_dir": args.out_dir,
                                     "max_steps": cfg["max_steps"], "max_minutes": cfg["max_minutes"],
                                     "crop_s": cfg["crop_s"], "lr": cfg["lr"], "init": cfg["init"],
                                     "resume": args.resume})
    res = train_quality_from_folders(args.clean, args.out_dir, config=cfg, resume=args.resume,
                                     fast_dev_run=args.fast_dev_run, accelerator=args.accelerator or "auto",
                                     devices=args.devices or "auto")
    for kind, k in res.kinds.items():
        print(f"tunesmith: {kind}: {k['train_files']} file(s), {k['train_s']:.1f} s for training; "
              f"{k['val_files']} file(s), {k['val_s']:.1f} s for validation", file=sys.stderr)
    if res.skipped:
        print(f"tunesmith: skipped {len(res.skipped)} unusable file(s) (listed above)", file=sys.stderr)
    print(f"tunesmith: wrote {res.path}", file=sys.stderr)
    print(f"tunesmith: use it with: TUNESMITH_MODEL_QUALITY={res.path} tunesmith compare-features "
          f"--data DIR --features qualitynet+lr", file=sys.stderr)
    return 0
