"""Hostile and broken input to every auths/users route: always a 4xx (never a 500), and nothing
half-written — the log does not move, a rejected sign-up leaves no user and its e-mail free."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from application.messages import Detail
from domain.email_claim import claim_id
from interfaces.schemas.auths import ADMIN_CONFIG_DEFAULTS
from interfaces.schemas.users import default_user_permissions
from tests.api.test_authz_matrix import World, reset, shared_world
from tests.helpers import signup

A, U = "/api/v1/auths", "/api/v1/users"
PASSWORD = "correct horse"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


@pytest.fixture(autouse=True)
def _reset(world: World) -> Iterator[None]:
    yield
    reset(world)


@dataclass
class Bad:
    method: str
    path: str  # {uid}: the user's id
    body: Any = None  # JSON-encoded unless bytes
    params: dict[str, Any] | None = None
    caller: str = "admin"
    status: int = 422
    detail: str | None = None


def _profile(**changes: Any) -> dict[str, Any]:
    return {"name": "Name", "profile_image_url": "/user.png", **changes}


def _signup(**changes: Any) -> dict[str, Any]:
    return {"name": "Name", "email": "fresh@example.com", "password": PASSWORD, **changes}


def _permissions(section: str, key: str, value: Any) -> dict[str, Any]:
    permissions = default_user_permissions()
    permissions[section][key] = value
    return permissions


LONG_EMAIL = "a" * 310 + "@example.com"  # 322 characters
BAD_IMAGES = ["javascript:alert(1)", "data:image/svg+xml;base64,PHN2Zz4=", "//evil.example/x.png",
              "/etc/passwd", "ftp://example.com/x.png", "https://", "data:text/html;base64,PGI+",
              "data:image/png;base64," + "A" * (2 * 1024 * 1024)]
BAD_EMAILS = ["plain", "a@b", "a b@example.com", "a@exa mple.com", "a\x00b@example.com",
              "@example.com", "a@", "a@@example.com", "a@example..com@x"]
POST_BODY_ROUTES = [f"{A}/signup", f"{A}/signin", f"{A}/update/profile", f"{A}/update/password",
                    f"{A}/ldap", f"{A}/admin/config", f"{U}/default/permissions",
                    f"{U}/user/settings/update", f"{U}/user/status/update",
                    f"{U}/user/info/update", f"{U}/{{uid}}/update"]

CASES: dict[str, Bad] = {
    # wrong types and missing fields
    "signup: name is a number": Bad("POST", f"{A}/signup", _signup(name=123)),
    "signup: email is a list": Bad("POST", f"{A}/signup", _signup(email=["a@example.com"])),
    "signup: password null": Bad("POST", f"{A}/signup", _signup(password=None)),
    "signup: image is a number": Bad("POST", f"{A}/signup", _signup(profile_image_url=5)),
    "signup: empty object": Bad("POST", f"{A}/signup", {}),
    "signup: a list": Bad("POST", f"{A}/signup", [_signup()]),
    "signin: email object": Bad("POST", f"{A}/signin", {"email": {"$ne": ""}, "password": "x"}),
    "signin: password number": Bad("POST", f"{A}/signin", {"email": "a@example.com",
                                                           "password": 12345}),
    "profile: bad date": Bad("POST", f"{A}/update/profile", _profile(date_of_birth="yesterday"),
                             caller="user"),
    "profile: name null": Bad("POST", f"{A}/update/profile", _profile(name=None), caller="user"),
    "password: missing new": Bad("POST", f"{A}/update/password", {"password": PASSWORD},
                                 caller="user"),
    "status: expiry text": Bad("POST", f"{U}/user/status/update", {"status_expires_at": "soon"},
                               caller="user"),
    "status: emoji number": Bad("POST", f"{U}/user/status/update", {"status_emoji": 5},
                                caller="user"),
    "settings: ui a string": Bad("POST", f"{U}/user/settings/update", {"ui": "dark"},
                                 caller="user"),
    "info: a list": Bad("POST", f"{U}/user/info/update", [1, 2], caller="user"),
    "info: a string": Bad("POST", f"{U}/user/info/update", "text", caller="user"),
    "admin update: unknown role": Bad("POST", f"{U}/{{uid}}/update", {"role": "god"}),
    "admin update: email number": Bad("POST", f"{U}/{{uid}}/update", {"email": 5}),
    "admin config: flag not bool": Bad("POST", f"{A}/admin/config",
                                       {**ADMIN_CONFIG_DEFAULTS, "ENABLE_SIGNUP": "maybe"}),
    "admin config: count a list": Bad("POST", f"{A}/admin/config",
                                      {**ADMIN_CONFIG_DEFAULTS, "FOLDER_MAX_FILE_COUNT": [1]}),
    "admin config: missing keys": Bad("POST", f"{A}/admin/config", {"ENABLE_SIGNUP": True}),
    "permissions: section missing": Bad("POST", f"{U}/default/permissions",
                                        {k: v for k, v in default_user_permissions().items()
                                         if k != "chat"}),
    "permissions: not a bool": Bad("POST", f"{U}/default/permissions",
                                   _permissions("chat", "import", "maybe")),
    "list: page text": Bad("GET", f"{U}/", params={"page": "two"}),
    "search: page float": Bad("GET", f"{U}/search", params={"page": "1.5"}, caller="user"),
    "groups: include_inherited text": Bad("GET", f"{U}/groups",
                                          params={"include_inherited": "perhaps"}, caller="user"),
    "settings: raw text": Bad("GET", f"{U}/user/settings", params={"raw": "perhaps"},
                              caller="user"),
    # oversized
    "signup: email 322 chars": Bad("POST", f"{A}/signup", _signup(email=LONG_EMAIL)),
    "signup: name 256 chars": Bad("POST", f"{A}/signup", _signup(name="n" * 256)),
    "signup: password 4097 bytes": Bad("POST", f"{A}/signup", _signup(password="p" * 4097)),
    "signup: password 4098 utf-8 bytes": Bad("POST", f"{A}/signup", _signup(password="é" * 2049)),
    "signin: email 322 chars": Bad("POST", f"{A}/signin", {"email": LONG_EMAIL, "password": "x"}),
    "signin: password 4097 bytes": Bad("POST", f"{A}/signin", {"email": "a@example.com",
                                                               "password": "p" * 4097}),
    "ldap: user 256 chars": Bad("POST", f"{A}/ldap", {"user": "u" * 256, "password": "x"}),
    "profile: bio 10001": Bad("POST", f"{A}/update/profile", _profile(bio="b" * 10_001),
                              caller="user"),
    "profile: gender 256": Bad("POST", f"{A}/update/profile", _profile(gender="g" * 256),
                               caller="user"),
    "profile: name 256": Bad("POST", f"{A}/update/profile", _profile(name="n" * 256),
                             caller="user"),
    "password: new 4097 bytes": Bad("POST", f"{A}/update/password",
                                    {"password": PASSWORD, "new_password": "p" * 4097},
                                    caller="user"),
    "status: emoji 65": Bad("POST", f"{U}/user/status/update", {"status_emoji": "e" * 65},
                            caller="user"),
    "status: message 2001": Bad("POST", f"{U}/user/status/update",
                                {"status_message": "m" * 2001}, caller="user"),
    "admin update: name 256": Bad("POST", f"{U}/{{uid}}/update", {"name": "n" * 256}),
    "admin update: email 322": Bad("POST", f"{U}/{{uid}}/update", {"email": LONG_EMAIL}),
    "admin update: password 4097": Bad("POST", f"{U}/{{uid}}/update", {"password": "p" * 4097}),
    "list: query 1001": Bad("GET", f"{U}/", params={"query": "q" * 1001}),
    "list: order_by 1001": Bad("GET", f"{U}/", params={"order_by": "o" * 1001}),
    "search: direction 1001": Bad("GET", f"{U}/search", params={"direction": "d" * 1001},
                                  caller="user"),
    "info: nested 50000 deep": Bad("POST", f"{U}/user/info/update",
                                   b'{"a":' * 50_000 + b"1" + b"}" * 50_000, caller="user",
                                   status=400),
    # application rules (400)
    "signup: password 73 bytes": Bad("POST", f"{A}/signup", _signup(password="p" * 73),
                                     status=400, detail=Detail.PASSWORD_TOO_LONG),
    "password: new 73 bytes": Bad("POST", f"{A}/update/password",
                                  {"password": PASSWORD, "new_password": "é" * 37},
                                  caller="user", status=400, detail=Detail.PASSWORD_TOO_LONG),
    "admin update: password 73 bytes": Bad("POST", f"{U}/{{uid}}/update", {"password": "p" * 73},
                                           status=400, detail=Detail.PASSWORD_TOO_LONG),
    # unknown ids
    **{f"unknown id: {m} {p} {kind}": Bad(m, p.replace("{id}", uid), body, status=400,
                                          detail=Detail.USER_NOT_FOUND)
       for kind, uid in (("uuid", str(uuid.UUID(int=7))), ("malformed", "not-a-uuid"),
                         ("long", "x" * 5000))
       for m, p, body in (("GET", f"{U}/{{id}}", None),
                          ("GET", f"{U}/{{id}}/profile/image", None),
                          ("GET", f"{U}/{{id}}/oauth/sessions", None),
                          ("POST", f"{U}/{{id}}/update", {"name": "Ghost"}))},
    **{f"image: {url[:30]}": Bad("POST", f"{A}/update/profile", _profile(profile_image_url=url),
                                 caller="user") for url in BAD_IMAGES},
    **{f"admin image: {url[:30]}": Bad("POST", f"{U}/{{uid}}/update",
                                       {"profile_image_url": url}) for url in BAD_IMAGES[:4]},
    # bad e-mails (the app's 400)
    **{f"signup email {email!r}": Bad("POST", f"{A}/signup", _signup(email=email), status=400,
                                      detail=Detail.INVALID_EMAIL_FORMAT) for email in BAD_EMAILS},
    **{f"admin email {email!r}": Bad("POST", f"{U}/{{uid}}/update", {"email": email}, status=400,
                                     detail=Detail.INVALID_EMAIL_FORMAT) for email in BAD_EMAILS},
    # authentication is checked before the body is validated (valid JSON, wrong shape)
    "anonymous, bad profile": Bad("POST", f"{A}/update/profile", {"name": 5}, caller="anonymous",
                                  status=401, detail=Detail.NOT_AUTHENTICATED),
    "pending, bad settings": Bad("POST", f"{U}/user/settings/update", {"ui": "x"},
                                 caller="pending", status=401, detail=Detail.ACCESS_PROHIBITED),
    "user, bad admin update": Bad("POST", f"{U}/{{uid}}/update", {"role": "god"}, caller="user",
                                  status=401, detail=Detail.ACCESS_PROHIBITED),
    "user, bad permissions": Bad("POST", f"{U}/default/permissions", {}, caller="user",
                                 status=401, detail=Detail.ACCESS_PROHIBITED),
    "anonymous, bad list page": Bad("GET", f"{U}/", params={"page": "x"}, caller="anonymous",
                                    status=401, detail=Detail.NOT_AUTHENTICATED),
    # malformed JSON: 422 before authentication
    **{f"malformed JSON {body!r} → {path}": Bad("POST", path, body, caller="anonymous")
       for path in POST_BODY_ROUTES for body in (b'{"name": ', b"not json")},
    **{f"malformed JSON as admin → {path}": Bad("POST", path, b"{,}")
       for path in POST_BODY_ROUTES},
}


def signup_at(client: Any, name: str, email: str) -> tuple[str, dict[str, str]]:
    """Sign up; return the id and the header another caller passes to read this write."""
    r = client.post(f"{A}/signup", json={"name": name, "email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["id"], {"X-Chronicle-Min-Position": r.headers["X-Chronicle-Position"]}


def send(world: World, bad: Bad) -> Any:
    headers = world.people.all()[bad.caller] or {}
    path = bad.path.replace("{uid}", world.people.user.id)
    kwargs: dict[str, Any] = {"params": bad.params}
    if isinstance(bad.body, bytes):
        kwargs.update(content=bad.body, headers={**headers, **JSON})
    elif bad.body is not None:
        kwargs.update(json=bad.body, headers=headers)
    else:
        kwargs.update(headers=headers)
    return world.client.request(bad.method, path, **kwargs)


@pytest.mark.parametrize("name", list(CASES))
def test_rejected_and_nothing_written(world: World, name: str) -> None:
    bad = CASES[name]
    head = world.container.store.head()
    r = send(world, bad)
    assert r.status_code == bad.status, r.text[:500]
    body = r.json()
    if bad.detail:
        assert body == {"detail": bad.detail}
    if bad.status == 422 and "detail" in body and isinstance(body["detail"], list):
        assert all({"loc", "msg", "type"} <= set(e) for e in body["detail"])
    assert world.container.store.head() == head, "a rejected request wrote to the log"
    assert "Traceback" not in r.text and "psycopg" not in r.text and "sqlite" not in r.text


def test_rejected_signups_leave_no_user_and_the_email_free(world: World) -> None:
    client, container, admin = world.client, world.container, world.people.admin
    total = client.get(f"{U}/all", headers={**admin.headers, **world.caught_up()}).json()["total"]
    address = f"Half-{uuid.uuid4().hex[:8]}@Example.com"
    for form in (_signup(email=address, password="p" * 73),  # 400
                 _signup(email=address, password="p" * 5000),  # 422
                 _signup(email=address, name="n" * 300),  # 422
                 _signup(email=address, profile_image_url="javascript:x")):  # 422
        assert client.post(f"{A}/signup", json=form).status_code in (400, 422)
    assert container.store.get(claim_id(address)) is None
    assert client.get(f"{U}/all", headers=admin.headers).json()["total"] == total
    r = client.post(f"{A}/signin", json={"email": address, "password": "p" * 73})
    assert r.status_code == 400 and r.json()["detail"] == Detail.INVALID_CRED
    _, seen = signup_at(client, "Whole", address)  # the address is still free
    assert client.get(f"{U}/all", headers={**admin.headers, **seen}).json()["total"] == total + 1


def test_rejected_updates_change_nothing(world: World) -> None:
    client, container, people = world.client, world.container, world.people
    target = world.fresh("Unchanged")

    def stored() -> dict[str, Any]:
        r = client.get(f"{U}/{target.id}", headers=people.admin.headers)
        return {k: v for k, v in r.json().items() if k not in ("is_active", "last_active_at")}

    before = stored()
    head = container.store.head()
    # Valid fields next to an invalid one: the whole command is refused.
    for form, status in (({"name": "Renamed", "email": people.other.email}, 400),
                         ({"name": "Renamed", "password": "p" * 73}, 400),
                         ({"name": "Renamed", "role": "root"}, 422),
                         ({"name": "Renamed", "email": "bad@"}, 400)):
        r = client.post(f"{U}/{target.id}/update", json=form, headers=people.admin.headers)
        assert r.status_code == status, (form, r.text)
    r = client.post(f"{A}/update/password", json={"password": "wrong", "new_password": "n"},
                    headers=target.headers)
    assert r.status_code == 400
    r = client.post(f"{A}/update/profile", json=_profile(name="Renamed", bio="b" * 20_000),
                    headers=target.headers)
    assert r.status_code == 422
    assert container.store.head() == head
    assert stored() == before
    assert client.get(f"{A}/", headers=target.headers).status_code == 200  # session intact
    r = client.post(f"{A}/signin", json={"email": target.email, "password": PASSWORD})
    assert r.status_code == 200
    assert container.store.get(claim_id(people.other.email)).user_id == people.other.id


def test_control_characters_do_not_break_the_read_model(world: World) -> None:
    """A NUL in a name is stored by the write side; the read model (PostgreSQL text cannot hold
    NUL) must keep projecting for everyone."""
    client, admin = world.client, world.people.admin
    odd = signup(client, "Nul\x00Name\x1b[31m", email=f"nul-{uuid.uuid4().hex[:8]}@example.com")
    assert odd.email.startswith("nul-")
    r = client.post(f"{U}/user/info/update", json={"k\x00": "v\x00"},
                    headers=admin.headers)
    assert r.status_code == 200 and r.json()["k\x00"] == "v\x00"
    later, seen = signup_at(client, "After The Nul", f"after-{uuid.uuid4().hex[:8]}@example.com")
    r = client.get(f"{U}/", params={"query": "after the nul"}, headers={**admin.headers, **seen})
    assert r.status_code == 200 and [u["id"] for u in r.json()["users"]] == [later]
    assert r.headers["X-Chronicle-Consistency"] == "consistent"
    r = client.get(f"{U}/", params={"query": "nulname"}, headers={**admin.headers, **seen})
    assert [u["id"] for u in r.json()["users"]] == [odd.id]
    assert client.get("/ready").status_code == 200
    failed = [p for p in world.container.host.status() if p["status"] == "failed"]
    assert failed == []


def test_extreme_list_queries_are_answered(world: World) -> None:
    """Pages past the end, wildcards, NUL and injection attempts: a normal answer, never a 500."""
    client, admin = world.client, {**world.people.admin.headers, **world.caught_up()}
    total = client.get(f"{U}/all", headers=admin).json()["total"]
    r = client.get(f"{U}/", params={"page": 10**6}, headers=admin)
    assert r.status_code == 200 and r.json() == {"users": [], "total": total}
    r = client.get(f"{U}/search", params={"page": 10**6}, headers=admin)
    assert r.status_code == 200 and r.json()["users"] == []
    for page in (10**19, 10**40):  # beyond any listing (interfaces/bounds.py): the client's error
        for path in (f"{U}/", f"{U}/search"):
            assert client.get(path, params={"page": page}, headers=admin).status_code == 422
    for query in ("\x00", "a\x00b", "%", "_", "'; DROP TABLE users; --", "é" * 300):
        for path in (f"{U}/", f"{U}/search"):
            assert client.get(path, params={"query": query}, headers=admin).status_code == 200
    for order_by in ("name; DROP TABLE users", "group_id:x", "password_hash", "id desc"):
        r = client.get(f"{U}/", params={"order_by": order_by}, headers=admin)
        assert r.status_code == 200 and r.json()["total"] == total
    assert client.get(f"{U}/all", headers=admin).json()["total"] == total
