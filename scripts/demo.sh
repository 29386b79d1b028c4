#!/usr/bin/env bash
# The main job on the shipped demo data: set up (idempotent), then
#   1. transcribe the recordings in data/songs (notes as MIDI, CSV, MusicXML and a picture each),
#   2. train a small composer on the whole folder (audio is transcribed, symbolic files are parsed),
#   3. generate new melodies from it (MIDI, MusicXML, rendered audio, piano rolls),
#   4. draw the log-mel spectrograms of the recordings.
# Everything lands in out/demo/ (override with OUT=...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
TS=.venv/bin/tunesmith
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*" >&2; }

if $TS --help | grep -q " transcribe "; then
  step "1/4 transcribe data/songs -> $OUT/transcriptions"
  $TS transcribe data/songs -o "$OUT/transcriptions"
fi
if $TS train --help | grep -q "composer"; then
  step "2/4 train a composer on data/songs -> $OUT/composer"
  rm -rf "$OUT/composer"   # a fresh run each time (use --resume on a run folder to continue one)
  $TS train composer --data data/songs --config configs/composer-demo.yaml -o "$OUT/composer"
  step "3/4 generate 4 melodies -> $OUT/generated"
  $TS generate --checkpoint "$OUT/composer/best.ckpt" -o "$OUT/generated" -n 4 --seed 1
fi
if $TS --help | grep -q " features "; then
  step "4/4 log-mel spectrograms -> $OUT/features"
  $TS features data/songs --kind logmel -o "$OUT/features"
fi
step "done: see $OUT/"
