"""Models and tools take a commit message on create and update; their 0.12.4 history routes
read the versions from each item's event stream (on SQLite and on PostgreSQL + Redis)."""

from __future__ import annotations

import pytest

from tests.models.conftest import CALLERS, uid
from tests.models.helpers import create as create_model
from tests.models.helpers import model_form, seen

MODELS = "/api/v1/models"
TOOLS = "/api/v1/tools"
SOURCE = 'class Tools:\n    def ping(self) -> str:\n        """Pong."""\n        return "{}"\n'


def _status(client, people, who, method, url, **kwargs):
    headers = None if people.all()[who] is None else seen(client, getattr(people, who))
    return client.request(method, url, headers=headers, **kwargs).status_code


# ---- models ---------------------------------------------------------------------------------
def test_model_versions_with_commit_messages(client, people):
    mid = uid()
    create_model(client, people.admin, mid, commit_message="first cut")
    r = client.post(f"{MODELS}/model/update", headers=people.admin.headers,
                    json=model_form(mid, name="Sharper", commit_message="sharper name"))
    assert r.status_code == 200
    client.post(f"{MODELS}/model/toggle", params={"id": mid}, headers=people.admin.headers)
    client.post(f"{MODELS}/model/access/update", headers=people.admin.headers,
                json={"id": mid, "access_grants": []})  # neither is a version

    r = client.get(f"{MODELS}/model/history", params={"id": mid}, headers=people.admin.headers)
    assert r.status_code == 200
    history = r.json()
    assert [h["commit_message"] for h in history] == ["sharper name", "first cut"]
    assert [h["user_id"] for h in history] == [people.admin.id] * 2
    assert history[0]["parent_id"] == history[1]["id"] and history[1]["parent_id"] is None
    assert all(h["model_id"] == mid and "snapshot" not in h for h in history)

    r = client.get(f"{MODELS}/model/history/{history[1]['id']}", params={"id": mid},
                   headers=people.admin.headers)
    assert r.status_code == 200
    snapshot = r.json()["snapshot"]
    assert snapshot["name"] == "Helper" and snapshot["base_model_id"] == "llama3:8b"
    assert snapshot["params"]["system"] == "You are helpful."

    r = client.get(f"{MODELS}/model/history/99", params={"id": mid}, headers=people.admin.headers)
    assert r.status_code == 404 and r.json()["detail"] == "Model version not found"
    assert client.get(f"{MODELS}/model/history", params={"id": uid()},
                      headers=people.admin.headers).status_code == 404


def test_who_may_read_a_models_history(client, people, permissions):
    permissions(workspace={"models": True})
    mid = create_model(client, people.user)["id"]
    for path in ("/model/history", "/model/history/1"):
        got = {who: _status(client, people, who, "GET", f"{MODELS}{path}", params={"id": mid})
               for who in CALLERS}
        assert got == dict(zip(CALLERS, [401, 401, 200, 403, 200], strict=True)), path


def test_bad_model_commit_messages_write_nothing(client, people, container):
    head = container.store.head()
    for message in ("x" * 10_001, "nul\x00", 7):
        r = client.post(f"{MODELS}/create", json=model_form(uid(), commit_message=message),
                        headers=people.admin.headers)
        assert r.status_code == 422
    assert container.store.head() == head


# ---- tools ----------------------------------------------------------------------------------
@pytest.fixture
def tool(client, people, permissions):
    """A tool owned by `people.user`, created and then changed once."""
    permissions(workspace={"tools": True})
    tid = uid("t").replace("-", "_")
    body = {"id": tid, "name": "Ping", "content": SOURCE.format("pong"),
            "meta": {"description": "d"}, "commit_message": "ping"}
    r = client.post(f"{TOOLS}/create", json=body, headers=people.user.headers)
    assert r.status_code == 200, r.text
    r = client.post(f"{TOOLS}/id/{tid}/update", headers=people.user.headers,
                    json={**body, "content": SOURCE.format("PONG"), "commit_message": "louder"})
    assert r.status_code == 200, r.text
    return tid


def test_tool_versions_and_diff(client, people, tool):
    h = people.user.headers
    history = client.get(f"{TOOLS}/id/{tool}/history", headers=h).json()
    assert [v["commit_message"] for v in history] == ["louder", "ping"]
    assert history[0]["user"] == {"name": "Alice"} and history[0]["tool_id"] == tool

    entry = client.get(f"{TOOLS}/id/{tool}/history/{history[1]['id']}", headers=h).json()
    assert entry["snapshot"]["content"] == SOURCE.format("pong")
    assert entry["snapshot"]["meta"] == {"description": "d"}  # without what the server derives

    diff = client.get(f"{TOOLS}/id/{tool}/history/diff", headers=h,
                      params={"from_id": history[1]["id"], "to_id": history[0]["id"]}).json()
    assert '-        return "pong"' in diff["content_diff"].splitlines()
    assert diff["metadata"] == {} and diff["line_endings_only"] is False
    assert [op["path"] for op in diff["patch"]] == ["/content"]

    assert client.get(f"{TOOLS}/id/{tool}/history/9", headers=h).status_code == 404
    r = client.get(f"{TOOLS}/id/{tool}/history/diff", headers=h,
                   params={"from_id": "1", "to_id": "9"})
    assert r.status_code == 404 and r.json()["detail"] == "Version not found"


def test_who_may_read_a_tools_history(client, people, tool):
    for path, params in (("/history", {}), ("/history/1", {}),
                         ("/history/diff", {"from_id": "1", "to_id": "2"})):
        got = {who: _status(client, people, who, "GET", f"{TOOLS}/id/{tool}{path}",
                            params=params) for who in CALLERS}
        assert got == dict(zip(CALLERS, [401, 401, 200, 401, 200], strict=True)), path
