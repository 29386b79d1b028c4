"""Composer verbs: ``tunesmith train composer``, ``tunesmith generate``, ``tunesmith score``.

Nothing heavy is imported at module level (torch, music21 and Lightning load inside ``run``).
"""
from __future__ import annotations

import sys

from tunesmith.cli.common import add_output, add_train_flags

DEFAULT_CHECKPOINT = "composer-chorales.pt"


def _default_checkpoint() -> str:
    """The shipped chorale model, or ``$TUNESMITH_MODEL_COMPOSER`` (see :func:`tunesmith.models.path`)."""
    from tunesmith import models

    return str(models.path("composer"))


def register(sub) -> None:
    g = sub.add_parser("generate", help="sample new melodies from a trained composer",
                       description="Sample new melodies; writes .mid, .musicxml, .wav and a .png piano roll "
                                   "for each.")
    g.add_argument("--checkpoint", default=None, metavar="CKPT",
                   help=f"composer checkpoint (default: the shipped chorale model {DEFAULT_CHECKPOINT})")
    add_output(g, required=True, help="folder for the samples")
    g.add_argument("-n", type=int, default=4, help="number of melodies (default 4)")
    g.add_argument("--length", type=int, default=64, help="new notes per melody (default 64)")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="below 1: safer, more repetitive; above 1: more adventurous (default 1.0)")
    g.add_argument("--top-k", type=int, default=None, help="sample only among the K likeliest tokens")
    g.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with probability P")
    g.add_argument("--seed", type=int, default=None, help="random seed (same seed, same melodies)")
    g.add_argument("--primer", default=None, metavar="FILE",
                   help="a melody (note file or recording) that every sample continues")
    g.add_argument("--track", type=int, default=None, help="MIDI track of the primer's melody")
    g.add_argument("--key", default=None, help="key of the output, e.g. 'D minor'; notes stay in its scale")
    g.add_argument("--range", dest="pitch_range", default=None, metavar="LOW-HIGH",
                   help="allowed pitches, e.g. C4-G5 or 60-79")
    g.add_argument("--tempo", type=float, default=None, metavar="BPM", help="tempo of the output")
    g.add_argument("--program", type=int, default=None, metavar="N",
                   help="General MIDI instrument of the output (0 = piano)")
    g.add_argument("--no-audio", action="store_true", help="skip rendering the .wav files")
    g.set_defaults(func=run_generate)

    s = sub.add_parser("score", help="bits per note of melodies under a composer",
                       description="Information content of melodies: mean -log2 P(pitch | previous events) per "
                                   "note (rests are context, not scored) and per event (pitch and duration).")
    s.add_argument("files", nargs="+", metavar="FILES", help="note files, recordings or folders")
    s.add_argument("--checkpoint", default=None, metavar="CKPT", help="composer checkpoint (default: shipped)")
    s.add_argument("--track", type=int, default=None, help="MIDI track of the melody")
    s.add_argument("--adapt-lr", type=float, default=0.0,
                   help="dynamic evaluation: adapt to each melody as it is read (SGD step size; 0 = off)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=run_score)


def register_train(train_sub) -> None:
    t = train_sub.add_parser("composer", help="train the melody LSTM on a folder of songs",
                             description="Train the composer on a folder of songs (audio, MIDI, MusicXML, ABC, "
                                         "kern). Settings come from --config and 'section.key=value' overrides.")
    t.add_argument("--data", required=True, metavar="DIR", nargs="+", help="folder(s) or files of songs")
    t.add_argument("--valid-data", default=None, metavar="DIR", nargs="+",
                   help="explicit validation songs (default: hold out a share of --data by song)")
    add_train_flags(t, default_out="runs/composer", out_help="run folder: checkpoints, config, metrics.csv, "
                    "training_curves.png", example="model.hidden=512 optim.lr=0.001 trainer.max_epochs=5",
                    config_help="configuration (default: the built-in tunesmith.compose.train.DEFAULTS, the same "
                                "values as configs/composer.yaml, the shipped model's recipe)")
    t.add_argument("--strategy", default=None, help="shortcut for trainer.strategy (e.g. ddp)")
    t.add_argument("--precision", default=None, help="shortcut for trainer.precision (e.g. bf16-mixed)")
    t.add_argument("--transpose", default=None, metavar="LO,HI",
                   help="random transposition range in semitones, e.g. -5,6 (data.transpose)")
    t.set_defaults(func=run_train)


def run_train(args) -> int:
    from tunesmith.cli.common import print_settings, train_overrides
    from tunesmith.compose.train import load_config, train_composer

    overrides = train_overrides(args, {k: f"trainer.{k}" for k in ("max_epochs", "devices", "accelerator",
                                                                     "strategy", "precision")})
    if args.transpose:
        overrides.append(f"data.transpose=[{args.transpose}]")
    cfg = load_config(args.config, overrides)
    print_settings("train composer", {"data": " ".join(args.data), "out_dir": args.out_dir,
                                      **{f"model.{k}": v for k, v in cfg["model"].items()},
                                      "max_epochs": cfg["trainer"].get("max_epochs"),
                                      "transpose": cfg["data"]["transpose"]})
    data = args.data if len(args.data) > 1 else args.data[0]
    best = train_composer(data, out_dir=args.out_dir, resume=args.resume, valid_data=args.valid_data, cfg=cfg)
    print(f"best checkpoint: {best}", file=sys.stderr)
    return 0


def run_generate(args) -> int:
    from tunesmith.cli.common import parse_range, print_settings
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.sample import generate, write_samples

    ckpt = args.checkpoint or _default_checkpoint()
    composer = load_composer(ckpt)
    pitch_range = parse_range(args.pitch_range) if args.pitch_range else None
    seed = args.seed if args.seed is not None else int.from_bytes(__import__("os").urandom(3), "little")
    print_settings("generate", {"checkpoint": ckpt, "n": args.n, "length": args.length,
                                "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
                                "seed": seed, "key": args.key, "range": args.pitch_range,
                                "primer": args.primer})
    seqs = generate(composer, n=args.n, length=args.length, temperature=args.temperature, top_k=args.top_k,
                    top_p=args.top_p, seed=seed, primer=args.primer, key=args.key, pitch_range=pitch_range,
                    tempo=args.tempo, program=args.program, track=args.track)
    written = write_samples(seqs, args.out_dir, render=not args.no_audio)
    for base, seq in zip(written, seqs):
        print(f"{base}.mid  ({len(seq)} notes, {seq.key}, {seq.duration:.1f} s)")
    return 0


def run_score(args) -> int:
    import json

    from tunesmith.cli.common import iter_inputs
    from tunesmith.compose.data import MELODY_EXTENSIONS
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.score import score_files
    from tunesmith.io import AUDIO_EXTENSIONS

    composer = load_composer(args.checkpoint or _default_checkpoint())
    files = iter_inputs(args.files, tuple(AUDIO_EXTENSIONS) + tuple(MELODY_EXTENSIONS))
    per_file, overall, failed = score_files(composer, files, track=args.track, adapt_lr=args.adapt_lr,
                                            quiet=args.json)
    if args.json:
        print(json.dumps({"files": [{k: v for k, v in s.items() if not k.endswith("_total")} for s in per_file],
                          "overall": overall, "failed": failed}, indent=2))
    elif per_file:   # no table at all when every file failed (each already said why, one line each)
        width = max([len(str(s["name"])) for s in per_file] + [4])
        print(f"{'file':<{width}}  notes  bits/note  bits/event")
        for s in per_file:
            print(f"{s['name']:<{width}}  {s['notes']:5d}  {s['bits_per_note']:9.3f}  {s['bits_per_event']:10.3f}")
        if len(per_file) > 1:
            print(f"{'all':<{width}}  {overall['notes']:5d}  {overall['bits_per_note']:9.3f}  "
                  f"{overall['bits_per_event']:10.3f}")
    return 1 if failed or not per_file else 0
