"""The auths/users/meta schemas against the Open WebUI 0.12.4 OpenAPI document.

Every model named after a 0.12.4 component must carry the same fields (by wire name),
the same required set and the same scalar defaults; a sample payload synthesised from
each component must survive validate → dump unchanged. Bad input must be a 422.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from interfaces.schemas import auths, meta, users
from interfaces.schemas.errors import Detail

REPO = Path(__file__).resolve().parents[2]
OPENAPI_PATH = Path(
    os.environ.get(
        "CHRONICLE_OPENAPI",
        REPO.parent / "shared" / "reference" / "openwebui-0.12.4-openapi.json",
    )
)

# our model -> 0.12.4 OpenAPI component
COMPONENTS: dict[type[BaseModel], str] = {
    auths.SigninForm: "SigninForm",
    auths.SignupForm: "SignupForm",
    auths.LdapForm: "LdapForm",
    auths.UpdatePasswordForm: "UpdatePasswordForm",
    auths.UpdateProfileForm: "UpdateProfileForm",
    auths.SessionUserResponse: "SessionUserResponse",
    auths.SessionUserInfoResponse: "SessionUserInfoResponse",
    auths.MfaChallengeResponse: "MfaChallengeResponse",
    auths.PendingUserResponse: "PendingUserResponse",
    auths.ApiKey: "ApiKey",
    auths.AdminConfig: "AdminConfig",
    users.UserProfileImageResponse: "UserProfileImageResponse",
    users.UserModel: "UserModel",
    users.UserGroupIdsModel: "UserGroupIdsModel",
    users.UserGroupIdsListResponse: "UserGroupIdsListResponse",
    users.UserInfoResponse: "UserInfoResponse",
    users.UserInfoListResponse: "UserInfoListResponse",
    users.UserActiveResponse: "UserActiveResponse",
    users.UserSettings: "UserSettings",
    users.UserStatus: "UserStatus",
    users.UserUpdateForm: "UserUpdateForm",
    users.UserNameResponse: "UserNameResponse",
    users.UserResponse: "open_webui__models__users__UserResponse",
    users.UserPermissions: "UserPermissions",
    users.WorkspacePermissions: "WorkspacePermissions",
    users.SharingPermissions: "SharingPermissions",
    users.AccessGrantsPermissions: "AccessGrantsPermissions",
    users.ChatPermissions: "ChatPermissions",
    users.FeaturesPermissions: "FeaturesPermissions",
    users.SettingsPermissions: "SettingsPermissions",
}


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    if not OPENAPI_PATH.is_file():
        pytest.skip(f"reference OpenAPI not found at {OPENAPI_PATH}")
    return json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]


def wire_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def _resolve(schemas: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]]
    return node


def sample(schemas: dict[str, Any], node: dict[str, Any], name: str = "") -> Any:
    """A minimal valid instance of an OpenAPI schema node (defaults where given)."""
    node = _resolve(schemas, node)
    if "default" in node:
        return node["default"]
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    if "anyOf" in node:
        branch = next(b for b in node["anyOf"] if b.get("type") != "null")
        return sample(schemas, branch, name)
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties", {})
        if not props:
            return {}
        return {key: sample(schemas, sub, key) for key, sub in props.items()}
    if kind == "array":
        return []
    if kind == "boolean":
        return True
    if kind == "integer":
        return 1700000000 if name.endswith("_at") else 1
    if kind == "string":
        if node.get("format") == "date":
            return "2024-01-01"
        return {
            "email": "ada@example.com",
            "role": "user",
            "profile_image_url": "/user.png",
            "password": "correct horse",
            "new_password": "battery staple",
        }.get(name, f"{name or 'value'}-1")
    raise AssertionError(f"unhandled schema node {node}")


@pytest.mark.parametrize("model", list(COMPONENTS), ids=lambda m: m.__name__)
def test_fields_required_and_defaults_match_openapi(schemas, model):
    component = schemas[COMPONENTS[model]]
    ours = wire_fields(model)
    theirs = component.get("properties", {})
    assert set(ours) == set(theirs)
    assert {k for k, f in ours.items() if f.is_required()} == set(component.get("required", []))
    for key, prop in theirs.items():
        if "default" in prop:
            assert ours[key].get_default(call_default_factory=True) == prop["default"], key
    allows_extra = model.model_config.get("extra") == "allow"
    assert allows_extra == bool(component.get("additionalProperties")), "extra"


@pytest.mark.parametrize("model", list(COMPONENTS), ids=lambda m: m.__name__)
def test_openapi_sample_round_trips(schemas, model):
    payload = sample(schemas, schemas[COMPONENTS[model]])
    dumped = model.model_validate(payload).model_dump(mode="json", by_alias=True)
    assert {k: dumped[k] for k in payload} == payload


def test_session_response_as_the_reference_describes_it():
    uid = "3f0c9a4e-1111-4c1e-9d5e-2b1f0c9a4e11"
    body = {
        "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        "token_type": "Bearer",
        "expires_at": 1735689600,
        "id": uid,
        "email": "ada@example.com",
        "name": "Ada",
        "role": "admin",
        "profile_image_url": f"/api/v1/users/{uid}/profile/image",
        "permissions": users.default_user_permissions(),
    }
    model = auths.SessionUserResponse.model_validate(body)
    assert model.model_dump(mode="json") == body
    assert set(body["permissions"]) == {
        "workspace",
        "sharing",
        "access_grants",
        "chat",
        "features",
        "settings",
    }
    info = auths.SessionUserInfoResponse.model_validate(
        {**body, "expires_at": None, "bio": None, "date_of_birth": "1815-12-10"}
    )
    assert info.model_dump(mode="json")["date_of_birth"] == "1815-12-10"
    assert info.status_message is None


def test_permissions_wire_form_uses_import_and_accepts_it_back():
    wire = users.default_user_permissions()
    assert wire["chat"]["import"] is True and "import_" not in wire["chat"]
    assert wire["features"]["api_keys"] is False and wire["settings"]["interface"] is True
    wire["chat"]["import"] = False
    parsed = users.UserPermissions.model_validate(wire)
    assert parsed.chat.import_ is False
    assert parsed.model_dump()["chat"]["import"] is False
    legacy = users.UserPermissions.from_stored({"chat": {"import": False}, "workspace": {}})
    assert legacy.chat.import_ is False and legacy.access_grants.allow_groups is True
    with pytest.raises(ValidationError):
        users.UserPermissions.model_validate({"workspace": {}})  # sections are required


def test_lists_settings_and_active_shapes():
    row = {
        "id": "u1",
        "email": "a@example.com",
        "name": "A",
        "role": "user",
        "last_active_at": 1,
        "updated_at": 1,
        "created_at": 1,
    }
    page = users.UserGroupIdsListResponse.model_validate({"users": [row], "total": 31})
    assert page.users[0].group_ids == [] and page.total == 31
    info = users.UserInfoListResponse.model_validate({"users": [row], "total": 1})
    assert info.users[0].is_active is False and info.users[0].groups == []
    settings = users.UserSettings.model_validate({"ui": {"theme": "dark"}, "system": "hi"})
    assert settings.model_dump() == {"ui": {"theme": "dark"}, "system": "hi"}
    active = users.UserActiveResponse.model_validate(
        {**row, "groups": [{"id": "g1", "name": "Team"}], "is_active": True}
    )
    assert active.model_dump()["email"] == "a@example.com"  # extra keys kept
    assert users.UserActiveStatusResponse(active=False).model_dump() == {"active": False}


def test_admin_config_defaults_validate_and_round_trip():
    config = auths.AdminConfig.model_validate(auths.ADMIN_CONFIG_DEFAULTS)
    assert config.model_dump() == auths.ADMIN_CONFIG_DEFAULTS
    with pytest.raises(ValidationError):
        auths.AdminConfig.model_validate({"ENABLE_SIGNUP": True})  # partial body → 422


def test_meta_defaults():
    assert meta.HealthResponse().model_dump() == {"status": True}
    assert meta.VersionResponse().model_dump() == {"version": "0.12.4", "deployment_id": ""}
    anonymous = meta.AppConfigResponse(onboarding=True, features=meta.AppConfigFeatures())
    dumped = anonymous.model_dump(exclude_unset=True)
    assert dumped["onboarding"] is True and "permissions" not in dumped


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/user.png",
        "/api/v1/users/abc/profile/image",
        "https://cdn.example.com/a.png",
        "data:image/png;base64,iVBORw0KGgo=",
    ],
)
def test_profile_image_url_accepted(url):
    assert users.validate_profile_image_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "//evil.example/x.png",
        "/api/v1/auths/signout",
        "https://",
        "file:///etc/passwd",
    ],
)
def test_profile_image_url_rejected(url):
    with pytest.raises(ValueError):
        users.validate_profile_image_url(url)


def test_bad_input_is_422_not_500():
    app = FastAPI()

    @app.post("/signup")
    def signup(form: auths.SignupForm) -> dict[str, str]:
        return {"ok": form.email}

    @app.post("/update")
    def update(form: users.UserUpdateForm) -> dict[str, str | None]:
        return {"role": form.role}

    client = TestClient(app)
    good = {"name": "Ada", "email": "ada@example.com", "password": "x" * 100}
    assert client.post("/signup", json=good).status_code == 200  # >72 bytes is the app's 400
    for bad in (
        {**good, "password": "é" * 2049},  # 4098 bytes
        {**good, "name": "n" * 256},
        {**good, "email": "e" * 321},
        {**good, "profile_image_url": "javascript:alert(1)"},
        {"name": "Ada", "email": "ada@example.com"},
    ):
        response = client.post("/signup", json=bad)
        assert response.status_code == 422, bad
        assert isinstance(response.json()["detail"], list)
    assert client.post("/update", json={"role": "superuser"}).status_code == 422
    assert client.post("/update", json={"role": "pending"}).json() == {"role": "pending"}


def test_detail_strings():
    assert Detail.NOT_AUTHENTICATED == "Not authenticated"
    assert Detail.UNAUTHORIZED == "401 Unauthorized"
    assert Detail.INVALID_TOKEN_SHORT == "Invalid token"
    assert Detail.HUMAN_SESSION_REQUIRED == "A human session is required."
    assert Detail.RATE_LIMIT_EXCEEDED == "API rate limit exceeded"
    not_found = "We could not find what you're looking for :/"
    assert Detail.NOT_FOUND == Detail.USER_NOT_FOUND == not_found
    assert Detail.ACCESS_PROHIBITED.startswith("You do not have permission to access this")
    assert Detail.INVALID_CRED.endswith("try logging in again.")
    assert Detail.API_KEY_NOT_ALLOWED == "Use of API key is not enabled in the environment."
    assert Detail.CANNOT_DELETE_SELF == Detail.ACTION_PROHIBITED
    assert Detail.DEFAULT() == "Something went wrong :/"
    assert Detail.DEFAULT("boom") == "[ERROR: boom]"
    assert Detail.DEFAULT(RuntimeError("secret")) == "Something went wrong :/"
    assert Detail.DEFAULT(RuntimeError("x"), fallback="disk") == "[ERROR: disk]"
    assert Detail.MODEL_NOT_FOUND("gpt") == "Model 'gpt' was not found"
    assert Detail.FILE_TOO_LARGE("10 MB").endswith("less than 10 MB.")
