"""Benchmark: piano -> violin sound transformation (issue 6), all systems in the same run.

Data: ``scripts/make_transform_pairs.py bench`` (Bach chorale soprano lines,
FluidSynth + FluidR3_GM, reverb/chorus off, 22,050 Hz, ~200 training and 40 test
clips, chorales disjoint via ../shared/benchmarks/chorale_split.json); built
on the first run if missing.

Systems, all scored on the same test clips in this run:
identity (output = input), global per-bin EQ (power ratio fitted on the training
pairs, input phase), oracle true magnitude + input phase, oracle + 100 fast
Griffin-Lim iterations from the input phase, and the U-Net, BiLSTM and GAN
variants, each inverted with the input phase and with Griffin-Lim from the input
phase. Metrics: log-spectral distance (dB; n_fft 2048, hop 512, floor 80 dB below
the reference's peak), multi-resolution STFT distance (1024/2048/512, hops
120/240/50, windows 600/1200/240; spectral convergence + log-magnitude L1) and
mel-cepstral distance (dB) -- see ``tunesmith.transform.metrics``.

Also measured: tunesmith's fast Griffin-Lim against ``librosa.griffinlim`` on the
true output magnitudes (same iterations, random start; spectral distance and
time), and conversion speed (x realtime, 2 threads) on a 60 s input.

Usage::

    python benchmarks/transform.py                 # train missing models (budget per model), evaluate
    python benchmarks/transform.py --reuse         # reuse bench_data/runs/<arch>/transform.pt when present
    python benchmarks/transform.py --quick         # 8 test clips, 2-minute models: a smoke run

No extra packages are needed (librosa is a runtime dependency of tunesmith).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import cpu_name, run_measured  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]

VARIANTS = ("unet", "lstm", "gan")
GL_REPEATS = 5


def ensure_pairs(root: Path, quick: bool) -> None:
    if (root / "train" / "input").is_dir() and (root / "test" / "input").is_dir():
        return
    print(f"building pairs in {root} ...", file=sys.stderr)
    # the generator is a script: run it (benchmarks never import scripts/)
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_transform_pairs.py"), "bench", "--out", str(root)]
                   + (["--n-train", "40", "--n-test", "8"] if quick else []), check=True)


def load_split(folder: Path, sr: int, limit: int | None = None):
    from tunesmith.transform.data import load_pairs

    pairs = load_pairs(folder, sr, quiet=True).pairs
    return pairs[:limit] if limit else pairs


def train_variant(arch: str, data: Path, runs: Path, minutes: float, reuse: bool) -> Path:
    if "=" in arch:  # "name=path/to/transform.pt": an already trained checkpoint reported under that name
        return Path(arch.split("=", 1)[1])
    ckpt = runs / arch / "transform.pt"
    if reuse and ckpt.exists():
        return ckpt
    from tunesmith.transform.training import train

    print(f"training {arch} for {minutes} min ...", file=sys.stderr)
    return train(data, REPO / "configs" / "transform.yaml", out_dir=runs / arch, resume=reuse,
                 model={"arch": arch}, trainer={"max_minutes": minutes})


def fit_global_eq(pairs, n_fft=2048, hop=512) -> torch.Tensor:
    """Per-bin gain sqrt(sum |Y|^2 / sum |X|^2) over every training frame (power-ratio fit)."""
    from tunesmith.transform.invert import stft

    num = den = 0
    for p in pairs:
        X = stft(torch.from_numpy(p.x), n_fft, hop).abs().pow(2).double().sum(-1)
        Y = stft(torch.from_numpy(p.y), n_fft, hop).abs().pow(2).double().sum(-1)
        num, den = num + Y, den + X
    return torch.sqrt(num / den.clamp_min(1e-12)).float()[:, None]


def score(pairs, outputs, sr) -> dict:
    from tunesmith.transform.metrics import log_spectral_distance, mel_cepstral_distance, mrstft_distance

    lsd = [log_spectral_distance(p.y, o) for p, o in zip(pairs, outputs)]
    mr = [mrstft_distance(p.y, o) for p, o in zip(pairs, outputs)]
    mcd = [mel_cepstral_distance(p.y, o, sr) for p, o in zip(pairs, outputs)]
    return {"lsd": float(np.mean(lsd)), "mrstft": float(np.mean(mr)), "mcd": float(np.mean(mcd))}


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def memory_check(clip: np.ndarray, sr: int, checkpoint: Path, minutes: float = 10.0) -> tuple[float, float]:
    """Convert a ``minutes``-long WAV (``clip`` tiled) with ``convert_file`` (before/after PNG included) in a
    fresh process; return its peak RSS in MB (the child's own VmHWM) and its speed (x realtime)."""
    import tempfile

    import soundfile as sf

    reps = int(np.ceil(minutes * 60 * sr / len(clip)))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "long.wav", Path(tmp) / "long_out.wav"
        with sf.SoundFile(str(src), "w", sr, 1, "PCM_16") as f:
            for _ in range(reps):
                f.write(clip)
        code = ("import sys, time, torch; torch.set_num_threads(2); "
                "from tunesmith.transform.conversion import Converter, convert_file; "
                "t = time.perf_counter(); convert_file(sys.argv[1], sys.argv[2], Converter(sys.argv[3])); "
                "print(time.perf_counter() - t)")
        (secs,), rss = run_measured(code, str(src), str(dst), str(checkpoint))
        secs = float(secs)
    return rss, reps * len(clip) / sr / secs


def machine() -> str:
    cpu = cpu_name()
    return f"{cpu}, 2-core shared CPU VM (other jobs running), torch {torch.__version__}, Python {platform.python_version()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (8 test clips, short training)")
    ap.add_argument("--data", type=Path, default=REPO / "bench_data" / "transform")
    ap.add_argument("--runs", type=Path, default=REPO / "bench_data" / "runs")
    ap.add_argument("--reuse", action="store_true", help="reuse trained checkpoints in --runs when present")
    ap.add_argument("--train-minutes", type=float, default=None, help="training budget per model")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated archs (trained or reused from --runs/<arch>) or name=checkpoint entries")
    ap.add_argument("--gl-iters", default="4,32,100", help="Griffin-Lim iterations to report for the models")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "transform.md")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    quick = args.quick
    minutes = args.train_minutes or (2.0 if quick else 20.0)
    ensure_pairs(args.data, quick)
    sr = 22050
    n_test = 8 if quick else None
    train_pairs = load_split(args.data / "train", sr)
    test_pairs = load_split(args.data / "test", sr, n_test)
    print(f"{len(train_pairs)} training pairs, {len(test_pairs)} test pairs "
          f"({sum(len(p.x) for p in test_pairs) / sr:.0f} s)", file=sys.stderr)
    tokens = [v for v in args.variants.split(",") if v]
    variants = [v.split("=", 1)[0] for v in tokens]
    ckpts = {}
    torch.set_num_threads(1)
    for name, token in zip(variants, tokens):
        ckpts[name] = train_variant(token, args.data / "train", args.runs, minutes, args.reuse)

    from tunesmith.transform.conversion import Converter
    from tunesmith.transform.invert import griffinlim, invert_with_phase, stft

    torch.set_num_threads(2)
    rows = []
    X = [stft(torch.from_numpy(p.x)) for p in test_pairs]
    Y = [stft(torch.from_numpy(p.y)) for p in test_pairs]
    lengths = [len(p.x) for p in test_pairs]

    def add(name, outs):
        r = score(test_pairs, [np.asarray(o, dtype=np.float32) for o in outs], sr)
        rows.append((name, r))
        print(f"{name}: {r}", file=sys.stderr)

    add("identity (output = input)", [p.x for p in test_pairs])
    eq = fit_global_eq(train_pairs)
    add("global per-bin EQ (power-ratio fit) + input phase",
        [invert_with_phase(x.abs() * eq, x, length=n).numpy() for x, n in zip(X, lengths)])
    add("oracle magnitude + input phase", [invert_with_phase(y.abs(), x, length=n).numpy()
                                           for x, y, n in zip(X, Y, lengths)])
    add("oracle magnitude + GL 100 from input phase",
        [griffinlim(y.abs(), init=x, n_iter=100, length=n).numpy() for x, y, n in zip(X, Y, lengths)])
    gl_iters = [int(i) for i in args.gl_iters.split(",") if i]
    for arch in variants:
        conv = Converter(ckpts[arch], inversion="input-phase")
        add(f"{arch} + input phase", [conv(p.x) for p in test_pairs])
        for it in gl_iters:
            conv = Converter(ckpts[arch], inversion="gl", n_iter=it)
            add(f"{arch} + GL {it} from input phase", [conv(p.x) for p in test_pairs])

    # ----- inversion alone: tunesmith fast GL vs librosa on true magnitudes -------------------
    import librosa

    from tunesmith.transform.metrics import log_spectral_distance

    inv_rows = []
    gl_clips = test_pairs[: (4 if quick else 8)]
    mags = [stft(torch.from_numpy(p.y)).abs() for p in gl_clips]
    secs = sum(len(p.y) for p in gl_clips) / sr
    torch.set_num_threads(1)  # like for like: librosa's (numpy) FFTs run on one thread
    for n_iter in (32, 100):
        outs_l, outs_t, t_ls, t_ts = [], [], [], []
        for _ in range(GL_REPEATS):  # alternate the two, so that load changes hit both alike
            t_ls.append(median_time(lambda: outs_l.__setitem__(slice(None), [
                librosa.griffinlim(m.numpy(), n_iter=n_iter, hop_length=512, random_state=0, length=len(p.y))
                for m, p in zip(mags, gl_clips)]), 1))
            t_ts.append(median_time(lambda: outs_t.__setitem__(slice(None), [
                griffinlim(m, n_iter=n_iter, seed=0, length=len(p.y)).numpy() for m, p in zip(mags, gl_clips)]), 1))
        t_l, t_t = statistics.median(t_ls), statistics.median(t_ts)
        ratio = statistics.median(a / b for a, b in zip(t_ls, t_ts))
        d_l = np.mean([log_spectral_distance(p.y, o) for p, o in zip(gl_clips, outs_l)])
        d_t = np.mean([log_spectral_distance(p.y, o) for p, o in zip(gl_clips, outs_t)])
        inv_rows.append((n_iter, d_l, d_t, secs / t_l, secs / t_t, ratio))
        print(f"GL{n_iter}: librosa {d_l:.2f} dB {secs / t_l:.1f}x, tunesmith {d_t:.2f} dB {secs / t_t:.1f}x "
              f"(median ratio {ratio:.2f})", file=sys.stderr)
    torch.set_num_threads(2)

    # ----- conversion speed on a 60 s input -----------------------------------------------------
    long = np.concatenate([p.x for p in test_pairs])
    while len(long) < 60 * sr:
        long = np.concatenate([long, long])
    long = long[: 60 * sr]
    speed_rows = []
    load_before = os.getloadavg()[0]
    for arch in variants:
        for inv, it in [("input-phase", 0)] + [("gl", i) for i in gl_iters]:
            conv = Converter(ckpts[arch], inversion=inv, n_iter=it)
            conv(long[: 5 * sr])  # warm-up
            t = median_time(lambda: conv(long), 1)
            speed_rows.append((arch, inv if inv != "gl" else f"GL {it}", 60.0 / t))
            print(f"speed {arch} {inv} {it}: {60.0 / t:.1f}x realtime", file=sys.stderr)
    load_after = os.getloadavg()[0]
    mem_rss, mem_speed = memory_check(test_pairs[0].x, sr, ckpts[variants[0]], 2.0 if quick else 10.0)
    print(f"memory: {mem_rss:.0f} MB peak, {mem_speed:.0f}x realtime", file=sys.stderr)

    # ----- report -------------------------------------------------------------------------------
    ident = rows[0][1]["lsd"]
    oracle = rows[3][1]["lsd"]
    lines = ["## Piano -> violin transformation (issue 6)", "",
             f"{len(test_pairs)} test clips ({sum(lengths) / sr:.0f} s), {len(train_pairs)} training clips; "
             f"models trained {minutes:g} minutes each (1 thread) on the training clips "
             f"(when reused with --reuse, their budgets are in {args.runs}/<arch>/config.yaml).", "",
             "| system | LSD (dB) ↓ | MR-STFT ↓ | MCD (dB) ↓ | gap closed (LSD) |", "|---|---:|---:|---:|---:|"]
    for name, r in rows:
        gap = (ident - r["lsd"]) / (ident - oracle) if ident != oracle else float("nan")
        lines.append(f"| {name} | {r['lsd']:.2f} | {r['mrstft']:.3f} | {r['mcd']:.2f} | {100 * gap:.0f} % |")
    lines += ["", "gap closed: share of the identity -> (oracle + GL 100) LSD gap closed.", "",
              "### Griffin-Lim on true magnitudes (random start), tunesmith vs librosa", "",
              f"{len(gl_clips)} clips, {secs:.0f} s of audio, one clip at a time, 1 thread each; "
             f"{GL_REPEATS} alternating timed runs, medians (speed-up: median of the paired ratios).", "",
              "| iterations | librosa LSD (dB) | tunesmith LSD (dB) | librosa × realtime | tunesmith × realtime | speed-up |",
              "|---:|---:|---:|---:|---:|---:|"]
    for n_iter, d_l, d_t, s_l, s_t, ratio in inv_rows:
        lines.append(f"| {n_iter} | {d_l:.2f} | {d_t:.2f} | {s_l:.1f} | {s_t:.1f} | {ratio:.1f}× |")
    lines += ["", "### Conversion speed (60 s input, chunked, 2 threads, one timed run after a warm-up)", "",
              f"1-minute load average {load_before:.1f} before and {load_after:.1f} after the speed runs "
              f"(2 cores; other engineers' jobs counted).", "",
              "| model | inversion | × realtime |", "|---|---|---:|"]
    for arch, inv, s in speed_rows:
        lines.append(f"| {arch} | {inv} | {s:.1f} |")
    lines += ["", f"Long input: a {2 if quick else 10}-minute WAV (the first test clip tiled) converted by "
              f"`convert_file` with `{variants[0]}` and its default inversion (before/after PNG included) in a "
              f"fresh process: peak memory {mem_rss:.0f} MB (the child's VmHWM; bar < 1 GB), "
              f"{mem_speed:.0f}x realtime."]
    cmd = "python benchmarks/transform.py" + (" --quick" if quick else "") + (" --reuse" if args.reuse else "")
    for flag in ("variants", "gl_iters"):
        if getattr(args, flag) != ap.get_default(flag):
            cmd += f" --{flag.replace('_', '-')} \"{getattr(args, flag)}\""
    lines += ["", f"Command: `{cmd}`  ", f"Machine: {machine()}  ",
              f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, git {git_rev()}", ""]
    text = "\n".join(lines)
    print(text)
    if not quick or args.out != ap.get_default("out"):
        from tunesmith.io import atomic_write_text

        atomic_write_text(args.out, text)
    return 0


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
