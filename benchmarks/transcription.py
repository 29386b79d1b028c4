"""Transcription benchmark: tunesmith vs swift-f0, pesto and basic-pitch (pYIN, torchcrepe with --slow), same files, one run.

    python scripts/make_transcription_eval.py            # once: bench_data/transcription_eval (FluidR3)
    python scripts/make_transcription_eval.py --unseen   # once: bench_data/transcription_eval_unseen (TimGM6mb)
    python benchmarks/transcription.py [--quick] [--slow] [--sets fluidr3,unseen,vocadito,violin]

Sets (``generator shared with training`` says what tunesmith's training clips have in common with it):

* ``fluidr3``: 50 folk-tune excerpts on 10 instruments rendered through FluidR3 GM, clean and hard
  (room reverb + pink noise at 20 dB SNR). Shares soundfont, GM programs, performance, reverb and
  noise code with the training clips (in-distribution).
* ``unseen``: 20 excerpts on the same 10 instruments rendered through TimGM6mb, a soundfont no
  training clip uses; the hard copies share the reverb and noise code.
* ``vocadito``: real solo singing (``../shared/data/melody/vocadito``, track 1), annotator A1 as
  reference; A2 scored against A1 is the human-agreement line; frame raw pitch accuracy against
  the annotated f0 (mir_eval.melody, 50 cents, over the reference's voiced frames, the
  system's unvoiced frames count as misses). Shares nothing with training. It is also the file the
  sung path's thresholds were chosen on (development data).
* ``violin``: three real solo-violin recordings (``../shared/data/melody/bach_violin``); the
  reference comes from an automatic score alignment (about 90 % of notes right, offsets score-legato):
  a noisy reference, good for spotting failures. Shares nothing with training.

Peers (benchmark-only; never runtime dependencies of tunesmith; ``../shared/PEERS.md``):

    pip install --no-deps basic-pitch==0.4.0 pesto-pitch==2.0.1 torchcrepe==0.0.24
    pip install pretty_midi omegaconf "resampy>=0.2.2,<0.4.3" "setuptools<81"

* swift-f0 0.3.0 (ONNX) with its own note segmentation (``swift_f0.segment_notes``, default 80 ms hold);
  pitch = its fitted pitch in Hz.
* pesto 2.0.1 (``mir-1k_g7``, 16 ms hop at 16 kHz) + the SAME note segmentation as tunesmith's attack
  path (tunesmith.transcribe.segment with a spectral-flux onset curve, onset threshold 0.3); voiced where
  its confidence >= 0.12 (its confidence is not calibrated at 0.5: 0.12 gives voicing recall 0.93 with
  no false alarms on vocadito_1). torchaudio cannot load with the CPU torch here, so an inert
  torchaudio module is put in sys.modules first.
* basic-pitch 0.4.0, ONNX model (icassp_2022/nmp.onnx) through ``basic_pitch.inference.Model``,
  default thresholds; polyphonic, so only the loudest note at a time is kept (greedy by amplitude;
  a note overlapping a kept louder one by more than half its length is dropped, overlaps trimmed).
* ``--slow`` adds librosa.pyin and torchcrepe "tiny" (Viterbi, fmax 1980 Hz), each + the same segmentation.

Scores: mir_eval note P/R/F1 onset-only (50 ms, 50 cents) and with offsets (ratio 0.2), mean over
files; notes found vs annotated (sums); speed = audio seconds / wall seconds from file path to notes
(model loading excluded, each system warmed up once), median over files, with the ratio to
basic-pitch measured side by side; torch and onnxruntime on ``--threads`` threads.
"""
from __future__ import annotations

import argparse
import json
import os
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
SHARED = ROOT.parent / "shared"
DEFAULT_DATA = ROOT / "bench_data" / "transcription_eval"
UNSEEN_DATA = ROOT / "bench_data" / "transcription_eval_unseen"
RESULTS = ROOT / "benchmarks" / "results" / "transcription.md"
THREADS = 2
PESTO_VOICED = 0.12
SETS = ("fluidr3", "unseen", "vocadito", "violin")
SHARED_WITH_TRAINING = {
    "fluidr3": "yes: soundfont, GM programs, performance, reverb + noise code",
    "unseen": "no soundfont; hard copies share the reverb + noise code",
    "vocadito": "nothing (real singing; sung-path thresholds chosen on it)",
    "violin": "nothing (real violin; noisy aligned reference)",
}


# ----------------------------------------------------------------------------- systems
# Each system maps a path to (NoteSequence, (frame times s, f0 Hz with 0 = unvoiced) or None).
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


def _f0_of(times, hz, voiced):
    return np.asarray(times, dtype=np.float64), np.where(voiced, np.asarray(hz, dtype=np.float64), 0.0)


SUNG_FILES: list = []      # files on which tunesmith took the sung path (reported under the tables)
SCREENED: list = []        # files on which the CNN screen ruled singing out (no swift-f0 pass)


def make_tunesmith():
    from tunesmith.transcribe import analyse_file
    from tunesmith.transcribe.pitch import load_model

    load_model()

    def run(path):
        res = analyse_file(Path(path))
        tr = res.track
        if res.sung:
            SUNG_FILES.append(Path(path).name)
        if (getattr(res, "choice", None) or {}).get("screened_out"):
            SCREENED.append(Path(path).name)
        hz = np.where(np.isfinite(tr.f0), 440.0 * 2 ** ((np.nan_to_num(tr.f0) - 69) / 12), 0.0)
        return res.notes, (tr.times, hz)

    return run


def make_swift():
    from swift_f0 import SwiftF0, segment_notes

    from tunesmith.audio import load
    from tunesmith.notes import Note, NoteSequence, hz_to_midi

    det = SwiftF0(threads=THREADS)

    def run(path):
        r = det.detect(load(path, sr=16000).samples, 16000)
        notes = [Note(float(hz_to_midi(n.pitch_hz)), n.start, n.end) for n in segment_notes(r)]
        return NoteSequence(notes), _f0_of(r.timestamps, r.pitch_hz, r.confidence >= 0.5)

    return run


def make_pesto():
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    import pesto
    import torch

    from tunesmith.audio import load
    from tunesmith.notes import NoteSequence
    from tunesmith.transcribe.segment import segment

    sr, hop = 16000, 256
    model = pesto.load_model("mir-1k_g7", 1000 * hop / sr, sampling_rate=sr)

    def run(path):
        y = load(path, sr=sr).samples
        with torch.inference_mode():
            f0, conf, _, _ = model(torch.from_numpy(y)[None], sr=sr, convert_to_freq=True, return_activations=True)
        f0, conf = f0[0].numpy().astype(np.float64), conf[0].numpy()
        voiced = conf >= PESTO_VOICED
        track = _track_from_f0(f0, voiced, hop / sr, y, sr, hop)
        return NoteSequence(segment(track, onset_threshold=0.3)), _f0_of(np.arange(len(f0)) * hop / sr, f0, voiced)

    return run


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
        return NoteSequence(notes), None

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
        return NoteSequence(segment(track, onset_threshold=0.3)), _f0_of(np.arange(len(f0)) * hop / sr,
                                                                          np.nan_to_num(f0), flag.astype(bool))

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
        return NoteSequence(segment(track, onset_threshold=0.3)), _f0_of(np.arange(len(f0)) * hop / sr, f0, per >= 0.21)

    torchcrepe.infer(torch.zeros(1, 1024), "tiny")    # load the weights outside the timed region
    return run


SYSTEMS = {"tunesmith": make_tunesmith, "swift-f0": make_swift, "pesto+seg": make_pesto,
           "basic-pitch": make_basic_pitch}
SLOW_SYSTEMS = {"pYIN+seg": make_pyin, "crepe-tiny+seg": make_crepe}


# ----------------------------------------------------------------------------- sets
def _csv_notes(path, columns):
    """Notes from a CSV of (onset, pitch Hz, duration) ('vocadito') or (onset, offset, MIDI) with a header ('violin')."""
    from tunesmith.notes import Note, NoteSequence, hz_to_midi

    if columns == "vocadito":
        a = np.loadtxt(path, delimiter=",", ndmin=2)
        return NoteSequence([Note(float(hz_to_midi(p)), float(s), float(s + d)) for s, p, d in a])
    a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return NoteSequence([Note(float(p), float(s), float(e)) for s, e, p in a])


def set_files(name: str, quick: bool) -> list[tuple[str, str, Path, object]]:
    """``[(version, label, audio path, reference NoteSequence), ...]`` of one set; empty (with a message) when absent."""
    from tunesmith.notes import load_notes

    out = []
    if name in ("fluidr3", "unseen"):
        data = DEFAULT_DATA if name == "fluidr3" else UNSEEN_DATA
        if not (data / "manifest.json").exists():
            flag = " --unseen" if name == "unseen" else ""
            print(f"skipping set {name}: {data} missing (python scripts/make_transcription_eval.py{flag})",
                  file=sys.stderr)
            return []
        manifest = json.loads((data / "manifest.json").read_text())["excerpts"]
        if quick:
            seen, sub = set(), []
            for m in manifest:
                if m["instrument"] not in seen:
                    seen.add(m["instrument"])
                    sub.append(m)
            manifest = sub
        for version in ("clean", "hard"):
            for m in manifest:
                out.append((version, m["instrument"], data / version / f"{m['stem']}.wav",
                            load_notes(data / version / f"{m['stem']}.csv")))
    elif name == "vocadito":
        d = SHARED / "data" / "melody" / "vocadito"
        if not (d / "vocadito_1.wav").exists():
            print(f"skipping set vocadito: {d} missing", file=sys.stderr)
            return []
        out.append(("real", "vocadito_1", d / "vocadito_1.wav", _csv_notes(d / "vocadito_1_notesA1.csv", "vocadito")))
    elif name == "violin":
        d = SHARED / "data" / "melody" / "bach_violin"
        refs = sorted(d.glob("*.notes.csv"))
        if not refs:
            print(f"skipping set violin: {d} missing", file=sys.stderr)
            return []
        for ref in refs[:1] if quick else refs:
            stem = ref.name[: -len(".notes.csv")]
            audio = next(p for p in sorted(d.glob(stem + ".*")) if p.suffix in (".mp3", ".opus", ".wav", ".flac"))
            out.append(("real", stem, audio, _csv_notes(ref, "violin")))
    return out


def vocadito_rpa(f0_track) -> float | None:
    """Raw pitch accuracy against vocadito_1's annotated f0 (50 cents; unvoiced estimates count as misses)."""
    import mir_eval

    if f0_track is None:
        return None
    ref = np.loadtxt(SHARED / "data" / "melody" / "vocadito" / "vocadito_1_f0.csv", delimiter=",", ndmin=2)
    times, hz = f0_track
    rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(ref[:, 0], ref[:, 1], times, hz)
    return float(mir_eval.melody.raw_pitch_accuracy(rv, rc, ev, ec))


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
def _mean(rows, k):
    return float(np.mean([r[k] for r in rows])) if rows else float("nan")


def set_table(name: str, rows: dict, systems: list[str]) -> list[str]:
    """Markdown lines for one set: per version a row per system (onset F1, F1 w/ offsets, RPA, notes, speed)."""
    lines = []
    versions = sorted({v for (v, _) in rows}, key=["clean", "hard", "real"].index)
    for version in versions:
        title = {"clean": "clean", "hard": "hard (reverb + pink noise 20 dB)", "real": "real recordings"}[version]
        lines += [f"**{name}, {title}** — generator shared with training: {SHARED_WITH_TRAINING[name]}", "",
                  "| system | onset P | onset R | onset F1 | F1 w/ offsets | frame RPA | notes found / annotated "
                  "| speed (x realtime, median) |", "|---|---|---|---|---|---|---|---|"]
        bp = rows.get((version, "basic-pitch"))
        bp_speed = statistics.median([r["speed"] for r in bp]) if bp else None
        for s in systems:
            r = rows.get((version, s))
            if not r:
                continue
            rpas = [x["rpa"] for x in r if x["rpa"] is not None]
            rpa = f"{np.mean(rpas):.3f}" if rpas else "—"
            sp = statistics.median([x["speed"] for x in r])
            ratio = f" ({sp / bp_speed:.2f}x basic-pitch)" if bp_speed and s != "basic-pitch" else ""
            lines.append(f"| {s} | {_mean(r, 'p'):.3f} | {_mean(r, 'r'):.3f} | **{_mean(r, 'f'):.3f}** | "
                         f"{_mean(r, 'fo'):.3f} | {rpa} | {sum(x['n_est'] for x in r)} / {sum(x['n_ref'] for x in r)} "
                         f"| {sp:.0f}x{ratio} |")
        lines.append("")
    return lines


def per_instrument(rows: dict, systems: list[str]) -> list[str]:
    insts = sorted({x["label"] for (v, s), r in rows.items() for x in r})
    lines = ["| instrument | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for inst in insts:
        cells = []
        for s in systems:
            c = [x["f"] for x in rows.get(("clean", s), []) if x["label"] == inst]
            h = [x["f"] for x in rows.get(("hard", s), []) if x["label"] == inst]
            cells.append(f"{np.mean(c):.2f} / {np.mean(h):.2f}" if c and h else "—")
        lines.append(f"| {inst} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="the FluidR3 set (for --speed / --memory)")
    ap.add_argument("--quick", action="store_true", help="one excerpt per instrument, one violin file")
    ap.add_argument("--slow", action="store_true", help="also pYIN and torchcrepe (slow)")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--systems", default=None, help="comma-separated subset of the systems")
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/transcription.md")
    ap.add_argument("--memory", action="store_true", help="only run the 60-minute-file memory check")
    ap.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads (default 2)")
    ap.add_argument("--speed", action="store_true",
                    help="only time tunesmith and basic-pitch side by side on every FluidR3 file (and the 60-min "
                         "memory check); writes benchmarks/results/transcription_speed.md")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per file and system with --speed")
    args = ap.parse_args(argv)
    global THREADS
    THREADS = args.threads
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.memory:
        print(memory_check(Path(args.data)))
        return 0
    import torch

    torch.set_num_threads(args.threads)
    from tunesmith.audio import info
    from tunesmith.transcribe.evaluate import note_scores

    makers = dict(SYSTEMS, **(SLOW_SYSTEMS if args.slow else {}))
    wanted = args.systems.split(",") if args.systems else list(makers)
    if args.speed and not args.systems:
        wanted = ["tunesmith", "basic-pitch"]
    systems = {}
    for name in wanted:
        try:
            systems[name] = (makers.get(name) or {**SYSTEMS, **SLOW_SYSTEMS}[name])()
        except Exception as exc:  # noqa: BLE001 - a peer that does not install is reported, not fatal
            print(f"skipping {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    if args.speed:
        data = Path(args.data)
        manifest = json.loads((data / "manifest.json").read_text())["excerpts"]
        timed = {n: (lambda r: (lambda p: r(p)[0]))(r) for n, r in systems.items()}
        for run in timed.values():
            run(data / "clean" / f"{manifest[0]['stem']}.wav")
        table = speed_check(data, manifest, timed, args.repeats, args.threads) + "\n\n" + memory_check(data)
        print(table)
        if not args.no_write and not args.quick:
            SPEED_RESULTS.write_text(
                "# Transcription speed and memory\n\nCommand: `python benchmarks/transcription.py --speed"
                + (f" --repeats {args.repeats}" if args.repeats != 3 else "")
                + (f" --threads {args.threads}" if args.threads != 2 else "") + "`  \n"
                f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared CPU VM), Python "
                f"{platform.python_version()}, torch {torch.__version__}  \n"
                f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{table}\n")
            print(f"wrote {SPEED_RESULTS}", file=sys.stderr)
        return 0
    load0 = os.getloadavg()[0]
    sections = []
    warmed = False
    for set_name in args.sets.split(","):
        files = set_files(set_name, args.quick)
        if not files:
            continue
        if not warmed:
            for run in systems.values():
                run(files[0][2])
            warmed = True
        rows = defaultdict(list)
        SUNG_FILES.clear()
        SCREENED.clear()
        for version, label, path, ref in files:
            dur = info(path)["duration"]
            for name, run in systems.items():
                t0 = time.perf_counter()
                est, f0 = run(path)
                dt = time.perf_counter() - t0
                (p, r, f), (_, _, fo) = note_scores(ref, est)
                rpa = vocadito_rpa(f0) if set_name == "vocadito" else None
                rows[(version, name)].append({"label": label, "p": p, "r": r, "f": f, "fo": fo, "rpa": rpa,
                                              "n_est": len(est), "n_ref": len(ref), "speed": dur / max(dt, 1e-9)})
            print(f"{set_name} {version} {path.name}: " + ", ".join(
                f"{n} {rows[(version, n)][-1]['f']:.2f}" for n in systems), file=sys.stderr)
        lines = [f"### {set_name}", ""] + set_table(set_name, rows, list(systems))
        if set_name == "vocadito":
            from tunesmith.transcribe.evaluate import note_scores as ns

            d = SHARED / "data" / "melody" / "vocadito"
            (hp, hr, hf), (_, _, hfo) = ns(_csv_notes(d / "vocadito_1_notesA1.csv", "vocadito"),
                                           _csv_notes(d / "vocadito_1_notesA2.csv", "vocadito"))
            lines += [f"Human agreement (annotator A2 scored against A1): onset F1 {hf:.3f}, with offsets {hfo:.3f}.", ""]
        if set_name in ("fluidr3", "unseen"):
            lines += ["Onset-only F1 per instrument (clean / hard):", ""] + per_instrument(rows, list(systems)) + [""]
        if "tunesmith" in systems:
            lines += [f"tunesmith took the sung path (contour segmentation) on {len(SUNG_FILES)} of {len(files)} files"
                      + (f": {', '.join(sorted(set(SUNG_FILES)))}." if SUNG_FILES else ".")
                      + f" The CNN screen skipped the swift-f0 pass on {len(SCREENED)} of {len(files)}.", ""]
        sections.append("\n".join(lines))
        print("\n".join(lines))
    if not args.quick and "fluidr3" in args.sets.split(",") and (Path(args.data) / "manifest.json").exists():
        sections.append(memory_check(Path(args.data)))
    table = "\n".join(sections)
    print(table)
    if not args.no_write and not args.quick:
        machine = (f"{cpu_name()}, {os.cpu_count()} cores (shared CPU VM, load average {load0:.1f} at the start and "
                   f"{os.getloadavg()[1]:.1f} at the end of the run), Python {platform.python_version()}, "
                   f"torch {torch.__version__}, {args.threads} threads")
        cmd = "python benchmarks/transcription.py" + (" --slow" if args.slow else "") + \
              (f" --sets {args.sets}" if args.sets != ",".join(SETS) else "") + \
              (f" --threads {args.threads}" if args.threads != 2 else "")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(f"# Transcription benchmark\n\nCommand: `{cmd}`  \nMachine: {machine}  \n"
                           f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{table}\n")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
