#!/usr/bin/env bash
# Install (first run) and run the whole test suite, on SQLite and on PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/system-packages.sh
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/mypy .
.venv/bin/python -m pytest "$@"
