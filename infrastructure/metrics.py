"""Prometheus metrics: request latency, commands, group-commit batches, projector lag, job queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_LATENCY = Histogram(
    "chronicle_http_request_duration_seconds", "HTTP request latency",
    ["method", "route", "status"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
COMMANDS = Counter("chronicle_commands_total", "Commands executed", ["command", "outcome"],
                   registry=REGISTRY)
COMMAND_LATENCY = Histogram("chronicle_command_duration_seconds", "Command latency incl. commit",
                            ["command"], registry=REGISTRY)
COMMIT_BATCH_COMMANDS = Histogram("chronicle_commit_batch_commands", "Commands per group commit",
                                  registry=REGISTRY, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
COMMIT_EVENTS = Counter("chronicle_committed_events_total", "Events committed", registry=REGISTRY)
READ_WAIT_TIMEOUTS = Counter("chronicle_read_your_writes_timeouts_total",
                             "Queries answered before projections caught up", registry=REGISTRY)
# Socket.IO abuse (interfaces/realtime/limits.py, faults.py); no per-event label: event names
# come from clients, and dropped frames are never parsed.
SOCKET_FRAMES_DROPPED = Counter("chronicle_socketio_frames_dropped_total",
                                "Incoming Socket.IO frames dropped by the per-socket rate limit",
                                registry=REGISTRY)
SOCKET_DISCONNECTS = Counter("chronicle_socketio_forced_disconnects_total",
                             "Sockets closed by the server for flooding or an oversized frame",
                             ["reason"], registry=REGISTRY)
SOCKET_BAD_FRAMES = Counter("chronicle_socketio_bad_frames_total",
                            "Malformed frames or packets received from clients", registry=REGISTRY)


_command_series: dict[tuple[str, bool], tuple[Any, Any]] = {}


def observe_command(name: str, seconds: float, ok: bool) -> None:
    # labels() takes a lock and builds a key on every call; a command's two series are looked up
    # once per name (a fixed set: the names are literals in the application layer)
    series = _command_series.get((name, ok))
    if series is None:
        series = _command_series.setdefault((name, ok), (
            COMMANDS.labels(name, "ok" if ok else "conflict"), COMMAND_LATENCY.labels(name)))
    series[0].inc()
    series[1].observe(seconds)


def observe_batch(commands: int, events: int, seconds: float) -> None:
    COMMIT_BATCH_COMMANDS.observe(commands)
    COMMIT_EVENTS.inc(events)


class LiveCollector:
    """Gauges computed at scrape time from whoever owns the numbers."""

    def __init__(self, projections: Callable[[], list[dict[str, Any]]],
                 queue_depth: Callable[[], dict[str, int]]):
        self.projections = projections
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._projections()
        depth = GaugeMetricFamily("chronicle_job_queue_depth", "Jobs waiting", labels=["queue"])
        for queue, size in self.queue_depth().items():
            depth.add_metric([queue], size)
        yield depth

    def _projections(self) -> list[GaugeMetricFamily]:
        def gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["projector", *labels])

        lag = gauge("chronicle_projection_lag_events", "Events the projector has not applied yet")
        position = gauge("chronicle_projection_position", "Last applied log position")
        healthy = gauge("chronicle_projection_healthy", "1 when running")
        failed = gauge("chronicle_projection_failed", "1 when stopped on a failure (retried)")
        stuck = gauge("chronicle_projection_failed_event_position",
                      "Log position of the event a failed projector is stopped at", "topic")
        skipped = gauge("chronicle_projection_skipped_events",
                        "Events passed over because they did not decode (the realtime feed)")
        for item in self.projections():
            name, running = item["name"], item["status"] == "running"
            lag.add_metric([name], item["lag"])
            position.add_metric([name], item["position"])
            healthy.add_metric([name], 1 if running else 0)
            failed.add_metric([name], 1 if item["status"] == "failed" else 0)
            skipped.add_metric([name], item.get("skipped") or 0)
            if item["status"] == "failed" and (event := item.get("failed_event")):
                stuck.add_metric([name, event["topic"]], event["position"])
        return [lag, position, healthy, failed, stuck, skipped]

    def describe(self) -> list[Any]:
        return []
