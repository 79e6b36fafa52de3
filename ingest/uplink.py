"""The edge's uplink: every stored point and every change of its site, forwarded to the cloud.

An edge instance (``kgtwin serve --uplink mqtt://... --site <twin id>``) owns the subtree of
its site twin. Three parts, each small:

- :class:`ForwardingTelemetryStore` wraps the edge's ``TelemetryStore``: points the store
  took (after ingest validated them) are queued for the cloud, in the same call, so a
  batch ingest acknowledges is both stored and queued.
- :class:`SiteChanges` follows the ``EventBus``: changes of twins and relationships of the
  site are queued in commit order; a twin joining the site is queued whole; a change that
  takes twins out of the site, or a model upload, asks for a resync.
- :class:`Forwarder` sends the queue (``ingest.uplink_queue``) over its own MQTT session
  (persistent, QoS 1, a window of messages in flight, in order) and removes messages once
  the cloud's broker acknowledged them. While the link is down everything waits on disk.
  On start, and whenever the queue asks, it first queues a snapshot of the site.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from graph.events import ChangeEvent, ChangeKind
from graph.queries import CONTAINMENT
from graph.sites import outgoing_relationships, site_twin_ids, twins_by_id
from graph.store import GraphStore
from ingest.uplink_messages import MODELS_DOWNLINK_FILTERS, encode_points, envelope, uplink_topic
from ingest.uplink_queue import MessageKind, UplinkQueue
from ontology.model import ModelSet
from telemetry.points import Aggregate, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore

_log = structlog.get_logger("kgtwin.uplink")
_CONTAINMENT_NAMES = frozenset(name for move in CONTAINMENT for name in move.names)
MAX_POINTS_PER_MESSAGE = 1000


@dataclass(frozen=True)
class UplinkOptions:
    """Where the cloud's broker is and who this edge is there."""

    host: str
    port: int
    site: str
    client_id: str
    user: str | None = None
    password: str | None = None
    tls: bool = False
    session_expiry_s: int = 7 * 24 * 3600
    window: int = 64
    """Messages in flight at once (sent, not yet acknowledged)."""


class ForwardingTelemetryStore:
    """A ``TelemetryStore`` that queues for the cloud every point its inner store took."""

    def __init__(self, inner: TelemetryStore, queue: UplinkQueue) -> None:
        self.inner = inner
        self.queue = queue

    @property
    def backend(self) -> str:
        return self.inner.backend

    def ping(self) -> None:
        self.inner.ping()

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        self.inner.write(points)  # raises when not stored: nothing is forwarded then
        if not points:
            return
        chunks = [
            points[start : start + MAX_POINTS_PER_MESSAGE]
            for start in range(0, len(points), MAX_POINTS_PER_MESSAGE)
        ]
        self.queue.push_many(MessageKind.TELEMETRY, [(encode_points(chunk), len(chunk)) for chunk in chunks])

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        return self.inner.latest(refs, fields)

    def query(
        self,
        refs: Sequence[TelemetryRef],
        field: str,
        start: datetime,
        stop: datetime,
        every_s: float | None = None,
        fn: Aggregate = Aggregate.MEAN,
    ) -> list[list[Sample]]:
        return self.inner.query(refs, field, start, stop, every_s, fn)

    def close(self) -> None:
        self.inner.close()


class SiteChanges:
    """Queues the changes of the site's subtree, in the order the event bus announces them.

    Membership (which twins are in the site) is read once, and again only after a change
    of a containment relationship touching the site, so most changes cost a set lookup.
    """

    def __init__(
        self, store: GraphStore, models: Callable[[], ModelSet], queue: UplinkQueue, site: str
    ) -> None:
        self.store = store
        self.models = models
        self.queue = queue
        self.site = site
        self._lock = threading.Lock()
        self.members = site_twin_ids(store, site)

    def on_change(self, event: ChangeEvent) -> None:
        """The ``EventBus`` subscriber (called in the writer's thread, after the commit)."""
        if event.origin is not None:
            return
        with self._lock:
            if event.kind is ChangeKind.MODEL_UPLOADED:
                self.queue.mark_resync()  # the cloud needs the model before twins that use it
            elif event.kind.value.startswith("twin."):
                if event.id in self.members:
                    self._push(event)
                    if event.kind is ChangeKind.TWIN_DELETED:
                        self.members.discard(event.id)
                        self.members = site_twin_ids(self.store, self.site) or self.members
            elif event.kind.value.startswith("relationship."):
                self._relationship(event)

    def refresh(self) -> None:
        """Read the membership again (a snapshot is about to carry the whole site)."""
        with self._lock:
            self.members = site_twin_ids(self.store, self.site)

    def _relationship(self, event: ChangeEvent) -> None:
        source, target = event.source or "", str(event.data.get("target", ""))
        touches = source in self.members or target in self.members
        if touches and event.data.get("name") in _CONTAINMENT_NAMES:
            now = site_twin_ids(self.store, self.site)
            joined, left = now - self.members, self.members - now
            self.members = now
            if left:
                self.queue.mark_resync()  # what left the site goes from the cloud's copy at the resync
            for twin in twins_by_id(self.store, self.models(), joined):
                data = {
                    "etag": twin.etag,
                    "properties": twin.properties,
                    "telemetry": twin.telemetry.to_dict(),
                }
                self._push(ChangeEvent(ChangeKind.TWIN_CREATED, twin.id, twin.updated_at, twin.model, data))
            for rel in outgoing_relationships(self.store, joined):
                if (rel.source, rel.id) != (source, event.id):
                    data = {"name": rel.name, "target": rel.target, "properties": rel.properties}
                    self._push(
                        ChangeEvent(ChangeKind.RELATIONSHIP_CREATED, rel.id, event.at, None, data, rel.source)
                    )
        if source in self.members:
            self._push(event)

    def _push(self, event: ChangeEvent) -> None:
        self.queue.push(
            MessageKind.CHANGE, json.dumps(event.to_dict(), separators=(",", ":")).encode("utf-8")
        )


class Forwarder:
    """Sends the queue to the cloud's broker, oldest first, and forgets what it acknowledged.

    ``snapshot`` reads the site as one JSON body (``graph.sites.site_snapshot``).
    """

    def __init__(
        self,
        queue: UplinkQueue,
        options: UplinkOptions,
        snapshot: Callable[[], bytes],
        *,
        before_snapshot: Callable[[], None] | None = None,
        on_model: Callable[[ChangeEvent], None] | None = None,
    ) -> None:
        """``on_model`` is given each model change the cloud announces (the downlink)."""
        self.queue = queue
        self._on_model = on_model
        self.options = options
        self._snapshot = snapshot
        self._before_snapshot = before_snapshot
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.snapshots = 0
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        opts = self.options
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=opts.client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        if opts.user:
            client.username_pw_set(opts.user, opts.password)
        if opts.tls:
            client.tls_set()
        client.max_inflight_messages_set(opts.window)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 5)

        def on_connect(
            c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, reason: ReasonCode, _p: object
        ) -> None:
            if reason.is_failure:
                _log.warning("uplink.refused", reason=str(reason))
                return
            self._connected.set()
            if self._on_model is not None:
                c.subscribe([(topic, 1) for topic in MODELS_DOWNLINK_FILTERS])
            _log.info("uplink.connected", site=opts.site, session_present=flags.session_present)

        def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
            self._connected.clear()
            _log.warning("uplink.disconnected", site=opts.site, reason=str(reason), waiting=len(self.queue))

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            try:
                event = ChangeEvent.from_dict(orjson.loads(message.payload))
                if self._on_model is not None and event.kind.value.startswith("model."):
                    self._on_model(event)
            except Exception:  # a bad announcement must not end the session
                _log.exception("uplink.model_announcement_failed", topic=message.topic)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        return client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background (the link may be down) and start sending; a snapshot goes first."""
        self.queue.mark_resync()  # changes made while this process was down may be missing
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.options.session_expiry_s
        self.client.connect_async(
            self.options.host, self.options.port, keepalive=15, clean_start=False, properties=properties
        )
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="kgtwin-uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0, *, drain_s: float = 0.0) -> None:
        """Stop sending; what is unacknowledged stays queued for the next start.

        With ``drain_s`` and the link up, first wait up to that long for the queue to empty,
        so a clean stop leaves nothing behind when the cloud is reachable.
        """
        deadline = time.monotonic() + drain_s
        while self.connected and len(self.queue) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._turn()
            except Exception:  # never let one bad turn end forwarding; the queue keeps everything
                _log.exception("uplink.turn_failed")
                self._stopping.wait(1.0)

    def _turn(self) -> None:
        if not self._connected.wait(0.2):
            return
        if self.queue.needs_resync():
            # Read when the link is up, not before: a snapshot taken during an outage would
            # be stale on arrival and would only take room in the queue.
            self._queue_snapshot()
        batch = self.queue.peek(self.options.window)
        if not batch:
            self.queue.wait(0.2)
            return
        site = self.options.site
        sent = [
            (m.seq, self.client.publish(uplink_topic(site, m.kind), envelope(site, m), qos=1)) for m in batch
        ]
        for seq, info in sent:
            # paho keeps an unacknowledged message and sends it again after a reconnect.
            while not info.is_published():
                if self._stopping.is_set():
                    return
                info.wait_for_publish(0.2)
            self.queue.drop_through(seq)
            self.sent += 1

    def _queue_snapshot(self) -> None:
        seq = self.queue.reserve_snapshot()
        began = time.perf_counter()
        try:
            if self._before_snapshot is not None:
                self._before_snapshot()
            body = self._snapshot()
        except Exception:
            self.queue.abandon_snapshot(seq)  # asks for a resync again: the next turn retries
            raise
        self.queue.fill_snapshot(seq, body)
        self.snapshots += 1
        _log.info(
            "uplink.snapshot_queued",
            site=self.options.site,
            seq=seq,
            bytes=len(body),
            seconds=round(time.perf_counter() - began, 3),
        )
