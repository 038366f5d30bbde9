"""Chat completions benchmark (issue #15), in the production shape: two uvicorn API workers, the
realtime feed and the table projectors as `chronicle projector` processes, PostgreSQL + Redis,
and the test language-model server (tests/llm_server.py) streaming at a set token rate.

(a) time to first token that Chronicle adds over calling the model server directly, one
    stream at a time (REST, `stream: true`), requests alternating between the two;
(b) N concurrent web-app-style replies received over Socket.IO (sockets on one worker, the
    requests to the other): the delay added between tokens (the gap at the socket minus the
    gap at which the model server sent them, each chunk stamped with `sent_at`), deltas lost or
    reordered, and every reply recorded exactly once;
(c) events and bytes written for one web-app reply of 500 tokens;
(d) CPU seconds the API processes spent per 1,000 streamed tokens during (b).

    .venv/bin/python -m scripts.bench.bench_completions --ttft 200 --streams 200 --tokens 100
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import psycopg
import socketio

from interfaces.composition import heap
from scripts.bench.bench_realtime import Deployment
from scripts.bench.common import CpuMeter, emit, percentiles, temp_dir
from tests.realtime.processes import PATH, sign_up

RATE = 50.0  # tokens per second from the model server


def start_model(rate: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--port", "0",
                             "--rate", str(rate), "--stamp"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{proc.stdout.readline().split()[1]}/v1"


def connect(dep: Deployment, admin: Any, model_url: str) -> None:
    r = httpx.post(f"{dep.apis[0].url}/openai/config/update", headers=admin.headers, timeout=10,
                   json={"ENABLE_OPENAI_API": True, "OPENAI_API_BASE_URLS": [model_url],
                         "OPENAI_API_KEYS": [""], "OPENAI_API_CONFIGS": {}})
    r.raise_for_status()
    r = httpx.post(f"{dep.apis[0].url}/api/v1/models/model/access/update", timeout=10,
                   headers=admin.headers, json={"id": "echo", "access_grants": [
                       {"principal_type": "user", "principal_id": "*", "permission": "read"}]})
    r.raise_for_status()


# -- (a) time to first token ------------------------------------------------------------------
async def first_token(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    body = {"model": "echo", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started = time.perf_counter()
    elapsed: float | None = None
    async with client.stream("POST", url, json=body, headers=headers) as response:
        lines = []
        async for line in response.aiter_lines():  # read to the end: the next request reuses it
            if elapsed is None and line.startswith("data:"):
                elapsed = time.perf_counter() - started
            lines.append(line)
    assert elapsed is not None, f"no chunk from {url}: {response.status_code} {lines[:3]}"
    return elapsed * 1000


async def ttft(dep: Deployment, admin: Any, model_url: str, n: int) -> dict[str, Any]:
    direct, via = [], []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(5):  # warm both paths (model list cache, connections)
            await first_token(client, f"{model_url}/chat/completions", {})
            await first_token(client, f"{dep.apis[0].url}/api/chat/completions", admin.headers)
        for _ in range(n):
            direct.append(await first_token(client, f"{model_url}/chat/completions", {}))
            via.append(await first_token(client, f"{dep.apis[0].url}/api/chat/completions",
                                         admin.headers))
    d, v = percentiles(direct), percentiles(via)
    return {"direct_ms": d, "chronicle_ms": v,
            "added_ms": {"p50": v["p50"] - d["p50"], "p99": v["p99"] - d["p99"]}}


# -- (b) concurrent web-app replies -----------------------------------------------------------
class Listener:
    """One user's socket: every `events` payload with its arrival time."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.got: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self.ended: dict[str, asyncio.Event] = {}
        self.sio.on("events", self._event)

    async def _event(self, data: dict[str, Any]) -> None:
        message_id = data.get("message_id") or ""
        self.got.setdefault(message_id, []).append((time.perf_counter(), data["data"]))
        inner = data["data"]
        if inner.get("type") == "chat:active" and inner["data"].get("active") is False:
            self.ended.setdefault(message_id, asyncio.Event()).set()

    async def wait(self, message_id: str, timeout: float) -> None:
        await asyncio.wait_for(self.ended.setdefault(message_id, asyncio.Event()).wait(), timeout)


async def one_reply(client: httpx.AsyncClient, dep: Deployment, person: Any, listener: Listener,
                    words: int) -> tuple[str, str, str]:
    r = await client.post(f"{dep.apis[0].url}/api/v1/chats/new", headers=person.headers,
                          json={"chat": {"title": "bench"}})
    assert r.status_code == 200, f"chats/new answered {r.status_code}: {r.text[:300]}"
    chat_id = r.json()["id"]
    text = " ".join(f"w{i}" for i in range(words))
    reply_id = str(uuid.uuid4())
    body = {"model": "echo", "stream": True, "chat_id": chat_id, "id": reply_id,
            "session_id": "bench", "messages": [{"role": "user", "content": text}],
            "user_message": {"id": str(uuid.uuid4()), "role": "user", "content": text,
                             "parentId": None}}
    r = await client.post(f"{dep.apis[-1].url}/api/chat/completions", json=body,
                          headers=person.headers)
    r.raise_for_status()
    await listener.wait(reply_id, timeout=120)
    return chat_id, reply_id, f"You said: {text}"


def gaps(arrivals: list[tuple[float, dict[str, Any]]]
         ) -> tuple[list[float], list[float], str]:
    """Delay added between consecutive deltas (ms): the gap at the socket minus the gap at which
    the model server sent them (its `sent_at`), so the server's own jitter is not counted as
    Chronicle's; the same against the nominal interval (the first runs' measure); the text."""
    deltas = [(t, d["data"]) for t, d in arrivals if d.get("type") == "chat:completion"
              and "choices" in d["data"]]
    text = "".join((d.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
                   for _, d in deltas)
    pairs = [(t, d["sent_at"]) for t, d in deltas if isinstance(d.get("sent_at"), float)]
    added = [max(0.0, ((b - a) - (sb - sa)) * 1000)
             for (a, sa), (b, sb) in zip(pairs, pairs[1:], strict=False)]
    nominal = [max(0.0, (b - a - 1 / RATE) * 1000)
               for (a, _), (b, _) in zip(pairs, pairs[1:], strict=False)]
    return added, nominal, text


async def concurrent(dep: Deployment, streams: int, tokens: int, users: int) -> dict[str, Any]:
    people = [sign_up(dep.apis[0].url, f"Bench{i}") for i in range(users)]
    listeners = [Listener() for _ in people]
    for person, listener in zip(people, listeners, strict=True):
        await listener.sio.connect(dep.apis[0].url, socketio_path=PATH, transports=["websocket"],
                                   auth={"token": person.token})
        await listener.sio.call("user-join", {"auth": {"token": person.token}})
    meter = CpuMeter({p.name: p.popen.pid for p in dep.procs if p.popen})
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=400)) as client:
        runs = await asyncio.gather(*(
            one_reply(client, dep, people[i % users], listeners[i % users], tokens - 2)
            for i in range(streams)))
    wall = time.perf_counter() - started
    cpu = meter.seconds()
    added, nominal, broken = [], [], 0
    for i, (_, reply_id, expected) in enumerate(runs):
        delays, late, text = gaps(listeners[i % users].got.get(reply_id, []))
        added += delays
        nominal += late
        broken += text != expected
    recorded = finished_counts(dep, [c for c, _, _ in runs])
    for listener in listeners:
        await listener.sio.disconnect()
    api_cpu = cpu.get("api-a", 0.0) + cpu.get("api-b", 0.0)
    return {"streams": streams, "tokens_each": tokens, "wall_s": wall,
            "added_inter_token_ms": percentiles(added),
            "inter_token_lateness_vs_nominal_ms": percentiles(nominal),
            "replies_lost_or_reordered": broken,
            "replies_recorded_exactly_once": sum(1 for n in recorded if n == 1),
            "api_cpu_s_per_1000_tokens": api_cpu / (streams * tokens / 1000), "cpu_s": cpu}


def finished_counts(dep: Deployment, chat_ids: list[str]) -> list[int]:
    with psycopg.connect(dep.env["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT originator_id::text, count(*) FROM chronicle_events"
                            " WHERE topic LIKE %s GROUP BY 1", ("%Chat.ReplyFinished",)).fetchall()
    found = {r[0]: r[1] for r in rows}
    return [found.get(c, 0) for c in chat_ids]


# -- (c) what one reply writes ----------------------------------------------------------------
async def written(dep: Deployment, tokens: int) -> dict[str, Any]:
    person = sign_up(dep.apis[0].url, "Writer")
    listener = Listener()
    await listener.sio.connect(dep.apis[0].url, socketio_path=PATH, transports=["websocket"],
                               auth={"token": person.token})
    await listener.sio.call("user-join", {"auth": {"token": person.token}})
    async with httpx.AsyncClient(timeout=120) as client:
        chat_id, _, _ = await one_reply(client, dep, person, listener, tokens - 2)
    await listener.sio.disconnect()
    with psycopg.connect(dep.env["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT topic, octet_length(state) FROM chronicle_events"
                            " WHERE originator_id = %s ORDER BY originator_version",
                            (uuid.UUID(chat_id),)).fetchall()
    by_topic: dict[str, list[int]] = {}
    for topic, size in rows[1:]:  # after Chat.Created: what the request and its reply wrote
        by_topic.setdefault(topic.rsplit(".", 1)[-1], []).append(size)
    return {"tokens": tokens, "events": sum(len(v) for v in by_topic.values()),
            "bytes": sum(sum(v) for v in by_topic.values()),
            "by_type": {k: {"events": len(v), "bytes": sum(v)} for k, v in by_topic.items()}}


def wait_projectors(dep: Deployment, timeout: float = 120) -> None:
    """Measure once every projector process has made its tables (their first start)."""
    from projections.runtime import read_state

    deadline = time.monotonic() + timeout
    for name in dep.container.host.classes:
        while (read_state(dep.container.read_db, name) or {}).get("status") != "running":
            assert time.monotonic() < deadline, f"projector {name} did not start"
            time.sleep(0.2)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    model, model_url = start_model(RATE)
    dep = Deployment(temp_dir())
    try:
        dep.start()
        wait_projectors(dep)
        admin = sign_up(dep.apis[0].url, "Admin")
        connect(dep, admin, model_url)
        heap.settle()  # this process's full collections would count as Chronicle's latency
        return {"a_time_to_first_token": await ttft(dep, admin, model_url, args.ttft),
                "b_concurrent_replies": await concurrent(dep, args.streams, args.tokens,
                                                         args.users),
                "c_one_reply_written": await written(dep, 500),
                "rate_tokens_per_s": RATE}
    finally:
        dep.stop()
        model.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ttft", type=int, default=200, help="sequential streams for (a)")
    parser.add_argument("--streams", type=int, default=200, help="concurrent replies for (b)")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per reply in (b)")
    parser.add_argument("--users", type=int, default=20, help="users sharing (b)'s replies")
    emit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
