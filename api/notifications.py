"""Change notifications: every committed graph change, published to MQTT.

Topic ``kgtwin/events/<kind>/<id>`` (``kgtwin/events/twin.updated/pump-1``,
``kgtwin/events/relationship.created/feeds:tank-1``, ``kgtwin/events/model.uploaded/dtmi:...``),
payload the event as JSON (``ChangeEvent.to_dict``: kind, id, at, model, source, data,
and ``origin``, a token of the publishing process), QoS 1, not retained. Subscribers
filter with wildcards: ``kgtwin/events/twin.+/#``. Events that came from another process
(``ChangeEvent.origin`` set, ``api.remote_changes``) are not published again.

The bus calls subscribers in the writer's thread, and an MQTT publish waits for the
broker's acknowledgement, so the notifier only queues the event there and a thread of its
own publishes. The queue is bounded: when the broker is slower than the writers the
oldest notifications are dropped and counted (``dropped``), never the writer delayed. A
publish the broker does not acknowledge is logged and counted (``failed``); notifications
are at most once (a consumer that must not miss a change re-reads the twin).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque

import structlog

from graph.events import ChangeEvent, EventBus
from ingest.broker import Broker
from ontology.errors import KgtwinError

TOPIC_PREFIX = "kgtwin/events"
DEFAULT_QUEUE = 10_000

_log = structlog.get_logger("api.notifications")
# MQTT 3.1.1 §4.7: "/" separates levels, "+" and "#" are wildcards a topic name must not hold.
_ESCAPES = str.maketrans({"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\0": "%00"})


def topic(event: ChangeEvent, prefix: str = TOPIC_PREFIX) -> str:
    """The topic of ``event``: ``<prefix>/<kind>/<id>``, the id percent-escaped to one topic level."""
    return f"{prefix}/{event.kind.value}/{event.id.translate(_ESCAPES)}"


class ChangeNotifier:
    """Publishes the events of ``bus`` to ``broker`` from a background thread."""

    def __init__(
        self,
        bus: EventBus,
        broker: Broker,
        *,
        prefix: str = TOPIC_PREFIX,
        qos: int = 1,
        maxsize: int = DEFAULT_QUEUE,
        origin: str | None = None,
    ) -> None:
        self.bus = bus
        self.broker = broker
        # Stamped on every payload, so this process can tell its own events when they come back.
        self.origin = origin or uuid.uuid4().hex
        self.prefix = prefix
        self.qos = qos
        self.published = 0
        self.dropped = 0
        self.failed = 0
        self._queue: deque[ChangeEvent] = deque(maxlen=maxsize)
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._unsubscribe: object = None

    def start(self) -> None:
        """Subscribe to the bus and start publishing."""
        self._stopping = False
        self._thread = threading.Thread(target=self._publish_loop, name="kgtwin-notifier", daemon=True)
        self._thread.start()
        self.bus.subscribe(self._offer)

    def stop(self, timeout: float = 10.0) -> None:
        """Unsubscribe, publish what is queued (within ``timeout``), and stop the thread."""
        self.bus.unsubscribe(self._offer)
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _offer(self, event: ChangeEvent) -> None:
        if event.origin is not None:  # another process's, already published by it
            return
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(event)
            self._ready.notify()

    def _publish_loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if not self._queue:
                    return
                event = self._queue.popleft()
            self._publish(event)

    def _publish(self, event: ChangeEvent) -> None:
        found = {**event.to_dict(), "origin": self.origin}
        payload = json.dumps(found, separators=(",", ":"), default=str).encode()
        try:
            self.broker.publish(topic(event, self.prefix), payload, qos=self.qos)
        except KgtwinError as exc:
            self.failed += 1
            _log.warning("notification.failed", kind=event.kind.value, id=event.id, error=exc.message)
        else:
            self.published += 1
