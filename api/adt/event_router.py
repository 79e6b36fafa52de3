"""Event routes at work: each change event, as ADT describes it, to the endpoints whose routes pass it.

Every committed change of a twin or relationship (the ``EventBus``) and every telemetry
message sent through ``POST /adt/digitaltwins/{id}/telemetry`` becomes an event with
ADT's CloudEvents attributes (``type`` ``Microsoft.DigitalTwins.Twin.Create`` ...,
``source``, ``subject``, ``id``, ``dataschema``, ``specversion``, ``time``) and ADT's body
(the twin, ``{"modelId", "patch"}`` for an update, the relationship). Each route whose
filter passes it sends it, as a structured-mode CloudEvent in JSON, to its endpoint's
MQTT topic prefix: ``<prefix>/<type>/<subject>`` (the subject one topic level,
percent-escaped), QoS 1. Model events are not routed: ADT has none.

Routes live in the graph (``graph.event_routes``); the router reads them again at most
every ``refresh_s`` (another API process may have changed them) and at once when this
process changed them. Like ``api.notifications``, the bus only puts the event in the
router's outbox (``api.outbox``), whose thread publishes; a full outbox drops the oldest
(counted in ``dropped``).
Events another process made (``origin`` set) are that process's to route.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from api.adt.options import AdtOptions
from api.outbox import Outbox
from graph.event_routes import EventRouteStore
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.route_filter import RouteFilter
from ingest.broker import Broker, topic_level
from ontology.errors import KgtwinError

_log = structlog.get_logger("api.adt.events")

TYPES = {
    ChangeKind.TWIN_CREATED: "Microsoft.DigitalTwins.Twin.Create",
    ChangeKind.TWIN_UPDATED: "Microsoft.DigitalTwins.Twin.Update",
    ChangeKind.TWIN_DELETED: "Microsoft.DigitalTwins.Twin.Delete",
    ChangeKind.RELATIONSHIP_CREATED: "Microsoft.DigitalTwins.Relationship.Create",
    ChangeKind.RELATIONSHIP_UPDATED: "Microsoft.DigitalTwins.Relationship.Update",
    ChangeKind.RELATIONSHIP_DELETED: "Microsoft.DigitalTwins.Relationship.Delete",
}

Routed = tuple[Mapping[str, Any], Any]


def describe(event: ChangeEvent, source: str) -> Routed | None:
    """ADT's CloudEvents attributes and body of a change event; None for events ADT does not route."""
    kind = TYPES.get(event.kind)
    if kind is None:
        return None
    data = dict(event.data)
    body: Any
    if event.kind in (
        ChangeKind.RELATIONSHIP_CREATED,
        ChangeKind.RELATIONSHIP_UPDATED,
        ChangeKind.RELATIONSHIP_DELETED,
    ):
        subject = f"{event.source}/relationships/{event.id}"
        body = {
            "$relationshipId": event.id,
            "$sourceId": event.source,
            "$relationshipName": data.get("name"),
            "$targetId": data.get("target"),
            **dict(data.get("properties") or {}),
        }
    elif event.kind is ChangeKind.TWIN_UPDATED:
        subject = event.id
        body = {"modelId": event.model, "patch": data.get("patch", [])}
    else:
        subject = event.id
        body = {"$dtId": event.id, "$metadata": {"$model": event.model}}
        if "etag" in data:
            body["$etag"] = data["etag"]
        body |= dict(data.get("properties") or {})
    attributes = {
        "type": kind,
        "source": source,
        "subject": subject,
        "id": uuid.uuid4().hex,
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "time": event.at,
    }
    return attributes, body


class EventRouter:
    """Publishes events of ``bus`` (and telemetry handed to :meth:`publish`) along the stored routes."""

    def __init__(
        self,
        bus: EventBus,
        broker: Broker,
        routes: EventRouteStore,
        options: AdtOptions,
        *,
        refresh_s: float = 1.0,
        maxsize: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.broker = broker
        self.routes = routes
        self.options = options
        self.refresh_s = refresh_s
        self.published = 0
        self.failed = 0
        self._clock = clock
        self._table: list[tuple[str, RouteFilter]] = []
        self._loaded_at = -float("inf")
        self._outbox: Outbox[Routed] = Outbox(self._deliver, name="kgtwin-adt-routes", maxsize=maxsize)

    @property
    def dropped(self) -> int:
        """Events dropped because the outbox was full."""
        return self._outbox.dropped

    def start(self) -> None:
        """Subscribe to the bus and start publishing."""
        self._outbox.start()
        self.bus.subscribe(self._offer)

    def stop(self, timeout: float = 10.0) -> None:
        """Unsubscribe, publish what is queued (within ``timeout``), stop the thread."""
        self.bus.unsubscribe(self._offer)
        self._outbox.stop(timeout)

    def refresh(self) -> None:
        """Read the routes again before the next event (this process changed them)."""
        self._loaded_at = -float("inf")

    def publish(self, attributes: Mapping[str, Any], body: Any) -> None:
        """Queue one event described in ADT's terms (telemetry sent through the API)."""
        self._outbox.put((attributes, body))

    def _offer(self, event: ChangeEvent) -> None:
        if event.origin is not None:  # another process's change: it routes it
            return
        described = describe(event, self.options.event_source)
        if described is not None:
            self._outbox.put(described)

    def _deliver(self, item: Routed) -> None:
        attributes, body = item
        try:
            self._route(attributes, body)
        except Exception as exc:  # a bad route or a store hiccup must not stop routing
            self.failed += 1
            _log.warning("route.failed", type=attributes.get("type"), error=repr(exc))

    def _current(self) -> list[tuple[str, RouteFilter]]:
        now = self._clock()
        if now - self._loaded_at >= self.refresh_s:
            table = []
            for route in self.routes.list():
                prefix = self.options.topic_prefix(route.endpoint_name)
                if prefix is not None:  # an endpoint removed from the settings since: its routes rest
                    table.append((prefix, route.parsed()))
            self._table, self._loaded_at = table, now
        return self._table

    def _route(self, attributes: Mapping[str, Any], body: Any) -> None:
        targets = {prefix for prefix, test in self._current() if test.matches(attributes, body)}
        if not targets:
            return
        payload = json.dumps({**attributes, "data": body}, separators=(",", ":"), default=str).encode()
        subject = topic_level(str(attributes.get("subject", "")))
        for prefix in sorted(targets):
            topic = f"{prefix}/{attributes['type']}/{subject}"
            try:
                self.broker.publish(topic, payload, qos=1)
            except KgtwinError as exc:
                self.failed += 1
                _log.warning("route.publish_failed", topic=topic, error=exc.message)
            else:
                self.published += 1
