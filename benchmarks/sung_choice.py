"""Which path does ``--segmentation auto`` take? Development cases for the sung-path choice (issue #15).

    python benchmarks/sung_choice.py --build        # once: bench_data/s17_choice (transformed vocadito, synthetic singers)
    python benchmarks/sung_choice.py [--no-write]   # route every file, score both paths, print the table

Groups (all development data; none of it is a test set):

* real singing: ``../shared/data/melody/vocadito`` track 1, whole and cut into three 11-s excerpts, each
  also through phone-like and degraded copies: ``phone`` (300-3400 Hz band, 8 kHz, 8-bit mu-law, white
  noise at 25 dB SNR), ``phone_noisy`` (the same with pink noise at 10 dB), ``sr8k`` (8 kHz only),
  ``lowpass3k`` (8th-order Butterworth at 3 kHz), ``noise10`` (white noise, 10 dB SNR), ``pink20``,
  ``codec`` (an MP3-like artefact: per 32-ms STFT frame only the 40 strongest of 257 bins kept,
  lowpassed at 7 kHz), ``quiet`` (-30 dB), ``ramp`` (level swinging ±10 dB at 0.3 Hz).
* synthetic singers: ``tunesmith.transcribe.train.sung_clip`` (the recipe's source-filter voice; 12 seeds
  not used by the recipe's defaults), as made (``synth``, with breath and consonant bursts) and vowel-only
  (``synth_vowel``: breath noise and consonant bursts set to zero), the vowel-only ones also through the
  phone chain and with pink noise at 15 dB. Shares its generator with the transcriber's sung-voice training
  option (switched off in the shipped model).
* instruments: the FluidR3 and TimGM6mb benchmark renders (``bench_data/transcription_eval*``, clean and
  hard), 20 FluidR3 clean renders through the phone chain (``fluidr3_phone``), and the three real
  solo-violin recordings (``../shared/data/melody/bach_violin``, noisy aligned reference).

For every file it reports the route ``auto`` takes and the onset F1 of both paths (attack and contour),
so that the table shows where the choice matters.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
OUT = ROOT / "bench_data" / "s17_choice"
CACHE = ROOT / "runs" / "s17_choice_cache"
RESULTS = ROOT / "benchmarks" / "results" / "transcription_choice.md"
SR = 16000
VOC_EXCERPT_S = 11.0
N_SYNTH = 12
SYNTH_SEED0 = 9100
N_PHONE_INSTRUMENTS = 20


# ----------------------------------------------------------------------------- degradations
def _noise(rng, n, colour):
    w = rng.normal(size=n)
    if colour == "white":
        return w
    spec = np.fft.rfft(w)
    f = np.arange(len(spec), dtype=np.float64)
    spec /= np.sqrt(np.maximum(f, 1.0))          # 1/f power
    return np.fft.irfft(spec, n)


def add_noise(y, rng, snr_db, colour="white"):
    """``y`` plus noise at ``snr_db`` dB below the signal's mean power (over its louder half)."""
    p = np.sort(y.astype(np.float64) ** 2)
    sig = float(np.mean(p[len(p) // 2:])) + 1e-12
    nz = _noise(rng, len(y), colour)
    nz *= np.sqrt(sig / 10 ** (snr_db / 10) / (np.mean(nz ** 2) + 1e-20))
    return (y + nz).astype(np.float32)


def resample(y, sr_in, sr_out):
    from scipy.signal import resample_poly

    g = np.gcd(sr_in, sr_out)
    return resample_poly(y, sr_out // g, sr_in // g).astype(np.float32)


def mu_law(y, bits=8):
    mu = 2 ** bits - 1
    peak = float(np.abs(y).max()) + 1e-9
    x = np.clip(y / peak, -1, 1)
    c = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    c = np.round((c + 1) / 2 * mu) / mu * 2 - 1
    return (np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu * peak).astype(np.float32)


def butter(y, sr, kind, hz, order=4):
    from scipy.signal import butter as b, sosfilt

    return sosfilt(b(order, hz, kind, fs=sr, output="sos"), y).astype(np.float32)


def phone(y, sr, rng, snr_db=25.0, colour="white"):
    """(samples at 8 kHz, 8000): band 300-3400 Hz, 8 kHz, noise, 8-bit mu-law."""
    z = butter(y, sr, "bandpass", [300, 3400])
    z = resample(z, sr, 8000)
    z = add_noise(z, rng, snr_db, colour)
    return mu_law(z), 8000


def codec(y, sr, keep=40):
    from scipy.signal import istft, stft

    _, _, Z = stft(y, sr, nperseg=512)
    mag = np.abs(Z)
    thr = -np.sort(-mag, axis=0)[keep - 1][None]
    Z = np.where(mag >= thr, Z, 0)
    _, z = istft(Z, sr, nperseg=512)
    return butter(z[: len(y)], sr, "lowpass", 7000, order=8)


def variants(y, sr, rng):
    """``{name: (samples, sr)}`` degraded copies of a 16-kHz recording (see the module docstring)."""
    t = np.arange(len(y)) / sr
    return {
        "phone": phone(y, sr, rng),
        "phone_noisy": phone(y, sr, rng, 10.0, "pink"),
        "sr8k": (resample(y, sr, 8000), 8000),
        "lowpass3k": (butter(y, sr, "lowpass", 3000, order=8), sr),
        "noise10": (add_noise(y, rng, 10.0), sr),
        "pink20": (add_noise(y, rng, 20.0, "pink"), sr),
        "codec": (codec(y, sr), sr),
        "quiet": ((y * 10 ** (-30 / 20)).astype(np.float32), sr),
        "ramp": ((y * 10 ** (10 * np.sin(2 * np.pi * 0.3 * t) / 20)).astype(np.float32), sr),
    }


class _Silenced:
    """A numpy Generator whose ``uniform(low, high)`` draws for chosen ranges return 0 (vowel-only sung_clip).

    ``sung_clip`` draws its breath-noise level from ``uniform(0.003, 0.03)`` and each consonant
    burst's level from ``uniform(0.05, 0.3)``; every other draw passes through unchanged, so the
    pitches, timing and formants are those of the same seed with breath and consonants.
    """

    def __init__(self, rng, ranges):
        self._rng, self._ranges = rng, set(ranges)

    def uniform(self, low=0.0, high=1.0, size=None):
        v = self._rng.uniform(low, high, size)
        return 0.0 * v if (low, high) in self._ranges and size is None else v

    def __getattr__(self, name):
        return getattr(self._rng, name)


BREATH_AND_CONSONANTS = ((0.003, 0.03), (0.05, 0.3))


def _write(path: Path, y, sr, notes=None):
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(y, -1, 1), sr, subtype="PCM_16")
    if notes is not None:
        from tunesmith.notes import NoteSequence, note_sequence_to_csv

        note_sequence_to_csv(notes if isinstance(notes, NoteSequence) else NoteSequence(notes), path.with_suffix(".csv"))


def build() -> None:
    from tunesmith.audio import load
    from tunesmith.notes import Note
    from tunesmith.transcribe.train import sung_clip

    rng = np.random.default_rng(17)
    voc = SHARED / "data" / "melody" / "vocadito"
    if (voc / "vocadito_1.wav").exists():
        y = load(voc / "vocadito_1.wav", sr=SR).samples
        a = np.loadtxt(voc / "vocadito_1_notesA1.csv", delimiter=",", ndmin=2)
        pieces = {"full": (0.0, len(y) / SR)}
        for i in range(3):
            pieces[f"part{i}"] = (i * VOC_EXCERPT_S, (i + 1) * VOC_EXCERPT_S)
        for name, (t0, t1) in pieces.items():
            seg = y[int(t0 * SR): int(t1 * SR)]
            ref = [Note(69 + 12 * np.log2(p / 440), s - t0, s + d - t0) for s, p, d in a
                   if s >= t0 and s + d <= t1 + 0.05]
            _write(OUT / "vocadito" / f"{name}.wav", seg, SR, ref)
            if name == "full":
                continue
            for v, (z, sr) in variants(seg, SR, rng).items():
                _write(OUT / f"vocadito_{v}" / f"{name}.wav", z, sr, ref)
    else:
        print(f"no vocadito at {voc}: real-singing groups not built", file=sys.stderr)
    for i in range(N_SYNTH):
        seed = SYNTH_SEED0 + i
        for kind, gen in (("synth", np.random.default_rng(seed)),
                          ("synth_vowel", _Silenced(np.random.default_rng(seed), BREATH_AND_CONSONANTS))):
            y, lab = sung_clip(gen, SR)
            ref = [Note(float(m), float(s), float(e)) for s, e, m in lab]
            _write(OUT / kind / f"{seed}.wav", y, SR, ref)
            if kind == "synth_vowel":
                z, sr = phone(y, SR, rng)
                _write(OUT / "synth_vowel_phone" / f"{seed}.wav", z, sr, ref)
                _write(OUT / "synth_vowel_pink15" / f"{seed}.wav", add_noise(y, rng, 15.0, "pink"), SR, ref)
    data = ROOT / "bench_data" / "transcription_eval"
    if (data / "manifest.json").exists():
        from tunesmith.notes import load_notes

        man = json.loads((data / "manifest.json").read_text())["excerpts"]
        per, chosen = defaultdict(int), []
        for m in man:
            if per[m["instrument"]] < N_PHONE_INSTRUMENTS // 10:
                per[m["instrument"]] += 1
                chosen.append(m)
        for m in chosen:
            y = load(data / "clean" / f"{m['stem']}.wav", sr=SR).samples
            z, sr = phone(y, SR, rng)
            _write(OUT / "fluidr3_phone" / f"{m['stem']}.wav", z, sr, load_notes(data / "clean" / f"{m['stem']}.csv"))
    print(f"built {OUT}", file=sys.stderr)


# ----------------------------------------------------------------------------- groups
KIND = {"vocadito": "singing", "synth": "singing", "fluidr3": "instrument", "unseen": "instrument",
        "violin": "instrument"}


def groups() -> dict[str, list[tuple[Path, object]]]:
    """``{group: [(audio path, reference NoteSequence), ...]}`` of every development group present."""
    from tunesmith.notes import Note, NoteSequence, load_notes

    out = {}
    if OUT.exists():
        for d in sorted(p for p in OUT.iterdir() if p.is_dir()):
            out[d.name] = [(w, load_notes(w.with_suffix(".csv"))) for w in sorted(d.glob("*.wav"))]
    for name, data in (("fluidr3", ROOT / "bench_data" / "transcription_eval"),
                       ("unseen", ROOT / "bench_data" / "transcription_eval_unseen")):
        for version in ("clean", "hard"):
            files = sorted((data / version).glob("*.wav"))
            if files:
                out[f"{name}_{version}"] = [(w, load_notes(w.with_suffix(".csv"))) for w in files]
    vd = SHARED / "data" / "melody" / "bach_violin"
    rows = []
    for ref in sorted(vd.glob("*.notes.csv")):
        stem = ref.name[: -len(".notes.csv")]
        audio = next(p for p in sorted(vd.glob(stem + ".*")) if p.suffix in (".mp3", ".opus", ".wav", ".flac"))
        a = np.loadtxt(ref, delimiter=",", skiprows=1, ndmin=2)
        rows.append((audio, NoteSequence([Note(float(p), float(s), float(e)) for s, e, p in a])))
    if rows:
        out["violin"] = rows
    return out


def kind_of(group: str) -> str:
    return KIND[group.split("_")[0]]


# ----------------------------------------------------------------------------- analysis
def analyse(path: Path, ref) -> dict:
    """Route one file as ``segmentation="auto"`` does and score both paths (cached under runs/)."""
    from tunesmith.transcribe import analyse_file
    from tunesmith.transcribe.evaluate import note_scores

    key = CACHE / (str(path.resolve()).replace("/", "_") + ".json")
    if key.exists():
        return json.loads(key.read_text())
    auto = analyse_file(path)
    other = analyse_file(path, segmentation="attack" if auto.sung else "contour")
    f_auto, f_other = note_scores(ref, auto.notes)[0][2], note_scores(ref, other.notes)[0][2]
    out = {"sung": bool(auto.sung), **auto.choice,
           "f_attack": f_other if auto.sung else f_auto, "f_contour": f_auto if auto.sung else f_other}
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(json.dumps(out))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="store_true", help="write the development cases to bench_data/s17_choice")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--dump", default=None, help="also write per-file statistics as JSON here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.build:
        build()
        return 0
    load0 = os.getloadavg()[0]
    rows, dump = [], []
    for group, files in groups().items():
        res = [analyse(path, ref) for path, ref in files]
        sung = np.array([r["sung"] for r in res])
        fa, fc = np.array([r["f_attack"] for r in res]), np.array([r["f_contour"] for r in res])
        screened = sum(r["screened_out"] for r in res)
        rows.append((group, kind_of(group), len(files), int(sung.sum()), screened, float(fa.mean()),
                     float(fc.mean()), float(np.where(sung, fc, fa).mean())))
        dump += [{"group": group, "file": p.name, **r} for (p, _), r in zip(files, res)]
        print(f"{group}: {int(sung.sum())}/{len(files)} sung", file=sys.stderr)
    lines = ["| group | kind | files | routed to the sung path | swift-f0 skipped (CNN screen) | onset F1 attack path "
             "| onset F1 contour path | onset F1 as routed |", "|---|---|---|---|---|---|---|---|"]
    for g, k, n, r, sk, a, c, chosen in rows:
        lines.append(f"| {g} | {k} | {n} | {r} ({r / n:.0%}) | {sk} | {a:.3f} | {c:.3f} | **{chosen:.3f}** |")
    table = "\n".join(lines)
    print(table)
    if args.dump:
        Path(args.dump).write_text(json.dumps(dump, indent=1))
    if not args.no_write:
        RESULTS.write_text(
            "# Sung-path choice on development data\n\nCommand: `python benchmarks/sung_choice.py`  \n"
            f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared CPU VM, load average {load0:.1f}), Python "
            f"{platform.python_version()}  \nDate: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
            "All groups are development data (see the docstring of benchmarks/sung_choice.py).\n\n" + table + "\n")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
