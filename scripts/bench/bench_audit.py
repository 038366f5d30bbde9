"""Audit query benchmark on PostgreSQL: one chat with 5,000 events among other traffic.

    .venv/bin/python -m scripts.bench.bench_audit [--events 5000] [--requests 400]

The chat is built the way clients build one (a message appended per save, one event per save,
snapshots every 100), alongside 20 other users' chats so the audit index is not just this chat.
Every request goes through the whole ASGI stack as an admin: a page of 50 events at a random
page, the state at a random version, the diff between two random versions, and a log-wide query
by the chat owner's id. Target (issue #7): p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from typing import Any

from application.context import Actor, acting_as
from domain.chat import Chat
from domain.user import User
from infrastructure.settings import Settings
from interfaces.composition.bootstrap import bootstrap
from scripts.bench.common import drop_database, emit, fresh_database, percentiles, temp_dir


def seed(container: Any, events: int, rng: random.Random) -> tuple[str, str, str]:
    admin = User(user_id=str(uuid.uuid4()), email="admin@bench.org", name="Admin", role="admin",
                 password_hash="-", profile_image_url="", stamp="s")
    owner_id = str(uuid.uuid4())
    container.store.save(admin)
    others = [Chat.create(str(uuid.uuid4()), {"title": f"other {i}"}) for i in range(20)]
    container.store.save(*others)
    with acting_as(Actor(owner_id, "bench-audit")):
        chat = Chat.create(owner_id, {"title": "long chat", "history": {"messages": {}}})
        container.store.save(chat)
        parent, step = None, 0
        while chat.version < events:  # a message save records MessageAdded + CurrentMessageMoved
            step += 1
            if step % 5 == 0:  # other traffic interleaved in the log
                other = rng.choice(others)
                other.rename(f"other {step}")
                container.store.save(other)
            mid = f"m{step}"
            chat.upsert_message(mid, {"id": mid, "parentId": parent, "childrenIds": [],
                                      "role": "user" if step % 2 else "assistant",
                                      "content": f"message {step} " + "lorem ipsum " * 20,
                                      "timestamp": 1_700_000_000 + step})
            parent = mid
            container.store.save(chat)
    return str(chat.id), owner_id, container.auth.tokens.issue(str(admin.id), "s", None)[0]


def timed(client: Any, token: str, requests: int, make_url: Any) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for _ in range(requests):
        url = make_url()
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.text)
    return {k: (v * 1000 if k != "n" else v) for k, v in percentiles(samples).items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    rng = random.Random(11)
    url = fresh_database("chronicle_bench_audit")
    container = bootstrap(Settings(DATABASE_URL=url, DATA_DIR=temp_dir(),  # type: ignore[call-arg]
                                   WEBUI_SECRET_KEY="bench-audit-" + "k" * 32, LOG_LEVEL="WARNING"))
    try:
        started = time.perf_counter()
        chat_id, owner_id, token = seed(container, args.events, rng)
        assert container.host.wait(["audit_log"], container.store.head(), 300)
        seeded = time.perf_counter() - started
        container.read_db.query("ANALYZE")
        last = container.store.last_version(uuid.UUID(chat_id))
        base = f"/api/v1/audit/chat/{chat_id}"
        pages = max(1, last // 50)
        with TestClient(create_app(container=container)) as client:
            timed(client, token, 50, lambda: f"{base}/events")  # warm pools and caches
            load_before = os.getloadavg()[0]
            results = {
                "events_page_ms": timed(client, token, args.requests,
                                        lambda: f"{base}/events?page={rng.randint(1, pages)}"),
                "state_ms": timed(client, token, args.requests,
                                  lambda: f"{base}/state?version={rng.randint(1, last)}"),
                "diff_ms": timed(client, token, args.requests, lambda: _diff(base, last, rng)),
                "log_by_actor_ms": timed(client, token, args.requests,
                                         lambda: f"/api/v1/audit/events?actor_id={owner_id}"
                                                 f"&kind=chat&cursor={rng.randint(50, last)}"),
            }
        return {"chat_events": last, "log_events": container.store.head(), "seed_s": seeded,
                "load_avg_before_after": [load_before, os.getloadavg()[0]], **results}
    finally:
        container.close()
        drop_database(url)


def _diff(base: str, last: int, rng: random.Random) -> str:
    start = rng.randint(1, last - 20)
    return f"{base}/diff?from_version={start}&to_version={start + rng.randint(1, 20)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=400)
    emit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
