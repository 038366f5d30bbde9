"""Model list benchmark on PostgreSQL (+ Redis when available): 5,000 models, 200 users,
group-based access control.

    .venv/bin/python -m scripts.bench.bench_models [--models 5000] [--users 200] [--requests 1000]

Seeding writes Model and User aggregates straight to the log (as bench_foundation does),
waits for the read models and ANALYZEs them (autovacuum does so soon after a bulk load).
Groups do not exist yet, so membership comes through the `GroupMembership` port implemented
here over a table this script owns (`bench_group_members` in the read-model database): the
measured time includes that lookup, as it will include the Groups read model's. Every request
is `GET /api/v1/models/list` through the whole ASGI stack (authentication, read-your-writes
check, access filter, count, page, owners, serialisation) as a non-admin user; the mixed run
is 70 % first page, 10 % each later page, text query, tag.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from typing import Any

from domain.model import Model
from domain.user import User
from infrastructure.settings import Settings
from infrastructure.sql import Database
from interfaces.composition.bootstrap import bootstrap
from scripts.bench.common import drop_database, emit, fresh_database, percentiles, temp_dir

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
TAGS = [f"tag{i}" for i in range(20)]


class TableGroups:
    """The GroupMembership port over the benchmark's own membership table."""

    def __init__(self, db: Database):
        self.db = db

    def group_ids(self, user_id: str) -> list[str]:
        rows = self.db.query("SELECT group_id FROM bench_group_members WHERE user_id = ?",
                             (user_id,))
        return [r["group_id"] for r in rows]


def seed_users(container: Any, count: int) -> list[User]:
    users = [User(user_id=str(uuid.uuid4()), email=f"m{i}@bench.org", name=f"Member {i}",
                  role="user", password_hash="-", profile_image_url="", stamp=f"s{i}")
             for i in range(count)]
    for start in range(0, count, 200):
        container.store.save(*users[start:start + 200])
    return users


def seed_groups(db: Database, users: list[User], groups: int, rng: random.Random
                ) -> dict[str, list[str]]:
    members = {str(u.id): rng.sample([f"group-{g}" for g in range(groups)], rng.randint(1, 3))
               for u in users}
    with db.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS bench_group_members (user_id TEXT NOT NULL,"
                   " group_id TEXT NOT NULL, PRIMARY KEY (user_id, group_id))")
        tx.executemany("INSERT INTO bench_group_members (user_id, group_id) VALUES (?, ?)",
                       [(u, g) for u, gs in members.items() for g in gs])
    return members


def access_for(rng: random.Random, user_ids: list[str], groups: int) -> dict[str, Any] | None:
    """20 % public, 50 % shared with groups, 20 % with users, 10 % private."""
    roll = rng.random()
    if roll < 0.2:
        return None
    if roll < 0.7:
        read = rng.sample([f"group-{g}" for g in range(groups)], rng.randint(1, 3))
        return {"read": {"group_ids": read, "user_ids": []},
                "write": {"group_ids": read[:1] if rng.random() < 0.3 else [], "user_ids": []}}
    if roll < 0.9:
        return {"read": {"group_ids": [], "user_ids": rng.sample(user_ids, 5)},
                "write": {"group_ids": [], "user_ids": []}}
    return {}


def seed_models(container: Any, count: int, user_ids: list[str], groups: int,
                rng: random.Random) -> None:
    batch: list[Model] = []
    for i in range(count):
        batch.append(Model(
            model_id=f"bench/model-{i}", user_id=rng.choice(user_ids), base_model_id="llama3:8b",
            name=f"Model {i} {rng.choice(['Writer', 'Coder', 'Tutor', 'Analyst'])}",
            meta={"description": "A benchmark model " * 4,
                  "tags": [{"name": t} for t in rng.sample(TAGS, 2)],
                  "capabilities": {"vision": True, "citations": True}},
            params={"system": "You are helpful. " * 20, "temperature": 0.7},
            access_control=access_for(rng, user_ids, groups), is_active=True))
        if len(batch) == 500:
            container.store.save(*batch)
            batch = []
    if batch:
        container.store.save(*batch)


def request_mix(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.7:
        return {}
    if roll < 0.8:
        return {"page": rng.randint(2, 5)}
    if roll < 0.9:
        return {"query": rng.choice(["coder", "model 1", "tutor"])}
    return {"tag": rng.choice(TAGS)}


def measure(client: Any, tokens: list[str], requests: int, rng: random.Random,
            mixed: bool, path: str = "/api/v1/models/list") -> dict[str, float]:
    samples = []
    for _ in range(requests):
        params = request_mix(rng) if mixed else {}
        headers = {"Authorization": f"Bearer {rng.choice(tokens)}"}
        started = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    stats = percentiles(samples)
    return {k: (v * 1000 if k != "n" else v) for k, v in stats.items()}


def measure_service(container: Any, users: list[User], requests: int,
                    rng: random.Random) -> dict[str, float]:
    """The use case alone (group lookup, access-filtered count and page): no HTTP stack."""
    from application.auth import Principal
    from application.models import ModelFilter

    samples = []
    for _ in range(requests):
        principal = Principal(id=str(rng.choice(users).id), role="user", via="session")
        started = time.perf_counter()
        container.models.page(principal, ModelFilter(), 1)
        samples.append(time.perf_counter() - started)
    return {k: (v * 1000 if k != "n" else v) for k, v in percentiles(samples).items()}


def visible_counts(client: Any, tokens: list[str]) -> dict[str, float]:
    totals = [client.get("/api/v1/models/list", headers={"Authorization": f"Bearer {t}"})
              .json()["total"] for t in tokens[:50]]
    return {"min": min(totals), "mean": sum(totals) / len(totals), "max": max(totals)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    rng = random.Random(7)
    url = fresh_database("chronicle_bench_models")
    env: dict[str, Any] = {"DATABASE_URL": url, "DATA_DIR": temp_dir(),
                           "WEBUI_SECRET_KEY": "bench-models-" + "k" * 32, "LOG_LEVEL": "WARNING"}
    if not args.no_redis:
        env["REDIS_URL"] = REDIS
    container = bootstrap(Settings(**env))
    try:
        started = time.perf_counter()
        users = seed_users(container, args.users)
        user_ids = [str(u.id) for u in users]
        seed_groups(container.read_db, users, args.groups, rng)
        seed_models(container, args.models, user_ids, args.groups, rng)
        assert container.host.wait(["users", "models"], container.store.head(), 300)
        seeded = time.perf_counter() - started
        # Statistics, as autovacuum gathers them a minute after a bulk load in production.
        container.read_db.query("ANALYZE")
        container.models.groups = TableGroups(container.read_db)
        tokens = [container.auth.tokens.issue(str(u.id), u.session_stamp, None)[0] for u in users]
        with TestClient(create_app(container=container)) as client:
            measure(client, tokens, 100, rng, mixed=True)  # warm caches and pools
            load_before = os.getloadavg()[0]
            # The same stack's floor: an authenticated GET that reads nothing.
            baseline = measure(client, tokens, args.requests, rng, False, "/api/v1/auths/")
            first_page = measure(client, tokens, args.requests, rng, mixed=False)
            service = measure_service(container, users, args.requests, rng)
            mixed = measure(client, tokens, args.requests, rng, mixed=True)
            visible = visible_counts(client, tokens)
        return {"models": args.models, "users": args.users, "groups": args.groups,
                "redis": not args.no_redis, "seed_s": seeded, "visible_per_user": visible,
                "load_avg_before_after": [load_before, os.getloadavg()[0]],
                "baseline_auths_ms": baseline, "first_page_ms": first_page, "mixed_ms": mixed,
                "service_first_page_ms": service}
    finally:
        container.close()
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--no-redis", action="store_true")
    emit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
