"""`chronicle audit` as an operator runs it."""

from __future__ import annotations

import json
import uuid

from application.context import Actor, acting_as
from domain.chat import Chat
from tests.cli.test_operator_commands import run
from tests.conftest import built


def test_audit_cli(settings_env):
    with built(settings_env) as container:
        with acting_as(Actor("someone", "cli-test")):
            chat = Chat.create("someone", {"title": "first", "history": {"messages": {}}})
            container.store.save(chat)
            chat.rename("second")
            position = container.store.save(chat)
        assert container.host.wait(["audit_log"], position, 10)
    chat_id = str(chat.id)

    events = run(settings_env, "audit", "events", "chat", chat_id)
    assert events.returncode == 0, events.stderr
    body = json.loads(events.stdout)
    assert [e["type"] for e in body["items"]] == ["Created", "TitleChanged"]
    assert body["items"][1]["actor_id"] == "someone"

    state = run(settings_env, "audit", "state", "chat", chat_id, "--version", "1")
    assert state.returncode == 0 and json.loads(state.stdout)["state"]["title"] == "first"

    diff = run(settings_env, "audit", "diff", "chat", chat_id, "--from", "1")
    patch = json.loads(diff.stdout)["patch"]
    assert {"op": "replace", "path": "/title", "value": "second"} in patch

    log = run(settings_env, "audit", "log", "--kind", "chat", "--actor", "someone", "--asc")
    assert [i["type"] for i in json.loads(log.stdout)["items"]] == ["Created", "TitleChanged"]

    missing = run(settings_env, "audit", "events", "chat", str(uuid.uuid4()))
    assert missing.returncode == 1 and "could not find" in missing.stderr
    bad = run(settings_env, "audit", "state", "chat", chat_id, "--version", "9")
    assert bad.returncode == 2
    assert run(settings_env, "audit", "events", "nonsense", chat_id).returncode == 2
