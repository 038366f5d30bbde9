"""Bounds of the integers a request may carry: query, path and body alike.

SQLite and PostgreSQL's BIGINT hold signed 64-bit integers. A larger value bound to a statement
fails inside the database driver (OverflowError on SQLite, an out-of-range error on PostgreSQL),
which would answer 500; stored in an event, it would poison every replay. Declaring each integer
input with one of these types makes such a value the client's error: FastAPI's 422, before any
code runs. The constraints are plain `annotated_types`, so the same alias works in a pydantic
model field and in a FastAPI parameter (wrapped in `Query(...)` or not).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
# Pages hold tens to hundreds of rows: page * size stays far inside BIGINT, and a listing of a
# million pages does not exist.
PAGE_MAX = 1_000_000
OFFSET_MAX = 10**9  # rows skipped by a skip/limit listing
EPOCH_MAX = 2**53  # any epoch, in seconds or milliseconds; exact as a JSON number too

# Any value a BIGINT holds: for settings whose range the application checks with its own message.
Int64 = Annotated[int, Interval(ge=BIGINT_MIN, le=BIGINT_MAX)]
Position = Annotated[int, Interval(ge=0, le=BIGINT_MAX)]  # log positions and cursors
Version = Annotated[int, Interval(ge=1, le=BIGINT_MAX)]  # an aggregate's event versions
Count = Annotated[int, Interval(ge=0, le=BIGINT_MAX)]  # sizes and counts kept as settings
PositiveCount = Annotated[int, Interval(ge=1, le=BIGINT_MAX)]
Page = Annotated[int, Interval(ge=1, le=PAGE_MAX)]
# Open WebUI treats a page below 1 as the first page; these routes keep that.
LenientPage = Annotated[int, Interval(ge=BIGINT_MIN, le=PAGE_MAX)]
Offset = Annotated[int, Interval(ge=0, le=OFFSET_MAX)]
Epoch = Annotated[int, Interval(ge=0, le=EPOCH_MAX)]
