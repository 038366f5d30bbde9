"""Operator tool: export the event log as NDJSON (`chronicle export [-o FILE]`).

One JSON object per line, each sealed with `checksum`, an HMAC-SHA256 under a key derived from
WEBUI_SECRET_KEY (so only a holder of the secret can produce a file that imports):

    {"kind": "header", "format": "chronicle-events", "version": 1, "created_at", "source_head"}
    {"kind": "key", "owner", "wrapped"}            a data key, still wrapped with the server's KEK
    {"kind": "key", "owner", "erased_at"}          an erased owner: a marker, never key material
    {"kind": "event", "position", "originator_id", "originator_version", "topic", "state"}
                                                   state: base64 of the stored bytes (encrypted)
    {"kind": "trailer", "events", "keys", "digest"}

`digest` chains every line's checksum in order, so a dropped, reordered or truncated line is
found. Snapshots are not exported: they are derived from the events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from infrastructure.keys import derive_kek

FORMAT = "chronicle-events"
VERSION = 1
PAGE = 2000


class Seal:
    """Checksums of lines and the running digest over them."""

    def __init__(self, secret: str):
        self.key = derive_kek(secret, b"export")
        self.digest = ""

    def checksum(self, record: dict[str, Any]) -> str:
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()

    def advance(self, checksum: str) -> None:
        self.digest = hmac.new(self.key, (self.digest + checksum).encode(),
                               hashlib.sha256).hexdigest()

    def seal(self, record: dict[str, Any]) -> str:
        checksum = self.checksum(record)
        self.advance(checksum)
        return json.dumps({**record, "checksum": checksum}, separators=(",", ":"),
                          ensure_ascii=False) + "\n"


def key_record(row: dict[str, Any]) -> dict[str, Any]:
    if row["erased_at"] is not None or row["wrapped"] is None:
        return {"kind": "key", "owner": row["owner"], "erased_at": row["erased_at"]}
    return {"kind": "key", "owner": row["owner"],
            "wrapped": base64.b64encode(bytes(row["wrapped"])).decode()}


def event_record(row: Any) -> dict[str, Any]:
    return {"kind": "event", "position": int(row.id), "originator_id": str(row.originator_id),
            "originator_version": int(row.originator_version), "topic": row.topic,
            "state": base64.b64encode(bytes(row.state)).decode()}


def stored_rows(store: Any, head: int) -> Iterator[Any]:
    """Every stored event up to `head`, in log order."""
    position = 0
    while rows := [r for r in store.select(position, PAGE) if r.id <= head]:
        yield from rows
        position = rows[-1].id


def export(container: Any, out: IO[str], progress: Callable[[int], None] | None = None
           ) -> dict[str, int]:
    """Write the whole log up to the current head. Keys are read after the head: a key is
    created before the first event that uses it, so every exported event has its key."""
    seal = Seal(container.settings.secret_key())
    head = container.store.head()
    out.write(seal.seal({"kind": "header", "format": FORMAT, "version": VERSION,
                         "created_at": datetime.now(UTC).isoformat(), "source_head": head}))
    keys = container.vault.query("SELECT owner, wrapped, erased_at FROM data_keys ORDER BY owner")
    for row in keys:
        out.write(seal.seal(key_record(row)))
    events = 0
    for row in stored_rows(container.store, head):
        out.write(seal.seal(event_record(row)))
        events += 1
        if progress and events % PAGE == 0:
            progress(int(row.id))
    out.write(seal.seal({"kind": "trailer", "events": events, "keys": len(keys),
                         "digest": seal.digest}))
    return {"events": events, "keys": len(keys), "head": head}


def run(output: str | None) -> int:
    from interfaces.composition.bootstrap import bootstrap
    from scripts.rebuild import progress_bar, say

    container = bootstrap(run_projectors=False)
    try:
        head = container.store.head()
        with progress_bar("export", head) as advance:
            if output is None:
                summary = export(container, sys.stdout, advance)
                sys.stdout.flush()
            else:
                summary = _export_file(container, Path(output), advance)
        say(f"exported {summary['events']} events and {summary['keys']} keys "
                      f"(log head {summary['head']}) to {output or 'stdout'}")
        return 0
    except KeyboardInterrupt:
        say("interrupted: nothing was written to the output file")
        return 130
    finally:
        container.close()


def _export_file(container: Any, path: Path, advance: Callable[[int], None]) -> dict[str, int]:
    """Written beside the target and renamed at the end: an interrupted export leaves nothing."""
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            summary = export(container, out, advance)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("export"))
