"""Errors the use cases raise; the web layer maps each to a status code and detail."""

from __future__ import annotations


class ApplicationError(Exception):
    status = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


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
