"""`chronicle`: the one entry point for every process and operator command.

The operator layer is outermost: it may import interfaces (the process runners of
interfaces/cli.py, the composition root), never the other way round. Each operator script also
runs on its own, `python -m scripts.<name> ...`, with the same arguments as here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronicle", description="the one entry point for every process and operator command")
    commands = parser.add_subparsers(dest="command", required=True)
    _processes(commands)
    _operations(commands)
    return parser


def _processes(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=_serve)

    projector = commands.add_parser("projector", help="run projectors (production shape)")
    projector.add_argument("names", nargs="*", help="projectors to run (default: all)")
    projector.set_defaults(handler=_projector)

    commands.add_parser("worker", help="run a Dramatiq worker for background jobs").set_defaults(
        handler=_worker)


def _operations(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from scripts.audit import add_arguments as audit_arguments

    rebuild = commands.add_parser("rebuild", help="rebuild read models from the event log")
    rebuild.add_argument("name", nargs="?", help="projector name")
    rebuild.add_argument("--all", action="store_true", help="rebuild every projector")
    rebuild.add_argument("--check-only", action="store_true",
                         help="replay into scratch tables and compare with live; swap nothing")
    rebuild.set_defaults(handler=_rebuild)

    commands.add_parser("status", help="show each projector's position, lag and health"
                        ).set_defaults(handler=_status)

    verify = commands.add_parser("verify", help="check hash chains, aggregates and read models")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)
    export = commands.add_parser("export", help="export the event log as NDJSON")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(handler=_export)
    import_ = commands.add_parser("import", help="import an NDJSON export (idempotent)")
    import_.add_argument("file", help="the export file")
    import_.set_defaults(handler=_import)

    audit = commands.add_parser("audit", help="history, time travel and log queries")
    audit_arguments(audit)
    audit.set_defaults(handler=_audit)

    commands.add_parser("retention", help="apply the chat retention policy once").set_defaults(
        handler=_retention)

    erase = commands.add_parser("erase-user", help="erase a user's personal data for good")
    erase.add_argument("user_id", help="the user's id")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(handler=_erase_user)

    model = commands.add_parser("install-model",
                                help="install the local embedding model (without torch)")
    model.add_argument("--check", action="store_true", help="only report whether it is installed")
    model.add_argument("--reinstall", action="store_true", help="reinstall a damaged copy")
    model.set_defaults(handler=_install_model)

    from scripts.frontend import add_arguments as frontend_arguments

    frontend = commands.add_parser("frontend", help="install the Open WebUI web app to serve at /")
    frontend_arguments(frontend)
    frontend.set_defaults(handler=_frontend)


# -- the processes (interfaces/cli.py) ------------------------------------------------------------
def _serve(args: argparse.Namespace) -> int:
    from interfaces.cli import serve

    return serve(args.host, args.port, args.workers)


def _projector(args: argparse.Namespace) -> int:
    from interfaces.cli import projector

    return projector(args.names)


def _worker(args: argparse.Namespace) -> int:
    from interfaces.cli import worker

    return worker()


# -- the operator commands (scripts/) -------------------------------------------------------------
def _rebuild(args: argparse.Namespace) -> int:
    from scripts.rebuild import run

    if not args.all and not args.name:
        print("name a projector or pass --all", file=sys.stderr)
        return 2
    return run(None if args.all else args.name, check_only=args.check_only)


def _status(args: argparse.Namespace) -> int:
    from scripts.status import run

    return run()


def _verify(args: argparse.Namespace) -> int:
    from scripts.verify import run

    return run(as_json=args.json)


def _export(args: argparse.Namespace) -> int:
    from scripts.export_events import run

    return run(args.output)


def _import(args: argparse.Namespace) -> int:
    from scripts.import_events import run

    return run(args.file)


def _audit(args: argparse.Namespace) -> int:
    from scripts.audit import run

    return run(args)


def _retention(args: argparse.Namespace) -> int:
    from scripts.retention import run

    return run()


def _erase_user(args: argparse.Namespace) -> int:
    from scripts.erase_user import run

    return run(args.user_id, yes=args.yes)


def _install_model(args: argparse.Namespace) -> int:
    from scripts.install_model import run

    return run(check=args.check, reinstall=args.reinstall)


def _frontend(args: argparse.Namespace) -> int:
    from scripts.frontend import run

    return run(args.version, cache_dir=args.cache_dir, force=args.force)


def run_as(command: str) -> int:
    """`python -m scripts.<name> ARGS`: the same as `chronicle <command> ARGS`."""
    return main([command, *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
