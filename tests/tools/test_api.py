"""The tools API end to end, on SQLite and on PostgreSQL + Redis: who may call each route,
what the server reads from a tool's source (without running it in its own process), valves and
user valves, and hostile sources."""

from __future__ import annotations

import dataclasses
import functools
import textwrap
import time
import uuid

import pytest

from application.messages import Detail
from domain.tool import tool_uuid, user_valves_uuid
from infrastructure.mapper import read_header
from infrastructure.tool_source import extract_valves_schemas
from interfaces.schemas.users import default_user_permissions
from tests.models.conftest import CALLERS
from tests.models.helpers import deep, seen

API = "/api/v1/tools"
TOOL = textwrap.dedent('''\
    """
    title: City Weather
    version: 0.2.1
    description: Current weather for a city.
    """
    from pydantic import BaseModel, Field

    import requests  # not installed in the sandbox: stood in for


    class Tools:
        class Valves(BaseModel):
            api_key: str = Field(default="", description="Service key")
            limit: int = Field(default=5, ge=1, le=20)

        class UserValves(BaseModel):
            units: str = "metric"
            token: str = ""

        def get_weather(self, city: str, days: int = 1) -> str:
            """Weather for a city.
            :param city: The city
            """
            return city
    ''')
PLAIN = 'class Tools:\n    def ping(self) -> str:\n        """Pong."""\n        return "pong"\n'


def tool_form(tool_id: str | None = None, content: str = TOOL, **overrides):
    return {"id": tool_id or f"t_{uuid.uuid4().hex[:10]}", "name": "Weather", "content": content,
            "meta": {"description": "weather"}, "access_control": {}, **overrides}


def _grant(client, people, **workspace):
    body = default_user_permissions()
    body["workspace"].update(workspace)
    r = client.post("/api/v1/users/default/permissions", json=body, headers=people.admin.headers)
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def tool(client, people):
    """A private tool owned by `people.user` (valves and user valves declared)."""
    _grant(client, people, tools=True)
    r = client.post(f"{API}/create", json=tool_form(), headers=people.user.headers)
    _grant(client, people)
    assert r.status_code == 200, r.text
    return r.json()["id"]


@pytest.fixture
def quick_sandbox(container):
    """Tighter sandbox limits, so hostile sources fail in about a second."""
    saved = container.tools.code
    container.tools.code = dataclasses.replace(saved, schemas=functools.partial(
        extract_valves_schemas, timeout_s=3, cpu_s=1, memory_mb=256))
    yield
    container.tools.code = saved


def _statuses(client, people, method, path, **kwargs):
    out = []
    for who in CALLERS:
        headers = None if who == "anonymous" else seen(client, getattr(people, who))
        out.append(client.request(method, f"{API}{path}", headers=headers, **kwargs).status_code)
    return out


# ---- what is read from the source -----------------------------------------------------------
def test_create_reads_manifest_specs_and_valves(client, people, tool):
    got = client.get(f"{API}/id/{tool}", headers=seen(client, people.user)).json()
    assert got["user_id"] == people.user.id and got["write_access"] is True
    assert got["content"] == TOOL
    assert got["meta"]["manifest"] == {"title": "City Weather", "version": "0.2.1",
                                       "description": "Current weather for a city."}
    assert got["meta"]["has_user_valves"] is True
    assert got["specs"] == [{"name": "get_weather", "description": "Weather for a city.",
                             "parameters": {"type": "object", "properties": {
                                 "city": {"type": "string", "description": "The city"},
                                 "days": {"type": "integer", "default": 1}},
                                 "required": ["city"]}}]
    listed = client.get(f"{API}/", headers=seen(client, people.user)).json()
    mine = next(t for t in listed if t["id"] == tool)
    assert mine["has_user_valves"] is True and "content" not in mine
    assert mine["user"]["id"] == people.user.id
    spec = client.get(f"{API}/id/{tool}/valves/spec", headers=seen(client, people.user)).json()
    assert spec["properties"]["limit"]["maximum"] == 20
    spec = client.get(f"{API}/id/{tool}/valves/user/spec", headers=seen(client, people.user))
    assert set(spec.json()["properties"]) == {"units", "token"}


def test_ids_are_identifiers_lowercased_and_unique(client, people):
    admin = people.admin.headers
    r = client.post(f"{API}/create", json=tool_form("not-an-identifier", PLAIN), headers=admin)
    assert r.status_code == 400 and "alphanumeric" in r.json()["detail"]
    tool_id = f"Mixed_{uuid.uuid4().hex[:6]}"
    r = client.post(f"{API}/create", json=tool_form(tool_id, PLAIN), headers=admin)
    assert r.status_code == 200 and r.json()["id"] == tool_id.lower()
    r = client.post(f"{API}/create", json=tool_form(tool_id.lower(), PLAIN), headers=admin)
    assert r.status_code == 400 and r.json()["detail"] == Detail.ID_TAKEN
    assert client.delete(f"{API}/id/{tool_id.lower()}/delete", headers=admin).json() is True
    assert client.get(f"{API}/id/{tool_id.lower()}", headers=admin).status_code == 404
    r = client.post(f"{API}/create", json=tool_form(tool_id.lower(), PLAIN), headers=admin)
    assert r.status_code == 200  # a deleted id may be taken again
    assert r.json()["meta"]["has_user_valves"] is False


def test_update_reads_the_new_source(client, people, tool):
    _grant(client, people, tools=True)
    try:
        new = TOOL.replace("le=20", "le=50").replace("def get_weather", "def get_forecast")
        r = client.post(f"{API}/id/{tool}/update", json=tool_form(tool, new, name="Forecast"),
                        headers=people.user.headers)
        assert r.status_code == 200, r.text
        assert [s["name"] for s in r.json()["specs"]] == ["get_forecast"]
        spec = client.get(f"{API}/id/{tool}/valves/spec", headers=seen(client, people.user))
        assert spec.json()["properties"]["limit"]["maximum"] == 50
    finally:
        _grant(client, people)
    # Without workspace.tools even the author may no longer change a tool's code.
    r = client.post(f"{API}/id/{tool}/update", json=tool_form(tool), headers=people.user.headers)
    assert r.status_code == 401


# ---- valves and user valves -----------------------------------------------------------------
def test_valves_are_validated_and_kept(client, people, tool):
    user = people.user.headers
    assert client.get(f"{API}/id/{tool}/valves", headers=user).json() == {}
    r = client.post(f"{API}/id/{tool}/valves/update", json={"api_key": "k-1", "limit": 3,
                                                            "unknown": 1, "api_key2": None},
                    headers=user)
    assert r.status_code == 200 and r.json() == {"api_key": "k-1", "limit": 3}
    assert client.get(f"{API}/id/{tool}/valves", headers=user).json() == r.json()
    for bad in ({"limit": "3"}, {"limit": 99}, {"api_key": 5}):
        r = client.post(f"{API}/id/{tool}/valves/update", json=bad, headers=user)
        assert r.status_code == 400, bad
    assert client.get(f"{API}/id/{tool}/valves", headers=user).json()["limit"] == 3


def test_user_valves_are_private_to_each_user(client, container, people, tool):
    admin, user = people.admin, people.user
    secret = f"secret-{uuid.uuid4().hex}"
    r = client.post(f"{API}/id/{tool}/valves/user/update", json={"token": secret},
                    headers=seen(client, user))
    assert r.status_code == 200 and r.json() == {"token": secret}
    assert client.get(f"{API}/id/{tool}/valves/user", headers=seen(client, user)).json() == {
        "token": secret}
    # The admin reads and writes their own valves for the tool, never the user's.
    assert client.get(f"{API}/id/{tool}/valves/user", headers=admin.headers).json() == {}
    client.post(f"{API}/id/{tool}/valves/user/update", json={"units": "imperial"},
                headers=admin.headers)
    assert client.get(f"{API}/id/{tool}/valves/user", headers=seen(client, user)).json() == {
        "token": secret}
    # Stored under the user's own key, and never copied into a read model.
    events = [n for n in container.store.select(0, 100000)
              if n.originator_id == user_valves_uuid(tool, user.id)]
    assert events and {read_header(n.state)["o"] for n in events} == {user.id}
    assert secret.encode() not in b"".join(n.state for n in events)
    assert secret not in str(container.read_db.query("SELECT * FROM tools"))
    created = next(n for n in container.store.select(0, 100000)
                   if n.originator_id == tool_uuid(tool))
    header = read_header(created.state)
    assert (header["o"], header["a"]) == (user.id, user.id)  # author's key, author as actor


def test_tool_without_valves(client, people):
    tool_id = client.post(f"{API}/create", json=tool_form(content=PLAIN),
                          headers=people.admin.headers).json()["id"]
    admin = seen(client, people.admin)
    assert client.get(f"{API}/id/{tool_id}/valves/spec", headers=admin).json() is None
    assert client.get(f"{API}/id/{tool_id}/valves/user/spec", headers=admin).json() is None
    for path in ("/valves/update", "/valves/user/update"):
        r = client.post(f"{API}/id/{tool_id}{path}", json={"x": 1}, headers=admin)
        assert r.status_code == 404


# ---- who may call what ----------------------------------------------------------------------
ROUTES = [  # (method, path under /id/{tool}, body, [anonymous, pending, user, other, admin])
    ("GET", "", None, [401, 401, 200, 401, 200]),
    ("GET", "/valves", None, [401, 401, 200, 401, 200]),
    ("GET", "/valves/spec", None, [401, 401, 200, 401, 200]),
    ("GET", "/valves/user", None, [401, 401, 200, 401, 200]),
    ("GET", "/valves/user/spec", None, [401, 401, 200, 401, 200]),
    ("POST", "/valves/update", {"limit": 2}, [401, 401, 200, 400, 200]),
    ("POST", "/valves/user/update", {"units": "x"}, [401, 401, 200, 401, 200]),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ROUTES,
                         ids=[f"{m} {p or '/'}" for m, p, _, _ in ROUTES])
def test_authorization_matrix(client, people, tool, method, path, body, expected):
    kwargs = {"json": body} if body is not None else {}
    assert _statuses(client, people, method, f"/id/{tool}{path}", **kwargs) == expected


def test_list_shows_what_each_caller_may_read(client, people, tool):
    assert _statuses(client, people, "GET", "/") == [401, 401, 200, 200, 200]
    other = client.get(f"{API}/", headers=seen(client, people.other)).json()
    assert tool not in [t["id"] for t in other]
    assert tool in [t["id"] for t in client.get(f"{API}/", headers=people.admin.headers).json()]


def test_create_update_and_delete_rights(client, people, tool):
    statuses = [client.post(f"{API}/create", json=tool_form(content=PLAIN),
                            headers=people.all()[who]).status_code for who in CALLERS]
    assert statuses == [401, 401, 401, 401, 200]
    _grant(client, people, tools=True)
    try:
        assert _statuses(client, people, "POST", f"/id/{tool}/update",
                         json=tool_form(tool)) == [401, 401, 200, 401, 200]
        mine = client.post(f"{API}/create", json=tool_form(content=PLAIN),
                           headers=people.other.headers).json()["id"]
    finally:
        _grant(client, people)
    for who, status in (("anonymous", 401), ("pending", 401), ("user", 401), ("other", 200)):
        r = client.delete(f"{API}/id/{mine}/delete", headers=people.all()[who])
        assert r.status_code == status, who


def test_unknown_tools_are_404(client, people):
    admin = people.admin.headers
    for method, path, body in [("GET", "", None), ("GET", "/valves", None),
                               ("GET", "/valves/spec", None), ("GET", "/valves/user", None),
                               ("GET", "/valves/user/spec", None),
                               ("POST", "/update", tool_form("nope", PLAIN)),
                               ("DELETE", "/delete", None), ("POST", "/valves/update", {}),
                               ("POST", "/valves/user/update", {})]:
        kwargs = {"json": body} if body is not None else {}
        r = client.request(method, f"{API}/id/nope{path}", headers=admin, **kwargs)
        assert r.status_code == 404, (method, path)


# ---- hostile and malformed input ------------------------------------------------------------
HOSTILE = {
    "syntax": "def broken(:\n",
    "no_tools_class": "x = 1\n",
    "nul": "class Tools:\n    pass\n\x00",
    "nested_too_deeply": "x = " + "-" * 100_000 + "1\n\nclass Tools:\n    pass\n",
    "recursion_in_the_parser": "x = " + "1+" * 100_000 + "1\n\nclass Tools:\n    pass\n",
    "loops_forever": "class Tools:\n    while True:\n        pass\n",
    "sleeps_forever": "import time\n\nclass Tools:\n    time.sleep(3600)\n",
    "allocates_without_bound": ("class Tools:\n    hog = []\n    while True:\n"
                                "        hog.append(bytearray(10**7))\n"),
    "exits": "import sys\n\nsys.exit(3)\n\nclass Tools:\n    pass\n",
    "kills_itself": "import os, signal\n\nclass Tools:\n    os.kill(os.getpid(), signal.SIGKILL)\n",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_sources_are_400_and_the_server_stays_up(client, container, people,
                                                         quick_sandbox, name):
    head = container.store.head()
    started = time.monotonic()
    r = client.post(f"{API}/create", json=tool_form(content=HOSTILE[name]),
                    headers=people.admin.headers)
    assert r.status_code == 400, r.text
    assert time.monotonic() - started < 15
    assert container.store.head() == head
    assert client.get(f"{API}/", headers=people.admin.headers).status_code == 200


BAD = [
    {"id": 5}, {"id": ""}, {"id": "x" * 256}, {"name": None}, {"name": "n\x00"},
    {"content": 7}, {"content": "#" * (1024 * 1024 + 1)}, {"meta": "m"},
    {"meta": {"big": "x" * (256 * 1024)}}, {"access_control": {"write": {"user_ids": [1]}}},
    {"meta": {"deep": deep(900)}},
]


@pytest.mark.parametrize("change", BAD, ids=lambda c: str(c)[:30])
def test_malformed_bodies_are_422(client, people, tool, change):
    admin = people.admin.headers
    assert client.post(f"{API}/create", json={**tool_form(), **change},
                       headers=admin).status_code == 422
    assert client.post(f"{API}/id/{tool}/update", json={**tool_form(tool), **change},
                       headers=admin).status_code == 422


def test_malformed_valves_are_422(client, people, tool):
    admin = people.admin.headers
    for body in ([1, 2], "x", {"k": "v" * (256 * 1024)}, {"k": deep(900)}):
        for path in ("/valves/update", "/valves/user/update"):
            r = client.post(f"{API}/id/{tool}{path}", json=body, headers=admin)
            assert r.status_code == 422, (path, str(body)[:20])
    assert client.get(f"{API}/id/{'x' * 300}", headers=admin).status_code == 422


def test_still_healthy(client, container, people):
    status = {s["name"]: s for s in container.host.status()}
    assert status["tools"]["failures"] == 0 and status["tools"]["status"] == "running"
    assert client.get(f"{API}/", headers=people.user.headers).status_code == 200
