"""Erasure that survives replay: after a user is erased and every read model is rebuilt from the
log, no store holds their personal data, byte for byte (on SQLite and on PostgreSQL + Redis).

A victim writes unique markers into every kind of personal data (name, e-mail, profile info,
chat titles and messages, a folder, an uploaded and processed text file, a knowledge base, a
model, a tool, a note), signs in, and is erased. Then every projection is rebuilt and each marker is
looked for in every file under DATA_DIR (SQLite files with their WAL, uploads, the FAISS index),
every row of every table on PostgreSQL, every Redis key and value, and a `chronicle export`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
import redis

from domain.erasure import Erasure, erasure_id
from infrastructure.integrity import verify_chains
from infrastructure.keys import derive_kek
from infrastructure.mapper import Erased, read_header
from interfaces.schemas.users import default_user_permissions
from tests.chats.helpers import chat_doc
from tests.conftest import REDIS_URL
from tests.helpers import Caller, set_role, signup
from tests.models.helpers import model_form

CHRONICLE = str(Path(sys.executable).with_name("chronicle"))
FIELDS = ("name", "email", "info", "title", "message", "folder", "filename", "filetext",
          "kbname", "kbdesc", "modelname", "modeldesc", "toolname", "tooldesc", "toolcode",
          "notetitle", "notetext")


def markers() -> dict[str, str]:
    """One marker per field; the random hex tail is what is searched for, since an index may
    store a word's start compressed against its neighbour (FTS5 prefix compression)."""
    return {f: f"{f}{uuid.uuid4().hex[:16]}" for f in FIELDS}


def needles(marks: dict[str, str]) -> dict[str, bytes]:
    return {f: m[len(f):].encode() for f, m in marks.items()}


def grant_workspace(client: Any, admin: Caller) -> None:
    body = default_user_permissions()
    body["workspace"].update(models=True, tools=True, knowledge=True)
    r = client.post("/api/v1/users/default/permissions", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text


def wait_processed(client: Any, caller: Caller, file_id: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/files/{file_id}/process/status", headers=caller.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("completed", "failed"):
            assert r.json()["status"] == "completed", r.json()
            return
        time.sleep(0.1)
    raise AssertionError(f"file {file_id} not processed in {timeout} s")


def upload(client: Any, caller: Caller, name: str, text: str) -> str:
    r = client.post("/api/v1/files/", files={"file": (name, text.encode(), "text/plain")},
                    headers=caller.headers)
    assert r.status_code == 200, r.text
    file_id = str(r.json()["id"])
    wait_processed(client, caller, file_id)
    return file_id


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def populate(client: Any, admin: Caller, marks: dict[str, str], shared: str) -> Caller:
    """The victim and everything they write."""
    victim = signup(client, marks["name"], f"{marks['email']}@example.com", "victim password")
    victim = set_role(client, admin, victim, "user")
    h = victim.headers
    ok(client.post("/api/v1/users/user/info/update", json={"note": marks["info"]}, headers=h))
    folder = ok(client.post("/api/v1/folders/", json={"name": marks["folder"]}, headers=h))["id"]
    doc = chat_doc(marks["title"], f"hello {marks['message']}", f"answer {marks['message']}")
    chat = ok(client.post("/api/v1/chats/new", json={"chat": doc}, headers=h))["id"]
    ok(client.post(f"/api/v1/chats/{chat}/folder", json={"folder_id": folder}, headers=h))
    file_id = upload(client, victim, f"{marks['filename']}.txt",
                     f"Field notes.\n\nThe secret word is {marks['filetext']}.\n")
    upload(client, victim, "shared.txt", shared)
    kb = ok(client.post("/api/v1/knowledge/create", json={
        "name": marks["kbname"], "description": marks["kbdesc"]}, headers=h))["id"]
    ok(client.post(f"/api/v1/knowledge/{kb}/file/add", json={"file_id": file_id}, headers=h))
    ok(client.post("/api/v1/models/create", json=model_form(
        name=marks["modelname"], meta={"description": marks["modeldesc"]}), headers=h))
    code = f'"""\ndescription: {marks["tooldesc"]}\n"""\nclass Tools:\n' \
           f'    def ping(self) -> str:\n        """{marks["toolcode"]}"""\n        return "pong"\n'
    ok(client.post("/api/v1/tools/create", json={
        "id": f"t_{uuid.uuid4().hex[:10]}", "name": marks["toolname"], "content": code,
        "meta": {"description": marks["tooldesc"]}, "access_control": {}}, headers=h))
    ok(client.post("/api/v1/notes/create", json={
        "title": marks["notetitle"], "data": {"content": {"md": f"Dear {marks['notetext']}"}}},
        headers=h))
    return victim


def sign_in(client: Any, victim: Caller) -> None:
    """Leaves session state behind: an auth cache entry and sign-in rate-limit windows."""
    wrong = client.post("/api/v1/auths/signin", json={"email": victim.email, "password": "no"})
    assert wrong.status_code in (400, 401), wrong.text
    ok(client.post("/api/v1/auths/signin", json={"email": victim.email,
                                                 "password": "victim password"}))
    ok(client.get("/api/v1/auths/", headers=victim.headers))


# -- searching every store -----------------------------------------------------------------------
def found_in_files(root: Path, wanted: dict[str, bytes]) -> list[str]:
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{field} in {path.relative_to(root)}" for field, needle in wanted.items()
                 if needle in data]
    return hits


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)  # bytea as stored, not its hex text form
    return str(value).encode()


def found_in_postgres(url: str, wanted: dict[str, bytes]) -> list[str]:
    hits = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables"
                              " WHERE table_type = 'BASE TABLE' AND table_schema NOT IN"
                              " ('pg_catalog', 'information_schema')").fetchall()
        assert any(t == "chronicle_events" for _, t in tables)
        for schema, table in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                data = b"\x00".join(_as_bytes(v) for v in row)
                hits += [f"{field} in {schema}.{table}" for field, needle in wanted.items()
                         if needle in data]
    return hits


def _redis_value(r: Any, key: bytes) -> bytes:
    kind = r.type(key).decode()
    parts: list[Any] = {
        "string": lambda: [r.get(key)],
        "hash": lambda: [x for kv in r.hgetall(key).items() for x in kv],
        "set": lambda: list(r.smembers(key)),
        "zset": lambda: [m for m, _ in r.zrange(key, 0, -1, withscores=True)],
        "list": lambda: r.lrange(key, 0, -1),
        "stream": lambda: [str(e).encode() for e in r.xrange(key)],
    }.get(kind, lambda: [])()
    return b"\x00".join(p for p in parts if p is not None)


def found_in_redis(wanted: dict[str, bytes]) -> list[str]:
    """Every key of the test database (the suite's prefix and anything else in it)."""
    r = redis.Redis.from_url(REDIS_URL)
    hits = []
    for key in r.scan_iter(count=1000):
        data = key + b"\x00" + _redis_value(r, key)
        hits += [f"{field} in redis {key!r}" for field, needle in wanted.items()
                 if needle in data]
    return hits


def search_everything(env: dict[str, str], wanted: dict[str, bytes]) -> list[str]:
    found = found_in_files(Path(env["DATA_DIR"]), wanted)
    if "DATABASE_URL" in env:
        found += found_in_postgres(env["DATABASE_URL"], wanted)
        found += found_in_redis(wanted)
    return found


def chronicle(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHRONICLE, *args], env={**os.environ, **env, "LOG_LEVEL": "ERROR"},
                          input=stdin, capture_output=True, text=True, timeout=300)


# -- the tests -----------------------------------------------------------------------------------
def rebuild_everything(container: Any) -> None:
    for name in list(container.host.classes):
        container.host.rebuild(name)
    names = [n for n in container.host.classes if n != "realtime"]
    assert container.host.wait(names, container.store.head(), 30.0)
    assert [s["name"] for s in container.host.status() if s["status"] == "failed"] == []


def replay(container: Any, victim_id: str) -> tuple[list[Any], list[Any], list[Any]]:
    """A full replay: (events the victim's key encrypted, erasure records, every event)."""
    owned, erasures, everything, position = [], [], [], 0
    while batch := container.store.select(position, 1000):
        for n in batch:
            event = container.store.decode(n)
            everything.append(event)
            if read_header(n.state)["o"] == victim_id:
                owned.append(event)
            if isinstance(event, Erasure.UserErased):
                erasures.append(event)
        position = batch[-1].id
    return owned, erasures, everything


def found_in_replay(container: Any, streams: Any, events: list[Any],
                    wanted: dict[str, bytes]) -> list[str]:
    """What decrypting the log (and the snapshots of the victim's aggregates) shows."""
    snapshots = container.store.app.snapshots
    for aggregate_id in streams:
        events = [*events, *snapshots.get(aggregate_id)]
    hits = []
    for event in events:
        data = repr(vars(event)).encode()
        hits += [f"{field} in {type(event).__qualname__}" for field, needle in wanted.items()
                 if needle in data]
    return hits


def test_erased_user_leaves_no_trace_in_any_store(client, container, settings_env):
    admin = signup(client, "Admin")
    grant_workspace(client, admin)
    marks, shared = markers(), f"Shared minutes {uuid.uuid4().hex}.\n"
    wanted = needles(marks)
    victim = populate(client, admin, marks, shared)
    sign_in(client, victim)
    other = set_role(client, admin, signup(client, "Other"), "user")
    keep = f"keep{uuid.uuid4().hex[:12]}"
    other_chat = ok(client.post("/api/v1/chats/new", json={"chat": chat_doc(keep, keep)},
                                headers=other.headers))["id"]
    other_file = upload(client, other, "shared-copy.txt", shared)  # the same blob as the victim's
    streams = container.store.streams_of(victim.id)
    assert {"User", "Chat", "Folder", "File", "KnowledgeBase", "Model", "Tool", "Note"} <= \
        {s.kind for s in streams.values()}

    before = {hit.split(" in ")[0] for hit in search_everything(settings_env, wanted)}
    assert before == set(FIELDS)  # the search finds each marker while it is there
    shown = found_in_replay(container, streams, replay(container, victim.id)[2], wanted)
    assert {hit.split(" in ")[0] for hit in shown} == set(FIELDS) - {"filetext"}  # a blob

    r = client.delete(f"/api/v1/users/{victim.id}/erase", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["complete"] is True and r.json()["deleted"]["Chat"] == 1
    assert r.json()["deleted"]["Note"] == 1
    assert search_everything(settings_env, wanted) == []  # before any rebuild reuses pages
    rebuild_everything(container)

    # Replays: the victim's aggregates are gone, their events are tombstones, the erasure shows.
    owned, erasures, everything = replay(container, victim.id)
    assert found_in_replay(container, streams, everything, wanted) == []
    assert owned and all(isinstance(e, Erased) for e in owned)
    assert [e.user_id for e in erasures] == [victim.id]
    assert container.store.get(erasure_id(victim.id)).user_id == victim.id
    for aggregate_id, stream in streams.items():
        loaded = container.store.get(aggregate_id)
        if stream.kind == "EmailClaim":  # released, snapshotted: the address is free again
            assert loaded is not None and not loaded.held and vars(loaded).get("email") is None
        else:
            assert loaded is None, stream.kind
    assert client.get(f"/api/v1/users/{victim.id}", headers=admin.headers).status_code == 400
    r = client.post("/api/v1/auths/signin", json={"email": victim.email,
                                                  "password": "victim password"})
    assert r.status_code == 400, r.text
    assert client.get("/api/v1/auths/", headers=victim.headers).status_code == 401

    # The other user's data is intact, including the blob they shared with the victim.
    h = {**other.headers, "X-Chronicle-Min-Position": str(container.store.head())}
    assert ok(client.get(f"/api/v1/chats/{other_chat}", headers=h))["title"] == keep
    assert [c["id"] for c in ok(client.get("/api/v1/chats/search", params={"text": keep},
                                           headers=h))] == [other_chat]
    assert ok(client.get(f"/api/v1/files/{other_file}/data/content", headers=h)) == \
        {"content": shared}
    hits = container.retrieval.query([f"file-{other_file}"], "Shared minutes", 1)
    assert hits and "Shared minutes" in hits[0].text

    # Byte for byte, nowhere.
    export = Path(settings_env["DATA_DIR"]) / "export.ndjson"
    exported = chronicle(settings_env, "export", "-o", str(export))
    assert exported.returncode == 0, exported.stderr
    assert search_everything(settings_env, wanted) == []  # DATA_DIR holds the export too
    chain_key = derive_kek(container.settings.secret_key(), b"event-chain")
    assert list(verify_chains(container.store, chain_key)) == []  # hash chains still whole
    keys = [json.loads(line) for line in export.read_text().splitlines()]
    mine = [k for k in keys if k["kind"] == "key" and k.get("owner") == victim.id]
    assert len(mine) == 1 and mine[0].get("wrapped") is None and mine[0]["erased_at"]


def test_an_erased_address_can_sign_up_again(client, container):
    """Its claim was released, then snapshotted under the system key before the erasure."""
    admin = signup(client, "Admin")
    email = f"again-{uuid.uuid4().hex[:8]}@example.com"
    victim = set_role(client, admin, signup(client, "Victim", email), "user")
    ok(client.delete(f"/api/v1/users/{victim.id}/erase", headers=admin.headers))
    again = signup(client, "Newcomer", email)
    assert again.id != victim.id
    ok(client.get("/api/v1/auths/", headers=again.headers))
    chain_key = derive_kek(container.settings.secret_key(), b"event-chain")
    assert list(verify_chains(container.store, chain_key)) == []  # the snapshot is not a link


def test_what_another_user_took_over_survives_erasure_and_rebuild(client, container):
    """An admin's sync takes the victim's model over: it stays the admin's, and a rebuild
    still shows it although the victim's creation event is a tombstone."""
    admin = signup(client, "Admin")
    grant_workspace(client, admin)
    victim = set_role(client, admin, signup(client, "Victim"), "user")
    form = model_form(name="Taken over", meta={"description": "kept by the admin"})
    ok(client.post("/api/v1/models/create", json=form, headers=victim.headers))
    synced = ok(client.post("/api/v1/models/sync", json={"models": [form]},
                            headers=admin.headers))
    assert synced[0]["user_id"] == admin.id
    ok(client.delete(f"/api/v1/users/{victim.id}/erase", headers=admin.headers))
    rebuild_everything(container)
    seen = {**admin.headers, "X-Chronicle-Min-Position": str(container.store.head())}
    got = ok(client.get("/api/v1/models/model", params={"id": form["id"]}, headers=seen))
    assert (got["name"], got["meta"]["description"], got["user_id"]) == \
        ("Taken over", "kept by the admin", admin.id)
    ok(client.post("/api/v1/models/model/update", params={"id": form["id"]},
                   json={**form, "name": "Still writable"}, headers=admin.headers))
    chain_key = derive_kek(container.settings.secret_key(), b"event-chain")
    assert list(verify_chains(container.store, chain_key)) == []


def test_erasing_is_idempotent_and_survives_a_restart(client, container, settings_env):
    from interfaces.composition.bootstrap import bootstrap
    from tests.conftest import make_settings

    admin = signup(client, "Admin")
    victim = set_role(client, admin, signup(client, "Victim"), "user")
    chat = ok(client.post("/api/v1/chats/new", json={"chat": chat_doc("t", "m")},
                          headers=victim.headers))["id"]
    first = ok(client.delete(f"/api/v1/users/{victim.id}/erase", headers=admin.headers))
    again = ok(client.delete(f"/api/v1/users/{victim.id}/erase", headers=admin.headers))
    assert first["already_erased"] is False and again["already_erased"] is True
    assert again["complete"] is True
    fresh = bootstrap(make_settings(settings_env), run_projectors=False)
    try:  # a new process: no cached key, the same tombstones
        assert fresh.store.get(UUID(chat)) is None and fresh.store.get(UUID(victim.id)) is None
        assert fresh.store.get(erasure_id(victim.id)).user_id == victim.id
    finally:
        fresh.close()


# -- who may erase -------------------------------------------------------------------------------
@pytest.fixture
def cast(client):  # type: ignore[no-untyped-def]
    from tests.helpers import cast as make

    return make(client)


@pytest.mark.parametrize("who", ["anonymous", "pending", "user", "other"])
def test_only_admins_may_erase(client, cast, who):
    headers = cast.all()[who]
    r = client.delete(f"/api/v1/users/{cast.user.id}/erase", headers=headers or {})
    assert r.status_code == 401, r.text
    if headers is not None:
        from application.messages import Detail

        assert r.json()["detail"] == Detail.ACCESS_PROHIBITED
    assert ok(client.get(f"/api/v1/users/{cast.user.id}", headers=cast.admin.headers))


def test_erase_refusals(client, container, cast):
    admin = cast.admin.headers
    assert client.delete(f"/api/v1/users/{cast.admin.id}/erase", headers=admin).status_code == 400
    assert client.delete(f"/api/v1/users/{uuid.uuid4()}/erase", headers=admin).status_code == 404
    assert client.delete("/api/v1/users/not-a-uuid/erase", headers=admin).status_code == 404
    second = set_role(client, cast.admin, cast.other, "admin")
    r = client.delete(f"/api/v1/users/{cast.admin.id}/erase", headers=second.headers)
    assert r.status_code == 403, r.text  # the primary admin
    assert ok(client.get(f"/api/v1/users/{cast.admin.id}", headers=admin))["role"] == "admin"


def test_chronicle_erase_user(client, container, settings_env):
    admin = signup(client, "Admin")
    victim = set_role(client, admin, signup(client, "Victim"), "user")
    chat = ok(client.post("/api/v1/chats/new", json={"chat": chat_doc("cli chat", "m")},
                          headers=victim.headers))["id"]
    refused = chronicle(settings_env, "erase-user", victim.id, stdin="n\n")
    assert refused.returncode == 1 and container.store.get(UUID(chat)) is not None
    unknown = chronicle(settings_env, "erase-user", str(uuid.uuid4()), "--yes")
    assert unknown.returncode == 1 and "could not find" in unknown.stderr
    done = chronicle(settings_env, "erase-user", victim.id, "--yes")
    assert done.returncode == 0, done.stderr
    assert "erased; deleted 1 Chat" in done.stdout
    deadline = time.monotonic() + 10  # another process erased it: this one notices within 1 s
    while container.store.get(UUID(chat)) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert container.store.get(UUID(chat)) is None
