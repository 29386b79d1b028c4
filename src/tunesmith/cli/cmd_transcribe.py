"""``tunesmith transcribe``, ``tunesmith evaluate-transcription`` and ``tunesmith train transcriber``."""
from __future__ import annotations

import sys

from tunesmith.errors import TunesmithError


def _add_options(p) -> None:
    p.add_argument("--instrument", default=None,
                   help="range preset: any (the default), voice, flute, violin, cello, guitar, bass, piano, sax, "
                        "trumpet, clarinet, ...")
    p.add_argument("--segmentation", default=None, choices=("auto", "attack", "contour"),
                   help="how frames become notes: auto (the default: the sung-line contour path when the "
                        "recording has sung consonants or a singer's unsteady intonation, or a voice preset is given; "
                        "else the attack path), "
                        "attack (onsets; instruments), contour (sung and bowed lines)")
    p.add_argument("--fmin", default=None, help="lowest pitch, in Hz or as a note name (e.g. 80 or E2)")
    p.add_argument("--fmax", default=None, help="highest pitch, in Hz or as a note name (e.g. 1000 or C6)")
    p.add_argument("--min-note", type=float, default=None, metavar="MS", dest="min_note_ms",
                   help="shortest note kept, in milliseconds (default 50)")
    p.add_argument("--onset-threshold", type=float, default=None,
                   help="onset probability 0-1 that starts a new note (default 0.5; lower splits more repeated notes)")
    p.add_argument("--tuning", type=float, default=None, metavar="A4_HZ",
                   help="frequency of A4 in Hz (default: estimated from the recording)")
    from tunesmith.cli.common import add_checkpoint  # --checkpoint, as in every verb (--model: hidden alias)

    add_checkpoint(p, dest="model", help="transcriber checkpoint (default: the shipped transcriber, tunesmith.models)")


def _options(args) -> dict:
    keys = ("instrument", "fmin", "fmax", "min_note_ms", "onset_threshold", "tuning", "model", "segmentation")
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def _grid(text: str) -> float:
    """'0.25', '1/16' (a sixteenth note = 0.25 quarter notes) or '1/8' → quarter notes."""
    try:
        if "/" in text:
            num, den = text.split("/")
            return 4.0 * float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise TunesmithError(f"--grid {text!r}: give quarter notes (0.25) or a note value (1/16)") from None


def register(sub) -> None:
    p = sub.add_parser(
        "transcribe", help="recordings of one instrument or voice -> notes (MIDI, CSV, MusicXML, PNG)",
        description="Transcribe monophonic recordings. For each input writes <stem>.mid and <stem>.csv (notes "
                    "as performed, seconds), <stem>.musicxml (quantised score with estimated tempo, metre and "
                    "key) and <stem>.png (spectrogram, f0 track and notes).")
    p.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files or folders (searched recursively)")
    from tunesmith.cli.common import add_common_output

    add_common_output(p)
    _add_options(p)
    p.add_argument("--grid", default="0.25", help="score grid in quarter notes or as a note value "
                                                  "(0.25 = 1/16, the default; 0.5 = 1/8)")
    p.set_defaults(func=run)

    e = sub.add_parser(
        "evaluate-transcription", help="score transcriptions against reference notes (mir_eval)",
        description="Transcribe every audio file under --data that has a reference .mid/.csv with the same stem "
                    "and print note precision/recall/F1 (onset 50 ms, pitch 50 cents), the same with offsets "
                    "(offset ratio 0.2), and frame raw pitch accuracy, per file and overall.")
    e.add_argument("--data", required=True, metavar="DIR", help="folder of audio + reference pairs")
    e.add_argument("--report", default=None, metavar="FILE.md", help="also write the table to this markdown file")
    _add_options(e)
    e.set_defaults(func=run_evaluate)


def run(args) -> int:
    from tunesmith.cli.common import print_settings
    from tunesmith.transcribe import transcribe_folder

    opts = _options(args)
    grid = _grid(args.grid)
    if grid <= 0:
        raise TunesmithError("--grid must be positive")
    print_settings("transcribe", {"instrument": args.instrument or "any", "fmin": args.fmin or "auto",
                                  "fmax": args.fmax or "auto", "min_note_ms": args.min_note_ms or 50,
                                  "onset_threshold": args.onset_threshold or 0.5,
                                  "tuning": args.tuning or "estimated", "segmentation": args.segmentation or "auto",
                                  "grid": grid})
    # validate the options once, before any file is processed
    from tunesmith.transcribe import check_options, pitch_range

    pitch_range(args.instrument, args.fmin, args.fmax)
    check_options(args.min_note_ms or 50, args.onset_threshold or 0.5, args.tuning)
    from tunesmith.transcribe.pitch import load_model

    load_model(args.model)
    result = transcribe_folder(args.inputs, args.out_dir, grid=grid, **opts)
    for f, seq in result.done.items():
        meta = ", ".join(x for x in (f"{seq.tempo:.0f} qpm" if seq.tempo else "",
                                     f"{seq.time_signature[0]}/{seq.time_signature[1]}" if seq.time_signature else "",
                                     seq.key or "") if x)
        print(f"{f}: {len(seq)} notes" + (f" ({meta})" if meta else ""))
    return result.exit_code


def run_evaluate(args) -> int:
    from pathlib import Path

    from tqdm.auto import tqdm

    from tunesmith.io import atomic_write_text
    from tunesmith.notes import load_notes, midi_to_hz
    from tunesmith.transcribe import analyse_file
    from tunesmith.transcribe.evaluate import format_table, overall, pair_files, score_file

    pairs = pair_files(args.data)
    opts = _options(args)
    rows, results, failed = [], [], 0
    root = Path(args.data)
    for audio, ref_path in tqdm(pairs, desc="evaluating", unit="file", file=sys.stderr, disable=len(pairs) < 2):
        try:
            ref = load_notes(ref_path)
            res = analyse_file(audio, **opts)
        except TunesmithError as exc:
            print(f"tunesmith: skipped {audio}: {exc}", file=sys.stderr)
            failed += 1
            continue
        tr = res.track
        s = score_file(ref, res.notes, tr.times, midi_to_hz(tr.f0))
        rows.append((str(audio.relative_to(root)), s))
        results.append(s)
    if not results:
        raise TunesmithError("no file could be evaluated", root)
    table = format_table(rows + [("**overall (mean of files)**", overall(results))])
    print(table)
    if args.report:
        atomic_write_text(args.report, table + "\n")
    return 1 if failed else 0


def register_train(train_sub) -> None:
    from tunesmith.cli.common import add_train_flags

    t = train_sub.add_parser(
        "transcriber", help="train the transcriber's frame model (synthetic renders, or your own recordings)",
        description="Train the transcription CNN. Without --data, renders synthetic training clips (FluidSynth, "
                    "augmented; see configs/transcriber.yaml) into OUT_DIR/clips.npz first; with --data, trains on "
                    "a folder of recordings with reference .csv/.mid files of the same stem. Writes "
                    "OUT_DIR/transcriber.pt (use it with transcribe --checkpoint), last.ckpt, best.ckpt, "
                    "metrics.csv and training_curves.png.")
    t.add_argument("--data", default=None, metavar="DIR", help="recordings + reference notes (default: synthetic)")
    add_train_flags(t, default_out="runs/transcriber", out_help="run folder", limit="steps",
                    example="data.clips=200 optim.lr=0.001",
                    config_help="settings (default: configs/transcriber.yaml, the same values as the built-in ones)")
    t.add_argument("--init", default=None, metavar="CKPT", help="start from this checkpoint, or 'shipped' for the packaged model (trainer.init)")
    t.set_defaults(func=run_train)


def run_train(args) -> int:
    from pathlib import Path

    from tunesmith.cli.common import print_settings, train_overrides
    from tunesmith.transcribe.train import (DEFAULT_CONFIG, clips_from_folder, load_config, make_clips,
                                            train_transcriber)

    overrides = train_overrides(args, {k: f"trainer.{k}" for k in ("max_steps", "init", "accelerator", "devices")})
    cfg = load_config(args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None), overrides)
    out = Path(args.out_dir)
    print_settings("train transcriber", {"data": args.data or "synthetic", "out_dir": out,
                                         "max_steps": cfg["trainer"]["max_steps"], "lr": cfg["optim"]["lr"],
                                         "init": cfg["trainer"]["init"], "resume": args.resume})
    clips = out / "clips.npz"
    if not clips.exists():
        if args.data:
            clips_from_folder(args.data, clips)
        else:
            print(f"rendering {cfg['data']['clips']} training clips -> {clips}", file=sys.stderr)
            make_clips(cfg, clips)
    ckpt = train_transcriber(clips, out, cfg, resume=args.resume,
                             progress=lambda row: print(row, file=sys.stderr))
    print(f"checkpoint: {ckpt}", file=sys.stderr)
    return 0
