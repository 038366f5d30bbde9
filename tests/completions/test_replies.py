"""The web app's way of chatting, end to end: a real server process (the embedded default on
SQLite; PostgreSQL + Redis with two API workers, the socket on one and the request on the
other), a real Socket.IO client and the test language-model server in its own process.

The request answers at once with a task id; the reply streams to the user's sockets as
`events`; the chat records the user message and the reply (started, checkpointed, finished
once); a stopped reply keeps what arrived; nobody writes into another user's chat.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.completions.conftest import start_llm_server
from tests.realtime.conftest import Deployment, cluster, embedded  # noqa: F401
from tests.realtime.processes import Person

pytestmark = pytest.mark.slow
RATE = 40  # tokens per second from the test model


@pytest.fixture(scope="module")
def llm_port() -> Iterator[int]:
    process, port = start_llm_server("--rate", str(RATE))
    yield port
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def dep(request: pytest.FixtureRequest, llm_port: int) -> Deployment:
    deployment: Deployment = request.getfixturevalue(request.param)
    assert deployment.admin is not None
    r = httpx.post(f"{deployment.apis[0].url}/openai/config/update", timeout=10,
                   headers=deployment.admin.headers, json={
                       "ENABLE_OPENAI_API": True,
                       "OPENAI_API_BASE_URLS": [f"http://127.0.0.1:{llm_port}/v1"],
                       "OPENAI_API_KEYS": [""], "OPENAI_API_CONFIGS": {}})
    assert r.status_code == 200, r.text
    for model in ("echo", "fault-429"):  # users see a connection model once it is shared
        r = httpx.post(f"{deployment.apis[0].url}/api/v1/models/model/access/update", timeout=10,
                       headers=deployment.admin.headers, json={"id": model, "access_grants": [
                           {"principal_type": "user", "principal_id": "*",
                            "permission": "read"}]})
        assert r.status_code == 200, r.text
    return deployment


def _new_chat(dep: Deployment, person: Person) -> str:
    r = httpx.post(f"{dep.apis[0].url}/api/v1/chats/new", json={"chat": {"title": "t"}},
                   headers=person.headers, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _ask(dep: Deployment, person: Person, chat_id: str, text: str, model: str = "echo"
         ) -> tuple[httpx.Response, str, str]:
    """What the app sends: the user message, the assistant message id, the socket session."""
    user_id, reply_id = str(uuid.uuid4()), str(uuid.uuid4())
    user_message = {"id": user_id, "parentId": None, "childrenIds": [], "role": "user",
                    "content": text, "timestamp": 1}
    body = {"stream": True, "model": model, "messages": [{"role": "user", "content": text}],
            "params": {}, "features": {}, "variables": {}, "session_id": "socket-1",
            "chat_id": chat_id, "id": reply_id, "parent_id": None, "user_message": user_message,
            "background_tasks": {"title_generation": True, "tags_generation": True,
                                 "follow_up_generation": True}}
    r = httpx.post(f"{dep.apis[-1].url}/api/chat/completions", json=body,
                   headers=person.headers, timeout=10)
    return r, user_id, reply_id


def _of(events: list[dict[str, Any]], reply_id: str, kind: str) -> list[Any]:
    return [e["data"]["data"] for e in events
            if e.get("message_id") == reply_id and e["data"]["type"] == kind]


def _ended(reply_id: str) -> Any:
    def check(sock: Any) -> bool:
        return any(d.get("active") is False
                   for d in _of(sock.of("events"), reply_id, "chat:active"))
    return check


def _chat(dep: Deployment, person: Person, chat_id: str) -> dict[str, Any]:
    r = httpx.get(f"{dep.apis[0].url}/api/v1/chats/{chat_id}", headers=person.headers,
                  timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json()["chat"])


def _reply_events(dep: Deployment, chat_id: str) -> list[str]:
    from domain.chat import Chat

    chat = dep.container.store.get(uuid.UUID(chat_id))
    assert isinstance(chat, Chat)
    history = dep.container.store.app.repository.event_store.get(uuid.UUID(chat_id))
    return [type(e).__name__ for e in history if type(e).__name__.startswith("Reply")]


def test_a_reply_streams_to_the_users_sockets_and_is_recorded_once(dep: Deployment) -> None:
    alice = dep.person("Alice")
    sock = dep.sock(dep.apis[0], {"token": alice.token})
    other_tab = dep.sock(dep.apis[0], {"token": alice.token})
    bob = dep.sock(dep.apis[0], {"token": dep.person("Bob").token})
    chat_id = _new_chat(dep, alice)
    text = " ".join(f"w{i}" for i in range(50))  # ~1.3 s at RATE: one checkpoint at least
    r, user_id, reply_id = _ask(dep, alice, chat_id, text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] is True and body["chat_id"] == chat_id and len(body["task_ids"]) == 1
    sock.wait(_ended(reply_id), timeout=30)
    events = sock.of("events")
    assert _of(events, reply_id, "chat:active")[0] == {"active": True}
    chunks = [c for c in _of(events, reply_id, "chat:completion") if not c.get("done")]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert streamed == f"You said: {text}"  # every delta, in order, none lost
    done = [c for c in _of(events, reply_id, "chat:completion") if c.get("done")]
    assert len(done) == 1 and done[0]["content"] == streamed and done[0]["usage"]
    # What the app asked for after the reply: a title and tags (commands on the chat), and
    # follow-up questions, from the task model.
    assert _of(events, reply_id, "chat:title") == ["Echo Title"]
    assert _of(events, reply_id, "chat:tags") == [["Testing", "Echo"]]
    assert _of(events, reply_id, "chat:message:follow_ups") == [
        {"follow_ups": ["And then?", "Why?"]}]
    r = httpx.get(f"{dep.apis[0].url}/api/v1/chats/{chat_id}", headers=alice.headers,
                  timeout=10)
    assert r.json()["title"] == "Echo Title"
    assert {"testing", "echo"} <= set(r.json()["meta"].get("tags", []))
    other_tab.wait(_ended(reply_id), timeout=10)  # every session of the user
    assert _of(bob.of("events"), reply_id, "chat:completion") == []

    stored = _chat(dep, alice, chat_id)["history"]
    assert stored["messages"][user_id]["content"] == text
    reply = stored["messages"][reply_id]
    assert reply["content"] == streamed and reply["done"] is True
    assert reply["parentId"] == user_id and reply["model"] == "echo" and reply["role"] == "assistant"
    assert stored["currentId"] == reply_id
    kinds = _reply_events(dep, chat_id)
    assert kinds[0] == "ReplyStarted" and kinds.count("ReplyFinished") == 1
    assert "ReplyCheckpointed" in kinds and kinds[-1] == "ReplyFinished"


def test_a_first_message_opens_its_chat_as_0_12_4_does(dep: Deployment) -> None:
    """The app's new chat: `parent_id: null` and no `chat_id`. The chat is made on the server
    ("New Chat", the model, the messages), announced to the sidebar, and answered with its id."""
    alice = dep.person("Alice")
    sock = dep.sock(dep.apis[0], {"token": alice.token})
    before = {c["id"] for c in httpx.get(f"{dep.apis[0].url}/api/v1/chats/", timeout=10,
                                         headers=alice.headers).json()}
    r, user_id, reply_id = _ask(dep, alice, "", "hello new chat")
    assert r.status_code == 200, r.text
    chat_id = r.json()["chat_id"]
    assert chat_id not in before and r.json()["status"] is True
    sock.wait(_ended(reply_id), timeout=30)
    listed = [e["data"]["data"] for e in sock.of("events") if e["data"]["type"] == "chat:list"]
    assert {"chat_id": chat_id, "folder_id": None} in listed
    stored = _chat(dep, alice, chat_id)
    assert stored["models"] == ["echo"]
    assert stored["history"]["messages"][user_id]["content"] == "hello new chat"
    assert stored["history"]["messages"][reply_id]["content"] == "You said: hello new chat"
    assert stored["history"]["currentId"] == reply_id


def test_a_first_message_to_a_model_it_may_not_use_writes_nothing(dep: Deployment) -> None:
    carol = dep.person("Carol")
    count = len(httpx.get(f"{dep.apis[0].url}/api/v1/chats/", headers=carol.headers,
                          timeout=10).json())
    r, _, _ = _ask(dep, carol, "", "hi", model="no-such-model")
    assert r.status_code == 400 and r.json() == {"detail": "Model not found"}
    assert len(httpx.get(f"{dep.apis[0].url}/api/v1/chats/", headers=carol.headers,
                         timeout=10).json()) == count


def test_a_stopped_reply_keeps_what_arrived(dep: Deployment) -> None:
    alice = dep.person("Alice")
    sock = dep.sock(dep.apis[0], {"token": alice.token})
    chat_id = _new_chat(dep, alice)
    r, _, reply_id = _ask(dep, alice, chat_id, " ".join(["long"] * 400))  # ~10 s
    assert r.status_code == 200, r.text
    sock.wait(lambda s: len(_of(s.of("events"), reply_id, "chat:completion")) >= 5, timeout=20)
    # Asked of the other worker in the cluster: the reply streams on the last one.
    tasks = httpx.get(f"{dep.apis[0].url}/api/tasks/chat/{chat_id}", headers=alice.headers,
                      timeout=10).json()
    assert tasks == {"task_ids": r.json()["task_ids"]}
    stop = httpx.post(f"{dep.apis[0].url}/api/tasks/chat/{chat_id}/stop",
                      headers=alice.headers, timeout=10)
    assert stop.status_code == 200 and stop.json()["status"] is True
    sock.wait(_ended(reply_id), timeout=10)
    done = [c for c in _of(sock.of("events"), reply_id, "chat:completion") if c.get("done")]
    kept = _chat(dep, alice, chat_id)["history"]["messages"][reply_id]
    assert kept["done"] is True and kept["content"] == done[0]["content"]
    assert kept["content"].startswith("You said: long") and len(kept["content"]) < 2000
    assert httpx.get(f"{dep.apis[0].url}/api/tasks/chat/{chat_id}", headers=alice.headers,
                     timeout=10).json() == {"task_ids": []}


def test_upstream_errors_reach_the_app_and_the_chat(dep: Deployment) -> None:
    alice = dep.person("Alice")
    sock = dep.sock(dep.apis[0], {"token": alice.token})
    chat_id = _new_chat(dep, alice)
    r, _, reply_id = _ask(dep, alice, chat_id, "hi", model="fault-429")
    assert r.status_code == 200, r.text
    sock.wait(_ended(reply_id), timeout=10)
    errors = _of(sock.of("events"), reply_id, "chat:message:error")
    assert errors == [{"error": {"content": "Rate limit reached"}}]
    reply = _chat(dep, alice, chat_id)["history"]["messages"][reply_id]
    assert reply["error"] == {"content": "Rate limit reached"} and reply["done"] is True


def test_nobody_writes_into_another_users_chat(dep: Deployment) -> None:
    alice, mallory = dep.person("Alice"), dep.person("Mallory")
    chat_id = _new_chat(dep, alice)
    before = _chat(dep, alice, chat_id)
    r, _, _ = _ask(dep, mallory, chat_id, "hijack")
    assert r.status_code == 404
    r, _, _ = _ask(dep, alice, chat_id, "hi", model="no-such-model")
    assert r.status_code == 400 and r.json() == {"detail": "Model not found"}
    assert _chat(dep, alice, chat_id) == before  # nothing half-written
    assert httpx.get(f"{dep.apis[0].url}/api/tasks/chat/{chat_id}", headers=mallory.headers,
                     timeout=10).status_code == 404
    assert httpx.post(f"{dep.apis[0].url}/api/tasks/stop/{uuid.uuid4()}",
                      headers=alice.headers, timeout=10).status_code == 401




def test_usage_per_user_and_model_for_admins(dep: Deployment) -> None:
    assert dep.admin is not None
    carol = dep.person("Carol")
    sock = dep.sock(dep.apis[0], {"token": carol.token})
    r, _, reply_id = _ask(dep, carol, _new_chat(dep, carol), "count my tokens")
    assert r.status_code == 200, r.text
    sock.wait(_ended(reply_id), timeout=20)
    done = [c for c in _of(sock.of("events"), reply_id, "chat:completion") if c.get("done")]
    usage = done[0]["usage"]
    deadline = time.monotonic() + 10
    while True:  # the usage read model follows the log
        users = httpx.get(f"{dep.apis[0].url}/api/v1/analytics/users", timeout=10,
                          headers=dep.admin.headers).json()["users"]
        mine = [u for u in users if u["user_id"] == carol.id]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert mine == [{"user_id": carol.id, "name": "Carol", "email": mine[0]["email"], "count": 1,
                     "input_tokens": usage["prompt_tokens"],
                     "output_tokens": usage["completion_tokens"],
                     "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}]
    tokens = httpx.get(f"{dep.apis[0].url}/api/v1/analytics/tokens", timeout=10,
                       headers=dep.admin.headers).json()
    echo = next(m for m in tokens["models"] if m["model_id"] == "echo")
    assert echo["output_tokens"] >= usage["completion_tokens"] and tokens["total_tokens"] > 0
    models = httpx.get(f"{dep.apis[0].url}/api/v1/analytics/models", timeout=10,
                       headers=dep.admin.headers).json()["models"]
    assert any(m["model_id"] == "echo" and m["unique_users"] >= 1 for m in models)
    for path in ("users", "tokens", "models"):
        assert httpx.get(f"{dep.apis[0].url}/api/v1/analytics/{path}", headers=carol.headers,
                         timeout=10).status_code == 401


def test_a_reply_cut_by_a_crash_is_marked_interrupted(tmp_path, llm_port: int) -> None:
    """The server streaming a reply is killed: after a restart the reply is finished as
    interrupted, with what its last checkpoint held; it is never left in progress."""
    from tests.realtime.conftest import _base_env, _writer, wait_feed_started
    from tests.realtime.processes import api, server_env, sign_up

    env = _base_env(tmp_path)
    writer = _writer(env)
    server = api("crash", server_env(env, CHRONICLE_PROJECTORS="embedded",
                                     REPLY_STALE_SECONDS="1", REPLY_SWEEP_SECONDS="0.5",
                                     OPENAI_API_BASE_URLS=f"http://127.0.0.1:{llm_port}/v1"),
                 tmp_path)
    try:
        server.start().wait_healthy()
        wait_feed_started(writer)
        admin = sign_up(server.url, "Admin")
        dep = Deployment(env, writer, [server], admin=admin)
        chat_id = _new_chat(dep, admin)
        r, _, reply_id = _ask(dep, admin, chat_id, " ".join(["slow"] * 400))  # ~10 s
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 20
        while not _chat(dep, admin, chat_id)["history"]["messages"][reply_id].get("content"):
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.2)
        server.kill()
        server.start().wait_healthy()
        deadline = time.monotonic() + 20
        while not _chat(dep, admin, chat_id)["history"]["messages"][reply_id].get("done"):
            assert time.monotonic() < deadline, "the reply stayed in progress"
            time.sleep(0.3)
        reply = _chat(dep, admin, chat_id)["history"]["messages"][reply_id]
        assert reply["error"]["content"].startswith("The reply was interrupted")
        assert reply["content"].startswith("You said: slow")
        assert _reply_events(dep, chat_id).count("ReplyFinished") == 1
    finally:
        server.stop()
        writer.close()
