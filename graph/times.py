"""Times as kgtwin writes them: UTC ISO 8601 text with milliseconds and ``Z``.

``2026-11-25T06:12:00.123Z``: twins' ``createdAt``/``updatedAt``, change events, simulation
runs, API keys and the latest values on nodes all use this one form, which sorts as text
in time order (so Cypher can compare the strings) and which every JSON client parses.
"""

from __future__ import annotations

from datetime import UTC, datetime

from telemetry.checks import ns_to_datetime


def utc_text(at: datetime) -> str:
    """``at`` (timezone-aware) as kgtwin writes times: UTC, milliseconds (truncated), ``Z``."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_text_ns(time_ns: int) -> str:
    """:func:`utc_text` of an instant in nanoseconds since the epoch (a telemetry point's time)."""
    return utc_text(ns_to_datetime(time_ns))


def utc_now() -> str:
    """The current time as :func:`utc_text` writes it."""
    return utc_text(datetime.now(UTC))


def parse_utc(text: str) -> datetime:
    """The instant a time written by :func:`utc_text` stands for (timezone-aware)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
