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
