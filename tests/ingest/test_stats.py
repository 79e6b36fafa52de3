"""The lag sample of ingest's statistics: bounded however long nobody reads it."""

from __future__ import annotations

import time

from ingest.stats import Lag
from telemetry.points import TelemetryPoint


def points(count: int, age_ms: float) -> list[TelemetryPoint]:
    at = time.time_ns() - int(age_ms * 1e6)
    return [TelemetryPoint("b", "m", {"twin_id": "t"}, {"v": 1.0}, at) for _ in range(count)]


def test_an_interval_nobody_reads_keeps_a_bounded_sample() -> None:
    lag = Lag(cap=100, per_batch=64)
    for _ in range(1_000):  # kgtwin serve never reads the interval's lag
        lag.observe(points(10, 50))
    assert len(lag._recent.values) == 100
    assert len(lag._all.values) == 100
    figures = lag.percentiles(recent=True)
    assert figures["lag_p50_ms"] is not None
    assert 50 <= figures["lag_p50_ms"] < 60_000


def test_the_interval_starts_again_when_read_and_the_run_remembers() -> None:
    lag = Lag(cap=1_000)
    lag.observe(points(10, 100))
    assert lag.percentiles(recent=True)["lag_p50_ms"] is not None
    assert lag.percentiles(recent=True) == {"lag_p50_ms": None, "lag_p99_ms": None}
    whole = lag.percentiles(recent=False)["lag_p99_ms"]
    assert whole is not None
    assert whole >= 100


def test_the_default_samples_stay_under_a_megabyte() -> None:
    lag = Lag()
    for _ in range(5_000):  # 50,000 points, one sampled value each
        lag.observe(points(10, 20))
    held = len(lag._recent.values) + len(lag._all.values)
    assert held <= 20_000  # two samples of 10,000 floats: 0.64 MB with the list's pointers
