"""Event routes: named filters that send chosen change events to an endpoint.

A route is ``(:EventRoute {id, endpointName, filter})`` in the twin graph, so every API
process (and a restart) sees the same routes. Its filter is parsed before it is stored
(``graph.route_filter``): a route is never kept with a filter it cannot apply. What an
endpoint is (an MQTT topic prefix) is decided by the caller, which also checks the
endpoint name; this store only remembers routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graph.route_filter import RouteFilter, parse_filter
from graph.store import GraphStore
from ontology.errors import BadRequest, NotFound

MAX_ROUTES = 1000
MAX_ID_LENGTH = 256

_PUT = """
MERGE (r:EventRoute {id: $id})
SET r.endpointName = $endpoint, r.filter = $filter
RETURN r.id
"""
_GET = "MATCH (r:EventRoute {id: $id}) RETURN r.id, r.endpointName, r.filter"
_LIST = "MATCH (r:EventRoute) RETURN r.id, r.endpointName, r.filter ORDER BY r.id"
_COUNT = "MATCH (r:EventRoute) WHERE r.id <> $id RETURN count(r)"
_DELETE = "MATCH (r:EventRoute {id: $id}) DELETE r RETURN count(*)"


@dataclass(frozen=True)
class EventRoute:
    """A route: events passing ``filter`` go to the endpoint ``endpoint_name``."""

    id: str
    endpoint_name: str
    filter: str

    def parsed(self) -> RouteFilter:
        """The route's filter, parsed (it was checked when the route was stored)."""
        return parse_filter(self.filter)


class EventRouteStore:
    """The event routes of one twin graph."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def put(self, route: EventRoute) -> EventRoute:
        """Add or replace route ``route.id``; ``BadRequest`` for a bad id or filter, or too many routes."""
        _check_id(route.id)
        if not isinstance(route.endpoint_name, str) or not route.endpoint_name:
            raise BadRequest(
                "an event route names its endpoint (endpointName)", details={"routeId": route.id}
            )
        parse_filter(route.filter)
        count = self.store.query_rows(_COUNT, {"id": route.id})
        if count and int(count[0][0]) >= MAX_ROUTES:
            raise BadRequest(
                f"a twin holds at most {MAX_ROUTES} event routes",
                details={"limit": MAX_ROUTES, "routes": True},
            )
        params = {"id": route.id, "endpoint": route.endpoint_name, "filter": route.filter}
        self.store.write(_PUT, params)
        return route

    def get(self, route_id: str) -> EventRoute:
        """Route ``route_id``; ``NotFound`` when there is none."""
        rows = self.store.query_rows(_GET, {"id": route_id})
        if not rows:
            raise NotFound(f"event route {route_id!r} does not exist", details={"routeId": route_id})
        return _route(rows[0])

    def list(self) -> list[EventRoute]:
        """Every route, by id."""
        return [_route(row) for row in self.store.query_rows(_LIST)]

    def delete(self, route_id: str) -> None:
        """Forget route ``route_id``; ``NotFound`` when there is none."""
        rows = self.store.write(_DELETE, {"id": route_id}).rows
        if not rows or int(rows[0][0]) == 0:
            raise NotFound(f"event route {route_id!r} does not exist", details={"routeId": route_id})


def _route(row: Sequence[Any]) -> EventRoute:
    route_id, endpoint, text = row
    return EventRoute(str(route_id), str(endpoint), str(text))


def _check_id(route_id: str) -> None:
    # ADT: route ids are case-sensitive; kgtwin also bounds them and keeps them printable.
    if (
        not isinstance(route_id, str)
        or not route_id
        or len(route_id) > MAX_ID_LENGTH
        or not route_id.isprintable()
    ):
        raise BadRequest(
            f"an event route id is 1 to {MAX_ID_LENGTH} printable characters, not {route_id!r}",
            details={"routeId": route_id},
        )
