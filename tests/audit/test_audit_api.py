"""/api/v1/audit end to end, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import time

import pytest

from tests.chats.helpers import API as CHATS
from tests.chats.helpers import chat_doc, with_message
from tests.helpers import Caller, signup

AUDIT = "/api/v1/audit"


def _chat(client, owner: Caller, *messages: str) -> tuple[str, dict]:
    doc = chat_doc("Audit me", *messages)
    r = client.post(f"{CHATS}/new", json={"chat": doc}, headers=owner.headers)
    assert r.status_code == 200, r.text
    return r.json()["id"], doc


def _save(client, owner: Caller, chat_id: str, doc: dict) -> dict[str, str]:
    """Save; returns headers that make a later read wait for this write (read-your-writes)."""
    r = client.post(f"{CHATS}/{chat_id}", json={"chat": doc}, headers=owner.headers)
    assert r.status_code == 200, r.text
    return {"X-Chronicle-Min-Position": r.headers["X-Chronicle-Position"]}


@pytest.fixture
def story(client, people):
    """A chat with history: created, two messages appended, retitled."""
    chat_id, doc = _chat(client, people.user, "hello")
    for text in ("second", "third"):
        doc = with_message(doc, text)
        _save(client, people.user, chat_id, doc)
    r = client.post(f"{CHATS}/{chat_id}", json={"chat": {**doc, "title": "Renamed"}},
                    headers=people.user.headers)
    assert r.status_code == 200
    return chat_id


def test_events_in_order_with_metadata(client, people, story):
    r = client.get(f"{AUDIT}/chat/{story}/events", headers=people.admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"]
    assert body["total"] == len(items) >= 4
    assert [e["version"] for e in items] == list(range(1, len(items) + 1))
    assert items[0]["type"] == "Created" and items[-1]["type"] == "TitleChanged"
    assert all(e["actor_id"] == people.user.id for e in items)
    assert all(e["correlation_id"] and e["timestamp"] for e in items)
    assert items[-1]["data"]["title"] == "Renamed"
    assert not any(e["erased"] for e in items)


def test_events_are_paged(client, people, story):
    all_items = client.get(f"{AUDIT}/chat/{story}/events", headers=people.admin.headers).json()
    first = client.get(f"{AUDIT}/chat/{story}/events?page=1&limit=2",
                       headers=people.admin.headers).json()
    second = client.get(f"{AUDIT}/chat/{story}/events?page=2&limit=2",
                        headers=people.admin.headers).json()
    assert [e["version"] for e in first["items"]] == [1, 2]
    assert [e["version"] for e in second["items"]] == [3, 4]
    assert first["total"] == all_items["total"]


def test_state_at_version_is_the_chat_as_it_was(client, people, story):
    first = client.get(f"{AUDIT}/chat/{story}/state?version=1", headers=people.admin.headers)
    assert first.status_code == 200, first.text
    state = first.json()["state"]
    assert state["title"] == "Audit me"
    assert [m["content"] for m in state["chat"]["history"]["messages"].values()] == ["hello"]
    now = client.get(f"{AUDIT}/chat/{story}/state", headers=people.admin.headers).json()
    live = client.get(f"{CHATS}/{story}", headers=people.user.headers).json()
    assert now["state"] == live


def test_state_at_time(client, people):
    chat_id, doc = _chat(client, people.user, "early")
    time.sleep(0.05)
    middle = time.time()
    time.sleep(0.05)
    after = _save(client, people.user, chat_id, with_message(doc, "late"))
    r = client.get(f"{AUDIT}/chat/{chat_id}/state?at={middle}",
                   headers={**people.admin.headers, **after})
    assert r.status_code == 200, r.text
    contents = [m["content"] for m in r.json()["state"]["chat"]["history"]["messages"].values()]
    assert contents == ["early"]
    before = client.get(f"{AUDIT}/chat/{chat_id}/state?at=1000", headers=people.admin.headers)
    assert before.status_code == 404


def test_diff_between_versions(client, people, story):
    r = client.get(f"{AUDIT}/chat/{story}/diff?from_version=1", headers=people.admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from_version"] == 1 and body["to_version"] >= 4
    assert [e["type"] for e in body["events"]][-1] == "TitleChanged"
    ops = {(op["op"], op["path"]) for op in body["patch"]}
    assert ("replace", "/title") in ops
    assert any(path.startswith("/chat/history/messages/") and op == "add" for op, path in ops)
    bad = client.get(f"{AUDIT}/chat/{story}/diff?from_version=3&to_version=2",
                     headers=people.admin.headers)
    assert bad.status_code == 400


def test_user_history_never_shows_secrets(client, people):
    r = client.post("/api/v1/auths/update/password",
                    json={"password": "correct horse", "new_password": "battery staple"},
                    headers=people.other.headers)
    assert r.status_code == 200, r.text
    events = client.get(f"{AUDIT}/user/{people.other.id}/events",
                        headers=people.admin.headers).json()["items"]
    state = client.get(f"{AUDIT}/user/{people.other.id}/state",
                       headers=people.admin.headers).json()["state"]
    dump = str(events) + str(state)
    assert "$argon2" not in dump and "$2b$" not in dump
    assert "[redacted]" in dump
    assert state["email"] == people.other.email


def test_log_wide_query_by_actor_kind_type_and_time(client, people, story):
    since = time.time()
    other_chat, doc = _chat(client, people.other, "bob's")
    after = {**people.admin.headers, **_save(client, people.other, other_chat,
                                                   with_message(doc, "more"))}
    by_actor = client.get(f"{AUDIT}/events?actor_id={people.other.id}&kind=chat", headers=after)
    assert by_actor.status_code == 200, by_actor.text
    items = by_actor.json()["items"]
    assert {i["aggregate_id"] for i in items} == {other_chat}
    typed = client.get(f"{AUDIT}/events?kind=chat&type=TitleChanged",
                       headers=people.admin.headers).json()["items"]
    assert {i["aggregate_id"] for i in typed} == {story}
    recent = client.get(f"{AUDIT}/events?since={since}&kind=chat",
                        headers=people.admin.headers).json()["items"]
    assert {i["aggregate_id"] for i in recent} == {other_chat}
    old = client.get(f"{AUDIT}/events?until={since}&kind=chat&actor_id={people.other.id}",
                     headers=people.admin.headers).json()["items"]
    assert old == []


def test_log_query_pages_with_a_cursor(client, people, story):
    chat_id, doc = _chat(client, people.user, "one more")
    after = {**people.admin.headers, **_save(client, people.user, chat_id, with_message(doc, "x"))}
    seen, cursor = [], None
    while True:
        url = f"{AUDIT}/events?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=after).json()
        seen += [i["position"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) > 10


def test_signin_stream_records_successes_failures_and_signouts(client, people):
    bad = client.post("/api/v1/auths/signin",
                      json={"email": people.user.email, "password": "wrong"},
                      headers={"user-agent": "audit-test/1.0"})
    assert bad.status_code == 400
    nobody = client.post("/api/v1/auths/signin",
                         json={"email": "nobody@example.com", "password": "x"})
    assert nobody.status_code == 400
    good = client.post("/api/v1/auths/signin",
                       json={"email": people.user.email, "password": "correct horse"})
    assert good.status_code == 200
    token = good.json()["token"]
    client.cookies.clear()
    out = client.get("/api/v1/auths/signout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 200
    # The admin wrote none of these: name the sign-out's position to read past it.
    seen = {**people.admin.headers, "X-Chronicle-Min-Position": out.headers["X-Chronicle-Position"]}
    page = client.get(f"{AUDIT}/signins?order=asc", headers=seen).json()
    records = [(i["type"], (i["data"] or {}).get("reason")) for i in page["items"]]
    assert records[-4:] == [("SignInFailed", "wrong_password"), ("SignInFailed", "unknown_user"),
                            ("SignedIn", None), ("SignedOut", None)]
    failed = page["items"][-4]
    assert failed["data"]["email"] == people.user.email
    assert failed["data"]["client"]["user_agent"] == "audit-test/1.0"
    assert page["items"][-2]["actor_id"] == people.user.id
    unknown = page["items"][-3]["data"]  # an address of no account: only its fingerprint
    assert unknown["email"] is None and len(unknown["email_fingerprint"]) == 32
    assert "nobody@example.com" not in str(page)
    assert page["items"][-2]["data"]["email_fingerprint"] != unknown["email_fingerprint"]
    only_failures = client.get(f"{AUDIT}/signins?type=SignInFailed",
                               headers=people.admin.headers).json()["items"]
    assert {i["type"] for i in only_failures} == {"SignInFailed"}
    record = client.get(f"{AUDIT}/auth/{failed['aggregate_id']}/events",
                        headers=people.admin.headers).json()
    assert record["items"][0]["type"] == "SignInFailed"


def test_who_may_audit(client, people, story):
    urls = [f"{AUDIT}/chat/{story}/events", f"{AUDIT}/chat/{story}/state",
            f"{AUDIT}/chat/{story}/diff?from_version=1", f"{AUDIT}/events", f"{AUDIT}/signins"]
    for url in urls:
        assert client.get(url).status_code == 401
        for caller in (people.pending, people.other, people.user):
            r = client.get(url, headers=caller.headers)
            assert r.status_code == 401, (url, caller.role, r.text)
        assert client.get(url, headers=people.admin.headers).status_code == 200
    r = client.post(f"{AUDIT}/auditors/{people.other.id}", headers=people.user.headers)
    assert r.status_code == 401
    granted = client.post(f"{AUDIT}/auditors/{people.other.id}", headers=people.admin.headers)
    assert granted.status_code == 200 and granted.json()["auditors"] == [people.other.id]
    for url in urls:
        assert client.get(url, headers=people.other.headers).status_code == 200, url
    assert client.get(f"{AUDIT}/auditors", headers=people.other.headers).status_code == 401
    revoked = client.delete(f"{AUDIT}/auditors/{people.other.id}", headers=people.admin.headers)
    assert revoked.json()["auditors"] == []
    time.sleep(1.1)  # the config cache's TTL
    assert client.get(urls[0], headers=people.other.headers).status_code == 401


def test_bad_requests_are_4xx(client, people, story):
    h = people.admin.headers
    assert client.get(f"{AUDIT}/nonsense/{story}/events", headers=h).status_code == 422
    assert client.get(f"{AUDIT}/chat/not-a-uuid/events", headers=h).status_code == 404
    assert client.get(f"{AUDIT}/user/{story}/events", headers=h).status_code == 404  # wrong kind
    assert client.get(f"{AUDIT}/chat/{story}/state?version=999", headers=h).status_code == 400
    assert client.get(f"{AUDIT}/chat/{story}/state?version=0", headers=h).status_code == 422
    assert client.get(f"{AUDIT}/chat/{story}/state?version=1&at=5", headers=h).status_code == 400
    assert client.get(f"{AUDIT}/events?limit=100000", headers=h).status_code == 422
    assert client.get(f"{AUDIT}/events?since=abc", headers=h).status_code == 422
    assert client.post(f"{AUDIT}/auditors/not-a-user", headers=h).status_code == 404
    other = signup(client, "Zed")
    assert client.get(f"{AUDIT}/model/none/events", headers=h).status_code == 404
    assert client.get(f"{AUDIT}/user/{other.id}/events", headers=h).status_code == 200
