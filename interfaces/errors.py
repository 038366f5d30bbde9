"""Every error is JSON {"detail": ...}; an unexpected one still is, with its correlation id logged."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from application.errors import ApplicationError

log = logging.getLogger("chronicle.errors")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApplicationError)
    async def application_error(request: Request, error: ApplicationError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, error: RecursionError) -> JSONResponse:
        # Bodies nested thousands deep exhaust Python's recursion somewhere in parsing, validation
        # or encoding, always before anything is saved: the client's input, not our fault.
        return JSONResponse({"detail": "The request is nested too deeply."}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        correlation_id = getattr(request.state, "correlation_id", None)
        log.error("unhandled error", exc_info=error, extra={"path": request.url.path})
        return JSONResponse({"detail": "Internal Server Error", "correlation_id": correlation_id},
                            status_code=500)
