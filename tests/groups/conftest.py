"""The workspace fixtures (one server per backend and module), shared with tests/models."""

from tests.models.conftest import (  # noqa: F401
    backend,
    client,
    container,
    fresh,
    installation,
    people,
    permissions,
)
