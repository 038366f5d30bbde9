"""Every API route says what it does: the description is what the OpenAPI page shows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.routing import APIRoute

from infrastructure.settings import Settings
from interfaces.app import create_app


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The app's routes, through included routers (FastAPI keeps those as one entry each)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None) or getattr(route, "app", None)
        if nested is not None and hasattr(nested, "routes"):
            yield from api_routes(nested.routes)


def test_every_api_route_has_a_description() -> None:
    routes = list(api_routes(create_app(Settings()).routes))
    undocumented = sorted(f"{sorted(r.methods)} {r.path} ({r.endpoint.__module__}."
                          f"{r.endpoint.__name__})" for r in routes if not r.description.strip())
    assert len(routes) > 100  # the walk reached the included routers
    assert undocumented == []
