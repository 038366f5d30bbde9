"""The routes the Open WebUI 0.12.4 web app calls on every page, in settings, the admin panel and
the workspace (issue #16, item 2): who may call each, bad input, and what each does, on both
backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from application.messages import Detail
from tests.api.test_authz_matrix import World, close_shared_worlds, reset, shared_world
from tests.chats.helpers import chat_doc
from tests.helpers import Caller

CALLERS = ("anonymous", "pending", "user", "admin")
EVERYONE = [200, 200, 200, 200]
SIGNED_IN = [401, 200, 200, 200]
VERIFIED = [401, 401, 200, 200]
ADMINS = [401, 401, 401, 200]

# The `features` keys 0.12.4's /api/config sends a signed-in caller (main.py get_app_config),
# without the two that depend on settings (websocket_heartbeat_interval, the OneDrive pair).
FEATURES_0_12_4 = {
    "slim", "auth", "auth_trusted_header", "enable_signup_password_confirmation", "enable_ldap",
    "enable_signup", "enable_login_form", "enable_websocket",
    "enable_api_keys", "enable_password_change_form", "enable_version_update_check",
    "enable_pyodide_file_persistence", "enable_public_active_users_count", "enable_easter_eggs",
    "enable_direct_connections", "enable_direct_integrations", "enable_plugins", "enable_tools",
    "enable_functions", "enable_tool_servers", "enable_terminal_servers", "enable_folders",
    "folder_max_file_count", "enable_channels", "enable_encrypted_channels", "enable_apps",
    "enable_calendar", "enable_automations", "enable_notes", "enable_context_compaction",
    "enable_tool_permissions", "enable_web_search", "enable_web_search_confirmation",
    "web_search_confirmation_content", "enable_code_execution", "enable_code_interpreter",
    "enable_image_generation", "enable_autocomplete_generation", "enable_title_generation",
    "enable_follow_up_generation", "enable_tags_generation", "enable_community_sharing",
    "enable_message_rating", "enable_user_webhooks", "enable_user_status", "enable_admin_export",
    "enable_admin_chat_access", "enable_admin_analytics", "enable_google_drive_integration",
    "enable_onedrive_integration", "enable_memories", "enable_subagents",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    close_shared_worlds()
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


def _headers(world: World, who: str) -> dict[str, str] | None:
    caller = {"pending": world.people.pending, "user": world.people.user,
              "admin": world.people.admin}.get(who)
    return None if caller is None else {**caller.headers, **world.caught_up()}


def _banner(text: str, **extra: Any) -> dict[str, Any]:
    return {"i18n": None, "id": uuid.uuid4().hex, "type": "info", "title": "", "content": text,
            "dismissible": True, "timestamp": 1700000000, **extra}


def _new_user() -> dict[str, Any]:
    return {"name": "Added", "email": f"added-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse", "role": "user"}


# -- who may call what ----------------------------------------------------------------------
ROUTES: list[tuple[str, str, dict[str, Any], list[int]]] = [
    ("GET", "/api/changelog", {}, EVERYONE),
    ("GET", "/api/usage", {}, [401, 401, 403, 200]),
    ("GET", "/api/events", {}, ADMINS),
    ("GET", "/api/events/webhooks", {}, ADMINS),
    ("POST", "/api/v1/auths/update/timezone", {"json": {"timezone": "Europe/Paris"}}, SIGNED_IN),
    ("GET", "/api/v1/auths/mfa/status", {}, SIGNED_IN),
    ("GET", "/api/v1/configs/banners", {}, VERIFIED),
    ("POST", "/api/v1/configs/banners", {"json": {"banners": []}}, ADMINS),
    ("GET", "/api/v1/configs/models/defaults", {}, VERIFIED),
    ("POST", "/api/v1/configs/suggestions", {"json": {"suggestions": []}}, ADMINS),
    ("POST", "/api/v1/configs/interface/visibility", {"json": {"visibility": {}}}, ADMINS),
    ("GET", "/api/v1/folders/shared", {}, VERIFIED),
    ("GET", "/api/v1/models/model/profile/image", {"params": {"id": "nope"}}, VERIFIED),
    ("GET", "/api/v1/models/all", {}, ADMINS),
    ("GET", "/api/v1/tools/list", {}, VERIFIED),
    ("GET", "/api/v1/functions/", {}, VERIFIED),
    ("GET", "/api/v1/functions/list", {}, ADMINS),
    ("GET", "/api/v1/functions/export", {}, ADMINS),
    ("GET", "/api/v1/skills/", {}, VERIFIED),
    ("GET", "/api/v1/channels/", {}, VERIFIED),
    ("GET", "/api/v1/skills/list", {}, VERIFIED),
    ("GET", "/api/v1/terminals/", {}, VERIFIED),
    ("GET", "/api/v1/audio/voices", {}, VERIFIED),
    ("GET", "/api/v1/audio/config", {}, ADMINS),
    ("GET", "/api/v1/search", {"params": {"q": "x"}}, VERIFIED),
    ("GET", "/api/version/updates", {}, VERIFIED),
    ("GET", "/api/v1/configs/tool_servers", {}, ADMINS),
    ("GET", "/api/v1/configs/terminal_servers", {}, ADMINS),
    ("GET", "/api/v1/configs/code_execution", {}, ADMINS),
    ("GET", "/api/v1/pipelines/list", {}, ADMINS),
    ("GET", "/api/v1/images/config", {}, ADMINS),
    ("GET", "/api/v1/evaluations/config", {}, ADMINS),
    ("GET", "/api/v1/users/user/variables", {}, VERIFIED),
    ("POST", "/api/v1/users/user/variables/update", {"json": {"variables": {}}}, VERIFIED),
    ("GET", "/api/v1/chats/archived/count", {}, VERIFIED),
    ("GET", "/api/v1/chats/folder/nope/list", {}, VERIFIED),
    ("GET", "/api/v1/chats/shared", {}, VERIFIED),
    ("POST", "/api/v1/chats/read", {}, VERIFIED),
    ("GET", "/api/v1/knowledge/search", {}, VERIFIED),
    ("GET", "/api/v1/knowledge/search/files", {}, VERIFIED),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "expected"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_who_may_call(world, method, path, kwargs, expected):
    got = {who: world.client.request(method, path, headers=_headers(world, who),
                                     **kwargs).status_code for who in CALLERS}
    assert got == dict(zip(CALLERS, expected, strict=True))


def test_add_user_is_for_admins(world):
    for who in ("anonymous", "pending", "user"):
        r = world.client.post("/api/v1/auths/add", json=_new_user(), headers=_headers(world, who))
        assert r.status_code == 401
    r = world.client.post("/api/v1/auths/add", json=_new_user(), headers=_headers(world, "admin"))
    assert r.status_code == 200, r.text


def test_mfa_status_needs_a_session_not_an_api_key(world):
    admin = world.people.admin.headers
    r = world.client.post("/api/v1/auths/admin/config", headers=admin,
                          json={**world.client.get("/api/v1/auths/admin/config",
                                                   headers=admin).json(),
                                "ENABLE_API_KEYS": True})
    assert r.status_code == 200, r.text
    try:
        key = world.client.post("/api/v1/auths/api_key", headers=admin).json()["api_key"]
        r = world.client.get("/api/v1/auths/mfa/status", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 403 and r.json()["detail"] == Detail.HUMAN_SESSION_REQUIRED
        r = world.client.get("/api/v1/auths/mfa/status", headers=admin)
        assert r.json() == {"enabled": False, "required": False, "recovery_codes_remaining": 0}
    finally:
        reset(world)


# -- /api/config ------------------------------------------------------------------------------
def test_config_features_are_0_12_4s_52(world):
    assert len(FEATURES_0_12_4) == 52
    for who in ("pending", "user", "admin"):
        body = world.client.get("/api/config", headers=_headers(world, who)).json()
        assert set(body["features"]) == FEATURES_0_12_4, who
    features = world.client.get("/api/config", headers=_headers(world, "user")).json()["features"]
    # What Chronicle has is on (as configured); what it has not is off, so the app hides it.
    for on in ("enable_tools", "enable_notes", "enable_folders", "enable_password_change_form",
               "enable_title_generation", "enable_tags_generation",
               "enable_follow_up_generation", "enable_message_rating"):
        assert features[on] is True, on
    for off in ("enable_functions", "enable_channels", "enable_web_search",
                "enable_image_generation", "enable_code_interpreter", "enable_code_execution",
                "enable_terminal_servers", "enable_tool_servers", "enable_direct_connections",
                "enable_memories", "enable_automations", "enable_calendar", "enable_apps"):
        assert features[off] is False, off
    body = world.client.get("/api/config", headers=_headers(world, "user")).json()
    assert body["audio"]["tts"]["engine"] == "" and body["audio"]["stt"]["engine"] == ""
    rag = world.container.retrieval.rag_config()
    assert body["file"]["max_size"] == rag["FILE_MAX_SIZE"]
    anonymous = world.client.get("/api/config").json()["features"]
    assert set(anonymous) == {"slim", "auth", "auth_trusted_header",
                              "enable_signup_password_confirmation", "enable_ldap",
                              "enable_signup", "enable_login_form", "enable_websocket"}


def test_config_carries_the_admins_default_models(world):
    admin = world.people.admin.headers
    models = world.client.get("/api/v1/configs/models", headers=admin).json()
    r = world.client.post("/api/v1/configs/models", headers=admin,
                          json={**models, "DEFAULT_MODELS": "llama3:8b",
                                "DEFAULT_PINNED_MODELS": "llama3:8b,qwen"})
    assert r.status_code == 200, r.text
    try:
        body = world.client.get("/api/config", headers=_headers(world, "user")).json()
        assert (body["default_models"], body["default_pinned_models"]) == \
            ("llama3:8b", "llama3:8b,qwen")
    finally:
        world.client.post("/api/v1/configs/models", headers=admin, json=models)


def test_config_follows_the_task_settings(world):
    admin = world.people.admin.headers
    config = world.client.get("/api/v1/tasks/config", headers=admin).json()
    r = world.client.post("/api/v1/tasks/config/update", headers=admin,
                          json={**config, "ENABLE_TITLE_GENERATION": False})
    assert r.status_code == 200, r.text
    try:
        features = world.client.get("/api/config", headers=admin).json()["features"]
        assert features["enable_title_generation"] is False
    finally:
        world.client.post("/api/v1/tasks/config/update", headers=admin, json=config)


# -- every page -------------------------------------------------------------------------------
def test_changelog_and_usage(world):
    assert world.client.get("/api/changelog").json() == {}
    r = world.client.get("/api/usage", headers=_headers(world, "user"))
    assert r.json()["detail"] == Detail.USAGE_ADMINS_ONLY
    body = world.client.get("/api/usage", headers=_headers(world, "admin")).json()
    assert body["model_ids"] == [] and body["user_count"] >= 1  # the admin is active
    # A client's Socket.IO `usage` lands in the pool; /api/usage reports the model while it lasts.
    pool = world.container.usage
    world.client.portal.call(pool.touch, "sid-webroutes", "llama3:8b")
    try:
        body = world.client.get("/api/usage", headers=_headers(world, "admin")).json()
        assert body["model_ids"] == ["llama3:8b"]
    finally:
        world.client.portal.call(pool.drop, "sid-webroutes")


def test_events_answer_the_empty_state(world):
    admin = _headers(world, "admin")
    assert world.client.get("/api/events", headers=admin).json() == {"schema": "0.12.4",
                                                                     "events": []}
    assert world.client.get("/api/events/webhooks", headers=admin).json() == []


def test_timezone_is_stored_on_the_user(world):
    user = world.people.pending  # the app sends it before the account is approved too
    r = world.client.post("/api/v1/auths/update/timezone", headers=user.headers,
                          json={"timezone": "America/Sao_Paulo"})
    assert r.status_code == 200 and r.json() == {"status": True}
    assert world.container.store.get(UUID(user.id)).timezone == "America/Sao_Paulo"
    for body in ({}, {"timezone": None}, {"timezone": "x" * 256}):
        r = world.client.post("/api/v1/auths/update/timezone", headers=user.headers, json=body)
        assert r.status_code == 422
    assert world.container.store.get(UUID(user.id)).timezone == "America/Sao_Paulo"


def test_banners_round_trip(world):
    admin, user = _headers(world, "admin"), _headers(world, "user")
    banners = [_banner("Maintenance at noon"),
               _banner("Welcome", type="success", i18n={"fr": {"content": "Bienvenue"}})]
    r = world.client.post("/api/v1/configs/banners", headers=admin, json={"banners": banners})
    assert r.status_code == 200 and r.json() == banners
    assert world.client.get("/api/v1/configs/banners", headers=_headers(world, "user")).json() \
        == banners
    # Bad input changes nothing.
    for bad in ({"banners": [{"id": "x"}]}, {"banners": [_banner("x", timestamp=2**63)]},
                {"banners": "nope"}, {}):
        r = world.client.post("/api/v1/configs/banners", headers=admin, json=bad)
        assert r.status_code == 422, bad
    r = world.client.post("/api/v1/configs/banners", headers=user, json={"banners": []})
    assert r.status_code == 401
    assert world.client.get("/api/v1/configs/banners", headers=user).json() == banners
    assert world.client.post("/api/v1/configs/banners", headers=admin,
                             json={"banners": []}).json() == []


def test_prompt_suggestions_and_visibility_reach_the_apps_config(world):
    admin, user = _headers(world, "admin"), _headers(world, "user")
    suggestions = [{"title": ["Plan a trip", "to Lisbon"], "content": "Plan three days."}]
    i18n = {"fr": [{"title": ["Planifier", "un voyage"], "content": "Trois jours."}]}
    r = world.client.post("/api/v1/configs/suggestions", headers=admin,
                          json={"suggestions": suggestions, "i18n": i18n})
    assert r.status_code == 200 and r.json() == {"suggestions": suggestions, "i18n": i18n}
    r = world.client.post("/api/v1/configs/interface/visibility", headers=admin,
                          json={"visibility": {"sidebar.notes": False}})
    assert r.json() == {"visibility": {"sidebar.notes": False}}
    try:
        config = world.client.get("/api/config", headers=user).json()
        assert config["default_prompt_suggestions"] == suggestions
        assert config["default_prompt_suggestions_i18n"] == i18n
        assert config["ui"]["visibility"] == {"sidebar.notes": False}
        for path, bad in (("/api/v1/configs/suggestions", {"suggestions": [{"title": "x"}]}),
                          ("/api/v1/configs/suggestions", {}),
                          ("/api/v1/configs/interface/visibility", {"visibility": {"a": "yes"}})):
            assert world.client.post(path, headers=admin, json=bad).status_code == 422, bad
        assert world.client.get("/api/config", headers=user).json()[
            "default_prompt_suggestions"] == suggestions
    finally:
        world.client.post("/api/v1/configs/suggestions", headers=admin,
                          json={"suggestions": [], "i18n": None})
        world.client.post("/api/v1/configs/interface/visibility", headers=admin,
                          json={"visibility": {}})


def test_shared_folders_are_none(world):
    assert world.client.get("/api/v1/folders/shared", headers=_headers(world, "user")).json() \
        == []


def test_unknown_model_picture_is_the_default(world):
    r = world.client.get("/api/v1/models/model/profile/image", params={"id": "nope"},
                         headers=_headers(world, "user"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    r = world.client.get("/api/v1/models/model/profile/image", headers=_headers(world, "user"))
    assert r.status_code == 422  # the id is required


@pytest.mark.parametrize(("url", "location"), [
    ("/static/favicon.png", "/static/favicon.png"), ("/static/a/../b.png?v=1", "/static/b.png"),
    ("/static/../secret", None), ("/static/%2e%2e/secret", None), ("//evil.example/static/x", None),
])
def test_model_picture_on_the_apps_static_path(world, url, location):
    admin = _headers(world, "admin")
    model_id = f"pic-{uuid.uuid4().hex[:6]}"
    form = {"id": model_id, "name": "Pic", "base_model_id": "llama3",
            "meta": {"profile_image_url": url}, "params": {}, "access_grants": []}
    assert world.client.post("/api/v1/models/create", headers=admin, json=form).status_code == 200
    r = world.client.get("/api/v1/models/model/profile/image", params={"id": model_id},
                         headers=_headers(world, "admin"), follow_redirects=False)
    if location is None:
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    else:
        assert r.status_code == 302 and r.headers["location"] == location


def test_out_of_scope_lists_are_empty(world):
    user, admin = _headers(world, "user"), _headers(world, "admin")
    for path in ("/api/v1/functions/", "/api/v1/skills/", "/api/v1/terminals/",
                 "/api/v1/channels/"):
        assert world.client.get(path, headers=user).json() == [], path
    for path in ("/api/v1/functions/list", "/api/v1/functions/export"):
        assert world.client.get(path, headers=admin).json() == [], path
    assert world.client.get("/api/v1/skills/list", headers=user).json() == {"items": [],
                                                                             "total": 0}
    assert world.client.get("/api/v1/audio/voices", headers=user).json() == {"voices": []}
    assert world.client.get("/api/v1/pipelines/list", headers=admin).json() == {"data": []}
    assert world.client.get("/api/v1/configs/tool_servers", headers=admin).json() == \
        {"TOOL_SERVER_CONNECTIONS": []}
    assert world.client.get("/api/v1/configs/terminal_servers", headers=admin).json() == \
        {"TERMINAL_SERVER_CONNECTIONS": []}
    images = world.client.get("/api/v1/images/config", headers=admin).json()
    assert images["ENABLE_IMAGE_GENERATION"] is False and images["ENABLE_IMAGE_EDIT"] is False
    assert world.client.get("/api/v1/evaluations/config", headers=admin).json() == \
        {"ENABLE_EVALUATION_ARENA_MODELS": False, "EVALUATION_ARENA_MODELS": []}
    code = world.client.get("/api/v1/configs/code_execution", headers=admin).json()
    assert code["ENABLE_CODE_EXECUTION"] is False and code["ENABLE_CODE_INTERPRETER"] is False
    assert world.client.get("/api/version/updates", headers=user).json() == \
        {"current": "0.12.4", "latest": "0.12.4"}
    config = world.client.get("/api/v1/audio/config", headers=admin).json()
    assert config["tts"]["ENGINE"] == "" and config["stt"]["ENGINE"] == ""


def test_tools_export_and_list(world):
    from tests.tools.test_api import PLAIN

    admin = world.people.admin.headers
    tool_id = f"t_{uuid.uuid4().hex[:10]}"
    r = world.client.post("/api/v1/tools/create", headers=admin,
                          json={"id": tool_id, "name": "Ping", "content": PLAIN, "meta": {},
                                "access_control": {}})
    assert r.status_code == 200, r.text
    exported = world.client.get("/api/v1/tools/export", headers=_headers(world, "admin")).json()
    assert [t["content"] for t in exported if t["id"] == tool_id] == [PLAIN]
    listed = world.client.get("/api/v1/tools/list", headers=_headers(world, "admin")).json()
    assert [t["write_access"] for t in listed if t["id"] == tool_id] == [True]
    # A user without the export permission: 401, as 0.12.4; the private tool is not theirs.
    r = world.client.get("/api/v1/tools/export", headers=_headers(world, "user"))
    assert (r.status_code, r.json()["detail"]) == (401, Detail.UNAUTHORIZED)
    listed = world.client.get("/api/v1/tools/list", headers=_headers(world, "user")).json()
    assert tool_id not in [t["id"] for t in listed]


def test_models_all_and_tools_list(world):
    admin = _headers(world, "admin")
    form = {"id": f"preset-{uuid.uuid4().hex[:6]}", "name": "Preset", "base_model_id": "llama3",
            "meta": {}, "params": {}}
    assert world.client.post("/api/v1/models/create", headers=admin, json=form).status_code == 200
    ids = [m["id"] for m in world.client.get("/api/v1/models/all", headers=_headers(
        world, "admin")).json()]
    assert form["id"] in ids
    tools = world.client.get("/api/v1/tools/list", headers=_headers(world, "user")).json()
    assert isinstance(tools, list)


# -- settings ---------------------------------------------------------------------------------
def test_variables_round_trip(world):
    user = _headers(world, "user")
    variables = {"city": "Lisbon", "team_name": "Blue\nteam"}
    r = world.client.post("/api/v1/users/user/variables/update", headers=user,
                          json={"variables": variables})
    assert r.status_code == 200 and r.json() == {"variables": variables}
    assert world.client.get("/api/v1/users/user/variables", headers=user).json() == \
        {"variables": variables}
    other = world.client.get("/api/v1/users/user/variables", headers=world.people.other.headers)
    assert other.json() == {"variables": {}}
    # Bad input: 0.12.4's messages, and nothing written.
    for bad, detail in (({"Bad Key": "x"}, "Invalid user variable key: Bad Key"),
                        ({"n": 3}, "User variable must be a string: n"),
                        ({"long": "x" * 20_001}, "User variable is too long: long")):
        r = world.client.post("/api/v1/users/user/variables/update", headers=user,
                              json={"variables": bad})
        assert (r.status_code, r.json()["detail"]) == (400, detail)
    r = world.client.post("/api/v1/users/user/variables/update", headers=user,
                          json={"variables": ["x"]})
    assert r.status_code == 422
    assert world.client.get("/api/v1/users/user/variables", headers=user).json() == \
        {"variables": variables}
    cleared = world.client.post("/api/v1/users/user/variables/update", headers=user, json={})
    assert cleared.json() == {"variables": {}}


def test_archived_count(world):
    owner = world.fresh("Archivist")
    h = owner.headers
    assert world.client.get("/api/v1/chats/archived/count", headers=h).json() == 0
    ids = [world.client.post("/api/v1/chats/new", headers=h,
                             json={"chat": chat_doc(f"c{i}", "hi")}).json()["id"]
           for i in range(3)]
    for chat_id in ids[:2]:
        assert world.client.post(f"/api/v1/chats/{chat_id}/archive", headers=h).status_code == 200
    assert world.client.get("/api/v1/chats/archived/count", headers=h).json() == 2
    assert world.client.get("/api/v1/chats/archived/count",
                            headers=world.people.other.headers).json() == 0


def test_a_sidebar_folder_lists_its_chats_ten_at_a_time(world):
    owner = world.fresh("Sorter")
    h = owner.headers
    folder = world.client.post("/api/v1/folders/", headers=h, json={"name": "Pile"}).json()["id"]
    titles = [f"chat {i:02d}" for i in range(12)]
    for title in titles:
        chat_id = _chat(world, owner, title, "hi")
        r = world.client.post(f"/api/v1/chats/{chat_id}/folder", headers=h,
                              json={"folder_id": folder})
        assert r.status_code == 200, r.text
    _chat(world, owner, "loose", "hi")
    first = world.client.get(f"/api/v1/chats/folder/{folder}/list", headers=h).json()
    second = world.client.get(f"/api/v1/chats/folder/{folder}/list", params={"page": 2},
                              headers=h).json()
    assert (len(first), len(second)) == (10, 2)
    assert sorted(c["title"] for c in first + second) == titles
    stamps = [c["updated_at"] for c in first + second]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert set(first[0]) >= {"id", "title", "updated_at", "created_at", "last_read_at"}
    # Never unread (no read tracking): the app dots a chat whose last_read_at is missing.
    assert all(c["last_read_at"] == c["updated_at"] for c in first + second)
    r = world.client.post("/api/v1/chats/read", headers=h)
    assert r.json() == {"updated_count": 0, "folder_unread_counts": {}}
    by_title = world.client.get(f"/api/v1/chats/folder/{folder}/list", headers=h,
                                params={"sort_by": "title", "sort_dir": "asc"}).json()
    assert [c["title"] for c in by_title] == titles[:10]
    assert world.client.get(f"/api/v1/chats/folder/{folder}/list",
                            headers=world.people.other.headers).json() == []
    r = world.client.get(f"/api/v1/chats/folder/{folder}/list", params={"page": 0}, headers=h)
    assert r.status_code == 422


def test_shared_chats_list_the_callers_share_links(world):
    owner = world.fresh("Sharer")
    shared = _chat(world, owner, "Shared recipe", "hi")
    _chat(world, owner, "Private recipe", "hi")
    share_id = world.client.post(f"/api/v1/chats/{shared}/share",
                                 headers=owner.headers).json()["share_id"]
    body = world.client.get("/api/v1/chats/shared", headers=owner.headers).json()
    assert [(c["id"], c["title"], c["share_id"]) for c in body] == \
        [(shared, "Shared recipe", share_id)]
    assert set(body[0]) == {"id", "chat_id", "title", "share_id", "updated_at", "created_at"}
    assert world.client.get("/api/v1/chats/shared", params={"query": "private"},
                            headers=owner.headers).json() == []
    others = world.client.get("/api/v1/chats/shared", headers=world.people.other.headers)
    assert others.status_code == 200 and shared not in others.text
    assert world.client.get("/api/v1/chats/shared", params={"page": 0},
                            headers=owner.headers).status_code == 422


def test_chat_params_merge(world):
    owner = world.fresh("Tuner")
    chat_id = _chat(world, owner, "Tuned", "hi")
    path = f"/api/v1/chats/{chat_id}/params"
    r = world.client.patch(path, headers=owner.headers, json={"system": "Be brief."})
    assert r.status_code == 200 and r.json() == {"system": "Be brief."}
    r = world.client.patch(path, headers=owner.headers, json={"temperature": 0.2})
    assert r.json() == {"system": "Be brief.", "temperature": 0.2}
    chat = world.client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers).json()
    assert chat["chat"]["params"] == {"system": "Be brief.", "temperature": 0.2}
    for who, expected in ((None, 401), (world.people.pending.headers, 401),
                          (world.people.other.headers, 401), (world.people.admin.headers, 401)):
        r = world.client.patch(path, headers=who, json={"system": "mine now"})
        assert r.status_code == expected
    assert world.client.patch("/api/v1/chats/nope/params", headers=owner.headers,
                              json={}).json()["detail"] == Detail.ACCESS_PROHIBITED
    assert world.client.patch(path, headers=owner.headers, json=["x"]).status_code == 422
    chat = world.client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers).json()
    assert chat["chat"]["params"] == {"system": "Be brief.", "temperature": 0.2}


def test_user_info_shows_the_email_to_the_user_and_admins_only(world):
    user = world.people.user
    world.client.post("/api/v1/auths/update/timezone", headers=user.headers,
                      json={"timezone": "Asia/Tokyo"})
    path = f"/api/v1/users/{user.id}/info"
    for caller in (user, world.people.admin):
        body = world.client.get(path, headers=caller.headers).json()
        assert (body["id"], body["email"], body["role"], body["timezone"]) == \
            (user.id, user.email, "user", "Asia/Tokyo")
        assert body["groups"] == [] and isinstance(body["is_active"], bool)
    seen = world.client.get(path, headers=world.people.other.headers).json()
    assert seen["name"] and seen["email"] is None and seen["timezone"] is None
    assert user.email not in str(seen)
    r = world.client.get("/api/v1/users/nope/info", headers=user.headers)
    assert (r.status_code, r.json()["detail"]) == (400, Detail.USER_NOT_FOUND)


def test_builtin_permissions_ignore_the_admins_changes(world):
    from interfaces.schemas.users import default_user_permissions

    admin = world.people.admin.headers
    changed = default_user_permissions()
    changed["chat"]["delete"] = not changed["chat"]["delete"]
    assert world.client.post("/api/v1/users/default/permissions", headers=admin,
                             json=changed).status_code == 200
    try:
        r = world.client.get("/api/v1/users/default/permissions/defaults", headers=admin)
        assert r.json() == default_user_permissions()
    finally:
        reset(world)


def test_admin_details_for_the_pending_page(world):
    admin = world.people.admin
    r = world.client.get("/api/v1/auths/admin/details", headers=world.people.pending.headers)
    assert r.json() == {"name": "Admin", "email": admin.email}
    headers = admin.headers
    config = world.client.get("/api/v1/auths/admin/config", headers=headers).json()
    try:
        world.client.post("/api/v1/auths/admin/config", headers=headers,
                          json={**config, "ADMIN_EMAIL": world.people.user.email})
        r = world.client.get("/api/v1/auths/admin/details", headers=world.people.pending.headers)
        assert r.json() == {"name": "Alice", "email": world.people.user.email}
        world.client.post("/api/v1/auths/admin/config", headers=headers,
                          json={**config, "SHOW_ADMIN_DETAILS": False})
        r = world.client.get("/api/v1/auths/admin/details", headers=world.people.pending.headers)
        assert (r.status_code, r.json()["detail"]) == (400, Detail.ACTION_PROHIBITED)
    finally:
        reset(world)
    assert world.client.get("/api/v1/auths/admin/details").status_code == 401


# -- admin ------------------------------------------------------------------------------------
def test_added_user_signs_in_with_the_role_given(world):
    admin = _headers(world, "admin")
    form = {**_new_user(), "role": "admin", "email": f"New-{uuid.uuid4().hex[:6]}@Example.com"}
    r = world.client.post("/api/v1/auths/add", headers=admin, json=form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "token_type", "id", "email", "name", "role",
                         "profile_image_url"}
    assert (body["email"], body["role"], body["token_type"]) == \
        (form["email"].lower(), "admin", "Bearer")
    assert body["profile_image_url"] == f"/api/v1/users/{body['id']}/profile/image"
    signed = world.client.post("/api/v1/auths/signin",
                               json={"email": form["email"], "password": form["password"]})
    assert signed.status_code == 200 and signed.json()["role"] == "admin"
    new_admin = {"Authorization": f"Bearer {signed.json()['token']}"}
    assert world.client.get("/api/events", headers=new_admin).status_code == 200
    # A role left out is "pending", as 0.12.4.
    form = {k: v for k, v in _new_user().items() if k != "role"}
    assert world.client.post("/api/v1/auths/add", headers=admin, json=form).json()["role"] == \
        "pending"


def test_add_user_bad_input(world):
    admin = _headers(world, "admin")
    taken = world.people.user.email
    for form, detail in (({"email": "not-an-email"}, Detail.INVALID_EMAIL_FORMAT),
                         ({"email": taken.upper()}, Detail.EMAIL_TAKEN),
                         ({"role": "owner"}, Detail.ACTION_PROHIBITED),
                         ({"password": "x" * 73}, Detail.PASSWORD_TOO_LONG)):
        r = world.client.post("/api/v1/auths/add", headers=admin, json={**_new_user(), **form})
        assert (r.status_code, r.json()["detail"]) == (400, detail), form
    for missing in ("name", "email", "password"):
        form = {k: v for k, v in _new_user().items() if k != missing}
        assert world.client.post("/api/v1/auths/add", headers=admin, json=form).status_code \
            == 422
    # Nothing half-written: the refused address is still free.
    r = world.client.post("/api/v1/auths/add", headers=admin,
                          json={**_new_user(), "email": "not-an-email"})
    assert r.status_code == 400


# -- search -----------------------------------------------------------------------------------
def _chat(world: World, caller: Caller, title: str, *messages: str) -> str:
    r = world.client.post("/api/v1/chats/new", headers=caller.headers,
                          json={"chat": chat_doc(title, *messages)})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_search_finds_own_chats_never_anothers(world):
    alice, bob = world.fresh("Searcher"), world.fresh("Bystander")
    mine = _chat(world, alice, "Sourdough starter tips", "How do I feed it?")
    _chat(world, alice, "Unrelated", "nothing here")
    theirs = _chat(world, bob, "Sourdough for Bob", "secret sourdough notes")
    r = world.client.get("/api/v1/search", params={"q": "sourdough"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "has_more", "scopes", "kinds"}
    assert [i["id"] for i in body["items"]] == [f"chat:{mine}"]
    item = body["items"][0]
    assert (item["kind"], item["title"], item["url"], item["context"]) == \
        ("chat", "Sourdough starter tips", f"/c/{mine}", "Personal chat")
    assert body["has_more"] is False and body["kinds"] == ["chat"]
    # By message text too; never Bob's chat, whatever the query.
    found = world.client.get("/api/v1/search", params={"q": "feed"}, headers=alice.headers)
    assert [i["id"] for i in found.json()["items"]] == [f"chat:{mine}"]
    for q in ("secret", "bob", ""):
        ids = [i["id"] for i in world.client.get("/api/v1/search", params={"q": q},
                                                 headers=alice.headers).json()["items"]]
        assert f"chat:{theirs}" not in ids, q
    # Kinds and sharing Chronicle has no results for.
    for params in ({"q": "sourdough", "kind": "note"}, {"q": "sourdough", "sharing": "shared"},
                   {"q": "sourdough", "scope": "folder:nope"}):
        assert world.client.get("/api/v1/search", params=params,
                                headers=alice.headers).json()["items"] == [], params


def test_search_scopes_are_the_callers_folders(world):
    alice = world.fresh("Filer")
    folder = world.client.post("/api/v1/folders/", headers=alice.headers,
                               json={"name": "Baking"}).json()
    inside = _chat(world, alice, "Rye bread", "rye")
    _chat(world, alice, "Rye whiskey", "rye")
    r = world.client.post(f"/api/v1/chats/{inside}/folder", headers=alice.headers,
                          json={"folder_id": folder["id"]})
    assert r.status_code == 200, r.text
    body = world.client.get("/api/v1/search", params={"q": "rye", "scope": f"folder:{folder['id']}"},
                            headers=alice.headers).json()
    assert body["scopes"] == [{"id": f"folder:{folder['id']}", "name": "Baking", "kind": "folder"}]
    assert [(i["id"], i["context"]) for i in body["items"]] == [(f"chat:{inside}", "Baking")]


@pytest.mark.parametrize("params", [{"kind": "bogus"}, {"sharing": "everyone"}, {"page": 0},
                                    {"page": 100_001}, {"q": "x" * 501}, {"scope": "x" * 201}])
def test_search_bad_input(world, params):
    r = world.client.get("/api/v1/search", params=params, headers=_headers(world, "user"))
    assert r.status_code == 422
