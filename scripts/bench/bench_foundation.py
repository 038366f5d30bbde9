"""Foundation benchmark on PostgreSQL, in one run:

(a) raw single-row INSERT ceiling (pgbench, 1/16/64 clients)
(b) the command append path with 1, 16 and 64 concurrent commands (group commit): in one
    process, and spread over two processes as the two API workers of the production shape
    (docker-compose.yml) run them, both committing to the same event table; each on worker
    threads (`CommandRunner.run`, as a sync endpoint runs a command) and as tasks on an event
    loop (`run_async`, as `POST /users/user/settings/update` runs it)
(c) HTTP sign-in, then an authenticated GET: throughput and p50/p99
(d) projection lag p50/p99 at a steady 200 commands/s
(e) rebuild rate of the users read model

    .venv/bin/python -m scripts.bench.bench_foundation [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from domain.user import User
from infrastructure.settings import Settings
from interfaces.composition.bootstrap import bootstrap
from projections.runtime import rebuild
from projections.users import UsersProjector
from scripts.bench.common import (
    CpuMeter,
    drop_database,
    emit,
    fresh_database,
    percentiles,
    temp_dir,
)


def raw_insert_ceiling(url: str, seconds: int) -> dict[str, float]:
    """pgbench: each transaction commits one single-row INSERT."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, "
                     "v bytea NOT NULL)")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO bench_raw (v) VALUES ('\\x0102030405060708');\n")
    result = {}
    for clients in (1, 16, 64):
        out = subprocess.run(["pgbench", "-n", "-f", script.name, "-c", str(clients), "-j", "2",
                              "-T", str(seconds), url], capture_output=True, text=True,
                             check=True).stdout
        tps = next(float(line.split("=")[1].split()[0]) for line in out.splitlines()
                   if line.startswith("tps"))
        result[f"clients_{clients}"] = tps
    result["ceiling"] = max(result.values())
    return result


def make_users(container: Any, count: int) -> list[UUID]:
    users = [User(user_id=str(uuid.uuid4()), email=f"b{i}@x.org", name=f"B{i}", role="user",
                  password_hash="-", profile_image_url="", stamp="s") for i in range(count)]
    for start in range(0, count, 200):
        container.store.save(*users[start:start + 200])
    return [u.id for u in users]


def append_path(container: Any, concurrency: int, seconds: float,
                mode: str = "threads") -> dict[str, float]:
    """Each command loads its user's aggregate, changes its settings and saves (group commit)."""
    done, latencies, elapsed = RUNNERS[mode](container, concurrency, seconds)
    lat = percentiles(latencies)
    return {"commands_per_s": done / elapsed, "p50_ms": lat["p50"] * 1000,
            "p99_ms": lat["p99"] * 1000}


def _run_commands(container: Any, concurrency: int, seconds: float,
                  start_at: float | None = None) -> tuple[int, list[float], float]:
    """`concurrency` threads, each running one settings update after another."""
    ids = make_users(container, concurrency)
    runner = container.runner
    done = [0] * concurrency
    latencies: list[float] = []
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    stop = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        counter = 0
        while time.perf_counter() < stop:
            counter += 1
            started = time.perf_counter()
            runner.run("bench.settings", _settings_update(container, ids[slot], counter))
            latencies.append(time.perf_counter() - started)
            done[slot] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return sum(done), latencies, time.perf_counter() - began


def _run_commands_async(container: Any, concurrency: int, seconds: float,
                        start_at: float | None = None) -> tuple[int, list[float], float]:
    """The same commands as `concurrency` tasks on one event loop (`CommandRunner.run_async`)."""
    ids = make_users(container, concurrency)
    runner = container.runner
    latencies: list[float] = []
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))

    async def worker(slot: int, stop: float) -> int:
        counter = 0
        while time.perf_counter() < stop:
            counter += 1
            started = time.perf_counter()
            await runner.run_async("bench.settings",
                                   _settings_update(container, ids[slot], counter))
            latencies.append(time.perf_counter() - started)
        return counter

    async def all_workers() -> int:
        stop = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(worker(slot, stop) for slot in range(concurrency))))

    began = time.perf_counter()
    done = asyncio.run(all_workers())
    return done, latencies, time.perf_counter() - began


def _settings_update(container: Any, user_id: UUID, n: int) -> Any:
    def decide() -> tuple[None, list[Any]]:
        user = container.store.get(user_id)
        user.update_settings({"ui": {"n": n}})
        return None, [user]

    return decide


RUNNERS = {"threads": _run_commands, "event_loop": _run_commands_async}


def _settings(url: str) -> Settings:
    return Settings(DATABASE_URL=url, DATA_DIR=temp_dir(), WEBUI_SECRET_KEY="bench",
                    LOG_LEVEL="WARNING")


def _worker_process(url: str, concurrency: int, seconds: float, start_at: float,
                    results: Any, mode: str) -> None:
    container = bootstrap(_settings(url), run_projectors=False)
    try:
        results.put(RUNNERS[mode](container, concurrency, seconds, start_at))
    finally:
        container.close()


def append_path_processes(url: str, concurrency: int, seconds: float,
                          processes: int = 2, mode: str = "threads") -> dict[str, Any]:
    """The same commands from `processes` processes at once (concurrency split between them)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 8  # every process imported, connected and set up by then
    children = [context.Process(target=_worker_process,
                                args=(url, concurrency // processes, seconds, start_at, results,
                                      mode))
                for _ in range(processes)]
    for child in children:
        child.start()
    time.sleep(max(0.0, start_at - time.time()))
    meter = CpuMeter({f"process_{i}": child.pid or 0 for i, child in enumerate(children)})
    outcomes = [results.get(timeout=seconds + 120) for _ in children]
    cores = meter.shares(max(elapsed for _, _, elapsed in outcomes))
    for child in children:
        child.join(timeout=30)
    lat = percentiles([x for _, latencies, _ in outcomes for x in latencies])
    return {"processes": processes,
            "commands_per_s": sum(done / elapsed for done, _, elapsed in outcomes),
            "p50_ms": lat["p50"] * 1000, "p99_ms": lat["p99"] * 1000, "cores": cores}


def projection_lag(container: Any, rate: int, seconds: float) -> dict[str, float]:
    """Commands at a steady rate; lag = commit returned -> read model at that position."""
    ids = make_users(container, 50)
    host = container.host
    host.wait(["users"], container.store.head(), 120)  # measure steady state, not the backlog
    seen: dict[int, float] = {}
    original = host.advanced

    def advanced(name: str, position: int) -> None:
        if name == "users":
            seen[position] = time.perf_counter()
        original(name, position)

    for runner in host.runners.values():
        runner.on_advance = advanced
    committed: dict[int, float] = {}
    interval = 1.0 / rate
    next_at = time.perf_counter()
    end = next_at + seconds
    pool = ThreadPoolExecutor(16)
    lock = threading.Lock()

    def command(i: int) -> None:
        def decide() -> tuple[None, list[Any]]:
            user = container.store.get(ids[i % len(ids)])
            user.update_settings({"ui": {"i": i}})
            return None, [user]

        position = container.runner.run("bench.lag", decide).position
        with lock:
            committed[position] = time.perf_counter()

    i = 0
    while next_at < end:
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        pool.submit(command, i)
        i += 1
        next_at += interval
    pool.shutdown(wait=True)
    host.wait(["users"], max(committed), 10)
    visible = sorted(seen.items())
    lags = []
    for position, at in committed.items():
        later = next((t for p, t in visible if p >= position), None)
        if later is not None:
            lags.append(max(0.0, later - at))
    lat = percentiles(lags)
    return {"rate": rate, "commands": len(committed), "achieved_per_s": len(committed) / seconds,
            "lag_p50_ms": lat["p50"] * 1000, "lag_p99_ms": lat["p99"] * 1000,
            "lag_max_ms": lat["max"] * 1000}


def rebuild_rate(container: Any, events: int) -> dict[str, float]:
    ids = make_users(container, 200)
    per_round = len(ids)
    users = [container.store.get(i) for i in ids]
    written = 0
    round_ = 0
    while written < events:
        for user in users:
            user.update_settings({"ui": {"round": round_}})
        container.store.save(*users)
        written += per_round
        round_ += 1
    head = container.store.head()
    started = time.perf_counter()
    applied = rebuild(UsersProjector, container.read_db, container.reader)
    elapsed = time.perf_counter() - started
    return {"events": applied, "head": head, "seconds": elapsed, "events_per_s": applied / elapsed}


def http_signin_get(url: str, seconds: float, clients: int) -> dict[str, Any]:
    """A real server (uvicorn, 2 workers) on PostgreSQL + Redis; httpx clients in threads."""
    import httpx

    data = temp_dir()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/14",
           "DATA_DIR": str(data), "WEBUI_SECRET_KEY": "bench-secret", "LOG_LEVEL": "WARNING",
           "CHRONICLE_PROJECTORS": "external",
           # sign-in is measured, not attacked: lift the per-e-mail limiter for the run
           "SIGNIN_RATE_LIMIT": "1000000"}
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    port = 18080
    server = subprocess.Popen([sys.executable, "-m", "scripts.chronicle", "serve", "--port",
                               str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    projector = subprocess.Popen([sys.executable, "-m", "scripts.chronicle", "projector"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base)
        accounts = []
        with httpx.Client(base_url=base, timeout=30) as http:
            for i in range(clients):
                email = f"http{i}@x.org"
                r = http.post("/api/v1/auths/signup", json={"name": f"H{i}", "email": email,
                                                          "password": "pw-bench-1"})
                r.raise_for_status()
                accounts.append(email)
        signins: list[float] = []
        gets: list[float] = []
        stop = time.perf_counter() + seconds

        def loop(email: str) -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                while time.perf_counter() < stop:
                    t0 = time.perf_counter()
                    r = http.post("/api/v1/auths/signin", json={"email": email,
                                                              "password": "pw-bench-1"})
                    r.raise_for_status()
                    signins.append(time.perf_counter() - t0)
                    headers = {"Authorization": f"Bearer {r.json()['token']}"}
                    for _ in range(10):
                        t1 = time.perf_counter()
                        http.get("/api/v1/auths/", headers=headers).raise_for_status()
                        gets.append(time.perf_counter() - t1)

        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(loop, accounts))
        elapsed = time.perf_counter() - began
        s, g = percentiles(signins), percentiles(gets)
        return {"clients": clients,
                "signin_per_s": len(signins) / elapsed, "signin_p50_ms": s["p50"] * 1000,
                "signin_p99_ms": s["p99"] * 1000,
                "get_per_s": len(gets) / elapsed, "get_p50_ms": g["p50"] * 1000,
                "get_p99_ms": g["p99"] * 1000}
    finally:
        for proc in (server, projector):
            proc.terminate()
            proc.wait(timeout=20)


def _wait_http(base: str) -> None:
    import httpx

    for _ in range(100):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke check)")
    args = parser.parse_args()
    seconds = 3 if args.quick else 10
    url = fresh_database()
    result: dict[str, Any] = {"database": "postgresql", "seconds_per_step": seconds}
    try:
        result["a_raw_insert_tps"] = raw_insert_ceiling(url, seconds)
        container = bootstrap(_settings(url), run_projectors=False)
        try:
            for mode in RUNNERS:
                result[f"b_append_path_{mode}"] = {
                    f"concurrency_{c}": append_path(container, c, seconds, mode)
                    for c in (1, 16, 64)}
                result[f"b_append_path_{mode}_two_processes"] = {
                    f"concurrency_{c}": append_path_processes(url, c, seconds, mode=mode)
                    for c in (16, 64)}
            container.host.start(["users"])
            result["d_projection_lag"] = projection_lag(container, 200, seconds)
            container.host.stop()
            result["e_rebuild"] = rebuild_rate(container, 20_000 if args.quick else 100_000)
        finally:
            container.close()
        ceiling = result["a_raw_insert_tps"]["ceiling"]
        result["b_vs_a_at_64"] = {
            f"{mode}_{shape}": result[f"b_append_path_{mode}{suffix}"]["concurrency_64"]
            ["commands_per_s"] / ceiling
            for mode in RUNNERS for shape, suffix in (("one_process", ""),
                                                     ("two_processes", "_two_processes"))}
        emit(result)  # the write-side half, in case the HTTP half fails
    finally:
        drop_database(url)
    http_url = fresh_database()
    try:
        result["c_http"] = http_signin_get(http_url, seconds, clients=8)
    finally:
        drop_database(http_url)
    emit(result)


if __name__ == "__main__":
    main()
