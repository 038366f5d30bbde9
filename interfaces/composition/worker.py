"""The `chronicle worker` process: Dramatiq consumes the deployment's queue with the jobs of
interfaces.composition.jobs, against a container built on the first job.

Dramatiq's command line is pointed at `interfaces.composition.worker:setup` (its "module:callable"
broker form): importing this module does nothing; `setup` registers the actor on the global broker.
"""

from __future__ import annotations

import atexit
import threading
from functools import partial

from infrastructure.jobs import DramatiqJobs, queue_name
from infrastructure.settings import Settings
from interfaces.composition.bootstrap import bootstrap
from interfaces.composition.container import Container
from interfaces.composition.jobs import run_job

BROKER = "interfaces.composition.worker:setup"

_container: Container | None = None
_container_lock = threading.Lock()


def worker_container() -> Container:
    """The container of a worker process: built on the first job, closed at exit. It runs no
    projectors and loads no model until a job embeds."""
    global _container
    if _container is None:
        with _container_lock:
            if _container is None:
                _container = bootstrap(run_projectors=False)
                atexit.register(_container.close)
    return _container


def setup() -> DramatiqJobs:
    """Register the job actor on the production broker, as Dramatiq's global broker."""
    settings = Settings()
    return DramatiqJobs(settings.REDIS_URL, partial(run_job, worker_container),
                        queue_name(settings.DATABASE_URL), global_broker=True)
