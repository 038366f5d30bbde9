"""Socket.IO under abuse (issue #14): per-socket rate limit, malformed frames, per-socket state.

A real uvicorn server per backend (SQLite in memory mode; PostgreSQL + Redis with the Redis
manager) with a small limit, real python-socketio clients, and a raw websocket for frames no
well-behaved client library would send.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websocket

from infrastructure.settings import Settings
from interfaces.realtime.limits import Limits, TokenBucket, Verdict
from tests.conftest import REDIS_URL, create_pg_database, drop_pg_database
from tests.realtime.conftest import Deployment, _base_env, _writer
from tests.realtime.note_fixture import Note
from tests.realtime.processes import Sock, api, server_env

pytestmark = pytest.mark.slow

RATE, BURST, FLOOD = 5, 20, 60
LIMITS = {"SOCKETIO_EVENT_RATE": str(RATE), "SOCKETIO_EVENT_BURST": str(BURST),
          "SOCKETIO_FLOOD_LIMIT": str(FLOOD)}
MALFORMED = ["42", "42{}", "42[]", "42[1]", "42{bad", "4x", "", "9", "45-", "43[]", "49",
             '42/nope,["x"]', "4", "4-1", '42abc["x"]', "43999[1]"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp(f"abuse-{request.param}")
    env = _base_env(tmp)
    if request.param == "postgres":
        env.update({"DATABASE_URL": create_pg_database(), "REDIS_URL": REDIS_URL})
    container = _writer(env)
    with container.read_db.transaction() as tx:  # what the channels read model will provide
        tx.execute("CREATE TABLE channel_members (channel_id TEXT, user_id TEXT)")
    proc = api("api", server_env(env, CHRONICLE_PROJECTORS="embedded", **LIMITS), tmp)
    deployment = Deployment(env, container, [proc])
    try:
        proc.start().wait_healthy(60)
        yield deployment
    finally:
        deployment.stop()
        if request.param == "postgres":
            drop_pg_database(env["DATABASE_URL"])


def in_channel(dep: Deployment, channel: str, *names: str) -> list[tuple[Sock, str]]:
    """Signed-up people with a socket each, in `channel`."""
    out = []
    for name in names:
        person = dep.person(name)
        with dep.container.read_db.transaction() as tx:
            tx.execute("INSERT INTO channel_members VALUES (?, ?)", (channel, person.id))
        sock = dep.sock(dep.apis[0], {"token": person.token})
        sock.call("join-channels", {"auth": {"token": person.token}})
        out.append((sock, person.id))
    return out


def typing(channel: str) -> dict:
    return {"channel_id": channel, "data": {"type": "typing", "data": {"typing": True}}}


def metric(dep: Deployment, name: str) -> dict[str, float]:
    text = httpx.get(dep.apis[0].url + "/metrics", timeout=10).text
    found = re.findall(rf"^{name}(\{{[^}}]*\}})? ([0-9.e+-]+)$", text, re.M)
    return {labels: float(value) for labels, value in found}


def log_since(dep: Deployment, mark: int) -> list[str]:
    return dep.apis[0].log.read_bytes()[mark:].decode(errors="replace").splitlines()


def test_a_flooding_socket_is_limited_then_closed_while_its_neighbour_keeps_working(
        server: Deployment) -> None:
    (flooder, flooder_id), (watcher, _), (neighbour, neighbour_id) = in_channel(
        server, "flood", "Flo", "Wat", "Nei")
    started = time.monotonic()
    for _ in range(300):  # burst + flood limit is 80
        if not flooder.client.connected:
            break
        try:
            flooder.emit("events:channel", typing("flood"))
        except Exception:  # closed under our feet: that is the point
            break
    assert flooder.disconnected.wait(30), "a socket far beyond the limit is closed"
    elapsed = time.monotonic() - started

    neighbour.emit("events:channel", typing("flood"))
    watcher.wait(lambda s: any(e["user"]["id"] == neighbour_id for e in s.of("events:channel")))
    relayed = [e for e in watcher.of("events:channel") if e["user"]["id"] == flooder_id]
    # Its connect, user-join and join-channels spent three of the burst's tokens.
    assert BURST // 2 <= len(relayed) <= BURST + RATE * (elapsed + 2)
    assert neighbour.client.connected and watcher.client.connected
    assert metric(server, "chronicle_socketio_frames_dropped_total")[""] > FLOOD
    assert metric(server, "chronicle_socketio_forced_disconnects_total")[
        '{reason="flooding"}'] >= 1


def _raw_socket(dep: Deployment) -> websocket.WebSocket:
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{dep.apis[0].port}/ws/socket.io/?EIO=4&transport=websocket", timeout=10)
    ws.recv()  # engine.io open
    ws.send("40")
    ws.recv()  # Socket.IO connect
    return ws


def _still_answers(ws: websocket.WebSocket) -> None:
    ws.send('421["user-join",{}]')
    while not str(ws.recv()).startswith("431"):
        pass


def test_malformed_frames_are_throttled_warnings_never_errors(server: Deployment) -> None:
    mark = server.apis[0].log.stat().st_size
    ws = _raw_socket(server)
    for frame in MALFORMED:
        ws.send(frame)
    ws.send_binary(b"\x01\x02")  # an attachment nobody announced
    _still_answers(ws)
    ws.close()
    ws = _raw_socket(server)
    for _ in range(BURST - 4):  # within the rate limit: each one is worth a warning...
        ws.send("4x")
    _still_answers(ws)
    ws.close()
    time.sleep(0.5)
    lines = log_since(server, mark)
    assert not [line for line in lines if "error" in line.lower() or "Traceback" in line], lines
    assert sum("[warning" in line for line in lines) >= 5
    # ...but one template is logged at most 10 times a minute
    assert sum("not an engine.io packet" in line for line in lines) <= 10
    assert metric(server, "chronicle_socketio_bad_frames_total")[""] >= len(MALFORMED)


def test_an_oversized_frame_closes_only_that_socket(server: Deployment) -> None:
    ws = _raw_socket(server)
    ws.send('42["usage",{"model":"' + "x" * (8 * 1024 * 1024) + '"}]')
    with pytest.raises(Exception):  # noqa: B017 (closed by the server: which error is the client's)
        _still_answers(ws)
    assert metric(server, "chronicle_socketio_forced_disconnects_total")[
        '{reason="oversized frame"}'] >= 1
    assert httpx.get(server.apis[0].url + "/health", timeout=5).status_code == 200


def test_per_socket_state_is_empty_once_every_socket_is_gone(server: Deployment) -> None:
    alice = server.person("Alice")
    note = Note(alice.id, "Notes", readers=[], writers=[])
    server.container.store.save(note)
    socks = [sock for sock, _ in in_channel(server, "state", "Ann", "Ben")]
    for _ in range(3):
        sock = server.sock(server.apis[0], {"token": alice.token, "position": 0})
        sock.emit("usage", {"model": "llama3"})
        sock.emit("heartbeat", {})
        sock.emit("ydoc:document:join", {"document_id": f"note:{note.id}"})
        sock.wait_count("ydoc:document:state", 1)
        socks.append(sock)
    state = metric(server, "chronicle_socketio_state_entries")
    assert state['{kind="members"}'] >= len(socks) and state['{kind="connections"}'] >= len(socks)
    for sock in server.socks:  # every socket of this module, the flooder's neighbours too
        sock.close()
    deadline = time.monotonic() + 10
    while any(metric(server, "chronicle_socketio_state_entries").values()):
        assert time.monotonic() < deadline, metric(server, "chronicle_socketio_state_entries")
        time.sleep(0.2)


def test_normal_note_typing_never_meets_the_default_limit() -> None:
    """Holding a key in a shared note: at the fastest usual key repeat (50/s) the editor sends a
    Yjs update and an awareness update per character, 100 frames a second, here for a whole
    minute, with a ~4 MB paste every 10 s."""
    defaults = Settings()
    bucket = TokenBucket(Limits(defaults.SOCKETIO_EVENT_RATE, defaults.SOCKETIO_EVENT_BURST,
                                defaults.SOCKETIO_FLOOD_LIMIT), now=0.0)
    for key in range(50 * 60):
        cost = 1 + (65 if key % 500 == 0 else 0)
        assert bucket.take(cost, key / 50) is Verdict.PASS
        assert bucket.take(1, key / 50) is Verdict.PASS


def test_the_bucket_closes_only_well_beyond_the_rate() -> None:
    limits = Limits(rate=10, burst=20, flood=100)
    twice = TokenBucket(limits, now=0.0)  # twice the rate for a minute: limited, kept
    verdicts = [twice.take(1, i / 20) for i in range(20 * 60)]
    assert Verdict.DROP in verdicts and Verdict.CLOSE not in verdicts
    flood = TokenBucket(limits, now=0.0)  # everything at once: the burst, then dropped, closed
    verdicts = [flood.take(1, 0.0) for _ in range(200)]
    assert verdicts[:20] == [Verdict.PASS] * 20 and Verdict.CLOSE in verdicts


def test_state_gauges_name_every_kind(tmp_path: Path) -> None:
    from interfaces.realtime.server import Realtime

    realtime = Realtime(Settings(DATA_DIR=tmp_path))  # type: ignore[call-arg]
    sizes = realtime.state_sizes()
    assert set(sizes) >= {"connections", "engineio_sockets", "members", "feeds", "usage", "rooms"}
    assert not any(sizes.values())
