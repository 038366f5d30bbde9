"""Absurdly nested JSON bodies are the client's error (400), never a 500, and write nothing."""

import pytest


def nested(depth: int) -> str:
    return '{"x":' * depth + "{}" + "}" * depth


# 5,000 levels fail JSON parsing; ~900 parse, then exhaust recursion in validation or encoding.
@pytest.mark.parametrize("depth", [900, 5000])
def test_deeply_nested_bodies_are_400(client, people, depth):
    head = client.app.state.container.store.head()
    headers = {**people.user.headers, "Content-Type": "application/json"}
    chat = '{"chat": {"title": "deep", "params": ' + nested(depth) + "}}"
    r = client.post("/api/v1/chats/new", content=chat, headers=headers)
    assert r.status_code in (400, 422), r.text
    r = client.post("/api/v1/users/user/info/update", content=nested(depth), headers=headers)
    assert r.status_code in (400, 422), r.text
    assert client.app.state.container.store.head() == head
    assert client.get("/health").status_code == 200
