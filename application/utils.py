"""Utility use cases (/api/v1/utils): gravatar, code format and execution, Markdown → HTML,
chat → PDF and the database download.

The adapters (infrastructure.gravatar, code_format, code_execute, markdown_html, chat_pdf) are
injected as functions; each signals bad input with a ValueError subclass, answered 400 here.

Markdown, PDF and black have super-linear worst cases, so the composition root hands them in as
conversions that run under a time and memory budget (infrastructure/isolation.py).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from application.errors import BadRequest, TooManyRequests
from application.messages import Detail

NOT_CONFIGURED = ("Code execution engine not configured: set CODE_EXECUTION_JUPYTER_URL "
                  "to a Jupyter server")


# -- the conversion port ---------------------------------------------------------------------
# A conversion (format_code, markdown, pdf below) raises a ValueError on bad or too costly input,
# whose message is the 400's detail, and ConversionBusy on a full house. The composition root runs
# each in a bounded child process (infrastructure.isolation.Isolated).
class ConversionBusy(RuntimeError):
    """Raised by a conversion when every worker it may use is taken (answered 429)."""


# -- the service ------------------------------------------------------------------------------
@dataclass(frozen=True)
class UtilsAdapters:
    gravatar: Callable[[str], str]
    format_code: Callable[[str], str]
    markdown: Callable[[str], str]
    pdf: Callable[[str, Sequence[Mapping[str, Any]]], bytes]
    jupyter: Callable[[], Any]  # the Jupyter settings; raises ValueError when not configured
    execute: Callable[[Any, str], Awaitable[dict[str, str]]]


class UtilsService:
    def __init__(self, adapters: UtilsAdapters, event_store_file: Path | None):
        """`event_store_file`: the SQLite event store, or None when the log is on PostgreSQL."""
        self.adapters = adapters
        self.event_store_file = event_store_file

    @staticmethod
    def _bounded(call: Callable[..., Any], *args: Any) -> Any:
        """Bad input (or input too costly to convert) is a 400; a full house a 429."""
        try:
            return call(*args)
        except ConversionBusy as error:
            raise TooManyRequests(str(error)) from None
        except ValueError as error:
            raise BadRequest(str(error) or Detail.DEFAULT()) from None

    def gravatar(self, email: str) -> str:
        return self.adapters.gravatar(email)

    def format_code(self, code: str) -> str:
        """Blocking: call from a worker thread (as the following three)."""
        return self._bounded(self.adapters.format_code, code)

    def markdown(self, text: str) -> str:
        return self._bounded(self.adapters.markdown, text)

    def pdf(self, title: str, messages: Sequence[Mapping[str, Any]]) -> bytes:
        return self._bounded(self.adapters.pdf, title, list(messages))

    async def execute(self, code: str) -> dict[str, str]:
        try:
            config = self.adapters.jupyter()
        except ValueError:
            raise BadRequest(Detail.DEFAULT(NOT_CONFIGURED)) from None
        return await self.adapters.execute(config, code)

    def snapshot_database(self) -> Path:
        """A consistent copy of the event store in a temporary file (the caller deletes it).

        SQLite's online backup API copies the database page by page under its own locking,
        so writers carry on and the copy is a state the database was in.
        """
        if self.event_store_file is None:
            raise BadRequest(Detail.DB_NOT_SQLITE)
        handle, name = tempfile.mkstemp(prefix="chronicle-db-", suffix=".sqlite3")
        os.close(handle)
        target = Path(name)
        try:
            with closing(sqlite3.connect(self.event_store_file, timeout=30)) as source, \
                    closing(sqlite3.connect(target)) as copy:
                source.backup(copy)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target
