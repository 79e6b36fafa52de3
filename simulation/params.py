"""Parameters from telemetry history: measured values in place of the twins' nominal ones.

A run's parameters may carry ``fromTelemetry``: requests to replace a twin property by
a statistic of its measured history (a machine's mean cycle time over the last 24 h), or
to fill a model parameter with a profile (the outdoor temperature of last week, hour by
hour). :func:`resolve_parameters` answers them from the time-series store
(``telemetry.TelemetryStore``) and returns an edited copy of the subgraph and the
parameters without ``fromTelemetry``.

The series of a twin are found through its telemetry reference: the node attribute
``$telemetry`` (a ``TelemetryRef``, or one as JSON) when the subgraph carries one, else the
default reference of its model (measurement = the model's short name, tag ``twin_id``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graph.subgraph import MODEL
from ontology.errors import ValidationFailed
from telemetry.points import Aggregate
from telemetry.refs import TelemetryRef, bare_ref
from telemetry.store import TelemetryStore

TELEMETRY = "$telemetry"


class PropertyFromTelemetry(BaseModel):
    """Set ``twin``'s ``property`` from its ``field`` over the last ``windowS`` seconds.

    ``method`` ``aggregate`` takes ``fn`` (mean, min, max, last, count) of the points;
    ``intervalFromCounter`` reads a counter (``partsProduced``) and gives the mean time
    per unit, window / increase: a Machine's mean cycle time when it was neither starved
    nor blocked, a Source's mean interarrival time. ``scale`` converts units.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    twin: str
    property: str
    field: str
    method: Literal["aggregate", "intervalFromCounter"] = "aggregate"
    fn: Aggregate = Aggregate.MEAN
    window_s: float = Field(default=86400.0, gt=0, alias="windowS")
    scale: float = 1.0


class ProfileFromTelemetry(BaseModel):
    """Fill the model parameter ``parameter`` with ``twin``'s ``field`` over the last ``windowS``.

    The profile is ``[[seconds since the window start, value], ...]`` of windows of
    ``everyS`` seconds. With ``perTwin``, the parameter is a map and the profile is
    stored under ``twin`` (a room's occupancy).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    parameter: str
    twin: str
    field: str
    fn: Aggregate = Aggregate.MEAN
    window_s: float = Field(default=7 * 86400.0, gt=0, alias="windowS")
    every_s: float = Field(default=3600.0, gt=0, alias="everyS")
    per_twin: bool = Field(default=False, alias="perTwin")


Request = PropertyFromTelemetry | ProfileFromTelemetry


def telemetry_ref(graph: nx.MultiDiGraph, twin: str) -> TelemetryRef:
    """The twin's telemetry reference: its own, or the default one of its model."""
    attributes = graph.nodes[twin]
    own = attributes.get(TELEMETRY)
    if isinstance(own, TelemetryRef):
        return own
    if isinstance(own, Mapping):
        return TelemetryRef.from_dict(own)
    return bare_ref(str(attributes.get(MODEL, "")), twin)


def resolve_parameters(
    graph: nx.MultiDiGraph, parameters: Mapping[str, Any], history: TelemetryStore, now: datetime
) -> tuple[nx.MultiDiGraph, dict[str, Any]]:
    """The subgraph and parameters with every ``fromTelemetry`` request answered.

    ``ValidationFailed`` names the request whose twin is outside the subgraph or whose
    series holds no points in its window.
    """
    rest = dict(parameters)
    raw = rest.pop("fromTelemetry", None) or []
    requests = [_request(n, item) for n, item in enumerate(raw)]
    edited: nx.MultiDiGraph = graph.copy()
    outside = sorted({r.twin for r in requests if r.twin not in graph})
    if outside:
        raise ValidationFailed(
            f"fromTelemetry names twins outside the simulated subgraph: {', '.join(outside)}",
            details={"parameter": "/fromTelemetry", "twins": outside},
        )
    for n, request in enumerate(requests):
        if isinstance(request, PropertyFromTelemetry):
            edited.nodes[request.twin][request.property] = _property(edited, request, history, now, n)
        else:
            profile = _profile(edited, request, history, now, n)
            if request.per_twin:
                rest.setdefault(request.parameter, {})[request.twin] = profile
            else:
                rest[request.parameter] = profile
    return edited, rest


def _request(n: int, item: Any) -> Request:
    kind = (
        ProfileFromTelemetry if isinstance(item, Mapping) and "parameter" in item else PropertyFromTelemetry
    )
    try:
        return kind.model_validate(item)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        pointer = "/fromTelemetry/" + "/".join(str(p) for p in (n, *first["loc"]))
        raise ValidationFailed(
            f"parameter {pointer}: {first['msg']}", details={"parameter": pointer}
        ) from None


def _property(
    graph: nx.MultiDiGraph, request: PropertyFromTelemetry, history: TelemetryStore, now: datetime, n: int
) -> float:
    start = now - timedelta(seconds=request.window_s)
    ref = telemetry_ref(graph, request.twin)
    # Raw points, aggregated here: the store's windows are aligned to the epoch, not to ``start``.
    points = history.query([ref], request.field, start, now)[0]
    values = [float(s.value) for s in points]
    if request.method == "aggregate":
        if not values:
            _no_data(request.twin, request.field, n)
        return _aggregate(request.fn, values) * request.scale
    # Sum of the rises: a counter that restarted at 0 (a PLC reboot) loses nothing.
    increase = math.fsum(max(0.0, b - a) for a, b in pairwise(values))
    if increase <= 0:
        raise ValidationFailed(
            f"fromTelemetry/{n}: counter {request.field!r} of twin {request.twin!r} did not grow "
            f"in the last {request.window_s:g} s",
            details={"parameter": f"/fromTelemetry/{n}", "twins": [request.twin], "field": request.field},
        )
    span = (points[-1].time - points[0].time).total_seconds()
    return span / increase * request.scale


def _profile(
    graph: nx.MultiDiGraph, request: ProfileFromTelemetry, history: TelemetryStore, now: datetime, n: int
) -> list[list[float]]:
    start = now - timedelta(seconds=request.window_s)
    ref = telemetry_ref(graph, request.twin)
    samples = history.query([ref], request.field, start, now, request.every_s, request.fn)[0]
    if not samples:
        _no_data(request.twin, request.field, n)
    return [[max(0.0, (s.time - start).total_seconds()), float(s.value)] for s in samples]


def _aggregate(fn: Aggregate, values: Sequence[float]) -> float:
    if fn is Aggregate.MEAN:
        return math.fsum(values) / len(values)
    if fn is Aggregate.MIN:
        return min(values)
    if fn is Aggregate.MAX:
        return max(values)
    if fn is Aggregate.COUNT:
        return float(len(values))
    return values[-1]


def _no_data(twin: str, field: str, n: int) -> None:
    raise ValidationFailed(
        f"fromTelemetry/{n}: twin {twin!r} has no {field!r} points in the window",
        details={"parameter": f"/fromTelemetry/{n}", "twins": [twin], "field": field},
    )
