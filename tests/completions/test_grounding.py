"""Completions grounded in the caller's documents (application/grounding.py), end to end: real
uploads through the real extraction, embedding model and FAISS index, a real completion against
the test language-model server, whose `inspect` model answers with the request it received."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.completions.conftest import KEY, Upstream
from tests.files.stack import Stack, stack

EVERYONE = {"principal_type": "user", "principal_id": "*", "permission": "read"}
FACT = "The lighthouse keeper of Skerryvore feeds his cat sardines every Tuesday at noon."
QUESTION = "What does the lighthouse keeper feed his cat?"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          upstream: Upstream) -> Iterator[Stack]:
    backend = str(request.param)
    with stack(backend, Path(tmp_path_factory.mktemp(f"grounding-{backend}"))) as built:
        r = built.client.post("/openai/config/update", headers=built.people.admin.headers, json={
            "ENABLE_OPENAI_API": True, "OPENAI_API_BASE_URLS": [upstream.openai_url],
            "OPENAI_API_KEYS": [KEY], "OPENAI_API_CONFIGS": {}})
        assert r.status_code == 200, r.text
        r = built.client.post("/api/v1/models/model/access/update",
                              headers=built.people.admin.headers,
                              json={"id": "inspect", "access_grants": [EVERYONE]})
        assert r.status_code == 200, r.text
        yield built


@pytest.fixture(scope="module")
def fact_file(world: Stack) -> str:
    return world.processed(world.people.user, "keeper.txt", FACT)


def _ask(world: Stack, caller: Any, model: str = "inspect", **extra: Any) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": QUESTION}], **extra}
    return world.client.post("/api/chat/completions", json=body, headers=world.caught_up(caller))


def _sent(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(json.loads(response.json()["choices"][0]["message"]["content"]))


def test_an_attached_file_grounds_the_answer_and_comes_back_as_a_source(world, fact_file):
    r = _ask(world, world.people.user, files=[{"type": "file", "id": fact_file}])
    sent = _sent(r)
    system = sent["messages"][0]
    assert system["role"] == "system"
    assert f'<source id="1" name="keeper.txt">{FACT}</source>' in system["content"]
    assert QUESTION in system["content"]  # the RAG template's query placeholder
    assert sent["messages"][1] == {"role": "user", "content": QUESTION}
    [source] = r.json()["sources"]
    assert source["source"] == {"type": "file", "id": fact_file}
    assert source["document"] == [FACT]
    assert source["metadata"][0]["name"] == "keeper.txt"
    assert source["metadata"][0]["file_id"] == fact_file
    assert len(source["distances"]) == 1


def test_a_stream_sends_the_sources_first(world, fact_file):
    r = _ask(world, world.people.user, stream=True, metadata={
        "files": [{"type": "file", "id": fact_file}]})
    assert r.status_code == 200, r.text
    chunks = [json.loads(line[len("data: "):]) for line in r.text.split("\n\n")
              if line.startswith("data: {")]
    assert chunks[0]["sources"][0]["document"] == [FACT]
    assert "sources" not in chunks[1]


def test_another_users_file_grounds_nothing_and_fails_nothing(world, fact_file):
    r = _ask(world, world.people.other, files=[{"type": "file", "id": fact_file}])
    sent = _sent(r)
    assert "sources" not in r.json()
    assert sent["messages"] == [{"role": "user", "content": QUESTION}]
    assert FACT not in json.dumps(sent)


def test_unknown_and_malformed_items_are_ignored(world):
    r = _ask(world, world.people.user, files=[
        {"type": "file", "id": str(uuid.uuid4())}, {"type": "web_search"}, "junk", {"id": 7}])
    assert _sent(r)["messages"] == [{"role": "user", "content": QUESTION}]
    assert "sources" not in r.json()


def test_a_presets_knowledge_base_grounds_every_reply_through_it(world):
    owner = world.people.admin  # users have no workspace permissions by default
    fact_file = world.processed(owner, "keeper.txt", FACT)
    r = world.client.post("/api/v1/knowledge/create", headers=owner.headers,
                          json={"name": "Keepers", "description": "lighthouses"})
    assert r.status_code == 200, r.text
    kb = r.json()["id"]
    r = world.client.post(f"/api/v1/knowledge/{kb}/file/add", json={"file_id": fact_file},
                          headers=owner.headers)
    assert r.status_code == 200, r.text
    preset = f"keeper-{uuid.uuid4().hex[:6]}"
    r = world.client.post("/api/v1/models/create", headers=world.people.admin.headers, json={
        "id": preset, "name": "Keeper", "base_model_id": "inspect", "params": {},
        "meta": {"knowledge": [{"id": kb, "name": "Keepers"}]}, "access_grants": [EVERYONE]})
    assert r.status_code == 200, r.text
    r = _ask(world, owner, model=preset)
    assert FACT in _sent(r)["messages"][0]["content"]
    assert r.json()["sources"][0]["source"]["id"] == kb
    # The knowledge base is the admin's: through the same preset, a user gets no context.
    r = _ask(world, world.people.user, model=preset)
    assert FACT not in json.dumps(_sent(r)) and "sources" not in r.json()


def test_a_web_app_reply_records_its_sources_in_the_message(world, fact_file):
    user = world.people.user
    r = world.client.post("/api/v1/chats/new", headers=user.headers,
                          json={"chat": {"title": "keepers"}})
    chat_id, reply_id, asked_id = r.json()["id"], str(uuid.uuid4()), str(uuid.uuid4())
    r = world.client.post("/api/chat/completions", headers=user.headers, json={
        "model": "inspect", "chat_id": chat_id, "id": reply_id, "session_id": "s1",
        "messages": [{"role": "user", "content": QUESTION}],
        "user_message": {"id": asked_id, "role": "user", "content": QUESTION, "parentId": None},
        "files": [{"type": "file", "id": fact_file}]})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        chat = world.client.get(f"/api/v1/chats/{chat_id}", headers=world.caught_up(user)).json()
        message = chat["chat"]["history"]["messages"].get(reply_id, {})
        if message.get("done"):
            break
        time.sleep(0.2)
    assert message.get("done") is True, message
    assert message["sources"][0]["document"] == [FACT]
    assert FACT in json.loads(message["content"])["messages"][0]["content"]
