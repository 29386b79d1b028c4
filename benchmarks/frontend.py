#!/usr/bin/env python
"""Front-end benchmark: tunesmith.features against librosa 0.11, in the same run.

What it measures
----------------
* Throughput (seconds of audio per second of wall time, "x realtime") of every
  representation (STFT magnitude, log-STFT, mel, log-mel, MFCC, PCEN, CQT) on
  10 minutes of real-sounding audio: FluidSynth renders (violin, flute, piano, cello,
  clarinet) of Bach chorale melodies from music21's corpus, at 22050 Hz, as one batch
  of 60 ten-second windows. librosa gets the same batch as one ``(60, samples)`` array
  (its functions are vectorised over leading axes). Same settings on both sides
  (n_fft 2048, hop 512, 128 mels, 20 MFCC, 84-bin CQT from C1, PCEN defaults).
* With 1 and 2 threads: ``torch.set_num_threads`` for tunesmith, ``threadpoolctl`` (BLAS)
  and numba's thread count for librosa. Repeats alternate torch / librosa so that the
  load from other jobs on the shared machine hits both alike; medians of ``--repeats``
  (>= 5) runs; the ratio is tunesmith's throughput over librosa's.
* Agreement with librosa on the same batch (max dB error on the top 80 dB for the log
  kinds, correlation for the others).
* Peak memory (max RSS of the process) of ``tunesmith features`` on a 60-minute file
  (44.1 kHz 16-bit WAV, resampled to 22050 Hz on the fly), for log-mel and for STFT.
* A GPU column is added when CUDA is available.

Bars (issue 3): log-mel, mel, STFT, MFCC and PCEN >= 1.5x librosa's throughput; CQT >= 0.5x;
peak memory on the 60-minute file <= 500 MB.

Run: ``python benchmarks/frontend.py`` (about 10 minutes on 2 cores) or ``--quick``
(1 minute of audio, 3 repeats, 10-minute file; a smoke run, not for the table).
Needs only the project's environment plus ``pip install threadpoolctl`` (benchmark-only).
Writes the tables to ``benchmarks/results/frontend.md`` (not with ``--quick``).
Data (renders, the long file) is cached in ``bench_data/frontend/``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench_data" / "frontend"
RESULTS = ROOT / "benchmarks" / "results" / "frontend.md"
SR = 22050
WINDOW_S = 10.0
PROGRAMS = (40, 73, 0, 42, 71)  # violin, flute, piano, cello, clarinet
BARS = {"stft": 1.5, "mel": 1.5, "logmel": 1.5, "mfcc": 1.5, "pcen": 1.5, "cqt": 0.5}
KINDS = ("stft", "logstft", "mel", "logmel", "mfcc", "pcen", "cqt")


# ----------------------------------------------------------------------------- data


def render_corpus_audio(seconds: float) -> np.ndarray:
    """Concatenated FluidSynth renders of chorale melodies, ``seconds`` long, cached as WAV."""
    import soundfile as sf

    cache = DATA / f"chorales_{int(seconds)}s_{SR}.wav"
    if cache.exists():
        y, sr = sf.read(cache, dtype="float32")
        if sr == SR and len(y) == int(seconds * SR):
            return y
    import music21

    from tunesmith.notes import music21_to_note_sequence
    from tunesmith.render import render

    split_json = ROOT.parent / "shared" / "benchmarks" / "chorale_split.json"
    split = json.loads(split_json.read_text()) if split_json.exists() else None
    paths = split["train"] if split else [str(p) for p in music21.corpus.getComposer("bach")]
    parts, total, i = [], 0, 0
    need = int(seconds * SR)
    while total < need:
        path = paths[i % len(paths)]
        prog = PROGRAMS[i % len(PROGRAMS)]
        i += 1
        try:
            seq = music21_to_note_sequence(music21.corpus.parse(path))
        except Exception:  # a corpus file that does not parse is simply skipped
            continue
        a = render(seq, sr=SR, program=prog)
        parts.append(a.samples)
        total += len(a.samples)
    y = np.concatenate(parts)[:need].astype(np.float32)
    DATA.mkdir(parents=True, exist_ok=True)
    sf.write(cache, y, SR, subtype="FLOAT")
    return y


def long_file(minutes: int, base: np.ndarray) -> Path:
    """A ``minutes``-long 44.1 kHz 16-bit WAV made by repeating ``base`` (written in blocks)."""
    import soundfile as sf

    from tunesmith.audio import resample

    path = DATA / f"long_{minutes}min_44k.wav"
    if path.exists() and sf.info(path).duration >= minutes * 60 - 1:
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    y44 = resample(base, SR, 44100)
    need = minutes * 60 * 44100
    tmp = path.with_suffix(".part.wav")
    with sf.SoundFile(tmp, "w", samplerate=44100, channels=1, subtype="PCM_16") as f:
        written, k = 0, 0
        while written < need:
            chunk = y44[: need - written] * (0.9 if k % 2 else 1.0)
            f.write(chunk)
            written += len(chunk)
            k += 1
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- peers


def librosa_fns():
    import librosa

    return {
        "stft": lambda y: np.abs(librosa.stft(y, n_fft=2048, hop_length=512)),
        "logstft": lambda y: librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=2048, hop_length=512)), top_db=80.0),
        "mel": lambda y: librosa.feature.melspectrogram(y=y, sr=SR),
        "logmel": lambda y: librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), top_db=80.0),
        "mfcc": lambda y: librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20),
        "pcen": lambda y: librosa.pcen(librosa.feature.melspectrogram(y=y, sr=SR, power=1.0) * 2 ** 31, sr=SR),
        "cqt": lambda y: np.abs(librosa.cqt(y, sr=SR)),
    }


def tunesmith_modules():
    from tunesmith import features as F

    return {"stft": F.Spectrogram(sr=SR), "logstft": F.LogSpectrogram(sr=SR), "mel": F.MelSpectrogram(SR),
            "logmel": F.LogMelSpectrogram(SR), "mfcc": F.MFCC(SR, n_mfcc=20), "pcen": F.PCEN(SR), "cqt": F.CQT(SR)}


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except Exception:
        pass


def agreement(kind: str, ours: np.ndarray, ref: np.ndarray) -> str:
    if kind in ("logstft", "logmel"):
        keep = ref > ref.reshape(ref.shape[0], -1).max(1)[:, None, None] - 80 + 1e-3  # the top 80 dB
        return f"max {np.abs(ours - ref)[keep].max():.4f} dB"
    c = np.corrcoef(ours.ravel(), ref.ravel())[0, 1]
    return f"r = {c:.6f}"


def time_throughput(batch: np.ndarray, repeats: int, threads: list[int], kinds) -> tuple[list[dict], dict]:
    import torch
    from threadpoolctl import threadpool_limits

    seconds = batch.shape[0] * batch.shape[1] / SR
    x = torch.from_numpy(batch)
    mods, libs = tunesmith_modules(), librosa_fns()
    rows, agree = [], {}
    cuda = torch.cuda.is_available()
    for kind in kinds:
        for n in threads:
            set_threads(n)
            with threadpool_limits(limits=n), torch.inference_mode():
                ours = mods[kind](x[:2]).numpy()  # warm-up, and agreement on 2 windows,
                ref = np.stack([libs[kind](w) for w in batch[:2]])  # each on its own (top_db per window)
                if n == threads[0]:
                    agree[kind] = agreement(kind, ours, ref)
                t_ours, t_lib, c_ours, c_lib = [], [], [], []

                def timed(fn, arg, walls, cpus):
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn(arg)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)

                for r in range(repeats):  # alternate, and alternate who goes first
                    pair = [(mods[kind], x, t_ours, c_ours), (libs[kind], batch, t_lib, c_lib)]
                    for fn, arg, walls, cpus in (pair if r % 2 == 0 else pair[::-1]):
                        timed(fn, arg, walls, cpus)
            row = {"kind": kind, "threads": n, "tunesmith_s": statistics.median(t_ours),
                   "librosa_s": statistics.median(t_lib)}
            row["tunesmith_x"] = seconds / row["tunesmith_s"]
            row["librosa_x"] = seconds / row["librosa_s"]
            # median of the side-by-side ratios: robust to load that drifts during the run
            row["ratio"] = statistics.median(tl / to for tl, to in zip(t_lib, t_ours))
            row["cpu_ratio"] = statistics.median(c_lib) / statistics.median(c_ours)
            if cuda and n == threads[-1]:
                m = mods[kind].to("cuda")
                xc = x.to("cuda")
                with torch.inference_mode():
                    m(xc)
                    torch.cuda.synchronize()
                    ts = []
                    for _ in range(repeats):
                        t0 = time.perf_counter()
                        m(xc)
                        torch.cuda.synchronize()
                        ts.append(time.perf_counter() - t0)
                row["gpu_x"] = seconds / statistics.median(ts)
                mods[kind].to("cpu")
            rows.append(row)
            print(f"  {kind:8s} {n} thr: tunesmith {row['tunesmith_x']:7.0f}x  librosa {row['librosa_x']:7.0f}x  "
                  f"ratio {row['ratio']:.2f} (CPU-time ratio {row['cpu_ratio']:.2f})", flush=True)
    return rows, agree


def peak_memory(path: Path, kind: str) -> tuple[float, float, tuple]:
    """Max RSS (MB) and wall time of ``tunesmith features`` on ``path`` in a fresh process."""
    out = Path(tempfile.mkdtemp(prefix="tsfe_", dir=DATA))
    code = ("import resource, subprocess, sys, time; t = time.time(); "
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t)")
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "tunesmith.cli", "features", str(path),
           "--kind", kind, "-o", str(out), "--max-images", "2"]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    rc, rss_kb, wall = res.stdout.split()
    if int(rc) != 0:
        raise RuntimeError(f"tunesmith features failed: {res.stderr[-500:]}")
    arr = np.load(next(out.glob(f"*.{kind}.npy")), mmap_mode="r")
    shape = arr.shape
    del arr
    for f in out.iterdir():
        f.unlink()
    out.rmdir()
    return int(rss_kb) / 1024, float(wall), shape


# ----------------------------------------------------------------------------- report


def machine() -> str:
    import torch

    cpu = cpu_name()
    import librosa

    load = ""
    try:
        load = f", load average during the run {os.getloadavg()[1]:.1f}"
    except OSError:
        pass
    return (f"{os.cpu_count()}-core shared CPU VM ({cpu}){load}, Python {platform.python_version()}, "
            f"torch {torch.__version__}, librosa {librosa.__version__}, numpy {np.__version__}")


def tables(rows, agree, mem, args, audio_s) -> str:
    threads = sorted({r["threads"] for r in rows})
    has_gpu = any("gpu_x" in r for r in rows)
    head = "| representation | " + " | ".join(
        f"tunesmith {n} thr | librosa {n} thr | ratio {n} thr" for n in threads)
    head += " | GPU |" if has_gpu else " |"
    head += " CPU-time ratio 1 thr | bar | agreement with librosa |"
    sep = "|" + "---|" * (1 + 3 * len(threads) + (1 if has_gpu else 0) + 3)
    lines = [head, sep]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        cells = [kind]
        for n in threads:
            r = next(r for r in rows if r["kind"] == kind and r["threads"] == n)
            bar = BARS.get(kind)
            mark = "" if bar is None else (" ✅" if r["ratio"] >= bar else " ❌")
            cells += [f"{r['tunesmith_x']:.0f}x", f"{r['librosa_x']:.0f}x", f"**{r['ratio']:.2f}**{mark}"]
        if has_gpu:
            r = next(r for r in rows if r["kind"] == kind and "gpu_x" in r)
            cells.append(f"{r['gpu_x']:.0f}x")
        r1 = next(r for r in rows if r["kind"] == kind and r["threads"] == threads[0])
        cells.append(f"{r1['cpu_ratio']:.2f}")
        cells.append(f">= {BARS[kind]}x" if kind in BARS else "—")
        cells.append(agree.get(kind, ""))
        lines.append("| " + " | ".join(cells) + " |")
    out = [f"## Front end (`tunesmith.features`) vs librosa {__import__('librosa').__version__}", "",
           f"Command: `python benchmarks/frontend.py{' --quick' if args.quick else ''}`. Machine: {machine()}.", "",
           f"Throughput in seconds of audio per second (x realtime) on {audio_s / 60:.0f} min of FluidSynth renders "
           f"of Bach chorale melodies (5 GM instruments), 22050 Hz, one batch of {int(audio_s / WINDOW_S)} "
           f"ten-second windows; medians of {args.repeats} repeats, tunesmith and librosa alternating; "
           "ratio = median of the side-by-side ratios librosa time / tunesmith time (same run); "
           "the CPU-time ratio (1 thread, process CPU seconds) is less sensitive to the other jobs on the "
           "machine. n_fft 2048, hop 512, 128 mels, 20 MFCC, "
           "84-bin CQT from C1, PCEN with librosa's defaults on a magnitude mel x 2**31.", "",
           *lines, ""]
    if mem:
        out += ["Peak memory (max RSS of the whole process, imports included) of "
                f"`tunesmith features FILE --kind KIND -o OUT --max-images 2` on a {mem[0]['minutes']}-minute "
                "44.1 kHz 16-bit WAV (resampled to 22050 Hz while streaming):", "",
                "| kind | output shape | peak RSS | wall time | bar |", "|---|---|---|---|---|"]
        for m in mem:
            ok = " ✅" if m["rss_mb"] <= 500 else " ❌"
            out.append(f"| {m['kind']} | {m['shape']} | **{m['rss_mb']:.0f} MB**{ok} | {m['wall_s']:.0f} s | <= 500 MB |")
        out.append("")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 minute of audio, 3 repeats, 10-minute long file")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per cell (default 9, quick 3)")
    ap.add_argument("--threads", default="1,2", help="thread counts to test (default 1,2)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="representations to time")
    ap.add_argument("--no-memory", action="store_true", help="skip the long-file memory measurement")
    args = ap.parse_args()
    args.repeats = args.repeats or (3 if args.quick else 9)
    audio_s = 60.0 if args.quick else 600.0
    print(f"rendering {audio_s:.0f} s of chorale melodies (cached in {DATA}) ...", flush=True)
    y = render_corpus_audio(600.0)[: int(audio_s * SR)]
    win = int(WINDOW_S * SR)
    batch = np.ascontiguousarray(y[: len(y) // win * win].reshape(-1, win))
    print(f"batch {batch.shape}, threads {args.threads}, {args.repeats} repeats", flush=True)
    rows, agree = time_throughput(batch, args.repeats, [int(t) for t in args.threads.split(",")],
                                  args.kinds.split(","))
    mem = []
    if not args.no_memory:
        minutes = 10 if args.quick else 60
        path = long_file(minutes, y if not args.quick else render_corpus_audio(600.0))
        for kind in ("logmel", "stft"):
            rss, wall, shape = peak_memory(path, kind)
            mem.append({"kind": kind, "rss_mb": rss, "wall_s": wall, "shape": shape, "minutes": minutes})
            print(f"  memory {kind}: {rss:.0f} MB, {wall:.0f} s, output {shape}", flush=True)
    text = tables(rows, agree, mem, args, audio_s)
    print()
    print(text)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + "\n")
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
