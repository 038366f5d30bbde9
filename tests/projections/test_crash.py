"""A projector process killed with SIGKILL mid-batch and restarted ends equal to a rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infrastructure.bootstrap import bootstrap
from projections.runtime import read_state, rebuild
from projections.users import UsersProjector
from tests.conftest import make_settings
from tests.projections.test_runtime import dump, write_users

CHRONICLE = str(Path(sys.executable).with_name("chronicle"))


def start_projector(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([CHRONICLE, "projector", "users"], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_mid_batch_then_restart_equals_rebuild(settings_env):
    container = bootstrap(make_settings(settings_env), run_projectors=False)
    try:
        # 16,040 events: many pages of work, more than three short-lived runs get through
        write_users(container.store, 40, 400)
        head = container.store.head()
        positions = []
        for delay in (1.2, 0.6, 0.9):
            proc = start_projector(settings_env)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            state = read_state(container.read_db, "users")
            positions.append(state["position"] if state else 0)
        assert positions[-1] < head, "the kills should land before the projector caught up"
        proc = start_projector(settings_env)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                state = read_state(container.read_db, "users")
                if state and state["position"] >= head:
                    break
                time.sleep(0.2)
            assert state and state["position"] == head
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        live = dump(container.read_db)
        assert len(live) == 40
        rebuild(UsersProjector, container.read_db, container.reader)
        assert dump(container.read_db) == live
    finally:
        container.close()
