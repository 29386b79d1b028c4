"""Build piano -> violin pair sets for ``tunesmith train transform`` and ``benchmarks/transform.py``.

Recipe (issue 6): the soprano line of a Bach chorale from music21's corpus, one
clip of 4-10 s per chorale (tempo 70-110 BPM, transposition -3..+4 semitones,
velocities 64-100), rendered twice from the same notes with FluidSynth and the
FluidR3 GM soundfont (reverb and chorus off) at 22,050 Hz: GM program 0 (piano)
is the input, program 40 (violin) the output, so the pairs are sample-aligned.
Chorales come from ``../shared/benchmarks/chorale_split.json`` so that the
training and test clips never share a hymn tune.

Usage::

    python scripts/make_transform_pairs.py bench          # bench_data/transform/{train,test}/{input,output}/*.wav
    python scripts/make_transform_pairs.py demo           # data/pairs/{input,output}/*.ogg (small, shipped)
    python scripts/make_transform_pairs.py test-clips     # data/pairs_test/: 2 test-split clips (the quality test)
    python scripts/make_transform_pairs.py bench --n-train 40 --n-test 10 --out /tmp/pairs
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPLIT_JSON = REPO.parent / "shared" / "benchmarks" / "chorale_split.json"  # the repository's sibling
SR = 22050
PIANO, VIOLIN = 0, 40
TEMPO_RANGE = (70.0, 110.0)
TRANSPOSE_RANGE = (-3, 4)
VELOCITY_RANGE = (64, 100)
CLIP_RANGE_S = (4.0, 10.0)
TAIL_S = 0.5


def chorale_lists(split_json: Path = SPLIT_JSON) -> dict[str, list[str]]:
    """The train/valid/test lists of music21 corpus paths (chorales disjoint by melody family)."""
    data = json.loads(split_json.read_text())
    return {k: list(data[k]) for k in ("train", "valid", "test")}


def make_clip(corpus_path: str, rng: np.random.Generator):
    """One random 4-10 s excerpt of the chorale's soprano line as a NoteSequence (or None if too short)."""
    import music21

    from tunesmith.notes import Note, NoteSequence, music21_to_note_sequence

    seq = music21_to_note_sequence(music21.corpus.parse(corpus_path))
    notes = [n for n in seq.notes if n.onset_beats is not None and n.duration_beats]
    if len(notes) < 4:
        return None
    tempo = float(rng.uniform(*TEMPO_RANGE))
    spb = 60.0 / tempo
    shift = int(rng.integers(TRANSPOSE_RANGE[0], TRANSPOSE_RANGE[1] + 1))
    target = float(rng.uniform(*CLIP_RANGE_S))
    start = int(rng.integers(0, max(1, len(notes) - 4)))
    b0 = notes[start].onset_beats
    out = []
    for n in notes[start:]:
        on = (n.onset_beats - b0) * spb
        off = on + n.duration_beats * spb
        if off > target and out:
            break
        out.append(Note(pitch=n.pitch + shift, onset=on, offset=min(off, target),
                        velocity=int(rng.integers(VELOCITY_RANGE[0], VELOCITY_RANGE[1] + 1))))
    if out[-1].offset < CLIP_RANGE_S[0] - TAIL_S and start > 0:
        return None
    name = Path(corpus_path).stem.replace(".", "_")
    return NoteSequence(out, tempo=tempo, name=name)


def render_pair(seq, sr: int = SR):
    """Render ``seq`` as piano (input) and violin (output); both have exactly the same length."""
    from tunesmith.render import render

    a = render(seq, sr, program=PIANO, engine="fluidsynth", tail_s=TAIL_S)
    b = render(seq, sr, program=VIOLIN, engine="fluidsynth", tail_s=TAIL_S)
    n = min(len(a), len(b))
    return a.samples[:n], b.samples[:n]


def build(paths: list[str], out: Path, n: int, seed: int, ext: str, max_s: float | None = None) -> int:
    """Render up to ``n`` pairs from ``paths`` into ``out/input`` and ``out/output``; returns the count."""
    import soundfile as sf

    from tunesmith.audio import Audio, save

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    (out / "input").mkdir(parents=True, exist_ok=True)
    (out / "output").mkdir(parents=True, exist_ok=True)
    done = 0
    for i in order:
        if done >= n:
            break
        seq = make_clip(paths[i], rng)
        if seq is None:
            continue
        if max_s is not None:
            seq = seq.copy(notes=[x for x in seq.notes if x.onset < max_s - 0.3])
        x, y = render_pair(seq)
        if np.max(np.abs(y)) < 1e-3 or np.max(np.abs(x)) < 1e-3:
            continue
        name = f"{done:03d}_{seq.name}{ext}"
        save(Audio(x, SR), out / "input" / name)
        save(Audio(y, SR), out / "output" / name)
        done += 1
        print(f"\r{out}: {done}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    del sf
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["bench", "demo", "test-clips"])
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-test", type=int, default=40)
    p.add_argument("--n-demo", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    lists = chorale_lists()
    if args.what == "bench":
        out = args.out or REPO / "bench_data" / "transform"
        build(lists["train"], out / "train", args.n_train, args.seed, ".wav")
        build(lists["test"], out / "test", args.n_test, args.seed + 1, ".wav")
    elif args.what == "test-clips":
        # Two short clips of TEST-split chorales (never seen in training) for tests/test_transform.py.
        out = args.out or REPO / "data" / "pairs_test"
        build(lists["test"], out, 2, args.seed + 11, ".ogg", max_s=4.0)
    else:
        # Demo pairs: short OGG clips of training-split chorales (never test chorales), a few MB in all.
        out = args.out or REPO / "data" / "pairs"
        build(lists["train"] + lists["valid"], out, args.n_demo, args.seed + 7, ".ogg", max_s=5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
