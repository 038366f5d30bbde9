"""Row-by-row comparison of two generations of a read model, for any projector, on both dialects.

What is compared is what the projector's DDL stores: every column of its tables except those the
database computes (PostgreSQL generated columns such as a tsvector, and serial / identity keys,
whose values depend on how many sequence numbers failed transactions used up) and except
virtual tables (SQLite FTS5 indexes are derived from their content table, which is compared).
Tables are compared as multisets of rows, inside the database: `GROUP BY` every column with a
count, then `EXCEPT` the other side. On PostgreSQL every value is compared as text, so columns
of types without equality (json) compare too, and two tables of as many rows are first compared
by a fingerprint (the sum of a 64-bit hash of each row, one scan each): equal fingerprints end the
comparison, at a chance of about one in 2^64 of missing a difference; only tables whose
fingerprints differ pay for the two grouped `EXCEPT`s that count and sample the differing rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infrastructure.sql import Tx

SAMPLES = 5
SAMPLE_CHARS = 80


@dataclass(frozen=True)
class Columns:
    compared: tuple[str, ...]
    keys: tuple[str, ...]  # for samples: the primary key among the compared columns, or the first
    virtual: bool = False


@dataclass
class TableDiff:
    table: str
    live_rows: int = 0
    other_rows: int = 0
    only_live: int = 0  # distinct rows (with their multiplicity) live has and the other not
    only_other: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    schema_differs: bool = False

    @property
    def agrees(self) -> bool:
        return not (self.only_live or self.only_other or self.schema_differs)


@dataclass
class Comparison:
    """A read model's live tables against a generation built from the log at the same position."""

    name: str
    position: int | None = None
    tables: list[TableDiff] = field(default_factory=list)
    skipped: str | None = None  # why nothing was compared (not a finding)
    error: str | None = None  # the replay or the comparison failed (a finding)

    @property
    def agrees(self) -> bool:
        return self.error is None and all(t.agrees for t in self.tables)

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: FAILED: {self.error}"
        if self.skipped:
            return f"{self.name}: not compared ({self.skipped})"
        if self.agrees:
            rows = sum(t.live_rows for t in self.tables)
            return f"{self.name}: agrees with live at position {self.position} ({rows} rows)"
        parts = [f"{t.table} (live {t.live_rows} rows, replay {t.other_rows}; "
                 f"{t.only_live} only in live, {t.only_other} only in replay"
                 f"{'; ' + t.note if t.note else ''})" for t in self.tables if not t.agrees]
        return f"{self.name}: DRIFT at position {self.position}: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "position": self.position, "agrees": self.agrees,
                "skipped": self.skipped, "error": self.error,
                "tables": [vars(t) | {"agrees": t.agrees} for t in self.tables]}


def columns(tx: Tx, table: str) -> Columns:
    """The columns of a physical table that a comparison looks at."""
    if tx.dialect == "postgres":
        return _pg_columns(tx, table)
    return _sqlite_columns(tx, table)


def _pg_columns(tx: Tx, table: str) -> Columns:
    rows = tx.execute(
        "SELECT column_name, is_generated, is_identity, column_default FROM"
        " information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
        " ORDER BY ordinal_position", (table,))
    compared = tuple(r["column_name"] for r in rows if r["is_generated"] != "ALWAYS"
                     and r["is_identity"] != "YES"
                     and not str(r["column_default"] or "").startswith("nextval("))
    keys = tx.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND"
        " a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
        " ORDER BY array_position(i.indkey, a.attnum)", (table,))
    primary = tuple(k["attname"] for k in keys if k["attname"] in compared)
    return Columns(compared, primary or compared[:1])


def _sqlite_columns(tx: Tx, table: str) -> Columns:
    found = tx.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
    if found and str(found[0]["sql"] or "").upper().startswith("CREATE VIRTUAL TABLE"):
        return Columns((), (), virtual=True)
    rows = tx.execute(f'PRAGMA table_xinfo("{table}")')
    compared = tuple(r["name"] for r in rows if r["hidden"] == 0)
    primary = tuple(r["name"] for r in sorted(rows, key=lambda r: r["pk"]) if r["pk"])
    return Columns(compared, primary or compared[:1])


def compare_tables(tx: Tx, table: str, live: str, other: str) -> TableDiff:
    """Compare the physical tables `live` and `other` (two generations of logical `table`)."""
    diff = TableDiff(table, _count(tx, live), _count(tx, other))
    live_cols, other_cols = columns(tx, live), columns(tx, other)
    if live_cols.virtual or other_cols.virtual:
        diff.note = "virtual table, derived from its content table: not compared"
        return diff
    if live_cols.compared != other_cols.compared:
        diff.schema_differs = True
        diff.note = f"columns differ: live {live_cols.compared}, replay {other_cols.compared}"
        return diff
    if not live_cols.compared:
        diff.only_live = max(0, diff.live_rows - diff.other_rows)
        diff.only_other = max(0, diff.other_rows - diff.live_rows)
        return diff
    if diff.live_rows == diff.other_rows and tx.dialect == "postgres" and \
            _fingerprint(tx, live_cols, live) == _fingerprint(tx, live_cols, other):
        return diff
    diff.only_live = _except(tx, live_cols, live, other, "live", diff.samples)
    diff.only_other = _except(tx, live_cols, other, live, "replay", diff.samples)
    return diff


def _fingerprint(tx: Tx, cols: Columns, table: str) -> str:
    """The sum of a 64-bit hash of every row: equal for equal multisets of rows, and for
    different ones with a chance of about one in 2^64. One scan, no sort."""
    row = ", ".join(f'CAST("{c}" AS TEXT)' for c in cols.compared)
    found = tx.execute(f'SELECT COALESCE(SUM(hashtextextended(ROW({row})::text, 0)), 0) AS f '
                       f'FROM "{table}"')
    return str(found[0]["f"])


def _count(tx: Tx, table: str) -> int:
    return int(tx.execute(f'SELECT COUNT(*) AS n FROM "{table}"')[0]["n"])


def _except(tx: Tx, cols: Columns, first: str, second: str, side: str,
            samples: list[dict[str, Any]]) -> int:
    """Rows (with multiplicity) of `first` that `second` lacks; a few go to `samples`."""
    text = tx.dialect == "postgres"
    select = ", ".join(f'CAST("{c}" AS TEXT) AS "{c}"' if text else f'"{c}"'
                       for c in cols.compared)
    group = ", ".join(str(i + 1) for i in range(len(cols.compared)))
    grouped = "SELECT {select}, COUNT(*) AS copies__ FROM \"{table}\" GROUP BY {group}"
    diff = (grouped.format(select=select, table=first, group=group) + " EXCEPT " +
            grouped.format(select=select, table=second, group=group))
    rows = tx.execute(f"SELECT d.*, COUNT(*) OVER () AS total__ FROM ({diff}) d LIMIT {SAMPLES}")
    total = int(rows[0]["total__"]) if rows else 0
    for row in rows:
        row.pop("total__")
        copies = int(row.pop("copies__"))
        samples.append({"side": side, "copies": copies, "key": {k: row[k] for k in cols.keys},
                        "row": {k: _short(v) for k, v in row.items()}})
    return total


def _short(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, str) and len(value) > SAMPLE_CHARS:
        return value[:SAMPLE_CHARS] + "…"
    return value
