"""/api/v1/groups as Open WebUI 0.12.4 answers it, on SQLite and on PostgreSQL + Redis: shapes,
who may call each route, and bad input (4xx with the reference's detail, nothing written)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from application.groups import GroupMessages
from application.messages import Detail
from tests.groups.helpers import API, add, make_group, my_groups, remove
from tests.helpers import Caller, lagging, signup
from tests.models.conftest import CALLERS, headers_of
from tests.models.helpers import seen

GROUP_KEYS = {"parent_group_id", "id", "user_id", "name", "description", "data", "meta",
              "permissions", "created_at", "updated_at", "member_count"}
UNKNOWN = str(uuid.uuid4())


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


# ---- shapes and behaviour ---------------------------------------------------------------------
def test_create_answers_a_group_response_with_the_default_share(client, people):
    made = make_group(client, people.admin, "Team", description="the team",
                      permissions={"workspace": {"models": True}})
    assert set(made) == GROUP_KEYS
    assert made["name"] == "Team" and made["description"] == "the team"
    assert made["user_id"] == people.admin.id and made["member_count"] == 0
    assert made["data"] == {"config": {"share": "members"}}  # DEFAULT_GROUP_SHARE_PERMISSION
    assert made["permissions"] == {"workspace": {"models": True}}
    assert made["parent_group_id"] is None and made["meta"] is None
    got = client.get(f"{API}/id/{made['id']}", headers=people.admin.headers).json()
    assert got == made


def test_default_models_are_trimmed_and_unique(client, people):
    made = make_group(client, people.admin,
                      data={"config": {"default_models": [" a ", "a", "b"], "share": True}})
    assert made["data"]["config"] == {"default_models": ["a", "b"], "share": True}


def test_update_merges_data_and_keeps_what_is_not_sent(client, people):
    made = make_group(client, people.admin, permissions={"chat": {"delete": False}},
                      data={"config": {"share": False}, "color": "red"})
    r = client.post(f"{API}/id/{made['id']}/update", headers=people.admin.headers,
                    json={"name": "Renamed", "description": "new", "data": {"config": {
                        "default_models": ["m"]}}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Renamed" and body["description"] == "new"
    assert body["permissions"] == {"chat": {"delete": False}}  # not sent: kept
    assert body["data"] == {"config": {"share": False, "default_models": ["m"]}, "color": "red"}
    assert body["updated_at"] >= made["updated_at"] and body["created_at"] == made["created_at"]


def test_members_add_remove_export_and_users(client, people, fresh):
    alice, bob = fresh("Alice"), fresh("Bob")
    made = make_group(client, people.admin)
    body = add(client, people.admin, made["id"], alice, bob, alice.id, "no-such-user", UNKNOWN)
    assert body["member_count"] == 2  # unknown ids dropped, repeats counted once
    exported = client.get(f"{API}/id/{made['id']}/export", headers=seen(client, people.admin))
    assert exported.status_code == 200
    assert sorted(exported.json()["user_ids"]) == sorted([alice.id, bob.id])
    assert exported.json()["member_count"] == 2
    users = client.post(f"{API}/id/{made['id']}/users", headers=seen(client, people.admin))
    assert users.status_code == 200
    assert sorted(u["id"] for u in users.json()) == sorted([alice.id, bob.id])
    assert {"id", "name", "email", "role"} <= set(users.json()[0])
    assert remove(client, people.admin, made["id"], bob, "not-a-member")["member_count"] == 1
    info = client.get(f"{API}/id/{made['id']}/info", headers=seen(client, alice)).json()
    assert info["member_count"] == 1 and "permissions" not in info and "data" not in info


def test_a_user_who_signed_up_a_moment_ago_can_be_added(client, container, people):
    group = make_group(client, people.admin)
    with lagging(container, "users", 0.5):  # the users read model does not know them yet
        newcomer = signup(client, "Newcomer")
        body = add(client, people.admin, group["id"], newcomer, str(uuid.uuid4()))
    assert body["member_count"] == 1
    exported = client.get(f"{API}/id/{group['id']}/export", headers=seen(client, people.admin))
    assert exported.json()["user_ids"] == [newcomer.id]


def test_list_admins_see_all_users_see_theirs(client, people, fresh):
    alice, bob = fresh("Alice"), fresh("Bob")
    mine, other = make_group(client, people.admin), make_group(client, people.admin)
    add(client, people.admin, mine["id"], alice)
    add(client, people.admin, other["id"], bob)
    listed = client.get(f"{API}/", headers=seen(client, alice)).json()
    assert _ids(listed) == [mine["id"]] and listed[0]["member_count"] == 1
    everything = _ids(client.get(f"{API}/", headers=seen(client, people.admin)).json())
    assert {mine["id"], other["id"]} <= set(everything)
    assert _ids(my_groups(client, alice)) == [mine["id"]]
    r = client.get(f"/api/v1/users/{bob.id}/groups", headers=seen(client, people.admin))
    assert r.status_code == 200 and _ids(r.json()) == [other["id"]]
    assert "member_count" not in r.json()[0]  # GroupModel here, as the reference


def test_list_with_share(client, people, fresh):
    """share=true: groups open to anyone, and members-only groups the caller is in;
    share=false: the groups nobody may share with."""
    alice = fresh("Alice")
    open_group = make_group(client, people.admin, data={"config": {"share": True}})
    members_mine = make_group(client, people.admin)
    members_other = make_group(client, people.admin)
    closed = make_group(client, people.admin, data={"config": {"share": False}})
    add(client, people.admin, members_mine["id"], alice)
    add(client, people.admin, closed["id"], alice)
    shareable = set(_ids(client.get(f"{API}/", params={"share": "true"},
                                    headers=seen(client, alice)).json()))
    assert {open_group["id"], members_mine["id"]} <= shareable
    assert members_other["id"] not in shareable and closed["id"] not in shareable
    unshareable = set(_ids(client.get(f"{API}/", params={"share": "false"},
                                      headers=seen(client, alice)).json()))
    assert closed["id"] in unshareable and members_mine["id"] not in unshareable


def test_parents_give_inherited_membership_and_deleting_moves_children_up(client, people, fresh):
    bob = fresh("Bob")
    top = make_group(client, people.admin, "top")
    middle = make_group(client, people.admin, "middle", parent_group_id=top["id"])
    leaf = make_group(client, people.admin, "leaf", parent_group_id=middle["id"])
    add(client, people.admin, leaf["id"], bob)
    assert _ids(my_groups(client, bob)) == [leaf["id"]]
    inherited = my_groups(client, bob, include_inherited="true")
    assert {g["id"]: g["membership_type"] for g in inherited} == {
        leaf["id"]: "direct", middle["id"]: "inherited", top["id"]: "inherited"}
    members = client.get(f"{API}/id/{top['id']}/members", headers=seen(client, people.admin))
    assert members.status_code == 200
    assert members.json()["counts"] == {"direct": 0, "effective": 1, "inherited": 1}
    item = members.json()["items"][0]
    assert item["id"] == bob.id and item["membership_type"] == "inherited"
    assert item["via_group_ids"] == [leaf["id"]]
    direct = client.get(f"{API}/id/{top['id']}/members", params={"membership": "direct"},
                        headers=seen(client, people.admin)).json()
    assert direct["items"] == [] and direct["total"] == 0
    # a group cannot move under its own descendant
    r = client.post(f"{API}/id/{top['id']}/update", headers=people.admin.headers,
                    json={"name": "top", "description": "d", "parent_group_id": leaf["id"]})
    assert r.status_code == 400 and r.json()["detail"] == GroupMessages.PARENT_CYCLE
    r = client.delete(f"{API}/id/{middle['id']}/delete", headers=people.admin.headers)
    assert r.status_code == 200 and r.json() is True
    got = client.get(f"{API}/id/{leaf['id']}", headers=seen(client, people.admin)).json()
    assert got["parent_group_id"] == top["id"]  # the deleted parent's children move up
    assert set(_ids(my_groups(client, bob, include_inherited="true"))) == {leaf["id"], top["id"]}
    # and a command on the child answers the same parent from the aggregate
    body = add(client, people.admin, leaf["id"], people.user)
    assert body["parent_group_id"] == top["id"]
    # back to the top level: parent_group_id null, sent
    r = client.post(f"{API}/id/{leaf['id']}/update", headers=people.admin.headers,
                    json={"name": "leaf", "description": "d", "parent_group_id": None})
    assert r.status_code == 200 and r.json()["parent_group_id"] is None


def test_deleting_a_user_removes_them_from_every_group(client, people, fresh):
    doomed, stays = fresh("Doomed"), fresh("Stays")
    one, two = make_group(client, people.admin), make_group(client, people.admin)
    add(client, people.admin, one["id"], doomed, stays)
    add(client, people.admin, two["id"], doomed)
    r = client.delete(f"/api/v1/users/{doomed.id}", headers=people.admin.headers)
    assert r.status_code == 200
    exported = client.get(f"{API}/id/{one['id']}/export", headers=seen(client, people.admin))
    assert exported.json()["user_ids"] == [stays.id] and exported.json()["member_count"] == 1
    assert client.get(f"{API}/id/{two['id']}", headers=seen(client, people.admin)
                      ).json()["member_count"] == 0
    # a command's own answer agrees (the aggregate still lists the deleted user)
    assert remove(client, people.admin, two["id"], stays)["member_count"] == 0


def test_users_list_can_put_a_groups_members_first(client, people, fresh):
    group = make_group(client, people.admin)
    zed = fresh("Zed")
    add(client, people.admin, group["id"], zed)
    r = client.get("/api/v1/users/", params={"order_by": f"group_id:{group['id']}",
                                             "direction": "desc"},
                   headers=seen(client, people.admin))
    assert r.status_code == 200
    assert r.json()["users"][0]["id"] == zed.id  # a member first, whatever the name
    r = client.get("/api/v1/users/", params={"order_by": f"group_id:{group['id']}",
                                             "direction": "asc"},
                   headers=seen(client, people.admin))
    assert r.json()["users"][-1]["id"] == zed.id or r.json()["total"] > 30


def test_users_list_carries_group_ids_and_the_user_card_groups(client, people, fresh):
    alice = fresh("Alice")
    made = make_group(client, people.admin, "Cardholders")
    add(client, people.admin, made["id"], alice)
    r = client.get("/api/v1/users/", params={"query": alice.email},
                   headers=seen(client, people.admin))
    assert r.status_code == 200
    assert r.json()["users"][0]["group_ids"] == [made["id"]]
    card = client.get(f"/api/v1/users/{alice.id}", headers=seen(client, people.admin)).json()
    assert card["groups"] == [{"id": made["id"], "name": "Cardholders"}]


# ---- who may call what ------------------------------------------------------------------------
ADMIN_ONLY = [("get", "/id/{id}", None), ("get", "/id/{id}/export", None),
              ("get", "/id/{id}/preview", None),
              ("post", "/id/{id}/users", None), ("get", "/id/{id}/members", None),
              ("post", "/id/{id}/update", {"name": "x", "description": "y"}),
              ("post", "/id/{id}/users/add", {"user_ids": []}),
              ("post", "/id/{id}/users/remove", {"user_ids": []})]


def _call(client: Any, method: str, path: str, body: Any, headers: Any) -> Any:
    if method == "get":
        return client.get(path, headers=headers)
    if method == "delete":
        return client.delete(path, headers=headers)
    return client.post(path, json=body, headers=headers)


@pytest.mark.parametrize("who", CALLERS)
def test_authorization_matrix(client, people, who):
    group = make_group(client, people.admin)
    add(client, people.admin, group["id"], people.user)  # `user` is a member, `other` is not
    client.cookies.clear()  # sign-ups leave the last one's cookie: anonymous means none
    headers = headers_of(people, who)
    before = len(client.get(f"{API}/", headers=seen(client, people.admin)).json())
    for method, path, body in ADMIN_ONLY:
        r = _call(client, method, API + path.format(id=group["id"]), body, headers)
        if who == "admin":
            assert r.status_code == 200, (path, r.text)
        else:
            assert r.status_code == 401, (path, r.status_code)
            assert r.json()["detail"] in (Detail.NOT_AUTHENTICATED, Detail.ACCESS_PROHIBITED)
    r = client.post(f"{API}/create", json={"name": "n", "description": "d"}, headers=headers)
    assert r.status_code == (200 if who == "admin" else 401)
    for path in ("/", f"/id/{group['id']}/info"):
        r = client.get(API + path, headers=headers)
        assert r.status_code == (401 if who in ("anonymous", "pending") else 200), (path, who)
    r = client.get("/api/v1/users/groups", headers=headers)
    assert r.status_code == (401 if who in ("anonymous", "pending") else 200)
    if who in ("user", "other"):
        listed = _ids(client.get(f"{API}/", headers=headers).json())
        assert (group["id"] in listed) == (who == "user")  # members see it, others do not
    for path in ("groups", "preview"):
        r = client.get(f"/api/v1/users/{people.user.id}/{path}", headers=headers)
        assert r.status_code == (200 if who == "admin" else 401), path
    r = client.delete(f"{API}/id/{group['id']}/delete", headers=headers)
    assert r.status_code == (200 if who == "admin" else 401)
    after = len(client.get(f"{API}/", headers=seen(client, people.admin)).json())
    assert after == before  # the admin created one and deleted one; others changed nothing


# ---- bad input: 4xx, nothing written ----------------------------------------------------------
def _unchanged(client: Any, admin: Caller) -> Any:
    """A check that the log did not move."""
    store = client.app.state.container.store
    head = store.head()
    return lambda: store.head() == head


@pytest.mark.parametrize("body", [
    {}, {"name": "x"}, {"description": "x"}, {"name": None, "description": "x"},
    {"name": "x", "description": "y", "permissions": "all"},
    {"name": "x", "description": "y", "data": {"config": "share"}},
    {"name": "x", "description": "y", "data": {"config": {"default_models": [""]}}},
    {"name": "x", "description": "y", "data": {"config": {"default_models": "m"}}},
    {"name": "x" * 2000, "description": "y"},
    [], "text"])
def test_create_refuses_malformed_bodies(client, people, body):
    unchanged = _unchanged(client, people.admin)
    r = client.post(f"{API}/create", json=body, headers=people.admin.headers)
    assert r.status_code == 422, r.text
    assert unchanged()


@pytest.mark.parametrize("parent, status, detail", [
    ("", 400, GroupMessages.PARENT_EMPTY),
    (UNKNOWN, 404, GroupMessages.PARENT_NOT_FOUND),
    ("not-a-uuid", 404, GroupMessages.PARENT_NOT_FOUND)])
def test_create_under_a_bad_parent(client, people, parent, status, detail):
    unchanged = _unchanged(client, people.admin)
    r = client.post(f"{API}/create", headers=people.admin.headers,
                    json={"name": "x", "description": "y", "parent_group_id": parent})
    assert (r.status_code, r.json()["detail"]) == (status, detail)
    assert unchanged()


@pytest.mark.parametrize("group_id", [UNKNOWN, "not-a-uuid", "deleted"])
def test_unknown_groups(client, people, group_id):
    if group_id == "deleted":
        group_id = make_group(client, people.admin)["id"]
        client.delete(f"{API}/id/{group_id}/delete", headers=people.admin.headers)
    unchanged = _unchanged(client, people.admin)
    admin = seen(client, people.admin)
    for path in ("", "/info", "/export"):
        r = client.get(f"{API}/id/{group_id}{path}", headers=admin)
        assert (r.status_code, r.json()["detail"]) == (404, Detail.NOT_FOUND), path
    r = client.get(f"{API}/id/{group_id}/members", headers=admin)
    assert (r.status_code, r.json()["detail"]) == (404, GroupMessages.GROUP_NOT_FOUND)
    r = client.get(f"{API}/id/{group_id}/preview", headers=admin)
    assert (r.status_code, r.json()["detail"]) == (404, Detail.NOT_FOUND)
    for method, path, body in [("post", "/update", {"name": "x", "description": "y"}),
                               ("post", "/users/add", {"user_ids": [people.user.id]}),
                               ("post", "/users/remove", {"user_ids": [people.user.id]}),
                               ("delete", "/delete", None)]:
        r = _call(client, method, f"{API}/id/{group_id}{path}", body, people.admin.headers)
        assert (r.status_code, r.json()["detail"]) == (404, GroupMessages.GROUP_NOT_FOUND), path
    r = client.post(f"{API}/id/{group_id}/users", headers=admin)
    assert r.status_code == 200 and r.json() == []  # the reference's answer: nobody
    assert unchanged()


def test_user_preview_of_nobody(client, people):
    r = client.get(f"/api/v1/users/{UNKNOWN}/preview", headers=people.admin.headers)
    assert (r.status_code, r.json()["detail"]) == (404, Detail.USER_NOT_FOUND)


@pytest.mark.parametrize("body", [{"user_ids": "abc"}, {"user_ids": [1, 2]}, [],
                                  {"user_ids": [{"id": "x"}]}])
def test_membership_changes_refuse_malformed_bodies(client, people, body):
    group = make_group(client, people.admin)
    unchanged = _unchanged(client, people.admin)
    for action in ("add", "remove"):
        r = client.post(f"{API}/id/{group['id']}/users/{action}", json=body,
                        headers=people.admin.headers)
        assert r.status_code == 422, (action, r.text)
    assert unchanged()


def test_adding_nobody_writes_nothing(client, people):
    group = make_group(client, people.admin)
    unchanged = _unchanged(client, people.admin)
    for body in ({}, {"user_ids": None}, {"user_ids": []}, {"user_ids": [UNKNOWN, "x"]}):
        r = client.post(f"{API}/id/{group['id']}/users/add", json=body,
                        headers=people.admin.headers)
        assert r.status_code == 200 and r.json()["member_count"] == 0
    assert unchanged()


def test_members_query_validation(client, people):
    group = make_group(client, people.admin)
    for params in ({"membership": "all"}, {"page": 0}, {"page": 2**70}):
        r = client.get(f"{API}/id/{group['id']}/members", params=params,
                       headers=people.admin.headers)
        assert r.status_code == 422, params


def test_update_refuses_bad_input_and_writes_nothing(client, people):
    group = make_group(client, people.admin)
    unchanged = _unchanged(client, people.admin)
    for body, status in [({"name": "x"}, 422), ({"description": "y"}, 422),
                         ({"name": "x", "description": "y", "parent_group_id": ""}, 400),
                         ({"name": "x", "description": "y", "parent_group_id": group["id"]}, 400),
                         ({"name": "x", "description": "y", "parent_group_id": UNKNOWN}, 404)]:
        r = client.post(f"{API}/id/{group['id']}/update", json=body, headers=people.admin.headers)
        assert r.status_code == status, (body, r.text)
    assert unchanged()
