"""The chat trash: restore within the window, purge (asked for or by the retention policy), and
the retention policy's scheduled commands. Both backends (tests/chats/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from application.chats import DAY
from application.messages import Detail
from application.retention import RetentionPolicy
from infrastructure.jobs import Schedule
from infrastructure.mapper import read_header
from projections.chat_folders import FoldersProjector
from projections.chats import ChatsProjector, ChatsQueries
from projections.runtime import rebuild
from tests.chats.helpers import API, chat_doc, create, ids
from tests.chats.test_stateful import dump

CHRONICLE = str(Path(sys.executable).with_name("chronicle"))
WINDOW = 30 * DAY  # CHAT_TRASH_RETENTION_DAYS default


def caught_up(container: Any) -> None:
    assert container.host.wait(["chats", "folders"], container.store.head(), 10.0)


def delete(client: Any, caller: Any, chat_id: str) -> str:
    """Delete as `caller`; returns the write's position (others read at least up to it)."""
    r = client.delete(f"{API}/{chat_id}", headers=caller.headers)
    assert r.status_code == 200, r.text
    return str(r.headers["X-Chronicle-Position"])


def visible(client: Any, caller: Any, chat_id: str, word: str, tag: str) -> dict[str, bool]:
    """Where a chat shows up for its owner, read model by read model."""
    h = caller.headers
    return {
        "list": chat_id in ids(client.get(f"{API}/", headers=h)),
        "search": chat_id in ids(client.get(f"{API}/search", params={"text": word}, headers=h)),
        "tag search": chat_id in ids(client.get(f"{API}/search", params={"text": f"tag:{tag}"},
                                                headers=h)),
        "tags": tag in [t["id"] for t in client.get(f"{API}/all/tags", headers=h).json()],
        "by tag": chat_id in ids(client.post(f"{API}/tags", json={"name": tag}, headers=h)),
        "all": chat_id in ids(client.get(f"{API}/all", headers=h)),
        "chat": client.get(f"{API}/{chat_id}", headers=h).status_code == 200,
    }


def trash_ids(client: Any, caller: Any, path: str = "/trash", after: str = "0") -> list[str]:
    headers = {**caller.headers, "X-Chronicle-Min-Position": after}
    return ids(client.get(f"{API}{path}", headers=headers))


def load(container: Any, chat_id: str) -> Any:
    return container.store.get(uuid.UUID(chat_id))


def rows_of(container: Any, chat_id: str) -> dict[str, int]:
    return {t: container.read_db.query(f"SELECT COUNT(*) AS n FROM {t} WHERE {col} = ?",
                                       (chat_id,))[0]["n"]
            for t, col in (("chat_list", "id"), ("chat_tags", "chat_id"),
                           ("chat_text", "chat_id"))}


@pytest.fixture
def word() -> str:
    return f"zebra{uuid.uuid4().hex[:8]}"


# -- restore --------------------------------------------------------------------------------
def test_owner_restores_within_the_window_with_everything(client, fresh, word):
    owner = fresh()
    chat = create(client, owner, f"T {word}", f"about {word}", "a reply", tags=[word])
    before = client.get(f"{API}/{chat['id']}", headers=owner.headers).json()
    assert all(visible(client, owner, chat["id"], word, word).values())

    delete(client, owner, chat["id"])
    assert not any(visible(client, owner, chat["id"], word, word).values())
    [item] = client.get(f"{API}/trash", headers=owner.headers).json()
    assert item["id"] == chat["id"] and item["title"] == f"T {word}"
    assert abs(item["deleted_at"] - time.time()) < 60
    assert item["purge_at"] == item["deleted_at"] + WINDOW

    r = client.post(f"{API}/{chat['id']}/restore", headers=owner.headers)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["updated_at"] >= before["updated_at"]  # a restore counts as an update
    assert {**after, "updated_at": 0} == {**before, "updated_at": 0}
    assert all(visible(client, owner, chat["id"], word, word).values())
    assert trash_ids(client, owner) == []
    assert client.get(f"{API}/{chat['id']}", headers=owner.headers).json() == after


def test_restore_and_purge_of_a_live_chat_are_400(client, fresh):
    owner = fresh()
    chat = create(client, owner)
    for r in (client.post(f"{API}/{chat['id']}/restore", headers=owner.headers),
              client.delete(f"{API}/trash/{chat['id']}", headers=owner.headers)):
        assert r.status_code == 400 and r.json()["detail"] == Detail.CHAT_NOT_IN_TRASH


@pytest.mark.parametrize("chat_id", ["not-a-uuid", str(uuid.uuid4()), "trash", "x" * 5000],
                         ids=["garbage", "unknown", "trash", "long"])
def test_unknown_chats_are_404(client, people, chat_id):
    h = people.user.headers
    assert client.post(f"{API}/{chat_id}/restore", headers=h).status_code == 404
    assert client.delete(f"{API}/trash/{chat_id}", headers=h).status_code == 404


def test_no_one_else_reaches_a_trashed_chat(client, people, fresh):
    owner = fresh()
    chat = create(client, owner)
    position = delete(client, owner, chat["id"])
    restore, purge = f"{API}/{chat['id']}/restore", f"{API}/trash/{chat['id']}"
    client.cookies.clear()  # sign-ups leave a session cookie behind: anonymous has none
    for method, url in (("POST", restore), ("DELETE", purge), ("GET", f"{API}/trash")):
        assert client.request(method, url).status_code == 401
        assert client.request(method, url, headers=people.pending.headers).status_code == 401
    for caller in (people.other, people.user):
        assert client.post(restore, headers=caller.headers).status_code == 404
        assert client.delete(purge, headers=caller.headers).status_code == 404
        assert chat["id"] not in trash_ids(client, caller, after=position)
    assert client.get(f"{API}/trash/all", headers=people.other.headers).status_code == 401
    assert trash_ids(client, owner) == [chat["id"]]  # untouched by the attempts


def test_admin_lists_and_restores_anyones_trash(client, people, fresh):
    owner = fresh()
    chat = create(client, owner)
    position = delete(client, owner, chat["id"])
    admin = people.admin
    assert chat["id"] in trash_ids(client, admin, "/trash/all", after=position)
    assert chat["id"] not in trash_ids(client, admin, after=position)  # the admin's own
    r = client.post(f"{API}/{chat['id']}/restore", headers=admin.headers)
    assert r.status_code == 200 and r.json()["user_id"] == owner.id
    after = {**owner.headers, "X-Chronicle-Min-Position": r.headers["X-Chronicle-Position"]}
    assert chat["id"] in ids(client.get(f"{API}/", headers=after))
    delete(client, owner, chat["id"])
    r = client.delete(f"{API}/trash/{chat['id']}", headers=admin.headers)
    assert r.status_code == 200 and r.json() is True
    assert trash_ids(client, owner, after=r.headers["X-Chronicle-Position"]) == []
    assert client.post(f"{API}/{chat['id']}/restore", headers=owner.headers).status_code == 404


def test_a_chat_whose_folder_went_is_restored_to_the_chat_list(client, fresh):
    owner = fresh()
    folder = client.post("/api/v1/folders/", json={"name": "gone"}, headers=owner.headers).json()
    chat = create(client, owner, folder_id=folder["id"])
    r = client.delete(f"/api/v1/folders/{folder['id']}", params={"delete_contents": "true"},
                      headers=owner.headers)
    assert r.status_code == 200, r.text
    assert trash_ids(client, owner) == [chat["id"]]
    restored = client.post(f"{API}/{chat['id']}/restore", headers=owner.headers).json()
    assert restored["folder_id"] is None
    assert chat["id"] in ids(client.get(f"{API}/", headers=owner.headers))


def test_delete_all_fills_the_trash_a_page_at_a_time(client, fresh):
    owner = fresh()
    made = [create(client, owner)["id"] for _ in range(3)]
    r = client.delete(f"{API}/", headers=owner.headers)  # delete all: every chat to the trash
    assert r.status_code == 200
    assert sorted(trash_ids(client, owner)) == sorted(made)
    assert trash_ids(client, owner, "/trash?page=2") == []
    assert client.get(f"{API}/trash?page=0", headers=owner.headers).status_code == 422


# -- purge ------------------------------------------------------------------------------------
def test_purge_removes_every_row_and_restore_is_then_404(client, container, fresh, word):
    owner = fresh()
    chat = create(client, owner, word, word, tags=[word])
    delete(client, owner, chat["id"])
    caught_up(container)
    assert rows_of(container, chat["id"]) == {"chat_list": 1, "chat_tags": 1, "chat_text": 2}
    r = client.delete(f"{API}/trash/{chat['id']}", headers=owner.headers)
    assert r.status_code == 200 and r.json() is True
    assert trash_ids(client, owner) == []
    assert rows_of(container, chat["id"]) == {"chat_list": 0, "chat_tags": 0, "chat_text": 0}
    assert client.post(f"{API}/{chat['id']}/restore", headers=owner.headers).status_code == 404
    assert client.delete(f"{API}/trash/{chat['id']}", headers=owner.headers).status_code == 404
    assert not any(visible(client, owner, chat["id"], word, word).values())


def test_the_window_ends_restores_and_retention_purges(client, container, fresh, monkeypatch):
    owner = fresh()
    chat = create(client, owner)
    delete(client, owner, chat["id"])
    caught_up(container)
    deleted_at = load(container, chat["id"]).deleted_at
    policy = container.retention

    policy.run(now=deleted_at + WINDOW - 1)  # still inside the window
    assert not load(container, chat["id"]).purged
    monkeypatch.setattr(container.chats, "clock", lambda: deleted_at + WINDOW)
    assert client.post(f"{API}/{chat['id']}/restore", headers=owner.headers).status_code == 404
    assert trash_ids(client, owner) == []  # past the window: no longer offered

    report = policy.run(now=deleted_at + WINDOW)
    assert report.purged >= 1
    caught_up(container)
    assert rows_of(container, chat["id"]) == {"chat_list": 0, "chat_tags": 0, "chat_text": 0}
    assert load(container, chat["id"]).purged
    monkeypatch.undo()
    assert client.post(f"{API}/{chat['id']}/restore", headers=owner.headers).status_code == 404
    assert policy.run(now=deleted_at + WINDOW).purged == 0  # a second run changes nothing


# -- the retention policy ---------------------------------------------------------------------
def test_retention_trashes_old_chats_and_not_recent_ones(client, container, fresh):
    owner = fresh()
    long_ago = int(time.time()) - 100 * DAY
    old = client.post(f"{API}/import", headers=owner.headers, json={"chats": [
        {"chat": chat_doc("old"), "created_at": long_ago, "updated_at": long_ago}]}).json()[0]
    recent = create(client, owner)
    caught_up(container)
    policy = RetentionPolicy(container.store, container.runner, ChatsQueries(container.read_db),
                             chat_days=90, trash_days=30)

    report = policy.run(now=time.time())
    assert report.trashed >= 1
    caught_up(container)
    assert trash_ids(client, owner) == [old["id"]]
    assert ids(client.get(f"{API}/", headers=owner.headers)) == [recent["id"]]
    stored = container.store.app.recorder.select_events(uuid.UUID(old["id"]), desc=True, limit=1)
    assert stored[0].topic.endswith("Chat.Deleted")
    header = read_header(stored[0].state)
    assert header["a"] is None and header["c"].startswith("retention-")  # the policy acted
    assert policy.run(now=time.time()).trashed == 0  # idempotent
    # A restore counts as an update: the next run leaves the chat alone.
    assert client.post(f"{API}/{old['id']}/restore", headers=owner.headers).status_code == 200
    caught_up(container)
    assert policy.run(now=time.time()).trashed == 0
    assert old["id"] in ids(client.get(f"{API}/", headers=owner.headers))


def test_retention_off_trashes_nothing(container):
    policy = RetentionPolicy(container.store, container.runner, ChatsQueries(container.read_db),
                             chat_days=0, trash_days=30)
    assert policy.run(now=time.time() + 10_000 * DAY).trashed == 0


def test_the_schedule_runs_the_retention_job(client, container, fresh, monkeypatch):
    owner = fresh()
    chat = create(client, owner)
    delete(client, owner, chat["id"])
    caught_up(container)
    # The job runs the container's policy: here one whose trash window has already passed.
    monkeypatch.setattr(container, "retention", RetentionPolicy(
        container.store, container.runner, ChatsQueries(container.read_db), trash_days=0))
    schedule = Schedule(container.jobs, "retention", 0.05)
    schedule.start()
    try:
        deadline = time.monotonic() + 10
        while not load(container, chat["id"]).purged and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        schedule.stop()
    assert load(container, chat["id"]).purged


# -- rebuild and operators --------------------------------------------------------------------
def test_rebuild_equals_live_with_trashed_restored_and_purged_chats(client, container, fresh):
    owner = fresh()
    trashed, restored, purged = (create(client, owner, "t", "body", tags=["x"])["id"]
                                 for _ in range(3))
    for chat_id in (trashed, restored, purged):
        delete(client, owner, chat_id)
    client.post(f"{API}/{restored}/restore", headers=owner.headers)
    client.delete(f"{API}/trash/{purged}", headers=owner.headers)
    caught_up(container)
    before = dump(container.read_db)
    for projector in (ChatsProjector, FoldersProjector):
        rebuild(projector, container.read_db, container.reader)
    assert dump(container.read_db) == before
    assert trash_ids(client, owner) == [trashed]


def cli_env(container: Any, **extra: str) -> dict[str, str]:
    s = container.settings
    env = {"DATA_DIR": str(s.DATA_DIR), "WEBUI_SECRET_KEY": s.WEBUI_SECRET_KEY,
           "DATABASE_URL": s.DATABASE_URL, "REDIS_URL": s.REDIS_URL,
           "REDIS_KEY_PREFIX": s.REDIS_KEY_PREFIX, "LOG_LEVEL": "ERROR", **extra}
    return {**os.environ, **env}


def test_cli_retention_purges_once_and_exits_zero(client, container, fresh):
    owner = fresh()
    chat = create(client, owner)
    delete(client, owner, chat["id"])
    caught_up(container)
    result = subprocess.run([CHRONICLE, "retention"], capture_output=True, text=True,
                            timeout=120, env=cli_env(container, CHAT_TRASH_RETENTION_DAYS="0"))
    assert result.returncode == 0, result.stderr
    assert "purged" in result.stdout
    caught_up(container)
    assert rows_of(container, chat["id"])["chat_list"] == 0
    assert client.post(f"{API}/{chat['id']}/restore", headers=owner.headers).status_code == 404


def test_cli_retention_fails_loudly(backend, container, tmp_path):
    # No read model to nominate chats from yet (a fresh embedded data directory).
    fresh_dir = cli_env(container, DATA_DIR=str(tmp_path), DATABASE_URL="", REDIS_URL="")
    cases = [(fresh_dir, "not built yet")]
    if backend == "postgres":  # a database that cannot be reached
        url = container.settings.DATABASE_URL.rsplit("/", 1)[0] + "/chronicle_no_such_database"
        cases.append((cli_env(container, DATABASE_URL=url), "cannot start"))
    for env, reason in cases:
        result = subprocess.run([CHRONICLE, "retention"], capture_output=True, text=True,
                                timeout=120, env=env)
        assert result.returncode == 1 and "retention failed" in result.stderr
        assert reason in result.stderr
