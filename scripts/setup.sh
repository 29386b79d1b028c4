#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: system packages, a virtual environment in .venv,
# and tunesmith installed into it (editable). Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

# 1. System packages: FluidSynth and a General MIDI soundfont (rendering), when missing.
#    TimGM6mb (timgm6mb-soundfont) is the transcription benchmark's unseen soundfont (never trained on);
#    MuseScore General (musescore-general-soundfont) is the transcriber recipe's second training soundfont.
if ! command -v fluidsynth >/dev/null 2>&1 || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] \
   || [ ! -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || [ ! -f /usr/share/sounds/sf3/MuseScore_General_Full.sf3 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing fluidsynth, fluid-soundfont-gm, timgm6mb-soundfont and musescore-general-soundfont with apt-get" >&2
    $SUDO apt-get update -qq </dev/null >/dev/null || true
    $SUDO apt-get install -y -qq fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont </dev/null >/dev/null \
      || { echo "setup: apt-get could not install fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont (the render tests, the demo and train transcriber need them)" >&2; exit 1; }
  else
    echo "setup: no apt-get; install FluidSynth and a GM soundfont yourself for realistic rendering" >&2
  fi
fi

# 2. Virtual environment with torch pinned first (2.13.0 is the local CPU wheel here; an unpinned
#    torch would pull gigabytes of CUDA), then tunesmith and its test/export extras.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.tunesmith-installed"
want=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing tunesmith into .venv (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install -q --upgrade pip </dev/null
  .venv/bin/python -m pip install -q "torch==2.13.0" "setuptools>=77.0.3,<81" </dev/null
  .venv/bin/python -m pip install -q -e ".[test,export]" </dev/null
  echo "$want" > "$stamp"
fi

# 3. The web app (`tunesmith serve`) and its browser test: Debian's Chromium (Playwright drives it; browsers
#    are never downloaded by Playwright), fonts for the page, and the Python side of the web extra.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (for the web app's browser test) with apt-get" >&2
    $SUDO apt-get update -qq </dev/null >/dev/null || true
    $SUDO apt-get install -y -qq chromium fonts-dejavu-core </dev/null >/dev/null \
      || { echo "setup: could not install chromium; the browser test needs it (apt-get install chromium)" >&2; exit 1; }
  else
    echo "setup: no apt-get; install Chromium yourself for the browser test" >&2; exit 1
  fi
fi
if ! .venv/bin/python -c "import fastapi, uvicorn, multipart, httpx, playwright" >/dev/null 2>&1; then
  echo "setup: installing the web extra (fastapi, uvicorn, python-multipart, httpx, playwright)" >&2
  .venv/bin/python -m pip install -q -e ".[web]" </dev/null
fi
