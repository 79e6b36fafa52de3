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
import threading
import uuid
from dataclasses import replace

import structlog

from api.notifications import TOPIC_PREFIX
from graph.events import ChangeEvent, EventBus
from ingest.subscriber import Inbound, MqttSubscriber, SessionOptions

_log = structlog.get_logger("api.remote_changes")
_POLL_S = 0.2


class RemoteChanges:
    """Subscribes to the change events on MQTT and publishes other processes' on ``bus``.

    ``origin`` is this process's token, the one its ``ChangeNotifier`` stamps on what it
    publishes. ``options`` says where the broker is; its ``filters`` and ``client_id``
    are set here (one client per process, no persistent session: changes made while the
    process was down are not subscriptions' business).
    """

    def __init__(self, bus: EventBus, options: SessionOptions, origin: str, *, prefix: str = TOPIC_PREFIX):
        self.bus = bus
        self.origin = origin
        self.received = 0
        self.malformed = 0
        self._options = replace(
            options,
            client_id=f"kgtwin-api-changes-{uuid.uuid4().hex[:12]}",
            filters=[f"{prefix}/#"],
            share_group=None,
            session_expiry_s=0,
        )
        self._subscriber = MqttSubscriber(self._options, self._deliver)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._batch: list[Inbound] = []

    def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe (``BackendUnavailable`` if the broker does not answer), then follow."""
        self._subscriber.start(timeout)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._follow, name="kgtwin-remote-changes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._subscriber.stop()

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                self._subscriber.poll(_POLL_S)
                if self._batch:
                    self._subscriber.ack(self._batch)
                    self._batch.clear()
            except Exception:  # never let one bad turn end the feed; the next poll reconnects
                _log.exception("remote_changes.poll_failed")

    def _deliver(self, message: Inbound) -> None:
        self._batch.append(message)
        self.received += 1
        try:
            found = json.loads(message.payload)
            origin = found.get("origin") if isinstance(found, dict) else None
            if origin == self.origin:
                return  # our own, already on the bus
            event = ChangeEvent.from_dict(found, origin=str(origin or "unknown"))
        except (ValueError, AttributeError) as exc:
            self.malformed += 1
            _log.warning("remote_changes.malformed", topic=message.topic, error=str(exc))
            return
        self.bus.publish(event)
