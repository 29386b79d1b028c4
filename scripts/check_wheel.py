#!/usr/bin/env python
"""Build tunesmith's wheel, install it into a fresh virtual environment outside the checkout, run every verb.

    python scripts/check_wheel.py [--keep]

A step of ``scripts/test.sh``. The fresh environment gets only the wheel; its
dependencies (torch, music21, ...) are borrowed from the Python running this
script through a ``.pth`` line naming that Python's ``site-packages`` (appended
*after* the new environment's own, and without running the ``.pth`` files found
there, so an editable tunesmith in the borrowed folder is never imported).
Everything runs in a temporary folder with ``PYTHONPATH`` and every
``TUNESMITH_MODEL_*`` override removed, and the script asserts that the code
and the default models come from the installed wheel, not from this checkout.

Verbs run on their default (shipped) models: ``transcribe``, ``generate``,
``voices``, ``convert`` and ``render``. Exit status 0 when every step worked.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 22050
MELODY_MIDI = (67, 69, 71, 72, 74, 72, 71, 69)  # eight 0.25-s notes: a G-major scale fragment
NOTE_S = 0.25
VERB_TIMEOUT_S = 300
COPY_SKIP = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "runs", "out", "bench_data",
             ".cache", "lightning_logs", "data", "benchmarks")


def say(msg: str) -> None:
    print(f"check_wheel: {msg}", flush=True)


def run(cmd: list[str], *, cwd: Path, env: dict | None = None) -> str:
    """Run ``cmd``; on failure print its output and stop with its exit status."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=VERB_TIMEOUT_S)
    shown = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
    if proc.returncode != 0:
        say(f"FAILED ({proc.returncode}): {shown}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        sys.exit(1)
    say(f"ok {time.perf_counter() - t0:5.1f} s  {shown}")
    return proc.stdout


def write_melody(path: Path) -> None:
    """A plucked-string-like melody (decaying harmonics), 2 s at 22,050 Hz, as 16-bit WAV."""
    import soundfile as sf

    t = np.arange(int(NOTE_S * SR)) / SR
    env = np.exp(-t * 6.0)
    parts = []
    for midi in MELODY_MIDI:
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3, 4))
        parts.append(0.3 * env * tone)
    sf.write(path, np.concatenate(parts).astype(np.float32), SR, subtype="PCM_16")


def make_env(base: Path) -> tuple[Path, dict]:
    """A venv at ``base/venv`` borrowing this Python's site-packages; returns (its python, a clean environment)."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    own_site = Path(subprocess.run([str(py), "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    borrowed = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    (own_site / "zz_borrowed_deps.pth").write_text("".join(f"{p}\n" for p in dict.fromkeys(borrowed)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TUNESMITH_MODEL_")
           and k not in ("TUNESMITH_TRANSCRIBER", "TUNESMITH_VOICES_CHECKPOINT")}
    env.update(OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"), MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return py, env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="tunesmith-wheel-"))
    try:
        say(f"work folder {base} (outside the checkout {ROOT})")
        dist = base / "dist"
        src = base / "src"  # a clean copy: no stale build/ or egg-info of the checkout gets into the wheel
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*COPY_SKIP))
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
             str(src)], cwd=base)
        wheel = next(dist.glob("tunesmith-*.whl"))
        import zipfile

        shipped = sorted(n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".pt"))
        say(f"built {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB), models: {', '.join(shipped)}")
        if any("seed1" in n or "bars" in n for n in shipped):
            say("FAILED: the wheel carries a benchmark-only checkpoint")
            return 1
        py, env = make_env(base)
        run([str(py), "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", str(wheel)], cwd=base,
            env=env)
        venv = py.parent.parent.resolve()
        probe = ("import tunesmith, tunesmith.models as m; print(tunesmith.__file__); "
                 "print('\\n'.join(str(m.path(n)) for n in m.MODELS))")
        where = run([str(py), "-c", probe], cwd=base, env=env).split()
        for p in where:
            if not Path(p).resolve().is_relative_to(venv):
                say(f"FAILED: {p} is not inside the fresh environment {venv}")
                return 1
        say(f"code and models come from the wheel: {where[0]}")
        exe = str(py.parent / "tunesmith")
        work = base / "work"
        work.mkdir()
        take = work / "take.wav"
        write_melody(take)
        run([exe, "transcribe", str(take), "-o", "notes"], cwd=work, env=env)
        mid = work / "notes" / "take.mid"
        assert mid.is_file(), "transcribe wrote no MIDI file"
        run([exe, "generate", "-o", "gen", "-n", "1", "--length", "16", "--seed", "1", "--no-audio"], cwd=work,
            env=env)
        assert list((work / "gen").glob("*.mid")), "generate wrote no MIDI file"
        out = run([exe, "voices", str(take), "-o", "voices.csv"], cwd=work, env=env)
        assert (work / "voices.csv").is_file(), f"voices wrote no CSV: {out}"
        run([exe, "convert", str(take), "-o", "converted", "--no-png"], cwd=work, env=env)
        assert (work / "converted" / "take.wav").is_file(), "convert wrote no audio"
        run([exe, "render", str(mid), "-o", "rendered.wav"], cwd=work, env=env)
        assert (work / "rendered.wav").stat().st_size > 1000, "render wrote no audio"
        say("every verb ran from the installed wheel on its default model")
        return 0
    finally:
        if args.keep:
            say(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
