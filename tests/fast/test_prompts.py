"""Prompts on the real service and aggregates (in-memory store): who may do what, unique
commands, and the history that is the prompt's event stream; plus the model and tool versions
their commit messages leave in their streams."""

from __future__ import annotations

from typing import Any

import pytest

from application.auth import Principal
from application.errors import BadRequest, Forbidden, NotFound, Unauthorized
from application.models import ModelInput
from application.prompts import PromptFilter, PromptInput
from application.tools import ToolInput
from domain.prompt import Prompt, PromptError, history
from tests.fast.fakes import Services

pytestmark = pytest.mark.fast


def grant(app: Services, **sections: dict[str, bool]) -> None:
    app.config.update({"DEFAULT_PERMISSIONS": sections})


def form(command: str = "greet", content: str = "Hello", **more: Any) -> PromptInput:
    return PromptInput(command=command, name=more.pop("name", "Greet"), content=content, **more)


def read_by(user_id: str, permission: str = "read") -> dict[str, Any]:
    return {permission: {"user_ids": [user_id], "group_ids": []}}


def test_creating_needs_the_workspace_permission(app: Services, user: Principal) -> None:
    with pytest.raises(Unauthorized):
        app.prompts.create(user, form())
    grant(app, workspace={"prompts": True})
    prompt = app.prompts.create(user, form()).value
    assert (prompt.user_id, prompt.access_control, prompt.production) == (user.id, {}, 1)


def test_private_unless_shared(app: Services, admin: Principal, user: Principal,
                               other: Principal) -> None:
    grant(app, workspace={"prompts": True})
    prompt_id = str(app.prompts.create(user, form()).value.id)
    assert app.prompts.get(user, prompt_id)["write_access"] is True
    assert app.prompts.get(admin, prompt_id)["id"] == prompt_id
    with pytest.raises(NotFound):
        app.prompts.get(other, prompt_id)
    with pytest.raises(Unauthorized):
        app.prompts.history(other, prompt_id, 0)
    with pytest.raises(Unauthorized):
        app.prompts.toggle(other, prompt_id)
    assert app.prompts.page(other, PromptFilter(), 1) == ([], 0)
    with pytest.raises(Forbidden):  # users may not share without sharing.prompts
        app.prompts.access_update(user, prompt_id, read_by(other.id))
    app.prompts.access_update(admin, prompt_id, read_by(other.id, "write"))
    assert app.prompts.get(other, prompt_id)["write_access"] is True
    assert [r["id"] for r in app.prompts.menu(other)] == [prompt_id]


def test_commands_are_unique(app: Services, admin: Principal) -> None:
    first = app.prompts.create(admin, form("greet")).value
    with pytest.raises(BadRequest):
        app.prompts.create(admin, form("greet"))
    second = app.prompts.create(admin, form("hello")).value
    with pytest.raises(BadRequest):
        app.prompts.update_meta(admin, str(second.id), "Hello", "greet", None)
    app.prompts.update_meta(admin, str(first.id), "Greet", "greet-2", None)
    app.prompts.update_meta(admin, str(second.id), "Hello", "greet", None)  # freed by the rename
    app.prompts.delete(admin, str(second.id))
    app.prompts.create(admin, form("greet"))  # freed by the delete


def test_history_is_the_stream(app: Services, admin: Principal, user: Principal) -> None:
    prompt_id = str(app.prompts.create(admin, form(content="one")).value.id)
    app.prompts.access_update(admin, prompt_id, read_by(user.id, "write"))
    app.prompts.update(user, prompt_id, form(content="two", commit_message="second"))
    app.prompts.update(admin, prompt_id, form(content="two"))  # no change: no revision
    app.prompts.toggle(admin, prompt_id)
    app.prompts.update(admin, prompt_id, form(content="three", commit_message="draft",
                                              production=False))
    revisions = app.prompts.history(admin, prompt_id, 0)
    assert [(r.commit_message, r.author) for r in revisions] == [
        ("draft", admin.id), ("second", user.id), ("Initial version", admin.id)]
    assert [r.snapshot["content"] for r in revisions] == ["three", "two", "one"]
    assert revisions[1].snapshot["access_control"] == read_by(user.id, "write")
    assert app.prompts.get(admin, prompt_id)["content"] == "two"  # a draft is not production

    diff = app.prompts.diff(admin, prompt_id, "1", str(revisions[0].version),
                            lambda r: dict(r.snapshot))
    assert {"op": "replace", "path": "/content", "value": "three"} in diff["patch"]
    assert diff["content_diff"][-2:] == ["-one", "+three"]

    app.prompts.set_production(admin, prompt_id, str(revisions[0].version))
    assert app.prompts.get(admin, prompt_id)["content"] == "three"
    with pytest.raises(BadRequest):
        app.prompts.delete_revision(admin, prompt_id, str(revisions[0].version))
    app.prompts.delete_revision(admin, prompt_id, str(revisions[1].version))
    kept = app.prompts.history(admin, prompt_id, 0)
    assert [r.parent for r in kept] == [1, None]


def test_the_history_fold_matches_the_aggregate() -> None:
    prompt = Prompt(user_id="u", command="c", name="N", content="a", data={}, meta={}, tags=[],
                    access_control={}, commit_message=None)
    prompt.revise("v", {"content": "b", "tags": ["t"]}, "b it")
    prompt.amend({"meta": {"m": 1}})
    assert not prompt.revise("v", {"content": "b", "tags": ["t"]}, "same")
    with pytest.raises(PromptError):
        prompt.hide(prompt.production)
    revisions = history(prompt.collect_events())
    assert [(r.version, r.author, r.commit_message) for r in revisions] == [
        (1, "u", None), (2, "v", "b it")]
    assert revisions[-1].snapshot == {**prompt.snapshot(), "meta": {}, "access_control": {}}


def test_model_and_tool_versions_carry_commit_messages(app: Services, admin: Principal,
                                                       other: Principal) -> None:
    made = ModelInput(id="helper", name="Helper", meta={}, params={}, base_model_id="llama3",
                      commit_message="first")
    app.models.create(admin, made)
    app.models.update(admin, ModelInput(**{**vars(made), "name": "Renamed",
                                           "commit_message": "rename"}))
    versions = app.models.history(admin, "helper", 1)
    assert [(v.version, v.commit_message, v.author) for v in versions] == [
        (2, "rename", ""), (1, "first", "")]  # the fake store records no actor metadata
    version, model = app.models.history_entry(admin, "helper", "1")
    assert model.name == "Helper"
    with pytest.raises(Forbidden):
        app.models.history(other, "helper", 1)
    with pytest.raises(NotFound):
        app.models.history_entry(admin, "helper", "7")

    tool = ToolInput(id="weather", name="Weather", content="# spec: a\n", meta={},
                     commit_message="v1")
    app.tools.create(admin, tool)
    app.tools.update(admin, "weather", ToolInput(**{**vars(tool), "content": "# spec: b\n",
                                                    "commit_message": "v2"}))
    assert [v.commit_message for v in app.tools.history(admin, "weather", 1)] == ["v2", "v1"]
    diff = app.tools.history_diff(admin, "weather", "1", "2", lambda t: {"content": t.content})
    assert diff["patch"] == [{"op": "replace", "path": "/content", "value": "# spec: b\n"}]
    with pytest.raises(Unauthorized):
        app.tools.history(other, "weather", 1)
