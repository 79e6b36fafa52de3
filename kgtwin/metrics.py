"""Prometheus metrics of every kgtwin service: their names, labels and buckets, in one module.

The packages below the composition root report through small observers of their own
(``api.observation.ApiObserver``, ``ingest.observer.IngestObserver``,
``simulation.observer.WorkerObserver``) and know nothing of Prometheus; the classes here
implement those observers with ``prometheus_client``. States (spool depth, broker
connection, cache sizes, a worker's run in hand) are read from the services when the
metrics are scraped, so they cost nothing in between.

One :class:`Metrics` per process, on a registry of its own. ``kgtwin api --workers N``
runs N processes on one port, and a scrape reaches any one of them, so their metrics
must add up: the supervisor (``kgtwin.workers``) gives the workers a shared folder in
``PROMETHEUS_MULTIPROC_DIR``, where ``prometheus_client`` keeps each process's values in
files, and any worker answers ``/metrics`` with the sum over all of them
(``prometheus_client`` multiprocess mode; its per-process collectors, CPU and memory,
are left out there).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from kgtwin import __version__

if TYPE_CHECKING:
    from ingest.service import IngestService
    from ingest.uplink import Forwarder
    from ingest.uplink_queue import UplinkQueue
    from ingest.uplink_receiver import UplinkReceiver
    from simulation.worker import Worker

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""``prometheus_client``'s own variable: set, values are kept in files there (several API workers)."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def multiprocess_dir() -> Path | None:
    """The folder several API worker processes share their metrics through, if this is one of them.

    Read from the environment, not the settings: ``prometheus_client`` reads the same
    variable when it is imported, and the supervisor sets it for its workers only.
    """
    found = os.environ.get(MULTIPROCESS_ENV)
    return Path(found) if found else None


class Metrics:
    """The metrics of one service process and their exposition (``/metrics``)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.shared = multiprocess_dir()
        if self.shared is None:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        info = Gauge(
            "kgtwin_info",
            "The kgtwin version and the service this process runs (always 1).",
            ["version", "service"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        info.labels(__version__, service).set(1)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus's text format, summed over the API's workers when there are several."""
        if self.shared is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.shared))  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


class ApiMetrics:
    """The API's observer: requests in flight, latency per operation and field, errors, subscriptions."""

    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self._in_flight = Gauge(
            "kgtwin_api_requests_in_flight",
            "HTTP requests being answered (probes and /metrics excluded).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._duration = Histogram(
            "kgtwin_api_request_duration_seconds",
            "Time from a request's arrival to its last byte sent, by GraphQL operation type "
            "(query, mutation, invalid) and top-level field, or rest and the route.",
            ["operation", "field"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._errors = Counter(
            "kgtwin_api_errors",
            "Errors answered, by kgtwin code (GraphQL errors each, error responses once).",
            ["code"],
            registry=registry,
        )
        self._subscriptions = Gauge(
            "kgtwin_api_subscriptions_open",
            "GraphQL subscriptions open, by top-level field.",
            ["field"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        # labels() takes a lock and builds a key each call: the request path keeps its children.
        self._timers: dict[tuple[str, str], Histogram] = {}

    def request_started(self) -> None:
        self._in_flight.inc()

    def request_finished(self, operation: str, field: str, seconds: float) -> None:
        self._in_flight.dec()
        timer = self._timers.get((operation, field))
        if timer is None:
            timer = self._timers[(operation, field)] = self._duration.labels(operation, field)
        timer.observe(seconds)

    def error(self, code: str) -> None:
        self._errors.labels(code).inc()

    def subscription_opened(self, field: str) -> None:
        self._subscriptions.labels(field).inc()

    def subscription_closed(self, field: str) -> None:
        self._subscriptions.labels(field).dec()


class IngestMetrics:
    """The ingest service's observer, and the gauges read from it when scraped (:meth:`watch`)."""

    def __init__(self, metrics: Metrics) -> None:
        self._registry = registry = metrics.registry
        self._messages = Counter(
            "kgtwin_ingest_messages", "MQTT messages taken from the broker.", registry=registry
        )
        self._dead_letters = Counter(
            "kgtwin_ingest_dead_letters",
            "Messages dead-lettered, by reason (STORE_REFUSED: points the store refused, logged).",
            ["reason"],
            registry=registry,
        )
        self._points = Counter(
            "kgtwin_ingest_points_written",
            "Points made durable: in the time-series store, or in the spool while it is away.",
            ["destination"],
            registry=registry,
        )
        self._to_store = self._points.labels("store")
        self._to_spool = self._points.labels("spool")
        self._write = Histogram(
            "kgtwin_ingest_write_duration_seconds",
            "Time of one batch write to the time-series store.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._ack_lag = Histogram(
            "kgtwin_ingest_ack_lag_seconds",
            "Time from a batch's first message arriving to the batch being acknowledged (durable).",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def watch(self, service: IngestService) -> None:
        """Read the spool, the broker session and the caches of ``service`` at each scrape."""
        registry = self._registry
        Gauge("kgtwin_ingest_spool_points", "Points waiting in the spool.", registry=registry).set_function(
            lambda: service.spool.points
        )
        Gauge("kgtwin_ingest_spool_bytes", "Bytes the spool takes on disk.", registry=registry).set_function(
            service.spool.size_bytes
        )
        Gauge(
            "kgtwin_ingest_broker_connected",
            "1 while the MQTT session is connected, else 0.",
            registry=registry,
        ).set_function(lambda: float(service.subscriber.is_connected()))
        caches = Gauge(
            "kgtwin_ingest_cache_entries",
            "Entries of ingest's caches: twin_targets (twins' models and references), "
            "latest_values (twins with a last value).",
            ["cache"],
            registry=registry,
        )
        caches.labels("twin_targets").set_function(lambda: len(service.pipeline.targets))
        caches.labels("latest_values").set_function(lambda: len(service.latest.twins()))

    def received(self, messages: int) -> None:
        self._messages.inc(messages)

    def rejected(self, reasons: Mapping[str, int]) -> None:
        for reason, count in reasons.items():
            self._dead_letters.labels(reason).inc(count)

    def stored(self, points: int, seconds: float) -> None:
        self._to_store.inc(points)
        self._write.observe(seconds)

    def spooled(self, points: int) -> None:
        self._to_spool.inc(points)

    def acknowledged(self, messages: int, lag_s: float) -> None:
        self._ack_lag.observe(lag_s)


def watch_uplink(metrics: Metrics, queue: UplinkQueue, forwarder: Forwarder) -> None:
    """The edge's uplink, read at each scrape: its queue, what overflow cost, its connection."""
    registry = metrics.registry
    gauges = (
        ("kgtwin_uplink_queue_messages", "Messages waiting for the cloud.", lambda: float(len(queue))),
        (
            "kgtwin_uplink_queue_bytes",
            "Bytes of messages waiting (the bound counts these).",
            lambda: float(queue.waiting_bytes),
        ),
        ("kgtwin_uplink_queue_disk_bytes", "Bytes the uplink queue takes on disk.", queue.size_bytes),
        (
            "kgtwin_uplink_dropped_points",
            "Points dropped, oldest first, since the process started, because the queue was full.",
            lambda: float(queue.dropped_points),
        ),
        (
            "kgtwin_uplink_resyncs_marked",
            "Times queued changes gave way to a resync mark since the process started.",
            lambda: float(queue.resyncs_marked),
        ),
        (
            "kgtwin_uplink_sent_messages",
            "Messages the cloud's broker acknowledged.",
            lambda: float(forwarder.sent),
        ),
        (
            "kgtwin_uplink_connected",
            "1 while the uplink's MQTT session is connected, else 0.",
            lambda: float(forwarder.connected),
        ),
    )
    for name, text, read in gauges:
        Gauge(name, text, registry=registry).set_function(read)


class ReceiverMetrics(Collector):
    """``kgtwin uplink-receiver``'s metrics, read from the receiver at each scrape, one series per site.

    Sites appear as their first message arrives, so the families are built at each
    scrape (a custom collector) rather than declared once.
    """

    _COUNTERS = (
        ("applied", "kgtwin_uplink_receiver_applied_messages", "Messages of the site applied."),
        (
            "duplicates",
            "kgtwin_uplink_receiver_duplicate_messages",
            "Messages at or below the site's mark: stored nothing.",
        ),
        ("points", "kgtwin_uplink_receiver_points", "Points of the site written to the cloud's store."),
        ("points_refused", "kgtwin_uplink_receiver_refused_points", "Points the cloud's store refused."),
        ("changes_refused", "kgtwin_uplink_receiver_refused_changes", "Changes the cloud's graph refused."),
        ("snapshots", "kgtwin_uplink_receiver_snapshots", "Snapshots of the site reconciled."),
        ("refusals", "kgtwin_uplink_receiver_edge_refusals", "Model changes the site's edge refused."),
    )

    def __init__(self, receiver: UplinkReceiver) -> None:
        self.receiver = receiver

    def collect(self) -> Iterable[Metric]:
        receiver = self.receiver
        counts = receiver.counts()
        for attribute, name, text in self._COUNTERS:
            family = CounterMetricFamily(name, text, labels=["site"])
            for site, found in counts.items():
                family.add_metric([site], float(getattr(found, attribute)))
            yield family
        mark = GaugeMetricFamily(
            "kgtwin_uplink_receiver_high_water",
            "The site's highest applied message sequence.",
            labels=["site"],
        )
        backlog = GaugeMetricFamily(
            "kgtwin_uplink_receiver_backlog_messages",
            "Messages of the site received, not yet applied.",
            labels=["site"],
        )
        waiting = receiver.backlog()
        for site, found in counts.items():
            mark.add_metric([site], float(found.high_water))
            backlog.add_metric([site], float(waiting.get(site, 0)))
        yield mark
        yield backlog
        yield CounterMetricFamily(
            "kgtwin_uplink_receiver_malformed_messages",
            "Messages on the uplink topics that were no uplink message.",
            value=float(receiver.malformed),
        )
        yield GaugeMetricFamily(
            "kgtwin_uplink_receiver_connected",
            "1 while the receiver's MQTT session is connected, else 0.",
            value=float(receiver.healthy()),
        )


def watch_receiver(metrics: Metrics, receiver: UplinkReceiver) -> None:
    """Expose ``receiver``'s counters on ``metrics`` (read at each scrape)."""
    metrics.registry.register(ReceiverMetrics(receiver))


class WorkerMetrics:
    """A simulation worker's observer, and its run in hand read when scraped (:meth:`watch`)."""

    def __init__(self, metrics: Metrics) -> None:
        self._registry = registry = metrics.registry
        self._claimed = Counter(
            "kgtwin_worker_runs_claimed", "Simulation runs claimed from the queue.", registry=registry
        )
        self._ended = Counter(
            "kgtwin_worker_runs_ended",
            "Claimed runs that left the worker, by outcome: succeeded, failed, cancelled, "
            "requeued (the worker stopped), lost (its lease passed to another worker).",
            ["outcome"],
            registry=registry,
        )
        self._duration = Histogram(
            "kgtwin_worker_run_duration_seconds",
            "Time from a run's claim to its end on this worker, by outcome.",
            ["outcome"],
            buckets=_RUN_BUCKETS,
            registry=registry,
        )
        self._replications = Counter(
            "kgtwin_worker_replications",
            "Simulation replications finished (rate() gives replications per second).",
            registry=registry,
        )
        self._leases_lost = Counter(
            "kgtwin_worker_lease_renewals_lost",
            "Lease renewals that found the run taken by another worker.",
            registry=registry,
        )

    def watch(self, worker: Worker) -> None:
        """Read whether ``worker`` holds a run at each scrape."""
        busy = Gauge(
            "kgtwin_worker_runs_in_progress",
            "1 while the worker holds a run, else 0.",
            registry=self._registry,
        )
        busy.set_function(lambda: float(worker.busy))

    def claimed(self) -> None:
        self._claimed.inc()

    def ended(self, outcome: str, seconds: float) -> None:
        self._ended.labels(outcome).inc()
        self._duration.labels(outcome).observe(seconds)

    def replications(self, count: int) -> None:
        self._replications.inc(count)

    def lease_lost(self) -> None:
        self._leases_lost.inc()
