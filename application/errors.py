"""Errors the use cases raise; the web layer maps each to a status code and detail."""

from __future__ import annotations


class ApplicationError(Exception):
    status = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str] | None:
        """Response headers that go with the status (none by default)."""
        return None


class BadRequest(ApplicationError):
    status = 400


class Unauthorized(ApplicationError):
    status = 401


class Forbidden(ApplicationError):
    status = 403


class NotFound(ApplicationError):
    status = 404


class Conflict(ApplicationError):
    status = 409


class PayloadTooLarge(ApplicationError):
    status = 413


class UnsupportedMedia(ApplicationError):
    status = 415


class TooManyRequests(ApplicationError):
    status = 429


class ConcurrencyConflict(Exception):
    """A save lost an optimistic-concurrency race; the command may be retried from fresh state."""

    def __init__(self, message: str = "", aggregate_ids: tuple[object, ...] = ()):
        super().__init__(message)
        self.aggregate_ids = aggregate_ids


class Unavailable(ApplicationError):
    """A store the request needs is away (connection lost, server shutting down or starting,
    connect refused, pool exhausted): not the client's fault and not a bug, so 503 with
    `Retry-After` rather than 500. Infrastructure adapters raise it; interfaces/errors.py maps it.
    """

    status = 503
    retry_after = 2  # seconds: a fast restart of PostgreSQL takes about that long

    # Not in the reference (Open WebUI has no such message); its detail style.
    DATABASE = "The database is unavailable right now. Please try again shortly."
    OUTCOME_UNKNOWN = ("The database connection was lost while saving; the change may or may "
                       "not have been saved. Please check before trying again.")
    STARTING = "The server is still starting. Please try again shortly."

    def __init__(self, detail: str = DATABASE):
        super().__init__(detail)

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}
