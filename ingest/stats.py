"""What the ingest service counts: messages, values, dead letters by reason, and the lag.

``IngestStats`` is logged by ``kgtwin ingest`` every ``KGTWIN_INGEST_STATS_INTERVAL_S``
(``ingest.stats``) and once more, over the whole run, when it stops.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from telemetry.points import TelemetryPoint


class _Reservoir:
    """A uniform sample of at most ``cap`` values of a stream (Vitter's algorithm R)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.values: list[float] = []
        self.seen = 0

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.cap:
            self.values.append(value)
            return
        slot = random.randrange(self.seen)  # noqa: S311 - statistics, not secrets
        if slot < self.cap:
            self.values[slot] = value


class Lag:
    """How old points are when they become durable (now minus their time), sampled.

    With devices' clocks in step (or no ``ts``), this is the publish-to-queryable latency
    operators watch. A bounded sample per batch keeps the cost off the hot path, and both
    samples (the run's and the interval's) are bounded reservoirs: ``kgtwin serve`` never
    asks for the interval's, so an unbounded one would grow with every point. 10,000
    values put about 100 above the p99, enough for the logged percentiles, and keep the
    two samples under 1 MB together (at 200,000 they grew by 13 MB over a long run).
    """

    def __init__(self, cap: int = 10_000, per_batch: int = 64) -> None:
        self._per_batch = per_batch
        self._all = _Reservoir(cap)
        self._recent = _Reservoir(cap)

    def observe(self, points: list[TelemetryPoint]) -> None:
        now = time.time_ns()
        step = max(1, len(points) // self._per_batch)
        for point in points[::step]:
            lag_ms = (now - point.time_ns) / 1e6
            self._recent.add(lag_ms)
            self._all.add(lag_ms)

    def percentiles(self, *, recent: bool) -> dict[str, float | None]:
        """p50 and p99 in ms of the points since the last ``recent`` call (or of the whole run)."""
        values = sorted((self._recent if recent else self._all).values)
        if recent:
            self._recent = _Reservoir(self._recent.cap)
        if not values:
            return {"lag_p50_ms": None, "lag_p99_ms": None}
        return {
            "lag_p50_ms": round(values[len(values) // 2], 1),
            "lag_p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 1),
        }


@dataclass
class IngestStats:
    """Counters since start: messages, stored values, dead letters by reason, spooled points."""

    messages: int = 0
    values: int = 0
    points: int = 0
    batches: int = 0
    spooled_points: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    lag: Lag = field(default_factory=Lag)

    def to_dict(self, *, recent: bool = True) -> dict[str, object]:
        """The counters, and the lag percentiles of the last interval (or of the whole run)."""
        return {
            "messages": self.messages,
            "values": self.values,
            "points": self.points,
            "batches": self.batches,
            "spooled_points": self.spooled_points,
            "rejected": dict(self.rejected),
            **self.lag.percentiles(recent=recent),
        }
