"""``tunesmith render``: note files → audio (FluidSynth with a GM soundfont, or the built-in synth)."""
from __future__ import annotations

import argparse
from pathlib import Path

from tunesmith.cli.common import add_output
from tunesmith.io import AUDIO_EXTENSIONS, SYMBOLIC_EXTENSIONS


def register(sub) -> None:
    p = sub.add_parser(
        "render", help="render note files (MIDI, MusicXML, ABC, kern, CSV, JSON) to audio",
        description="Render note files to audio with FluidSynth and a General MIDI soundfont "
                    "(or tunesmith's built-in synthesiser when FluidSynth is absent). "
                    "With one input, OUT may be an audio file name (.wav, .flac, .ogg); otherwise "
                    "it is a folder that mirrors the input tree.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="NOTES_FILE", help="note files or folders of them")
    add_output(p, dest="out", required=True, metavar="OUT", help="output audio file, or a folder")
    p.add_argument("--program", type=int, default=None,
                   help="General MIDI program 0-127 (0 piano, 40 violin, 73 flute, ...); default: the file's own")
    p.add_argument("--sr", type=int, default=22050, help="sample rate of the output in Hz")
    p.add_argument("--engine", choices=("auto", "fluidsynth", "synth"), default="auto",
                   help="renderer: FluidSynth, the built-in synthesiser, or auto (FluidSynth if present)")
    p.add_argument("--soundfont", default=None, help="a .sf2 soundfont (default: the system GM soundfont)")
    p.add_argument("--reverb", action="store_true", help="keep FluidSynth's reverb and chorus on")
    p.add_argument("--format", default=".wav", choices=(".wav", ".flac", ".ogg"),
                   help="file type when OUT is a folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from tunesmith.cli.common import iter_inputs, print_settings, run_batch, say
    from tunesmith.errors import TunesmithError
    from tunesmith.io import output_path
    from tunesmith.notes import load_notes
    from tunesmith.render import fluidsynth_available, render_to_file

    files = iter_inputs(args.inputs, SYMBOLIC_EXTENSIONS)
    out = Path(args.out)
    single_file = out.suffix.lower() in AUDIO_EXTENSIONS
    if single_file and len(files) > 1:
        raise TunesmithError(f"{len(files)} inputs but OUT is one file ({out}); give a folder instead")
    if args.program is not None and not 0 <= args.program <= 127:
        raise TunesmithError(f"--program must be 0-127, got {args.program}")
    engine = args.engine if args.engine != "auto" else ("fluidsynth" if fluidsynth_available(args.soundfont) else "synth")
    print_settings("render", {"engine": engine, "program": "file's own" if args.program is None else args.program,
                              "sr": args.sr, "reverb": args.reverb})

    def one(f: Path) -> Path:
        seq = load_notes(f)
        if not len(seq):
            raise TunesmithError("contains no notes", f)
        dest = out if single_file else output_path(f, args.inputs, out, args.format)
        render_to_file(seq, dest, sr=args.sr, program=args.program, engine=args.engine,
                       soundfont=args.soundfont, reverb=args.reverb)
        say(f"{f} -> {dest}")
        return dest

    return run_batch(files, one, desc="render").exit_code
