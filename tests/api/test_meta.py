"""/health, /health/db, /ready, /api/version, /api/config, /metrics; CORS and security headers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from application.messages import Detail
from interfaces.app import create_app
from interfaces.schemas.users import default_user_permissions
from tests.api.test_authz_matrix import (
    World,
    close_shared_worlds,
    no_cookie_jar,
    reset,
    shared_world,
)
from tests.helpers import signup

# 0.12.4 sends these eight before sign-in (tests/webroutes checks the 52 after it).
ANONYMOUS_FEATURES = {"slim", "auth", "auth_trusted_header", "enable_signup_password_confirmation",
                      "enable_ldap", "enable_signup", "enable_login_form", "enable_websocket"}
SIGNED_IN_FEATURES = {"enable_folders", "enable_channels", "enable_notes", "enable_memories",
                      "enable_user_status", "enable_community_sharing", "enable_message_rating"}
BASE_KEYS = {"status", "name", "version", "default_locale", "oauth", "features"}
VERIFIED_KEYS = {"default_models", "default_pinned_models", "default_prompt_suggestions",
                 "default_prompt_suggestions_i18n", "user_count", "permissions", "ui",
                 "license_metadata", "i18n", "code", "audio", "file", "google_drive", "onedrive"}
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "strict-origin-when-cross-origin",
                    "cross-origin-opener-policy": "same-origin"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


@pytest.fixture(autouse=True)
def _isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    if "client" in request.fixturenames:
        close_shared_worlds()
        no_cookie_jar(request.getfixturevalue("client"))
    yield
    if "world" in request.fixturenames:
        reset(request.getfixturevalue("world"))


def test_health_version_ready(world):
    client = world.client
    for path in ("/health", "/health/db"):
        r = client.get(path)
        assert r.status_code == 200 and r.json() == {"status": True}, path
        assert r.headers["content-type"] == "application/json"
    deadline = time.monotonic() + 10
    while (r := client.get("/ready")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 200 and r.json() == {"status": True}
    assert client.get("/api/version").json() == {"version": "0.12.4", "deployment_id": ""}


def test_health_and_ready_report_failures(world, monkeypatch):
    client, container = world.client, world.container
    monkeypatch.setattr(container.read_db, "ping", lambda: False)
    for path in ("/health/db", "/ready"):
        r = client.get(path)
        assert r.status_code == 503 and r.json() == {"detail": Detail.DATABASE_NOT_READY}, path
    assert client.get("/health").status_code == 200  # liveness is not readiness
    monkeypatch.undo()

    def broken() -> int:
        raise OSError("event store down")

    monkeypatch.setattr(container.store, "head", broken)
    r = client.get("/health/db")
    assert r.status_code == 503 and r.json() == {"detail": Detail.DATABASE_NOT_READY}
    monkeypatch.undo()

    monkeypatch.setattr(container.sessions, "ping", lambda: False)
    r = client.get("/ready")
    if world.backend == "postgres":  # Redis is configured: it must answer
        assert r.status_code == 503 and r.json() == {"detail": Detail.REDIS_NOT_READY}
    else:
        assert r.status_code == 200
    monkeypatch.undo()

    status = container.host.status
    monkeypatch.setattr(container.host, "status",
                        lambda: [{**p, "status": "starting"} for p in status()])
    r = client.get("/ready")
    assert r.status_code == 503 and r.json() == {"detail": Detail.STARTUP_NOT_COMPLETE}
    monkeypatch.setattr(container.host, "status",
                        lambda: [{**p, "status": "failed" if p["name"] == "users" else
                                  p["status"]} for p in status()])
    r = client.get("/ready")
    assert r.status_code == 503 and r.json()["detail"] == Detail.PROJECTION_FAILED
    # which projector (the event it is stopped at: tests/projections/test_unknown_events.py)
    assert [f["projector"] for f in r.json()["failed"]] == ["users"]
    monkeypatch.undo()
    assert client.get("/ready").status_code == 200


def test_config_onboarding(client):
    r = client.get("/api/config")
    assert r.status_code == 200
    body = r.json()
    assert body["onboarding"] is True and set(body) == BASE_KEYS | {"onboarding"}
    admin = signup(client, "First")
    body = client.get("/api/config").json()
    assert "onboarding" not in body and set(body) == BASE_KEYS
    assert "onboarding" not in client.get("/api/config", headers=admin.headers).json()


def test_config_by_caller(world):
    client, people = world.client, world.people
    r = client.get("/api/config")
    body = r.json()
    assert r.status_code == 200 and set(body) == BASE_KEYS  # no onboarding: users exist
    assert (body["status"], body["name"], body["version"]) == (True, "Open WebUI", "0.12.4")
    assert body["oauth"] == {"providers": {}}
    assert set(body["features"]) == ANONYMOUS_FEATURES
    assert body["features"]["auth"] is True and body["features"]["enable_signup"] is True
    assert "enable_api_keys" not in body["features"]  # signed-in callers only, as 0.12.4
    # A token that does not authenticate is anonymous, not an error.
    for headers in ({"Authorization": "Bearer junk"}, {"Cookie": "token=junk"}):
        r = client.get("/api/config", headers=headers)
        assert r.status_code == 200 and set(r.json()) == BASE_KEYS

    pending = client.get("/api/config", headers=people.pending.headers).json()
    assert set(pending) == BASE_KEYS | {"ui"}
    assert set(pending["ui"]) == {"pending_user_overlay_title", "pending_user_overlay_content"}
    assert set(pending["features"]) >= ANONYMOUS_FEATURES | SIGNED_IN_FEATURES

    container = world.container
    assert container.host.wait(["users"], container.store.head(), 5)  # user_count is a read
    for caller in (people.user, people.admin):
        body = client.get("/api/config", headers=caller.headers).json()
        assert set(body) == BASE_KEYS | VERIFIED_KEYS
        assert body["permissions"] == default_user_permissions()
        assert body["user_count"] == container.user_queries.count() >= 4
        assert "response_watermark" in body["ui"]
    cookie = client.get("/api/config", headers={"Cookie": f"token={people.user.token}"}).json()
    assert set(cookie) == BASE_KEYS | VERIFIED_KEYS

    # Flags follow the admin config.
    admin = people.admin.headers
    config = client.get("/api/v1/auths/admin/config", headers=admin).json()
    r = client.post("/api/v1/auths/admin/config", headers=admin,
                    json={**config, "ENABLE_API_KEYS": True, "ENABLE_SIGNUP": False,
                          "PENDING_USER_OVERLAY_TITLE": "Hold on"})
    assert r.status_code == 200
    features = client.get("/api/config").json()["features"]
    assert features["enable_signup"] is False
    assert client.get("/api/config", headers=admin).json()["features"]["enable_api_keys"] is True
    pending = client.get("/api/config", headers=people.pending.headers).json()
    assert pending["ui"]["pending_user_overlay_title"] == "Hold on"


def test_metrics(world):
    client = world.client
    client.post("/api/v1/users/user/info/update", json={"m": 1}, headers=world.people.user.headers)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "chronicle_http_request_duration_seconds_bucket" in text
    assert 'chronicle_commands_total{command="users.update_info",outcome="ok"}' in text
    assert 'chronicle_projection_lag_events{projector="users"}' in text
    assert "$argon2" not in text and world.people.user.token not in text


def _cors_client(world: World, origins: str) -> Any:
    settings = world.container.settings.model_copy(update={"CORS_ALLOW_ORIGIN": origins})
    return TestClient(create_app(settings=settings, container=world.container))


def test_cors(world):
    allowed, evil = "https://app.example.com", "https://evil.example.net"
    with _cors_client(world, f"{allowed};https://other.example.com") as client:
        preflight = {"Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}
        r = client.options("/api/v1/auths/signin", headers={"Origin": allowed, **preflight})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == allowed
        assert r.headers["access-control-allow-credentials"] == "true"
        assert "POST" in r.headers["access-control-allow-methods"]
        r = client.options("/api/v1/auths/signin", headers={"Origin": evil, **preflight})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers

        r = client.get("/api/v1/auths/", headers={"Origin": allowed, **world.people.user.headers})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == allowed
        assert "X-Chronicle-Position" in r.headers["access-control-expose-headers"]
        r = client.get("/health", headers={"Origin": evil})
        assert "access-control-allow-origin" not in r.headers
    # The default ("*"): any origin, without credentials.
    r = world.client.get("/health", headers={"Origin": evil})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_security_headers(world):
    client = world.client
    responses = [
        client.get("/health"),
        client.get("/api/config"),
        client.get("/metrics"),
        client.get("/api/v1/auths/"),  # 401
        client.get("/no/such/path"),  # 404
        client.post("/api/v1/auths/signin", content=b"{", headers={"content-type":
                                                                   "application/json"}),  # 422
        client.get(f"/api/v1/users/{world.people.user.id}/profile/image",
                   headers=world.people.user.headers),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 401, 404, 422, 200]
    for r in responses:
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (r.request.url, name)
        assert r.headers["x-request-id"]
        assert "strict-transport-security" not in r.headers  # only with secure cookies
    r = client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert r.headers["x-request-id"] == "trace-123"
    r = client.get("/health", headers={"X-Request-ID": "<script>"})
    assert r.headers["x-request-id"] != "<script>"
