"""The chats API end to end, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import json
import uuid

from tests.chats.helpers import API, chat_doc, create, ids, with_message


# ---- one chat -----------------------------------------------------------------------------
def test_create_get_and_update_merge_like_the_reference(client, fresh):
    alice = fresh()
    created = create(client, alice, "First", "hi", "hello", tags=["Work"])
    assert created["user_id"] == alice.id and created["title"] == "First"
    assert created["meta"] == {"tags": ["work"]} and created["current_message_id"] == "m1"
    assert created["chat"]["history"]["messages"]["m0"]["childrenIds"] == ["m1"]
    cid = created["id"]

    stale = client.get(f"{API}/{cid}", headers=alice.headers).json()["chat"]
    tab_a = with_message(json.loads(json.dumps(stale)), "from tab A", "a")
    r = client.post(f"{API}/{cid}", json={"chat": tab_a}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["current_message_id"] == "a"
    # A stale writer (tab B never saw "a") must not drop it.
    tab_b = with_message(stale, "from tab B", "b")
    r = client.post(f"{API}/{cid}", json={"chat": {**tab_b, "title": "Renamed"}},
                    headers=alice.headers)
    body = r.json()
    assert set(body["chat"]["history"]["messages"]) == {"m0", "m1", "a", "b"}
    assert body["chat"]["history"]["messages"]["m1"]["childrenIds"] == ["a", "b"]
    assert body["title"] == "Renamed" and body["current_message_id"] == "b"
    assert body["updated_at"] >= created["updated_at"]


def test_shallow_merge_keeps_absent_keys(client, fresh):
    alice = fresh()
    cid = create(client, alice)["id"]
    r = client.post(f"{API}/{cid}", json={"chat": {"params": {"temperature": 0.1}}},
                    headers=alice.headers)
    chat = r.json()["chat"]
    assert chat["params"] == {"temperature": 0.1} and chat["models"] == ["llama3"]
    assert chat["history"]["messages"]["m0"]["content"] == "hello"


def test_update_message_and_message_event(client, fresh):
    alice = fresh()
    cid = create(client, alice, "T", "q", "a")["id"]
    r = client.post(f"{API}/{cid}/messages/m1", json={"content": "edited"},
                    headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["chat"]["history"]["messages"]["m1"]["content"] == "edited"
    r = client.post(f"{API}/{cid}/messages/new1", json={"content": "fresh"}, headers=alice.headers)
    assert r.json()["chat"]["history"]["messages"]["new1"]["role"] == "assistant"
    r = client.post(f"{API}/{cid}/messages/m1/event",
                    json={"type": "chat:message:delta", "data": {"content": " more"}},
                    headers=alice.headers)
    assert r.status_code == 200 and r.json() is True
    chat = client.get(f"{API}/{cid}", headers=alice.headers).json()["chat"]
    assert chat["history"]["messages"]["m1"]["content"] == "edited more"
    # Recorded for the realtime feed even when it changes nothing.
    r = client.post(f"{API}/{cid}/messages/m1/event", json={"type": "typing", "data": {}},
                    headers=alice.headers)
    assert r.json() is True


def test_delete_removes_from_every_read_model(client, fresh):
    alice = fresh()
    chat = create(client, alice, "Doomed", "needleword", tags=["gone"])
    cid = chat["id"]
    client.post(f"{API}/{cid}/share", headers=alice.headers)
    assert client.delete(f"{API}/{cid}", headers=alice.headers).json() is True
    h = alice.headers
    assert client.get(f"{API}/{cid}", headers=h).status_code == 404
    assert cid not in ids(client.get(f"{API}/", params={"include_pinned": True}, headers=h))
    assert ids(client.get(f"{API}/search", params={"text": "needleword"}, headers=h)) == []
    assert client.get(f"{API}/all/tags", headers=h).json() == []
    assert client.get(f"{API}/all", headers=h).json() == []
    assert client.delete(f"{API}/{cid}", headers=h).status_code == 404
    assert client.post(f"{API}/{cid}/pin", headers=h).status_code == 404


def test_delete_all(client, fresh):
    alice = fresh()
    for n in range(3):
        create(client, alice, f"c{n}")
    assert client.delete(f"{API}/", headers=alice.headers).json() is True
    assert ids(client.get(f"{API}/list", headers=alice.headers)) == []


# ---- lists --------------------------------------------------------------------------------
def test_list_defaults_leave_out_pinned_archived_and_foldered(client, fresh):
    alice = fresh()
    h = alice.headers
    plain, pinned, archived, filed = (create(client, alice, t)["id"] for t in "abcd")
    client.post(f"{API}/{pinned}/pin", headers=h)
    client.post(f"{API}/{archived}/archive", headers=h)
    folder = client.post("/api/v1/folders/", json={"name": "F"}, headers=h).json()["id"]
    client.post(f"{API}/{filed}/folder", json={"folder_id": folder}, headers=h)
    assert ids(client.get(f"{API}/", headers=h)) == [plain]
    everything = ids(client.get(f"{API}/list", params={"include_pinned": True,
                                                       "include_folders": True}, headers=h))
    assert set(everything) == {plain, pinned, filed}
    assert ids(client.get(f"{API}/pinned", headers=h)) == [pinned]
    assert client.get(f"{API}/{pinned}/pinned", headers=h).json() is True
    assert ids(client.get(f"{API}/archived", headers=h)) == [archived]
    assert [c["id"] for c in client.get(f"{API}/all/archived", headers=h).json()] == [archived]
    assert [c["id"] for c in client.get(f"{API}/folder/{folder}", headers=h).json()] == [filed]


def test_pages_of_sixty_newest_first(client, fresh):
    alice = fresh()
    chats = [{"chat": chat_doc(f"chat {n:02}"), "created_at": 1000 + n, "updated_at": 1000 + n}
             for n in range(61)]
    assert client.post(f"{API}/import", json={"chats": chats}, headers=alice.headers).status_code \
        == 200
    first = client.get(f"{API}/", params={"page": 1}, headers=alice.headers).json()
    second = client.get(f"{API}/", params={"page": 2}, headers=alice.headers).json()
    assert len(first) == 60 and len(second) == 1
    assert first[0]["title"] == "chat 60" and second[0]["title"] == "chat 00"
    assert len(ids(client.get(f"{API}/", headers=alice.headers))) == 61  # no page: everything
    by_title = client.get(f"{API}/", params={"sort_by": "title", "sort_dir": "asc", "page": 1},
                          headers=alice.headers).json()
    assert by_title[0]["title"] == "chat 00"


def test_archived_list_query_order_and_bulk_archive(client, fresh):
    alice = fresh()
    h = alice.headers
    for title in ("Zeta talk", "alpha talk", "other"):
        create(client, alice, title)
    assert client.post(f"{API}/archive/all", headers=h).json() is True
    assert ids(client.get(f"{API}/", headers=h)) == []
    r = client.get(f"{API}/archived", params={"query": "TALK", "order_by": "title",
                                              "direction": "asc"}, headers=h)
    assert [c["title"] for c in r.json()] == ["alpha talk", "Zeta talk"]
    assert all(c["archived"] for c in r.json())
    assert client.post(f"{API}/unarchive/all", headers=h).json() is True
    assert len(ids(client.get(f"{API}/", headers=h))) == 3


def test_admin_lists_another_users_chats_and_all_db(client, fresh, people):
    alice = fresh()
    mine = create(client, alice, "hers")["id"]
    position = client.post(f"{API}/{mine}/archive", headers=alice.headers).headers[
        "X-Chronicle-Position"]
    # Another user's write: the admin asks to read at least up to it.
    admin = {**people.admin.headers, "X-Chronicle-Min-Position": position}
    r = client.get(f"{API}/list/user/{alice.id}", headers=admin)
    assert ids(r) == [mine] and r.json()[0]["archived"] is True
    everything = client.get(f"{API}/all/db", headers=admin).json()
    assert mine in {c["id"] for c in everything}


# ---- all / NDJSON -------------------------------------------------------------------------
def test_all_as_json_array_and_as_ndjson(client, fresh):
    alice = fresh()
    made = [create(client, alice, f"n{n}", f"body {n}")["id"] for n in range(3)]
    r = client.get(f"{API}/all", headers=alice.headers)
    assert r.headers["content-type"].startswith("application/json")
    array = r.json()
    assert sorted(c["id"] for c in array) == sorted(made)
    assert array[0]["chat"]["history"]["messages"]
    with client.stream("GET", f"{API}/all",
                       headers={**alice.headers, "Accept": "application/x-ndjson"}) as stream:
        assert stream.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in stream.iter_lines() if line]
    assert lines == array


def test_all_of_a_user_without_chats_is_an_empty_array(client, fresh):
    alice = fresh()
    assert client.get(f"{API}/all", headers=alice.headers).json() == []
    r = client.get(f"{API}/all", headers={**alice.headers, "Accept": "application/x-ndjson"})
    assert r.text == ""


# ---- pin, archive, share, clone -----------------------------------------------------------
def test_pin_and_archive_toggle(client, fresh):
    alice = fresh()
    cid = create(client, alice)["id"]
    assert client.post(f"{API}/{cid}/pin", headers=alice.headers).json()["pinned"] is True
    assert client.post(f"{API}/{cid}/pin", headers=alice.headers).json()["pinned"] is False
    assert client.post(f"{API}/{cid}/archive", headers=alice.headers).json()["archived"] is True
    assert client.post(f"{API}/{cid}/archive", headers=alice.headers).json()["archived"] is False


def test_share_is_readable_by_any_signed_in_user_as_it_was_shared(client, fresh):
    alice, bob = fresh(), fresh()

    def as_bob(after):  # bob reads at least up to alice's write
        return {**bob.headers, "X-Chronicle-Min-Position": after.headers["X-Chronicle-Position"]}

    cid = create(client, alice, "Shared", "one")["id"]
    shared = client.post(f"{API}/{cid}/share", headers=alice.headers)
    share_id = shared.json()["share_id"]
    assert share_id and share_id != cid
    client.post(f"{API}/{cid}", json={"chat": {"title": "Changed later"}}, headers=alice.headers)
    seen = client.get(f"{API}/share/{share_id}", headers=as_bob(shared)).json()
    assert seen["id"] == share_id and seen["title"] == "Shared" and seen["folder_id"] is None
    # Sharing again keeps the link and republishes the current state.
    again = client.post(f"{API}/{cid}/share", headers=alice.headers)
    assert again.json()["share_id"] == share_id
    r = client.get(f"{API}/share/{share_id}", headers=as_bob(again))
    assert r.json()["title"] == "Changed later"
    copy = client.post(f"{API}/{share_id}/clone/shared", headers=bob.headers).json()
    assert copy["user_id"] == bob.id and copy["title"] == "Clone of Changed later"
    assert copy["chat"]["originalChatId"] == cid and copy["chat"]["branchPointMessageId"] == "m0"
    unshared = client.delete(f"{API}/{cid}/share", headers=alice.headers)
    assert unshared.json() is True
    assert client.delete(f"{API}/{cid}/share", headers=alice.headers).json() is False
    assert client.get(f"{API}/share/{share_id}", headers=as_bob(unshared)).status_code == 404


def test_admin_reads_any_chat_but_changes_none(client, fresh, people):
    alice = fresh()
    cid = create(client, alice, "private")["id"]
    assert client.get(f"{API}/{cid}", headers=people.admin.headers).json()["title"] == "private"
    assert client.get(f"{API}/share/{cid}", headers=people.admin.headers).status_code == 200
    assert client.post(f"{API}/{cid}/pin", headers=people.admin.headers).status_code == 404
    assert client.delete(f"{API}/{cid}", headers=people.admin.headers).status_code == 404


def test_clone(client, fresh):
    alice = fresh()
    source = create(client, alice, "Orig", "a", "b", tags=["t1"])
    copy = client.post(f"{API}/{source['id']}/clone", json={}, headers=alice.headers).json()
    assert copy["title"] == "Clone of Orig" and copy["id"] != source["id"]
    assert copy["chat"]["originalChatId"] == source["id"]
    assert copy["chat"]["branchPointMessageId"] == "m1" and copy["meta"]["tags"] == ["t1"]
    named = client.post(f"{API}/{source['id']}/clone", json={"title": "Mine"},
                        headers=alice.headers).json()
    assert named["title"] == "Mine"


# ---- tags ---------------------------------------------------------------------------------
def test_tags_add_remove_list_and_filter(client, fresh):
    alice = fresh()
    h = alice.headers
    a, b = create(client, alice, "a")["id"], create(client, alice, "b")["id"]
    r = client.post(f"{API}/{a}/tags", json={"name": "Deep Work"}, headers=h)
    assert [t["id"] for t in r.json()] == ["deep_work"]
    client.post(f"{API}/{b}/tags", json={"name": "deep work"}, headers=h)
    client.post(f"{API}/{b}/tags", json={"name": "home"}, headers=h)
    assert [t["id"] for t in client.get(f"{API}/{b}/tags", headers=h).json()] == \
        ["deep_work", "home"]
    assert [t["id"] for t in client.get(f"{API}/all/tags", headers=h).json()] == \
        ["deep_work", "home"]
    assert set(ids(client.post(f"{API}/tags", json={"name": "Deep Work"}, headers=h))) == {a, b}
    limited = ids(client.post(f"{API}/tags", json={"name": "deep work", "limit": 1}, headers=h))
    assert len(limited) == 1 and limited[0] in {a, b}
    r = client.request("DELETE", f"{API}/{b}/tags", json={"name": "home"}, headers=h)
    assert [t["id"] for t in r.json()] == ["deep_work"]
    assert client.post(f"{API}/{a}/tags", json={"name": "None"}, headers=h).status_code == 400


# ---- import -------------------------------------------------------------------------------
def test_import_takes_ids_from_the_data_so_repeating_it_adds_nothing(client, fresh):
    alice, bob = fresh(), fresh()
    own_id = str(uuid.uuid4())
    batch = {"chats": [
        {"chat": chat_doc("with id", "x", id=own_id), "pinned": True, "created_at": 5,
         "updated_at": 6, "meta": {"tags": ["imported"]}},
        {"chat": chat_doc("no id", "y")},
    ]}
    first = client.post(f"{API}/import", json=batch, headers=alice.headers).json()
    assert first[0]["id"] == own_id and first[0]["pinned"] is True
    assert (first[0]["created_at"], first[0]["updated_at"]) == (5, 6)
    again = client.post(f"{API}/import", json=batch, headers=alice.headers).json()
    assert [c["id"] for c in again] == [c["id"] for c in first]
    everything = client.get(f"{API}/list", params={"include_pinned": True}, headers=alice.headers)
    assert len(ids(everything)) == 2
    # Someone else importing the same export gets chats of their own, once.
    theirs = client.post(f"{API}/import", json=batch, headers=bob.headers).json()
    assert own_id not in {c["id"] for c in theirs} and {c["user_id"] for c in theirs} == {bob.id}
    client.post(f"{API}/import", json=batch, headers=bob.headers)
    assert len(ids(client.get(f"{API}/list", params={"include_pinned": True},
                              headers=bob.headers))) == 2


def test_export_then_import_round_trip(client, fresh):
    alice, bob = fresh(), fresh()
    create(client, alice, "exported", "x", "y")
    exported = client.get(f"{API}/all", headers=alice.headers).json()
    forms = [{"chat": c["chat"], "meta": c["meta"], "pinned": c["pinned"],
              "created_at": c["created_at"], "updated_at": c["updated_at"]} for c in exported]
    imported = client.post(f"{API}/import", json={"chats": forms}, headers=bob.headers).json()
    assert imported[0]["chat"]["history"] == exported[0]["chat"]["history"]


# ---- search -------------------------------------------------------------------------------
def test_search_syntax_filters_and_exact_phrase_first(client, fresh):
    alice = fresh()
    h = alice.headers
    exact = create(client, alice, "notes", "we talked about red apples today")["id"]
    loose = create(client, alice, "apples", "something red")["id"]
    tagged = create(client, alice, "tagged red", "apples again", tags=["fruit"])["id"]
    archived = create(client, alice, "old", "red apples")["id"]
    client.post(f"{API}/{archived}/archive", headers=h)
    client.post(f"{API}/{loose}/pin", headers=h)
    # Newest first, but the exact phrase outranks recency.
    assert ids(client.get(f"{API}/search", params={"text": "red apples"}, headers=h))[0] == exact
    assert set(ids(client.get(f"{API}/search", params={"text": "RED app"}, headers=h))) == \
        {exact, loose, tagged}
    assert ids(client.get(f"{API}/search", params={"text": '"apples red"'}, headers=h)) == []
    assert ids(client.get(f"{API}/search", params={"text": "tag:fruit red"}, headers=h)) == \
        [tagged]
    assert ids(client.get(f"{API}/search", params={"text": "pinned:true"}, headers=h)) == [loose]
    assert ids(client.get(f"{API}/search", params={"text": "archived:true apples"},
                          headers=h)) == [archived]
    share = client.post(f"{API}/{tagged}/share", headers=h)
    assert share.status_code == 200
    assert ids(client.get(f"{API}/search", params={"text": "shared:true"}, headers=h)) == [tagged]
    assert ids(client.get(f"{API}/search", params={"text": "nothing-like-this"}, headers=h)) == []


def test_search_by_folder_and_snippet(client, fresh):
    alice = fresh()
    h = alice.headers
    long_text = "lorem " * 100 + "the hidden treasure is here " + "ipsum " * 100
    cid = create(client, alice, "story", "intro", long_text)["id"]
    other = create(client, alice, "treasure map", "no mention")["id"]
    folder = client.post("/api/v1/folders/", json={"name": "Deep Sea"}, headers=h).json()["id"]
    client.post(f"{API}/{cid}/folder", json={"folder_id": folder}, headers=h)
    results = client.get(f"{API}/search", params={"text": "hidden treasure"}, headers=h).json()
    assert [r["id"] for r in results] == [cid]
    snippet = results[0]["snippet"]
    assert "the hidden treasure is here" in snippet and len(snippet) <= 202
    title_hit = client.get(f"{API}/search", params={"text": "map"}, headers=h).json()
    assert [r["id"] for r in title_hit] == [other] and title_hit[0]["snippet"] is None
    assert ids(client.get(f"{API}/search", params={"text": "folder:deep_sea treasure"},
                          headers=h)) == [cid]
    assert ids(client.get(f"{API}/search", params={"text": "folder:nowhere"}, headers=h)) == []


def test_search_words_without_word_characters_match_substrings(client, fresh):
    alice = fresh()
    cid = create(client, alice, "punct", "what?! really")["id"]
    assert ids(client.get(f"{API}/search", params={"text": "?!"}, headers=alice.headers)) == [cid]


def test_search_pages(client, fresh):
    alice = fresh()
    chats = [{"chat": chat_doc(f"page {n}", "common word")} for n in range(61)]
    client.post(f"{API}/import", json={"chats": chats}, headers=alice.headers)
    h = alice.headers
    assert len(ids(client.get(f"{API}/search", params={"text": "common"}, headers=h))) == 60
    assert len(ids(client.get(f"{API}/search", params={"text": "common", "page": 2},
                              headers=h))) == 1


# ---- folders ------------------------------------------------------------------------------
def test_folders_create_list_rename_move_expand(client, fresh):
    alice = fresh()
    h = alice.headers
    top = client.post("/api/v1/folders/", json={"name": "Top"}, headers=h).json()
    child = client.post("/api/v1/folders/", json={"name": "Child", "parent_id": top["id"]},
                        headers=h).json()
    assert child["parent_id"] == top["id"]
    dup = client.post("/api/v1/folders/", json={"name": "top"}, headers=h)
    assert dup.status_code == 400 and dup.json()["detail"] == "[ERROR: Folder already exists]"
    r = client.post(f"/api/v1/folders/{top['id']}/update", json={"name": "Renamed",
                                                                   "meta": {"icon": "x"}},
                    headers=h)
    assert r.json()["name"] == "Renamed" and r.json()["meta"] == {"icon": "x"}
    cycle = client.post(f"/api/v1/folders/{top['id']}/update/parent",
                        json={"parent_id": child["id"]}, headers=h)
    assert cycle.status_code == 400
    moved = client.post(f"/api/v1/folders/{child['id']}/update/parent", json={"parent_id": None},
                        headers=h)
    assert moved.json()["parent_id"] is None
    r = client.post(f"/api/v1/folders/{child['id']}/update/expanded", json={"is_expanded": True},
                    headers=h)
    assert r.json()["is_expanded"] is True
    listed = client.get("/api/v1/folders/", headers=h).json()
    assert {(f["name"], f["parent_id"]) for f in listed} == {("Renamed", None), ("Child", None)}
    assert client.get(f"/api/v1/folders/{child['id']}", headers=h).json()["name"] == "Child"


def test_deleting_a_folder_deletes_or_releases_its_chats(client, fresh):
    alice = fresh()
    h = alice.headers
    keep = client.post("/api/v1/folders/", json={"name": "Keep"}, headers=h).json()["id"]
    sub = client.post("/api/v1/folders/", json={"name": "Sub", "parent_id": keep},
                      headers=h).json()["id"]
    drop = client.post("/api/v1/folders/", json={"name": "Drop"}, headers=h).json()["id"]
    in_sub = create(client, alice, "in sub", folder_id=sub)["id"]
    in_drop = create(client, alice, "in drop", folder_id=drop)["id"]
    assert [c["id"] for c in client.get(f"{API}/folder/{keep}", headers=h).json()] == [in_sub]
    r = client.delete(f"/api/v1/folders/{keep}", params={"delete_contents": False}, headers=h)
    assert r.json() is True
    assert ids(client.get(f"{API}/", headers=h)) == [in_sub]  # back in the chat list
    assert client.get(f"/api/v1/folders/{sub}", headers=h).status_code == 404
    client.delete(f"/api/v1/folders/{drop}", headers=h)
    assert client.get(f"{API}/{in_drop}", headers=h).status_code == 404
    assert [f["id"] for f in client.get("/api/v1/folders/", headers=h).json()] == []


def test_filing_an_archived_chat_unarchives_it(client, fresh):
    alice = fresh()
    h = alice.headers
    cid = create(client, alice)["id"]
    client.post(f"{API}/{cid}/archive", headers=h)
    folder = client.post("/api/v1/folders/", json={"name": "F"}, headers=h).json()["id"]
    body = client.post(f"{API}/{cid}/folder", json={"folder_id": folder}, headers=h).json()
    assert body["archived"] is False and body["folder_id"] == folder
    unfiled = client.post(f"{API}/{cid}/folder", json={"folder_id": None}, headers=h).json()
    assert unfiled["folder_id"] is None


# ---- deleting a user ----------------------------------------------------------------------
def test_deleting_a_user_removes_their_chats_everywhere(client, fresh, people):
    alice = fresh()
    cid = create(client, alice, "orphan", "unique-orphan-word")["id"]
    share_id = client.post(f"{API}/{cid}/share", headers=alice.headers).json()["share_id"]
    r = client.delete(f"/api/v1/users/{alice.id}", headers=people.admin.headers)
    assert r.json() is True
    admin = people.admin.headers
    assert ids(client.get(f"{API}/list/user/{alice.id}", headers=admin)) == []
    assert cid not in {c["id"] for c in client.get(f"{API}/all/db", headers=admin).json()}
    assert client.get(f"{API}/{cid}", headers=admin).status_code == 404
    bob = {**people.user.headers, "X-Chronicle-Min-Position": r.headers["X-Chronicle-Position"]}
    assert client.get(f"{API}/share/{share_id}", headers=bob).status_code == 404
