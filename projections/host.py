"""Runs the projectors of a process and answers read-your-writes waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from infrastructure.sql import Database
from projections.compare import Comparison
from projections.runtime import (
    STATE_TABLE,
    Lease,
    LogReader,
    Projector,
    ProjectorRunner,
    Rebuilt,
    RunnerGroup,
    check_only,
    ensure_state_table,
    rebuild,
    rebuild_many,
    state_json,
)


class ProjectionHost:
    def __init__(self, db: Database, reader: LogReader, projectors: Sequence[type[Projector]],
                 lease: Lease | None = None, poll_interval: float = 0.05):
        self.db = db
        self.reader = reader
        self.classes = {cls.name: cls for cls in projectors}
        self.lease = lease
        self.poll_interval = poll_interval
        self.runners: dict[str, ProjectorRunner] = {}
        self.groups: list[RunnerGroup] = []
        self._positions: dict[str, int] = {}
        self._cond = threading.Condition()
        ensure_state_table(db)

    def start(self, names: Sequence[str] | None = None) -> None:
        """Start the named projectors (all by default), driven by one thread."""
        runners = [ProjectorRunner(self.classes[name], self.db, self.reader, self.advanced,
                                   lease=self.lease) for name in names or list(self.classes)]
        group = RunnerGroup(runners, self.reader, name=f"projectors-{len(self.groups)}")
        self.runners.update((runner.name, runner) for runner in runners)
        self.groups.append(group)
        group.start()

    def stop(self) -> None:
        for runner in self.runners.values():
            runner._stop.set()
        self.reader.stop()
        for group in self.groups:
            group.stop()
        for runner in self.runners.values():
            runner.stop()

    def advanced(self, name: str, position: int) -> None:
        with self._cond:
            if position >= self._positions.get(name, 0) or name not in self._positions:
                self._positions[name] = position
            self._cond.notify_all()

    def position(self, name: str) -> int:
        return self._positions.get(name, 0)

    def wait(self, names: Sequence[str], position: int, timeout: float) -> bool:
        """True once every named projection has applied the log up to `position`."""
        if position <= 0:
            return True
        names = list(names) or list(self.classes)
        deadline = time.monotonic() + timeout
        local = all(n in self.runners for n in names)
        while True:
            with self._cond:
                if all(self._positions.get(n, 0) >= position for n in names):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining if local else min(remaining, self.poll_interval))
            if not local:
                self.refresh_positions()

    def refresh_positions(self) -> None:
        """Read positions written by projector processes elsewhere (one indexed query)."""
        for row in self.db.query(f"SELECT name, position FROM {STATE_TABLE}"):
            if "@" not in row["name"]:
                self.advanced(row["name"], int(row["position"]))

    def status(self) -> list[dict[str, Any]]:
        head = self.reader.head
        rows = {r["name"]: r for r in self.db.query(f"SELECT * FROM {STATE_TABLE}")}
        result = []
        for name in self.classes:
            row = rows.get(name, {})
            runner = self.runners.get(name)
            position = runner.status.position if runner else int(row.get("position") or 0)
            item = {
                "name": name,
                "status": (runner.status.status if runner and runner.alive else
                           row.get("status") or "not started"),
                "position": position,
                "head": head,
                "lag": max(0, head - position),
                "generation": row.get("generation"),
                "failures": runner.status.failures if runner else row.get("failures", 0),
                "last_error": runner.status.last_error if runner else row.get("last_error"),
                "failed_event": (runner.status.failed_event if runner else
                                 state_json(row.get("failed_event"))),
                "skipped": int(row.get("skipped") or 0),  # stored at once by whoever skips
                "last_skipped": state_json(row.get("last_skipped")),
                "rebuilding": f"{name}@rebuild" in rows,
            }
            if runner and not runner.alive and item["status"] != "failed":
                item["status"] = "stopped"
            result.append(item)
        return result

    def rebuild(self, name: str, progress: Any = None) -> int:
        return rebuild(self.classes[name], self.db, self.reader, progress=progress)

    def rebuild_many(self, names: Sequence[str], progress: Any = None,
                     check: bool = True) -> list[Rebuilt]:
        """Rebuild read models from one read of the log, each checked against live. A feed
        (a projector without tables) has nothing to rebuild: it is reset the host's way."""
        feeds = [n for n in names if not self.classes[n].tables]
        done = [Rebuilt(n, self.rebuild(n), self.reader.head, None) for n in feeds]
        return done + rebuild_many([self.classes[n] for n in names if n not in feeds], self.db,
                                   self.reader, progress=progress, check=check)

    def check_only(self, names: Sequence[str], progress: Any = None) -> list[Comparison]:
        """Replay read models into scratch tables and compare them with live; swap nothing."""
        return check_only([self.classes[n] for n in names], self.db, self.reader.source,
                          progress=progress)
