"""The long-running processes `chronicle` starts (scripts/chronicle.py): the API server, the
projectors and the Dramatiq worker. Each builds its container through interfaces.composition."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence


def serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    _report_embedding_model()
    uvicorn.run("interfaces.asgi:app", host=host, port=port, workers=workers,
                proxy_headers=True, log_config=None)
    return 0


def _report_embedding_model() -> None:
    """Said once per server, here rather than in each worker's start-up: without the model the
    first upload fails, and the operator should learn why before that."""
    from infrastructure.embeddings import startup_problem
    from infrastructure.settings import Settings
    from interfaces.logs import configure_logging

    settings = Settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    problem = startup_problem(settings.RAG_EMBEDDING_ENGINE)
    if problem:
        logging.getLogger("chronicle.embeddings").warning(problem)


def projector(names: Sequence[str]) -> int:
    """Run the named projectors (all when none is named) until SIGINT or SIGTERM."""
    from interfaces.composition import heap
    from interfaces.composition.bootstrap import bootstrap, schedule_retention
    from interfaces.logs import configure_logging

    container = bootstrap(run_projectors=False)
    configure_logging(container.settings.LOG_LEVEL, container.settings.LOG_FORMAT)
    heap.settle()
    container.host.start(list(names) or None)
    schedule_retention(container)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    container.close()
    return 0


def worker() -> int:
    """A Dramatiq worker on the deployment's queue (interfaces.composition.worker)."""
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from interfaces.composition.worker import BROKER

    if not os.environ.get("REDIS_URL"):
        print("chronicle worker needs REDIS_URL (the embedded default runs jobs in-process)",
              file=sys.stderr)
        return 2
    options = make_argument_parser().parse_args([BROKER, "--processes", "1", "--threads", "2"])
    return int(dramatiq_main(options) or 0)
