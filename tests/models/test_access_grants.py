"""Access grants on models, tools and knowledge, as Open WebUI 0.12.4's clients send them, on
SQLite and on PostgreSQL + Redis.

The defect this suite pins down: the 0.12.4 app sends `access_grants` (its "Private" is
`access_grants: null` or `[]`); an item created that way, or with no access control at all, was
stored as public, and any user could read the admin's private model or tool.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from application.messages import Detail
from tests.helpers import Caller
from tests.models.helpers import seen
from tests.tools.test_api import PLAIN

EVERYONE = {"principal_type": "user", "principal_id": "*", "permission": "read"}
SHARE_FORBIDDEN = "You do not have permission to share with the requested audience"


def _grant(kind: str, pid: str, permission: str = "read") -> dict[str, str]:
    return {"principal_type": kind, "principal_id": pid, "permission": permission}


class Resource:
    """One kind of workspace item: how the app creates, reads, updates and shares it."""

    def __init__(self, kind: str):
        self.kind = kind

    def create(self, client: Any, caller: Caller, **access: Any) -> dict[str, Any]:
        suffix = uuid.uuid4().hex[:10]
        if self.kind == "model":
            body = {"id": f"m-{suffix}", "name": "Private", "base_model_id": "llama3:8b",
                    "meta": {}, "params": {}}
            path = "/api/v1/models/create"
        elif self.kind == "tool":
            body = {"id": f"t_{suffix}", "name": "Ping", "content": PLAIN, "meta": {}}
            path = "/api/v1/tools/create"
        else:
            body = {"name": f"kb {suffix}", "description": "d"}
            path = "/api/v1/knowledge/create"
        r = client.post(path, json={**body, **access}, headers=caller.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, client: Any, caller: Caller, item_id: str) -> Any:
        path = {"model": f"/api/v1/models/model?id={item_id}",
                "tool": f"/api/v1/tools/id/{item_id}",
                "knowledge": f"/api/v1/knowledge/{item_id}"}[self.kind]
        return client.get(path, headers=seen(client, caller))

    def listed(self, client: Any, caller: Caller) -> list[str]:
        if self.kind == "model":
            r = client.get("/api/v1/models/list", headers=seen(client, caller))
            return [m["id"] for m in r.json()["data"]]
        path = {"tool": "/api/v1/tools/", "knowledge": "/api/v1/knowledge/"}[self.kind]
        return [item["id"] for item in client.get(path, headers=seen(client, caller)).json()]

    def share(self, client: Any, caller: Caller | None, item_id: str, grants: Any) -> Any:
        headers = None if caller is None else caller.headers
        if self.kind == "model":
            return client.post("/api/v1/models/model/access/update",
                               json={"id": item_id, "access_grants": grants}, headers=headers)
        path = {"tool": f"/api/v1/tools/id/{item_id}/access/update",
                "knowledge": f"/api/v1/knowledge/{item_id}/access/update"}[self.kind]
        return client.post(path, json={"access_grants": grants}, headers=headers)


KINDS = [Resource("model"), Resource("tool"), Resource("knowledge")]


@pytest.fixture(params=KINDS, ids=lambda r: r.kind)
def res(request: pytest.FixtureRequest) -> Resource:
    return request.param


# ---- the defect -----------------------------------------------------------------------------
@pytest.mark.parametrize("access", [{"access_grants": None}, {"access_grants": []}, {}],
                         ids=["null-grants", "empty-grants", "absent"])
def test_private_as_the_app_sends_it_is_private(client, people, fresh, res, access):
    """0.12.4 answers 401 here; Chronicle answered 200 (the item was stored as public)."""
    made = res.create(client, people.admin, **access)
    assert made["access_grants"] == [] and made["access_control"] == {}
    stranger = fresh("Stranger")
    assert res.get(client, stranger, made["id"]).status_code in (401, 403)
    assert made["id"] not in res.listed(client, stranger)
    assert res.get(client, people.admin, made["id"]).status_code == 200


def test_the_app_wins_over_a_seed_null_when_both_are_sent(client, people, fresh, res):
    made = res.create(client, people.admin, access_control=None, access_grants=None)
    assert made["access_grants"] == []
    assert res.get(client, fresh(), made["id"]).status_code in (401, 403)


# ---- both forms -----------------------------------------------------------------------------
def test_public_is_an_explicit_grant_to_everyone(client, people, fresh, res):
    made = res.create(client, people.admin, access_grants=[EVERYONE])
    assert [(g["principal_type"], g["principal_id"], g["permission"])
            for g in made["access_grants"]] == [("user", "*", "read")]
    assert made["access_control"] is None  # what a seed client calls public
    reader = fresh("Reader")
    got = res.get(client, reader, made["id"])
    assert got.status_code == 200 and got.json()["write_access"] is False
    assert made["id"] in res.listed(client, reader)


def test_seed_access_control_is_translated(client, people, fresh, res):
    reader = fresh("Reader")
    public = res.create(client, people.admin, access_control=None)
    private = res.create(client, people.admin, access_control={})
    shared = res.create(client, people.admin,
                        access_control={"read": {"user_ids": [reader.id], "group_ids": []}})
    assert public["access_grants"][0]["principal_id"] == "*"
    assert private["access_grants"] == []
    assert [(g["principal_type"], g["principal_id"], g["permission"])
            for g in shared["access_grants"]] == [("user", reader.id, "read")]
    assert {g["resource_type"] for g in shared["access_grants"]} == {res.kind}
    assert set(shared["access_grants"][0]) == {"id", "resource_type", "resource_id",
                                               "principal_type", "principal_id", "permission",
                                               "created_at"}
    visible = res.listed(client, reader)
    assert public["id"] in visible and shared["id"] in visible and private["id"] not in visible


def test_public_read_and_a_personal_write_grant_together(client, people, fresh, res):
    """Public used to swallow every other grant of the list."""
    editor = fresh("Editor")
    made = res.create(client, people.admin,
                      access_grants=[EVERYONE, _grant("user", editor.id, "write")])
    assert {(g["principal_id"], g["permission"]) for g in made["access_grants"]} == {
        ("*", "read"), (editor.id, "write")}
    assert res.get(client, editor, made["id"]).json()["write_access"] is True
    assert res.get(client, fresh(), made["id"]).json()["write_access"] is False


# ---- access/update --------------------------------------------------------------------------
def test_access_update_shares_and_unshares(client, people, fresh, res):
    reader = fresh("Reader")
    made = res.create(client, people.admin, access_grants=None)
    r = res.share(client, people.admin, made["id"], [_grant("user", reader.id)])
    assert r.status_code == 200, r.text
    assert [g["principal_id"] for g in r.json()["access_grants"]] == [reader.id]
    assert res.get(client, reader, made["id"]).status_code == 200
    assert made["id"] in res.listed(client, reader)
    r = res.share(client, people.admin, made["id"], [])
    assert r.status_code == 200 and r.json()["access_grants"] == []
    assert res.get(client, reader, made["id"]).status_code in (401, 403)
    assert made["id"] not in res.listed(client, reader)


def test_a_grantee_edit_keeps_the_grants(client, people, fresh):
    """The app sends the item's grants back with every edit; only access/update changes them.
    A write grantee without sharing permissions must not strip what the admin shared."""
    editor, reader = fresh("Editor"), fresh("Reader")
    grants = [_grant("user", editor.id, "write"), _grant("user", reader.id)]
    made = KINDS[0].create(client, people.admin, access_grants=grants)
    body = {"id": made["id"], "name": "Renamed", "base_model_id": "llama3:8b", "meta": {},
            "params": {}, "access_grants": [_grant("user", editor.id, "write")]}
    r = client.post("/api/v1/models/model/update", json=body, headers=editor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed"
    assert {g["principal_id"] for g in r.json()["access_grants"]} == {editor.id, reader.id}


def test_who_may_change_grants(client, people, fresh, res, permissions):
    owner, stranger, reader = fresh("Owner"), fresh("Stranger"), fresh("Reader")
    permissions(workspace={"models": True, "tools": True, "knowledge": True})
    made = res.create(client, owner, access_grants=None)
    # no sharing permission: refused whole, nothing written
    r = res.share(client, owner, made["id"], [_grant("user", reader.id)])
    assert r.status_code == 403 and r.json()["detail"] == SHARE_FORBIDDEN
    assert res.get(client, reader, made["id"]).status_code in (401, 403)
    r = res.share(client, stranger, made["id"], [])
    assert r.status_code in (400, 401, 403)
    client.cookies.clear()  # sign-ups leave the last one's cookie: anonymous means none
    assert res.share(client, None, made["id"], []).status_code == 401
    assert res.share(client, people.pending, made["id"], []).status_code == 401
    section = {"model": "models", "tool": "tools", "knowledge": "knowledge"}[res.kind]
    permissions(workspace={section: True}, sharing={section: True})
    r = res.share(client, owner, made["id"], [_grant("user", reader.id)])
    assert r.status_code == 200, r.text
    r = res.share(client, owner, made["id"], [EVERYONE])  # public needs its own permission
    assert r.status_code == 403 and r.json()["detail"] == SHARE_FORBIDDEN


def test_grants_a_user_may_not_give_are_dropped_on_create(client, people, fresh, res,
                                                          permissions):
    """As 0.12.4: a user without sharing permissions creates a private item, silently."""
    owner, reader = fresh("Owner"), fresh("Reader")
    permissions(workspace={"models": True, "tools": True, "knowledge": True})
    made = res.create(client, owner, access_grants=[EVERYONE, _grant("user", reader.id)])
    assert made["access_grants"] == []
    assert res.get(client, reader, made["id"]).status_code in (401, 403)


@pytest.mark.parametrize("grants", [
    [{"principal_type": "robot", "principal_id": "x", "permission": "read"}],
    [{"principal_type": "user", "principal_id": "", "permission": "read"}],
    [{"principal_type": "user", "principal_id": "x", "permission": "admin"}],
    [{"principal_type": "user"}],
    "everyone",
    None,
], ids=["type", "empty-id", "permission", "missing", "not-a-list", "null"])
def test_malformed_grants_are_refused_and_nothing_is_written(client, people, fresh, res, grants):
    made = res.create(client, people.admin, access_grants=[_grant("user", people.user.id)])
    head = client.app.state.container.store.head()
    r = res.share(client, people.admin, made["id"], grants)
    assert r.status_code == 422, r.text
    assert client.app.state.container.store.head() == head
    assert res.get(client, people.user, made["id"]).status_code == 200


def test_unknown_items(client, people, res):
    if res.kind == "model":  # an admin may grant access to a connection's model: see below
        r = res.share(client, people.user, f"nope-{uuid.uuid4().hex}", [])
        assert r.status_code == 403 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
        return
    r = res.share(client, people.admin, f"nope{uuid.uuid4().hex}", [])
    assert r.status_code == 404


def test_an_admin_grants_access_to_a_model_without_an_entry(client, people, fresh):
    """As 0.12.4: base models of a connection get a bare entry that holds their grants."""
    reader = fresh("Reader")
    model_id = f"llama-{uuid.uuid4().hex[:8]}:8b"
    r = client.post("/api/v1/models/model/access/update",
                    json={"id": model_id, "name": "Llama", "access_grants": [
                        _grant("user", reader.id)]}, headers=people.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["base_model_id"] is None and r.json()["name"] == "Llama"
    got = client.get("/api/v1/models/model", params={"id": model_id},
                     headers=seen(client, reader))
    assert got.status_code == 200
