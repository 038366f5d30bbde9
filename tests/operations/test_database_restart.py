"""PostgreSQL restarting under load: a real server, 16 writers and some readers while the cluster
restarts (`pg_ctlcluster … restart -m fast`).

Nothing may answer 500 or escape as an unhandled ASGI error: a request the database's absence
fails is 503 with Retry-After, every write answered 200 is in the log afterwards, and the server
serves normally once PostgreSQL is back. The test restarts the machine's shared cluster: the suite
runs serially, and the restart is brief and always brought back (see `restart_postgres`).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.chats.helpers import chat_doc
from tests.conftest import PG_ADMIN_URL, REDIS_URL, create_pg_database, drop_pg_database
from tests.realtime.processes import Person, Proc, api, server_env, sign_up

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WRITERS, READERS = 16, 4
CHATS = "/api/v1/chats"


def _cluster_version() -> str | None:
    configs = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") is None or not configs.is_dir():
        return None
    versions = sorted(p.name for p in configs.iterdir() if (p / "main").is_dir())
    return versions[-1] if versions else None


def _started_at() -> Any:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return row[0]


def _pg_ready(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _started_at()
            return True
        except psycopg.Error:
            time.sleep(0.2)
    return False


def restart_postgres(version: str) -> None:
    """A fast restart (sessions terminated, in-flight transactions rolled back), then up again:
    whatever happens, the cluster is never left down for the rest of the suite."""
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    try:
        subprocess.run([*command, "restart", "-m", "fast"], check=True, timeout=60,
                       capture_output=True)
    finally:
        if not _pg_ready(5):
            subprocess.run([*command, "start"], timeout=60, capture_output=True)
            assert _pg_ready(30), "PostgreSQL did not come back"


@dataclass
class Answer:
    kind: str  # "message", "chat" (writes) or "read"
    key: str  # the message id, or the new chat's title
    status: int
    headers: httpx.Headers
    body: Any
    after_restart: bool


@dataclass
class Load:
    server: Proc
    people: list[tuple[Person, str]]  # each writer and their chat
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # transport errors: the server went away
    stop: threading.Event = field(default_factory=threading.Event)
    restarted: threading.Event = field(default_factory=threading.Event)

    def call(self, client: httpx.Client, kind: str, key: str, method: str, path: str,
             **kwargs: Any) -> None:
        try:
            r = client.request(method, self.server.url + path, **kwargs)
        except httpx.HTTPError as error:
            self.failures.append(f"{method} {path}: {error!r}")
            return
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") \
            else r.text
        self.answers.append(Answer(kind, key, r.status_code, r.headers, body,
                                   self.restarted.is_set()))

    def writer(self, person: Person, chat_id: str) -> None:
        with httpx.Client(headers=person.headers, timeout=60) as client:
            for turn in range(10**6):
                if self.stop.is_set():
                    return
                key = f"{person.name}-{turn}"
                if turn % 3 == 2:  # a command on a worker thread
                    self.call(client, "chat", key, "POST", f"{CHATS}/new",
                              json={"chat": chat_doc(key, "hello")})
                else:  # a command on the event loop
                    self.call(client, "message", key, "POST", f"{CHATS}/{chat_id}/messages/{key}",
                              json={"content": key})

    def reader(self, person: Person, chat_id: str) -> None:
        with httpx.Client(headers=person.headers, timeout=60) as client:
            while not self.stop.is_set():
                self.call(client, "read", "list", "GET", f"{CHATS}/")  # a read model, waited for
                self.call(client, "read", chat_id, "GET", f"{CHATS}/{chat_id}")  # the log
                time.sleep(0.01)

    def acknowledged(self, person: Person, kind: str) -> list[str]:
        return [a.key for a in self.answers
                if a.kind == kind and a.status == 200 and a.key.startswith(person.name + "-")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Proc]:
    url = create_pg_database()
    env = server_env({"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": url,
                      "REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": f"restart-{uuid.uuid4().hex[:8]}",
                      "WEBUI_SECRET_KEY": "restart-test-" + uuid.uuid4().hex,
                      "LOG_LEVEL": "WARNING", "ENABLE_SIGNUP": "true"},
                     PG_POOL_SIZE="4", PG_POOL_MAX="12")
    proc = api("api", env, tmp_path)
    try:
        proc.start().wait_healthy()
        yield proc
    finally:
        proc.stop()
        drop_pg_database(url)


def _people(server: Proc) -> list[tuple[Person, str]]:
    sign_up(server.url, "Admin")  # the first sign-up is the admin; the writers are users
    people = []
    for index in range(WRITERS):
        person = sign_up(server.url, f"W{index:02d}")
        r = httpx.post(server.url + f"{CHATS}/new", headers=person.headers, timeout=30,
                       json={"chat": chat_doc(f"chat of {person.name}", "hi")})
        assert r.status_code == 200, r.text
        people.append((person, r.json()["id"]))
    return people


def _run(load: Load, version: str) -> None:
    threads = [threading.Thread(target=load.writer, args=pair) for pair in load.people]
    threads += [threading.Thread(target=load.reader, args=pair) for pair in load.people[:READERS]]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: sum(a.status == 200 for a in load.answers) >= 3 * WRITERS, 30)
        load.restarted.set()
        restart_postgres(version)
        # Under load until every writer has been answered 200 again since the restart.
        _wait_for(lambda: len({a.key.split("-")[0] for a in load.answers
                               if a.after_restart and a.status == 200 and a.kind != "read"})
                  >= WRITERS, 30)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)


def _wait_for(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _assert_no_500(load: Load) -> None:
    assert not load.failures, load.failures[:5]
    by_status: dict[int, int] = {}
    for answer in load.answers:
        by_status[answer.status] = by_status.get(answer.status, 0) + 1
        if answer.status == 200:
            continue
        assert answer.status == 503, (answer.kind, answer.status, answer.body)
        assert int(answer.headers["retry-after"]) > 0
        assert isinstance(answer.body, dict) and isinstance(answer.body["detail"], str)
    assert set(by_status) <= {200, 503}, by_status
    print(f"answers by status: {by_status}; after the restart: "
          f"{sum(a.after_restart for a in load.answers)}")  # shown with -s


def _assert_acknowledged_in_log(load: Load) -> None:
    """GET /chats/{id} loads the aggregate from the log: each writer's chat holds every message
    it was answered 200 for, and every chat answered 200 exists."""
    for person, chat_id in load.people:
        with httpx.Client(headers=person.headers, timeout=30) as client:
            chat = client.get(load.server.url + f"{CHATS}/{chat_id}")
            assert chat.status_code == 200, chat.text
            messages = chat.json()["chat"]["history"]["messages"]
            missing = set(load.acknowledged(person, "message")) - set(messages)
            assert not missing, f"{person.name}: acknowledged messages not in the log: {missing}"
            for answer in load.answers:
                if answer.kind == "chat" and answer.status == 200 and \
                        answer.key.startswith(person.name + "-"):
                    made = client.get(load.server.url + f"{CHATS}/{answer.body['id']}")
                    assert made.status_code == 200, made.text
                    assert made.json()["title"] == answer.key


def _assert_serves_normally(load: Load) -> None:
    person, chat_id = load.people[0]
    with httpx.Client(headers=person.headers, timeout=30) as client:
        for turn in range(10):
            key = f"after-{turn}"
            write = client.post(load.server.url + f"{CHATS}/{chat_id}/messages/{key}",
                                json={"content": key})
            assert write.status_code == 200, write.text
            read = client.get(load.server.url + f"{CHATS}/")
            assert read.status_code == 200, read.text
            assert read.headers.get("x-chronicle-consistency") != "stale"


def test_postgres_restarting_under_load_answers_503_never_500(server: Proc) -> None:
    version = _cluster_version()
    if version is None:
        pytest.skip("needs pg_ctlcluster to restart the local PostgreSQL")
    load = Load(server, _people(server))
    before = _started_at()
    _run(load, version)
    assert _started_at() > before, "PostgreSQL did not restart"
    assert any(a.after_restart for a in load.answers)
    _assert_no_500(load)
    _assert_acknowledged_in_log(load)
    _assert_serves_normally(load)
    log = server.log.read_text(errors="replace")
    assert "Exception in ASGI application" not in log, server.tail()
