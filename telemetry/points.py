"""The values of telemetry: points written, samples read, and how a window is aggregated.

They live below both the ingest path that writes points and the simulations and API that
read them, so every one of them speaks of the same types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

FieldValue = float | int | bool | str
"""All a store keeps of a point's field."""


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """Values of several fields of one series observed at one instant.

    ``time_ns`` is nanoseconds since the Unix epoch (UTC). ``tags`` must include
    ``twin_id``; its items are the series key together with ``bucket`` and ``measurement``.
    """

    bucket: str
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one field at one time (a stored point, or a window's aggregate)."""

    time: datetime
    value: FieldValue


class Aggregate(StrEnum):
    """How a window's points become one value."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    COUNT = "count"
