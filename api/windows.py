"""Time arguments of telemetry fields: instants, relative times, window sizes, aggregates.

Front ends write ``start: "-1h"``, ``stop: "now"``, ``every: "5m"``, ``fn: "mean"`` (as
InfluxDB's Flux and Grafana do), or ISO 8601 (``2026-11-25T06:00:00Z``, ``PT5M``). Relative
times are read from the request's one ``now``, so every twin of a list asks for the same
window and their reads batch.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from graph.errors import LimitExceeded
from ontology.errors import BadRequest
from telemetry.points import Aggregate

MAX_POINTS = 10_000
"""The most windows one ``telemetry`` field may ask for: ``(stop - start) / every``."""

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SHORT = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_ISO = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def duration_s(text: str, argument: str) -> float:
    """Seconds in ``5m``, ``1.5h``, ``250ms`` or ISO 8601 ``PT5M``; ``BadRequest`` otherwise."""
    value = text.strip()
    if match := _SHORT.match(value):
        seconds = float(match[1]) * _UNITS[match[2]]
    elif (match := _ISO.match(value.upper())) and value.upper() not in ("P", "PT"):
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise BadRequest(
            f"{argument}: {text!r} is not a duration; write 30s, 5m, 1h, 7d or ISO 8601 PT5M",
            details={"argument": argument, "value": text},
        )
    if seconds <= 0:
        raise BadRequest(
            f"{argument}: a duration must be positive, not {text!r}", details={"argument": argument}
        )
    return seconds


def instant(text: str | None, now: datetime, argument: str) -> datetime:
    """``now``, ``-1h`` (before now) or an ISO 8601 date-time (UTC when it names no offset)."""
    if text is None or text.strip().lower() == "now":
        return now
    value = text.strip()
    if value.startswith("-"):
        return now - timedelta(seconds=duration_s(value[1:], argument))
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{argument}: {text!r} is neither now, -<duration> nor an ISO 8601 date-time",
            details={"argument": argument, "value": text},
        ) from None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def aggregate(text: str) -> Aggregate:
    """The window function named ``text`` (``mean``, ``min``, ``max``, ``last``, ``count``)."""
    try:
        return Aggregate(text.strip().lower())
    except ValueError:
        raise BadRequest(
            f"fn: {text!r} is not one of {', '.join(a.value for a in Aggregate)}",
            details={"argument": "fn", "value": text},
        ) from None


def window(
    start: str, stop: str | None, every: str | None, now: datetime
) -> tuple[datetime, datetime, float | None]:
    """Checked ``[start, stop)`` and window size.

    ``BadRequest`` when the window is empty, ``LIMIT_EXCEEDED`` past :data:`MAX_POINTS` windows.
    """
    begin, end = instant(start, now, "start"), instant(stop, now, "stop")
    if begin >= end:
        raise BadRequest(
            f"start ({begin.isoformat()}) must be before stop ({end.isoformat()})",
            details={"start": begin.isoformat(), "stop": end.isoformat()},
        )
    every_s = duration_s(every, "every") if every is not None else None
    if every_s is not None and (end - begin).total_seconds() / every_s > MAX_POINTS:
        raise LimitExceeded("windows of one telemetry series (stop - start) / every", MAX_POINTS)
    return begin, end, every_s
