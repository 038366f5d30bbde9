"""Every error is JSON {"detail": ...}; an unexpected one still is, with its correlation id logged.

A database that is away is 503 with `Retry-After`, never 500: adapters raise `Unavailable`, and
a driver error that reaches this far unconverted is classified here once, for every route.
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from application.errors import ApplicationError, Unavailable
from infrastructure.availability import is_database_away, is_read_model_missing

log = logging.getLogger("chronicle.errors")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApplicationError)
    async def application_error(request: Request, error: ApplicationError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status,
                            headers=error.headers)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, error: RecursionError) -> JSONResponse:
        # Bodies nested thousands deep exhaust Python's recursion somewhere in parsing, validation
        # or encoding, always before anything is saved: the client's input, not our fault.
        return JSONResponse({"detail": "The request is nested too deeply."}, status_code=400)

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        # Registered for the driver's and the library's errors, so that ExceptionMiddleware
        # answers them (the catch-all below answers but then re-raises into the server). Any
        # other database error is a bug: raised on, it takes the catch-all's path as before.
        if is_read_model_missing(error):
            # A projector's first start (or a rebuild's swap) has not made its tables yet.
            log.warning("read model not built yet", extra={"path": request.url.path,
                                                            "error": str(error)})
            away = Unavailable(Unavailable.STARTING)
        elif is_database_away(error):
            log.warning("database away", extra={"path": request.url.path, "error": str(error)})
            away = Unavailable()
        else:
            raise error
        return JSONResponse({"detail": away.detail}, status_code=away.status, headers=away.headers)

    app.add_exception_handler(psycopg.Error, database_error)
    app.add_exception_handler(sqlite3.OperationalError, database_error)
    app.add_exception_handler(PersistenceError, database_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        correlation_id = getattr(request.state, "correlation_id", None)
        log.error("unhandled error", exc_info=error, extra={"path": request.url.path})
        return JSONResponse({"detail": "Internal Server Error", "correlation_id": correlation_id},
                            status_code=500)
