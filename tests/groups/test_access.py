"""What groups give, on SQLite and on PostgreSQL + Redis: permissions combined with the defaults
(most permissive wins, at every depth) in every check, and access to items shared with a group,
gained and lost as membership changes."""

from __future__ import annotations

import uuid
from typing import Any

from tests.groups.helpers import API, add, make_group, remove
from tests.helpers import Caller
from tests.models.helpers import seen
from tests.models.test_access_grants import KINDS, Resource, res  # noqa: F401

MODELS_ON = {"workspace": {"models": True}}


def _group_grant(group_id: str, permission: str = "read") -> dict[str, str]:
    return {"principal_type": "group", "principal_id": group_id, "permission": permission}


def _permissions(client: Any, caller: Caller) -> dict[str, Any]:
    r = client.get("/api/v1/users/permissions", headers=seen(client, caller))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _create_model(client: Any, caller: Caller) -> Any:
    body = {"id": f"m-{uuid.uuid4().hex[:10]}", "name": "Mine", "base_model_id": "llama3:8b",
            "meta": {}, "params": {}}
    return client.post("/api/v1/models/create", json=body, headers=seen(client, caller))


# ---- effective permissions --------------------------------------------------------------------
def test_a_group_permission_opens_a_workspace_check_until_the_member_leaves(client, people,
                                                                             fresh):
    alice = fresh("Alice")
    assert _permissions(client, alice)["workspace"]["models"] is False
    assert _create_model(client, alice).status_code == 401
    group = make_group(client, people.admin, permissions=MODELS_ON)
    add(client, people.admin, group["id"], alice)
    assert _permissions(client, alice)["workspace"]["models"] is True
    assert _create_model(client, alice).status_code == 200
    session = client.get("/api/v1/auths/", headers=seen(client, alice)).json()
    assert session["permissions"]["workspace"]["models"] is True  # the session's too
    remove(client, people.admin, group["id"], alice)
    assert _permissions(client, alice)["workspace"]["models"] is False
    assert _create_model(client, alice).status_code == 401


def test_most_permissive_wins_at_every_depth(client, people, fresh, permissions):
    permissions(chat={"delete": False})
    bob = fresh("Bob")
    closed = make_group(client, people.admin, permissions={"chat": {"delete": False,
                                                                    "export": False}})
    opened = make_group(client, people.admin, permissions={"chat": {"delete": True},
                                                           "extra": {"deep": {"flag": True}}})
    add(client, people.admin, closed["id"], bob)
    mine = _permissions(client, bob)
    assert mine["chat"]["delete"] is False and mine["chat"]["export"] is True  # a group never narrows
    add(client, people.admin, opened["id"], bob)
    mine = _permissions(client, bob)
    assert mine["chat"]["delete"] is True and mine["extra"] == {"deep": {"flag": True}}
    # the permission check itself follows: Bob may now delete a folder (chat.delete)
    folder = client.post("/api/v1/folders/", json={"name": f"f-{uuid.uuid4().hex[:6]}"},
                         headers=bob.headers)
    assert folder.status_code == 200, folder.text
    r = client.delete(f"/api/v1/folders/{folder.json()['id']}", headers=seen(client, bob))
    assert r.status_code == 200, r.text


def test_parent_group_permissions_are_inherited(client, people, fresh):
    carol = fresh("Carol")
    parent = make_group(client, people.admin, permissions=MODELS_ON)
    child = make_group(client, people.admin, parent_group_id=parent["id"])
    add(client, people.admin, child["id"], carol)
    assert _permissions(client, carol)["workspace"]["models"] is True
    client.delete(f"{API}/id/{parent['id']}/delete", headers=people.admin.headers)
    assert _permissions(client, carol)["workspace"]["models"] is False


# ---- grants to groups -------------------------------------------------------------------------
def test_group_grant_is_gained_and_lost_with_membership(client, people, fresh, res):  # noqa: F811
    member, outsider = fresh("Member"), fresh("Outsider")
    group = make_group(client, people.admin)
    item = res.create(client, people.admin, access_grants=[_group_grant(group["id"])])
    assert {"principal_type": "group", "principal_id": group["id"], "permission": "read"}.items() \
        <= item["access_grants"][0].items()

    def sees(caller: Caller) -> bool:
        listed = item["id"] in res.listed(client, caller)
        opened = res.get(client, caller, item["id"]).status_code == 200
        assert listed == opened, (listed, opened)
        return listed

    assert not sees(member) and not sees(outsider)
    add(client, people.admin, group["id"], member)
    assert sees(member) and not sees(outsider)
    remove(client, people.admin, group["id"], member)
    assert not sees(member)
    add(client, people.admin, group["id"], member)
    assert sees(member)
    r = client.delete(f"{API}/id/{group['id']}/delete", headers=people.admin.headers)
    assert r.status_code == 200 and r.json() is True
    assert not sees(member)  # a deleted group's grants give nothing
    shown = res.get(client, people.admin, item["id"]).json()
    assert shown["access_grants"] == []  # and are gone from the item


def test_group_grant_reaches_members_of_child_groups(client, people, fresh):
    model = Resource("model")
    member = fresh("Member")
    parent = make_group(client, people.admin)
    child = make_group(client, people.admin, parent_group_id=parent["id"])
    item = model.create(client, people.admin, access_grants=[_group_grant(parent["id"])])
    assert item["id"] not in model.listed(client, member)
    add(client, people.admin, child["id"], member)
    assert item["id"] in model.listed(client, member)
    r = client.post(f"{API}/id/{child['id']}/update", headers=people.admin.headers,
                    json={"name": "child", "description": "d", "parent_group_id": None})
    assert r.status_code == 200
    assert item["id"] not in model.listed(client, member)


def test_group_write_grant_lets_a_member_edit(client, people, fresh):
    model = Resource("model")
    editor = fresh("Editor")
    group = make_group(client, people.admin)
    item = model.create(client, people.admin,
                        access_grants=[_group_grant(group["id"]),
                                       _group_grant(group["id"], "write")])
    toggle = "/api/v1/models/model/toggle"
    assert client.post(toggle, params={"id": item["id"]}, headers=editor.headers
                       ).status_code == 401
    add(client, people.admin, group["id"], editor)
    r = client.post(toggle, params={"id": item["id"]}, headers=seen(client, editor))
    assert r.status_code == 200, r.text


def test_sharing_permission_from_a_group(client, people, fresh):
    """access_grants.allow_groups and sharing.models come from the effective set too."""
    model = Resource("model")
    sharer = fresh("Sharer")
    audience = make_group(client, people.admin)
    powers = make_group(client, people.admin, permissions={
        "workspace": {"models": True}, "sharing": {"models": True}})
    made = _create_model(client, sharer)
    assert made.status_code == 401
    add(client, people.admin, powers["id"], sharer)
    made = _create_model(client, sharer)
    assert made.status_code == 200
    r = model.share(client, sharer, made.json()["id"], [_group_grant(audience["id"])])
    assert r.status_code == 200, r.text


# ---- previews -----------------------------------------------------------------------------------
def test_group_preview_shows_what_it_reaches_and_inherits(client, people, fresh):
    model, tool = Resource("model"), Resource("tool")
    parent = make_group(client, people.admin, permissions=MODELS_ON,
                        data={"config": {"default_models": ["base"]}})
    child = make_group(client, people.admin, parent_group_id=parent["id"],
                       permissions={"chat": {"delete": True}})
    to_parent = model.create(client, people.admin, access_grants=[_group_grant(parent["id"])])
    public = model.create(client, people.admin, access_grants=[
        {"principal_type": "user", "principal_id": "*", "permission": "read"}])
    private = model.create(client, people.admin, access_grants=[])
    tool_item = tool.create(client, people.admin, access_grants=[_group_grant(child["id"])])
    r = client.get(f"{API}/id/{child['id']}/preview", headers=seen(client, people.admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group"] == {"id": child["id"], "name": child["name"]}
    shown = {m["id"] for m in body["models"]["items"]}
    assert {to_parent["id"], public["id"]} <= shown and private["id"] not in shown
    assert body["models"]["total"] >= 3
    assert tool_item["id"] in {t["id"] for t in body["tools"]["items"]}
    assert body["default_models"] == {"local": None, "effective": ["base"],
                                      "source_group_id": parent["id"]}
    assert body["permissions"] == {"chat": {"delete": True}}
    assert body["inherited_permissions"]["workspace"]["models"] is True
    assert body["effective_permissions"]["workspace"]["models"] is True
    top = client.get(f"{API}/id/{parent['id']}/preview", headers=seen(client, people.admin)).json()
    assert tool_item["id"] not in {t["id"] for t in top["tools"]["items"]}  # grants go down, not up
    assert top["inherited_permissions"]["workspace"]["models"] is False


def test_user_preview_counts_groups_and_own_items(client, people, fresh, permissions):
    model = Resource("model")
    permissions(workspace={"models": True})
    dora = fresh("Dora")
    group = make_group(client, people.admin)
    shared = model.create(client, people.admin, access_grants=[_group_grant(group["id"])])
    own = model.create(client, dora, access_grants=[])
    add(client, people.admin, group["id"], dora)
    r = client.get(f"/api/v1/users/{dora.id}/preview", headers=seen(client, people.admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["id"] == dora.id
    assert body["groups"] == [{"id": group["id"], "name": group["name"]}]
    assert {shared["id"], own["id"]} <= {m["id"] for m in body["models"]["items"]}


def test_deleting_a_user_or_a_group_takes_them_out_of_grants(client, people, fresh, res):  # noqa: F811
    leaving, staying = fresh("Leaving"), fresh("Staying")
    doomed, kept = make_group(client, people.admin), make_group(client, people.admin)
    grants = [{"principal_type": "user", "principal_id": u.id, "permission": "read"}
              for u in (leaving, staying)] + [_group_grant(doomed["id"]), _group_grant(kept["id"])]
    item = res.create(client, people.admin, access_grants=grants)
    assert len(item["access_grants"]) == 4
    assert client.delete(f"/api/v1/users/{leaving.id}", headers=people.admin.headers
                         ).status_code == 200
    assert client.delete(f"{API}/id/{doomed['id']}/delete", headers=people.admin.headers
                         ).status_code == 200
    shown = res.get(client, people.admin, item["id"]).json()["access_grants"]
    assert {(g["principal_type"], g["principal_id"]) for g in shown} == {
        ("user", staying.id), ("group", kept["id"])}
    assert res.get(client, staying, item["id"]).status_code == 200
