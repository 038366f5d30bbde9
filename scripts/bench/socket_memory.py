"""Does a worker's memory grow with socket churn? Connect N sockets, disconnect them, repeat.

One real uvicorn process (scripts/bench/socket_memory_app.py: the served app plus a probe),
real python-socketio clients (authenticated, each sends `usage` and `heartbeat`). After each
connect and each disconnect phase it reads the process's RSS, its Socket.IO per-socket state and
gc object count; at the end, RSS after glibc's malloc_trim(0).

    .venv/bin/python -m scripts.bench.socket_memory --sockets 2000 --cycles 5 [--redis] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import socketio

from tests.realtime.processes import BIN, PATH, Proc, free_port, server_env, sign_up

REDIS = os.environ.get("CHRONICLE_TEST_REDIS", "redis://127.0.0.1:6379/15")


async def open_socket(url: str, token: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, socketio_path=PATH, transports=["websocket"], auth={"token": token},
                         wait_timeout=30)
    await client.call("user-join", {"auth": {"token": token}}, timeout=30)
    await client.emit("usage", {"model": "llama3"})
    await client.emit("heartbeat", {})
    return client


def probe(proc: Proc, out: Path, trim: bool = False) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    assert proc.popen is not None
    os.kill(proc.popen.pid, signal.SIGUSR2 if trim else signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while not out.exists() or not out.read_text():
        assert time.monotonic() < deadline, proc.tail()
        time.sleep(0.05)
    time.sleep(0.05)
    return dict(json.loads(out.read_text()))


def line(label: str, p: dict[str, Any]) -> str:
    live = {k: v for k, v in p["state"].items() if v}
    traced = f", traced {p['traced_kib'] / 1024:.1f} MiB" if "traced_kib" in p else ""
    return (f"{label:22} RSS {p['rss_kib'] / 1024:7.1f} MiB{traced}, gc objects "
            f"{p['gc_objects']:>8}, per-socket state {live or 'empty'}")


async def cycles(proc: Proc, out: Path, sockets: int, rounds: int) -> None:
    tokens = [sign_up(proc.url, f"Mem{i}").token for i in range(20)]
    await asyncio.sleep(1)
    print(line("start", probe(proc, out)))
    for cycle in range(1, rounds + 1):
        clients: list[socketio.AsyncClient] = []
        for start in range(0, sockets, 100):
            clients += await asyncio.gather(*(
                open_socket(proc.url, tokens[i % len(tokens)])
                for i in range(start, min(sockets, start + 100))))
        await asyncio.sleep(2)
        print(line(f"cycle {cycle}: {len(clients)} open", probe(proc, out)))
        await asyncio.gather(*(c.disconnect() for c in clients))
        await asyncio.sleep(3)
        closed = probe(proc, out)
        print(line(f"cycle {cycle}: closed", closed))
        for row in closed.get("top_growth", [])[:5]:
            print("      ", row)
    trimmed = probe(proc, out, trim=True)
    print(f"malloc_trim(0): RSS {trimmed['rss_before_trim_kib'] / 1024:.1f} -> "
          f"{trimmed['rss_kib'] / 1024:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--redis", action="store_true", help="Socket.IO through Redis (no PostgreSQL)")
    parser.add_argument("--trace", action="store_true", help="tracemalloc in the server (slower)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "probe.json"
        env = {"DATA_DIR": str(Path(tmp) / "data"), "WEBUI_SECRET_KEY": "mem-" + "x" * 40,
               "LOG_LEVEL": "WARNING", "SOCKMEM_OUT": str(out),
               "SOCKMEM_TRACE": "1" if args.trace else "0"}
        if args.redis:
            env["REDIS_URL"] = REDIS
        port = free_port()
        proc = Proc("api", [str(BIN / "uvicorn"), "scripts.bench.socket_memory_app:app",
                            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                    server_env(env), Path(tmp) / "api.log", port=port)
        proc.start().wait_healthy(60)
        try:
            asyncio.run(cycles(proc, out, args.sockets, args.cycles))
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
