"""Worlds (a store, its server and a client) and what the operator-command tests do to them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from projections.compare import columns
from projections.registry import PROJECTORS
from projections.runtime import physical_names, read_state
from tests.chats.helpers import chat_doc
from tests.conftest import installed
from tests.helpers import Caller, cast

CHRONICLE = str(Path(sys.executable).with_name("chronicle"))


def chronicle(env: dict[str, str], *args: str, timeout: float = 240
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHRONICLE, *args], env={**os.environ, **env, "LOG_LEVEL": "ERROR"},
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class World:
    env: dict[str, str]
    container: Any
    client: Any
    callers: list[Caller] = field(default_factory=list)
    chats: list[tuple[str, Caller]] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)


@contextmanager
def world(backend: str, secret: str | None = None, populate: bool = True) -> Iterator[World]:
    """A fresh store and server on `backend` (own directory, own PostgreSQL database)."""
    overrides = {"WEBUI_SECRET_KEY": secret} if secret else {}
    tmp = Path(tempfile.mkdtemp(prefix="chronicle-ops-"))
    with installed(backend, tmp, **overrides) as built:
        made = World(built.env, built.container, built.client)
        if populate:
            people = cast(built.client)
            made.callers = [people.admin, people.user, people.other]
        yield made


WORDS = st.lists(st.sampled_from(["apple", "pear", "plum", "fig"]), min_size=1, max_size=3)
COMMANDS = st.one_of(
    st.tuples(st.just("chat"), st.integers(0, 2), WORDS),
    st.tuples(st.just("update"), st.integers(0, 20), WORDS),
    st.tuples(st.just("pin"), st.integers(0, 20)),
    st.tuples(st.just("archive"), st.integers(0, 20)),
    st.tuples(st.just("tag"), st.integers(0, 20), st.sampled_from(["work", "home"])),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("folder"), st.integers(0, 2), st.sampled_from(["f0", "f1"])),
    st.tuples(st.just("profile"), st.integers(0, 2), st.sampled_from(["Ann", "Bo"])),
)


def perform(w: World, command: tuple[Any, ...]) -> None:
    """One command through the API; commands on chats that do not exist are skipped."""
    kind, *args = command
    if kind in ("chat", "folder", "profile"):
        caller = w.callers[args[0]]
        if kind == "chat":
            r = w.client.post("/api/v1/chats/new", json={"chat": chat_doc(" ".join(args[1]),
                                                                           *args[1])},
                              headers=caller.headers)
            w.chats.append((r.json()["id"], caller))
        elif kind == "folder":
            r = w.client.post("/api/v1/folders/", json={"name": f"{args[1]}-{uuid.uuid4().hex[:4]}"},
                              headers=caller.headers)
        else:
            r = w.client.post("/api/v1/auths/update/profile",
                              json={"name": args[1], "profile_image_url": "/user.png"},
                              headers=caller.headers)
        assert r.status_code == 200, r.text
        return
    if not w.chats:
        return
    chat_id, owner = w.chats[args[0] % len(w.chats)]
    if chat_id not in w.deleted:
        _chat_command(w, kind, chat_id, owner, args[1:])


def _chat_command(w: World, kind: str, chat_id: str, owner: Caller, args: list[Any]) -> None:
    api = f"/api/v1/chats/{chat_id}"
    if kind == "update":
        r = w.client.post(api, json={"chat": chat_doc(" ".join(args[0]), *args[0])},
                          headers=owner.headers)
    elif kind == "tag":
        r = w.client.post(f"{api}/tags", json={"name": args[0]}, headers=owner.headers)
    elif kind == "delete":
        r = w.client.delete(api, headers=owner.headers)
        w.deleted.add(chat_id)
    else:
        r = w.client.post(f"{api}/{kind}", headers=owner.headers)
    assert r.status_code == 200, r.text


def wait_all(container: Any, timeout: float = 60) -> None:
    head = container.store.head()
    names = [cls.name for cls in PROJECTORS]
    assert container.host.wait(names, head, timeout), container.host.status()


def read_models(container: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows (the columns a comparison looks at), sorted."""
    db = container.read_db
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.transaction() as tx:
        for cls in PROJECTORS:
            state = read_state(db, cls.name)
            assert state is not None, cls.name
            for table, physical in physical_names(cls, int(state["generation"])).items():
                cols = columns(tx, physical)
                if cols.virtual:
                    continue
                names = ", ".join(f'"{c}"' for c in cols.compared)
                rows = tx.execute(f'SELECT {names} FROM "{physical}"') if names else []
                out[table] = sorted((tuple(r.values()) for r in rows), key=repr)
    return out


def events_sql(container: Any, statement: str, params: tuple[Any, ...]) -> None:
    """Write to the stored events directly, behind the application's back ({t}: the table)."""
    app = container.store.app
    if container.settings.uses_postgres:
        with app.recorder.datastore.get_connection() as conn:
            conn.execute(statement.replace("?", "%s").replace("{t}", "public.chronicle_events"),
                         params)
    else:
        with app.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement.replace("{t}", "stored_events"), params)


def stored_id(container: Any, originator_id: Any) -> Any:
    """An originator id as the events table stores it."""
    return originator_id if container.settings.uses_postgres else originator_id.hex
