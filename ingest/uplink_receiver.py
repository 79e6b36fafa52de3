"""The cloud's uplink receiver: each edge site's stream into the cloud's graph and time series.

One persistent MQTT session (QoS 1, acknowledged by hand) on ``kgtwin/uplink/+/+``.
Messages are handed to one lane per site, a thread of its own, so sites are applied in
parallel and each in its order; a message is acknowledged to the broker once its lane
applied it (acknowledgements go out in the order messages came, as MQTT asks).

A lane applies a message only when its sequence is above the site's high-water mark
(``graph.sites.SiteMarks``, kept in the cloud graph), and then raises the mark: a replay
after a reconnect or a restart stores nothing twice. Points go to the cloud's
``TelemetryStore`` with a ``site`` tag; changes and snapshots go through
``graph.site_sync``. A store that is down holds the lane (retried with backoff, nothing
acknowledged), so nothing is lost; a change the cloud graph refuses is counted and logged,
and the next snapshot of the site repairs it.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from graph.site_sync import apply_change, reconcile
from graph.sites import SiteMarks
from graph.twins import TwinGraph
from ingest.subscriber import Inbound, MqttSubscriber, SessionOptions
from ingest.uplink_messages import UPLINK_FILTER, SiteMessage, decode_points, read_envelope
from ingest.uplink_queue import MessageKind
from ontology.errors import BackendUnavailable, BadRequest, KgtwinError
from telemetry.points import TelemetryPoint
from telemetry.store import TelemetryStore

_log = structlog.get_logger("kgtwin.uplink")
SITE_TAG = "site"
_POLL_S = 0.1
MAX_REFUSALS_KEPT = 20


@dataclass
class SiteCounts:
    """What one site's lane did since the receiver started."""

    applied: int = 0
    duplicates: int = 0
    points: int = 0
    points_refused: int = 0
    changes_refused: int = 0
    snapshots: int = 0
    refusals: int = 0
    high_water: int = 0
    last_issues: list[str] = field(default_factory=list)
    last_refusals: list[dict[str, Any]] = field(default_factory=list)
    """The latest model changes the site's edge refused (at most ``MAX_REFUSALS_KEPT``), oldest first."""


class _Lane:
    """One site's messages, applied in order on a thread of its own."""

    def __init__(self, receiver: UplinkReceiver, site: str) -> None:
        self.receiver = receiver
        self.site = site
        self.counts = SiteCounts(high_water=receiver.marks.high_water(site))
        self.inbox: queue.Queue[tuple[Inbound, SiteMessage] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"kgtwin-uplink-{site}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            inbound, message = item
            try:
                if not self._apply(message):
                    return  # stopping while a store was down: unacknowledged, so sent again
            except Exception:  # a bug must not stop the site: counted, logged, the next snapshot repairs
                self.counts.changes_refused += 1
                _log.exception("uplink.apply_failed", site=self.site, id=message.id)
            self.receiver.done(inbound)

    def _apply(self, message: SiteMessage) -> bool:
        counts = self.counts
        if message.seq <= counts.high_water:
            counts.duplicates += 1
            return True
        delay = 0.2
        while True:
            try:
                self._write(message)
                self.receiver.marks.advance(self.site, message.seq)
                break
            except BackendUnavailable as exc:
                _log.warning("uplink.store_unavailable", site=self.site, error=str(exc), retry_in_s=delay)
            if self.receiver.stopping.wait(delay):
                return False
            delay = min(5.0, delay * 2)
        counts.high_water = message.seq
        counts.applied += 1
        return True

    def _write(self, message: SiteMessage) -> None:
        receiver, counts = self.receiver, self.counts
        if message.kind is MessageKind.TELEMETRY:
            points = [
                TelemetryPoint(p.bucket, p.measurement, {**p.tags, SITE_TAG: self.site}, p.fields, p.time_ns)
                for p in decode_points(message.body)
            ]
            try:
                receiver.telemetry.write(points)
            except BadRequest as exc:  # points no retry can store: counted, as ingest counts them
                counts.points_refused += len(points)
                _log.warning("uplink.points_refused", site=self.site, id=message.id, error=str(exc))
                return
            counts.points += len(points)
            return
        if message.kind is MessageKind.REFUSAL:
            self._refusal(message)
            return
        receiver.refresh_models()
        if message.kind is MessageKind.CHANGE:
            try:
                apply_change(receiver.twins, message.body)
            except BackendUnavailable:
                raise
            except (KgtwinError, KeyError, TypeError, ValueError) as exc:
                counts.changes_refused += 1
                _log.warning("uplink.change_refused", site=self.site, id=message.id, error=str(exc))
            return
        report = reconcile(receiver.twins, self.site, message.body, refresh_models=receiver.refresh_models)
        counts.snapshots += 1
        counts.last_issues = report.issues[:20]
        _log.info(
            "uplink.reconciled",
            site=self.site,
            id=message.id,
            twins_written=report.twins_written,
            twins_deleted=report.twins_deleted,
            relationships_written=report.relationships_written,
            relationships_deleted=report.relationships_deleted,
            issues=len(report.issues),
        )


    def _refusal(self, message: SiteMessage) -> None:
        """The site's edge refused a model change of the cloud: counted, kept, logged for modelers."""
        body = message.body if isinstance(message.body, dict) else {"reason": str(message.body)}
        counts = self.counts
        counts.refusals += 1
        counts.last_refusals = [*counts.last_refusals, body][-MAX_REFUSALS_KEPT:]
        _log.warning(
            "uplink.edge_refused_model_change",
            site=self.site,
            id=message.id,
            change=body.get("change"),
            dtmi=body.get("dtmi"),
            code=body.get("code"),
            reason=body.get("reason"),
        )


class UplinkReceiver:
    """Takes every site's stream from the cloud's broker; :meth:`start`, then :meth:`stop`.

    ``refresh_models`` reloads the model registry when another process changed it (a
    snapshot's models are uploaded by the lane itself, through the graph).
    """

    def __init__(
        self,
        options: SessionOptions,
        twins: TwinGraph,
        telemetry: TelemetryStore,
        *,
        refresh_models: Callable[[], object] = lambda: None,
    ) -> None:
        self.twins = twins
        self.telemetry = telemetry
        self.marks = SiteMarks(twins.store)
        self.refresh_models = refresh_models
        self.stopping = threading.Event()
        self.malformed = 0
        self._subscriber = MqttSubscriber(replace(options, filters=(UPLINK_FILTER,)), self._received)
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self._order: deque[Inbound] = deque()
        self._done: set[tuple[int, int]] = set()
        self._thread: threading.Thread | None = None

    def counts(self) -> dict[str, SiteCounts]:
        """Each site's counters, by site id."""
        return {site: lane.counts for site, lane in sorted(self._lanes.items())}

    def start(self, timeout: float = 10.0) -> None:
        self._subscriber.start(timeout)
        self._thread = threading.Thread(target=self._loop, name="kgtwin-uplink-receiver", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for lane in self._lanes.values():
            lane.inbox.put(None)
        for lane in self._lanes.values():
            lane.thread.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._acknowledge()
        self._subscriber.stop()

    def healthy(self) -> bool:
        """Whether the session with the cloud's broker is up."""
        return self._subscriber.is_connected()

    def alive(self) -> bool:
        """Whether the receiving thread and every site's lane still run (false once stopped)."""
        threads = [lane.thread for lane in self._lanes.values()]
        if self._thread is not None:
            threads.append(self._thread)
        return all(thread.is_alive() for thread in threads)

    def backlog(self) -> dict[str, int]:
        """Messages received and not yet applied, by site."""
        return {site: lane.inbox.qsize() for site, lane in sorted(self._lanes.items())}

    def done(self, message: Inbound) -> None:
        """A lane applied ``message`` (or found it a duplicate): it may be acknowledged."""
        with self._lock:
            self._done.add((message.session, message.mid))

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._subscriber.poll(_POLL_S)
                self._acknowledge()
            except Exception:  # one bad turn must not end the feed; the next poll reconnects
                _log.exception("uplink.poll_failed")

    def _received(self, message: Inbound) -> None:
        self._order.append(message)
        try:
            found = read_envelope(message.payload)
        except ValueError as exc:
            self.malformed += 1
            _log.warning("uplink.malformed", topic=message.topic, error=str(exc))
            self.done(message)
            return
        lane = self._lanes.get(found.site)
        if lane is None:
            lane = self._lanes[found.site] = _Lane(self, found.site)
        lane.inbox.put((message, found))

    def _acknowledge(self) -> None:
        """Acknowledge the applied messages at the head of the arrival order."""
        ready: list[Inbound] = []
        with self._lock:
            while self._order and (self._order[0].session, self._order[0].mid) in self._done:
                head = self._order.popleft()
                self._done.discard((head.session, head.mid))
                ready.append(head)
        if ready:
            self._subscriber.ack(ready)
