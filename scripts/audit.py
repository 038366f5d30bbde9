"""Operator tool: the audit API from the command line (JSON on stdout).

    chronicle audit events chat 3f2a...            # an aggregate's events, paged
    chronicle audit state chat 3f2a... --version 7  # as it was (or --at 2026-11-01T12:00)
    chronicle audit diff chat 3f2a... --from 3 --to 9
    chronicle audit log --actor USER_ID --kind chat --since 2026-11-01
    chronicle audit signins --type SignInFailed
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from application.audit import Kind
from application.auth import Principal
from application.errors import ApplicationError
from interfaces.schemas.audit import state_view  # the CLI prints an aggregate as the API shows it

OPERATOR = Principal(id="operator", role="admin", via="cli")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    views = parser.add_subparsers(dest="view", required=True)
    for name, helptext in (("events", "an aggregate's events in order"),
                           ("state", "an aggregate as of a version or time"),
                           ("diff", "what changed between two versions")):
        view = views.add_parser(name, help=helptext)
        view.add_argument("kind", choices=[k.value for k in Kind])
        view.add_argument("id")
        if name == "events":
            view.add_argument("--page", type=int, default=1)
            view.add_argument("--limit", type=int, default=50)
        if name == "state":
            view.add_argument("--version", type=int)
            view.add_argument("--at", type=_when, help="ISO time or epoch seconds")
        if name == "diff":
            view.add_argument("--from", dest="from_version", type=int, required=True)
            view.add_argument("--to", dest="to_version", type=int)
    for name in ("log", "signins"):
        view = views.add_parser(name, help="log-wide query" if name == "log" else
                                "sign-ins, failures and sign-outs")
        view.add_argument("--actor")
        if name == "log":
            view.add_argument("--kind", choices=[k.value for k in Kind])
        view.add_argument("--type", dest="event_type")
        view.add_argument("--since", type=_when)
        view.add_argument("--until", type=_when)
        view.add_argument("--cursor", type=int)
        view.add_argument("--asc", action="store_true", help="oldest first")
        view.add_argument("--limit", type=int, default=50)


def _when(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()


def run(args: argparse.Namespace) -> int:
    from interfaces.composition.bootstrap import bootstrap

    container = bootstrap(run_projectors=False)
    try:
        print(json.dumps(_query(container, args), indent=2, default=str))
        return 0
    except ApplicationError as error:
        print(f"audit: {error.detail}", file=sys.stderr)
        return 1 if error.status == 404 else 2
    finally:
        container.close()


def _query(container: Any, args: argparse.Namespace) -> Any:
    audit = container.audit
    if args.view in ("log", "signins"):
        filters = {"actor": args.actor, "event_type": args.event_type, "since": args.since,
                   "until": args.until, "cursor": args.cursor, "descending": not args.asc,
                   "limit": max(1, min(args.limit, 500))}
        if args.view == "signins":
            return audit.signins(OPERATOR, **filters)
        return audit.search(OPERATOR, kind=args.kind, **filters)
    kind = Kind(args.kind)
    if args.view == "events":
        return audit.events(OPERATOR, kind, args.id, max(1, args.page),
                            max(1, min(args.limit, 500)))
    if args.view == "state":
        as_of = audit.state(OPERATOR, kind, args.id, args.version, args.at)
        exists = as_of.aggregate is not None
        return {"aggregate_id": str(as_of.aggregate_id), "version": as_of.version,
                "timestamp": as_of.timestamp, "exists": exists,
                "state": state_view(kind, as_of.aggregate) if exists else None}
    target = args.to_version or audit.latest(OPERATOR, kind, args.id)
    return audit.diff(OPERATOR, kind, args.id, args.from_version, target,
                      lambda aggregate: state_view(kind, aggregate))


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("audit"))
