"""Transcription benchmark: tunesmith vs basic-pitch, pYIN and torchcrepe, on the same files in one run.

    python scripts/make_transcription_eval.py          # once: builds bench_data/transcription_eval
    python benchmarks/transcription.py [--quick] [--data bench_data/transcription_eval]

Peers (benchmark-only; never runtime dependencies of tunesmith):

    pip install --no-deps basic-pitch==0.4.0 torchcrepe==0.0.24
    pip install pretty_midi "resampy>=0.2.2,<0.4.3" "setuptools<81"

* basic-pitch 0.4.0, ONNX model (icassp_2022/nmp.onnx) through ``basic_pitch.inference.Model``,
  default thresholds; it is polyphonic, so only the loudest note at a time is kept (greedy by
  amplitude; a note overlapping a kept louder one by more than half its length is dropped, and
  overlaps are trimmed).
* librosa.pyin (fmin 55 Hz, fmax 2100 Hz, frame 2048, hop 256 at 22.05 kHz) + the SAME note
  segmentation as tunesmith (tunesmith.transcribe.segment) with a spectral-flux onset curve
  (tunesmith.transcribe.onsets.spectral_flux), onset threshold 0.3, pYIN's voiced flag.
* torchcrepe 0.0.24 "tiny" (Viterbi decoder, fmin 50, fmax 1980 Hz, hop 10 ms at 16 kHz;
  voiced where periodicity >= 0.21) + the same segmentation. torchaudio cannot load with the
  CPU torch here, so an inert torchaudio module is put in sys.modules before the import.

Scores: mir_eval note P/R/F1 onset-only (50 ms, 50 cents) and with offsets (ratio 0.2), mean
over files; speed = audio seconds / wall seconds from file path to notes (model loading
excluded, each system warmed up once), median over files and the ratio to basic-pitch measured
side by side, torch on 2 threads (``--threads``).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import types
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import cpu_name, run_measured  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "bench_data" / "transcription_eval"
RESULTS = ROOT / "benchmarks" / "results" / "transcription.md"
THREADS = 2


# ----------------------------------------------------------------------------- systems
def _track_from_f0(f0_hz, voiced, hop_s, y, sr, hop_length):
    """A FrameTrack for an external f0 tracker: its f0 and voicing, spectral-flux onsets, RMS power."""
    import librosa

    from tunesmith.transcribe.onsets import spectral_flux
    from tunesmith.transcribe.pitch import FrameTrack

    n = len(f0_hz)
    f0 = np.where(voiced & np.isfinite(f0_hz) & (f0_hz > 0), 69 + 12 * np.log2(np.maximum(f0_hz, 1e-6) / 440), np.nan)
    pitch = np.where(np.isfinite(f0), np.round(np.nan_to_num(f0)), 0).astype(np.int64)
    power = librosa.feature.rms(y=y, frame_length=2048, hop_length=hop_length, center=True)[0] ** 2
    power = np.pad(power, (0, max(0, n - len(power))))[:n]
    return FrameTrack(hop_s=hop_s, pitch=pitch, f0=f0, voiced=voiced.astype(np.float32),
                      confidence=np.ones(n, np.float32), onset=spectral_flux(y, sr, hop_length, n_frames=n),
                      offset=np.zeros(n, np.float32), power=power)


def make_tunesmith():
    from tunesmith.transcribe import transcribe_file
    from tunesmith.transcribe.pitch import load_model

    load_model()
    return lambda path: transcribe_file(path)


def make_basic_pitch():
    import warnings

    warnings.filterwarnings("ignore")
    from basic_pitch import ICASSP_2022_MODEL_PATH  # noqa: F401
    from basic_pitch.inference import Model, predict

    from tunesmith.notes import Note, NoteSequence

    onnx = Path(sys.modules["basic_pitch"].__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
    model = Model(onnx)

    def run(path):
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            _, _, events = predict(str(path), model)
        kept = []
        for s, e, p, a, _ in sorted(events, key=lambda ev: -ev[3]):
            ov = sum(max(0.0, min(e, ke) - max(s, ks)) for ks, ke, _, _ in kept)
            if ov <= 0.5 * (e - s):
                kept.append((s, e, p, a))
        kept.sort()
        notes = []
        for i, (s, e, p, a) in enumerate(kept):
            if i + 1 < len(kept):
                e = min(e, kept[i + 1][0])
            if e > s:
                notes.append(Note(float(p), float(s), float(e), int(np.clip(a * 127, 1, 127))))
        return NoteSequence(notes)

    return run


def make_pyin():
    import librosa

    from tunesmith.audio import load
    from tunesmith.notes import NoteSequence
    from tunesmith.transcribe.segment import segment

    sr, hop = 22050, 256

    def run(path):
        y = load(path, sr=sr).samples
        f0, flag, _ = librosa.pyin(y, fmin=55.0, fmax=2100.0, sr=sr, frame_length=2048, hop_length=hop)
        track = _track_from_f0(f0, flag.astype(bool), hop / sr, y, sr, hop)
        return NoteSequence(segment(track, onset_threshold=0.3))

    return run


def make_crepe():
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    import torch
    import torchcrepe

    from tunesmith.audio import load
    from tunesmith.notes import NoteSequence
    from tunesmith.transcribe.segment import segment

    sr, hop = 16000, 160

    def run(path):
        y = load(path, sr=sr).samples
        with torch.inference_mode():
            f0, per = torchcrepe.predict(torch.from_numpy(y)[None], sr, hop, 50.0, 1980.0, "tiny",
                                         decoder=torchcrepe.decode.viterbi, return_periodicity=True, batch_size=2048)
        per = torchcrepe.filter.median(per, 3)
        f0, per = f0[0].numpy(), per[0].numpy()
        track = _track_from_f0(f0, per >= 0.21, hop / sr, y, sr, hop)
        return NoteSequence(segment(track, onset_threshold=0.3))

    # load the weights outside the timed region
    torchcrepe.infer(torch.zeros(1, 1024), "tiny")
    return run


SYSTEMS = {"tunesmith": make_tunesmith, "basic-pitch": make_basic_pitch, "pYIN+seg": make_pyin,
           "crepe-tiny+seg": make_crepe}


# ----------------------------------------------------------------------------- long files
def memory_check(data: Path, minutes: float = 60.0) -> str:
    """Tile one clean excerpt into a ``minutes``-long WAV, transcribe it in a fresh process, report peak RSS."""
    import tempfile

    import soundfile as sf

    src = sorted((data / "clean").glob("*.wav"))[0]
    y, sr = sf.read(str(src), dtype="int16")
    reps = int(np.ceil(minutes * 60 * sr / len(y)))
    with tempfile.TemporaryDirectory() as tmp:
        long_wav = Path(tmp) / "long.wav"
        with sf.SoundFile(str(long_wav), "w", sr, 1, "PCM_16") as f:
            for _ in range(reps):
                f.write(y)
        code = ("import sys, time; from tunesmith.transcribe import transcribe_file; "
                "t = time.perf_counter(); s = transcribe_file(sys.argv[1], progress=True); "
                "print(len(s), time.perf_counter() - t)")
        (n, secs), rss = run_measured(code, str(long_wav))
    dur = reps * len(y) / sr
    return (f"Long file: {dur / 60:.0f} min WAV ({src.name} tiled) -> {n} notes in {float(secs):.0f} s "
            f"({dur / float(secs):.0f}x realtime), peak memory (max RSS of the whole process) {float(rss):.0f} MB.")


# ----------------------------------------------------------------------------- speed
SPEED_RESULTS = ROOT / "benchmarks" / "results" / "transcription_speed.md"


def speed_check(data: Path, manifest: list, systems: dict, repeats: int, threads: int) -> str:
    """Time the fast systems side by side on every file (clean and hard), alternating, ``repeats`` times.

    Per file: the median wall time of each system; speed = audio seconds / that time. Reported: the
    median over files of each system's speed, and the median over files of the per-file ratio.
    """
    import os

    from tunesmith.audio import info

    load0 = os.getloadavg()[0]
    per_file = defaultdict(list)          # name -> [x realtime per file]
    ratios = defaultdict(list)            # name -> [per-file speed / basic-pitch speed]
    total = 0.0
    for version in ("clean", "hard"):
        for m in manifest:
            path = data / version / f"{m['stem']}.wav"
            dur = info(path)["duration"]
            total += dur
            times = defaultdict(list)
            for _ in range(repeats):
                for name, run in systems.items():
                    t0 = time.perf_counter()
                    run(path)
                    times[name].append(time.perf_counter() - t0)
            speeds = {n: dur / statistics.median(t) for n, t in times.items()}
            for n, v in speeds.items():
                per_file[n].append(v)
                if "basic-pitch" in speeds and n != "basic-pitch":
                    ratios[n].append(v / speeds["basic-pitch"])
    load1 = os.getloadavg()[0]
    lines = [f"{len(manifest)} excerpts x (clean, hard) = {total:.0f} s of audio; each file {repeats} times per "
             f"system, systems alternating; torch/onnxruntime {threads} threads; load average {load0:.1f} before, "
             f"{load1:.1f} after.", "",
             "| system | speed (x realtime, median of files) | 10th-90th percentile of files | "
             "per-file ratio to basic-pitch (median) |", "|---|---|---|---|"]
    for n, v in per_file.items():
        r = f"{statistics.median(ratios[n]):.2f}x" if ratios.get(n) else "—"
        lines.append(f"| {n} | **{statistics.median(v):.0f}x** | {np.percentile(v, 10):.0f}x - "
                     f"{np.percentile(v, 90):.0f}x | {r} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- run
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--quick", action="store_true", help="one excerpt per instrument")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/transcription.md")
    ap.add_argument("--memory", action="store_true", help="only run the 60-minute-file memory check")
    ap.add_argument("--threads", type=int, default=THREADS, help="torch / onnxruntime threads (default 2)")
    ap.add_argument("--speed", action="store_true",
                    help="only time tunesmith and basic-pitch side by side on every file (and the 60-min "
                         "memory check); writes benchmarks/results/transcription_speed.md")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per file and system with --speed")
    args = ap.parse_args(argv)
    if args.memory:
        print(memory_check(Path(args.data)))
        return 0
    import torch

    torch.set_num_threads(args.threads)
    from tunesmith.audio import info
    from tunesmith.notes import load_notes
    from tunesmith.transcribe.evaluate import note_scores

    data = Path(args.data)
    manifest = json.loads((data / "manifest.json").read_text())["excerpts"]
    if args.quick:
        seen, sub = set(), []
        for m in manifest:
            if m["instrument"] not in seen:
                seen.add(m["instrument"])
                sub.append(m)
        manifest = sub
    systems = {}
    if args.speed and args.systems == ",".join(SYSTEMS):
        args.systems = "tunesmith,basic-pitch"
    for name in args.systems.split(","):
        try:
            systems[name] = SYSTEMS[name]()
        except Exception as exc:  # noqa: BLE001 - a peer that does not install is reported, not fatal
            print(f"skipping {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    warm = data / "clean" / f"{manifest[0]['stem']}.wav"
    for run in systems.values():
        run(warm)
    if args.speed:
        table = speed_check(data, manifest, systems, args.repeats, args.threads) + "\n\n" + memory_check(data)
        print(table)
        if not args.no_write and not args.quick:
            SPEED_RESULTS.write_text(
                "# Transcription speed and memory\n\nCommand: `python benchmarks/transcription.py --speed`  \n"
                f"Machine: {cpu_name()}, {__import__('os').cpu_count()} cores (shared CPU VM), Python "
                f"{platform.python_version()}, torch {torch.__version__}  \n"
                f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{table}\n")
            print(f"wrote {SPEED_RESULTS}", file=sys.stderr)
        return 0
    scores = defaultdict(list)          # (version, system) -> [(instrument, (P,R,F), (Po,Ro,Fo))]
    timing = defaultdict(lambda: [0.0, 0.0])
    per_file_speed = defaultdict(list)
    for version in ("clean", "hard"):
        for m in manifest:
            path = data / version / f"{m['stem']}.wav"
            ref = load_notes(data / version / f"{m['stem']}.csv")
            dur = info(path)["duration"]
            for name, run in systems.items():
                t0 = time.perf_counter()
                est = run(path)
                dt = time.perf_counter() - t0
                timing[name][0] += dur
                timing[name][1] += dt
                per_file_speed[name].append(dur / max(dt, 1e-9))
                on, off = note_scores(ref, est)
                scores[(version, name)].append((m["instrument"], on, off))
            print(f"{version} {m['stem']}: " + ", ".join(f"{n} {scores[(version, n)][-1][1][2]:.2f}"
                                                        for n in systems), file=sys.stderr)
    total_audio = sum(info(data / 'clean' / f"{m['stem']}.wav")["duration"] for m in manifest)
    lines = [f"Evaluation set: {len(manifest)} excerpts ({total_audio:.0f} s each version) of folk tunes "
             f"rendered on {len({m['instrument'] for m in manifest})} instruments (FluidSynth, FluidR3 GM); "
             "hard = room reverb + pink noise at 20 dB SNR.", ""]
    lines.append("| system | clean onset P | clean onset R | clean onset F1 | clean F1 w/ offsets | hard onset F1 | "
                 "hard F1 w/ offsets | speed (x realtime, median of files) |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name in systems:
        c, h = scores[("clean", name)], scores[("hard", name)]
        mean = lambda rows, k, i: float(np.mean([r[k][i] for r in rows]))  # noqa: E731
        speed = float(np.median(per_file_speed[name]))
        ref_speed = float(np.median(per_file_speed["basic-pitch"])) if "basic-pitch" in per_file_speed else None
        ratio = f" ({speed / ref_speed:.2f}x basic-pitch)" if ref_speed and name != "basic-pitch" else ""
        lines.append(f"| {name} | {mean(c, 1, 0):.3f} | {mean(c, 1, 1):.3f} | **{mean(c, 1, 2):.3f}** | "
                     f"{mean(c, 2, 2):.3f} | **{mean(h, 1, 2):.3f}** | {mean(h, 2, 2):.3f} | {speed:.0f}x{ratio} |")
    lines += ["", "Onset-only F1 per instrument (clean / hard):", ""]
    insts = sorted({m["instrument"] for m in manifest})
    lines.append("| instrument | " + " | ".join(systems) + " |")
    lines.append("|---|" + "---|" * len(systems))
    for inst in insts:
        cells = []
        for name in systems:
            c = [r[1][2] for r in scores[("clean", name)] if r[0] == inst]
            h = [r[1][2] for r in scores[("hard", name)] if r[0] == inst]
            cells.append(f"{np.mean(c):.2f} / {np.mean(h):.2f}")
        lines.append(f"| {inst} | " + " | ".join(cells) + " |")
    if not args.quick:
        lines += ["", memory_check(data)]
    table = "\n".join(lines)
    print(table)
    if not args.no_write and not args.quick:
        import os

        machine = (f"{cpu_name()}, {os.cpu_count()} cores (shared CPU VM, load average {os.getloadavg()[1]:.1f} "
                   f"at the end of the run), Python {platform.python_version()}, torch {torch.__version__}, "
                   f"{args.threads} threads")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(f"# Transcription benchmark\n\nCommand: `python benchmarks/transcription.py`  \n"
                           f"Machine: {machine}  \nDate: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
                           f"{table}\n")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
