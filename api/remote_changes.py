"""Changes made by other processes, from MQTT into this process's subscriptions.

Every API process announces its own committed changes on its in-process ``EventBus`` and
publishes them under ``kgtwin/events/...`` (``api.notifications``). When the API runs as
several processes (replicas of ``kgtwin api`` behind a load balancer), a ``twinChanged``
subscription held by one of them would miss a change made through another. So in the cloud
profile each API process also subscribes to ``kgtwin/events/#`` and hands the events of
the *other* processes to its bus, marked with their ``origin``: its subscriptions then see
every change once, whichever replica made it, and its notifier does not publish them
again. Its own events come back too; their origin is its own, and they are dropped.

Delivery is what the notifications give: at most once, in each publisher's order. A
payload that is not a change event (another application publishing under the prefix) is
logged, counted in ``malformed`` and dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import structlog

from api.notifications import TOPIC_PREFIX
from graph.events import ChangeEvent, EventBus
from ingest.broker import Broker

_log = structlog.get_logger("api.remote_changes")


class RemoteChanges:
    """Subscribes to the change events on MQTT and publishes other processes' on ``bus``.

    ``origin`` is this process's token, the one its ``ChangeNotifier`` stamps on what it
    publishes. The subscription is the broker's (``Broker.subscribe``): one connection per
    process, no persistent session (changes made while the process was down are not
    subscriptions' business).
    """

    def __init__(self, bus: EventBus, broker: Broker, origin: str, *, prefix: str = TOPIC_PREFIX):
        self.bus = bus
        self.broker = broker
        self.origin = origin
        self.prefix = prefix
        self.received = 0
        self.malformed = 0
        self._unsubscribe: Callable[[], None] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Subscribe (``BackendUnavailable`` if the broker does not answer), then follow."""
        self._unsubscribe = self.broker.subscribe([f"{self.prefix}/#"], self._deliver, timeout)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _deliver(self, topic: str, payload: bytes) -> None:
        self.received += 1
        try:
            found = json.loads(payload)
            origin = found.get("origin") if isinstance(found, dict) else None
            if origin == self.origin:
                return  # our own, already on the bus
            event = ChangeEvent.from_dict(found, origin=str(origin or "unknown"))
        except (ValueError, AttributeError) as exc:
            self.malformed += 1
            _log.warning("remote_changes.malformed", topic=topic, error=str(exc))
            return
        self.bus.publish(event)
