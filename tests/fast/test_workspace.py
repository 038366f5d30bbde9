"""Models with access grants, tools (fake ToolCode instead of the sandbox), config and
connections, on the real services."""

from __future__ import annotations

from typing import Any

import pytest

from application.auth import Principal
from application.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from application.models import ModelInput
from application.tools import ToolInput
from tests.fast.fakes import Services

pytestmark = pytest.mark.fast

TOOL = "# title: Weather\n# spec: forecast\n# valves: api_key\n# user_valves: units\n"


def grant_workspace(app: Services, **sections: dict[str, bool]) -> None:
    """What the admin saves as the default user permissions."""
    app.config.update({"DEFAULT_PERMISSIONS": sections})


def read_by(*user_ids: str) -> dict[str, Any]:
    return {"read": {"user_ids": list(user_ids), "group_ids": []},
            "write": {"user_ids": [], "group_ids": []}}


def model(model_id: str, access: dict[str, Any] | None = None, sent: bool = False) -> ModelInput:
    return ModelInput(id=model_id, name=model_id.title(), meta={}, params={},
                      base_model_id="llama3", access_control=access,
                      sent=frozenset({"access_control"} if sent else ()))


def test_users_need_the_workspace_permission_for_models(app: Services, user: Principal) -> None:
    with pytest.raises(Unauthorized):
        app.models.create(user, model("helper"))
    grant_workspace(app, workspace={"models": True})
    created = app.models.create(user, model("helper")).value
    assert (created.user_id, created.access_control) == (user.id, {})  # private by default


def test_a_private_model_is_its_owners_and_the_admins(app: Services, admin: Principal,
                                                      user: Principal, other: Principal) -> None:
    grant_workspace(app, workspace={"models": True})
    app.models.create(user, model("helper"))
    assert app.models.get(user, "helper")["write_access"] is True
    assert app.models.get(admin, "helper")["id"] == "helper"
    with pytest.raises(Unauthorized):
        app.models.get(other, "helper")
    with pytest.raises(Conflict):
        app.models.create(user, model("helper"))


def test_grants_a_user_may_not_give_are_dropped_on_create(app: Services, user: Principal,
                                                          other: Principal) -> None:
    grant_workspace(app, workspace={"models": True})  # but no sharing.models
    created = app.models.create(user, model("helper", read_by(other.id), sent=True)).value
    assert created.access_control == {}
    with pytest.raises(Unauthorized):
        app.models.get(other, "helper")


def test_a_read_grant_opens_the_model_to_that_user_only(app: Services, user: Principal,
                                                        other: Principal) -> None:
    grant_workspace(app, workspace={"models": True}, sharing={"models": True})
    app.models.create(user, model("helper", read_by(other.id), sent=True))
    seen = app.models.get(other, "helper")
    assert (seen["id"], seen["write_access"]) == ("helper", False)
    with pytest.raises(BadRequest):  # read is not write
        app.models.update(other, model("helper"))


def test_access_update_refuses_grants_the_caller_may_not_give(app: Services, user: Principal,
                                                              other: Principal) -> None:
    grant_workspace(app, workspace={"models": True})
    app.models.create(user, model("helper"))
    with pytest.raises(Forbidden):
        app.models.access_update(user, "helper", None, read_by(other.id))
    grant_workspace(app, workspace={"models": True}, sharing={"models": True})
    app.models.access_update(user, "helper", None, read_by(other.id))
    assert app.models.get(other, "helper")["id"] == "helper"


def test_a_deleted_model_id_can_be_used_again(app: Services, admin: Principal) -> None:
    app.models.create(admin, model("helper"))
    app.models.delete(admin, "helper")
    with pytest.raises(NotFound):
        app.models.get(admin, "helper")
    assert app.models.create(admin, model("helper")).value.deleted is False


def tool(tool_id: str = "weather", content: str = TOOL) -> ToolInput:
    return ToolInput(id=tool_id, name="Weather", content=content, meta={})


def test_a_tool_keeps_what_its_source_declares(app: Services, admin: Principal) -> None:
    created = app.tools.create(admin, tool()).value
    assert [s["name"] for s in created.specs] == ["forecast"]
    assert created.meta["manifest"] == {"title": "Weather"}
    assert created.meta["has_user_valves"] is True
    with pytest.raises(BadRequest):
        app.tools.create(admin, tool("weather"))  # the id is taken
    with pytest.raises(BadRequest):
        app.tools.create(admin, tool("broken", "# broken"))
    with pytest.raises(BadRequest):
        app.tools.create(admin, tool("not-an-id"))


def test_tools_need_the_workspace_permission(app: Services, user: Principal) -> None:
    with pytest.raises(Unauthorized):
        app.tools.create(user, tool())
    grant_workspace(app, workspace={"tools": True})
    assert app.tools.create(user, tool()).value.user_id == user.id


def test_valves_are_validated_and_user_valves_are_per_user(app: Services, admin: Principal,
                                                           user: Principal) -> None:
    app.tools.create(admin, tool())
    app.tools.access_update(admin, "weather", read_by(user.id))
    app.tools.set_valves(admin, "weather", {"api_key": "k"})
    assert app.tools.valves(admin, "weather") == {"api_key": "k"}
    with pytest.raises(BadRequest):
        app.tools.set_valves(admin, "weather", {"nonsense": 1})
    with pytest.raises(Unauthorized):  # valves need write access
        app.tools.valves(user, "weather")
    app.tools.set_user_valves(user, "weather", {"units": "metric"})
    assert app.tools.user_valves(user, "weather") == {"units": "metric"}
    assert app.tools.user_valves(admin, "weather") == {}


def test_the_config_survives_a_fresh_cache_and_connections_read_it(app: Services) -> None:
    app.config.update({"ENABLE_SIGNUP": False})
    app.config._cached = None  # what another worker sees: the stored aggregate
    assert app.config.get("ENABLE_SIGNUP") is False
    app.connections.update_openai(True, ["http://llm.local/v1/ "], ["sk-1", "extra"], {})
    openai = app.connections.openai()
    assert openai["OPENAI_API_BASE_URLS"] == ["http://llm.local/v1"]
    assert openai["OPENAI_API_KEYS"] == ["sk-1"]  # one key per URL
    app.connections.update_ollama(False, ["http://ollama:11434"], {"0": {"key": "ok"}})
    ollama = app.connections.ollama()
    assert ollama["ENABLE_OLLAMA_API"] is False
    assert ollama["OLLAMA_API_CONFIGS"]["0"]["key"] == "ok"
    assert [c.base_url for c in app.connections.enabled()] == ["http://llm.local/v1"]
