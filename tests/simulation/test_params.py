"""Parameters from telemetry history, read through a fake of our ``TelemetryHistory`` protocol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import networkx as nx
import pytest

from graph.telemetry import Aggregate, Sample, TelemetryRef
from ontology.errors import ValidationFailed
from simulation import run_simulation
from simulation.params import TelemetryHistory, resolve_parameters
from tests.simulation.builders import InProcessExecutor, chain, twin

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


class FakeHistory:
    """Series held in memory, keyed by (measurement, twin id, field); records the queries."""

    def __init__(self, series: dict[tuple[str, str, str], list[Sample]]) -> None:
        self.series = series
        self.queries: list[tuple[str, str, datetime, datetime, float | None]] = []

    def query(
        self,
        refs: Sequence[TelemetryRef],
        field: str,
        start: datetime,
        stop: datetime,
        every_s: float | None = None,
        fn: Aggregate = Aggregate.MEAN,
    ) -> list[list[Sample]]:
        out = []
        for ref in refs:
            self.queries.append((ref.measurement, ref.twin_id, start, stop, every_s))
            points = [
                s
                for s in self.series.get((ref.measurement, ref.twin_id, field), [])
                if start <= s.time < stop
            ]
            if every_s is None:
                out.append(points)
                continue
            windows: dict[int, list[float]] = {}
            for s in points:
                windows.setdefault(int(s.time.timestamp() // every_s), []).append(float(s.value))
            out.append(
                [
                    Sample(datetime.fromtimestamp(k * every_s, UTC), sum(v) / len(v))
                    for k, v in sorted(windows.items())
                ]
            )
        return out


def _line() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=60.0)
    twin(g, "M", "Machine", cycleTimeMean=50.0)
    twin(g, "K", "Sink")
    chain(g, "S", "M", "K")
    return g


def test_a_property_becomes_the_mean_of_its_measured_history() -> None:
    history = FakeHistory(
        {
            ("Machine", "M", "cycleTime"): [
                Sample(NOW - timedelta(hours=h), 40.0 + h % 2) for h in range(1, 48)
            ]
        }
    )
    fake: TelemetryHistory = history  # the fake satisfies the protocol
    request = {"twin": "M", "property": "cycleTimeMean", "field": "cycleTime", "windowS": 86400}
    graph, parameters = resolve_parameters(_line(), {"horizonS": 5e5, "fromTelemetry": [request]}, fake, NOW)
    # 24 hourly points in the last day: 12 of 41 s and 12 of 40 s (hour 24 lies on the window start).
    assert graph.nodes["M"]["cycleTimeMean"] == pytest.approx(40.5, abs=0.03)
    assert parameters == {"horizonS": 5e5}
    assert _line().nodes["M"]["cycleTimeMean"] == 50.0
    assert history.queries[0][:2] == ("Machine", "M")
    result = run_simulation("flow", graph, parameters, None, 2, 1, InProcessExecutor())
    # Constant cycles of the measured mean: utilisation is throughput times 40.5 s.
    throughput = result.summary["metrics"]["throughputPerHour"]["mean"] / 3600
    assert result.summary["twins"]["M"]["utilisation"]["mean"] == pytest.approx(throughput * 40.5, rel=0.01)


def test_a_mean_cycle_time_from_a_parts_counter() -> None:
    # 180 parts in 3 hours, with a counter reset half way: 60 s per part.
    points = [
        Sample(NOW - timedelta(minutes=180 - m), float(m if m <= 90 else m - 90)) for m in range(0, 180, 1)
    ]
    history = FakeHistory({("Machine", "M", "partsProduced"): points})
    request = {
        "twin": "M",
        "property": "cycleTimeMean",
        "field": "partsProduced",
        "method": "intervalFromCounter",
        "windowS": 3 * 3600 + 60,
    }
    graph, _ = resolve_parameters(_line(), {"fromTelemetry": [request]}, history, NOW)
    assert graph.nodes["M"]["cycleTimeMean"] == pytest.approx(60.0, rel=0.02)


def test_a_twin_with_its_own_telemetry_reference_is_read_there() -> None:
    g = _line()
    g.nodes["M"]["$telemetry"] = {"bucket": "plc", "measurement": "press_line", "tags": {"twin_id": "M"}}
    history = FakeHistory({("press_line", "M", "ct"): [Sample(NOW - timedelta(minutes=5), 33.0)]})
    request = {"twin": "M", "property": "cycleTimeMean", "field": "ct", "fn": "last"}
    graph, _ = resolve_parameters(g, {"fromTelemetry": [request]}, history, NOW)
    assert graph.nodes["M"]["cycleTimeMean"] == 33.0


def test_a_profile_parameter_from_telemetry() -> None:
    start = NOW - timedelta(days=1)
    history = FakeHistory(
        {
            ("AirHandlingUnit", "AHU", "outsideAirTemperature"): [
                Sample(start + timedelta(minutes=30 * k), float(k % 4)) for k in range(48)
            ]
        }
    )
    request = {
        "parameter": "outdoorTemperature",
        "twin": "AHU",
        "field": "outsideAirTemperature",
        "windowS": 86400,
    }
    g = nx.MultiDiGraph()
    twin(g, "AHU", "dtmi:kgtwin:hvac:AirHandlingUnit;1")
    _, parameters = resolve_parameters(g, {"fromTelemetry": [request]}, history, NOW)
    profile = parameters["outdoorTemperature"]
    assert len(profile) == 24
    assert profile[0] == [0.0, 0.5]
    assert profile[1] == [3600.0, 2.5]


def test_a_request_without_data_or_outside_the_subset_is_refused() -> None:
    request = {"twin": "M", "property": "cycleTimeMean", "field": "cycleTime"}
    with pytest.raises(ValidationFailed, match="no 'cycleTime' points") as caught:
        resolve_parameters(_line(), {"fromTelemetry": [request]}, FakeHistory({}), NOW)
    assert caught.value.details["twins"] == ["M"]
    with pytest.raises(ValidationFailed, match="outside the simulated subgraph: Q"):
        resolve_parameters(_line(), {"fromTelemetry": [{**request, "twin": "Q"}]}, FakeHistory({}), NOW)
    with pytest.raises(ValidationFailed, match="/fromTelemetry/0/windowS"):
        resolve_parameters(_line(), {"fromTelemetry": [{**request, "windowS": -1}]}, FakeHistory({}), NOW)
