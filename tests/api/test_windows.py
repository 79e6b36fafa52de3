"""Telemetry time arguments: durations, instants, windows (property-based where it helps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.windows import MAX_POINTS, aggregate, duration_s, instant, window
from graph.errors import LimitExceeded
from ontology.errors import BadRequest
from telemetry.points import Aggregate

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(UNITS)))
def test_short_durations_are_count_times_unit(count: int, unit: str) -> None:
    assert duration_s(f"{count}{unit}", "every") == pytest.approx(count * UNITS[unit])


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_iso_durations_add_up(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = f"P{days}DT{hours}H{minutes}M{seconds}S"
    expected = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if expected == 0:
        with pytest.raises(BadRequest):
            duration_s(text, "every")
    else:
        assert duration_s(text, "every") == expected


@given(st.text(max_size=20))
def test_any_text_is_a_duration_or_a_bad_request(text: str) -> None:
    refused: BadRequest | None = None
    try:
        assert duration_s(text, "every") > 0
    except BadRequest as exc:
        refused = exc
    assert refused is None or refused.details["argument"] == "every"


@given(st.text(max_size=30))
def test_any_text_is_an_instant_or_a_bad_request(text: str) -> None:
    refused: BadRequest | None = None
    try:
        assert instant(text, NOW, "start").tzinfo is not None
    except BadRequest as exc:
        refused = exc
    assert refused is None or refused.details["argument"] == "start"


def test_instants_relative_absolute_and_now() -> None:
    assert instant("now", NOW, "stop") == NOW
    assert instant(None, NOW, "stop") == NOW
    assert instant("-90m", NOW, "start") == NOW - timedelta(minutes=90)
    assert instant("2026-11-25T06:00:00", NOW, "start") == datetime(2026, 11, 25, 6, tzinfo=UTC)
    assert instant("2026-11-25T07:00:00+01:00", NOW, "start") == datetime(2026, 11, 25, 6, tzinfo=UTC)


def test_windows_are_checked() -> None:
    assert window("-1h", None, "5m", NOW) == (NOW - timedelta(hours=1), NOW, 300.0)
    with pytest.raises(BadRequest):
        window("-1h", "-2h", None, NOW)
    with pytest.raises(LimitExceeded):
        window(f"-{MAX_POINTS + 1}s", None, "1s", NOW)
    assert aggregate("MEAN") is Aggregate.MEAN
    with pytest.raises(BadRequest):
        aggregate("median")
