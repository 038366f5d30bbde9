"""The workspace fixtures (one server per backend and module), shared with tests/models."""

from tests.models.conftest import backend, client, container, fresh, people, permissions  # noqa: F401
