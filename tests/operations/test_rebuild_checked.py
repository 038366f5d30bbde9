"""The checked, one-pass rebuild: shadow tables filled from one read of the log, compared with
live at the same position inside the swap transaction, then swapped; while writes go on."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from functools import singledispatchmethod
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from application.auth import Principal
from domain.user import User
from projections.registry import PROJECTORS
from projections.runtime import (
    Projector,
    check_only,
    create_tables,
    read_state,
    rebuild_many,
)
from tests.chats.helpers import chat_doc
from tests.operations.helpers import World, chronicle, perform, read_models, wait_all, world

FEW = settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck),
               phases=[Phase.explicit, Phase.generate])


@pytest.fixture
def w(backend: str) -> Iterator[World]:
    with world(backend) as made:
        for command in [("chat", 0, ["apple"]), ("chat", 1, ["pear", "fig"]), ("tag", 1, "work"),
                        ("folder", 2, "f0"), ("profile", 1, "Bo")]:
            perform(made, command)
        wait_all(made.container)
        yield made


class Writer(threading.Thread):
    """Keeps writing through the application: new users, chats, tags and pins."""

    def __init__(self, container: Any):
        super().__init__(daemon=True)
        self.c = container
        self.stop = threading.Event()
        self.done = threading.Event()
        self.chats: list[str] = []
        self.error: BaseException | None = None
        self.principal = self._user()

    def _user(self) -> Principal:
        user_id = str(uuid.uuid4())
        self.c.store.save(User(user_id=user_id, email=f"{user_id}@x.org", name="W", role="user",
                               password_hash="-", profile_image_url="", stamp="s"))
        return Principal(id=user_id, role="user", via="session")

    LIMIT = 120  # chats: enough to keep the log growing under the rebuild, bounded in time

    def run(self) -> None:
        try:
            while not self.stop.is_set() and len(self.chats) < self.LIMIT:
                chat = self.c.chats.create(self.principal, chat_doc("w", "plum")).value
                self.chats.append(str(chat.id))
                self.c.chats.add_tag(self.principal, str(chat.id), "home")
                if len(self.chats) % 3 == 0:
                    self.c.chats.toggle_pin(self.principal, self.chats[-2])
                    self._user()
        except BaseException as error:
            self.error = error
        finally:
            self.done.set()

    def wait_for(self, count: int) -> None:
        while len(self.chats) < count and self.error is None and not self.done.is_set():
            self.stop.wait(0.01)


@FEW
@given(page=st.sampled_from([5, 40, 2000]),
       names=st.sampled_from([("users",), ("chats", "audit_log"), None]))
def test_a_rebuild_while_writes_continue_loses_nothing(w: World, page: int,
                                                       names: tuple[str, ...] | None) -> None:
    c = w.container
    classes = [cls for cls in PROJECTORS if names is None or cls.name in names]
    writer = Writer(c)
    writer.start()
    try:
        writer.wait_for(3)
        # each page waits for one more write: the log grows under the rebuild
        results = rebuild_many(classes, c.read_db, c.reader, page=page,
                               progress=lambda *_: writer.wait_for(len(writer.chats) + 1))
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert len(writer.chats) > 3  # the writes went on during the rebuild
    for result in results:
        assert result.comparison is not None and result.comparison.agrees, result.comparison
        assert result.comparison.skipped is None
    wait_all(c)
    assert all(cmp.agrees for cmp in check_only(PROJECTORS, c.read_db, c.store))
    listed = c.read_db.query("SELECT id FROM chat_list WHERE user_id = ?", (writer.principal.id,))
    assert sorted(r["id"] for r in listed) == sorted(writer.chats)
    assert all(read_state(c.read_db, f"{cls.name}@rebuild") is None for cls in classes)


def test_an_interrupted_one_pass_rebuild_resumes(w: World) -> None:
    c = w.container
    for index in range(30):
        perform(w, ("chat", index % 3, ["fig"]))
    wait_all(c)
    before = read_models(c)

    def interrupt(read: int, position: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild_many(PROJECTORS, c.read_db, c.reader, page=20, progress=interrupt)
    shadows = [read_state(c.read_db, f"{cls.name}@rebuild") for cls in PROJECTORS]
    assert all(s is not None and s["position"] == 20 for s in shadows)  # one page each, kept
    results = rebuild_many(PROJECTORS, c.read_db, c.reader, page=20)
    assert {r.applied for r in results} == {c.store.head() - 20}
    assert all(r.comparison is not None and r.comparison.agrees for r in results)
    assert read_models(c) == before


def test_the_cli_rebuild_reports_drift_and_swaps_anyway(w: World) -> None:
    db = w.container.read_db
    generation = int(read_state(db, "users")["generation"])
    with db.transaction() as tx:
        tx.execute(f"UPDATE users__g{generation} SET name = 'Mallory' WHERE id = ?",
                   (w.callers[1].id,))
    check = chronicle(w.env, "rebuild", "users", "--check-only")
    assert check.returncode == 1 and "WARNING: users: DRIFT" in check.stderr, check.stderr
    assert "Mallory" in check.stderr
    assert int(read_state(db, "users")["generation"]) == generation  # nothing swapped
    result = chronicle(w.env, "rebuild", "--all")
    assert result.returncode == 0, result.stderr
    assert "WARNING: users: DRIFT" in result.stderr and "chats: agrees with live" in result.stdout
    assert "events read once for" in result.stdout
    assert int(read_state(db, "users")["generation"]) == generation + 1
    assert not db.query("SELECT id FROM users WHERE name = 'Mallory'")
    again = chronicle(w.env, "rebuild", "--all", "--check-only")
    assert again.returncode == 0, again.stderr
    assert "users: agrees with live" in again.stdout


class Typed(Projector):
    """Columns a generic comparison must cope with: json (no equality operator on PostgreSQL),
    a serial key and a generated tsvector (computed by the database, not compared), no primary
    key and duplicate rows."""

    name = "typed"
    tables = ("typed", "bag")

    def ddl(self) -> list[str]:
        if self.dialect == "postgres":
            return ["CREATE TABLE {typed} (id BIGSERIAL PRIMARY KEY, k TEXT UNIQUE, doc JSON,"
                    " tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', k)) STORED)",
                    "CREATE TABLE {bag} (v TEXT)"]
        return ["CREATE TABLE {typed} (id INTEGER PRIMARY KEY, k TEXT UNIQUE, doc TEXT)",
                "CREATE TABLE {bag} (v TEXT)"]

    @singledispatchmethod
    def handle(self, event: Any, tx: Any) -> None:
        pass


def test_comparison_copes_with_column_types_and_duplicates(w: World) -> None:
    from projections.compare import compare_tables

    db = w.container.read_db
    left, right = {"typed": "typed__a", "bag": "bag__a"}, {"typed": "typed__b", "bag": "bag__b"}
    with db.transaction() as tx:
        create_tables(tx, Typed, left)
        create_tables(tx, Typed, right)
        for names, docs, bag in ((left, ['{"a": 1}', '{"b": 2}'], ["x", "x", "y"]),
                                 (right, ['{"b": 2}', '{"a": 1}'], ["x", "y", "y"])):
            for key, doc in zip(("one", "two"), docs, strict=True):
                tx.execute(f"INSERT INTO {names['typed']} (k, doc) VALUES (?, ?)", (key, doc))
            tx.executemany(f"INSERT INTO {names['bag']} (v) VALUES (?)", [(v,) for v in bag])
    try:
        with db.transaction() as tx:
            typed = compare_tables(tx, "typed", left["typed"], right["typed"])
            bag = compare_tables(tx, "bag", left["bag"], right["bag"])
        assert (typed.live_rows, typed.only_live, typed.only_other) == (2, 2, 2)
        key = "k" if db.dialect == "postgres" else "id"  # a serial key is not compared
        assert all(list(s["key"]) == [key] for s in typed.samples) and len(typed.samples) == 4
        assert (bag.only_live, bag.only_other) == (2, 2)  # x twice and y once, or the reverse
        with db.transaction() as tx:
            tx.execute(f"UPDATE {right['typed']} SET doc = ? WHERE k = 'one'", ('{"a": 1}',))
            tx.execute(f"DELETE FROM {right['typed']} WHERE k = 'two'")  # a new serial id
            tx.execute(f"INSERT INTO {right['typed']} (k, doc) VALUES ('two', ?)", ('{"b": 2}',))
            tx.execute(f"DELETE FROM {right['bag']} WHERE v = 'y'")
            tx.executemany(f"INSERT INTO {right['bag']} (v) VALUES (?)", [("x",), ("y",)])
            assert compare_tables(tx, "typed", left["typed"], right["typed"]).agrees
            assert compare_tables(tx, "bag", left["bag"], right["bag"]).agrees
    finally:
        with db.transaction() as tx:
            for name in (*left.values(), *right.values()):
                tx.execute(f"DROP TABLE IF EXISTS {name}")


def test_two_checks_may_run_at_once(w):
    """verify and rebuild --check-only replay into scratch tables of their own."""
    results: list[Any] = []

    def check() -> None:
        results.append(check_only(PROJECTORS, w.container.read_db, w.container.store))

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 2
    assert all(cmp.agrees for comparisons in results for cmp in comparisons), results
    leftovers = [t for t in w.container.read_db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table'" if w.container.read_db.dialect ==
        "sqlite" else "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'chronicle_read'")
        if "__verify" in t["name"]]
    assert leftovers == []
