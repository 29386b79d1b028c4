"""``tunesmith convert`` and ``tunesmith train transform``: sound transformation from paired recordings."""
from __future__ import annotations

import argparse

from tunesmith.cli.common import add_common_output, add_train_flags

CONVERT_HELP = "convert sounds with a trained transformation model (e.g. piano -> violin)"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help=CONVERT_HELP,
        description="Convert input sounds of any length into the sound a transformation model was trained "
                    "to produce. Writes OUT_DIR/<name>.wav and a before/after spectrogram <name>.png per file.")
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files or folders (searched recursively)")
    p.add_argument("--checkpoint", metavar="CKPT", default=None,
                   help="exported model (transform.pt from 'tunesmith train transform'); "
                        "default: the shipped piano -> violin demo model")
    add_common_output(p)
    p.add_argument("--inversion", choices=["gl", "input-phase"], default=None,
                   help="how the phase is made: fast Griffin-Lim started from the input's phase (gl, "
                        "cleaner) or the input's phase as is (input-phase, fastest); default from the checkpoint")
    p.add_argument("--iters", type=int, default=None, metavar="N",
                   help="Griffin-Lim iterations (more: fewer phasing artefacts, slower; default from the checkpoint)")
    p.add_argument("--momentum", type=float, default=None, help="fast Griffin-Lim momentum (default 0.99)")
    p.add_argument("--chunk-s", type=float, default=10.0, help="seconds converted at a time (bounds memory)")
    p.add_argument("--format", choices=["wav", "flac", "ogg"], default="wav", help="output file format")
    p.add_argument("--no-png", dest="png", action="store_false", help="skip the before/after spectrogram pictures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or settings line")
    p.set_defaults(func=run_convert)


def register_train(train_subparsers) -> None:
    p = train_subparsers.add_parser(
        "transform", help="train a sound transformation model on input/output pairs",
        description="Train a spectrogram-to-spectrogram model on a pair folder (DIR/input and DIR/output "
                    "holding files of the same names, or a CSV with columns input,output). Bad or misaligned "
                    "pairs are listed and skipped. Resumes from OUT_DIR/checkpoints/last.ckpt when present.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, metavar="DIR", help="pair folder or pair CSV")
    add_train_flags(p, default_out="runs/transform", auto_resume=True,
                    out_help="run folder: config, checkpoints, metrics.csv, curves.png, transform.pt",
                    example="model.base_channels=16 optim.lr=0.001 trainer.max_minutes=5")
    p.add_argument("--arch", choices=["unet", "lstm", "gan"], default=None, help="model variant (overrides config)")
    p.add_argument("--max-minutes", type=float, default=None, help="training time budget (overrides config)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (overrides config)")
    p.add_argument("--align", action="store_true", default=None,
                   help="remove a constant input/output offset instead of skipping offset pairs")
    p.add_argument("--fast-dev-run", action="store_true", help="one batch of training and validation (smoke test)")
    p.add_argument("--export", default=None, metavar="PATH", help="also write the exported model here")
    p.set_defaults(func=run_train)


def run_convert(args) -> int:
    from tunesmith.cli.common import iter_inputs, print_settings, run_batch
    from tunesmith.errors import TunesmithError
    from tunesmith.io import AUDIO_EXTENSIONS, output_path
    from tunesmith.transform.conversion import Converter, convert_file

    if args.chunk_s <= 0:
        raise TunesmithError(f"--chunk-s must be positive, got {args.chunk_s}")
    files = iter_inputs(args.audio, AUDIO_EXTENSIONS)
    conv = Converter(args.checkpoint, inversion=args.inversion, n_iter=args.iters, momentum=args.momentum,
                     chunk_s=args.chunk_s)
    if not args.quiet:
        print_settings("convert", conv.settings())
    result = run_batch(files, lambda f: convert_file(f, output_path(f, args.audio, args.out_dir, f".{args.format}"),
                                                     conv, png=args.png),
                       desc="files", quiet=args.quiet)
    if not args.quiet:
        for dst in result.done.values():
            print(dst)
    return result.exit_code


def run_train(args) -> int:
    from tunesmith.cli.common import print_settings, train_overrides
    from tunesmith.transform.training import load_config, train

    overrides = train_overrides(args, {"arch": "model.arch", "max_minutes": "trainer.max_minutes",
                                       "max_epochs": "trainer.max_epochs", "batch_size": "data.batch_size",
                                       "align": "data.align", "accelerator": "trainer.accelerator",
                                       "devices": "trainer.devices"})
    cfg = load_config(args.config, overrides)
    print_settings("train transform", {"data": args.data, "arch": cfg["model"]["arch"],
                                       "output": cfg["model"]["output"], "n_fft": cfg["features"]["n_fft"],
                                       "hop_length": cfg["features"]["hop_length"],
                                       "max_minutes": cfg["trainer"]["max_minutes"], "out_dir": args.out_dir})
    path = train(args.data, cfg, out_dir=args.out_dir, resume={True: "require", "auto": True}.get(args.resume, False),
                 fast_dev_run=args.fast_dev_run, export_to=args.export)
    print(path)
    return 0
