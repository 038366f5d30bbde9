"""/api/v1/users: lists and search, profiles, images, settings/status/info, permissions,
administration (roles, e-mail, passwords, deletion, the primary admin), read-your-writes."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from application.messages import Detail
from domain.email_claim import EmailClaim
from domain.user import User, new_stamp
from interfaces.schemas.users import default_user_permissions
from tests.api.test_authz_matrix import World, reset, shared_world
from tests.helpers import lagging, signup

U = "/api/v1/users"
PASSWORD = "correct horse"
PNG = b"\x89PNG\r\n\x1a\n"
USER_MODEL_KEYS = {"id", "email", "name", "role", "profile_image_url", "bio", "gender",
                   "date_of_birth", "info", "settings", "status_emoji", "status_message",
                   "status_expires_at", "last_active_at", "updated_at", "created_at"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


@pytest.fixture(autouse=True)
def _reset(world: World) -> Iterator[None]:
    yield
    reset(world)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_config(w: World, **changes: Any) -> None:
    admin = w.people.admin.headers
    config = w.client.get("/api/v1/auths/admin/config", headers=admin).json()
    r = w.client.post("/api/v1/auths/admin/config", json={**config, **changes}, headers=admin)
    assert r.status_code == 200, r.text


def seed_users(w: World, tag: str, count: int) -> tuple[list[dict[str, str]], int]:
    """Users written straight to the store (no argon2: listing tests need many)."""
    users, position = [], 0
    for i in range(count):
        user_id, address = str(uuid.uuid4()), f"{tag}-{i:02d}@example.com"
        name = f"{tag} {chr(ord('a') + (i * 7) % 26)}{i:02d}"
        user = User(user_id=user_id, email=address, name=name, role="user", password_hash="-",
                    profile_image_url="/user.png", stamp=new_stamp())
        position = w.container.store.save(user, EmailClaim(email=address, user_id=user_id))
        users.append({"id": user_id, "email": address, "name": name,
                      "created_at": user.created_at})
    return users, position


def created_at(w: World, headers: dict[str, str]) -> dict[str, int]:
    """id → created_at of every user, through the admin listing (all pages)."""
    found: dict[str, int] = {}
    for page in range(1, 100):
        users = w.client.get(f"{U}/", params={"page": page}, headers=headers).json()["users"]
        found.update({u["id"]: u["created_at"] for u in users})
        if len(users) < 30:
            return found
    raise AssertionError("too many pages")


# -- lists ------------------------------------------------------------------------------------


def test_list_users_paging_filter_and_order(world):
    client, admin = world.client, world.people.admin
    tag = f"list{uuid.uuid4().hex[:6]}"
    seeded, position = seed_users(world, tag, 33)
    headers = {**admin.headers, "X-Chronicle-Min-Position": str(position)}

    r = client.get(f"{U}/", params={"query": tag.upper()}, headers=headers)
    assert r.status_code == 200, r.text
    page1 = r.json()
    assert page1["total"] == 33 and len(page1["users"]) == 30  # page size 30
    item = page1["users"][0]
    assert set(item) >= USER_MODEL_KEYS and item["group_ids"] == []
    # No order_by: insertion order (created_at, then id).
    insertion = sorted(seeded, key=lambda u: (u["created_at"], u["id"]))
    r = client.get(f"{U}/", params={"query": tag, "page": 2}, headers=headers)
    ids = [u["id"] for u in page1["users"]] + [u["id"] for u in r.json()["users"]]
    assert ids == [u["id"] for u in insertion]
    for page in (0, -3):  # < 1 → 1
        r = client.get(f"{U}/", params={"query": tag, "page": page}, headers=headers)
        assert [u["id"] for u in r.json()["users"]] == ids[:30]
    assert client.get(f"{U}/", params={"page": "two"}, headers=headers).status_code == 422
    # Matches name or e-mail, case-insensitively.
    r = client.get(f"{U}/", params={"query": f"{tag}-07@EXAMPLE"}, headers=headers)
    assert [u["email"] for u in r.json()["users"]] == [f"{tag}-07@example.com"]

    by_name = sorted(seeded, key=lambda u: u["name"].lower())
    r = client.get(f"{U}/", params={"query": tag, "order_by": "name", "direction": "asc"},
                   headers=headers)
    assert [u["name"] for u in r.json()["users"]] == [u["name"] for u in by_name][:30]
    for direction in (None, "desc", "sideways"):  # anything but "asc" is descending
        params = {"query": tag, "order_by": "name", **({"direction": direction} if direction
                                                        else {})}
        r = client.get(f"{U}/", params=params, headers=headers)
        assert [u["name"] for u in r.json()["users"]] == [u["name"] for u in by_name][::-1][:30]
    r = client.get(f"{U}/", params={"query": "no-such-user-anywhere"}, headers=headers)
    assert r.json() == {"users": [], "total": 0}


def test_all_and_search(world):
    client, people = world.client, world.people
    tag = f"srch{uuid.uuid4().hex[:6]}"
    seeded, position = seed_users(world, tag, 3)
    headers = {**people.admin.headers, "X-Chronicle-Min-Position": str(position)}

    r = client.get(f"{U}/all", headers=headers)
    assert r.status_code == 200
    everyone = r.json()
    assert everyone["total"] == len(everyone["users"]) >= 7  # no paging
    created = created_at(world, headers)
    assert len(created) == everyone["total"]
    order = [created[u["id"]] for u in everyone["users"]]
    assert order == sorted(order, reverse=True)  # newest first
    assert {people.user.id, people.pending.id} <= {u["id"] for u in everyone["users"]}
    assert set(everyone["users"][0]) >= {"id", "name", "email", "role", "is_active", "groups"}

    user_headers = {**people.user.headers, "X-Chronicle-Min-Position": str(position)}
    r = client.get(f"{U}/search", params={"query": tag}, headers=user_headers)
    assert r.status_code == 200
    found = r.json()
    assert found["total"] == 3
    assert [u["email"] for u in found["users"]] == \
        [u["email"] for u in sorted(seeded, key=lambda u: (u["created_at"], u["id"]))]
    for item in found["users"]:
        assert item["is_active"] is False and item["groups"] == []
    r = client.get(f"{U}/search", headers=user_headers)  # bare: newest first
    order = [created[u["id"]] for u in r.json()["users"]]
    assert order == sorted(order, reverse=True) and len(order) == min(30, len(created))
    r = client.get(f"{U}/search", params={"query": tag, "order_by": "email"}, headers=user_headers)
    assert [u["email"] for u in r.json()["users"]] == sorted(u["email"] for u in seeded)[::-1]


def test_read_your_writes(world):
    """A write, then at once a list: the list waits (bounded) for the projection."""
    client, admin, people = world.client, world.people.admin, world.people
    with lagging(world.container, "users"):
        time.sleep(0.35)
        name = f"Renamed {uuid.uuid4().hex[:6]}"
        r = client.post(f"{U}/{people.other.id}/update", json={"name": name},
                        headers=admin.headers)
        position = int(r.headers["X-Chronicle-Position"])
        r = client.get(f"{U}/", params={"query": name}, headers=admin.headers)
        assert r.json()["total"] == 1 and r.json()["users"][0]["name"] == name
        assert r.headers["X-Chronicle-Consistency"] == "consistent"
        # Another user's read waits for a position the client passes along.
        name2 = f"Again {uuid.uuid4().hex[:6]}"
        r = client.post(f"{U}/{people.other.id}/update", json={"name": name2},
                        headers=admin.headers)
        position = int(r.headers["X-Chronicle-Position"])
        r = client.get(f"{U}/search", params={"query": name2},
                       headers={**people.user.headers, "X-Chronicle-Min-Position": str(position)})
        assert r.json()["total"] == 1
        # A caller's own write.
        r = client.post("/api/v1/auths/update/profile", headers=people.user.headers,
                        json={"name": "Alice Again", "profile_image_url": "/user.png"})
        assert r.status_code == 200
        r = client.get(f"{U}/search", params={"query": "alice again"}, headers=people.user.headers)
        assert [u["id"] for u in r.json()["users"]] == [people.user.id]


def test_commands_answer_their_log_position(world):
    client, caller = world.client, world.fresh("Positions")
    positions = []
    for method, path, body in [
        ("POST", f"{U}/user/settings/update", {"ui": {"a": 1}}),
        ("POST", f"{U}/user/info/update", {"k": "v"}),
        ("POST", f"{U}/user/status/update", {"status_message": "hi"}),
        ("POST", "/api/v1/auths/update/profile", {"name": "P", "profile_image_url": ""}),
    ]:
        r = client.request(method, path, json=body, headers=caller.headers)
        assert r.status_code == 200, r.text
        positions.append(int(r.headers["X-Chronicle-Position"]))
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[-1] <= world.container.store.head()
    # Writing the same settings again records nothing and claims no position.
    r = client.post(f"{U}/user/settings/update", json={"ui": {"a": 1}}, headers=caller.headers)
    assert r.status_code == 200 and "X-Chronicle-Position" not in r.headers
    r = client.get(f"{U}/user/settings", headers=caller.headers)  # a query: no position either
    assert "X-Chronicle-Position" not in r.headers


# -- one user ---------------------------------------------------------------------------------


def test_get_user_by_id(world):
    client, people = world.client, world.people
    assert client.get(f"{U}/user/info", headers=people.user.headers).status_code == 200
    r = client.get(f"{U}/{people.user.id}", headers=people.admin.headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= USER_MODEL_KEYS and body["groups"] == []
    assert body["id"] == people.user.id and body["email"] == people.user.email
    for key in ("created_at", "updated_at", "last_active_at"):  # epoch seconds
        assert abs(body[key] - time.time()) < 3600, key
    assert body["is_active"] is True  # the user has just made a request
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        r = client.get(f"{U}/{unknown}", headers=people.user.headers)
        assert r.status_code == 400 and r.json()["detail"] == Detail.USER_NOT_FOUND

    assert client.get(f"{U}/{people.user.id}/active", headers=people.other.headers).json() == \
        {"active": True}
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        r = client.get(f"{U}/{unknown}/active", headers=people.other.headers)
        assert r.status_code == 200 and r.json() == {"active": False}


def test_profile_image(world):
    client, people = world.client, world.people
    target = world.fresh("Pictured")
    url = f"{U}/{target.id}/profile/image"

    def set_image(value: str) -> None:
        r = client.post(f"{U}/{target.id}/update", json={"profile_image_url": value},
                        headers=people.admin.headers)
        assert r.status_code == 200, r.text

    r = client.get(url, headers=people.other.headers)  # /user.png → the default avatar
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG)
    default_avatar = r.content

    set_image("https://cdn.example.com/me.jpg")
    r = client.get(url, headers=people.other.headers, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://cdn.example.com/me.jpg"

    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    set_image("data:image/gif;base64," + base64.b64encode(gif).decode())
    r = client.get(url, headers=people.other.headers)
    assert r.status_code == 200 and r.content == gif
    assert r.headers["content-type"] == "image/gif"
    assert r.headers["content-disposition"] == "inline"
    assert r.headers["x-content-type-options"] == "nosniff"

    set_image("data:image/png;base64,%%%not-base64%%%")
    r = client.get(url, headers=people.other.headers)
    assert r.status_code == 200 and r.content == default_avatar
    set_image("")
    assert client.get(url, headers=people.other.headers).content == default_avatar

    r = client.get(f"{U}/{uuid.uuid4()}/profile/image", headers=people.other.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.USER_NOT_FOUND


# -- the caller's own documents ---------------------------------------------------------------


def test_settings(world):
    client, admin, caller = world.client, world.people.admin, world.fresh("Settler")
    r = client.get(f"{U}/user/settings", headers=caller.headers)
    assert r.status_code == 200 and r.json() is None  # a new user has none

    settings = {"ui": {"theme": "dark", "toolServers": [{"url": "https://t.example"}]},
                "extra": {"kept": True}}
    r = client.post(f"{U}/user/settings/update", json=settings, headers=caller.headers)
    assert r.status_code == 200, r.text
    stored = {"ui": {"theme": "dark"}, "extra": {"kept": True}}  # toolServers dropped
    assert r.json() == stored
    assert client.get(f"{U}/user/settings", headers=caller.headers).json() == stored
    r = client.post(f"{U}/user/settings/update", json=settings, headers=admin.headers)
    assert r.json()["ui"]["toolServers"] == [{"url": "https://t.example"}]  # admins keep them

    # Admin defaults are merged under ui unless raw=true; the user's own values win.
    admin_config(world, DEFAULT_INTERFACE_SETTINGS={"theme": "light", "fontSize": 14})
    r = client.get(f"{U}/user/settings", headers=caller.headers)
    assert r.json() == {"ui": {"theme": "dark", "fontSize": 14}, "extra": {"kept": True}}
    r = client.get(f"{U}/user/settings", params={"raw": "true"}, headers=caller.headers)
    assert r.json() == stored

    # Without settings.interface non-admins may not change settings.
    permissions = default_user_permissions()
    permissions["settings"]["interface"] = False
    client.post(f"{U}/default/permissions", json=permissions, headers=admin.headers)
    r = client.post(f"{U}/user/settings/update", json={"ui": {}}, headers=caller.headers)
    assert r.status_code == 403 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    assert client.get(f"{U}/user/settings", params={"raw": True},
                      headers=caller.headers).json() == stored
    r = client.post(f"{U}/user/settings/update", json={"ui": {}}, headers=admin.headers)
    assert r.status_code == 200


def test_status(world):
    client, caller = world.client, world.fresh("Status")
    r = client.get(f"{U}/user/status", headers=caller.headers)
    assert r.status_code == 200 and r.json()["id"] == caller.id
    assert set(r.json()) >= USER_MODEL_KEYS and r.json()["status_message"] is None
    status = {"status_emoji": "🌴", "status_message": "On holiday", "status_expires_at": 1900000000}
    r = client.post(f"{U}/user/status/update", json=status, headers=caller.headers)
    assert r.status_code == 200
    assert {k: r.json()[k] for k in status} == status
    me = client.get("/api/v1/auths/", headers=caller.headers).json()
    assert {k: me[k] for k in status} == status

    admin_config(world, ENABLE_USER_STATUS=False)
    for who in (caller, world.people.admin):
        r = client.get(f"{U}/user/status", headers=who.headers)
        assert r.status_code == 403 and r.json()["detail"] == Detail.ACTION_PROHIBITED
        r = client.post(f"{U}/user/status/update", json={"status_message": "x"}, headers=who.headers)
        assert r.status_code == 403 and r.json()["detail"] == Detail.ACTION_PROHIBITED
    admin_config(world, ENABLE_USER_STATUS=True)
    r = client.get(f"{U}/user/status", headers=caller.headers)
    assert r.json()["status_message"] == "On holiday"


def test_info_is_shallow_merged(world):
    client, caller = world.client, world.fresh("Informed")
    r = client.get(f"{U}/user/info", headers=caller.headers)
    assert r.status_code == 200 and r.json() is None
    steps = [({"a": 1, "nested": {"x": 1}}, {"a": 1, "nested": {"x": 1}}),
             ({"b": 2}, {"a": 1, "b": 2, "nested": {"x": 1}}),
             ({"a": 3, "nested": {"y": 2}}, {"a": 3, "b": 2, "nested": {"y": 2}})]
    for patch, merged in steps:
        r = client.post(f"{U}/user/info/update", json=patch, headers=caller.headers)
        assert r.status_code == 200 and r.json() == merged
    assert client.get(f"{U}/user/info", headers=caller.headers).json() == steps[-1][1]
    for not_an_object in ([1, 2], "text", 3):
        r = client.post(f"{U}/user/info/update", json=not_an_object, headers=caller.headers)
        assert r.status_code == 422


def test_permissions(world):
    client, people = world.client, world.people
    defaults = default_user_permissions()
    assert client.get(f"{U}/permissions", headers=people.user.headers).json() == defaults
    assert client.get(f"{U}/default/permissions", headers=people.admin.headers).json() == defaults

    r = client.post(f"{U}/default/permissions", json={k: v for k, v in defaults.items()
                                                      if k != "settings"},
                    headers=people.admin.headers)
    assert r.status_code == 422
    changed = default_user_permissions()
    changed["chat"]["import"] = False
    changed["workspace"]["models"] = True
    r = client.post(f"{U}/default/permissions", json=changed, headers=people.admin.headers)
    assert r.status_code == 200 and r.json() == changed  # wire form: "import"
    assert int(r.headers["X-Chronicle-Position"]) > 0
    assert client.get(f"{U}/default/permissions", headers=people.admin.headers).json() == changed
    assert client.get(f"{U}/permissions", headers=people.other.headers).json() == changed
    r = client.post("/api/v1/auths/signin", json={"email": people.other.email,
                                                  "password": PASSWORD})
    assert r.json()["permissions"] == changed


def test_groups_and_oauth_sessions(world):
    client, people = world.client, world.people
    for params in ({}, {"include_inherited": "true"}):
        r = client.get(f"{U}/groups", params=params, headers=people.user.headers)
        assert r.status_code == 200 and r.json() == []
        r = client.get(f"{U}/{people.user.id}/groups", params=params, headers=people.admin.headers)
        assert r.status_code == 200 and r.json() == []
    r = client.get(f"{U}/groups", params={"include_inherited": "perhaps"},
                   headers=people.user.headers)
    assert r.status_code == 422
    for user_id in (people.user.id, str(uuid.uuid4())):  # none → 400 (reference quirk)
        r = client.get(f"{U}/{user_id}/oauth/sessions", headers=people.admin.headers)
        assert r.status_code == 400 and r.json()["detail"] == Detail.USER_NOT_FOUND


# -- administration ---------------------------------------------------------------------------


def test_admin_update(world):
    client, admin = world.client, world.people.admin.headers
    target, taken = world.fresh("Target"), world.people.other.email
    old_email, new_email = target.email, f"moved-{uuid.uuid4().hex[:6]}@Example.com"
    r = client.post(f"{U}/{target.id}/update", headers=admin,
                    json={"role": "admin", "name": "Promoted", "email": new_email,
                          "profile_image_url": "https://img.example.com/p.png"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= USER_MODEL_KEYS
    assert (body["role"], body["name"], body["email"], body["profile_image_url"]) == \
        ("admin", "Promoted", new_email.lower(), "https://img.example.com/p.png")
    assert int(r.headers["X-Chronicle-Position"]) > 0
    # The role applies at once to the existing session; the e-mail moved.
    assert client.get(f"{U}/", headers=target.headers).status_code == 200
    r = client.post("/api/v1/auths/signin", json={"email": new_email, "password": PASSWORD})
    assert r.status_code == 200
    r = client.post("/api/v1/auths/signin", json={"email": old_email, "password": PASSWORD})
    assert r.status_code == 400
    signup(client, "Reuse", email=old_email)  # the old address is free again

    # Only non-null fields are applied.
    r = client.post(f"{U}/{target.id}/update", json={"name": None, "role": "user"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "Promoted" and r.json()["role"] == "user"
    assert client.get(f"{U}/", headers=target.headers).status_code == 401

    cases = [({"email": taken.upper()}, 400, Detail.EMAIL_TAKEN),
             ({"email": "not-an-email"}, 400, Detail.INVALID_EMAIL_FORMAT),
             ({"password": "x" * 73}, 400, Detail.PASSWORD_TOO_LONG),
             ({"role": "superuser"}, 422, None),
             ({"profile_image_url": "javascript:alert(1)"}, 422, None)]
    for form, status, detail in cases:
        r = client.post(f"{U}/{target.id}/update", json=form, headers=admin)
        assert r.status_code == status, (form, r.text)
        if detail:
            assert r.json()["detail"] == detail
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        r = client.post(f"{U}/{unknown}/update", json={"name": "x"}, headers=admin)
        assert r.status_code == 400 and r.json()["detail"] == Detail.USER_NOT_FOUND

    # A password set by an admin ends the target's sessions.
    r = client.post(f"{U}/{target.id}/update", json={"password": "set by admin"}, headers=admin)
    assert r.status_code == 200
    r = client.get("/api/v1/auths/", headers=target.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN_SHORT
    r = client.post("/api/v1/auths/signin", json={"email": new_email, "password": "set by admin"})
    assert r.status_code == 200


def test_primary_admin_and_last_admin_protection(world):
    client, primary = world.client, world.people.admin
    # The primary (first) admin can be neither demoted nor deleted.
    r = client.post(f"{U}/{primary.id}/update", json={"role": "user"}, headers=primary.headers)
    assert r.status_code == 403 and r.json()["detail"] == Detail.LAST_ADMIN
    r = client.delete(f"{U}/{primary.id}", headers=primary.headers)
    assert r.status_code == 403 and r.json()["detail"] == Detail.CANNOT_DELETE_SELF
    r = client.post(f"{U}/{primary.id}/update", json={"name": "Primary"}, headers=primary.headers)
    assert r.status_code == 200 and r.json()["role"] == "admin"

    deputy = world.fresh("Deputy", role="admin")
    for method, path, body in (("POST", f"{U}/{primary.id}/update", {"name": "Usurped"}),
                               ("POST", f"{U}/{primary.id}/update", {"role": "user"}),
                               ("DELETE", f"{U}/{primary.id}", None)):
        r = client.request(method, path, json=body, headers=deputy.headers)
        assert r.status_code == 403 and r.json()["detail"] == Detail.PRIMARY_ADMIN_PROTECTED
    r = client.post(f"{U}/{primary.id}/update", json={"role": "pending"}, headers=primary.headers)
    assert r.status_code == 403  # not even with a second admin around
    r = client.get(f"{U}/{primary.id}", headers=primary.headers)
    assert (r.json()["name"], r.json()["role"]) == ("Primary", "admin")

    r = client.delete(f"{U}/{deputy.id}", headers=deputy.headers)
    assert r.status_code == 403 and r.json()["detail"] == Detail.CANNOT_DELETE_SELF
    # Another admin may step down; the primary admin remains.
    r = client.post(f"{U}/{deputy.id}/update", json={"role": "user"}, headers=deputy.headers)
    assert r.status_code == 200 and r.json()["role"] == "user"
    r = client.get(f"{U}/", headers=deputy.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.ACCESS_PROHIBITED


def test_delete_user(world):
    client, admin = world.client, world.people.admin.headers
    victim = world.fresh("Victim")
    client.post(f"{U}/user/settings/update", json={"ui": {"x": 1}}, headers=victim.headers)
    r = client.delete(f"{U}/{victim.id}", headers=admin)
    assert r.status_code == 200 and r.json() is True
    assert int(r.headers["X-Chronicle-Position"]) > 0
    r = client.get("/api/v1/auths/", headers=victim.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN
    r = client.post("/api/v1/auths/signin", json={"email": victim.email, "password": PASSWORD})
    assert r.status_code == 400 and r.json()["detail"] == Detail.INVALID_CRED
    r = client.get(f"{U}/{victim.id}", headers=admin)
    assert r.status_code == 400
    r = client.get(f"{U}/", params={"query": victim.email}, headers=admin)
    assert r.json()["total"] == 0
    again = signup(client, "Victim II", email=victim.email)  # the address is free again
    assert again.id != victim.id
    r = client.get(f"{U}/{again.id}", headers=admin)
    assert r.json()["settings"] is None  # nothing inherited from the deleted account
    for gone in (victim.id, str(uuid.uuid4()), "not-a-uuid"):  # idempotent
        r = client.delete(f"{U}/{gone}", headers=admin)
        assert r.status_code == 200 and r.json() is True


def test_secrets_never_in_users_responses(world):
    client, container, people = world.client, world.container, world.people
    admin_config(world, ENABLE_API_KEYS=True)
    key = client.post("/api/v1/auths/api_key", headers=people.admin.headers).json()["api_key"]
    target = world.fresh("Target")
    admin = people.admin.headers
    responses = [
        client.get(f"{U}/", headers=admin),
        client.get(f"{U}/all", headers=admin),
        client.get(f"{U}/search", headers=people.user.headers),
        client.get(f"{U}/{people.admin.id}", headers=admin),
        client.get(f"{U}/{people.admin.id}", headers=people.user.headers),
        client.get(f"{U}/user/status", headers=admin),
        client.post(f"{U}/user/status/update", json={"status_message": "s"}, headers=admin),
        client.post(f"{U}/{target.id}/update", json={"password": "p2", "name": "T"},
                    headers=admin),
        client.get(f"{U}/{target.id}", headers=admin),
        client.get(f"{U}/", headers=bearer(key)),
    ]
    secrets = [hashlib.sha256(key.encode()).hexdigest(), key, "$argon2", "$2b$", "password",
               "api_key"]
    for caller in (people.admin, people.user, target):
        user = container.store.get(uuid.UUID(caller.id))
        secrets += [user.password_hash, user.session_stamp]
    for response in responses:
        assert response.status_code == 200, response.text
        raw = response.text + str(response.headers)
        for secret in secrets:
            assert secret not in raw, (response.request.url, secret)
