"""A projector process killed with SIGKILL mid-batch and restarted ends equal to a rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from interfaces.composition.bootstrap import bootstrap
from projections.runtime import read_state, rebuild
from projections.users import UsersProjector
from tests.conftest import make_settings
from tests.projections.test_runtime import dump, write_users

CHRONICLE = str(Path(sys.executable).with_name("chronicle"))


def start_projector(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([CHRONICLE, "projector", "users"], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def position(container) -> int:  # type: ignore[no-untyped-def]
    state = read_state(container.read_db, "users")
    return int(state["position"]) if state else 0


def wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def test_sigkill_mid_batch_then_restart_equals_rebuild(settings_env):
    container = bootstrap(make_settings(settings_env), run_projectors=False)
    try:
        # 16,040 events: many pages of work, more than three short-lived runs get through
        write_users(container.store, 40, 400)
        head = container.store.head()
        positions = [0]
        for _ in range(3):  # each run is killed just after it has committed progress
            proc = start_projector(settings_env)
            assert wait_for(lambda: position(container) > positions[-1], 60)
            time.sleep(0.03)  # into its next page
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            positions.append(position(container))
        assert positions == sorted(positions)
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
