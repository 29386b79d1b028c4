"""Web app benchmark: upload → notes on screen for a 30-s take in headless Chromium, and 10 concurrent uploads.

Run: ``python benchmarks/web.py [--reps 5] [--concurrent 10]``; writes ``benchmarks/results/web.md``.

1. **Upload to notes on screen.** The page is opened in Debian's Chromium (Playwright), a 30-s take
   (the demo trumpet song followed by its first 9.5 s again) is chosen in the file input, and the
   page's own clock (``performance.now()``) measures from the moment the file is picked (before the
   upload starts) to the moment the piano roll and the spectrogram with the notes are drawn;
   then to the score drawn by OpenSheetMusicDisplay. Median of ``--reps`` fresh page loads, the models
   already loaded (the server preloads them at start-up).
2. **Concurrent uploads.** ``--concurrent`` clients post the same take at once to
   ``/api/transcribe?wait=120`` over loopback; every answer must be a finished job with notes.
3. **Side by side, the same take:** the library call ``transcribe_file`` in this process (the work
   alone, model loaded), and the command line ``tunesmith transcribe`` in a fresh process (start-up,
   model load, outputs written), so the web figures read against what a user has without the page.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_name  # noqa: E402  (benchmarks/ on sys.path first)

SONG = ROOT / "data" / "songs" / "kinder0-007-schlaf-du-liebe-kleine-trumpet.wav"
TAKE_S = 30.0
BAR_NOTES_S = 3.0
RESULTS = ROOT / "benchmarks" / "results" / "web.md"


def make_take(path: Path) -> Path:
    """The 30-s take: the trumpet song, then its beginning again, cut to exactly 30 s."""
    import numpy as np

    from tunesmith.audio import Audio, load, save

    a = load(SONG)
    y = np.concatenate([a.samples, a.samples])[: int(TAKE_S * a.sr)]
    return save(Audio(y, a.sr), path)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("benchmarks/web.py: Debian's chromium is missing (bash scripts/setup.sh installs it)")


def browser_times(url: str, take: Path, reps: int) -> list[tuple[float, float, int]]:
    """(upload → notes drawn, upload → score drawn, notes) in seconds, one per fresh page load."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        for _ in range(reps):
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            page.set_input_files("#file", str(take))
            page.wait_for_selector("#score[data-rendered='1']")
            t = page.evaluate("window.tunesmith.timings")
            n = int(page.get_attribute("#pianoroll", "data-notes"))
            out.append(((t["notes"] - t["start"]) / 1000, (t["score"] - t["start"]) / 1000, n))
        browser.close()
    return out


def concurrent_uploads(url: str, take: Path, n: int) -> tuple[list[tuple[int, str, int, float]], float]:
    """``n`` simultaneous POSTs; per client (HTTP status, job status, notes, seconds) and the wall time."""
    import httpx

    data = take.read_bytes()
    results: list = [None] * n
    start = threading.Barrier(n)

    def client(i: int) -> None:
        with httpx.Client(timeout=180) as c:
            start.wait()
            t0 = time.perf_counter()
            try:
                r = c.post(f"{url}/api/transcribe?wait=120", files={"file": (f"take{i}.wav", data)})
                job = r.json()
                notes = len(job["result"]["notes"]) if job.get("result") else 0
                results[i] = (r.status_code, job.get("status", "?"), notes, time.perf_counter() - t0)
            except Exception as exc:  # counted as a failure in the table
                results[i] = (0, f"{type(exc).__name__}", 0, time.perf_counter() - t0)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - t0


def peers(take: Path) -> tuple[float, float]:
    """(library transcribe_file seconds, median of 3; CLI wall seconds in a fresh process, median of 3)."""
    import torch

    from tunesmith.transcribe import transcribe_file

    torch.set_num_threads(1)
    transcribe_file(take)
    lib = []
    for _ in range(3):
        t0 = time.perf_counter()
        transcribe_file(take)
        lib.append(time.perf_counter() - t0)
    cli = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tunesmith.cli", "transcribe", str(take), "-o", tmp],
                           check=True, capture_output=True, env=env)
            cli.append(time.perf_counter() - t0)
    return statistics.median(lib), statistics.median(cli)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5, help="fresh page loads timed (default 5)")
    ap.add_argument("--concurrent", type=int, default=10, help="simultaneous uploads (default 10)")
    args = ap.parse_args(argv)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    from tunesmith.web import create_app
    from tunesmith.web.server import BackgroundServer

    with tempfile.TemporaryDirectory() as tmp:
        take = make_take(Path(tmp) / "take30.wav")
        app = create_app(workers=2)
        with BackgroundServer(app) as url:
            t0 = time.perf_counter()
            while len(app.state.models.loaded()) < 5 and time.perf_counter() - t0 < 120:
                time.sleep(0.1)          # the server preloads its models; time the work, not the loading
            times = browser_times(url, take, args.reps)
            conc, conc_wall = concurrent_uploads(url, take, args.concurrent)
            temp_left = app.state.runner.stats()["temp_folders"]
        lib_s, cli_s = peers(take)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    notes_s = statistics.median(t[0] for t in times)
    score_s = statistics.median(t[1] for t in times)
    ok = [c for c in conc if c[0] == 200 and c[1] == "done" and c[2] > 0]
    lat = sorted(c[3] for c in conc)
    lines = [
        "# Web app benchmark (`tunesmith serve`)",
        "",
        f"Command: `python benchmarks/web.py --reps {args.reps} --concurrent {args.concurrent}`; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores ({cpu_name()}), "
        f"shared; load average {' '.join(load_before)} before, {' '.join(load_after)} after. Server: 2 worker "
        "threads, 1 torch thread each, models preloaded; Debian Chromium headless via Playwright; "
        "all traffic on 127.0.0.1.",
        "",
        f"## Upload to notes on screen, {TAKE_S:.0f}-s take ({times[0][2]} notes), median of {len(times)} page loads",
        "",
        "| measure | seconds |",
        "|---|---|",
        f"| file picked → piano roll and spectrogram with notes drawn | {notes_s:.2f} |",
        f"| file picked → score drawn (OpenSheetMusicDisplay) | {score_s:.2f} |",
        f"| each run (notes) | {', '.join(f'{t[0]:.2f}' for t in times)} |",
        "",
        f"## {args.concurrent} concurrent uploads of the same take",
        "",
        "| measure | value |",
        "|---|---|",
        f"| finished with notes | {len(ok)} of {len(conc)} |",
        f"| HTTP statuses | {', '.join(str(c[0]) for c in conc)} |",
        f"| per-request seconds (min / median / max) | {lat[0]:.2f} / {statistics.median(lat):.2f} / {lat[-1]:.2f} |",
        f"| wall seconds for all | {conc_wall:.2f} |",
        f"| temporary folders left afterwards | {temp_left} |",
        "",
        "## Side by side, same take",
        "",
        "| path | seconds | ratio to the library call |",
        "|---|---|---|",
        f"| library `transcribe_file` (model loaded, 1 thread), median of 3 | {lib_s:.2f} | 1.0 |",
        f"| web page: file picked → notes on screen | {notes_s:.2f} | {notes_s / lib_s:.1f} |",
        f"| command line `tunesmith transcribe` (fresh process, writes MIDI/CSV/MusicXML/PNG), median of 3 | "
        f"{cli_s:.2f} | {cli_s / lib_s:.1f} |",
        "",
        f"**Bars (issue 14): upload to notes on screen {notes_s:.2f} s <= {BAR_NOTES_S:.0f} s "
        f"{'met' if notes_s <= BAR_NOTES_S else 'NOT met'}; {len(ok)} of {len(conc)} concurrent uploads succeeded "
        f"({'met' if len(ok) == len(conc) else 'NOT met'}).**",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    from tunesmith.io import atomic_write_text

    atomic_write_text(RESULTS, text)
    return 0 if notes_s <= BAR_NOTES_S and len(ok) == len(conc) else 1


if __name__ == "__main__":
    sys.exit(main())
