#!/usr/bin/env bash
# Install (first run) and start the server on the embedded default: SQLite under DATA_DIR,
# projectors and jobs in-process, no external service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/chronicle serve "$@"
