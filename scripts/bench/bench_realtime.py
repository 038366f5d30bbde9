"""Realtime benchmark: commit-to-client latency across two API workers, and idle-socket memory.

Starts the production shape on a fresh PostgreSQL database and the local Redis: two uvicorn API
processes, one `chronicle projector`. Writers in this process commit chat renames (one event each)
at a fixed rate; every user has a socket on each worker, and the latency of a delivery is its
arrival time minus the time its commit returned. Then N idle authenticated sockets are held and
each API process's RSS is sampled.

    .venv/bin/python -m scripts.bench.bench_realtime --rates 100,500 --duration 15 --sockets 2000
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import socketio

from interfaces.composition import heap
from scripts.bench.common import CpuMeter
from tests.realtime.processes import PATH, Proc, api, projector, server_env, sign_up

PG_ADMIN = os.environ.get("CHRONICLE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("CHRONICLE_TEST_REDIS", "redis://127.0.0.1:6379/15")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Deployment:
    def __init__(self, tmp: Path, feed_only: bool = False):
        self.db_name = f"chronicle_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.env = {"DATA_DIR": str(tmp / "data"), "WEBUI_SECRET_KEY": "bench-" + "x" * 40,
                    "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{self.db_name}",
                    "REDIS_URL": REDIS, "CHRONICLE_PROJECTORS": "external", "LOG_LEVEL": "WARNING"}
        from infrastructure.settings import Settings
        from interfaces.composition.bootstrap import bootstrap

        self.container = bootstrap(Settings(**self.env), run_projectors=False)  # type: ignore[arg-type]
        full = server_env(self.env)
        self.apis = [api("api-a", full, tmp), api("api-b", full, tmp)]
        # The feed gets a process of its own: beside the table projectors it would share their GIL.
        # --feed-only leaves the table projectors out: on two cores they compete for the CPU the
        # realtime path needs (in production they run on their own cores or machines).
        tables = tuple(n for n in self.container.host.classes if n != "realtime")
        self.procs: list[Proc] = [*self.apis, projector(full, tmp, ("realtime",))]
        if not feed_only:
            self.procs.append(projector(full, tmp, tables))
        from projections.realtime import socketio_channel

        self.channel = socketio_channel(self.env["DATABASE_URL"])

    def start(self) -> None:
        from projections.runtime import read_state

        # One at a time: the event store's DDL at startup (CREATE OR REPLACE FUNCTION) fails with
        # "tuple concurrently updated" when processes bootstrap together.
        for proc in self.apis:
            proc.start().wait_healthy(60)
        self.procs[len(self.apis)].start()
        deadline = time.monotonic() + 60
        while read_state(self.container.read_db, "realtime") is None:
            assert time.monotonic() < deadline, "the realtime feed did not start"
            time.sleep(0.1)
        for proc in self.procs[len(self.apis) + 1:]:
            proc.start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
        self.container.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


# -- latency ----------------------------------------------------------------------------------
class Latency:
    def __init__(self) -> None:
        self.committed: dict[int, float] = {}
        self.lock = threading.Lock()

    def samples_ms(self, arrivals: list[tuple[Any, ...]]) -> list[float]:
        with self.lock:
            committed = dict(self.committed)
        return [max(0.0, (a[1] - committed[a[0]]) * 1000) for a in arrivals if a[0] in committed]


def receiver(targets: list[tuple[str, str]], channel: str, conn: Any) -> None:
    """A separate process holds the receiving sockets, so writers and readers share no GIL.
    It also listens on the feed's Redis channel: publish time splits the latency in two."""
    published: dict[int, float] = {}
    threading.Thread(target=_listen, args=(channel, published), daemon=True).start()
    asyncio.run(_receive(targets, conn, published))


def _listen(channel: str, published: dict[int, float]) -> None:
    import json

    import redis

    pubsub = redis.Redis.from_url(REDIS).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    for message in pubsub.listen():
        data = json.loads(message["data"])
        if data.get("event") == "events":
            published.setdefault(data["data"][0]["position"], time.time())


async def _receive(targets: list[tuple[str, str]], conn: Any, published: dict[int, float]) -> None:
    arrivals: list[tuple[int, float, str]] = []

    def on(worker: str) -> Any:
        def arrived(payload: dict[str, Any]) -> None:
            arrivals.append((payload["position"], time.time(), worker))
        return arrived

    clients = [await connect(url, token, on(url)) for url, token in targets]
    conn.send("ready")
    expected = await asyncio.to_thread(conn.recv)
    deadline = time.monotonic() + 15
    while len(arrivals) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    conn.send((arrivals, published))
    for client in clients:
        await client.disconnect()


def write_at_rate(dep: Deployment, chats: list[Any], rate: int, duration: float,
                  latency: Latency, threads: int = 8) -> int:
    """Open loop: event i is due at start + i / rate, on thread i % threads (one writer a chat)."""
    total = int(rate * duration)
    start = time.monotonic() + 0.2

    def run(t: int) -> None:
        mine = [c for k, c in enumerate(chats) if k % threads == t]
        for n, i in enumerate(range(t, total, threads)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            chat = mine[n % len(mine)]
            chat.rename(f"title {i}")
            position = dep.container.store.save(chat)
            with latency.lock:
                latency.committed[position] = time.time()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return total


async def connect(url: str, token: str, on_event: Any = None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    if on_event is not None:
        client.on("events", on_event)
    await client.connect(url, socketio_path=PATH, transports=["websocket"], auth={"token": token},
                         wait_timeout=30)
    await client.call("user-join", {"auth": {"token": token}}, timeout=30)
    return client


async def latency_run(dep: Deployment, rate: int, duration: float, users: int,
                      dump: str | None = None) -> dict[str, Any]:
    from domain.chat import Chat

    people = [sign_up(dep.apis[0].url, f"Lat{rate}u{i}") for i in range(users)]
    chats = []
    for i in range(max(16, users)):
        chat = Chat.create(people[i % users].id, {"title": "bench"})
        dep.container.store.save(chat)
        chats.append(chat)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=receiver, args=([(a.url, p.token) for p in people for a in dep.apis],
                               dep.channel, child))
    process.start()
    assert await asyncio.to_thread(parent.recv) == "ready"
    await asyncio.sleep(1.0)
    latency = Latency()
    cpu = CpuMeter({**{p.name: p.popen.pid for p in dep.procs if p.popen},
                    "bench (writers)": os.getpid(), "receiver": process.pid or 0})
    started = time.monotonic()
    total = await asyncio.to_thread(write_at_rate, dep, chats, rate, duration, latency)
    elapsed = time.monotonic() - started
    cpu_share = cpu.shares(elapsed)
    parent.send(2 * total)  # each event reaches its owner's socket on both workers
    arrivals, published = await asyncio.to_thread(parent.recv)
    arrivals = [a for a in arrivals if a[0] in latency.committed]
    process.join(30)
    if dump:  # raw samples, to see when and through which worker the slow deliveries came
        import json

        Path(dump).write_text(json.dumps({"arrivals": arrivals, "committed": latency.committed,
                                          "published": published}))
    samples = sorted(latency.samples_ms(arrivals))
    to_publish = sorted(latency.samples_ms(list(published.items())))
    return {"rate": rate, "events": total, "achieved": total / elapsed,
            "deliveries": len(samples), "expected": 2 * total,
            "p50": pct(samples, 50), "p99": pct(samples, 99), "max": samples[-1] if samples else 0,
            "publish_p50": pct(to_publish, 50), "publish_p99": pct(to_publish, 99),
            "cpu_cores": cpu_share}


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    return samples[min(len(samples) - 1, int(len(samples) * p / 100))]


# -- idle sockets -----------------------------------------------------------------------------
async def idle_run(dep: Deployment, sockets: int, hold: float) -> dict[str, Any]:
    tokens = [sign_up(dep.apis[0].url, f"Idle{i}").token for i in range(20)]
    pids = [p.popen.pid for p in dep.apis if p.popen]
    base = [rss_kib(pid) for pid in pids]
    clients: list[socketio.AsyncClient] = []
    marks: dict[int, list[int]] = {}
    for start in range(0, sockets, 100):
        batch = range(start, min(sockets, start + 100))
        clients += await asyncio.gather(*(
            connect(dep.apis[i % 2].url, tokens[i % len(tokens)]) for i in batch))
        if len(clients) % 1000 == 0:
            await asyncio.sleep(2)
            marks[len(clients)] = [rss_kib(pid) for pid in pids]
    held_from = [rss_kib(pid) for pid in pids]
    samples = []
    for _ in range(int(hold / 5)):
        await asyncio.sleep(5)
        samples.append(sum(rss_kib(pid) for pid in pids))
    alive = sum(1 for c in clients if c.connected)
    for client in clients:
        await client.disconnect()
    grown = sum(marks.get(sockets, held_from)) - sum(base)
    return {"sockets": sockets, "alive_after_hold": alive, "rss_base_mib": sum(base) / 1024,
            "rss_marks_mib": {n: sum(v) / 1024 for n, v in marks.items()},
            "rss_per_1000_mib": grown / 1024 / (sockets / 1000),
            "hold_drift_mib": (samples[-1] - sum(held_from)) / 1024 if samples else 0.0}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dep = Deployment(Path(tmp), args.feed_only)
        try:
            dep.start()
            heap.settle()  # the writers' own full collections would count as feed latency
            for rate in (int(r) for r in args.rates.split(",")):
                dump = args.dump.replace(".json", f"-{rate}.json") if args.dump else None
                r = await latency_run(dep, rate, args.duration, args.users, dump)
                print(f"latency @ {r['rate']} ev/s (achieved {r['achieved']:.0f}): "
                      f"{r['deliveries']}/{r['expected']} deliveries, p50 {r['p50']:.1f} ms, "
                      f"p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms (commit to Redis publish: "
                      f"p50 {r['publish_p50']:.1f} ms, p99 {r['publish_p99']:.1f} ms)", flush=True)
                print(f"  cores busy while writing: {r['cpu_cores']}", flush=True)
            if args.sockets:
                r = await idle_run(dep, args.sockets, args.hold)
                print(f"idle sockets: {r['alive_after_hold']}/{r['sockets']} alive after "
                      f"{args.hold:.0f} s; API RSS {r['rss_base_mib']:.0f} MiB before, marks "
                      f"{ {k: round(v) for k, v in r['rss_marks_mib'].items()} } MiB; "
                      f"{r['rss_per_1000_mib']:.1f} MiB per 1,000 sockets; drift while held "
                      f"{r['hold_drift_mib']:+.1f} MiB", flush=True)
        finally:
            dep.stop()


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (e.g. from `timeout`) unwinds and stops the children


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=30.0)
    parser.add_argument("--dump", help="write each run's raw samples to this JSON file "
                                       "(arrival: position, time, worker URL)")
    parser.add_argument("--feed-only", action="store_true",
                        help="run no table projectors (isolates the realtime path)")
    asyncio.run(main(parser.parse_args()))
