"""``fmu`` batch runs on a real graph and a real DuckDB store: bindings, coupling, replications, jobs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.store import GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph
from ontology.errors import NotFound, ValidationFailed
from simulation import RunStatus, RunStore, Worker, run_simulation
from simulation.fmu.runs import prepare_hook, request_check, resolve
from simulation.worker import simulation_job
from telemetry.refs import TelemetryRef
from tests.simulation.builders import InProcessExecutor
from tests.simulation.fmu_twins import FmuWorld, make_world
from tests.simulation.fmus import BuiltFmus

START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
DAY = {"start": START.isoformat(), "stop": (START + timedelta(days=1)).isoformat()}


@pytest.fixture
def world(graph_store: GraphStore, test_fmus: BuiltFmus, tmp_path: Path) -> Iterator[FmuWorld]:
    found = make_world(graph_store, test_fmus, tmp_path)
    try:
        yield found
    finally:
        found.telemetry.close()


def room_parameters(world: FmuWorld, **extra: Any) -> dict[str, Any]:
    return {
        "fmu": world.room.id,
        "bindings": {
            "C": {"property": "thermalCapacitance", "scale": 1000.0},
            "UA": {"property": "envelopeConductance"},
            "T0": {"latest": "temperature"},
            "T_out": {"series": "outsideAirTemperature", "twin": "ahu-1", "interpolation": "hold"},
            "Q": {"constant": 0.0},
        },
        **DAY,
        "step": 60.0,
        "samples": 1440,
        **extra,
    }


def run(world: FmuWorld, roots: list[str], parameters: dict[str, Any], **kw: Any) -> Any:
    graph = select_subgraph(world.graph, world.models, SubgraphSpec(roots=tuple(roots), max_depth=2))
    graph, resolved = resolve(graph, parameters, world.library, world.models, world.telemetry)
    return run_simulation("fmu", graph, resolved, None, kw.get("replications", 1), 7, InProcessExecutor())


def test_rooms_follow_their_properties_and_the_ahus_outdoor_series(world: FmuWorld) -> None:
    world.write("Room", "room-1", "temperature", [(START - timedelta(minutes=5), 21.0)])
    world.write("Room", "room-2", "temperature", [(START - timedelta(minutes=1), 19.0)])
    # Outdoor: 0 degC until noon, then 10 degC; hold resampling makes the step exact at noon.
    world.write(
        "AirHandlingUnit",
        "ahu-1",
        "outsideAirTemperature",
        [(START, 0.0), (START + timedelta(hours=12), 10.0)],
    )
    result = run(world, ["ahu-1"], room_parameters(world))
    assert result.twins == ["room-1", "room-2"]
    series = {(s.twin, s.name): s.points for s in result.series}
    for room, (c, ua, t0) in {"room-1": (2.0e6, 250.0, 21.0), "room-2": (3.0e6, 150.0, 19.0)}.items():
        points = series[(room, "T")]
        assert len(points) == 1441
        noon = t0 * math.exp(-43200 * ua / c)
        for t, value in points:
            if t <= 43200:
                exact = t0 * math.exp(-t * ua / c)
            else:
                exact = 10.0 + (noon - 10.0) * math.exp(-(t - 43200) * ua / c)
            assert value == pytest.approx(exact, rel=1e-6, abs=1e-9)
    assert result.summary["coupling"] == "gauss-seidel"
    assert result.summary["twins"]["room-1"]["T.final"]["mean"] == pytest.approx(
        series[("room-1", "T")][-1][1]
    )


def test_a_distribution_makes_replications_with_95_percent_intervals(world: FmuWorld) -> None:
    world.write("Room", "room-1", "temperature", [(START, 20.0)])
    world.write("Room", "room-2", "temperature", [(START, 20.0)])
    world.write("AirHandlingUnit", "ahu-1", "outsideAirTemperature", [(START, 0.0)])
    parameters = room_parameters(world, samples=24)
    parameters["bindings"]["UA"] = {
        "distribution": {"kind": "normal", "mean": 200.0, "std": 40.0, "low": 50.0}
    }
    result = run(world, ["ahu-1"], parameters, replications=12)
    final = result.summary["twins"]["room-1"]["T.final"]
    assert final["n"] == 12
    assert final["ci95"] is not None
    assert final["ci95"] > 0
    # With UA fixed at its mean, the final temperature lies inside the 95% interval of the draws.
    exact = 20.0 * math.exp(-86400 * 200.0 / 2.0e6)
    assert abs(final["mean"] - exact) < 3 * final["ci95"]
    assert result.summary["metrics"]["meanOutput"]["ci95"] is not None


def test_a_pump_feeding_a_tank_along_feeds_keeps_the_volume_balance(world: FmuWorld) -> None:
    speeds = [(START + timedelta(minutes=10 * k), 0.2 + 0.1 * (k % 5)) for k in range(-1, 36)]
    world.write("Pump", "pump-1", "speed", speeds)
    parameters = {
        "fmus": [
            {"fmu": world.tank.id, "bindings": {
                "area": {"constant": 3.0}, "level0": {"constant": 1.0}, "outflow": {"constant": 0.005},
                "inflow": {"output": "flow", "along": "feeds", "direction": "in"},
            }},
            {"fmu": world.pump.id, "bindings": {
                "q_max": {"property": "ratedFlow"}, "speed": {"series": "speed", "interpolation": "hold"},
            }},
        ],
        "start": START.isoformat(),
        "stop": (START + timedelta(hours=6)).isoformat(),
        "step": 30.0,
        "samples": 720,
    }  # fmt: skip
    result = run(world, ["pump-1"], parameters)
    assert result.summary["order"] == ["pump-1", "tank-1"]
    level = 1.0
    expected = [level]
    for k in range(720):
        t = START + timedelta(seconds=30 * k)
        speed = [v for at, v in speeds if at <= t][-1]
        level += 30.0 * (0.02 * speed - 0.005) / 3.0
        expected.append(level)
    found = next(s for s in result.series if s.twin == "tank-1" and s.name == "level").points
    assert [v for _, v in found] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p["bindings"].update({"T_inside": {"constant": 1.0}}), "has no variable 'T_inside'"),
        (lambda p: p["bindings"].update({"Q": {"constant": "hot"}}), "'Q' is Real and cannot take 'hot'"),
        (
            lambda p: p["bindings"].update({"T": {"constant": 1.0}}),
            "only inputs and tunable or fixed parameters",
        ),
        (
            lambda p: p["bindings"].update({"UA": {"series": "temperature"}}),
            "it takes one value at initialisation",
        ),
        (
            lambda p: p["bindings"].update({"C": {"property": "floorArea"}}),
            "declares no property 'floorArea'",
        ),
        (lambda p: p.update(step=7.0), "step 7 s does not divide the window of 86400 s"),
        (lambda p: p.update(stop=p["start"]), "must be after start"),
    ],
)
def test_a_bad_request_is_refused_before_it_is_queued(world: FmuWorld, change: Any, words: str) -> None:
    runs = RunStore(world.graph, validate=request_check(world.library, lambda: world.models))
    parameters = room_parameters(world)
    change(parameters)
    with pytest.raises(ValidationFailed) as caught:
        runs.create("fmu", {"roots": ["ahu-1"], "maxDepth": 1}, parameters=parameters)
    assert words in caught.value.message
    assert runs.list().runs == []


def test_an_unknown_fmu_is_not_found_before_it_is_queued(world: FmuWorld) -> None:
    runs = RunStore(world.graph, validate=request_check(world.library, lambda: world.models))
    with pytest.raises(NotFound, match="FMU 'nope' does not exist"):
        runs.create("fmu", {"roots": ["ahu-1"]}, parameters={**room_parameters(world), "fmu": "nope"})


def test_a_subset_without_a_twin_the_fmu_serves_fails_before_any_step(world: FmuWorld) -> None:
    parameters = {"fmu": world.pump.id, "bindings": {"speed": {"constant": 1.0}}, **DAY, "step": 60.0}
    with pytest.raises(
        ValidationFailed, match=r"serves dtmi:kgtwin:fluid:Pump;1, and no twin of the subgraph is one"
    ):
        run(world, ["ahu-1"], parameters)


def test_a_run_through_the_worker_writes_its_outputs_as_series_tagged_with_the_run(world: FmuWorld) -> None:
    world.write("Room", "room-1", "temperature", [(START, 20.0)])
    world.write("Room", "room-2", "temperature", [(START, 22.0)])
    world.write("AirHandlingUnit", "ahu-1", "outsideAirTemperature", [(START, 5.0)])
    runs = RunStore(world.graph, validate=request_check(world.library, lambda: world.models))
    run_ = runs.create(
        "fmu", {"roots": ["ahu-1"], "maxDepth": 1}, parameters=room_parameters(world, samples=24)
    )
    job = simulation_job(
        world.graph,
        lambda: world.models,
        InProcessExecutor(),
        history=world.telemetry,
        prepare=prepare_hook(world.library, world.telemetry),
    )
    ended = Worker(runs, job, sink=world.telemetry).run_once()
    assert ended is not None
    assert ended.status is RunStatus.SUCCEEDED, ended.error
    assert ended.result is not None
    assert set(ended.result["twins"]) == {"room-1", "room-2"}
    ref = TelemetryRef("simulation", "simulation", {"run_id": run_.id, "twin_id": "room-2", "series": "T"})
    stored = world.telemetry.query(
        [ref], "value", START - timedelta(days=3650), START + timedelta(days=3650)
    )[0]
    assert len(stored) == 25
    assert stored[0].value == pytest.approx(22.0)
