"""The projection runtime every read model uses.

A projector is a pure function of the event log: it turns events into rows of its own tables. A
runner follows the log and, for each page of events, writes the projector's rows and its position in
one transaction, so a crash never applies an event twice or skips one. Tables are generations behind
views (`users` is a view of `users__g3`), so a rebuild fills fresh tables while the old ones keep
serving, then swaps the views in one transaction.

The modules, each importing only those above it:

- `contract`: what a projector declares (`Projector`, `RowProjector`) and which stored topics it
  claims, decided without decoding.
- `log_reader`: the log as the live runners share it (`LogReader`, `Logged`, `EventFailed`).
- `state`: the `projection_state` table, and the generations of tables behind views.
- `pages`: the log read in pages for replays, the generations they fill (`Target`, `fill`), and the
  transaction a read-model page is written in.
- `rebuild`: rebuilds (shadow, catch up, check, swap) and scratch replays compared with live.
- `runners`: the live runners (`ProjectorRunner`, `RunnerGroup`), supervised and leased.

Every public name is re-exported here: `from projections.runtime import X` is the usual import.
"""

from __future__ import annotations

from projections.runtime.contract import (
    Event,
    EventSource,
    Projector,
    RowProjector,
    aggregate_of,
    event_class,
    physical_names,
    topic_claimed,
)
from projections.runtime.log_reader import EventFailed, Logged, LogReader, describe
from projections.runtime.pages import Page, Target, apply_to, fill, page_tx, read_page, read_pages
from projections.runtime.rebuild import (
    CATCH_UP_ROUNDS,
    Rebuilt,
    check_only,
    compare_scratch,
    drop_scratch,
    rebuild,
    rebuild_many,
    scratch_target,
)
from projections.runtime.runners import (
    AlwaysLease,
    LazyPage,
    Lease,
    Moved,
    ProjectorRunner,
    RunnerGroup,
    RunnerStatus,
    store_positions,
)
from projections.runtime.state import (
    NOTIFY_CHANNEL,
    RUNNING,
    STATE_TABLE,
    create_generation,
    create_tables,
    drop_generation,
    drop_tables,
    ensure_state_table,
    point_views,
    read_state,
    state_json,
)

__all__ = [
    # contract
    "Event", "EventSource", "Projector", "RowProjector", "aggregate_of", "event_class",
    "physical_names", "topic_claimed",
    # log_reader
    "EventFailed", "LogReader", "Logged", "describe",
    # state
    "NOTIFY_CHANNEL", "RUNNING", "STATE_TABLE", "create_generation", "create_tables",
    "drop_generation", "drop_tables", "ensure_state_table", "point_views", "read_state",
    "state_json",
    # pages
    "Page", "Target", "apply_to", "fill", "page_tx", "read_page", "read_pages",
    # rebuild
    "CATCH_UP_ROUNDS", "Rebuilt", "check_only", "compare_scratch", "drop_scratch", "rebuild",
    "rebuild_many", "scratch_target",
    # runners
    "AlwaysLease", "LazyPage", "Lease", "Moved", "ProjectorRunner", "RunnerGroup", "RunnerStatus",
    "store_positions",
]
