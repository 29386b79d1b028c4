#!/usr/bin/env python
"""Build the shipped demo data in ``data/`` from public-domain tunes in music21's corpus.

Writes (deterministically, about 3 MB in all):

- ``data/songs/``: a small "folder of songs in one style" — German folk tunes from
  the Essen collection (``essenFolksong/kinder0.abc`` and ``erk*.abc``). Half of them
  are rendered to audio with FluidSynth and the FluidR3 GM soundfont on several
  instruments (FLAC, OGG and WAV files), the other half are kept as symbolic
  files (MIDI, MusicXML, ABC), so the folder mixes both kinds as a user's would.
- ``data/reference/``: the MIDI and CSV notes of every rendered song (what a
  perfect transcription would give), for ``tunesmith evaluate-transcription``.

Run: ``python scripts/make_demo_data.py`` (needs fluidsynth and fluid-soundfont-gm).
"""
from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import numpy as np

from tunesmith.audio import Audio, save
from tunesmith.notes import (
    music21_to_note_sequence, note_sequence_to_csv, note_sequence_to_midi, note_sequence_to_musicxml,
)
from tunesmith.render import fluidsynth_available, render

SOURCES = ("essenFolksong/kinder0.abc", "essenFolksong/erk5.abc", "essenFolksong/erk10.abc")
# (GM program, name, file type) for the rendered songs, in order.
INSTRUMENTS = [(73, "flute", ".flac"), (40, "violin", ".flac"), (71, "clarinet", ".ogg"),
               (53, "voice-oohs", ".flac"), (0, "piano", ".ogg"), (56, "trumpet", ".wav")]
SYMBOLIC = [".mid", ".musicxml", ".abc"] * 8
SR = 22050
TARGET_NOTE_S = 0.42  # tempo is set so that the median note lasts about this long


def abc_tune_text(book: str, number: int) -> str:
    """The ABC text of tune X:number from a multi-tune ABC book."""
    blocks = re.split(r"(?m)^(?=X:)", book)
    for b in blocks:
        m = re.match(r"X:\s*(\d+)", b)
        if m and int(m.group(1)) == number:
            return b.strip() + "\n"
    raise KeyError(number)


def pick_tunes(n: int):
    import music21

    chosen = []
    for src in SOURCES:
        path = music21.corpus.getWork(src)
        book = Path(path).read_text(encoding="latin-1")
        opus = music21.corpus.parse(src)
        for score in opus.scores:
            seq = music21_to_note_sequence(score)
            if not 28 <= len(seq) <= 70 or seq.time_signature is None:
                continue
            med = float(np.median([x.duration_beats for x in seq.notes]))
            tempo = 60 * med / TARGET_NOTE_S * (0.85 + 0.35 * (len(chosen) % 5) / 4)
            tempo = float(np.clip(round(tempo / 2) * 2, 60, 180))
            total_s = seq.notes[-1].onset_beats * 60 / tempo
            if not 10 <= total_s <= 32:
                continue
            number = int(score.metadata.number)
            chosen.append((src, number, score, abc_tune_text(book, number), tempo))
            if len(chosen) == n:
                return chosen
    return chosen


def with_tempo(seq, tempo):
    spb = 60.0 / tempo
    notes = [n.__class__(n.pitch, n.onset_beats * spb, (n.onset_beats + n.duration_beats) * spb,
                         n.velocity, n.onset_beats, n.duration_beats) for n in seq.notes]
    return seq.copy(notes=notes, tempo=tempo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data", help="data folder (default: data)")
    args = ap.parse_args()
    if not fluidsynth_available():
        raise SystemExit("make_demo_data: needs fluidsynth and fluid-soundfont-gm (apt-get install -y fluidsynth fluid-soundfont-gm)")
    out = Path(args.out)
    songs, ref = out / "songs", out / "reference"
    for d in (songs, ref):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    tunes = pick_tunes(len(INSTRUMENTS) + len(SYMBOLIC))
    rng = np.random.default_rng(7)
    for i, (src, number, score, abc, tempo) in enumerate(tunes):
        seq = with_tempo(music21_to_note_sequence(score), tempo)
        title = re.sub(r"[^A-Za-z0-9]+", "-", (score.metadata.title or f"tune{number}")).strip("-").lower()[:32]
        stem = f"{Path(src).stem}-{number:03d}-{title}"
        if i < len(INSTRUMENTS):
            program, inst, ext = INSTRUMENTS[i]
            vel = [int(v) for v in rng.integers(64, 101, size=len(seq))]
            seq = seq.copy(notes=[n.__class__(n.pitch, n.onset, n.offset, v, n.onset_beats, n.duration_beats)
                                  for n, v in zip(seq.notes, vel)], program=program, name=stem)
            audio = render(seq, SR, program=program)
            peak = float(np.max(np.abs(audio.samples)))
            audio = Audio(audio.samples * (0.7 / peak), SR)
            save(audio, songs / f"{stem}-{inst}{ext}")
            note_sequence_to_midi(seq, ref / f"{stem}-{inst}.mid")
            note_sequence_to_csv(seq, ref / f"{stem}-{inst}.csv")
            print(f"audio    {stem}-{inst}{ext}  {audio.duration:5.1f} s  {len(seq)} notes  {tempo:.0f} BPM")
        else:
            ext = SYMBOLIC[i - len(INSTRUMENTS)]
            seq = seq.copy(name=stem)
            dest = songs / f"{stem}{ext}"
            if ext == ".abc":
                dest.write_text(abc, encoding="utf-8")
            elif ext == ".mid":
                note_sequence_to_midi(seq, dest)
            else:
                note_sequence_to_musicxml(seq, dest)
            print(f"symbolic {dest.name}  {len(seq)} notes")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{len(tunes)} songs, {total / 1e6:.1f} MB in {out}")


if __name__ == "__main__":
    main()
