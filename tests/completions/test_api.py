"""Connections, the model list and REST chat completions end to end, on SQLite and on
PostgreSQL + Redis, against the test language-model server (a real HTTP server in its own
process: tests/llm_server.py)."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import pytest

from tests.completions.conftest import KEY, Upstream
from tests.models.helpers import seen

EVERYONE = {"principal_type": "user", "principal_id": "*", "permission": "read"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def connected(client: Any, people: Any, upstream: Upstream) -> Upstream:
    """The test server as an OpenAI connection and an Ollama connection, plus a dead one."""
    admin = people.admin.headers
    r = client.post("/openai/config/update", headers=admin, json={
        "ENABLE_OPENAI_API": True,
        "OPENAI_API_BASE_URLS": [upstream.openai_url, f"http://127.0.0.1:{_free_port()}/v1"],
        "OPENAI_API_KEYS": [KEY],
        "OPENAI_API_CONFIGS": {"0": {"enable": True, "tags": ["test"]}, "7": {"enable": True}}})
    assert r.status_code == 200, r.text
    r = client.post("/ollama/config/update", headers=admin, json={
        "ENABLE_OLLAMA_API": True, "OLLAMA_BASE_URLS": [upstream.ollama_url],
        "OLLAMA_API_CONFIGS": {"0": {"prefix_id": "local"}}})
    assert r.status_code == 200, r.text
    return upstream


def _chat(client: Any, caller: Any, model: str, text: str = "hello there", **extra: Any) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/api/chat/completions", json=body, headers=seen(client, caller))


def _streamed(response: Any) -> tuple[str, list[dict[str, Any]]]:
    lines = [ln for ln in response.text.split("\n\n") if ln.strip()]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[len("data: "):]) for ln in lines[:-1]]
    text = "".join((c.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
                   for c in chunks)
    return text, chunks


# ---- connection settings --------------------------------------------------------------------
def test_openai_config_is_admins_only_and_normalised(client, people, connected):
    for who, status in (("user", 401), ("pending", 401)):
        caller = getattr(people, who)
        assert client.get("/openai/config", headers=caller.headers).status_code == status
        assert client.post("/openai/config/update", headers=caller.headers, json={
            "OPENAI_API_BASE_URLS": [], "OPENAI_API_KEYS": [],
            "OPENAI_API_CONFIGS": {}}).status_code == status
    got = client.get("/openai/config", headers=people.admin.headers).json()
    assert got["OPENAI_API_BASE_URLS"][0] == connected.openai_url
    assert got["OPENAI_API_KEYS"] == [KEY, ""]  # padded to the URLs, as 0.12.4
    assert set(got["OPENAI_API_CONFIGS"]) == {"0"}  # an index without a URL is dropped
    ollama = client.get("/ollama/config", headers=people.admin.headers).json()
    assert ollama["OLLAMA_BASE_URLS"] == [connected.ollama_url]


def test_keys_are_encrypted_in_the_log_and_redacted_in_the_audit_view(client, people,
                                                                     container, connected):
    store = container.store
    raw = b"".join(bytes(e.state) for e in store.app.recorder.select_notifications(1, 100000))
    assert KEY.encode() not in raw
    r = client.get("/api/v1/audit/events", params={"kind": "config", "limit": 50},
                   headers=seen(client, people.admin))
    assert r.status_code == 200, r.text
    assert KEY not in r.text


def test_bad_connection_settings_are_refused(client, people):
    admin = people.admin.headers
    before = client.get("/openai/config", headers=admin).json()
    for body in ({"OPENAI_API_BASE_URLS": ["ftp://x"], "OPENAI_API_KEYS": [],
                  "OPENAI_API_CONFIGS": {}},
                 {"OPENAI_API_BASE_URLS": "http://x", "OPENAI_API_KEYS": [],
                  "OPENAI_API_CONFIGS": {}},
                 {"OPENAI_API_KEYS": []}):
        assert client.post("/openai/config/update", headers=admin, json=body).status_code == 422
    assert client.get("/openai/config", headers=admin).json() == before


def test_configs_connections_and_models(client, people):
    admin = people.admin.headers
    assert client.get("/api/v1/configs/connections", headers=people.user.headers
                      ).status_code == 401
    r = client.post("/api/v1/configs/connections", headers=admin, json={
        "ENABLE_DIRECT_CONNECTIONS": True, "ENABLE_BASE_MODELS_CACHE": False})
    assert r.status_code == 200 and r.json()["ENABLE_DIRECT_CONNECTIONS"] is True
    r = client.post("/api/v1/configs/models", headers=admin, json={
        "DEFAULT_MODELS": "echo", "DEFAULT_PINNED_MODELS": None, "MODEL_ORDER_LIST": ["echo"],
        "DEFAULT_MODEL_METADATA": {"capabilities": {"vision": False}}})
    assert r.status_code == 200 and r.json()["MODEL_ORDER_LIST"] == ["echo"]
    assert client.get("/api/v1/configs/models", headers=admin).json()["DEFAULT_MODELS"] == "echo"
    assert client.post("/api/v1/configs/models", headers=people.user.headers,
                       json={"DEFAULT_MODELS": "x"}).status_code == 401
    r = client.get("/api/v1/configs/models/defaults", headers=people.user.headers)
    assert r.status_code == 200
    assert r.json() == {"DEFAULT_MODEL_METADATA": {"capabilities": {"vision": False}}}


# ---- the model list -------------------------------------------------------------------------
def test_admins_see_every_connection_model_a_dead_one_drops_out(client, people, connected):
    r = client.get("/api/models", headers=seen(client, people.admin))
    assert r.status_code == 200
    models = {m["id"]: m for m in r.json()["data"]}
    assert {"echo", "inspect", "local.llama-test:latest"} <= set(models)
    echo = models["echo"]
    assert echo["owned_by"] == "openai" and echo["urlIdx"] == 0
    assert echo["tags"] == [{"name": "test"}] and echo["actions"] == [] == echo["filters"]
    assert echo["openai"]["id"] == "echo" and "connection_type" in echo
    assert models["local.llama-test:latest"]["owned_by"] == "ollama"
    base = client.get("/api/models/base", headers=people.admin.headers)
    assert base.status_code == 200 and "echo" in {m["id"] for m in base.json()["data"]}
    assert client.get("/api/models/base", headers=people.user.headers).status_code == 401


def test_users_see_a_connection_model_once_it_is_shared(client, people, fresh, connected):
    user = fresh("Chatter")
    assert "inspect" not in {m["id"] for m in client.get(
        "/api/models", headers=seen(client, user)).json()["data"]}
    assert _chat(client, user, "inspect").status_code == 400
    r = client.post("/api/v1/models/model/access/update", headers=people.admin.headers,
                    json={"id": "inspect", "name": "Inspect", "access_grants": [EVERYONE]})
    assert r.status_code == 200, r.text
    listed = {m["id"]: m for m in client.get("/api/models",
                                             headers=seen(client, user)).json()["data"]}
    assert "inspect" in listed and listed["inspect"]["info"]["name"] == "Inspect"
    assert _chat(client, user, "inspect").status_code == 200
    client.cookies.clear()  # the last sign-up's cookie: anonymous means none
    assert client.get("/api/models").status_code == 401


def test_lists_of_one_connection(client, people, connected):
    r = client.get("/openai/models/0", headers=people.user.headers)
    assert r.status_code == 200 and "echo" in {m["id"] for m in r.json()["data"]}
    assert client.get("/openai/models/1", headers=people.user.headers).status_code >= 500
    assert client.get("/openai/models/9", headers=people.user.headers).status_code == 404
    tags = client.get("/ollama/api/tags", headers=people.user.headers).json()
    assert [m["model"] for m in tags["models"]] == ["local.llama-test:latest"]
    assert client.get("/ollama/api/version", headers=people.user.headers).json() == {
        "version": "0.9.0-test"}
    r = client.post("/openai/verify", headers=people.admin.headers,
                    json={"url": connected.openai_url, "key": "wrong"})
    assert r.status_code == 401 and r.json()["detail"] == "Incorrect API key provided"
    assert client.post("/openai/verify", headers=people.user.headers,
                       json={"url": connected.openai_url, "key": KEY}).status_code == 401


# ---- completions ----------------------------------------------------------------------------
def test_a_completion_and_a_stream(client, people, connected):
    r = _chat(client, people.admin, "echo")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "You said: hello there"
    r = _chat(client, people.admin, "echo", stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    text, chunks = _streamed(r)
    assert text == "You said: hello there" and chunks[-1]["usage"]["completion_tokens"] == 4


def test_ollama_models_answer_in_openai_shapes(client, people, connected):
    r = _chat(client, people.admin, "local.llama-test:latest")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "You said: hello there"
    text, chunks = _streamed(_chat(client, people.admin, "local.llama-test:latest", stream=True))
    assert text == "You said: hello there"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_preset_applies_its_base_model_system_prompt_and_params(client, people, connected):
    preset = f"brief-{uuid.uuid4().hex[:6]}"
    r = client.post("/api/v1/models/create", headers=people.admin.headers, json={
        "id": preset, "name": "Brief", "base_model_id": "inspect", "meta": {},
        "params": {"system": "Be brief.", "temperature": 0.3}, "access_grants": [EVERYONE]})
    assert r.status_code == 200, r.text
    r = _chat(client, people.user, preset, temperature=0.9, chat_id="c1", files=[{"id": "x"}])
    assert r.status_code == 200, r.text
    sent = json.loads(r.json()["choices"][0]["message"]["content"])
    assert sent["model"] == "inspect" and sent["temperature"] == 0.3
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "chat_id" not in sent and "files" not in sent  # the app's fields stay here


@pytest.mark.parametrize(("model", "status", "detail"), [
    ("fault-401", 401, "Incorrect API key provided"),
    ("fault-429", 429, "Rate limit reached"),
    ("fault-500", 500, "The server had an error")])
def test_upstream_errors_pass_through(client, people, connected, model, status, detail):
    for stream in (False, True):
        r = _chat(client, people.admin, model, stream=stream)
        assert r.status_code == status and r.json()["detail"] == detail
        assert r.json()["error"]["message"] == detail


def test_a_stream_cut_midway_says_so_and_ends(client, people, connected):
    r = _chat(client, people.admin, "drop-mid", text="one two three four five six", stream=True)
    assert r.status_code == 200
    text, chunks = _streamed(r)
    assert text == "You said: one "  # three tokens, then the connection drops
    assert chunks[-1] == {"error": {"message": "Chat completion stream failed"}}


def test_a_slow_first_token_still_arrives(client, people, connected):
    r = _chat(client, people.admin, "slow-first", stream=True)
    assert _streamed(r)[0] == "You said: hello there"


def test_unknown_models_and_callers(client, people, connected):
    r = _chat(client, people.admin, "no-such-model")
    assert r.status_code == 400 and r.json() == {"detail": "Model not found"}
    assert client.post("/api/chat/completions", json={"messages": []},
                       headers=people.admin.headers).status_code == 400
    assert client.post("/api/chat/completions", json={"model": "echo"},
                       headers=people.pending.headers).status_code == 401
    client.cookies.clear()
    assert client.post("/api/chat/completions", json={"model": "echo"}).status_code == 401
    r = client.post("/api/chat/completed", headers=people.user.headers,
                    json={"model": "echo", "messages": [], "model_item": {"id": "echo"}})
    assert r.status_code == 200 and r.json() == {"model": "echo", "messages": []}


# ---- task-model completions -----------------------------------------------------------------
def test_task_config_and_task_completions(client, people, connected):
    got = client.get("/api/v1/tasks/config", headers=people.user.headers)
    assert got.status_code == 200 and got.json()["ENABLE_TITLE_GENERATION"] is True
    messages = [{"role": "user", "content": "How do I keep bread fresh?"},
                {"role": "assistant", "content": "Wrap it."}]
    for kind, key, value in (("title", "title", "Echo Title"),
                             ("tags", "tags", ["Testing", "Echo"]),
                             ("follow_up", "follow_ups", ["And then?", "Why?"]),
                             ("queries", "queries", ["echo query"])):
        r = client.post(f"/api/v1/tasks/{kind}/completions", headers=people.admin.headers,
                        json={"model": "echo", "messages": messages, "chat_id": "x"})
        assert r.status_code == 200, r.text
        content = r.json()["choices"][0]["message"]["content"]
        assert json.loads(content[content.index("{"):])[key] == value
    assert client.post("/api/v1/tasks/title/completions", headers=people.admin.headers,
                       json={"model": "", "messages": messages}).status_code == 400
    assert client.post("/api/v1/tasks/title/completions", headers=people.admin.headers,
                       json={"model": "nope", "messages": messages}).status_code == 404
    body = {**got.json(), "ENABLE_TITLE_GENERATION": False}
    assert client.post("/api/v1/tasks/config/update", headers=people.user.headers,
                       json=body).status_code == 401
    r = client.post("/api/v1/tasks/config/update", headers=people.admin.headers, json=body)
    assert r.status_code == 200 and r.json()["ENABLE_TITLE_GENERATION"] is False
    r = client.post("/api/v1/tasks/title/completions", headers=people.admin.headers,
                    json={"model": "echo", "messages": messages})
    assert r.status_code == 200 and r.json() == {"detail": "Title generation is disabled"}
    client.post("/api/v1/tasks/config/update", headers=people.admin.headers,
                json={**body, "ENABLE_TITLE_GENERATION": True})


def test_rest_completions_are_recorded_for_the_audit_and_the_usage_totals(client, people, fresh,
                                                                          connected):
    caller = fresh("Tally")
    for model in ("echo", "fault-500"):
        client.post("/api/v1/models/model/access/update", headers=people.admin.headers,
                    json={"id": model, "access_grants": [EVERYONE]})
    assert _chat(client, caller, "echo", text="one two three").status_code == 200
    text, _ = _streamed(_chat(client, caller, "echo", text="four five", stream=True))
    assert text == "You said: four five"
    assert _chat(client, caller, "fault-500").status_code == 500  # recorded, with no tokens
    admin = {**people.admin.headers,
             "X-Chronicle-Min-Position": str(client.app.state.container.store.head())}
    users = client.get("/api/v1/analytics/users", headers=admin).json()["users"]
    [mine] = [u for u in users if u["user_id"] == caller.id]
    # The test server asks 7 tokens and answers one per word ("You said: ..."); a fault, none.
    assert mine["count"] == 3
    assert (mine["input_tokens"], mine["output_tokens"]) == (7 + 7, 5 + 4)
    log = client.get("/api/v1/audit/events", headers=admin, params={"actor_id": caller.id})
    answered = [e for e in log.json()["items"] if e["type"].endswith("Answered")]
    assert len(answered) == 3, log.json()
