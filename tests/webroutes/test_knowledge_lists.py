"""The workspace's knowledge lists (0.12.4's /knowledge/search, /search/files, /{id}/files and
/{id}/files/pending) and the web app's upload into a knowledge base (`metadata.knowledge_id`),
on both backends (PostgreSQL: jobs on Dramatiq)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from application.messages import Detail
from tests.api.test_authz_matrix import close_shared_worlds
from tests.files.stack import Stack, allow_knowledge, stack
from tests.helpers import Caller

API = "/api/v1/knowledge"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    close_shared_worlds()
    backend = str(request.param)
    with stack(backend, tmp_path_factory.mktemp(f"webroutes-kb-{backend}")) as built:
        allow_knowledge(built)
        yield built


def _base(world: Stack, owner: Caller, name: str, **extra: Any) -> str:
    r = world.client.post(f"{API}/create", headers=owner.headers,
                          json={"name": name, "description": f"about {name}", **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _upload_into(world: Stack, owner: Caller, knowledge_id: str, name: str, text: str) -> str:
    """As the app's knowledge page: upload with `metadata.knowledge_id`, wait for processing."""
    body = world.upload(owner, name, text, metadata=json.dumps({"knowledge_id": knowledge_id,
                                                                "directory_id": None}))
    assert world.wait_status(owner, body["id"]) == {"status": "completed"}
    return str(body["id"])


def test_an_upload_is_listed_in_its_knowledge_base(world):
    owner = world.fresh("Librarian")
    kid = _base(world, owner, "Whales")
    file_id = _upload_into(world, owner, kid, "whales.txt", "Blue whales are the largest animals.")
    h = world.caught_up(owner)
    r = world.client.get(f"{API}/{kid}/files", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["directories"] == [] and body["breadcrumbs"] == []
    item = body["items"][0]
    assert (item["id"], item["filename"], item["user"]["id"]) == (file_id, "whales.txt", owner.id)
    assert item["has_original"] is True and item["directory_path"] == ""
    assert world.client.get(f"{API}/{kid}/files/pending", headers=h).json() == []
    assert [f["id"] for f in world.client.get(f"{API}/{kid}", headers=h).json()["files"]] == \
        [file_id]
    # Filename filter, and the cross-base file search.
    assert world.client.get(f"{API}/{kid}/files", params={"query": "owls"},
                            headers=h).json()["total"] == 0
    found = world.client.get(f"{API}/search/files", params={"query": "whales"}, headers=h).json()
    assert [(i["id"], i["collection"]["id"]) for i in found["items"]] == [(file_id, kid)]


def test_an_upload_into_someone_elses_base_is_not_filed(world):
    owner, stranger = world.fresh("Keeper"), world.fresh("Stranger")
    kid = _base(world, owner, "Private")
    _upload_into(world, stranger, kid, "intruder.txt", "Not yours.")
    assert world.client.get(f"{API}/{kid}/files", headers=world.caught_up(owner)).json()[
        "total"] == 0


def test_search_lists_readable_bases_with_counts(world):
    owner, other = world.fresh("Owner"), world.fresh("Other")
    mine = _base(world, owner, "Astronomy notes")
    _base(world, other, "Astronomy secrets")
    _upload_into(world, owner, mine, "stars.txt", "Stars shine.")
    r = world.client.get(f"{API}/search", params={"query": "astronomy"},
                         headers=world.caught_up(owner))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(i["id"], i["file_count"], i["write_access"], i["user"]["id"])
            for i in body["items"]] == [(mine, 1, True, owner.id)]
    assert body["total"] == 1
    assert world.client.get(f"{API}/search", params={"view_option": "shared"},
                            headers=world.caught_up(owner)).json()["items"] == []
    assert world.client.get(f"{API}/search", params={"source": "external"},
                            headers=world.caught_up(owner)).json() == {"items": [], "total": 0}
    # Admins see every base.
    admin = world.caught_up(world.people.admin)
    ids = [i["id"] for i in world.client.get(f"{API}/search", params={"query": "astronomy"},
                                             headers=admin).json()["items"]]
    assert mine in ids and len(ids) == 2


@pytest.mark.parametrize("suffix", ["/files", "/files/pending"])
def test_who_may_list_a_bases_files(world, suffix):
    owner = world.people.user
    kid = _base(world, owner, "Listed")
    expected = {"anonymous": 401, "pending": 401, "user": 200, "other": 400, "admin": 200}
    got = {who: world.client.get(f"{API}/{kid}{suffix}",
                                 headers=world.headers(who)).status_code for who in expected}
    assert got == expected
    r = world.client.get(f"{API}/{kid}{suffix}", headers=world.people.other.headers)
    assert r.json()["detail"] == Detail.ACCESS_PROHIBITED


def test_unknown_bases_and_bad_input(world):
    h = world.people.user.headers
    r = world.client.get(f"{API}/nope/files", headers=h)
    assert (r.status_code, r.json()["detail"]) == (400, Detail.NOT_FOUND)
    r = world.client.get(f"{API}/nope/files/pending", headers=h)
    assert (r.status_code, r.json()["detail"]) == (404, Detail.NOT_FOUND)
    for path, params in ((f"{API}/search", {"page": 0}), (f"{API}/search/files", {"page": -1}),
                         (f"{API}/search", {"query": "x" * 1_001}),
                         (f"{API}/nope/files", {"limit": 0})):
        assert world.client.get(path, params=params, headers=h).status_code == 422, params
    for path in (f"{API}/search", f"{API}/search/files"):
        assert world.client.get(path).status_code == 401


def test_a_base_is_renamed_by_those_who_may_change_it(world):
    owner, other = world.fresh("Renamer"), world.fresh("Onlooker")
    kid = _base(world, owner, "Draft name")
    r = world.client.post(f"{API}/{kid}/update", headers=owner.headers,
                          json={"name": "Final name", "description": "Now described"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"]) == ("Final name", "Now described")
    h = world.caught_up(owner)
    assert world.client.get(f"{API}/{kid}", headers=h).json()["name"] == "Final name"
    found = world.client.get(f"{API}/search", params={"query": "final"}, headers=h).json()
    assert [i["id"] for i in found["items"]] == [kid]
    # Who may not, and bad input: 0.12.4's answers, and nothing changes.
    r = world.client.post(f"{API}/{kid}/update", headers=other.headers,
                          json={"name": "Hijacked", "description": "x"})
    assert (r.status_code, r.json()["detail"]) == (400, Detail.ACCESS_PROHIBITED)
    r = world.client.post(f"{API}/nope/update", headers=owner.headers,
                          json={"name": "x", "description": "x"})
    assert (r.status_code, r.json()["detail"]) == (400, Detail.NOT_FOUND)
    for bad in ({"name": "", "description": "x"}, {"description": "x"}):
        assert world.client.post(f"{API}/{kid}/update", headers=owner.headers,
                                 json=bad).status_code == 422
    for who in ("anonymous", "pending"):
        r = world.client.post(f"{API}/{kid}/update", headers=world.headers(who),
                              json={"name": "x", "description": "x"})
        assert r.status_code == 401, who
    admin = world.client.post(f"{API}/{kid}/update", headers=world.people.admin.headers,
                              json={"name": "By admin", "description": "ok"})
    assert admin.status_code == 200
    assert world.client.get(f"{API}/{kid}", headers=world.caught_up(owner)).json()["name"] == \
        "By admin"
