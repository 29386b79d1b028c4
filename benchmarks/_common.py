"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what ``platform`` knows (for the results' machine line)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_measured(code: str, *args: str) -> tuple[list[str], float]:
    """Run ``python -c code args...`` in a fresh process; return its printed words and its peak RSS (MB).

    The peak is the child's own VmHWM, printed by the child as it ends: Linux carries
    ``ru_maxrss`` over fork + exec, so the child's ``ru_maxrss`` would report a large
    parent's peak instead of its own.
    """
    import subprocess
    import sys

    code += ("; print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    words = out.stdout.split()
    return words[:-1], int(words[-1]) / 1024


#: How each kind of good-vs-bad development set is made (``scripts/make_goodbad_dev.py``).
GOODBAD_DEV_FLAGS = {"plain": "--split dev", "rooms": "--split dev --rooms", "heldout": "--split heldout"}


def goodbad_dev_sets(root: Path, seeds, rooms_seeds, heldout_seeds) -> list[tuple[str, Path, str]] | None:
    """The development sets of good vs bad as ``(kind, folder, make command)``, in the order given, each
    seed once (``plain``: ``--split dev``; ``rooms``: every clip in an ordinary room; ``heldout``: sources
    the shipped fault detector never heard). Prints one line naming each missing set and how to make it,
    and returns None, when any is missing."""
    import sys

    kinds: dict[int, str] = {}
    for kind, group in (("plain", seeds), ("rooms", rooms_seeds), ("heldout", heldout_seeds)):
        for s in group:
            kinds.setdefault(int(s), kind)
    out = [(kind, root / "bench_data" / f"goodbad_dev{s}",
            f"python scripts/make_goodbad_dev.py {GOODBAD_DEV_FLAGS[kind]} --seed {s}"
            + (" --n 200" if kind == "heldout" else "")) for s, kind in kinds.items()]
    missing = [(d, cmd) for _, d, cmd in out if not d.is_dir()]
    for d, cmd in missing:
        print(f"missing {d}: make it with {cmd}", file=sys.stderr)
    return None if missing else out
