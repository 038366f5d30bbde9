"""The prompts API end to end on SQLite and on PostgreSQL + Redis: lists, the `/` menu, sharing
through access_grants, unique commands, and the history that is the prompt's event stream."""

from __future__ import annotations

from domain.prompt_command import command_id
from projections.prompts import PromptsProjector
from projections.runtime import rebuild
from tests.models.helpers import seen
from tests.prompts.helpers import API, command, create, get, update, user_grant


def _ids(items):
    return [item["id"] for item in items]


# ---- create, read, list ---------------------------------------------------------------------
def test_create_get_list_menu_and_tags(client, people, fresh, permissions):
    permissions(workspace={"prompts": True})
    owner = fresh("Owner")
    made = create(client, owner, command="/greet", name="Greet", content="Hello {{name}}",
                  tags=["Social", "social2"], data={"x": 1}, meta={"description": "d"})
    assert made["command"] == "greet" and made["user_id"] == owner.id
    assert made["is_active"] is True and made["version_id"] == "1"
    assert made["access_grants"] == [] and made["data"] == {"x": 1}

    got = get(client, owner, f"/id/{made['id']}")
    assert got["content"] == "Hello {{name}}" and got["write_access"] is True
    assert got["user"]["id"] == owner.id

    page = get(client, owner, "/list")
    assert made["id"] in _ids(page["items"]) and page["total"] >= 1
    assert made["id"] in _ids(get(client, owner, "/"))
    assert {"Social", "social2"} <= set(get(client, owner, "/tags"))
    assert _ids(get(client, owner, "/list", tag="social")["items"]) == [made["id"]]
    assert _ids(get(client, owner, "/list", query="HELLO {{")["items"]) == [made["id"]]
    assert _ids(get(client, owner, "/list", view_option="shared")["items"]) == []

    # Nobody else sees a private prompt; admins see everything.
    assert made["id"] not in _ids(get(client, people.other, "/list")["items"])
    assert made["id"] not in _ids(get(client, people.other, "/"))
    assert "social2" not in get(client, people.other, "/tags")
    assert made["id"] in _ids(get(client, people.admin, "/list")["items"])


def test_a_disabled_prompt_leaves_the_menu_but_not_the_list(client, people):
    made = create(client, people.admin)
    r = client.post(f"{API}/id/{made['id']}/toggle", headers=people.admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert made["id"] not in _ids(get(client, people.admin, "/"))
    listed = {p["id"]: p for p in get(client, people.admin, "/list")["items"]}
    assert listed[made["id"]]["is_active"] is False
    r = client.post(f"{API}/id/{made['id']}/toggle", headers=people.admin.headers)
    assert r.json()["is_active"] is True


def test_list_pages_and_order(client, people, fresh, permissions):
    permissions(workspace={"prompts": True})
    owner = fresh("Pager")
    names = [f"n{i:02d}" for i in range(32)]
    for name in names:
        create(client, owner, name=name)
    first = get(client, owner, "/list", order_by="name", direction="asc")
    assert first["total"] == 32 and [p["name"] for p in first["items"]] == names[:30]
    second = get(client, owner, "/list", order_by="name", direction="asc", page=2)
    assert [p["name"] for p in second["items"]] == names[30:]


# ---- sharing --------------------------------------------------------------------------------
def test_sharing_through_user_grants(client, people, fresh):
    reader, writer, stranger = fresh("Reader"), fresh("Writer"), fresh("Stranger")
    made = create(client, people.admin, access_grants=[user_grant(reader.id),
                                                       user_grant(writer.id, "write")])
    kinds = {(g["principal_id"], g["permission"]) for g in made["access_grants"]}
    assert kinds == {(reader.id, "read"), (writer.id, "write")}
    assert all(g["resource_type"] == "prompt" and g["resource_id"] == made["id"]
               for g in made["access_grants"])

    assert get(client, reader, f"/id/{made['id']}")["write_access"] is False
    assert made["id"] in _ids(get(client, reader, "/list")["items"])
    assert made["id"] in _ids(get(client, reader, "/list", view_option="shared")["items"])
    r = client.post(f"{API}/id/{made['id']}/update", json={**made, "content": "no"},
                    headers=reader.headers)
    assert r.status_code == 401

    assert get(client, writer, f"/id/{made['id']}")["write_access"] is True
    assert made["id"] in _ids(get(client, writer, "/list")["items"])  # write implies read
    edited = update(client, writer, made, content="by the writer", commit_message="writer's")
    assert edited["content"] == "by the writer"
    assert edited["access_grants"] == made["access_grants"]  # editing keeps the grants

    r = client.get(f"{API}/id/{made['id']}", headers=stranger.headers)
    assert r.status_code == 404
    assert made["id"] not in _ids(get(client, stranger, "/list")["items"])

    # Taking the grants back: the reader loses the prompt.
    r = client.post(f"{API}/id/{made['id']}/access/update", json={"access_grants": []},
                    headers=people.admin.headers)
    assert r.status_code == 200 and r.json()["access_grants"] == []
    assert client.get(f"{API}/id/{made['id']}", headers=seen(client, reader)).status_code == 404


def test_public_prompts_and_users_who_may_share(client, people, fresh, permissions):
    everyone = {"principal_type": "user", "principal_id": "*", "permission": "read"}
    made = create(client, people.admin, access_grants=[everyone])
    newcomer = fresh("Newcomer")
    assert made["id"] in _ids(get(client, newcomer, "/"))
    permissions(workspace={"prompts": True}, sharing={"prompts": True})
    owner = fresh("Sharer")
    mine = create(client, owner, access_grants=[user_grant(newcomer.id)])
    assert [g["principal_id"] for g in mine["access_grants"]] == [newcomer.id]
    refused = create(client, owner, access_grants=[everyone])  # public needs public_prompts
    assert refused["access_grants"] == []
    assert mine["id"] in _ids(get(client, newcomer, "/list")["items"])


# ---- commands -------------------------------------------------------------------------------
def test_commands_are_unique_and_freed(client, people, container):
    cmd = command()
    first = create(client, people.admin, command=cmd)
    renamed = client.post(f"{API}/id/{first['id']}/update/meta",
                          json={"name": "Renamed", "command": cmd + "-new", "tags": ["x"]},
                          headers=people.admin.headers)
    assert renamed.status_code == 200 and renamed.json()["command"] == cmd + "-new"
    assert renamed.json()["version_id"] == "1"  # metadata adds no version
    second = create(client, people.admin, command=cmd)  # the old command is free again
    r = client.delete(f"{API}/id/{second['id']}/delete", headers=people.admin.headers)
    assert r.status_code == 200 and r.json() is True
    create(client, people.admin, command=cmd)  # and free after a delete
    assert container.store.get(command_id(cmd)) is not None


# ---- history --------------------------------------------------------------------------------
def test_history_records_each_revision_with_author_and_message(client, people, fresh):
    writer = fresh("Editor")
    made = create(client, people.admin, content="line one", commit_message=None)
    update(client, people.admin, made, content="line one\nline two", commit_message="add a line")
    same = update(client, people.admin, made, content="line one\nline two")  # no change
    assert same["version_id"] == "2"
    client.post(f"{API}/id/{made['id']}/update/meta",
                json={"name": made["name"], "command": made["command"], "tags": ["meta"]},
                headers=people.admin.headers)
    client.post(f"{API}/id/{made['id']}/toggle", headers=people.admin.headers)
    client.post(f"{API}/id/{made['id']}/access/update",
                json={"access_grants": [user_grant(writer.id, "write")]},
                headers=people.admin.headers)
    last = update(client, writer, made, name="Summarise well", content="line one\nline 2",
                  tags=["meta"], commit_message="reword")

    history = get(client, people.admin, f"/id/{made['id']}/history")
    assert [h["commit_message"] for h in history] == ["reword", "add a line", "Initial version"]
    assert [h["user_id"] for h in history] == [writer.id, people.admin.id, people.admin.id]
    assert history[0]["user"]["id"] == writer.id
    assert [h["parent_id"] for h in history] == [history[1]["id"], history[2]["id"], None]
    assert history[0]["id"] == last["version_id"] and all(h["prompt_id"] == made["id"]
                                                          for h in history)
    newest = history[0]["snapshot"]
    assert newest["content"] == "line one\nline 2" and newest["name"] == "Summarise well"
    assert newest["tags"] == ["meta"]
    assert [g["principal_id"] for g in newest["access_grants"]] == [writer.id]
    assert history[2]["snapshot"]["access_grants"] == []

    entry = get(client, people.admin, f"/id/{made['id']}/history/{history[1]['id']}")
    assert entry["snapshot"]["content"] == "line one\nline two" and "user" not in entry

    diff = get(client, people.admin, f"/id/{made['id']}/history/diff",
               from_id=history[2]["id"], to_id=history[0]["id"])
    assert diff["from_snapshot"]["content"] == "line one"
    assert diff["to_snapshot"]["content"] == "line one\nline 2"
    assert "+line 2" in diff["content_diff"] and diff["name_changed"] is True
    assert diff["access_grants_changed"] is True and diff["line_endings_only"] is False
    paths = {op["path"] for op in diff["patch"]}
    assert {"/content", "/name", "/tags/0", "/access_grants/0"} <= paths

    # A reader may see the history; the first page holds 20, newest first.
    assert len(get(client, writer, f"/id/{made['id']}/history")) == 3
    assert get(client, writer, f"/id/{made['id']}/history", page=1) == []


def test_line_endings_only(client, people):
    made = create(client, people.admin, content="a\nb")
    update(client, people.admin, made, content="a\r\nb")
    diff = get(client, people.admin, f"/id/{made['id']}/history/diff", from_id="1", to_id="2")
    assert diff["content_diff"] == [] and diff["line_endings_only"] is True


def test_drafts_production_and_deleted_versions(client, people):
    made = create(client, people.admin, content="live")
    draft = update(client, people.admin, made, content="draft", command=made["command"] + "-d",
                   commit_message="try", is_production=False)
    assert draft["content"] == "live" and draft["version_id"] == "1"
    assert draft["command"] == made["command"] + "-d"  # the command moves anyway (0.12.4)
    history = get(client, people.admin, f"/id/{made['id']}/history")
    assert [h["snapshot"]["content"] for h in history] == ["draft", "live"]

    r = client.post(f"{API}/id/{made['id']}/update/version",
                    json={"version_id": history[0]["id"]}, headers=people.admin.headers)
    assert r.status_code == 200
    assert r.json()["content"] == "draft" and r.json()["version_id"] == history[0]["id"]
    assert get(client, people.admin, f"/id/{made['id']}")["content"] == "draft"

    r = client.delete(f"{API}/id/{made['id']}/history/1", headers=people.admin.headers)
    assert r.status_code == 200 and r.json() is True
    history = get(client, people.admin, f"/id/{made['id']}/history")
    assert [h["id"] for h in history] == [history[0]["id"]] and history[0]["parent_id"] is None
    assert client.get(f"{API}/id/{made['id']}/history/1",
                      headers=people.admin.headers).status_code == 404


def test_history_is_in_the_log_and_encrypted_with_the_owner_key(client, people, container):
    made = create(client, people.admin, content="secret recipe")
    update(client, people.admin, made, content="secret recipe 2", commit_message="tweak")
    from uuid import UUID

    from infrastructure.mapper import read_header

    stored = container.store.app.recorder.select_events(UUID(made["id"]))
    assert [s.topic.rpartition(".")[2] for s in stored] == ["Created", "Revised"]
    assert {read_header(s.state)["o"] for s in stored} == {people.admin.id}
    assert all(b"secret recipe" not in s.state for s in stored)


def test_rebuild_equals_live(client, container, people, fresh):
    reader = fresh("Rebuilt")
    made = create(client, people.admin, tags=["rebuilt"], access_grants=[user_grant(reader.id)])
    update(client, people.admin, made, content="again", commit_message="m")
    client.post(f"{API}/id/{made['id']}/toggle", headers=people.admin.headers)
    gone = create(client, people.admin, tags=["rebuilt"])
    client.delete(f"{API}/id/{gone['id']}/delete", headers=people.admin.headers)
    views = [(people.admin, "/list", {"tag": "rebuilt"}), (reader, "/list", {}),
             (people.admin, "/", {}), (reader, "/tags", {}), (reader, f"/id/{made['id']}", {})]
    before = [get(client, who, path, **params) for who, path, params in views]
    rebuild(PromptsProjector, container.read_db, container.reader)
    assert [get(client, who, path, **params) for who, path, params in views] == before


def test_erasing_the_owner_deletes_the_prompts_and_frees_their_commands(client, people, fresh,
                                                                        permissions):
    permissions(workspace={"prompts": True})
    owner = fresh("Erased")
    made = create(client, owner, content="personal text")
    r = client.delete(f"/api/v1/users/{owner.id}/erase", headers=people.admin.headers)
    assert r.status_code == 200, r.text
    assert made["id"] not in _ids(get(client, people.admin, "/list")["items"])
    assert client.get(f"{API}/id/{made['id']}", headers=people.admin.headers).status_code == 404
    create(client, people.admin, command=made["command"])


def test_auditors_see_the_same_history(client, people):
    made = create(client, people.admin, content="one")
    update(client, people.admin, made, content="two", commit_message="second")
    r = client.get(f"/api/v1/audit/prompt/{made['id']}/events", headers=people.admin.headers)
    assert r.status_code == 200
    events = r.json()["items"]
    assert [e["type"] for e in events] == ["Created", "Revised"]
    assert events[1]["data"]["commit_message"] == "second"
    assert events[1]["actor_id"] == people.admin.id
    r = client.get(f"/api/v1/audit/prompt/{made['id']}/diff", params={"from_version": 1},
                   headers=people.admin.headers)
    assert {"op": "replace", "path": "/content", "value": "two"} in r.json()["patch"]
