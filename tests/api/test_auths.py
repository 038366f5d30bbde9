"""/api/v1/auths: sign-up, sign-in, rate limit, sessions (JWT and cookie), passwords, API keys,
admin config. Runs on SQLite and on PostgreSQL + Redis (fixtures in tests/conftest.py)."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from passlib.context import CryptContext

from application.messages import Detail
from domain.email_claim import claim_id
from interfaces.schemas.auths import ADMIN_CONFIG_DEFAULTS
from interfaces.schemas.users import default_user_permissions
from tests.api.test_authz_matrix import (
    World,
    close_shared_worlds,
    no_cookie_jar,
    reset,
    shared_world,
)
from tests.helpers import Caller, signup

A = "/api/v1/auths"
PASSWORD = "correct horse"  # tests.helpers.signup's default


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


@pytest.fixture(autouse=True)
def _isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fresh installs: no cookie replay. Shared ones: configuration reset after each test."""
    if "client" in request.fixturenames:
        close_shared_worlds()
        no_cookie_jar(request.getfixturevalue("client"))
    yield
    if "world" in request.fixturenames:
        reset(request.getfixturevalue("world"))


def email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_cookies(response: Any) -> dict[str, dict[str, str]]:
    """name → {"value": …, attribute (lower-cased) → value} for each Set-Cookie header."""
    cookies: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        parts = [p.strip() for p in header.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {"value": value}
        for part in parts[1:]:
            key, _, val = part.partition("=")
            attrs[key.lower()] = val
        cookies[name] = attrs
    return cookies


def admin_config(client: Any, admin: Caller, **changes: Any) -> dict[str, Any]:
    """The client's flow: GET the whole config, change some keys, POST it back."""
    r = client.get(f"{A}/admin/config", headers=admin.headers)
    assert r.status_code == 200, r.text
    r = client.post(f"{A}/admin/config", json={**r.json(), **changes}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()


def signin(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post(f"{A}/signin", json={"email": email, "password": password})


# -- sign-up ----------------------------------------------------------------------------------


def test_signup_first_is_admin_later_get_default_role(client, container):
    r = client.post(f"{A}/signup", json={"name": "Ada", "email": "Ada@Example.COM",
                                         "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "admin" and body["email"] == "ada@example.com"
    assert body["token_type"] == "Bearer" and body["name"] == "Ada"
    assert body["profile_image_url"] == f"/api/v1/users/{body['id']}/profile/image"
    assert body["permissions"] == default_user_permissions()
    assert abs(body["expires_at"] - (time.time() + 4 * 7 * 86400)) < 30
    assert str(uuid.UUID(body["id"], version=4)) == body["id"]
    assert int(r.headers["X-Chronicle-Position"]) > 0
    cookie = set_cookies(r)["token"]
    assert cookie["value"] == body["token"]
    assert "httponly" in cookie and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    assert abs(int(cookie["max-age"]) - 2419200) <= 5 and "secure" not in cookie
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert jwt.get_unverified_header(body["token"])["alg"] == "HS256"
    assert set(claims) == {"id", "typ", "auth_method", "auth_time", "session_stamp",
                           "mfa_verified", "exp", "jti", "iat"}
    assert claims["id"] == body["id"] and claims["typ"] == "session" and claims["jti"]
    assert claims["exp"] == body["expires_at"] and claims["auth_method"] == "password"
    admin = Caller(body["id"], body["email"], body["token"], "admin")

    # Deliberate deviation: signup stays open; later users get DEFAULT_USER_ROLE (pending).
    assert admin_config(client, admin)["ENABLE_SIGNUP"] is True
    second = signup(client, "Bo")
    assert second.role == "pending"
    r = client.get("/api/v1/users/permissions", headers=second.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.ACCESS_PROHIBITED

    admin_config(client, admin, DEFAULT_USER_ROLE="user")
    assert signup(client, "Cy").role == "user"
    # x@localhost is a valid address (as in the reference).
    assert signup(client, "Local", email="root@localhost").email == "root@localhost"

    admin_config(client, admin, ENABLE_SIGNUP=False)
    r = client.post(f"{A}/signup", json={"name": "Dee", "email": "dee@example.com",
                                         "password": PASSWORD})
    assert r.status_code == 403 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    # ... checked before the e-mail format.
    r = client.post(f"{A}/signup", json={"name": "Dee", "email": "nope", "password": PASSWORD})
    assert r.status_code == 403
    assert container.store.get(claim_id("dee@example.com")) is None
    admin_config(client, admin, ENABLE_SIGNUP=True, ENABLE_LOGIN_FORM=False)
    r = client.post(f"{A}/signup", json={"name": "Dee", "email": "dee@example.com",
                                         "password": PASSWORD})
    assert r.status_code == 403 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    r = client.get("/api/v1/users/all", headers=admin.headers)
    assert r.json()["total"] == 4


def test_signup_rules(world):
    client, container, admin = world.client, world.container, world.people.admin
    taken = email("taken")
    signup(client, "Taken", email=taken)
    r = client.post(f"{A}/signup", json={"name": "X", "email": taken.upper(), "password": PASSWORD})
    assert r.status_code == 400 and r.json()["detail"] == Detail.EMAIL_TAKEN
    for bad in ("plainaddress", "a@b", "a b@example.com", "@example.com", "a@@example.com",
                "a@localhost.", "@localhost"):
        r = client.post(f"{A}/signup", json={"name": "X", "email": bad, "password": PASSWORD})
        assert r.status_code == 400 and r.json()["detail"] == Detail.INVALID_EMAIL_FORMAT, bad
    # 72 UTF-8 bytes is the limit (é is two bytes).
    long_email = email("long")
    r = client.post(f"{A}/signup", json={"name": "X", "email": long_email, "password": "é" * 37})
    assert r.status_code == 400 and r.json()["detail"] == Detail.PASSWORD_TOO_LONG
    assert container.store.get(claim_id(long_email)) is None
    ok = signup(client, "Max", email=email("max"), password="é" * 36)
    assert signin(client, ok.email, "é" * 36).status_code == 200
    # profile_image_url defaults to /user.png and is otherwise stored as given.
    assert client.get(f"{A}/", headers=ok.headers).json()["profile_image_url"] == "/user.png"
    r = client.post(f"{A}/signup", json={"name": "Pic", "email": email("pic"), "password": PASSWORD,
                                         "profile_image_url": "https://img.example.com/a.png"})
    assert r.status_code == 200
    r = client.get(f"/api/v1/users/{r.json()['id']}", headers=admin.headers)
    assert r.json()["profile_image_url"] == "https://img.example.com/a.png"


# -- sign-in ----------------------------------------------------------------------------------


def test_signin(world):
    client, people = world.client, world.people
    r = signin(client, people.user.email.upper())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == people.user.id and body["role"] == "user"
    assert body["email"] == people.user.email and body["token_type"] == "Bearer"
    assert body["profile_image_url"] == f"/api/v1/users/{people.user.id}/profile/image"
    assert body["permissions"] == default_user_permissions()
    assert set_cookies(r)["token"]["value"] == body["token"]
    assert client.get(f"{A}/", headers=bearer(body["token"])).status_code == 200
    assert int(r.headers["X-Chronicle-Position"]) > 0  # the sign-in audit record

    for address, password in ((people.user.email, "wrong"), ("nobody@example.com", PASSWORD)):
        r = signin(client, address, password)
        assert r.status_code == 400 and r.json()["detail"] == Detail.INVALID_CRED
        assert "token" not in set_cookies(r)
    r = signin(client, people.pending.email)  # pending users sign in normally
    assert r.status_code == 200 and r.json()["role"] == "pending"


def test_signin_compares_only_the_first_72_bytes(world):
    password = "p" * 72
    user = signup(world.client, "Long", password=password)
    assert signin(world.client, user.email, password + "anything after byte 72").status_code == 200
    assert signin(world.client, user.email, "p" * 71).status_code == 400


def test_signin_rate_limit(world):
    client, user = world.client, world.fresh("Limited")
    for attempt in range(1, 16):
        r = signin(client, user.email.upper() if attempt % 2 else user.email, "wrong")
        assert r.status_code == 400, (attempt, r.text)
    r = signin(client, user.email)  # the 16th, with the right password
    assert r.status_code == 429 and r.json() == {"detail": "API rate limit exceeded"}
    assert signin(client, world.people.other.email).status_code == 200  # keyed by e-mail


def test_bcrypt_hash_still_verifies_and_is_rehashed(world):
    client, container, caller = world.client, world.container, world.fresh("Legacy")
    bcrypt_hash = CryptContext(schemes=["bcrypt"], bcrypt__rounds=4).hash("legacy pw")
    user = container.store.get(uuid.UUID(caller.id))
    user.rehash_password(bcrypt_hash)
    container.store.save(user)
    assert container.store.get(uuid.UUID(caller.id)).password_hash.startswith("$2b$")
    # A rehash keeps the password, so it keeps the sessions too.
    assert client.get(f"{A}/", headers=caller.headers).status_code == 200

    assert signin(client, caller.email, "wrong").status_code == 400
    r = signin(client, caller.email, "legacy pw")
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Chronicle-Position"]) > 0  # the upgrade is a recorded event
    assert container.store.get(uuid.UUID(caller.id)).password_hash.startswith("$argon2id$")
    assert signin(client, caller.email, "legacy pw").status_code == 200
    assert client.get(f"{A}/", headers=caller.headers).status_code == 200


# -- sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_signout_revokes_the_token(world, method):
    client, people = world.client, world.people
    token = signin(client, people.user.email).json()["token"]
    assert client.get(f"{A}/", headers=bearer(token)).status_code == 200
    r = client.request(method, f"{A}/signout", headers=bearer(token))
    assert r.status_code == 200 and r.json() == {"status": True}
    cookies = set_cookies(r)
    for name in ("token", "oui-session", "oauth_id_token", "oauth_session_id"):
        assert name in cookies and cookies[name].get("max-age") == "0", name
    r = client.get(f"{A}/", headers=bearer(token))
    assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN_SHORT
    # Other sessions of the same user are untouched.
    assert client.get(f"{A}/", headers=people.user.headers).status_code == 200

    # Signing out through the cookie revokes that token too; no token at all is fine.
    token = signin(client, people.other.email).json()["token"]
    r = client.request(method, f"{A}/signout", headers={"Cookie": f"token={token}"})
    assert r.status_code == 200
    assert client.get(f"{A}/", headers=bearer(token)).status_code == 401
    r = client.request(method, f"{A}/signout")
    assert r.status_code == 200 and r.json() == {"status": True}
    assert client.request(method, f"{A}/signout", headers=bearer("junk")).status_code == 200


def test_session_user(world):
    client, pending = world.client, world.people.pending
    r = client.get(f"{A}/", headers=pending.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == pending.id and body["role"] == "pending"
    assert body["token"] == pending.token and body["token_type"] == "Bearer"
    assert body["expires_at"] == jwt.decode(pending.token, options={"verify_signature": False})["exp"]
    assert body["profile_image_url"] == "/user.png"  # the stored value, unlike sign-in
    for key in ("bio", "gender", "date_of_birth", "status_emoji", "status_message",
                "status_expires_at"):
        assert key in body and body[key] is None
    assert body["permissions"] == default_user_permissions()
    assert set_cookies(r)["token"]["value"] == pending.token


def test_cookie_is_a_credential(world):
    client, people = world.client, world.people
    cookie = {"Cookie": f"token={people.user.token}"}
    r = client.get(f"{A}/", headers=cookie)
    assert r.status_code == 200 and r.json()["id"] == people.user.id
    assert client.get("/api/v1/users/user/settings", headers=cookie).status_code == 200
    # Authorization wins over the cookie.
    r = client.get(f"{A}/", headers={**cookie, **people.other.headers})
    assert r.json()["id"] == people.other.id
    r = client.get(f"{A}/", headers={**cookie, "Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401
    r = client.get(f"{A}/", headers={"Cookie": "token=not-a-jwt"})
    assert r.status_code == 401 and r.json()["detail"] == Detail.UNAUTHORIZED
    assert set_cookies(r)["token"].get("max-age") == "0"  # a rejected JWT clears the cookie


def test_jwt_is_pinned_to_hs256_and_checked(world):
    client, container, people = world.client, world.container, world.people
    secret = container.settings.secret_key()
    claims = jwt.decode(people.user.token, options={"verify_signature": False})

    def status(token: str) -> tuple[int, str]:
        r = client.get(f"{A}/", headers=bearer(token))
        return r.status_code, r.json()["detail"] if r.status_code != 200 else ""

    # Control: the same claims, signed as the server signs them, are accepted.
    assert status(jwt.encode(claims, secret, algorithm="HS256"))[0] == 200
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "HS512": jwt.encode(claims, secret + "-" * 32, algorithm="HS512"),
        "HS384": jwt.encode(claims, secret + "-" * 16, algorithm="HS384"),
        "RS256": jwt.encode(claims, rsa_key, algorithm="RS256"),
        "wrong secret": jwt.encode(claims, "not-the-secret-" + "x" * 32, algorithm="HS256"),
        "expired": jwt.encode({**claims, "exp": int(time.time()) - 5}, secret, algorithm="HS256"),
        "no id": jwt.encode({k: v for k, v in claims.items() if k != "id"}, secret,
                            algorithm="HS256"),
        "garbage": "abc.def.ghi",
    }
    for name, token in forged.items():
        assert status(token) == (401, Detail.UNAUTHORIZED), name
    head, payload, _ = people.user.token.split(".")
    assert status(f"{head}.{payload}.")[0] == 401  # signature stripped
    # A stale session stamp (as after a password change) and an unknown user.
    stale = jwt.encode({**claims, "session_stamp": "0" * 16}, secret, algorithm="HS256")
    assert status(stale) == (401, Detail.INVALID_TOKEN_SHORT)
    ghost = jwt.encode({**claims, "id": str(uuid.uuid4())}, secret, algorithm="HS256")
    assert status(ghost) == (401, Detail.INVALID_TOKEN)
    r = client.get(f"{A}/")
    assert r.status_code == 401 and r.json()["detail"] == Detail.NOT_AUTHENTICATED


# -- profile and password ---------------------------------------------------------------------


def test_update_profile(world):
    client, caller = world.client, world.fresh("Alice")
    form = {"name": "Alice Liddell", "profile_image_url": "/user.png", "bio": "Down the hole",
            "gender": "female", "date_of_birth": "1852-05-04"}
    r = client.post(f"{A}/update/profile", json=form, headers=caller.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": caller.id, "name": "Alice Liddell", "role": "user",
                        "email": caller.email, "profile_image_url": "/user.png"}
    assert int(r.headers["X-Chronicle-Position"]) > 0
    me = client.get(f"{A}/", headers=caller.headers).json()
    assert (me["name"], me["bio"], me["gender"], me["date_of_birth"]) == \
        ("Alice Liddell", "Down the hole", "female", "1852-05-04")
    # Every field is written: omitted optionals become null.
    r = client.post(f"{A}/update/profile", json={"name": "Alice", "profile_image_url": ""},
                    headers=caller.headers)
    assert r.status_code == 200
    me = client.get(f"{A}/", headers=caller.headers).json()
    assert (me["name"], me["bio"], me["gender"], me["date_of_birth"]) == ("Alice", None, None, None)
    assert me["profile_image_url"] == ""
    r = client.post(f"{A}/update/profile", json=form, headers=world.people.pending.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.ACCESS_PROHIBITED


def test_update_password(world):
    client, caller = world.client, world.fresh("Changer")
    second_session = signin(client, caller.email).json()["token"]
    form = {"password": "wrong", "new_password": "new secret"}
    r = client.post(f"{A}/update/password", json=form, headers=caller.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.INCORRECT_PASSWORD
    form = {"password": PASSWORD, "new_password": "x" * 73}
    r = client.post(f"{A}/update/password", json=form, headers=caller.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.PASSWORD_TOO_LONG
    assert client.get(f"{A}/", headers=caller.headers).status_code == 200  # nothing changed

    form = {"password": PASSWORD, "new_password": "new secret"}
    r = client.post(f"{A}/update/password", json=form, headers=caller.headers)
    assert r.status_code == 200 and r.json() is True
    assert int(r.headers["X-Chronicle-Position"]) > 0
    for token in (caller.token, second_session):  # every earlier session ends
        r = client.get(f"{A}/", headers=bearer(token))
        assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN_SHORT
    assert signin(client, caller.email).status_code == 400
    fresh = signin(client, caller.email, "new secret")
    assert fresh.status_code == 200
    assert client.get(f"{A}/", headers=bearer(fresh.json()["token"])).status_code == 200
    # Pending users may change their password too.
    pending = signup(client, "Waiting")
    r = client.post(f"{A}/update/password", json={"password": PASSWORD, "new_password": "pw2"},
                    headers=pending.headers)
    assert r.status_code == 200 and r.json() is True


def test_ldap_is_not_enabled(world):
    r = world.client.post(f"{A}/ldap", json={"user": "ada", "password": "pw"})
    assert r.status_code == 400 and r.json()["detail"] == Detail.LDAP_NOT_ENABLED


# -- API keys ---------------------------------------------------------------------------------


def test_api_keys_disabled_by_default(world):
    client, people = world.client, world.people
    for method in ("POST", "GET", "DELETE"):
        for caller in (people.admin, people.user, people.pending):
            r = client.request(method, f"{A}/api_key", headers=caller.headers)
            assert r.status_code == 403, (method, r.text)
            assert r.json()["detail"] == Detail.API_KEY_CREATION_NOT_ALLOWED
    r = client.get(f"{A}/", headers=bearer("sk-" + uuid.uuid4().hex))
    assert r.status_code == 403 and r.json()["detail"] == Detail.API_KEY_NOT_ALLOWED


def test_api_key_lifecycle(world):
    client, container, people = world.client, world.container, world.people
    admin_config(client, people.admin, ENABLE_API_KEYS=True)
    # Non-admins also need features.api_keys (off by default).
    r = client.post(f"{A}/api_key", headers=people.user.headers)
    assert r.status_code == 403 and r.json()["detail"] == Detail.API_KEY_CREATION_NOT_ALLOWED

    assert client.delete(f"{A}/api_key", headers=people.admin.headers).json() is True
    r = client.get(f"{A}/api_key", headers=people.admin.headers)
    assert r.status_code == 404 and r.json()["detail"] == Detail.API_KEY_NOT_FOUND
    r = client.post(f"{A}/api_key", headers=people.admin.headers)
    assert r.status_code == 200, r.text
    key = r.json()["api_key"]
    assert re.fullmatch(r"sk-[0-9a-f]{32}", key)
    assert int(r.headers["X-Chronicle-Position"]) > 0
    # Shown once: afterwards only a masked hint.
    r = client.get(f"{A}/api_key", headers=people.admin.headers)
    hint = r.json()["api_key"]
    assert r.status_code == 200 and hint != key and key not in r.text
    assert hint.startswith(key[:6]) and hint.endswith(key[-4:]) and "..." in hint
    # Usable at once, as Bearer and as x-api-key.
    for headers in (bearer(key), {"x-api-key": key}):
        r = client.get(f"{A}/", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == people.admin.id and r.json()["expires_at"] is None
        assert "token" not in set_cookies(r)  # an API key never becomes a cookie
        assert client.get("/api/v1/users/", headers=headers).status_code == 200
    # A new key replaces the old one.
    new_key = client.post(f"{A}/api_key", headers=people.admin.headers).json()["api_key"]
    assert new_key != key
    r = client.get(f"{A}/", headers=bearer(key))
    assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN
    assert client.get(f"{A}/", headers=bearer(new_key)).status_code == 200
    # Delete → the key stops working at once.
    r = client.delete(f"{A}/api_key", headers=people.admin.headers)
    assert r.status_code == 200 and r.json() is True
    for headers in (bearer(new_key), {"x-api-key": new_key}):
        r = client.get(f"{A}/", headers=headers)
        assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN
    assert client.get(f"{A}/api_key", headers=people.admin.headers).status_code == 404
    assert container.store.get(uuid.UUID(people.admin.id)).api_key_hash is None
    assert client.get(f"{A}/", headers=bearer("sk-" + uuid.uuid4().hex)).status_code == 401


def test_api_keys_for_users_follow_permissions(world):
    client, admin, caller = world.client, world.people.admin, world.fresh("Keyholder")
    admin_config(client, admin, ENABLE_API_KEYS=True)
    permissions = client.get("/api/v1/users/default/permissions", headers=admin.headers).json()
    permissions["features"]["api_keys"] = True
    r = client.post("/api/v1/users/default/permissions", json=permissions, headers=admin.headers)
    assert r.status_code == 200
    key = client.post(f"{A}/api_key", headers=caller.headers).json()["api_key"]
    assert client.get("/api/v1/users/user/settings", headers={"x-api-key": key}).status_code == 200
    assert client.get(f"{A}/", headers=bearer(key)).json()["id"] == caller.id
    # A key carries its owner's role: still no admin routes.
    r = client.get("/api/v1/users/", headers=bearer(key))
    assert r.status_code == 401 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    # A password change ends sessions, not API keys.
    r = client.post(f"{A}/update/password", json={"password": PASSWORD, "new_password": "n"},
                    headers=caller.headers)
    assert r.status_code == 200
    assert client.get(f"{A}/", headers=bearer(key)).status_code == 200

    # Endpoint restrictions: outside the allow-list → 403 ACCESS_PROHIBITED.
    admin_config(client, admin, ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS=True,
                 API_KEYS_ALLOWED_ENDPOINTS="/api/v1/users/user")
    assert client.get("/api/v1/users/user/settings", headers=bearer(key)).status_code == 200
    r = client.get(f"{A}/", headers=bearer(key))
    assert r.status_code == 403 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    assert client.get(f"{A}/", headers=world.people.other.headers).status_code == 200  # JWTs: ok
    admin_config(client, admin, ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS=False)

    # Permission withdrawn → the key is refused (403), not silently accepted.
    permissions["features"]["api_keys"] = False
    client.post("/api/v1/users/default/permissions", json=permissions, headers=admin.headers)
    r = client.get(f"{A}/", headers=bearer(key))
    assert r.status_code == 403 and r.json()["detail"] == Detail.API_KEY_NOT_ALLOWED
    # Keys switched off → every key is refused, an admin's too.
    admin_key = client.post(f"{A}/api_key", headers=admin.headers).json()["api_key"]
    assert client.get(f"{A}/", headers=bearer(admin_key)).status_code == 200
    admin_config(client, admin, ENABLE_API_KEYS=False)
    r = client.get(f"{A}/", headers=bearer(admin_key))
    assert r.status_code == 403 and r.json()["detail"] == Detail.API_KEY_NOT_ALLOWED


def test_api_key_of_demoted_or_deleted_user(world):
    client, admin = world.client, world.people.admin
    admin_config(client, admin, ENABLE_API_KEYS=True)
    second_admin = world.fresh("Deputy", role="admin")
    key = client.post(f"{A}/api_key", headers=second_admin.headers).json()["api_key"]
    assert client.get("/api/v1/users/", headers=bearer(key)).status_code == 200
    r = client.post(f"/api/v1/users/{second_admin.id}/update", json={"role": "user"},
                    headers=admin.headers)
    assert r.status_code == 200
    # Demoted at once: a non-admin's key needs features.api_keys (off by default).
    r = client.get("/api/v1/users/", headers=bearer(key))
    assert r.status_code == 403 and r.json()["detail"] == Detail.API_KEY_NOT_ALLOWED
    assert client.delete(f"/api/v1/users/{second_admin.id}", headers=admin.headers).json() is True
    admin_config(client, admin, ENABLE_API_KEYS=True)
    r = client.get("/api/v1/users/user/settings", headers=bearer(key))
    assert r.status_code == 401 and r.json()["detail"] == Detail.INVALID_TOKEN


# -- admin config -----------------------------------------------------------------------------


def test_admin_config(world):
    client, people = world.client, world.people
    r = client.get(f"{A}/admin/config", headers=people.admin.headers)
    assert r.status_code == 200
    config = r.json()
    assert config == {**ADMIN_CONFIG_DEFAULTS, "ENABLE_SIGNUP": True}  # not closed by signups

    missing = {k: v for k, v in config.items() if k != "WEBUI_URL"}
    r = client.post(f"{A}/admin/config", json=missing, headers=people.admin.headers)
    assert r.status_code == 422
    r = client.post(f"{A}/admin/config", json={**config, "ENABLE_SIGNUP": "maybe"},
                    headers=people.admin.headers)
    assert r.status_code == 422

    saved = admin_config(client, people.admin, DEFAULT_USER_ROLE="overlord",
                         JWT_EXPIRES_IN="forever", PENDING_USER_OVERLAY_TITLE="Wait",
                         UNKNOWN_KEY=1)
    assert saved["DEFAULT_USER_ROLE"] == "pending" and saved["JWT_EXPIRES_IN"] == "4w"
    assert saved["PENDING_USER_OVERLAY_TITLE"] == "Wait" and "UNKNOWN_KEY" not in saved
    assert client.get(f"{A}/admin/config", headers=people.admin.headers).json() == saved

    saved = admin_config(client, people.admin, JWT_EXPIRES_IN="1h")
    assert saved["JWT_EXPIRES_IN"] == "1h"
    r = signin(client, people.user.email)
    assert abs(r.json()["expires_at"] - (time.time() + 3600)) < 30
    assert abs(int(set_cookies(r)["token"]["max-age"]) - 3600) < 30
    assert jwt.decode(r.json()["token"], options={"verify_signature": False})["exp"] == \
        r.json()["expires_at"]

    admin_config(client, people.admin, JWT_EXPIRES_IN="-1")  # never expires
    r = signin(client, people.other.email)
    assert r.json()["expires_at"] is None
    assert "exp" not in jwt.decode(r.json()["token"], options={"verify_signature": False})
    assert "max-age" not in set_cookies(r)["token"]  # a browser-session cookie
    forever = bearer(r.json()["token"])
    assert client.get(f"{A}/", headers=forever).status_code == 200
    assert client.get(f"{A}/signout", headers=forever).status_code == 200  # revocable too
    assert client.get(f"{A}/", headers=forever).status_code == 401


def test_secrets_never_in_auths_responses(world):
    client, container, people = world.client, world.container, world.people
    changer = world.fresh("Secretive")
    admin_config(client, people.admin, ENABLE_API_KEYS=True)
    r = client.post(f"{A}/api_key", headers=people.admin.headers)
    key = r.json()["api_key"]
    responses = [
        r,
        client.get(f"{A}/api_key", headers=people.admin.headers),
        client.get(f"{A}/", headers=people.admin.headers),
        client.get(f"{A}/", headers=bearer(key)),
        signin(client, people.user.email),
        signin(client, people.user.email, "wrong"),
        client.post(f"{A}/signup", json={"name": "S", "email": email("s"), "password": PASSWORD}),
        client.post(f"{A}/update/profile", json={"name": "A", "profile_image_url": ""},
                    headers=changer.headers),
        client.get(f"{A}/admin/config", headers=people.admin.headers),
        client.post(f"{A}/update/password", json={"password": PASSWORD, "new_password": "n2"},
                    headers=changer.headers),
    ]
    secrets = [hashlib.sha256(key.encode()).hexdigest(), "$argon2", "$2b$", "password_hash",
               "api_key_hash"]
    for caller in (people.admin, people.user, changer):
        secrets.append(container.store.get(uuid.UUID(caller.id)).password_hash)
    for response in responses:
        raw = response.text + str(response.headers)
        for secret in secrets:
            assert secret not in raw, (response.request.url, secret)
    # The full key appears once: in the creation answer.
    assert key in responses[0].text and key not in responses[1].text
