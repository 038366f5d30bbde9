"""Notes as the web app uses them: shapes, lists, search, pins, merges, rebuild and erasure."""

from __future__ import annotations

import time
from typing import Any

from projections.notes import NotesProjector
from projections.runtime import rebuild
from tests.helpers import set_role, signup
from tests.notes.helpers import API, create, ids, seen, share


def get(client: Any, caller: Any, path: str, **params: Any) -> Any:
    r = client.get(API + path, params=params, headers=seen(client, caller))
    assert r.status_code == 200, r.text
    return r.json()


def test_create_and_get_in_the_reference_shapes(client, people):
    before = time.time_ns()
    made = create(client, people.user, "Shapes", "# Heading\n\ntext", meta={"tags": ["a"]})
    assert set(made) >= {"id", "user_id", "title", "data", "meta", "is_pinned", "access_grants",
                         "created_at", "updated_at"}
    assert made["user_id"] == people.user.id and made["access_grants"] == []
    assert made["created_at"] >= before - 10**9 and made["created_at"] > 10**18  # nanoseconds
    got = get(client, people.user, f"/{made['id']}")
    assert got["data"]["content"]["md"] == "# Heading\n\ntext"
    assert got["write_access"] is True and got["is_pinned"] is False


def test_the_list_shows_previews_newest_change_first(client, fresh):
    me = fresh("Lister")
    first = create(client, me, "First", "x" * 1500)["id"]
    second = create(client, me, "Second")["id"]
    rows = get(client, me, "/")
    assert ids(rows) == [second, first]
    assert rows[1]["data"] == {"content": {"md": "x" * 1000}}  # the reference truncates
    assert rows[0]["user"] == {"id": me.id, "name": "Lister", "email": me.email, "role": "user"}
    r = client.post(f"{API}/{first}/update", json={"data": {"content": {"md": "edited"}}},
                    headers=me.headers)
    assert r.json()["data"]["content"] == {"md": "edited"}
    assert ids(get(client, me, "/")) == [first, second]
    assert ids(get(client, me, "/", page=1)) == [first, second]
    assert get(client, me, "/", page=2) == []


def test_updates_merge_data_and_meta(client, people):
    note_id = create(client, people.user, meta={"a": 1},
                     data={"content": {"md": "m"}, "files": [{"id": "f"}]})["id"]
    r = client.post(f"{API}/{note_id}/update", headers=people.user.headers,
                    json={"title": "T2", "data": {"content": {"md": 7}}, "meta": {"b": 2}})
    body = r.json()
    assert body["title"] == "T2" and body["meta"] == {"a": 1, "b": 2}
    assert body["data"] == {"content": {"md": "7"}, "files": [{"id": "f"}]}  # md made text
    position = r.headers["X-Chronicle-Position"]
    again = client.post(f"{API}/{note_id}/update", headers=people.user.headers,
                        json={"title": "T2"})
    assert again.status_code == 200 and again.headers.get("X-Chronicle-Position") in (None, "0",
                                                                                      position)


def test_search_words_views_permissions_and_order(client, people, fresh, permissions):
    permissions(sharing={"notes": True})
    me, friend = fresh("Searcher"), fresh("Friend")
    mine = create(client, me, "Shopping list", "buy milk and to-do items")["id"]
    other_mine = create(client, me, "Alpha notes", "nothing")["id"]
    read_only = create(client, friend, "Friend's todo", "shared read")["id"]
    writable = create(client, friend, "Zed", "shared write todo")["id"]
    share(client, friend, read_only, read=(me.id,))
    share(client, friend, writable, write=(me.id,))

    def found(**params: Any) -> list[str]:
        body = get(client, me, "/search", **params)
        assert body["total"] == len(body["items"])
        return ids(body["items"])

    assert set(found(query="todo")) == {mine, writable}  # default: what I may write
    assert set(found(query="todo", permission="read")) == {mine, read_only, writable}
    assert found(query="todo", permission="read_only") == [read_only]
    assert found(query="milk  buy") == [mine]  # every word, anywhere
    assert found(query="shoppinglist") == [mine]  # spaces and hyphens do not count
    assert found(query="zzz") == []
    assert set(found(view_option="created")) == {mine, other_mine}
    assert found(view_option="shared", permission="read", order_by="name",
                 direction="asc") == [read_only, writable]
    assert found(view_option="created", order_by="name", direction="asc") == [other_mine, mine]
    item = get(client, me, "/search", query="milk")["items"][0]
    assert item["user"]["id"] == me.id and item["access_grants"] == []
    assert item["data"] == {"content": {"md": "buy milk and to-do items"}}
    admin_sees = ids(get(client, people.admin, "/search", query="todo")["items"])
    assert {mine, read_only, writable} <= set(admin_sees)  # admins search every note
    assert read_only not in ids(get(client, people.admin, "/"))  # but list only their own


def test_pins_are_per_user_and_follow_access(client, people, fresh):
    owner, guest = fresh("Pinner"), fresh("Guest")
    note_id = create(client, owner, "Pin me")["id"]
    later = create(client, owner, "Later")["id"]
    share(client, people.admin, note_id, read=(guest.id,))
    assert client.post(f"{API}/{note_id}/pin", headers=guest.headers).json()["is_pinned"] is True
    assert client.post(f"{API}/{later}/pin", headers=owner.headers).json()["is_pinned"] is True
    client.post(f"{API}/{note_id}/pin", headers=owner.headers)
    assert ids(get(client, owner, "/pinned")) == [note_id, later]  # last pinned first
    assert ids(get(client, guest, "/pinned")) == [note_id]
    assert all(r["is_pinned"] for r in get(client, guest, "/pinned"))
    flags = {r["id"]: r["is_pinned"] for r in get(client, owner, "/")}
    assert flags == {note_id: True, later: True}
    assert get(client, guest, f"/{note_id}")["is_pinned"] is True
    # unpin toggles; losing access hides a pin; deleting removes the note from every list
    assert client.post(f"{API}/{later}/pin", headers=owner.headers).json()["is_pinned"] is False
    share(client, people.admin, note_id)
    assert get(client, guest, "/pinned") == []
    client.delete(f"{API}/{note_id}/delete", headers=owner.headers)
    assert get(client, owner, "/pinned") == []
    assert ids(get(client, owner, "/")) == [later]


def test_access_update_answers_the_grants(client, people, fresh):
    owner, friend = fresh("Sharer"), fresh("Friend")
    note_id = create(client, owner)["id"]
    body = share(client, people.admin, note_id, read=(friend.id,), write=(friend.id,))
    assert {(g["principal_id"], g["permission"]) for g in body["access_grants"]} == \
        {(friend.id, "read"), (friend.id, "write")}
    assert all(g["resource_type"] == "note" and g["resource_id"] == note_id
               for g in body["access_grants"])
    assert get(client, friend, f"/{note_id}")["write_access"] is True
    assert ids(get(client, friend, "/")) == [note_id]


def test_rebuild_equals_live(client, container, people, fresh):
    me = fresh("Rebuilt")
    a = create(client, me, "Rebuild A", "one")["id"]
    b = create(client, me, "Rebuild B", "two")["id"]
    share(client, people.admin, b, read=(people.other.id,))
    client.post(f"{API}/{a}/pin", headers=me.headers)
    client.post(f"{API}/{b}/update", json={"data": {"content": {"md": "three"}}},
                headers=me.headers)
    views = [(me, "/"), (me, "/pinned"), (me, "/search"), (people.other, "/"),
             (people.admin, "/search")]
    before = [get(client, who, path) for who, path in views]
    rebuild(NotesProjector, container.read_db, container.reader)
    assert [get(client, who, path) for who, path in views] == before


def test_erasure_deletes_the_users_notes_and_pins(client, people):
    victim = set_role(client, people.admin, signup(client, "Victim"), "user")
    theirs = create(client, victim, "Victim's secret", "private words")["id"]
    mine = create(client, people.user, "Shared with the victim")["id"]
    share(client, people.admin, mine, read=(victim.id,))
    client.post(f"{API}/{mine}/pin", headers=victim.headers)
    r = client.delete(f"/api/v1/users/{victim.id}/erase", headers=people.admin.headers)
    assert r.status_code == 200, r.text
    everything = ids(get(client, people.admin, "/search", permission="read")["items"])
    assert theirs not in everything and mine in everything
    assert client.get(f"{API}/{theirs}", headers=people.admin.headers).status_code == 404
    container = client.app.state.container
    rows = container.read_db.query("SELECT id FROM note_pins WHERE user_id = ?", (victim.id,))
    assert rows == []
    rebuild(NotesProjector, container.read_db, container.reader)
    assert theirs not in ids(get(client, people.admin, "/search")["items"])
    assert container.read_db.query("SELECT id FROM note_pins WHERE user_id = ?",
                                   (victim.id,)) == []


def test_a_long_edited_note_loads_from_a_snapshot(client, container, people):
    from uuid import UUID

    note_id = create(client, people.user, "Snap")["id"]
    for i in range(55):
        r = client.post(f"{API}/{note_id}/update", json={"data": {"content": {"md": f"v{i}"}}},
                        headers=people.user.headers)
        assert r.status_code == 200, r.text
    assert list(container.store.app.snapshots.get(UUID(note_id)))  # taken at version 50
    container.store.forget_cached()
    assert get(client, people.user, f"/{note_id}")["data"]["content"]["md"] == "v54"
