"""The base ontology kgtwin ships parses cleanly and carries what the simulations need."""

from __future__ import annotations

from typing import Any

import pytest

from ontology import (
    ENTITY,
    InMemoryModelStore,
    ModelRegistry,
    base_model_set,
    base_models,
    label_index,
    parse_partial,
    validator_for,
)

MACHINE = "dtmi:kgtwin:production:Machine;1"
ROOM = "dtmi:kgtwin:space:Room;1"

MACHINE_TWIN: dict[str, Any] = {
    "$dtId": "press-1",
    "name": "Press 1",
    "externalIds": {"mes": "ST-010"},
    "manufacturer": "ACME",
    "installationDate": "2021-06-01",
    "cycleTimeMean": 42.0,
    "cycleTimeDistribution": "lognormal",
    "cycleTimeStdDev": 4.5,
    "capacity": 1,
    "mtbf": 120.0,
    "mttr": 1.5,
    "scrapRate": 0.02,
}


def test_the_base_ontology_parses_with_zero_errors() -> None:
    result = parse_partial(base_models())
    assert result.errors == []
    assert result.unresolved == frozenset()
    assert len(result.models) == len(base_models())


def test_it_has_the_spatial_and_asset_classes_and_all_extend_entity() -> None:
    models = base_model_set()
    names = {dtmi.split(":")[-1].split(";")[0] for dtmi in models}
    assert names >= {"Site", "Building", "Floor", "Room", "Zone"}
    assert names >= {"Asset", "Equipment", "Machine", "Conveyor", "Buffer", "Source", "Sink", "Sensor"}
    assert names >= {"AirHandlingUnit", "VAV", "Pump", "Tank"}
    assert all(models.is_a(dtmi, ENTITY) for dtmi in models)


def test_labels_put_rooms_under_space_and_machines_under_equipment() -> None:
    index = label_index(base_model_set())
    assert index.labels(ROOM) == ("Room", "Space", "Entity")
    assert index.labels(MACHINE) == ("Machine", "Equipment", "Asset", "Entity")
    assert index.labels("dtmi:kgtwin:hvac:VAV;1") == ("VAV", "Equipment", "Asset", "Entity")


def test_a_machine_twin_validates_and_a_wrong_distribution_does_not() -> None:
    validator = validator_for(base_model_set(), MACHINE)
    assert validator.validate_properties(MACHINE_TWIN) == []
    [issue] = validator.validate_properties({**MACHINE_TWIN, "cycleTimeDistribution": "weibull"})
    assert issue.path == "/cycleTimeDistribution"


def test_simulation_parameters_carry_units() -> None:
    machine = base_model_set()[MACHINE]
    units = {name: (p.unit, p.cotypes) for name, p in machine.properties.items()}
    assert units["cycleTimeMean"] == ("second", ("TimeSpan",))
    assert units["mtbf"] == ("hour", ("TimeSpan",))
    assert units["mttr"] == ("hour", ("TimeSpan",))
    assert machine.properties["capacity"].schema.kind == "integer"


@pytest.mark.parametrize(
    ("dtmi", "telemetry", "semantic_type", "unit"),
    [
        (ROOM, "temperature", "Temperature", "degreeCelsius"),
        (MACHINE, "power", "Power", "kilowatt"),
        (MACHINE, "vibration", "Acceleration", "metrePerSecondSquared"),
        ("dtmi:kgtwin:fluid:Pump;1", "flow", "VolumeFlowRate", "cubicMetrePerHour"),
    ],
)
def test_telemetry_has_semantic_types_and_units(
    dtmi: str, telemetry: str, semantic_type: str, unit: str
) -> None:
    found = base_model_set()[dtmi].telemetries[telemetry]
    assert found.cotypes == (semantic_type,)
    assert found.unit == unit


def test_state_and_counts_are_telemetry_of_flow_equipment() -> None:
    models = base_model_set()
    validator = validator_for(models, MACHINE)
    assert validator.validate_telemetry({"state": "starved", "partsProduced": 1200}) == []
    assert validator.validate_telemetry({"state": "asleep"})[0].path == "/state"


def test_feeds_carries_a_routing_probability_for_the_flow_model() -> None:
    models = base_model_set()
    feeds = models["dtmi:kgtwin:production:Source;1"].relationships["feeds"]
    assert feeds.target == "dtmi:kgtwin:asset:Equipment;1"
    assert {p.name for p in feeds.properties} == {"routingProbability", "medium"}
    validator = validator_for(models, "dtmi:kgtwin:production:Buffer;1")
    assert validator.validate_relationship("feeds", {"routingProbability": 0.25, "medium": "material"}) == []


def test_spatial_and_functional_relationships_are_where_the_models_walk_them() -> None:
    models = base_model_set()
    room = models[ROOM].relationships
    assert {"contains", "isPartOf", "hasPoint"} <= room.keys()
    ahu = models["dtmi:kgtwin:hvac:AirHandlingUnit;1"].relationships
    assert {"feeds", "serves", "controls", "locatedIn", "hasPoint"} <= ahu.keys()
    assert ahu["locatedIn"].max_multiplicity == 1
    sensor = models["dtmi:kgtwin:asset:Sensor;1"].relationships
    assert {"isPointOf", "monitors"} <= sensor.keys()


def test_base_models_are_copies_that_a_registry_accepts() -> None:
    docs = base_models()
    docs[0]["@id"] = "dtmi:changed;1"
    assert base_models()[0]["@id"] != "dtmi:changed;1"
    registry = ModelRegistry(InMemoryModelStore())
    registry.upload(base_models())
    assert registry.resolve(MACHINE).ancestors[-1].dtmi == ENTITY
