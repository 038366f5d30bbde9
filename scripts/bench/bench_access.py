"""Groups, prompts and access benchmark (issue #13) on PostgreSQL + Redis: the three workspace
lists under group grants, and how soon a group membership change shows in them.

    .venv/bin/python -m scripts.bench.bench_access [--items 5000] [--users 500] [--groups 100]
        [--requests 1000] [--changes 100]

The dataset is built through the use cases, as the routes call them: the first sign-up (the
admin), `add_user` for every member (argon2 hashes included), groups created and filled with
`groups.create` / `groups.add_users` (each user in 1-5 groups), and for each of models,
knowledge bases and prompts `create` (private) followed by `access_update` granting read to 1-5
groups. The admin owns every item, so what a member sees comes from their groups alone. The
commands run on a thread pool (their commits share transactions: group commit) while no projector
runs; then the production shape starts: one uvicorn API process with two workers and one
`chronicle projector` process with every table projector (the realtime feed is left out: no
socket listens). Once the read models have caught up they are ANALYZEd, as autovacuum does
within a minute of a bulk load.

Measured over HTTP with one client, as a non-admin member picked at random per request:
`GET /api/v1/models/list`, `/api/v1/knowledge/` (every knowledge base the caller may read: the
route as the issue names it, without a page), `/api/v1/knowledge/search` (the workspace's first
page) and `/api/v1/prompts/list`, beside `/api/v1/auths/` (the stack's floor).

Membership changes: a probe group grants read on one model, one knowledge base and one prompt
(created last, so they head each list's first page: models/list, knowledge/?page=1,
prompts/list). The admin adds a member to it over HTTP (`POST /api/v1/groups/id/{id}/users/add`);
as soon as the answer is back, three pollers (one per list, 5 ms between polls) ask as that
member until their list shows the probe item. A latency runs from sending the change to the
first answer that shows it; "every list" is the slowest of the three. Then the member is removed
(`users/remove`) and the same is timed until the probes are gone.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from application.auth import Principal
from application.models import ModelInput
from application.prompts import PromptInput
from infrastructure.settings import Settings
from interfaces.composition.bootstrap import bootstrap
from scripts.bench.common import CpuMeter, drop_database, emit, fresh_database, percentiles, temp_dir
from tests.realtime.processes import Proc, api, projector, server_env

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
PASSWORD = "bench-pass-1"
TAGS = [f"tag{i}" for i in range(20)]
READ_MODELS = ["users", "groups", "models", "knowledge", "files", "prompts"]
T = TypeVar("T")


def parallel(work: Callable[[T], Any], items: Iterable[T], threads: int) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


# -- the dataset ------------------------------------------------------------------------------
@dataclass
class Dataset:
    admin: Principal
    admin_token: str
    tokens: dict[str, str]  # member id -> session token
    memberships: dict[str, list[str]]  # member id -> group ids
    groups: list[str]
    probe_group: str
    probe: dict[str, str]  # "model" | "knowledge" | "prompt" -> id
    seconds: dict[str, float]


def read_grant(group_ids: list[str]) -> dict[str, Any]:
    return {"read": {"group_ids": group_ids, "user_ids": []}}


def make_users(container: Any, count: int, threads: int) -> tuple[Principal, str, dict[str, str]]:
    session, _ = container.auth.signup("Admin", "admin@bench.org", PASSWORD, None)
    admin = Principal(id=str(session.user.id), role="admin", via="session")

    def add(i: int) -> tuple[str, str]:
        member, _ = container.auth.add_user(f"Member {i}", f"m{i}@bench.org", PASSWORD, None,
                                            "user")
        return str(member.user.id), member.token

    return admin, session.token, dict(parallel(add, range(count), threads))


def make_groups(container: Any, admin: Principal, count: int, user_ids: list[str],
                rng: random.Random, threads: int) -> tuple[list[str], dict[str, list[str]]]:
    """`count` groups; each user in 1-5 of them."""
    groups = [container.groups.create(admin, f"Group {g}", "A benchmark group", None, None,
                                      None).value["id"] for g in range(count)]
    memberships = {u: rng.sample(groups, min(count, rng.randint(1, 5))) for u in user_ids}
    members: dict[str, list[str]] = {g: [] for g in groups}
    for user_id, joined in memberships.items():
        for group_id in joined:
            members[group_id].append(user_id)
    parallel(lambda g: container.groups.add_users(g, members[g]), groups, threads)
    return groups, memberships


def make_model(container: Any, admin: Principal, i: int, grant: dict[str, Any]) -> str:
    model_id = f"bench/model-{i}"
    rng = random.Random(i)
    container.models.create(admin, ModelInput(
        id=model_id, name=f"Model {i} {rng.choice(['Writer', 'Coder', 'Tutor', 'Analyst'])}",
        meta={"description": "A benchmark model " * 4,
              "tags": [{"name": t} for t in rng.sample(TAGS, 2)],
              "capabilities": {"vision": True, "citations": True}},
        params={"system": "You are helpful. " * 20, "temperature": 0.7},
        base_model_id="llama3:8b"))
    container.models.access_update(admin, model_id, None, grant)
    return model_id


def make_knowledge(container: Any, admin: Principal, i: int, grant: dict[str, Any]) -> str:
    kb = container.knowledge.create(admin, f"Knowledge {i}", "A benchmark collection " * 4,
                                    (False, None)).value
    container.knowledge.access_update(admin, kb.knowledge_id, grant)
    return str(kb.knowledge_id)


def make_prompt(container: Any, admin: Principal, i: int, grant: dict[str, Any]) -> str:
    rng = random.Random(i)
    prompt = container.prompts.create(admin, PromptInput(
        command=f"bench{i}", name=f"Prompt {i}", content="Summarise the following text. " * 10,
        tags=rng.sample(TAGS, 2))).value
    prompt_id = str(prompt.id)
    container.prompts.access_update(admin, prompt_id, grant)
    return prompt_id


MAKERS: dict[str, Callable[[Any, Principal, int, dict[str, Any]], str]] = {
    "model": make_model, "knowledge": make_knowledge, "prompt": make_prompt}


def make_items(container: Any, admin: Principal, count: int, groups: list[str],
               rng: random.Random, threads: int) -> None:
    """`count` of each kind, each shared (read) with 1-5 groups."""
    for maker in MAKERS.values():
        grants = [read_grant(rng.sample(groups, min(len(groups), rng.randint(1, 5))))
                  for _ in range(count)]

        def one(i: int, maker: Callable[..., str] = maker,
                grants: list[dict[str, Any]] = grants) -> str:
            return maker(container, admin, i, grants[i])

        parallel(one, range(count), threads)


def build(container: Any, args: argparse.Namespace, rng: random.Random) -> Dataset:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    admin, admin_token, tokens = make_users(container, args.users, args.threads)
    seconds["users"] = time.perf_counter() - started
    mark = time.perf_counter()
    groups, memberships = make_groups(container, admin, args.groups, list(tokens), rng,
                                      args.threads)
    seconds["groups"] = time.perf_counter() - mark
    mark = time.perf_counter()
    make_items(container, admin, args.items, groups, rng, args.threads)
    seconds["items"] = time.perf_counter() - mark
    time.sleep(1.1)  # timestamps are whole seconds: the probes must be the newest of all
    probe_group = container.groups.create(admin, "Probe", "The membership-change probe", None,
                                          None, None).value["id"]
    probe = {kind: maker(container, admin, 10**9, read_grant([probe_group]))
             for kind, maker in MAKERS.items()}
    seconds["commands"] = time.perf_counter() - started
    return Dataset(admin, admin_token, tokens, memberships, groups, probe_group, probe, seconds)


# -- the deployment ---------------------------------------------------------------------------
def start_servers(env: dict[str, str], container: Any, logs: Path) -> list[Proc]:
    full = server_env(env, PG_POOL_SIZE="4", PG_POOL_MAX="8")
    tables = tuple(n for n in container.host.classes if n != "realtime")
    procs = [api("api", full, logs, workers=2), projector(full, logs, tables)]
    procs[0].start().wait_healthy(120)
    procs[1].start()
    return procs


def process_ids(procs: list[Proc]) -> dict[str, int]:
    """The API workers (children of uvicorn's supervisor) and the projector, for CpuMeter."""
    ids = {proc.name: proc.popen.pid for proc in procs if proc.popen}
    supervisor = ids.get("api")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if parent == supervisor:
                ids[f"api-worker-{entry.name}"] = int(entry.name)
    return ids


# -- measurements -----------------------------------------------------------------------------
def timed_gets(http: httpx.Client, path: str, tokens: list[str], requests: int,
               rng: random.Random, params: dict[str, Any] | None = None) -> list[float]:
    samples = []
    for _ in range(requests):
        headers = {"Authorization": f"Bearer {rng.choice(tokens)}"}
        started = time.perf_counter()
        response = http.get(path, params=params, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


LISTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "models_list": ("/api/v1/models/list", None),
    "knowledge_all": ("/api/v1/knowledge/", None),
    "knowledge_search": ("/api/v1/knowledge/search", None),
    "prompts_list": ("/api/v1/prompts/list", None),
}


def list_latencies(http: httpx.Client, tokens: list[str], requests: int,
                   rng: random.Random) -> dict[str, Any]:
    for path, params in LISTS.values():  # warm pools and caches
        timed_gets(http, path, tokens, 50, rng, params)
    floor = timed_gets(http, "/api/v1/auths/", tokens, requests, rng)
    out: dict[str, Any] = {"baseline_auths_ms": percentiles(floor)}
    for name, (path, params) in LISTS.items():
        out[f"{name}_ms"] = percentiles(timed_gets(http, path, tokens, requests, rng, params))
    return out


def visible_counts(http: httpx.Client, tokens: list[str]) -> dict[str, Any]:
    """How much a member sees (50 members): totals of each list."""
    counts: dict[str, list[int]] = {"models": [], "knowledge": [], "prompts": []}
    for token in tokens[:50]:
        headers = {"Authorization": f"Bearer {token}"}
        counts["models"].append(http.get("/api/v1/models/list", headers=headers).json()["total"])
        counts["knowledge"].append(len(http.get("/api/v1/knowledge/", headers=headers).json()))
        counts["prompts"].append(http.get("/api/v1/prompts/list", headers=headers).json()["total"])
    return {kind: {"min": min(v), "mean": sum(v) / len(v), "max": max(v)}
            for kind, v in counts.items()}


def first_ids(http: httpx.Client, kind: str, headers: dict[str, str]) -> list[str]:
    """The ids on the first page of a member's list of `kind`."""
    if kind == "model":
        body = http.get("/api/v1/models/list", headers=headers).json()["items"]
    elif kind == "knowledge":
        body = http.get("/api/v1/knowledge/", params={"page": 1}, headers=headers).json()
    else:
        body = http.get("/api/v1/prompts/list", headers=headers).json()["items"]
    return [row["id"] for row in body]


POLL_PAUSE = 0.005  # between one member's polls: CPU left for the projector on two cores


def watch(http: httpx.Client, kind: str, probe_id: str, headers: dict[str, str], present: bool,
          started: float, timeout: float = 10.0) -> tuple[float, int]:
    """Poll one list until the probe is shown (or gone): milliseconds since `started`, polls."""
    polls = 0
    while True:
        polls += 1
        if (probe_id in first_ids(http, kind, headers)) == present:
            return (time.perf_counter() - started) * 1000, polls
        assert time.perf_counter() - started < timeout, f"the {kind} list never reflected it"
        time.sleep(POLL_PAUSE)


STEPS = (("add", True), ("remove", False))


def membership_changes(base_url: str, data: Dataset, changes: int,
                       rng: random.Random) -> dict[str, Any]:
    """`changes` adds and removes of a random member on the probe group, each list watched by a
    poller of its own (the member's three lists at once)."""
    admin = {"Authorization": f"Bearer {data.admin_token}"}
    path = f"/api/v1/groups/id/{data.probe_group}/users"
    names = {"model": "models_list_ms", "knowledge": "knowledge_list_ms",
             "prompt": "prompts_list_ms"}
    result: dict[str, dict[str, list[float]]] = {
        step: {"command_ms": [], **{n: [] for n in names.values()}, "every_list_ms": [],
               "polls": []} for step, _ in STEPS}
    clients = {kind: httpx.Client(base_url=base_url, timeout=30) for kind in [*data.probe, "admin"]}
    try:
        with ThreadPoolExecutor(len(data.probe)) as pool:
            for _ in range(changes):
                member = rng.choice(list(data.tokens))
                headers = {"Authorization": f"Bearer {data.tokens[member]}"}
                assert data.probe["model"] not in first_ids(clients["model"], "model", headers)
                for step, present in STEPS:
                    started = time.perf_counter()
                    r = clients["admin"].post(f"{path}/{step}", json={"user_ids": [member]},
                                              headers=admin)
                    r.raise_for_status()
                    samples = result[step]
                    samples["command_ms"].append((time.perf_counter() - started) * 1000)
                    waits = {kind: pool.submit(watch, clients[kind], kind, probe_id, headers,
                                               present, started)
                             for kind, probe_id in data.probe.items()}
                    seen = {kind: wait.result() for kind, wait in waits.items()}
                    for kind, (elapsed, _) in seen.items():
                        samples[names[kind]].append(elapsed)
                    samples["every_list_ms"].append(max(t for t, _ in seen.values()))
                    samples["polls"].append(sum(p for _, p in seen.values()))
    finally:
        for client in clients.values():
            client.close()
    return {step: {name: percentiles(v) for name, v in samples.items()}
            for step, samples in result.items()}


# -- the run ----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(13)
    url = fresh_database("chronicle_bench_access")
    tmp = temp_dir()
    env = {"DATABASE_URL": url, "REDIS_URL": REDIS, "DATA_DIR": str(tmp / "data"),
           "WEBUI_SECRET_KEY": "bench-access-" + "k" * 32, "LOG_LEVEL": "WARNING",
           "CHRONICLE_PROJECTORS": "external"}
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    container = bootstrap(Settings(**env), run_projectors=False)  # type: ignore[arg-type]
    procs: list[Proc] = []
    try:
        data = build(container, args, rng)
        head = container.store.head()
        mark = time.perf_counter()
        procs = start_servers(env, container, tmp)
        assert container.host.wait(READ_MODELS, head, 900), "the projectors did not catch up"
        data.seconds["servers_up_and_caught_up"] = time.perf_counter() - mark
        container.read_db.query("ANALYZE")
        member_tokens = list(data.tokens.values())
        sample = rng.sample(member_tokens, min(len(member_tokens), args.sample))
        meter = CpuMeter(process_ids(procs))
        load_before = os.getloadavg()[0]
        with httpx.Client(base_url=procs[0].url, timeout=30) as http:
            lists = list_latencies(http, sample, args.requests, rng)
            changes = membership_changes(procs[0].url, data, args.changes, rng)
            visible = visible_counts(http, sample)
        return {"items_each": args.items, "users": args.users, "groups": args.groups,
                "events": head, "build_s": data.seconds, "visible_per_member": visible,
                "load_avg_before_after": [load_before, os.getloadavg()[0]],
                "cpu_s_during_measurements": meter.seconds(), **lists,
                "membership_change": changes}
    finally:
        for proc in reversed(procs):
            proc.stop()
        container.close()
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=5000, help="models, knowledge bases and "
                        "prompts, each")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000, help="per list endpoint")
    parser.add_argument("--sample", type=int, default=200, help="members the requests come as")
    parser.add_argument("--changes", type=int, default=100, help="membership adds (and removes)")
    parser.add_argument("--threads", type=int, default=8, help="command threads while building")
    emit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
