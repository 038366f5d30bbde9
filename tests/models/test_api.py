"""The models API end to end, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from application.messages import Detail
from domain.model import model_uuid
from infrastructure.mapper import read_header
from projections.models import ModelsProjector
from projections.runtime import rebuild
from tests.helpers import lagging
from tests.models.conftest import uid
from tests.models.helpers import (
    API,
    PNG_1PX,
    StaticGroups,
    create,
    ids,
    listing,
    model_form,
    seen,
    share,
)


# ---- create, read, list ---------------------------------------------------------------------
def test_create_then_get_list_and_tags(client, people, fresh):
    owner = fresh("Owner")
    mid = f"team/{uuid.uuid4().hex[:8]}"  # ids may hold "/": they travel as query parameters
    made = create(client, people.admin, mid, name="Writer", access_control=share([owner.id]),
                  meta={"description": "d", "tags": ["Prose", {"name": "work"}],
                        "profile_image_url": PNG_1PX})
    assert made["id"] == mid and made["user_id"] == people.admin.id and made["is_active"]
    assert made["meta"]["tags"] == [{"name": "Prose"}, {"name": "work"}]
    assert {"principal_type": "user", "principal_id": owner.id, "permission": "read"}.items() \
        <= made["access_grants"][0].items()

    got = client.get(f"{API}/model", params={"id": mid}, headers=seen(client, owner)).json()
    assert got["name"] == "Writer" and got["write_access"] is False
    assert got["params"] == {}  # the curated prompt is for those who may edit it
    assert got["user"] == {"id": people.admin.id, "name": "Admin", "role": "admin",
                           "email": people.admin.email}
    assert got["meta"]["profile_image_url"] == PNG_1PX

    page = listing(client, owner)
    assert ids(page) == [mid] and page["total"] == 1 and page["page"] == 1 and page["size"] == 30
    assert page["items"] == page["data"]
    assert "profile_image_url" not in page["data"][0]["meta"]  # served by /model/profile/image
    assert set(page["data"][0]) == {"id", "user_id", "base_model_id", "name", "params", "meta",
                                    "access_control", "access_grants", "is_active", "updated_at",
                                    "created_at", "user", "write_access"}
    assert client.get(f"{API}/tags", headers=seen(client, owner)).json() == ["Prose", "work"]


def test_profile_image_data_uri_redirect_and_default(client, people):
    mid = create(client, people.admin, meta={"profile_image_url": PNG_1PX})["id"]
    r = client.get(f"{API}/model/profile/image", params={"id": mid}, headers=seen(client, people.admin))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    mid = create(client, people.admin, meta={"profile_image_url": "https://x.org/a.png"})["id"]
    r = client.get(f"{API}/model/profile/image", params={"id": mid}, headers=seen(client, people.admin),
                   follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://x.org/a.png"
    for url in ("", "data:image/svg+xml;base64,PHN2Zz4=", "javascript:alert(1)"):
        mid = create(client, people.admin, meta={"profile_image_url": url})["id"]
        r = client.get(f"{API}/model/profile/image", params={"id": mid},
                       headers=seen(client, people.admin))
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"  # the default


def test_taken_id_is_409_and_long_id_400(client, people):
    mid = create(client, people.admin)["id"]
    r = client.post(f"{API}/create", json=model_form(mid), headers=people.admin.headers)
    assert r.status_code == 409 and r.json()["detail"] == Detail.MODEL_ID_TAKEN
    r = client.post(f"{API}/create", json=model_form("x" * 257), headers=people.admin.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.MODEL_ID_TOO_LONG


def test_racing_creates_of_one_id_make_one_model(client, people):
    mid = uid("race")
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: client.post(
            f"{API}/create", json=model_form(mid), headers=people.admin.headers).status_code,
            range(4)))
    assert sorted(statuses) == [200, 409, 409, 409]


def test_base_models_are_admin_entries_without_a_base(client, people):
    base = create(client, people.admin, base_model_id=None, meta={"tags": ["Local"]})["id"]
    preset = create(client, people.admin)["id"]
    listed = [m["id"] for m in client.get(f"{API}/base", headers=seen(client, people.admin)).json()]
    assert base in listed and preset not in listed
    tagged = client.get(f"{API}/base", params={"tag": "local"}, headers=seen(client, people.admin))
    assert base in [m["id"] for m in tagged.json()]
    assert "Local" in client.get(f"{API}/base/tags", headers=seen(client, people.admin)).json()
    assert base not in ids(listing(client, people.admin))  # the workspace lists presets


def test_non_admin_creates_only_presets_and_needs_the_permission(client, fresh, permissions):
    alice = fresh("Alice")
    r = client.post(f"{API}/create", json=model_form(), headers=alice.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.UNAUTHORIZED
    permissions(workspace={"models": True})
    r = client.post(f"{API}/create", json=model_form(base_model_id=None), headers=alice.headers)
    assert r.status_code == 401
    r = client.post(f"{API}/create", json=model_form(access_control=None), headers=alice.headers)
    assert r.status_code == 200 and r.json()["user_id"] == alice.id
    # Without sharing.public_models a user's "public" becomes private.
    assert r.json()["access_control"] == {}


# ---- update, toggle, delete -----------------------------------------------------------------
def test_update_keeps_absent_image_and_base(client, people):
    mid = create(client, people.admin, meta={"profile_image_url": PNG_1PX})["id"]
    body = {"id": mid, "name": "Renamed", "meta": {"description": "new"}, "params": {"x": 1}}
    r = client.post(f"{API}/model/update", json=body, headers=people.admin.headers)
    assert r.status_code == 200, r.text
    model = r.json()
    assert model["name"] == "Renamed" and model["params"] == {"x": 1}
    assert model["meta"] == {"description": "new", "profile_image_url": PNG_1PX}
    assert model["base_model_id"] == "llama3:8b" and model["access_control"] == {}
    r = client.post(f"{API}/model/update", json={**body, "access_control": None},
                    headers=people.admin.headers)
    assert r.json()["access_control"] is None  # explicitly public


def test_write_access_lets_a_user_edit_toggle_and_delete(client, people, fresh):
    editor, reader = fresh("Editor"), fresh("Reader")
    mid = create(client, people.admin, access_control=share([reader.id], [editor.id]))["id"]
    body = {k: v for k, v in model_form(mid, name="By editor").items() if k != "access_control"}
    r = client.post(f"{API}/model/update", json=body, headers=reader.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    r = client.post(f"{API}/model/update", json=body, headers=editor.headers)
    assert r.status_code == 200 and r.json()["user_id"] == people.admin.id  # owner unchanged
    r = client.post(f"{API}/model/toggle", params={"id": mid}, headers=editor.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get(f"{API}/model", params={"id": mid}, headers=seen(client, editor)).json()[
        "write_access"] is True
    r = client.post(f"{API}/model/delete", json={"id": mid}, headers=reader.headers)
    assert r.status_code == 401
    r = client.post(f"{API}/model/delete", json={"id": mid}, headers=editor.headers)
    assert r.status_code == 200 and r.json() is True
    r = client.get(f"{API}/model", params={"id": mid}, headers=seen(client, people.admin))
    assert r.status_code == 404


def test_deleted_id_can_be_taken_again(client, people, fresh, permissions):
    permissions(workspace={"models": True})
    first, second = fresh("First"), fresh("Second")
    mid = create(client, first, name="One")["id"]
    assert client.post(f"{API}/model/delete", json={"id": mid}, headers=first.headers).json()
    again = create(client, second, mid, name="Two")
    assert again["user_id"] == second.id and again["name"] == "Two"
    r = client.get(f"{API}/model", params={"id": mid}, headers=seen(client, first))
    assert r.status_code == 401  # the new model is private to its new owner
    assert ids(listing(client, second, view_option="created")) == [mid]


# ---- access control -------------------------------------------------------------------------
def test_lists_follow_access_control(client, people, fresh):
    alice, bob = fresh("Alice"), fresh("Bob")
    public = create(client, people.admin, access_control=None)["id"]
    private = create(client, people.admin, access_control={})["id"]
    for_bob = create(client, people.admin, access_control=share([bob.id]))["id"]
    visible = set(ids(listing(client, alice, view_option="shared")))
    assert public in visible and private not in visible and for_bob not in visible
    visible = set(ids(listing(client, bob, view_option="shared")))
    assert {public, for_bob} <= visible and private not in visible
    r = client.get(f"{API}/model", params={"id": private}, headers=seen(client, bob))
    assert r.status_code == 401 and r.json()["detail"] == Detail.ACCESS_PROHIBITED
    r = client.get(f"{API}/model/profile/image", params={"id": private}, headers=seen(client, bob))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"  # the default, as 0.12.4


def test_group_grants_through_the_membership_port(client, container, people, fresh):
    member, outsider = fresh("Member"), fresh("Outsider")
    mid = create(client, people.admin, access_control=share(read_groups=["g-readers"],
                                                            write_groups=["g-editors"]))["id"]
    saved = container.models.groups
    container.models.groups = StaticGroups({member.id: ["g-readers"], outsider.id: ["g-x"]})
    try:
        assert mid in ids(listing(client, member, view_option="shared"))
        assert mid not in ids(listing(client, outsider, view_option="shared"))
        r = client.post(f"{API}/model/toggle", params={"id": mid}, headers=member.headers)
        assert r.status_code == 401
        container.models.groups = StaticGroups({member.id: ["g-editors"]})
        r = client.post(f"{API}/model/toggle", params={"id": mid}, headers=member.headers)
        assert r.status_code == 200  # write implies read, and lets the member edit
    finally:
        container.models.groups = saved


def test_access_grants_form_is_understood(client, people, fresh):
    bob = fresh("Bob")
    grants = [{"principal_type": "user", "principal_id": bob.id, "permission": "write"}]
    made = create(client, people.admin, access_control=None, access_grants=grants)
    # `access_grants` is the canonical form: it wins over a seed's `access_control: null`
    assert made["access_control"] == {"write": {"group_ids": [], "user_ids": [bob.id]}}
    body = {k: v for k, v in model_form(access_grants=grants).items() if k != "access_control"}
    r = client.post(f"{API}/create", json=body, headers=people.admin.headers)
    assert r.json()["access_control"] == {"write": {"group_ids": [], "user_ids": [bob.id]}}
    r = client.post(f"{API}/model/toggle", params={"id": body["id"]}, headers=bob.headers)
    assert r.status_code == 200


# ---- list filters and pages -----------------------------------------------------------------
def test_filters_order_and_pages(client, people, fresh, permissions):
    permissions(workspace={"models": True, "models_import": True})
    carol = fresh("Carol")
    models = [model_form(f"{carol.id[:8]}-{i:02d}", name=f"Item {i:02d}",
                         meta={"tags": ["even" if i % 2 == 0 else "odd"]}) for i in range(33)]
    models[5]["name"] = "Special 100%_match"
    r = client.post(f"{API}/import", json={"models": models}, headers=carol.headers)
    assert r.status_code == 200 and r.json() is True
    mine = {"view_option": "created"}  # other tests' public models are listed too
    first = listing(client, carol, order_by="name", direction="asc", **mine)
    assert first["total"] == 33 and len(first["data"]) == 30
    names = [m["name"] for m in first["data"]]
    assert names == sorted(names, key=str.lower)
    second = listing(client, carol, order_by="name", direction="asc", page=2, **mine)
    assert len(second["data"]) == 3 and second["page"] == 2
    beyond = listing(client, carol, page=3, **mine)
    assert beyond["data"] == [] and beyond["total"] == 33
    assert listing(client, carol, page=0, **mine)["page"] == 1  # the reference clamps
    assert listing(client, carol, tag="EVEN", **mine)["total"] == 17
    assert ids(listing(client, carol, query="100%_", **mine)) == [models[5]["id"]]
    assert listing(client, carol, query="100%x", **mine)["total"] == 0  # % and _ are literal
    assert listing(client, people.admin, query="carol")["total"] == 33  # the owner's name
    assert not set(ids(listing(client, people.admin, **mine))) & {m["id"] for m in models}


# ---- import, export, sync, delete all -------------------------------------------------------
def test_import_is_idempotent_and_merges(client, container, people):
    admin = people.admin
    mid = uid()
    models = [model_form(mid, name="Imported", meta={"description": "v1", "color": "red"})]
    r = client.post(f"{API}/import", json={"models": models}, headers=admin.headers)
    assert r.status_code == 200
    head = container.store.head()
    r = client.post(f"{API}/import", json={"models": models}, headers=admin.headers)
    assert r.status_code == 200 and container.store.head() == head  # nothing new recorded
    r = client.post(f"{API}/import", json={"models": [{"id": mid, "meta": {"description": "v2"}}]},
                    headers=admin.headers)
    model = client.get(f"{API}/model", params={"id": mid}, headers=seen(client, admin)).json()
    assert model["name"] == "Imported" and model["meta"]["description"] == "v2"
    assert model["meta"]["color"] == "red"
    r = client.post(f"{API}/import", json={"models": [{"id": uid(), "meta": {}}]},
                    headers=admin.headers)
    assert r.status_code == 400  # a new model needs a name; nothing was written
    assert container.store.head() == head + 1


def test_import_skips_what_the_user_may_not_write(client, people, fresh, permissions):
    permissions(workspace={"models_import": True})
    theirs = create(client, people.admin, name="Admin's", access_control=None)["id"]
    user = fresh("Importer")
    mine = uid()
    body = {"models": [model_form(theirs, name="Hijacked"), model_form(mine, name="Mine"),
                       model_form(uid(), base_model_id=None)]}
    r = client.post(f"{API}/import", json=body, headers=user.headers)
    assert r.status_code == 200
    got = client.get(f"{API}/model", params={"id": theirs}, headers=seen(client, people.admin)).json()
    assert got["name"] == "Admin's"
    assert ids(listing(client, user, view_option="created")) == [mine]


def test_export_all_for_admins_writable_for_users(client, people, fresh, permissions):
    user = fresh("Exporter")
    theirs = create(client, people.admin, access_control=share([user.id]))["id"]
    editable = create(client, people.admin, access_control=share([], [user.id]))["id"]
    r = client.get(f"{API}/export", headers=seen(client, user))
    assert r.status_code == 401
    permissions(workspace={"models_export": True})
    exported = [m["id"] for m in client.get(f"{API}/export", headers=seen(client, user)).json()]
    assert editable in exported and theirs not in exported
    r = client.get(f"{API}/export", params={"ids": [theirs]}, headers=seen(client, people.admin))
    assert [m["id"] for m in r.json()] == [theirs]
    assert r.json()[0]["params"]["system"] == "You are helpful."


def test_sync_and_delete_all(client, people):
    admin = people.admin.headers
    keep = uid()
    create(client, people.admin, keep, name="Old name")
    create(client, people.admin)
    body = {"models": [model_form(keep, name="Synced"), model_form(uid("new"), name="New")]}
    r = client.post(f"{API}/sync", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert sorted(m["name"] for m in r.json()) == ["New", "Synced"]
    everything = client.get(f"{API}/export", headers=admin).json()
    assert sorted(m["name"] for m in everything) == ["New", "Synced"]
    assert client.delete(f"{API}/delete/all", headers=admin).json() is True
    assert listing(client, people.admin)["total"] == 0
    assert client.get(f"{API}/base", headers=admin).json() == []


def test_delete_all_takes_a_model_created_a_moment_before(client, container, people,
                                                           permissions):
    """"All" is everything created before the request, by anyone, even what the read model has
    not reached yet (the admin's own writes aside): delete-all first brings it up to the head."""
    permissions(workspace={"models": True})
    admin = people.admin.headers
    with lagging(container, "models"):
        late = create(client, people.user)["id"]
        assert client.delete(f"{API}/delete/all", headers=admin).json() is True
    r = client.get(f"{API}/model", params={"id": late}, headers=seen(client, people.admin))
    assert r.status_code == 404, r.text


# ---- the log --------------------------------------------------------------------------------
def test_every_change_is_an_event_with_its_actor_and_owner_key(client, container, people, fresh,
                                                              permissions):
    permissions(workspace={"models": True})
    alice = fresh("Alice")
    head = container.store.head()
    mid = create(client, alice)["id"]
    client.post(f"{API}/model/toggle", params={"id": mid}, headers=people.admin.headers)
    events = [n for n in container.store.select(head, 100)
              if n.originator_id == model_uuid(mid)]
    assert [n.topic.rsplit(".", 1)[1] for n in events] == ["Created", "Toggled"]
    headers = [read_header(n.state) for n in events]
    assert [h["a"] for h in headers] == [alice.id, people.admin.id]
    assert {h["o"] for h in headers} == {alice.id}  # encrypted with the owner's key
    assert b"You are helpful" not in events[0].state


def test_rebuild_equals_live(client, container, people):
    create(client, people.admin, access_control=None, meta={"tags": ["rebuilt"]})
    before = listing(client, people.admin, tag="rebuilt")
    rebuild(ModelsProjector, container.read_db, container.reader)
    assert listing(client, people.admin, tag="rebuilt") == before
