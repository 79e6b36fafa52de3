"""The thermal model: RC rooms, thermostat within capacity, failures, comfort and energy."""

from __future__ import annotations

import networkx as nx
import pytest

from ontology.errors import ValidationFailed
from simulation import Scenario, compare, run_simulation
from tests.simulation.builders import InProcessExecutor, relate, twin

ROOM = "dtmi:kgtwin:space:Room;1"
AHU = "dtmi:kgtwin:hvac:AirHandlingUnit;1"
VAV = "dtmi:kgtwin:hvac:VAV;1"
STILL = {"outdoorTemperature": [[0.0, 0.0], [3600.0, 0.0]], "outdoorNoise": 0.0, "occupancyShare": 0.0}


def _building(heating_kw: float = 20.0) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    twin(g, "AHU", AHU, heatingCapacity=heating_kw, coolingCapacity=20.0)
    twin(g, "VAV", VAV)
    room = {"thermalCapacitance": 2000.0, "envelopeConductance": 100.0, "heatingSetpoint": 20.0}
    twin(g, "R1", ROOM, coolingSetpoint=24.0, maxOccupancy=4, **room)
    twin(g, "R2", ROOM, coolingSetpoint=24.0, maxOccupancy=4, **room)
    relate(g, "AHU", "VAV")
    relate(g, "VAV", "R1", "serves")
    relate(g, "AHU", "R2", "serves")
    return g


def test_heating_holds_the_setpoint_and_costs_ua_times_the_difference(executor: InProcessExecutor) -> None:
    parameters = {**STILL, "horizonS": 86400.0, "initialTemperature": 20.0, "samples": 24}
    result = run_simulation("thermal", _building(), parameters, None, 2, 1, executor)
    # Two rooms of UA 100 W/K, 20 K above outside for 24 h: 2 * 2 kW * 24 h = 96 kWh.
    assert result.summary["metrics"]["heatingKWh"]["mean"] == pytest.approx(96.0, rel=1e-6)
    assert result.summary["twins"]["AHU"]["heatingKWh"]["mean"] == pytest.approx(96.0, rel=1e-6)
    assert result.summary["metrics"]["discomfortHours"]["mean"] == 0
    temperatures = next(s for s in result.series if s.twin == "R1").points
    assert all(v == pytest.approx(20.0) for _, v in temperatures)


def test_an_undersized_ahu_shares_its_capacity_and_rooms_get_cold(executor: InProcessExecutor) -> None:
    parameters = {**STILL, "horizonS": 5 * 86400.0, "samples": 0}
    result = run_simulation("thermal", _building(heating_kw=2.0), parameters, None, 2, 1, executor)
    # 1 kW per room against 100 W/K: each settles at 10 degrees.
    assert result.summary["twins"]["R1"]["meanTemperature"]["mean"] == pytest.approx(10.0, abs=1.0)
    assert result.summary["metrics"]["discomfortHours"]["mean"] > 0
    assert result.summary["metrics"]["heatingKWh"]["mean"] == pytest.approx(2.0 * 5 * 24, rel=1e-6)


def test_an_unserved_room_floats_to_outdoor_plus_gains(executor: InProcessExecutor) -> None:
    g = _building()
    twin(
        g,
        "R3",
        ROOM,
        thermalCapacitance=500.0,
        envelopeConductance=50.0,
        heatingSetpoint=20.0,
        coolingSetpoint=24.0,
    )
    parameters = {**STILL, "horizonS": 3 * 86400.0, "samples": 10, "initialTemperature": 0.0}
    result = run_simulation("thermal", g, parameters, None, 1, 1, executor)
    assert result.summary["unconditioned"] == ["R3"]
    assert result.summary["twins"]["R3"]["meanTemperature"]["mean"] == pytest.approx(0.0)


def test_ahu_failures_raise_discomfort_in_a_comparison(executor: InProcessExecutor) -> None:
    parameters = {"horizonS": 14 * 86400.0, "samples": 0}
    scenario = Scenario(description="an unreliable AHU", overrides={"AHU": {"mtbf": 48.0, "mttr": 12.0}})
    result = compare("thermal", _building(), parameters, scenario, 6, 1, executor)
    discomfort = result.summary["metrics"]["discomfortHours"]["difference"]
    assert discomfort["mean"] > 0
    assert result.summary["sentence"].startswith("an unreliable AHU lowers HVAC energy by")


def test_a_room_without_its_rc_parameters_is_refused(executor: InProcessExecutor) -> None:
    g = _building()
    del g.nodes["R2"]["envelopeConductance"]
    with pytest.raises(ValidationFailed, match="'R2' has no envelopeConductance") as caught:
        run_simulation("thermal", g, {}, None, 2, 1, executor)
    assert caught.value.details["problems"][0]["parameter"] == "envelopeConductance"
    assert executor.items == 0
