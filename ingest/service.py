"""The ingest service: MQTT messages in, durable telemetry points out, acknowledged only then.

- the **loop** thread drives the MQTT session (``MqttSubscriber.poll``: no paho thread),
  gathers messages until ``batch_points`` values or ``batch_wait_s`` have arrived, runs
  them through the :class:`~ingest.pipeline.Pipeline`, publishes their dead letters and
  hands the points to the writer; once a batch is durable (and its dead letters are
  acknowledged) it acknowledges every message of the batch, in order. MQTT stays on one
  thread: cross-thread hand-overs per message cost more than decoding it (profiled).
- the **writer** writes each batch to the store in one call, or to the spool when the
  store refuses it or the spool already holds older points; one batch is written while
  the next is decoded.
- the **drainer** moves spooled batches to the store, oldest first, retrying with
  exponential backoff while the store is down.
- the **graph** thread copies changed last values onto twin nodes once per interval.

Guarantees (docs/ingest.md): a message is acknowledged once its points are in the store
or in the fsync'd spool, so a crash loses nothing the broker was told is safe; messages
not acknowledged are sent again and, carrying ``ts``, rewrite the same points.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog
from paho.mqtt.client import MQTTMessageInfo
from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from graph.events import ChangeEvent, ChangeKind
from ingest.pipeline import Outcome, Pipeline
from ingest.spool import Spool, SpoolFull
from ingest.subscriber import Inbound, MqttSubscriber, SessionOptions
from ontology.errors import BadRequest
from telemetry.latest_values import LatestValues
from telemetry.points import FieldValue, TelemetryPoint
from telemetry.refs import TWIN_TAG
from telemetry.store import TelemetryStore

_log = structlog.get_logger("kgtwin.ingest")

LatestWriter = Callable[[Mapping[str, tuple[Mapping[str, FieldValue], Mapping[str, int]]]], object]
"""Writes last values onto twin nodes (``graph.latest.write_latest`` bound to a store)."""


@dataclass(frozen=True)
class IngestConfig:
    """How the writer batches, how long things wait, and where dead letters go."""

    batch_points: int = 5000
    batch_wait_s: float = 0.05
    graph_interval_s: float = 1.0
    retry_max_s: float = 5.0


class Lag:
    """How old points are when they become durable (now minus their time), sampled.

    With devices' clocks in step (or no ``ts``), this is the publish-to-queryable latency
    operators watch. A bounded sample per batch keeps the cost off the hot path.
    """

    def __init__(self, cap: int = 200_000, per_batch: int = 64) -> None:
        self._cap = cap
        self._per_batch = per_batch
        self._all: list[float] = []
        self._recent: list[float] = []
        self._seen = 0

    def observe(self, points: list[TelemetryPoint]) -> None:
        now = time.time_ns()
        step = max(1, len(points) // self._per_batch)
        for point in points[::step]:
            lag_ms = (now - point.time_ns) / 1e6
            self._recent.append(lag_ms)
            self._seen += 1
            if len(self._all) < self._cap:
                self._all.append(lag_ms)
            else:  # reservoir sampling keeps a uniform sample of the whole run
                slot = random.randrange(self._seen)  # noqa: S311 - statistics, not secrets
                if slot < self._cap:
                    self._all[slot] = lag_ms

    def percentiles(self, *, recent: bool) -> dict[str, float | None]:
        """p50 and p99 in ms of the points since the last ``recent`` call (or of the whole run)."""
        values = sorted(self._recent if recent else self._all)
        if recent:
            self._recent = []
        if not values:
            return {"lag_p50_ms": None, "lag_p99_ms": None}
        return {
            "lag_p50_ms": round(values[len(values) // 2], 1),
            "lag_p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 1),
        }


@dataclass
class IngestStats:
    """Counters since start: messages, stored values, dead letters by reason, spooled points."""

    messages: int = 0
    values: int = 0
    points: int = 0
    batches: int = 0
    spooled_points: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    lag: Lag = field(default_factory=Lag)

    def to_dict(self, *, recent: bool = True) -> dict[str, object]:
        """The counters, and the lag percentiles of the last interval (or of the whole run)."""
        return {
            "messages": self.messages,
            "values": self.values,
            "points": self.points,
            "batches": self.batches,
            "spooled_points": self.spooled_points,
            "rejected": dict(self.rejected),
            **self.lag.percentiles(recent=recent),
        }


_TWIN_CHANGES = frozenset({ChangeKind.TWIN_CREATED, ChangeKind.TWIN_UPDATED, ChangeKind.TWIN_DELETED})


class StoreDown(Exception):
    """Raised inside the drainer's retry loop when the store refused a spooled batch."""


@dataclass
class _Batch:
    """Messages on their way: acknowledged once ``durable`` is set and the dead letters are out."""

    messages: list[Inbound]
    outcome: Outcome
    letters: list[MQTTMessageInfo]
    durable: threading.Event = field(default_factory=threading.Event)


class IngestService:
    """One ingest process's session, loop, writer, drainer and graph threads."""

    def __init__(
        self,
        options: SessionOptions,
        store: TelemetryStore,
        pipeline: Pipeline,
        spool: Spool,
        *,
        latest: LatestValues | None = None,
        write_latest: LatestWriter | None = None,
        config: IngestConfig | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.spool = spool
        self.latest = latest if latest is not None else LatestValues()
        self.config = config or IngestConfig()
        self.stats = IngestStats()
        self._write_latest = write_latest
        self._received: list[Inbound] = []
        self._received_bytes = 0
        # One batch being written while the next is decoded; more would only add latency.
        self._to_writer: queue.Queue[_Batch | None] = queue.Queue(maxsize=1)
        self._writing = False  # set by the writer while a batch is on its way to the store
        self._stopping = threading.Event()  # no more messages are taken in
        self._done = threading.Event()  # the loop and the writer have finished
        self._spooled = threading.Event()
        self.subscriber = MqttSubscriber(options, self._deliver)
        self._threads = [
            threading.Thread(target=self._loop, name="ingest-loop", daemon=True),
            threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True),
            threading.Thread(target=self._drain_loop, name="ingest-drainer", daemon=True),
            threading.Thread(target=self._graph_loop, name="ingest-graph", daemon=True),
        ]

    def start(self) -> None:
        """Connect (raising ``BackendUnavailable`` if the broker refuses), then start the threads."""
        if len(self.spool):
            _log.info("ingest.replaying_spool", points=self.spool.points, batches=len(self.spool))
            self._spooled.set()
        self.subscriber.start()
        for thread in self._threads:
            thread.start()

    def _deliver(self, message: Inbound) -> None:
        # Called on the loop thread by paho. After stop() messages are left unacknowledged:
        # the broker keeps them for the session (or another process of the group).
        if not self._stopping.is_set():
            self._received.append(message)
            self._received_bytes += len(message.payload)

    def on_change(self, event: ChangeEvent) -> None:
        """Forget what the caches hold about a twin that changed (an ``EventBus`` subscriber).

        In one process with the API (``kgtwin serve``), a new twin's messages are taken at
        once and a changed telemetry reference applies at once, not after the cache TTL.
        """
        if event.kind in _TWIN_CHANGES:
            self.pipeline.targets.invalidate([event.id])
            if event.kind == ChangeKind.TWIN_DELETED:
                self.latest.forget([event.id])

    def stop(self, timeout: float = 30.0) -> None:
        """Drain: store and acknowledge what was received, disconnect, flush last values."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._flush_latest()

    # --- the loop thread: MQTT in, batches out, acks -----------------------------------------

    def _loop(self) -> None:
        cfg = self.config
        # Messages are small and alike: estimate values per message from the payload size.
        budget = cfg.batch_points * 24
        waiting: deque[_Batch] = deque()
        first_at = 0.0
        try:
            while True:
                stopping = self._stopping.is_set()
                if stopping and not self._received and not waiting:
                    break
                self.subscriber.poll(0.005 if self._received or waiting else 0.1)
                if self._received:
                    now = time.monotonic()
                    if not first_at:
                        first_at = now
                    full = self._received_bytes >= budget
                    # While the writer is still busy with the previous batch, keep gathering
                    # instead: under load batches grow to the budget, and a store writes a
                    # few large batches faster than many small ones.
                    idle = not self._writing and self._to_writer.empty()
                    due = now - first_at >= cfg.batch_wait_s and idle
                    if full or due or stopping:
                        waiting.append(self._dispatch())
                        first_at = 0.0
                while (
                    waiting
                    and waiting[0].durable.is_set()
                    and all(i.is_published() for i in waiting[0].letters)
                ):
                    self._acknowledge(waiting.popleft())
        except Exception:  # the loop must not die silently: unacknowledged messages come back
            _log.exception("ingest.loop_failed")
            raise
        finally:
            self._to_writer.put(None)
            self.subscriber.stop()

    def _dispatch(self) -> _Batch:
        """Decode and validate the received messages, publish their dead letters, hand the points on."""
        messages, self._received, self._received_bytes = self._received, [], 0
        outcome = self.pipeline.process(messages)
        topic = self.pipeline.deadletter_topic
        letters = [self.subscriber.publish(topic, letter) for letter in outcome.letters]
        batch = _Batch(messages, outcome, letters)
        if not outcome.points:
            batch.durable.set()
            return batch
        while True:
            try:
                self._to_writer.put(batch, timeout=0.5)
                return batch
            except queue.Full:
                # The writer is behind (or the spool is full): stop reading, so the broker
                # holds the rest; keep the connection alive meanwhile.
                self.subscriber.poll(0.0, max_messages=0)

    def _acknowledge(self, batch: _Batch) -> None:
        self.subscriber.ack(batch.messages)
        stats, outcome = self.stats, batch.outcome
        stats.messages += len(batch.messages)
        stats.values += outcome.values
        stats.points += len(outcome.points)
        stats.batches += 1
        stats.rejected.update(outcome.rejected)

    # --- the writer ---------------------------------------------------------------------------

    def _write_loop(self) -> None:
        try:
            while (batch := self._to_writer.get()) is not None:
                self._writing = True
                self._make_durable(batch.outcome.points)
                self._writing = False
                batch.durable.set()
        finally:
            self._done.set()

    def _make_durable(self, points: list[TelemetryPoint]) -> None:
        """Store the points, or spool them; returns only when they are one or the other."""
        if not self._spooled.is_set():
            try:
                self._write(points)
            except Exception as exc:  # unreachable or failing: the points wait in the spool
                _log.warning("ingest.store_failed", error=str(exc) or type(exc).__name__, points=len(points))
            else:
                self.stats.lag.observe(points)
                self.latest.update(points)
                return
        while True:
            try:
                self.spool.push(points)
                break
            except SpoolFull as exc:
                # Not acknowledging is the back-pressure: the broker keeps the messages.
                _log.warning("ingest.spool_full", error=str(exc))
                time.sleep(0.5)
        self.stats.spooled_points += len(points)
        self._spooled.set()
        self.stats.lag.observe(points)
        self.latest.update(points)

    def _write(self, points: list[TelemetryPoint]) -> None:
        """Write to the store; if it refuses the data itself, write point by point and drop the bad.

        The model's validators run first, so a refusal (``BadRequest``) is rare: a value
        the store cannot keep although its schema allows it. Retrying such a batch would
        block the stream forever, so the refused points are logged (``ingest.store_refused``)
        and counted as ``STORE_REFUSED``; every other error is raised (spool and retry).
        """
        try:
            self.store.write(points)
            return
        except BadRequest:
            if len(points) == 1:
                raise
        for point in points:
            try:
                self.store.write([point])
            except BadRequest as exc:
                self.stats.rejected["STORE_REFUSED"] += 1
                _log.error(
                    "ingest.store_refused",
                    error=exc.message,
                    twin_id=point.tags.get(TWIN_TAG),
                    time_ns=point.time_ns,
                    fields=sorted(point.fields),
                )

    # --- the drainer ----------------------------------------------------------------------

    def _drain_loop(self) -> None:
        while not self._done.is_set() or self._spooled.is_set():
            if not self._spooled.wait(0.2):
                continue
            head = self.spool.peek()
            if head is None:
                self._spooled.clear()
                # A push may have landed between peek and clear: look once more.
                if len(self.spool):
                    self._spooled.set()
                continue
            key, points = head
            if not self._write_with_backoff(points):
                return  # stopping while the store is down: the spool is replayed next start
            self.spool.drop(key)
            _log.info("ingest.spool_drained", points=len(points), waiting=self.spool.points)

    def _write_with_backoff(self, points: list[TelemetryPoint]) -> bool:
        """Write a spooled batch, retrying with exponential backoff; False if stopped first."""
        stop = stop_when_event_set(self._done)
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(StoreDown),
                wait=wait_exponential(multiplier=0.1, max=self.config.retry_max_s),
                stop=stop,
                reraise=True,
            ):
                with attempt:
                    try:
                        self._write(points)
                    except Exception as exc:  # keep the batch and try again later
                        raise StoreDown(str(exc) or type(exc).__name__) from exc
        except StoreDown:
            return False
        return True

    # --- last values on the graph -------------------------------------------------------

    def _graph_loop(self) -> None:
        # Under load the flush itself takes time; waiting at least four times as long keeps
        # the graph writes below a fifth of the process (each twin still at most once per
        # interval, just less often when busy).
        pause = self.config.graph_interval_s
        while not self._done.wait(pause):
            began = time.monotonic()
            self._flush_latest()
            pause = max(self.config.graph_interval_s, 4 * (time.monotonic() - began))

    def _flush_latest(self) -> None:
        if self._write_latest is None:
            return
        changed = self.latest.take_changed()
        if not changed:
            return
        try:
            self._write_latest(changed)
        except Exception as exc:  # the graph is down: keep the values and try next round
            _log.warning("ingest.latest_write_failed", error=str(exc) or type(exc).__name__)
            self.latest.mark_changed(changed)
