"""Parameters from telemetry history, read from the in-memory ``TelemetryStore``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import networkx as nx
import pytest

from ontology.errors import ValidationFailed
from simulation import run_simulation
from simulation.params import resolve_parameters
from telemetry import DEFAULT_BUCKET, MemoryTelemetryStore, Sample, TelemetryPoint
from telemetry.checks import datetime_to_ns
from tests.simulation.builders import InProcessExecutor, chain, twin

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def history(
    series: dict[tuple[str, str, str], list[Sample]], bucket: str = DEFAULT_BUCKET
) -> MemoryTelemetryStore:
    """A store holding ``series``, keyed by (measurement, twin id, field)."""
    store = MemoryTelemetryStore()
    store.write(
        [
            TelemetryPoint(
                bucket, measurement, {"twin_id": twin_id}, {field: s.value}, datetime_to_ns(s.time, "t")
            )
            for (measurement, twin_id, field), samples in series.items()
            for s in samples
        ]
    )
    return store


def _line() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    twin(g, "S", "Source", interarrivalTimeMean=60.0)
    twin(g, "M", "Machine", cycleTimeMean=50.0)
    twin(g, "K", "Sink")
    chain(g, "S", "M", "K")
    return g


def test_a_property_becomes_the_mean_of_its_measured_history() -> None:
    store = history(
        {
            ("Machine", "M", "cycleTime"): [
                Sample(NOW - timedelta(hours=h), 40.0 + h % 2) for h in range(1, 48)
            ],
            # Another machine's series: not read for M.
            ("Machine", "M2", "cycleTime"): [Sample(NOW - timedelta(hours=h), 99.0) for h in range(1, 48)],
        }
    )
    request = {"twin": "M", "property": "cycleTimeMean", "field": "cycleTime", "windowS": 86400}
    graph, parameters = resolve_parameters(_line(), {"horizonS": 5e5, "fromTelemetry": [request]}, store, NOW)
    # 24 hourly points in the last day: 12 of 41 s and 12 of 40 s (hour 24 lies on the window start).
    assert graph.nodes["M"]["cycleTimeMean"] == pytest.approx(40.5, abs=0.03)
    assert parameters == {"horizonS": 5e5}
    assert _line().nodes["M"]["cycleTimeMean"] == 50.0
    result = run_simulation("flow", graph, parameters, None, 2, 1, InProcessExecutor())
    # Constant cycles of the measured mean: utilisation is throughput times 40.5 s.
    throughput = result.summary["metrics"]["throughputPerHour"]["mean"] / 3600
    assert result.summary["twins"]["M"]["utilisation"]["mean"] == pytest.approx(throughput * 40.5, rel=0.01)


def test_a_mean_cycle_time_from_a_parts_counter() -> None:
    # 180 parts in 3 hours, with a counter reset half way: 60 s per part.
    points = [
        Sample(NOW - timedelta(minutes=180 - m), float(m if m <= 90 else m - 90)) for m in range(0, 180, 1)
    ]
    store = history({("Machine", "M", "partsProduced"): points})
    request = {
        "twin": "M",
        "property": "cycleTimeMean",
        "field": "partsProduced",
        "method": "intervalFromCounter",
        "windowS": 3 * 3600 + 60,
    }
    graph, _ = resolve_parameters(_line(), {"fromTelemetry": [request]}, store, NOW)
    assert graph.nodes["M"]["cycleTimeMean"] == pytest.approx(60.0, rel=0.02)


def test_a_twin_with_its_own_telemetry_reference_is_read_there() -> None:
    g = _line()
    g.nodes["M"]["$telemetry"] = {"bucket": "plc", "measurement": "press_line", "tags": {"twin_id": "M"}}
    store = history({("press_line", "M", "ct"): [Sample(NOW - timedelta(minutes=5), 33.0)]}, bucket="plc")
    request = {"twin": "M", "property": "cycleTimeMean", "field": "ct", "fn": "last"}
    graph, _ = resolve_parameters(g, {"fromTelemetry": [request]}, store, NOW)
    assert graph.nodes["M"]["cycleTimeMean"] == 33.0


def test_a_profile_parameter_from_telemetry() -> None:
    start = NOW - timedelta(days=1)
    store = history(
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
    _, parameters = resolve_parameters(g, {"fromTelemetry": [request]}, store, NOW)
    profile = parameters["outdoorTemperature"]
    assert len(profile) == 24
    assert profile[0] == [0.0, 0.5]
    assert profile[1] == [3600.0, 2.5]


def test_a_request_without_data_or_outside_the_subset_is_refused() -> None:
    request = {"twin": "M", "property": "cycleTimeMean", "field": "cycleTime"}
    with pytest.raises(ValidationFailed, match="no 'cycleTime' points") as caught:
        resolve_parameters(_line(), {"fromTelemetry": [request]}, history({}), NOW)
    assert caught.value.details["twins"] == ["M"]
    with pytest.raises(ValidationFailed, match="outside the simulated subgraph: Q"):
        resolve_parameters(_line(), {"fromTelemetry": [{**request, "twin": "Q"}]}, history({}), NOW)
    with pytest.raises(ValidationFailed, match="/fromTelemetry/0/windowS"):
        resolve_parameters(_line(), {"fromTelemetry": [{**request, "windowS": -1}]}, history({}), NOW)
