"""Who may call every models route, and what bad input gets (4xx, never 500, nothing written).

The matrix's callers: anonymous, pending, user (the model's owner where a route takes a model),
another user, admin. Statuses are the reference's, except unknown ids (404, as the spec).
"""

from __future__ import annotations

import json

import pytest

from application.messages import Detail
from tests.models.conftest import CALLERS
from tests.models.helpers import API, create, deep, model_form, seen

DENIED = 401  # the reference answers 401 for a missing role or workspace permission


def _call(client, method, path, who_headers, **kwargs):
    return client.request(method, f"{API}{path}", headers=who_headers, **kwargs)


@pytest.fixture
def owned(client, people, permissions):
    """A private model owned by `people.user`, readable by nobody else."""
    permissions(workspace={"models": True})
    return create(client, people.user, access_control={})["id"]


def _expect(client, people, method, path, expected, **kwargs):
    got = {}
    for who in CALLERS:
        headers = people.all()[who]
        if headers is not None:
            headers = seen(client, getattr(people, who))
        got[who] = _call(client, method, path, headers, **kwargs).status_code
    assert got == dict(zip(CALLERS, expected, strict=True))


LIST_ROUTES = [("GET", "/list"), ("GET", "/tags")]
ADMIN_ROUTES = [("GET", "/base"), ("GET", "/base/tags")]


@pytest.mark.parametrize(("method", "path"), LIST_ROUTES)
def test_verified_users_list(client, people, method, path):
    _expect(client, people, method, path, [401, 401, 200, 200, 200])


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admins_only(client, people, method, path):
    _expect(client, people, method, path, [401, 401, 401, 401, 200])


def test_reads_of_a_private_model(client, people, owned):
    _expect(client, people, "GET", "/model", [401, 401, 200, 401, 200], params={"id": owned})
    # The picture of a model one may not read is the default one (ids stay unprobeable).
    _expect(client, people, "GET", "/model/profile/image", [401, 401, 200, 200, 200],
            params={"id": owned})


def test_toggle_needs_write_access(client, people, owned):
    # the admin's toggle comes last and flips it back on
    _expect(client, people, "POST", "/model/toggle", [401, 401, 200, 401, 200],
            params={"id": owned})


def test_update_needs_write_access(client, people, owned):
    body = model_form(owned, name="Renamed")
    _expect(client, people, "POST", "/model/update", [401, 401, 200, 400, 200], json=body)


def test_delete_needs_write_access(client, people, owned):
    r = client.post(f"{API}/model/delete", json={"id": owned}, headers=people.other.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.UNAUTHORIZED
    for who in ("anonymous", "pending"):
        headers = people.all()[who]
        assert client.post(f"{API}/model/delete", json={"id": owned},
                           headers=headers).status_code == 401
    assert client.post(f"{API}/model/delete", json={"id": owned},
                       headers=people.user.headers).status_code == 200
    mine = create(client, people.user, access_control={})["id"]
    assert client.post(f"{API}/model/delete", json={"id": mine},
                       headers=people.admin.headers).status_code == 200


def test_create_needs_the_workspace_permission(client, people, permissions):
    statuses = [client.post(f"{API}/create", json=model_form(), headers=people.all()[who])
                .status_code for who in CALLERS]
    assert statuses == [401, 401, 401, 401, 200]
    permissions(workspace={"models": True})
    statuses = [client.post(f"{API}/create", json=model_form(), headers=people.all()[who])
                .status_code for who in CALLERS]
    assert statuses == [401, 401, 200, 200, 200]


@pytest.mark.parametrize(("path", "key"), [("/export", "models_export"),
                                            ("/import", "models_import")])
def test_export_and_import_need_their_permissions(client, people, permissions, path, key):
    method, kwargs = ("GET", {}) if path == "/export" else ("POST", {"json": {"models": []}})
    _expect(client, people, method, path, [401, 401, 401, 401, 200], **kwargs)
    permissions(workspace={key: True})
    _expect(client, people, method, path, [401, 401, 200, 200, 200], **kwargs)


def test_sync_and_delete_all_are_for_admins(client, people):
    for who in CALLERS[:-1]:
        assert client.post(f"{API}/sync", json={"models": []},
                           headers=people.all()[who]).status_code == 401
        assert client.delete(f"{API}/delete/all", headers=people.all()[who]).status_code == 401


# ---- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,kwargs", [
    ("GET", "/model", {"params": {"id": "nope"}}),
    ("POST", "/model/toggle", {"params": {"id": "nope"}}),
    ("POST", "/model/update", {"json": model_form("nope")}),
    ("POST", "/model/delete", {"json": {"id": "nope"}}),
])
def test_unknown_ids_are_404(client, people, method, path, kwargs):
    r = _call(client, method, path, people.admin.headers, **kwargs)
    assert r.status_code == 404 and r.json()["detail"] == Detail.NOT_FOUND


BAD_BODIES = [
    {"name": 123},
    {"name": "x" * 1001},
    {"name": "nul\x00"},
    {"id": ""},
    {"id": "has space"},
    {"id": "x" * 1025},
    {"meta": []},
    {"meta": {"tags": ["x" * 256]}},
    {"meta": {"tags": [{"label": "no name"}]}},
    {"meta": {"profile_image_url": "x" * (4 * 1024 * 1024 + 1)}},
    {"params": "no"},
    {"meta": {"x": deep(65)}},  # deep data would exhaust the stack of the code that copies it
    {"params": {"x": deep(900)}},
    {"params": {"system": "x" * (1024 * 1024 + 1)}},
    {"access_control": {"read": {"user_ids": "everyone"}}},
    {"access_control": {"read": {"user_ids": [""]}}},
    {"access_control": {"read": {"group_ids": ["g"] * 1001}}},
    {"access_grants": [{"principal_type": "robot", "principal_id": "r", "permission": "read"}]},
    {"is_active": "sometimes"},
]


@pytest.mark.parametrize("change", BAD_BODIES, ids=lambda c: json.dumps(c)[:40])
def test_bad_bodies_are_rejected_and_write_nothing(client, container, people, change):
    head = container.store.head()
    for path in ("/create", "/model/update"):
        r = client.post(f"{API}{path}", json={**model_form(), **change},
                        headers=people.admin.headers)
        assert 400 <= r.status_code < 500, r.text
    assert container.store.head() == head


@pytest.mark.parametrize("params", [{"page": 10**7}, {"page": "two"}, {"query": "q" * 1001},
                                    {"order_by": "x" * 1001}])
def test_bad_list_parameters(client, people, params):
    assert client.get(f"{API}/list", params=params, headers=people.user.headers).status_code == 422


def test_odd_list_parameters_fall_back(client, people):
    for params in ({"order_by": "password", "direction": "sideways"}, {"view_option": "x"},
                   {"page": -3}, {"query": "'; DROP TABLE models; --"}):
        r = client.get(f"{API}/list", params=params, headers=people.user.headers)
        assert r.status_code == 200, params


def test_malformed_imports(client, container, people):
    head = container.store.head()
    for body in ({"models": "all"}, {"models": [{"name": "no id"}]},
                 {"models": [model_form()] * 1001}, {"models": [model_form("x" * 300)]}, b"{"):
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
        r = client.post(f"{API}/import", headers={**people.admin.headers,
                                                 "content-type": "application/json"}, **kwargs)
        assert 400 <= r.status_code < 500
    assert container.store.head() == head


def test_deeply_nested_meta_is_a_4xx(client, people):
    nested = "[" * 100_000 + "]" * 100_000
    body = '{"id": "deep", "name": "n", "params": {}, "meta": {"x": ' + nested + '}}'
    r = client.post(f"{API}/create", content=body, headers={**people.admin.headers,
                                                            "content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_still_healthy(client, container, people):
    """After all of the above the server answers and no projector has failed."""
    assert client.get(f"{API}/list", headers=people.user.headers).status_code == 200
    status = {s["name"]: s for s in container.host.status()}
    assert status["models"]["failures"] == 0 and status["models"]["status"] == "running"
