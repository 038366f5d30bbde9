"""`chronicle rebuild` and `chronicle status` as operators run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from projections.runtime import read_state
from tests.conftest import built
from tests.projections.test_runtime import dump, wait_caught_up, write_users

CHRONICLE = str(Path(sys.executable).with_name("chronicle"))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHRONICLE, *args], env={**os.environ, **env, "LOG_LEVEL": "ERROR"},
                          capture_output=True, text=True, timeout=120)


def test_rebuild_and_status(settings_env):
    with built(settings_env) as container:
        write_users(container.store, 30, 20)
        wait_caught_up(container, "users")
        before = dump(container.read_db)
        generation = read_state(container.read_db, "users")["generation"]

    result = run(settings_env, "rebuild", "users")
    assert result.returncode == 0, result.stderr
    assert "users: 630 events applied" in result.stdout

    with built(settings_env, run_projectors=False) as container:
        assert read_state(container.read_db, "users")["generation"] == generation + 1
        assert dump(container.read_db) == before

    status = run(settings_env, "status")
    assert status.returncode == 0, status.stderr
    assert '"name": "users"' in status.stdout and '"lag": 0' in status.stdout

    assert run(settings_env, "rebuild").returncode == 2
    unknown = run(settings_env, "rebuild", "nope")
    assert unknown.returncode == 2 and "unknown projector" in unknown.stderr
