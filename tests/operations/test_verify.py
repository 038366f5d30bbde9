"""`chronicle verify` as operators run it: a clean store passes (exit 0); an event altered or
removed in the database, a hand-edited read-model row, or a stray vector in the saved FAISS index
fails it (exit 1) and the report says where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from infrastructure.vector_index import VectorIndex
from projections.runtime import read_state
from tests.operations.helpers import (
    World,
    chronicle,
    events_sql,
    perform,
    stored_id,
    wait_all,
    world,
)

SCRIPT = [("chat", 0, ["apple", "pear"]), ("chat", 1, ["plum"]), ("chat", 2, ["fig", "fig"]),
          ("update", 0, ["apple", "fig"]), ("tag", 1, "work"), ("pin", 2), ("archive", 0),
          ("folder", 1, "f0"), ("profile", 2, "Bo"), ("update", 1, ["pear"]), ("delete", 2)]


@pytest.fixture
def w(backend: str) -> Iterator[World]:
    with world(backend) as made:
        for command in SCRIPT:
            perform(made, command)
        wait_all(made.container)
        yield made


def verify(w: World) -> tuple[int, dict[str, Any]]:
    result = chronicle(w.env, "verify", "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def drifted(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in report["read_models"] if not m["agrees"]}


def test_a_clean_store_verifies(w: World) -> None:
    code, report = verify(w)
    assert code == 0 and report["ok"], report
    assert report["events"] == w.container.store.head() and report["aggregates"] > 0
    compared = [m for m in report["read_models"] if m["skipped"] is None]
    assert {m["name"] for m in compared} >= {"users", "chats", "folders", "audit_log"}
    assert all(m["agrees"] for m in compared)
    text = chronicle(w.env, "verify")
    assert text.returncode == 0 and "verify: OK" in text.stdout, text.stdout + text.stderr
    assert "users: agrees with live" in text.stdout


def test_an_altered_event_is_found(w: World) -> None:
    target = w.container.store.select(0, 1000)[8]
    state = bytearray(target.state)
    state[-1] ^= 0x01  # one bit of the ciphertext
    events_sql(w.container, "UPDATE {t} SET state = ? WHERE originator_id = ? AND "
               "originator_version = ?", (bytes(state), stored_id(w.container, target.originator_id),
                                          target.originator_version))
    code, report = verify(w)
    assert code == 1 and not report["ok"]
    assert [p["position"] for p in report["hash_chains"]["items"]][:1] == [target.id]
    assert report["undecodable_events"]["items"][0]["position"] == target.id
    failed = {a["aggregate_id"] for a in report["aggregate_replay"]["items"]}
    assert str(target.originator_id) in failed


def test_a_removed_event_is_found(w: World) -> None:
    rows = w.container.store.select(0, 1000)
    victim = next(r for r in rows if r.originator_version == 2 and any(
        o.originator_id == r.originator_id and o.originator_version == 3 for o in rows))
    events_sql(w.container, "DELETE FROM {t} WHERE originator_id = ? AND originator_version = ?",
               (stored_id(w.container, victim.originator_id), 2))
    code, report = verify(w)
    assert code == 1
    reasons = [p["reason"] for p in report["hash_chains"]["items"]
               if p["aggregate_id"] == str(victim.originator_id)]
    assert reasons and "missing" in reasons[0]
    assert str(victim.originator_id) in {a["aggregate_id"]
                                         for a in report["aggregate_replay"]["items"]}
    assert "audit_log" in drifted(report)  # its row for the event has no source any more


def test_removing_the_last_event_shows_as_drift(w: World) -> None:
    """No later event breaks the chain, but the read models remember it."""
    last = w.container.store.select(w.container.store.head() - 1, 1)[0]
    events_sql(w.container, "DELETE FROM {t} WHERE originator_id = ? AND originator_version = ?",
               (stored_id(w.container, last.originator_id), last.originator_version))
    code, report = verify(w)
    assert code == 1 and report["hash_chains"]["total"] == 0
    audit = drifted(report)["audit_log"]["tables"][0]
    assert audit["only_live"] == 1 and audit["only_other"] == 0


def test_a_hand_edited_read_model_row_is_found(w: World) -> None:
    db = w.container.read_db
    generation = read_state(db, "users")["generation"]
    admin = w.callers[0].id
    with db.transaction() as tx:
        tx.execute(f"UPDATE users__g{generation} SET name = 'Mallory' WHERE id = ?", (admin,))
    code, report = verify(w)
    assert code == 1 and report["hash_chains"]["total"] == 0
    users = drifted(report)
    assert list(users) == ["users"]
    table = users["users"]["tables"][0]
    assert table["only_live"] == 1 and table["only_other"] == 1
    assert {s["side"]: s["key"] for s in table["samples"]} == {"live": {"id": admin},
                                                              "replay": {"id": admin}}
    assert any(s["row"]["name"] == "Mallory" for s in table["samples"])


def test_a_stray_vector_in_the_saved_index_is_found(w: World) -> None:
    db, directory = w.container.read_db, w.container.settings.DATA_DIR / "vector_index"
    state = read_state(db, "retrieval_index")
    index = VectorIndex(dim=4)
    index.add("file-nowhere", [42], np.ones((1, 4), dtype=np.float32) / 2)
    index.save(directory, int(state["position"]))
    (directory / "mirror.json").write_text(json.dumps({
        "position": int(state["position"]), "generation": int(state["generation"]),
        "model": "test-model", "dim": 4}))
    code, report = verify(w)
    assert code == 1
    assert report["vector_index"]["extra"] == [["file-nowhere", 42]]
    assert report["read_models"] and all(m["agrees"] for m in report["read_models"])
