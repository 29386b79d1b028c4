#!/usr/bin/env bash
# The test command: set up (idempotent), then run the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
# Lint (ruff, config in pyproject.toml) and the type check of the public API (mypy, files in pyproject.toml).
echo "test: ruff" >&2
.venv/bin/python -m ruff check .
echo "test: mypy" >&2
.venv/bin/python -m mypy
# The wheel, installed outside the checkout, runs every verb on its shipped models (about 40 s).
.venv/bin/python scripts/check_wheel.py
exec .venv/bin/python -m pytest -q "$@"
