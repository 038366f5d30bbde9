"""Background jobs: Dramatiq actors on the Redis broker in production, a thread pool when embedded.

Use cases enqueue by name through the JobQueue port (application.ports); the same function runs in
either shape, and every job must be idempotent (a job run twice has no extra effect). A queue is
built with `run(name, kwargs)`, which runs the named job: the composition root
(interfaces.composition.jobs) holds the jobs and the container they run against.

Retries: a use case that meets a transient failure records it and re-enqueues itself with a delay
(its own backoff, visible on the aggregate). Dramatiq additionally retries a job that raised
(e.g. the database was unreachable even to record the failure), with exponential backoff.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import dramatiq

log = logging.getLogger("chronicle.jobs")

RunJob = Callable[[str, dict[str, Any]], None]  # runs the job of that name with its kwargs
QUEUE = "chronicle"
ACTOR = "chronicle_job"
TIME_LIMIT_MS = 3_600_000  # a large document on the local model takes minutes, not hours


def queue_name(database_url: str = "") -> str:
    """The queue of one deployment: every process of it derives the same name, and deployments
    (or test databases) sharing one Redis never take each other's jobs."""
    name = urlparse(database_url).path.strip("/") if database_url else ""
    return f"{QUEUE}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}" if name else QUEUE


class InProcessJobs:
    """The embedded default: a small thread pool; delayed jobs wait on timers."""

    def __init__(self, run: RunJob, workers: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self.run = run
        self._lock = threading.Condition()
        self._pending = 0
        self._timers: set[threading.Timer] = set()
        self._closed = False

    def enqueue(self, name: str, *, delay: float = 0.0, **kwargs: Any) -> None:
        with self._lock:
            if self._closed:
                log.warning("job dropped: queue closed", extra={"job": name})
                return
            self._pending += 1
            if delay > 0:
                timer = threading.Timer(delay, self._submit, (name, kwargs))
                timer.daemon = True
                self._timers.add(timer)
                timer.start()
                return
        self._submit(name, kwargs)

    def _submit(self, name: str, kwargs: dict[str, Any]) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive()}
            if self._closed:
                self._done()
                return
        try:
            self.pool.submit(self._run, name, kwargs)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._done()

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        try:
            self.run(name, kwargs)
        except Exception:
            log.exception("job failed", extra={"job": name})
        finally:
            with self._lock:
                self._done()

    def _done(self) -> None:
        self._pending -= 1
        self._lock.notify_all()

    @property
    def pending(self) -> int:
        return self._pending

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job is queued, delayed or running (tests, orderly shutdown)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending <= 0, timeout)

    def depth(self) -> dict[str, int]:
        return {QUEUE: self._pending}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self.pool.shutdown(wait=True, cancel_futures=True)


def redis_broker(url: str, global_broker: bool = False) -> Any:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url)
    if global_broker:
        dramatiq.set_broker(broker)
    return broker


class DramatiqJobs:
    """Production: jobs are messages on Redis; `chronicle worker` processes consume them."""

    def __init__(self, url: str, run: RunJob, queue: str = QUEUE, global_broker: bool = False,
                 max_retries: int = 5):
        self.queue = queue
        self.broker = redis_broker(url, global_broker)
        self.run = run
        self.actor = dramatiq.actor(actor_name=ACTOR, queue_name=queue, broker=self.broker,
                                    max_retries=max_retries, min_backoff=1_000,
                                    max_backoff=300_000, time_limit=TIME_LIMIT_MS)(self._dispatch)

    def enqueue(self, name: str, *, delay: float = 0.0, **kwargs: Any) -> None:
        self.actor.send_with_options(args=(name, kwargs),
                                     delay=int(delay * 1000) if delay > 0 else None)

    def _dispatch(self, name: str, kwargs: dict[str, Any]) -> None:
        self.run(name, kwargs)

    def depth(self) -> dict[str, int]:
        client = self.broker.client
        return {self.queue: int(client.llen(f"dramatiq:{self.queue}") or 0)}

    def close(self) -> None:
        self.broker.close()


class Schedule:
    """Enqueues a job every `interval` seconds from a daemon thread, the first soon after start
    (a process restarted more often than the interval still runs it). The process that runs the
    projectors keeps the schedule; the job itself may run anywhere (Dramatiq workers)."""

    FIRST_DELAY = 60.0

    def __init__(self, jobs: Any, name: str, interval: float):
        self.jobs, self.name, self.interval = jobs, name, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"schedule-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        delay = min(self.interval, self.FIRST_DELAY)
        while not self._stop.wait(delay):
            try:
                self.jobs.enqueue(self.name)
            except Exception:  # a broker outage must not end the schedule
                log.exception("scheduling failed", extra={"job": self.name})
            delay = self.interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
