"""Python formatting for `POST /api/v1/utils/code/format` (admin only)."""

from __future__ import annotations

import black


class CodeFormatError(ValueError):
    """The code could not be formatted, usually because it is not valid Python."""


def format_python(code: str) -> str:
    """Return `code` formatted by black with its default mode, as Open WebUI does."""
    try:
        return black.format_str(code, mode=black.Mode())
    except black.NothingChanged:  # not raised by format_str today; cheap insurance
        return code
    except Exception as exc:  # black signals bad input with several exception types
        raise CodeFormatError(str(exc) or type(exc).__name__) from exc
