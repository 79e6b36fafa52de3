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
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import structlog
from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from graph.events import ChangeEvent, ChangeKind
from ingest.dead_letters import Reason, Rejected
from ingest.latest_copy import LatestCopy, LatestWriter
from ingest.observer import IngestObserver, Unobserved
from ingest.pipeline import Outcome, Pipeline, reject
from ingest.source import Delivery, Source, SourceFactory
from ingest.spool import Spool, SpoolFull
from ingest.stats import IngestStats
from ingest.subscriber import Inbound, MqttSubscriber, SessionOptions
from ontology.errors import BadRequest, KgtwinError
from telemetry.latest_values import LatestValues
from telemetry.points import TelemetryPoint
from telemetry.refs import TWIN_TAG
from telemetry.store import TelemetryStore

_log = structlog.get_logger("kgtwin.ingest")


@dataclass(frozen=True)
class IngestConfig:
    """How the writer batches, how long things wait, and where dead letters go.

    ``unhealthy_after_s``: how long the loop may keep failing before :meth:`IngestService.health`
    reports it (one failing turn is retried; a loop that keeps failing is not ready).
    ``warm_twins``: how many twins' targets are cached at start, before the first message
    (``ingest.targets``; 0: none).
    """

    batch_points: int = 5000
    batch_wait_s: float = 0.05
    graph_interval_s: float = 1.0
    retry_max_s: float = 5.0
    unhealthy_after_s: float = 5.0
    warm_twins: int = 0


_TWIN_CHANGES = frozenset({ChangeKind.TWIN_CREATED, ChangeKind.TWIN_UPDATED, ChangeKind.TWIN_DELETED})


class StoreDown(Exception):
    """Raised inside the drainer's retry loop when the store refused a spooled batch."""


@dataclass
class _Batch:
    """Messages on their way: acknowledged once ``durable`` is set and the dead letters are out.

    ``refused`` is set by the writer: the points the store refused (index, why); they
    become dead letters of their messages before the batch is acknowledged.
    """

    messages: list[Inbound]
    outcome: Outcome
    letters: list[Delivery]
    durable: threading.Event = field(default_factory=threading.Event)
    refused: list[tuple[int, str]] = field(default_factory=list)
    lettered: bool = False


class IngestService:
    """One ingest process's session, loop, writer, drainer and graph threads.

    ``source`` is where messages come from: a persistent MQTT session with these options,
    or a ``SourceFactory`` (the embedded broker's intake, ``ingest.intake``).
    """

    def __init__(
        self,
        source: SessionOptions | SourceFactory,
        store: TelemetryStore,
        pipeline: Pipeline,
        spool: Spool,
        *,
        latest: LatestValues | None = None,
        write_latest: LatestWriter | None = None,
        config: IngestConfig | None = None,
        observer: IngestObserver | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.spool = spool
        self.latest = latest if latest is not None else LatestValues()
        self.config = config or IngestConfig()
        self.stats = IngestStats()
        self._copy = LatestCopy(self.latest, write_latest, self.config.graph_interval_s)
        self.observer: IngestObserver = observer or Unobserved()
        self._received: list[Inbound] = []
        self._received_bytes = 0
        self._first_at = 0.0  # when the first message of the batch being gathered arrived
        # One batch being written while the next is decoded; more would only add latency.
        self._to_writer: queue.Queue[_Batch | None] = queue.Queue(maxsize=1)
        self._writing = False  # set by the writer while a batch is on its way to the store
        self._stopping = threading.Event()  # no more messages are taken in
        self._done = threading.Event()  # the loop and the writer have finished
        self._spooled = threading.Event()
        self._started = False
        self._hold_until = 0.0  # the graph is unavailable: no batch is cut before then
        self._backoff = 0.0
        self._failing_since: float | None = None
        self._last_error = ""
        if isinstance(source, SessionOptions):
            self.subscriber: Source = MqttSubscriber(source, self._deliver)
        else:
            self.subscriber = source(self._deliver)
        self._threads = [
            threading.Thread(target=self._loop, name="ingest-loop", daemon=True),
            threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True),
            threading.Thread(target=self._drain_loop, name="ingest-drainer", daemon=True),
            threading.Thread(target=self._copy.run, args=(self._done,), name="ingest-graph", daemon=True),
        ]

    def start(self) -> None:
        """Connect (raising ``BackendUnavailable`` if the broker refuses), then start the threads."""
        if len(self.spool):
            _log.info("ingest.replaying_spool", points=self.spool.points, batches=len(self.spool))
            self._spooled.set()
        self._warm()
        self.subscriber.start()
        for thread in self._threads:
            thread.start()
        self._started = True

    def _warm(self) -> None:
        """Cache twins' targets before the first message; a failure only costs the head start."""
        if self.config.warm_twins <= 0:
            return
        started = time.monotonic()
        try:
            twins = self.pipeline.targets.warm(self.config.warm_twins)
        except KgtwinError as exc:
            _log.warning("ingest.warm_failed", error=exc.message)
            return
        _log.info("ingest.twins_cached", twins=twins, seconds=round(time.monotonic() - started, 2))

    def health(self) -> str | None:
        """None while the service takes messages; else why not (for ``/readyz``).

        Not ready: a thread of the loop, writer or drainer ended (it must not, before
        :meth:`stop`), or the loop kept failing for ``unhealthy_after_s``. Telemetry
        acknowledged by the broker would then never be stored, and saying ready would lie.
        """
        if not self._started:
            return "ingest has not started"
        dead = [t.name for t in self._threads[:3] if not t.is_alive()]
        if dead and not self._stopping.is_set():
            return f"ingest thread {dead[0]} stopped: {self._last_error or 'no error was logged'}"
        since = self._failing_since
        if since is not None and time.monotonic() - since >= self.config.unhealthy_after_s:
            return f"the ingest loop keeps failing: {self._last_error}"
        return None

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

    def alive(self) -> bool:
        """Whether every thread of the service runs (a dead loop or writer takes no more messages)."""
        return all(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 30.0) -> bool:
        """Drain: store and acknowledge what was received, disconnect, flush last values.

        Returns False when the threads did not finish within ``timeout`` (a store that
        hangs): what was not acknowledged then is sent again by the broker, nothing is lost.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._copy.flush()
        return not any(thread.is_alive() for thread in self._threads)

    # --- the loop thread: MQTT in, batches out, acks -----------------------------------------

    def _loop(self) -> None:
        waiting: deque[_Batch] = deque()
        try:
            while True:
                stopping = self._stopping.is_set()
                if stopping and not self._received and not waiting:
                    break
                try:
                    self._turn(waiting, stopping)
                except Exception as exc:  # never end the loop: what is unacknowledged comes back
                    self._failed(exc)
                    time.sleep(0.2)
                else:
                    self._failing_since = None
        except BaseException as exc:
            self._last_error = str(exc) or type(exc).__name__
            _log.exception("ingest.loop_failed")
            raise
        finally:
            self._to_writer.put(None)
            self.subscriber.stop()

    def _failed(self, exc: Exception) -> None:
        self._last_error = str(exc) or type(exc).__name__
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        _log.exception("ingest.loop_error", error=self._last_error)

    def _turn(self, waiting: deque[_Batch], stopping: bool) -> None:
        """One turn of the loop: read, cut a batch when due, acknowledge what is durable."""
        cfg = self.config
        # Messages are small and alike: estimate values per message from the payload size.
        budget = cfg.batch_points * 24
        held = time.monotonic() < self._hold_until
        if held:  # the graph is down: keep the session alive, read nothing more
            self.subscriber.poll(0.05, max_messages=0)
        else:
            self.subscriber.poll(0.005 if self._received or waiting else 0.1)
        if self._received and not held:
            now = time.monotonic()
            if not self._first_at:
                self._first_at = now
            full = self._received_bytes >= budget
            # While the writer is still busy with the previous batch, keep gathering
            # instead: under load batches grow to the budget, and a store writes a
            # few large batches faster than many small ones.
            idle = not self._writing and self._to_writer.empty()
            due = now - self._first_at >= cfg.batch_wait_s and idle
            if full or due or stopping:
                batch = self._dispatch()
                if batch is not None:
                    waiting.append(batch)
                    self._first_at = 0.0
        while waiting and waiting[0].durable.is_set():
            head = waiting[0]
            if head.refused and not head.lettered:
                self._letter_refused(head)
            if not all(i.is_published() for i in head.letters):
                break
            self._acknowledge(waiting.popleft())

    def _dispatch(self) -> _Batch | None:
        """Decode and validate the received messages, publish their dead letters, hand the points on.

        None when the batch must wait (the graph is unavailable): its messages stay
        received, unacknowledged, and no batch is cut for a while (backing off to
        ``retry_max_s``).
        """
        messages, self._received, self._received_bytes = self._received, [], 0
        outcome = self.pipeline.process_isolated(messages)
        if outcome is None:
            self._received[:0] = messages
            self._received_bytes += sum(len(m.payload) for m in messages)
            self._backoff = min(self.config.retry_max_s, max(0.1, self._backoff * 2))
            self._hold_until = time.monotonic() + self._backoff
            return None
        self._backoff = 0.0
        self.observer.received(len(messages))
        if outcome.rejected:
            self.observer.rejected(outcome.rejected)
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

    def _letter_refused(self, batch: _Batch) -> None:
        """Dead letters for the points of ``batch`` the store refused (once the writer is done)."""
        batch.lettered = True
        outcome, topic = batch.outcome, self.pipeline.deadletter_topic
        for index, why in batch.refused:
            point = outcome.points[index]
            message = batch.messages[outcome.sources[index]]
            refused = Rejected(
                Reason.STORE_REFUSED, why, twin_id=point.tags.get(TWIN_TAG), path=outcome.paths[index]
            )
            letters = Outcome()
            reject(letters, refused, message)
            outcome.rejected.update(letters.rejected)
            self.observer.rejected(dict(letters.rejected))
            batch.letters.extend(self.subscriber.publish(topic, letter) for letter in letters.letters)

    def _acknowledge(self, batch: _Batch) -> None:
        self.subscriber.ack(batch.messages)
        waited_ns = time.time_ns() - batch.messages[0].received_ns
        self.observer.acknowledged(len(batch.messages), waited_ns / 1e9)
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
                try:
                    batch.refused = self._make_durable(batch.outcome.points)
                except Exception as exc:  # a bug: the batch stays unacknowledged, the writer goes on
                    self._last_error = str(exc) or type(exc).__name__
                    _log.exception("ingest.writer_error")
                    continue
                finally:
                    self._writing = False
                batch.durable.set()
        except BaseException as exc:
            self._last_error = str(exc) or type(exc).__name__
            _log.exception("ingest.writer_failed")
            raise
        finally:
            self._done.set()

    def _make_durable(self, points: list[TelemetryPoint]) -> list[tuple[int, str]]:
        """Store the points, or spool them; returns only when they are one or the other.

        Returns the points the store refused (index, why): they are not stored and do
        not reach the last-value cache.
        """
        if not self._spooled.is_set():
            try:
                began = time.perf_counter()
                refused = self._write(points)
                self.observer.stored(len(points) - len(refused), time.perf_counter() - began)
            except Exception as exc:  # unreachable or failing: the points wait in the spool
                _log.warning("ingest.store_failed", error=str(exc) or type(exc).__name__, points=len(points))
            else:
                if refused:
                    gone = {i for i, _ in refused}
                    points = [p for i, p in enumerate(points) if i not in gone]
                self.stats.lag.observe(points)
                self.latest.update(points)
                return refused
        while True:
            try:
                self.spool.push(points)
                break
            except SpoolFull as exc:
                # Not acknowledging is the back-pressure: the broker keeps the messages.
                _log.warning("ingest.spool_full", error=str(exc))
                time.sleep(0.5)
        self.stats.spooled_points += len(points)
        self.observer.spooled(len(points))
        self._spooled.set()
        self.stats.lag.observe(points)
        self.latest.update(points)
        return []

    def _write(self, points: list[TelemetryPoint]) -> list[tuple[int, str]]:
        """Write to the store; if it refuses the data itself, write point by point and keep out the bad.

        The door's rules and the model's validators run first, so a refusal
        (``BadRequest``) is rare: a value the store cannot keep although its schema allows
        it. Retrying such a batch would block the stream forever, so the refused points are
        returned (index, why), logged (``ingest.store_refused``) and become dead letters
        (``STORE_REFUSED``); every other error is raised (spool and retry).
        """
        try:
            self.store.write(points)
            return []
        except BadRequest as exc:
            if len(points) == 1:
                self._refused(points[0], exc)
                return [(0, exc.message)]
        refused: list[tuple[int, str]] = []
        for index, point in enumerate(points):
            try:
                self.store.write([point])
            except BadRequest as exc:
                self._refused(point, exc)
                refused.append((index, exc.message))
        return refused

    def _refused(self, point: TelemetryPoint, exc: BadRequest) -> None:
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
                        began = time.perf_counter()
                        refused = self._write(points)
                    except Exception as exc:  # keep the batch and try again later
                        raise StoreDown(str(exc) or type(exc).__name__) from exc
                    self.observer.stored(len(points) - len(refused), time.perf_counter() - began)
                    # Acknowledged long ago: counted and logged, no message to letter.
                    self.stats.rejected[str(Reason.STORE_REFUSED)] += len(refused)
                    if refused:
                        self.observer.rejected({str(Reason.STORE_REFUSED): len(refused)})
        except StoreDown:
            return False
        return True
