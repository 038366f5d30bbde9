"""The prompts suites share the workspace fixtures (one server per backend and module)."""

from tests.models.conftest import (  # noqa: F401
    backend,
    client,
    container,
    fresh,
    installation,
    people,
    permissions,
)
