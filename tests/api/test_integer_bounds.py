"""Every integer a route takes — query, path, header or JSON body field — is bounded so both
databases can hold it: 2^63 and 2^64 answer FastAPI's 422 naming the field, -1 a 4xx where a
negative value means nothing, and the largest value accepted is answered (never a 500: SQLite
raises OverflowError beyond signed 64 bits, PostgreSQL's BIGINT an out-of-range error).

The cases are walked from the app's OpenAPI schema, so a new route or field is covered without
being listed here; a field without a lower bound must be named in NEGATIVE_ALLOWED.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import signup

BIGINT_MAX = 2**63 - 1
TOO_BIG = (2**63, 2**64)
ITEM = "[]"  # a route step into an array's items
# Open WebUI reads a page below 1 as the first page; these routes keep that.
# In 0.12.4's task settings -1 means "no limit" on the autocomplete input.
NEGATIVE_ALLOWED = {("GET", "/api/v1/users/", "page"), ("GET", "/api/v1/users/search", "page"),
                    ("GET", "/api/v1/models/list", "page"),
                    ("POST", "/api/v1/tasks/config/update",
                     "AUTOCOMPLETE_GENERATION_INPUT_MAX_LENGTH")}
Schema = dict[str, Any]


@dataclass(frozen=True)
class Target:
    method: str
    path: str  # the OpenAPI template, e.g. /api/v1/audit/{kind}/{id}/events
    where: str  # "query", "path", "header" or "body"
    route: tuple[str, ...]  # parameter name, or the body's keys down to the field
    schema: Schema  # the integer's own schema (minimum, maximum)

    @property
    def name(self) -> str:
        return self.route[-1]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where} {'.'.join(self.route)}"


class Walker:
    """Finds every integer input of the spec and builds requests that carry a chosen value."""

    def __init__(self, spec: Schema) -> None:
        self.spec = spec

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def integers(self, schema: Schema, route: tuple[str, ...] = (),
                 seen: frozenset[str] = frozenset()) -> Iterator[tuple[tuple[str, ...], Schema]]:
        ref = schema.get("$ref")
        if ref in seen:  # recursive models: each reference is walked once per branch
            return
        seen = seen | {ref} if ref else seen
        schema = self.resolve(schema)
        if schema.get("type") == "integer":
            yield route, schema
        for branch in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
            yield from self.integers(branch, route, seen)
        for key, sub in schema.get("properties", {}).items():
            yield from self.integers(sub, (*route, key), seen)
        if isinstance(schema.get("items"), dict):
            yield from self.integers(schema["items"], (*route, ITEM), seen)

    def targets(self) -> Iterator[Target]:
        for path, operations in self.spec["paths"].items():
            for method, op in operations.items():
                yield from self._operation_targets(method.upper(), path, op)

    def _operation_targets(self, method: str, path: str, op: Schema) -> Iterator[Target]:
        for param in op.get("parameters", []):
            for _, schema in self.integers(param["schema"]):
                yield Target(method, path, param["in"], (param["name"],), schema)
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            found = list(self.integers(content.get("schema", {})))
            # Only JSON bodies are built below: an integer in a form must extend the walker.
            assert media == "application/json" or not found, f"{method} {path}: {media}"
            for route, schema in found:
                yield Target(method, path, "body", route, schema)

    def sample(self, schema: Schema) -> Any:
        """A plausible value: what fills the fields a case does not test."""
        schema = self.resolve(schema)
        if "enum" in schema:
            return schema["enum"][0]
        branches = [b for b in schema.get("anyOf", []) + schema.get("oneOf", [])
                    if b.get("type") != "null"]
        if branches:
            return self.sample(branches[0])
        if schema.get("type") == "object":
            required = schema.get("required", [])
            return {k: self.sample(v) for k, v in schema.get("properties", {}).items()
                    if k in required}
        if schema.get("type") == "integer":
            return max(1, int(schema.get("minimum", 1)))
        return {"string": "x", "number": 0, "boolean": False, "array": []}.get(
            schema.get("type", ""))

    def place(self, schema: Schema, route: tuple[str, ...], value: int) -> Any:
        """A value of `schema` holding `value` at `route`, the rest sampled."""
        if not route:
            return value
        schema = self.resolve(schema)
        for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
            if self._holds(branch, route[0]):
                return self.place(branch, route, value)
        if route[0] == ITEM:
            return [self.place(schema["items"], route[1:], value)]
        body = self.sample(schema)
        body[route[0]] = self.place(schema["properties"][route[0]], route[1:], value)
        return body

    def _holds(self, schema: Schema, step: str) -> bool:
        schema = self.resolve(schema)
        return "items" in schema if step == ITEM else step in schema.get("properties", {})

    def request(self, target: Target, value: int) -> dict[str, Any]:
        """Keyword arguments of TestClient.request sending `value` for the target."""
        op = self.spec["paths"][target.path][target.method.lower()]
        values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
        for param in op.get("parameters", []):
            if param["in"] in values and (param.get("required") or param["in"] == "path"):
                values[param["in"]][param["name"]] = self.sample(param["schema"])
        kwargs: dict[str, Any] = {}
        if target.where == "body":
            body = op["requestBody"]["content"]["application/json"]["schema"]
            kwargs["json"] = self.place(body, target.route, value)
        else:
            values[target.where][target.name] = value
        url = target.path.format(**{k: str(v) for k, v in values["path"].items()})
        return {"method": target.method, "url": url, "params": values["query"],
                "headers": {k: str(v) for k, v in values["header"].items()}, **kwargs}


def _names_field(response: Any, target: Target) -> bool:
    """FastAPI's validation answer, and one of its errors is about this field."""
    if response.status_code != 422:
        return False
    errors = response.json().get("detail")
    return isinstance(errors, list) and any(
        e["loc"][0] == target.where and target.name in e["loc"] for e in errors)


def _largest(target: Target) -> int:
    # Body schemas carry bounds as JSON numbers: 2^63-1 reads back as the float 2^63.
    return min(int(target.schema.get("maximum", BIGINT_MAX)), BIGINT_MAX)


def _failures(client: Any, walker: Walker, target: Target, headers: dict[str, str]) -> list[str]:
    def send(value: int) -> Any:
        kwargs = walker.request(target, value)
        kwargs["headers"].update(headers)
        return client.request(**kwargs)

    failures = [f"{target} = {v}: {r.status_code} {r.text[:200]}" for v in TOO_BIG
                if not _names_field(r := send(v), target)]
    r = send(-1)
    negative_ok = (target.method, target.path, target.name) in NEGATIVE_ALLOWED
    if r.status_code >= 500 or not (negative_ok or 400 <= r.status_code < 500):
        failures.append(f"{target} = -1: {r.status_code} {r.text[:200]}")
    if (r := send(_largest(target))).status_code >= 500:
        failures.append(f"{target} = {_largest(target)}: {r.status_code} {r.text[:200]}")
    return failures


def test_every_integer_input_is_bounded(client: Any) -> None:
    admin = signup(client, "Admin")  # the first user: every route is open to them
    walker = Walker(client.app.openapi())
    failures = [f for t in walker.targets() for f in _failures(client, walker, t, admin.headers)]
    assert failures == []
    # What was accepted (the largest values) is projected: no read model failed on it.
    assert _failed_projectors(client.app.state.container.host) == []


def _failed_projectors(host: Any, timeout: float = 15.0) -> list[str]:
    """Once every projector has reached the head of the log or failed, those that failed."""
    deadline = time.monotonic() + timeout
    while True:
        status = host.status()
        failed = [p["name"] for p in status if p["status"] == "failed"]
        if time.monotonic() > deadline or all(p["lag"] == 0 or p["name"] in failed
                                              for p in status):
            return failed
        time.sleep(0.05)


def test_walker_finds_the_known_integers(tmp_path: Path) -> None:
    """The walk sees parameters and nested body fields: were it blind, the test above would
    pass vacuously."""
    from infrastructure.settings import Settings
    from interfaces.app import create_app

    app = create_app(Settings(DATA_DIR=tmp_path, WEBUI_SECRET_KEY="walker"))
    found = {str(t) for t in Walker(app.openapi()).targets()}
    assert {"GET /api/v1/audit/signins query cursor", "GET /api/v1/audit/events query cursor",
            "GET /api/v1/users/ query page", "POST /api/v1/chats/import body chats.[].created_at",
            "POST /api/v1/users/user/status/update body status_expires_at"} <= found
    for target in Walker(app.openapi()).targets():
        assert "maximum" in target.schema, f"{target} has no upper bound"
        assert "minimum" in target.schema or (
            (target.method, target.path, target.name) in NEGATIVE_ALLOWED), target
