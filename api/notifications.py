"""Change notifications: every committed graph change, published to MQTT.

Topic ``kgtwin/events/<kind>/<id>`` (``kgtwin/events/twin.updated/pump-1``,
``kgtwin/events/relationship.created/feeds:tank-1``, ``kgtwin/events/model.uploaded/dtmi:...``),
payload the event as JSON (``ChangeEvent.to_dict``: kind, id, at, model, source, data,
and ``origin``, a token of the publishing process), QoS 1, not retained. Subscribers
filter with wildcards: ``kgtwin/events/twin.+/#``. Events that came from another process
(``ChangeEvent.origin`` set, ``api.remote_changes``) are not published again.

The bus calls subscribers in the writer's thread, and an MQTT publish waits for the
broker's acknowledgement, so the notifier only puts the event in its outbox
(``api.outbox``), whose thread publishes. The outbox is bounded: when the broker is slower
than the writers the oldest notifications are dropped and counted (``dropped``), never the
writer delayed. A publish the broker does not acknowledge is logged and counted (``failed``); notifications
are at most once (a consumer that must not miss a change re-reads the twin).
"""

from __future__ import annotations

import json
import uuid

import structlog

from api.outbox import Outbox
from graph.events import ChangeEvent, EventBus
from ingest.broker import Broker, topic_level
from ontology.errors import KgtwinError

TOPIC_PREFIX = "kgtwin/events"
DEFAULT_QUEUE = 10_000

_log = structlog.get_logger("api.notifications")


def topic(event: ChangeEvent, prefix: str = TOPIC_PREFIX) -> str:
    """The topic of ``event``: ``<prefix>/<kind>/<id>``, the id percent-escaped to one topic level."""
    return f"{prefix}/{event.kind.value}/{topic_level(event.id)}"


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
        self.failed = 0
        self._outbox: Outbox[ChangeEvent] = Outbox(self._publish, name="kgtwin-notifier", maxsize=maxsize)

    @property
    def dropped(self) -> int:
        """Notifications dropped because the outbox was full."""
        return self._outbox.dropped

    def start(self) -> None:
        """Subscribe to the bus and start publishing."""
        self._outbox.start()
        self.bus.subscribe(self._offer)

    def stop(self, timeout: float = 10.0) -> None:
        """Unsubscribe, publish what is queued (within ``timeout``), and stop the thread."""
        self.bus.unsubscribe(self._offer)
        self._outbox.stop(timeout)

    def _offer(self, event: ChangeEvent) -> None:
        if event.origin is not None:  # another process's, already published by it
            return
        self._outbox.put(event)

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
