"""Rebuild of every projection over a large log on PostgreSQL, against a raw read of that log.

    .venv/bin/python -m scripts.bench.bench_rebuild [--events 1000000]

Seeds users, chats with messages (most of the log, as in production), models and tools straight
through the event store (group commit, encryption, hash chain), lets the live projectors catch up,
then measures in the same run:

  raw read          every stored event paged out of PostgreSQL (the bytes, not decoded)
  read + decode     the same, decrypted and turned into domain events
  rebuild --all     every projector into shadow tables in one pass over the log, each checked
                    against live at the same position, then swapped
  verify            hash chains, every aggregate replayed, every read model compared

Each pass also reports the CPU seconds it cost this process and the PostgreSQL server.

Target (issue #7): rebuild events/s >= 50 % of the raw read's.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

from application.context import Actor, acting_as
from domain.chat import Chat
from domain.model import Model
from domain.user import User
from infrastructure.settings import Settings
from interfaces.composition.bootstrap import bootstrap
from scripts.bench.common import CpuMeter, drop_database, emit, fresh_database, temp_dir

PAGE = 2000


def seed(container: Any, events: int) -> int:
    """About 490 events per user: registration, settings, 10 chats of 24 messages."""
    store, written, n = container.store, 0, 0
    while written < events:
        n += 1
        user = User(user_id=str(uuid.uuid4()), email=f"u{n}@bench.org", name=f"User {n}",
                    role="user", password_hash="-", profile_image_url="", stamp="s")
        user.update_settings({"ui": {"theme": "dark"}})
        with acting_as(Actor(str(user.id), f"seed-{n}")):
            chats = [_chat(str(user.id), c, messages=24) for c in range(10)]
            batch: list[Any] = [user, *chats]
            if n % 10 == 0:
                batch.append(Model(model_id=f"bench/{n}", user_id=str(user.id),
                                   base_model_id="llama3", name=f"Model {n}",
                                   meta={"description": "benchmark model"}, params={},
                                   access_control=None, is_active=True))
            written += sum(len(a.pending_events) for a in batch)
            store.save(*batch)
    return written


def _chat(owner: str, index: int, messages: int) -> Chat:
    chat = Chat.create(owner, {"title": f"chat {index}", "history": {"messages": {}}})
    parent = None
    for step in range(messages):
        mid = f"m{step}"
        chat.upsert_message(mid, {"id": mid, "parentId": parent, "childrenIds": [],
                                  "role": "user" if step % 2 == 0 else "assistant",
                                  "content": f"message {step} about topic {index} " * 6,
                                  "timestamp": 1_700_000_000 + step})
        parent = mid
    return chat


def raw_read(container: Any, decode: bool) -> dict[str, float]:
    source, position, count = container.store, 0, 0
    started = time.perf_counter()
    while rows := source.select(position, PAGE):
        if decode:
            for row in rows:
                source.decode(row)
        count += len(rows)
        position = rows[-1].id
    elapsed = time.perf_counter() - started
    return {"events": count, "seconds": elapsed, "events_per_s": count / elapsed}


def rebuild_all(container: Any) -> dict[str, Any]:
    names = list(container.host.classes)
    started = time.perf_counter()
    results = container.host.rebuild_many(names)
    elapsed = time.perf_counter() - started
    head = container.store.head()
    drift = [r.name for r in results if getattr(r, "comparison", None) is not None
             and not r.comparison.agrees]
    return {"projectors": names, "events": head, "seconds": elapsed,
            "events_per_s": head / elapsed, "drift": drift}


def verify(container: Any) -> dict[str, Any]:
    from scripts.verify import verify_all

    started = time.perf_counter()
    report = verify_all(container)
    elapsed = time.perf_counter() - started
    head = container.store.head()
    return {"seconds": elapsed, "events_per_s": head / elapsed, "clean": report.clean}


def metered(step: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The step's result with the CPU seconds it cost this process and PostgreSQL's: on two
    cores a pass cannot take less than half their sum."""
    meter = CpuMeter({"bench": os.getpid()})
    result = step(*args, **kwargs)
    return {**result, "cpu_seconds": meter.seconds()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = fresh_database("chronicle_bench_rebuild")
    container = bootstrap(Settings(DATABASE_URL=url, DATA_DIR=temp_dir(),  # type: ignore[call-arg]
                                   WEBUI_SECRET_KEY="bench-rebuild-" + "k" * 32,
                                   LOG_LEVEL="WARNING"))
    try:
        started = time.perf_counter()
        written = seed(container, args.events)
        seeded = time.perf_counter() - started
        assert container.host.wait(list(container.host.classes), container.store.head(), 3600)
        caught_up = time.perf_counter() - started
        container.read_db.query("ANALYZE")
        container.host.stop()  # the rebuild is measured alone, as an operator runs it
        load_before = os.getloadavg()[0]
        raw = metered(raw_read, container, decode=False)
        decoded = metered(raw_read, container, decode=True)
        rebuilt = metered(rebuild_all, container)
        checked = metered(verify, container) if not args.skip_verify else None
        return {"events": written, "seed_s": seeded, "live_catch_up_s": caught_up,
                "load_avg_before_after": [load_before, os.getloadavg()[0]],
                "raw_read": raw, "read_and_decode": decoded, "rebuild_all": rebuilt,
                "rebuild_vs_raw_read": rebuilt["events_per_s"] / raw["events_per_s"],
                "rebuild_vs_read_and_decode": rebuilt["events_per_s"] / decoded["events_per_s"],
                "verify": checked}
    finally:
        container.close()
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-verify", action="store_true")
    emit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
