#!/usr/bin/env python
"""When should ``transcribe`` warn "sounds polyphonic"? Development cases for the warning's rule.

    python benchmarks/polyphony_choice.py --build       # once: bench_data/poly_choice (rendered chords)
    python benchmarks/polyphony_choice.py [--no-write]  # every file's frame statistics, both rules, the table

The transcriber follows one line; a recording of chords or of two voices gets a one-line warning that
only the most prominent line is transcribed. The warning must fire on chords and stay quiet on one
voice or instrument, also through a telephone band (which removes a low voice's fundamental) and in
reverb and noise (which smear one note into the next). Groups (all development data; no test set):

* chords (``--build``, FluidSynth renders with the FluidR3 soundfont, so they share its instruments
  with the monophonic renders below): 7 General MIDI programs (piano, electric piano, organ, guitar,
  strings, choir, brass) x 4 voicings (close triads around middle C, the same with the root an octave
  below, an octave higher, two-note thirds and sixths) x 2 seeds, 8 chords of 0.75 s each; and the
  close voicings again through the phone chain of ``benchmarks/sung_choice.py``;
* one line: the FluidR3 and TimGM6mb benchmark renders (``bench_data/transcription_eval*``, clean and
  hard), the sung-choice set (``bench_data/s17_choice``: real singing by one singer, whole and in
  excerpts, with phone-band, noisy, band-limited, codec, quiet and level-ramped copies; synthetic
  singers; FluidR3 renders through the phone chain) and the three real solo-violin recordings.

Per file, transcribed as a user would (``segmentation="auto"``): the median harmonicity of voiced
frames (the rule until 2026-12-02: warn below ``0.65``) and ``Transcription.polyphony``, the share of
voiced frames that are both inharmonic and uncertain (:func:`tunesmith.transcribe.polyphony_share`; the
rule now, ``Transcription.polyphonic``, warns from ``POLYPHONY_SHARE``). Prints and writes
``benchmarks/results/transcription_polyphony.md``: warnings per group under both rules.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from _common import cpu_name

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
OUT = ROOT / "bench_data" / "poly_choice"
CACHE = ROOT / "runs" / "poly_choice_cache"
RESULTS = ROOT / "benchmarks" / "results" / "transcription_polyphony.md"
SR = 16000
PROGRAMS = {"piano": 0, "epiano": 4, "organ": 19, "guitar": 24, "strings": 48, "choir": 52, "brass": 61}
VOICINGS = ("close", "bass", "high", "dyad")
SEEDS = (0, 1)
OLD_MEDIAN = 0.65


def chord_notes(voicing: str, rng) -> list:
    from tunesmith.notes import Note

    notes = []
    for t in range(8):
        root = int(rng.integers(55, 67))
        if voicing == "dyad":
            pitches = [root, root + int(rng.choice([3, 4, 8, 9]))]
        else:
            pitches = [root + i for i in ([0, 4, 7] if rng.random() < 0.6 else [0, 3, 7])]
            if voicing == "bass":
                pitches = [root - 12, *pitches]
            elif voicing == "high":
                pitches = [p + 12 for p in pitches]
        notes += [Note(float(p), t * 0.8, t * 0.8 + 0.75, int(rng.integers(70, 105))) for p in pitches]
    return notes


def build() -> None:
    from sung_choice import phone

    from tunesmith.audio import Audio, save
    from tunesmith.notes import NoteSequence
    from tunesmith.render import render

    (OUT / "chords").mkdir(parents=True, exist_ok=True)
    (OUT / "chords_phone").mkdir(parents=True, exist_ok=True)
    for name, program in PROGRAMS.items():
        for voicing in VOICINGS:
            for seed in SEEDS:
                rng = np.random.default_rng([seed, program, VOICINGS.index(voicing)])
                audio = render(NoteSequence(chord_notes(voicing, rng), program=program), SR)
                stem = f"{name}_{voicing}_{seed}"
                save(audio, OUT / "chords" / f"{stem}.wav")
                if voicing == "close":
                    z, sr = phone(audio.samples.astype(np.float32), audio.sr, rng)
                    save(Audio(z, sr), OUT / "chords_phone" / f"{stem}.wav")
    print(f"wrote {OUT}")


def groups() -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for name in ("chords", "chords_phone"):
        out[f"{name} (polyphonic)"] = sorted((OUT / name).glob("*.wav"))
    for d in ("transcription_eval", "transcription_eval_unseen"):
        for part in ("clean", "hard"):
            out[f"{d}/{part}"] = sorted((ROOT / "bench_data" / d / part).glob("*.wav"))
    choice = ROOT / "bench_data" / "s17_choice"
    for sub in sorted(p for p in choice.iterdir() if p.is_dir()) if choice.is_dir() else []:
        out[f"s17_choice/{sub.name}"] = sorted(sub.glob("*.wav"))
    out["bach_violin (real)"] = sorted((SHARED / "data" / "melody" / "bach_violin").glob("*.mp3")) + \
        sorted((SHARED / "data" / "melody" / "bach_violin").glob("*.opus"))
    return out


def frame_stats(path: Path) -> dict:
    """``transcribe``'s verdict on a file (``--segmentation auto``, as a user runs it) and its frame statistics
    (cached under runs/poly_choice_cache)."""
    from tunesmith import models
    from tunesmith.transcribe import (DEFAULT_VOICING_THRESHOLD, POLYPHONY_CONFIDENCE, POLYPHONY_HARMONICITY,
                                      POLYPHONY_MIN_FRAMES, analyse_file)

    # what the share depends on; a changed frame rule is a new cache entry
    rule = f"{POLYPHONY_HARMONICITY}_{POLYPHONY_CONFIDENCE}_{POLYPHONY_MIN_FRAMES}"
    key = CACHE / (str(path.resolve()).replace("/", "_") + f".{rule}.npz")
    newest = max(path.stat().st_mtime, models.path("transcriber").stat().st_mtime)
    if key.exists() and key.stat().st_mtime >= newest:
        z = np.load(key)
        return {k: z[k] for k in z.files}
    res = analyse_file(path)
    v = res.track.voiced >= DEFAULT_VOICING_THRESHOLD
    out = {"voiced": v, "harmonicity": res.track.harmonicity, "share": np.array(res.polyphony),
           "sung": np.array(res.sung)}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(key, **out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", action="store_true", help="render the chord files, then stop")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.build:
        build()
        return 0
    import torch

    from tunesmith.transcribe import POLYPHONY_CONFIDENCE, POLYPHONY_HARMONICITY, POLYPHONY_SHARE

    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)  # the warning under study would print once per file
    if not (OUT / "chords").is_dir():
        print(f"missing {OUT}: make it with python benchmarks/polyphony_choice.py --build", file=sys.stderr)
        return 1
    t0 = time.time()
    rows, worst = [], {}
    for group, files in groups().items():
        if not files:
            continue
        old = new = sung = 0
        shares, medians = [], []
        for f in files:
            s = frame_stats(f)
            v = s["voiced"]
            med = float(np.median(s["harmonicity"][v])) if v.sum() > 20 else 1.0
            old += bool(v.sum() > 20 and med < OLD_MEDIAN)
            new += bool(s["share"] >= POLYPHONY_SHARE)   # Transcription.polyphonic
            sung += bool(s["sung"])
            shares.append(float(s["share"]))
            medians.append(med)
        poly = group.endswith("(polyphonic)")
        pick = int(np.argmin(shares) if poly else np.argmax(shares))
        worst[group] = (files[pick].name, shares[pick])
        rows.append((group, len(files), old, new, float(np.median(shares)), float(min(shares) if poly else max(shares)),
                     float(np.median(medians)), poly, sung))
        print(f"{group}: {len(files)} files, warned {old} (old) / {new} (new)", flush=True)
    minutes = (time.time() - t0) / 60

    def tally(poly):
        sel = [r for r in rows if r[7] == poly]
        return sum(r[1] for r in sel), sum(r[2] for r in sel), sum(r[3] for r in sel)

    lines = ["# When transcription warns \"sounds polyphonic\"", "",
             f"Command: `python benchmarks/polyphony_choice.py` (data: `python benchmarks/polyphony_choice.py --build`, "
             "`python benchmarks/sung_choice.py --build`, `python benchmarks/transcription.py` for the renders). "
             f"Machine: {cpu_name()}, Python {platform.python_version()}, torch {torch.__version__}, "
             f"{args.threads} thread(s); {minutes:.1f} min (frame tracks cached under runs/). "
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "Development data only: the rule's constants were chosen on these files. Old rule: median harmonicity "
             f"of voiced frames below {OLD_MEDIAN}. New rule (`Transcription.polyphonic`): warn from "
             f"{POLYPHONY_SHARE:.2f} of voiced frames with harmonicity below {POLYPHONY_HARMONICITY} and the "
             f"pitch confidence below {POLYPHONY_CONFIDENCE} (the CNN's; on the sung path the larger of the CNN's and "
             "swift-f0's). 'Sung' counts the files that took the sung path. 'Share' is that frame share; 'extreme' its "
             "lowest value in a polyphonic group and its highest in a one-line group (the file closest to the "
             "threshold).", "",
             "| group | files | sung | warned, old rule | warned, new rule | share, median | share, extreme (file) | "
             "median harmonicity, median |",
             "|---|---|---|---|---|---|---|---|"]
    for group, n, old, new, med_share, ext, med_h, poly, sung in rows:
        lines.append(f"| {group} | {n} | {sung} | {old} | {new} | {med_share:.2f} | {ext:.2f} ({worst[group][0]}) "
                     f"| {med_h:.2f} |")
    pn, po, pw = tally(True)
    mn, mo, mw = tally(False)
    lines += ["", f"Polyphonic files warned: old {po}/{pn}, new {pw}/{pn}. One-line files warned (false "
              f"warnings): old {mo}/{mn}, new {mw}/{mn}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        from tunesmith.io import atomic_write_text

        atomic_write_text(RESULTS, text)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
