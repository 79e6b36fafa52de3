"""Watchers of the last-value cache: told which twins changed, never able to break ingest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from telemetry.latest_values import LatestValues, freshest
from telemetry.points import Sample, TelemetryPoint


def point(twin_id: str, value: float, time_ns: int) -> TelemetryPoint:
    return TelemetryPoint("telemetry", "Sensor", {"twin_id": twin_id}, {"v0": value}, time_ns)


def test_a_watcher_is_told_the_twins_each_update_changed() -> None:
    latest = LatestValues()
    told: list[frozenset[str]] = []
    latest.watch(told.append)
    latest.update([point("a", 1.0, 10), point("b", 2.0, 10)])
    latest.update([point("b", 3.0, 20), point("a", 0.5, 5)])  # a's point is older: only b changed
    latest.update([point("a", 0.1, 1)])  # nothing changed: nobody is told
    assert told == [frozenset({"a", "b"}), frozenset({"b"})]


def test_watching_leaves_the_graph_writers_changed_twins_intact() -> None:
    latest = LatestValues()
    latest.update([point("a", 1.0, 10)])
    latest.watch(lambda _changed: None)
    latest.update([point("b", 2.0, 10)])
    assert sorted(latest.take_changed()) == ["a", "b"]
    latest.mark_changed(["b"])
    assert sorted(latest.take_changed()) == ["b"]


def test_a_watcher_may_read_the_new_values_from_its_callback() -> None:
    latest = LatestValues()
    seen: list[object] = []

    def read(changed: frozenset[str]) -> None:
        seen.extend(latest.get(t)["v0"].value for t in changed)

    latest.watch(read)
    latest.update([point("a", 4.5, 10)])
    assert seen == [4.5]


def test_a_failing_watcher_is_logged_and_neither_update_nor_other_watchers_suffer() -> None:
    latest = LatestValues()

    def broken(_changed: frozenset[str]) -> None:
        raise RuntimeError("watcher bug")

    told: list[frozenset[str]] = []
    latest.watch(broken)
    latest.watch(told.append)
    with capture_logs() as logs:
        latest.update([point("a", 1.0, 10)])
    assert latest.get("a")["v0"].value == 1.0
    assert told == [frozenset({"a"})]
    assert sorted(latest.take_changed()) == ["a"]
    assert [entry["event"] for entry in logs] == ["ingest.latest_watcher_failed"]
    assert logs[0]["log_level"] == "error"


def test_an_unsubscribed_watcher_is_no_longer_told() -> None:
    latest = LatestValues()
    told: list[frozenset[str]] = []
    stop = latest.watch(told.append)
    stop_again = latest.watch(told.append)  # the same callback twice: two registrations
    assert latest.watchers == 2
    stop()
    stop()  # a second call does nothing, and never removes the other registration
    assert latest.watchers == 1
    latest.update([point("a", 1.0, 10)])
    stop_again()
    latest.update([point("a", 2.0, 20)])
    assert told == [frozenset({"a"})]
    assert latest.watchers == 0


def test_a_bad_point_midway_still_flags_the_twins_changed_before_it() -> None:
    latest = LatestValues()
    latest.watch(lambda _changed: None)
    untagged = TelemetryPoint("telemetry", "Sensor", {}, {"v0": 1.0}, 10)
    with pytest.raises(KeyError):
        latest.update([point("a", 1.0, 10), untagged])
    assert sorted(latest.take_changed()) == ["a"]


def test_the_freshest_value_is_the_later_observed_and_the_first_on_a_tie() -> None:
    early, late = Sample(datetime(2026, 1, 1, tzinfo=UTC), 1.0), Sample(datetime(2026, 1, 2, tzinfo=UTC), 2.0)
    same_time = Sample(early.time, 9.0)
    assert freshest(early, late) is late
    assert freshest(late, early) is late
    assert freshest(early, same_time) is early
    assert freshest(None, late) is late
    assert freshest(early, None) is early
    assert freshest(None, None) is None


def test_the_cache_keeps_values_by_the_freshest_rule() -> None:
    """A late point loses to a newer value; a point at the same instant replaces it (a correction)."""
    latest = LatestValues()
    latest.update([point("a", 1.0, 2_000_000_000)])
    latest.update([point("a", 5.0, 1_000_000_000)])  # late: older than what is held
    assert latest.sample("a", "v0") == Sample(datetime.fromtimestamp(2, UTC), 1.0)
    latest.update([point("a", 7.0, 2_000_000_000)])  # redelivered with a correction
    assert latest.sample("a", "v0") == Sample(datetime.fromtimestamp(2, UTC), 7.0)
    assert latest.sample("a", "nothing") is None
    assert latest.sample("nobody", "v0") is None


@pytest.mark.parametrize("time_ns", [-1, 2**63, 10**36])
def test_a_time_no_store_can_keep_never_becomes_the_newest_value(time_ns: int) -> None:
    latest = LatestValues()
    latest.update([point("a", 1.0, 1_000)])
    with capture_logs() as logs:
        latest.update([point("a", 2.0, time_ns), point("b", 3.0, time_ns)])
    assert latest.get("a")["v0"].value == 1.0
    assert latest.sample("a", "v0") is not None  # still readable: the time is a datetime
    assert latest.get("b") == {}
    assert [e["event"] for e in logs] == ["ingest.latest_time_refused"] * 2
