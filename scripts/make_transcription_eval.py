"""Build the transcription evaluation set (deterministic): folk melodies rendered on 10 instruments.

    python scripts/make_transcription_eval.py [--out bench_data/transcription_eval] [--per-instrument 5]
    python scripts/make_transcription_eval.py --unseen     # the unseen-soundfont set (TimGM6mb)
    python scripts/make_transcription_eval.py --seed 1 --per-instrument 2 --out bench_data/transcription_dev_t17
                                                           # a development set (other excerpts, same recipe)

Melodies: music21's folk collections (essenFolksong, ryansMammoth, oneills1850), which the
transcriber's training never uses (it trains on chorales, Palestrina, Monteverdi, Trecento and
random melodies; see tunesmith.transcribe.dataset). Each excerpt is performed with its own tempo
(70-150 qpm), legato (0.55-1.0 of the written length), timing jitter and transposition into the
instrument's range, rendered with FluidSynth + FluidR3 GM at 22.05 kHz, and written twice:

  OUT/clean/<stem>.wav   dry render
  OUT/hard/<stem>.wav    the same with room reverb (RT60 0.6-1.2 s) and pink noise at 20 dB SNR

with the reference notes beside each as <stem>.mid and <stem>.csv, plus OUT/manifest.json.
The same seed always gives the same files.

``--unseen`` builds the unseen-soundfont set instead: 2 excerpts per instrument (another seed, so
other tunes and performances), rendered through TimGM6mb (Debian ``timgm6mb-soundfont``), a
soundfont that no training clip uses (training renders through FluidR3 only), into
bench_data/transcription_eval_unseen.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tunesmith.audio import Audio, save
from tunesmith.notes import note_sequence_to_csv, note_sequence_to_midi
from tunesmith.transcribe import dataset as ds

SR = 22050
SEED = 20261125
UNSEEN_SEED = 20261201
UNSEEN_SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="bench_data/transcription_eval")
    ap.add_argument("--per-instrument", type=int, default=5)
    ap.add_argument("--snr-db", type=float, default=20.0)
    ap.add_argument("--unseen", action="store_true", help="the unseen-soundfont set (TimGM6mb, 2 per instrument)")
    ap.add_argument("--soundfont", default=None, help="render through this .sf2 (default: the system GM soundfont)")
    ap.add_argument("--seed", type=int, default=None,
                    help="another seed gives a development set: other excerpts and performances (the tunes come "
                         "from the same folk collections, so some may also be in the test sets)")
    args = ap.parse_args(argv)
    if args.unseen:
        args.soundfont = args.soundfont or UNSEEN_SOUNDFONT
        if args.out == "bench_data/transcription_eval":
            args.out = "bench_data/transcription_eval_unseen"
        if args.per_instrument == 5:
            args.per_instrument = 2
        if not Path(args.soundfont).is_file():
            print(f"error: {args.soundfont} not found (apt-get install timgm6mb-soundfont)", file=sys.stderr)
            return 1
    seed = args.seed if args.seed is not None else UNSEEN_SEED if args.unseen else SEED
    rng = np.random.default_rng(seed)
    out = Path(args.out)
    (out / "clean").mkdir(parents=True, exist_ok=True)
    (out / "hard").mkdir(parents=True, exist_ok=True)
    n_needed = args.per_instrument * len(ds.EVAL_INSTRUMENTS)
    paths = ds.corpus_paths(ds.EVAL_CORPORA)
    order = rng.permutation(len(paths))
    melodies = []
    for i in order:
        for m in ds.load_melodies(paths[i], max_tunes=1):
            if len(m) >= 20 and len({n.pitch for n in m}) >= 5:
                melodies.append(m)
        if len(melodies) >= n_needed:
            break
    manifest = []
    for k in range(n_needed):
        inst = ds.INSTRUMENTS[ds.EVAL_INSTRUMENTS[k % len(ds.EVAL_INSTRUMENTS)]]
        mel = ds.excerpt(melodies[k], rng, max_beats=float(rng.uniform(28, 44)))
        qpm = float(rng.uniform(70, 150))
        legato = float(rng.uniform(0.55, 1.0))
        perf = ds.perform(mel, rng, inst, qpm=qpm, legato=legato)
        audio = ds.render_performance(perf, SR, soundfont=args.soundfont)
        stem = f"{k:02d}_{inst.name}_{''.join(c for c in (mel.name or 'tune') if c.isalnum())[:24]}"
        rt60 = float(rng.uniform(0.6, 1.2))
        hard = ds.add_reverb(audio.samples, SR, rng, rt60=rt60, wet=0.45)
        hard = ds.add_pink_noise(hard, args.snr_db, rng)
        for sub, y in (("clean", audio.samples), ("hard", hard)):
            save(Audio(y, SR), out / sub / f"{stem}.wav")
            note_sequence_to_midi(perf, out / sub / f"{stem}.mid")
            note_sequence_to_csv(perf, out / sub / f"{stem}.csv")
        manifest.append({"stem": stem, "instrument": inst.name, "program": inst.program, "tune": mel.name,
                         "qpm": round(qpm, 1), "legato": round(legato, 2), "rt60": round(rt60, 2),
                         "notes": len(perf), "duration_s": round(audio.duration, 2)})
        print(f"{stem}: {len(perf)} notes, {audio.duration:.1f} s", file=sys.stderr)
    (out / "manifest.json").write_text(json.dumps({"seed": seed, "sr": SR,
                                                   "snr_db": args.snr_db,
                                                   "soundfont": Path(args.soundfont).name if args.soundfont else "FluidR3_GM.sf2",
                                                   "corpora": ds.EVAL_CORPORA, "excerpts": manifest}, indent=1))
    total = sum(m["duration_s"] for m in manifest)
    print(f"wrote {len(manifest)} excerpts ({total:.0f} s) x 2 versions to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
