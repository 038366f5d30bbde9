#!/usr/bin/env bash
# Install (first run) and run the whole test suite, on SQLite and on PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/system-packages.sh
bash scripts/setup.sh
# The Open WebUI web app for the browser journey (tests/webapp): fetched once, then from the cache.
FRONTEND_BUILD_DIR="${CHRONICLE_TEST_FRONTEND:-$HOME/.cache/chronicle/frontend-test}" \
  .venv/bin/chronicle frontend install
.venv/bin/ruff check .
.venv/bin/mypy .
.venv/bin/python -m pytest "$@"
