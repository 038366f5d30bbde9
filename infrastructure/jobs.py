"""Background jobs: Dramatiq actors on the Redis broker in production, a thread pool when embedded.

Use cases enqueue by name through the JobQueue port; the same function runs in either shape, and
every job must be idempotent (a job run twice has no extra effect).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dramatiq

log = logging.getLogger("chronicle.jobs")

JOBS: dict[str, Callable[..., None]] = {}
QUEUE = "chronicle"


def job(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a job function under a stable name."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        JOBS[name] = fn
        return fn

    return register


class InProcessJobs:
    def __init__(self, workers: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self.pending = 0

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self.pending += 1
        self.pool.submit(self._run, name, kwargs)

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        try:
            JOBS[name](**kwargs)
        except Exception:
            log.exception("job failed", extra={"job": name})
        finally:
            self.pending -= 1

    def depth(self) -> dict[str, int]:
        return {QUEUE: self.pending}

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


def redis_broker(url: str) -> Any:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url)
    dramatiq.set_broker(broker)
    return broker


class DramatiqJobs:
    def __init__(self, url: str):
        self.broker = redis_broker(url)
        self.actor = dramatiq.actor(_dispatch, actor_name="chronicle_job", queue_name=QUEUE,
                                    max_retries=5, broker=self.broker)

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self.actor.send(name, kwargs)

    def depth(self) -> dict[str, int]:
        client = self.broker.client
        return {QUEUE: int(client.llen(f"dramatiq:{QUEUE}") or 0)}

    def close(self) -> None:
        self.broker.close()


def _dispatch(name: str, kwargs: dict[str, Any]) -> None:
    JOBS[name](**kwargs)


# `chronicle worker` imports this module: register the actor on the production broker.
if os.environ.get("REDIS_URL") and os.environ.get("CHRONICLE_WORKER") == "1":
    DramatiqJobs(os.environ["REDIS_URL"])
