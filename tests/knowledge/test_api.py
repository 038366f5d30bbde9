"""/api/v1/knowledge: knowledge bases, their access control and their files (and vectors)."""

from __future__ import annotations

from typing import Any

from application.messages import Detail
from tests.files.stack import Stack, allow_knowledge
from tests.helpers import Caller

API = "/api/v1/knowledge"


def create(world: Stack, caller: Caller, name: str = "KB", expect: int = 200,
           **form: Any) -> Any:
    r = world.client.post(f"{API}/create", json={"name": name, "description": "about " + name,
                                                 **form}, headers=caller.headers)
    assert r.status_code == expect, r.text
    return r.json()


def add(world: Stack, caller: Caller, kb: str, file_id: str, expect: int = 200) -> Any:
    r = world.client.post(f"{API}/{kb}/file/add", json={"file_id": file_id},
                          headers=caller.headers)
    assert r.status_code == expect, r.text
    return r.json()


def test_create_needs_the_permission(world: Stack) -> None:
    admin = world.people.admin
    allow_knowledge(world, False)
    try:
        r = world.client.post(f"{API}/create", json={"name": "x", "description": ""},
                              headers=world.people.user.headers)
        assert r.status_code == 401 and r.json()["detail"] == Detail.UNAUTHORIZED
        body = create(world, admin, "Admin's")
    finally:
        allow_knowledge(world, True)
    assert body["user_id"] == admin.id and body["files"] == [] and body["access_control"] == {}
    for who in ("anonymous", "pending"):
        r = world.client.post(f"{API}/create", json={"name": "x", "description": ""},
                              headers=world.headers(who))
        assert r.status_code == 401


def test_list_and_get_follow_access_control(world: Stack) -> None:
    owner, reader, stranger, admin = (world.fresh("Owner"), world.fresh("Reader"),
                                      world.fresh("Stranger"), world.people.admin)
    private = create(world, owner, "Private")
    shared = create(world, owner, "Shared",
                    access_control={"read": {"user_ids": [reader.id], "group_ids": []}})
    public = create(world, admin, "Public", access_control=None)
    assert public["access_control"] is None
    assert public["access_grants"][0]["principal_id"] == "*"
    granted = create(world, owner, "Granted", access_grants=[
        {"principal_type": "user", "principal_id": reader.id, "permission": "write"}])
    assert granted["access_control"]["write"]["user_ids"] == [reader.id]

    def listed(caller: Caller) -> set[str]:
        r = world.client.get(f"{API}/", headers=world.caught_up(caller))
        assert r.status_code == 200
        return {k["id"] for k in r.json()}

    mine = {private["id"], shared["id"], granted["id"]}
    assert mine | {public["id"]} <= listed(owner)
    assert {shared["id"], granted["id"], public["id"]} <= listed(reader)
    assert private["id"] not in listed(reader)
    assert listed(stranger) & mine == set() and public["id"] in listed(stranger)
    assert mine | {public["id"]} <= listed(admin)
    items = {k["id"]: k for k in world.client.get(f"{API}/", headers=reader.headers).json()}
    assert items[shared["id"]]["write_access"] is False
    assert items[granted["id"]]["write_access"] is True
    assert items[shared["id"]]["user"]["id"] == owner.id

    def get(caller: Caller, kb: str) -> int:
        return int(world.client.get(f"{API}/{kb}", headers=world.caught_up(caller)).status_code)

    assert get(reader, shared["id"]) == 200 and get(stranger, shared["id"]) == 403
    assert get(reader, private["id"]) == 403 and get(admin, private["id"]) == 200
    assert get(stranger, "no-such-kb") == 404


def test_files_are_added_and_removed_with_their_vectors(world: Stack) -> None:
    owner = world.fresh("Librarian")
    kb = create(world, owner, "Animals")["id"]
    owls = world.processed(owner, "owls.txt", "Owls hunt mice silently at night.")
    whales = world.processed(owner, "whales.txt", "Blue whales sing across the oceans.")
    body = add(world, owner, kb, owls)
    assert [f["id"] for f in body["files"]] == [owls] and body["write_access"] is True
    assert body["files"][0]["meta"]["name"] == "owls.txt" and body["files"][0]["hash"]
    add(world, owner, kb, whales)
    got = world.client.get(f"{API}/{kb}", headers=owner.headers).json()
    assert [f["id"] for f in got["files"]] == [owls, whales]

    retrieval, mirror = world.container.retrieval, world.container.retrieval.index
    hits = retrieval.query([kb], "singing sea mammals", 2)
    assert hits[0].file_id == whales and hits[0].collection == kb
    assert mirror.count(kb) == 2

    r = world.client.post(f"{API}/{kb}/file/remove", json={"file_id": whales},
                          params={"delete_file": "false"}, headers=owner.headers)
    assert r.status_code == 200 and [f["id"] for f in r.json()["files"]] == [owls]
    assert [h.file_id for h in retrieval.query([kb], "singing sea mammals", 5)] == [owls]
    assert mirror.count(kb) == 1
    assert retrieval.query([f"file-{whales}"], "singing sea mammals", 1)[0].file_id == whales
    assert world.client.get(f"/api/v1/files/{whales}", headers=owner.headers).status_code == 200

    r = world.client.post(f"{API}/{kb}/file/remove", json={"file_id": owls},
                          headers=owner.headers)  # delete_file defaults to true
    assert r.status_code == 200 and r.json()["files"] == []
    assert world.client.get(f"/api/v1/files/{owls}",
                            headers=world.caught_up(owner)).status_code == 404
    assert retrieval.query([kb], "owls", 5) == [] and mirror.count(kb) == 0


def test_deleting_a_file_removes_it_from_every_knowledge_base(world: Stack) -> None:
    owner = world.fresh("Curator")
    kb1, kb2 = create(world, owner, "One")["id"], create(world, owner, "Two")["id"]
    file_id = world.processed(owner, "comets.txt", "Comets grow tails near the sun.")
    keep = world.processed(owner, "moons.txt", "Moons orbit planets.")
    for kb in (kb1, kb2):
        add(world, owner, kb, file_id)
        add(world, owner, kb, keep)
    assert world.client.delete(f"/api/v1/files/{file_id}", headers=owner.headers).status_code == 200
    for kb in (kb1, kb2):
        got = world.client.get(f"{API}/{kb}", headers=owner.headers).json()
        assert [f["id"] for f in got["files"]] == [keep]
        hits = world.container.retrieval.query([kb], "comet tails", 5)
        assert [h.file_id for h in hits] == [keep]
    aggregate = world.container.knowledge._load(kb1)
    assert aggregate.file_ids == [keep]


def test_add_file_rules(world: Stack) -> None:
    owner, other = world.fresh("Adder"), world.fresh("Other")
    kb = create(world, owner, "Rules")["id"]
    theirs = world.processed(other, "theirs.txt", "Someone else's notes.")
    add(world, owner, kb, theirs, expect=400)  # not the owner's file: never shared this way
    add(world, owner, kb, "no-such-file", expect=400)
    raw = world.upload(owner, "raw.txt", "never processed", process="false")["id"]
    r = world.client.post(f"{API}/{kb}/file/add", json={"file_id": raw}, headers=owner.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.FILE_NOT_PROCESSED
    broken = world.upload(owner, "broken.pdf", b"%PDF-1.4 no", "application/pdf")["id"]
    assert world.wait_status(owner, broken)["status"] == "failed"
    add(world, owner, kb, broken, expect=400)
    first = world.processed(owner, "a.txt", "Exactly the same words.")
    twin = world.processed(owner, "b.txt", "Exactly the same words.")
    add(world, owner, kb, first)
    r = world.client.post(f"{API}/{kb}/file/add", json={"file_id": first}, headers=owner.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.DUPLICATE_CONTENT
    r = world.client.post(f"{API}/{kb}/file/add", json={"file_id": twin}, headers=owner.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.DUPLICATE_CONTENT
    pending = world.upload(owner, "later.txt", "Added while still processing.")["id"]
    add(world, owner, kb, pending)  # a pending file may join; its vectors follow
    assert world.wait_status(owner, pending)["status"] == "completed"
    assert world.container.retrieval.query([kb], "still processing", 1)[0].file_id == pending


def test_sharing_gives_read_access_to_files_but_never_write(world: Stack) -> None:
    owner, reader, stranger = world.fresh("Sharer"), world.fresh("Viewer"), world.fresh("Out")
    kb = create(world, owner, "Shared docs",
                access_control={"read": {"user_ids": [reader.id], "group_ids": []}})["id"]
    file_id = world.processed(owner, "shared.txt", "Shared knowledge about tides.")
    add(world, owner, kb, file_id)
    f = f"/api/v1/files/{file_id}"
    assert world.client.get(f, headers=world.caught_up(reader)).status_code == 200
    assert world.client.get(f + "/content", headers=reader.headers).status_code == 200
    assert world.client.get(f, headers=world.caught_up(stranger)).status_code == 404
    assert world.client.delete(f, headers=reader.headers).status_code == 404
    r = world.client.post(f + "/data/content/update", json={"content": "vandalised"},
                          headers=reader.headers)
    assert r.status_code == 404
    assert file_id not in [x["id"] for x in world.client.get("/api/v1/files/",
                                                             headers=reader.headers).json()]
    retrieval = world.container.retrieval
    reader_p = world.container.auth.authenticate(reader.token)
    stranger_p = world.container.auth.authenticate(stranger.token)
    assert retrieval.query([kb], "tides", 1, principal=reader_p)[0].file_id == file_id
    assert retrieval.query([f"file-{file_id}"], "tides", 1, principal=reader_p)
    for collection in (kb, f"file-{file_id}"):
        try:
            retrieval.query([collection], "tides", 1, principal=stranger_p)
        except Exception as error:
            assert getattr(error, "status", None) == 404
        else:
            raise AssertionError("a stranger searched a private collection")
    # readers cannot change the knowledge base
    mine = world.processed(reader, "mine.txt", "The reader's own file.")
    r = world.client.post(f"{API}/{kb}/file/add", json={"file_id": mine}, headers=reader.headers)
    assert r.status_code == 403
    r = world.client.post(f"{API}/{kb}/file/remove", json={"file_id": file_id},
                          headers=reader.headers)
    assert r.status_code == 403
    assert world.client.delete(f"{API}/{kb}/delete", headers=reader.headers).status_code == 403


def test_writers_cannot_delete_files_they_do_not_own(world: Stack) -> None:
    owner, writer = world.fresh("Boss"), world.fresh("Editor")
    kb = create(world, owner, "Team", access_control={
        "write": {"user_ids": [writer.id], "group_ids": []}})["id"]
    file_id = world.processed(owner, "boss.txt", "The boss's file.")
    add(world, owner, kb, file_id)
    r = world.client.post(f"{API}/{kb}/file/remove", json={"file_id": file_id},
                          headers=writer.headers)
    assert r.status_code == 200 and r.json()["files"] == []
    assert world.client.get(f"/api/v1/files/{file_id}",
                            headers=world.caught_up(owner)).status_code == 200
    mine = world.processed(writer, "editor.txt", "The editor's file.")
    assert [f["id"] for f in add(world, writer, kb, mine)["files"]] == [mine]


def test_delete_knowledge_base(world: Stack) -> None:
    owner, other = world.fresh("Destroyer"), world.fresh("Bystander")
    kb = create(world, owner, "Doomed")["id"]
    file_id = world.processed(owner, "survivor.txt", "Files outlive their knowledge base.")
    add(world, owner, kb, file_id)
    assert world.client.delete(f"{API}/{kb}/delete", headers=other.headers).status_code == 403
    assert world.client.delete(f"{API}/nope/delete", headers=owner.headers).status_code == 404
    r = world.client.delete(f"{API}/{kb}/delete", headers=owner.headers)
    assert r.status_code == 200 and r.json() is True
    assert world.client.get(f"{API}/{kb}", headers=owner.headers).status_code == 404
    assert kb not in [k["id"] for k in world.client.get(f"{API}/", headers=owner.headers).json()]
    assert world.client.get(f"/api/v1/files/{file_id}", headers=owner.headers).status_code == 200
    assert world.container.retrieval.query([kb], "outlive", 3) == []
    assert world.container.files.aggregate(file_id).knowledge_ids == []
    kb2 = create(world, owner, "Again")["id"]
    add(world, owner, kb2, file_id)  # the file can join another one


def test_who_may_call_each_route(world: Stack) -> None:
    owner = world.fresh("Matrix")
    kb = create(world, owner, "Matrix KB")["id"]
    file_id = world.processed(owner, "m.txt", "Matrix file.")
    people = {"anonymous": None, "pending": world.people.pending.headers,
              "owner": owner.headers, "other": world.people.other.headers,
              "admin": world.people.admin.headers}
    want = {"list": {"anonymous": 401, "pending": 401, "owner": 200, "other": 200, "admin": 200},
            "get": {"anonymous": 401, "pending": 401, "owner": 200, "other": 403, "admin": 200},
            "write": {"anonymous": 401, "pending": 401, "owner": 200, "other": 403,
                      "admin": 200}}
    for who, headers in people.items():
        assert world.client.get(f"{API}/", headers=headers).status_code == want["list"][who]
        assert world.client.get(f"{API}/{kb}", headers=headers).status_code == want["get"][who]
    for who in ("anonymous", "pending", "other", "admin", "owner"):  # denied first
        headers, expected = people[who], want["write"][who]
        r = world.client.post(f"{API}/{kb}/file/add", json={"file_id": file_id}, headers=headers)
        assert r.status_code == expected, (who, r.text)
        r = world.client.post(f"{API}/{kb}/file/remove", json={"file_id": file_id},
                              params={"delete_file": "false"}, headers=headers)
        assert r.status_code == expected, (who, r.text)
    for who in ("anonymous", "pending", "other"):
        assert world.client.delete(f"{API}/{kb}/delete",
                                   headers=people[who]).status_code == want["write"][who]
    assert world.client.delete(f"{API}/{kb}/delete", headers=people["admin"]).status_code == 200


def test_bad_input_is_4xx(world: Stack) -> None:
    user = world.fresh("Sloppy")
    h = user.headers
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": "x" * 2000},
                 {"name": "a\x00b", "description": ""}, {"name": "a", "description": 5},
                 {"name": "a", "access_control": {"read": {"user_ids": "nope"}}},
                 {"name": "a", "access_grants": [{"principal_type": "robot"}]}):
        r = world.client.post(f"{API}/create", json=body, headers=h)
        assert r.status_code == 422, body
    kb = create(world, user, "Fine")["id"]
    for body in ({}, {"file_id": ""}, {"file_id": 5}, {"file_id": "x" * 300}):
        assert world.client.post(f"{API}/{kb}/file/add", json=body, headers=h).status_code == 422
    for bad in ("nope", "%00", "x" * 2000):
        assert world.client.get(f"{API}/{bad}", headers=h).status_code == 404
        assert world.client.delete(f"{API}/{bad}/delete", headers=h).status_code == 404
        assert world.client.post(f"{API}/{bad}/file/add", json={"file_id": "f"},
                                 headers=h).status_code == 404
    assert world.client.get(f"{API}/", params={"page": 0}, headers=h).status_code == 422
    assert world.client.get(f"{API}/", params={"page": "x"}, headers=h).status_code == 422
