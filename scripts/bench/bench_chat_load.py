"""How long a 1,000-message chat takes to load: from the snapshot, from every event, from cache.

    .venv/bin/python -m scripts.bench.bench_chat_load [--backend sqlite|postgres|both] [--runs N]

The chat is written the way the client writes it: one save per turn (user message, then the
assistant's), so it has ~2,000 events and a snapshot every 100 versions. PostgreSQL needs
CHRONICLE_BENCH_PG (an admin URL; a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PG_ADMIN = os.environ.get("CHRONICLE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MESSAGES = 1000


@contextmanager
def container(backend: str) -> Iterator[Any]:
    import psycopg

    from infrastructure.settings import Settings
    from interfaces.composition.bootstrap import bootstrap

    env = {"DATA_DIR": tempfile.mkdtemp(prefix="bench-chat-"), "LOG_LEVEL": "WARNING",
           "WEBUI_SECRET_KEY": uuid.uuid4().hex}
    name = f"chronicle_bench_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    built = bootstrap(Settings(**env), run_projectors=False)  # type: ignore[arg-type]
    try:
        yield built
    finally:
        built.close()
        if backend == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_long_chat(c: Any) -> tuple[Any, Any]:
    from application.auth import Principal
    from domain.user import User

    user_id = str(uuid.uuid4())
    c.store.save(User(user_id=user_id, email=f"{user_id}@x.org", name="B", role="user",
                      password_hash="-", profile_image_url="", stamp="s"))
    principal = Principal(id=user_id, role="user", via="session")
    chat = c.chats.create(principal, {"title": "long"}).value
    parent = None
    for n in range(MESSAGES):  # the client's full-JSON save, one message more each time
        doc = chat.to_chat_json()
        role = "user" if n % 2 == 0 else "assistant"
        doc["history"]["messages"][f"m{n}"] = {"id": f"m{n}", "parentId": parent, "role": role,
                                              "content": f"message {n} " + "lorem " * 40}
        doc["history"]["currentId"] = parent = f"m{n}"
        chat, _ = asyncio.run(c.chats.update(principal, str(chat.id), doc)).value
    return principal, chat


def timed(runs: int, load: Callable[[], Any]) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        load()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def replay_all(app: Any, chat_id: Any) -> Any:
    """What a load would cost without snapshots: decode and apply every event."""
    aggregate = None
    for event in app.events.get(chat_id):
        aggregate = event.mutate(aggregate)
    return aggregate


def bench(backend: str, runs: int) -> None:
    with container(backend) as c:
        started = time.perf_counter()
        principal, chat = write_long_chat(c)
        written = time.perf_counter() - started
        app, version = c.store.app, chat.version
        snapshot = next(iter(app.snapshots.get(chat.id, desc=True, limit=1)))
        results = {
            "snapshot + tail": timed(runs, lambda: app.repository.get(chat.id, version=version)),
            # The worst a snapshot interval allows: the newest snapshot then 99 events.
            "snapshot + 99": timed(runs, lambda: app.repository.get(
                chat.id, version=snapshot.originator_version - 1)),
            "all events": timed(runs, lambda: replay_all(app, chat.id)),
            "cache hit": timed(runs, lambda: c.store.get(chat.id)),
            "GET-path own()": timed(runs, lambda: c.chats.own(principal, str(chat.id))),
        }
        assert replay_all(app, chat.id).messages == chat.messages
        print(f"\n{backend}: {len(chat.messages)} messages, {version} events "
              f"(written in {written:.1f} s), newest snapshot at v{snapshot.originator_version}")
        for label, (p50, worst) in results.items():
            print(f"  {label:<16} p50 {p50:8.1f} ms   max {worst:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        bench(backend, args.runs)


if __name__ == "__main__":
    main()
