"""Error bodies; the detail strings themselves live in application.messages."""

from __future__ import annotations

from pydantic import BaseModel

from application.messages import Detail

__all__ = ["Detail", "ErrorResponse"]


class ErrorResponse(BaseModel):
    """Body of every non-422 error response."""

    detail: str
