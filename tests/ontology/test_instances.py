"""Twin data is checked against its Interface by compiled, cached validators."""

from __future__ import annotations

from typing import Any

import pytest

from ontology import InstanceInvalid, ModelSet, parse, validator_for
from tests.ontology.conftest import interface


@pytest.fixture
def models() -> ModelSet:
    node = {
        "@id": "dtmi:ex:Node;1",
        "@type": "Object",
        "fields": [{"name": "next", "schema": "dtmi:ex:Node;1"}, {"name": "v", "schema": "integer"}],
    }
    pump = interface(
        "dtmi:ex:Pump;1",
        {"@type": "Property", "name": "speed", "schema": "double", "writable": True},
        {"@type": "Property", "name": "count", "schema": "integer"},
        {"@type": "Property", "name": "since", "schema": "dateTime"},
        {"@type": "Property", "name": "id", "schema": "uuid"},
        {"@type": "Property", "name": "small", "schema": "unsignedByte"},
        {"@type": "Property", "name": "money", "schema": "scaledDecimal"},
        {"@type": "Property", "name": "chain", "schema": "dtmi:ex:Node;1"},
        {
            "@type": "Property",
            "name": "tags",
            "schema": {
                "@type": "Map",
                "mapKey": {"name": "k", "schema": "string"},
                "mapValue": {"name": "v", "schema": "string"},
            },
        },
        {"@type": "Property", "name": "history", "schema": {"@type": "Array", "elementSchema": "boolean"}},
        {
            "@type": "Property",
            "name": "state",
            "schema": {
                "@type": "Enum",
                "valueSchema": "integer",
                "enumValues": [{"name": "on", "enumValue": 1}],
            },
        },
        {
            "@type": ["Property"],
            "name": "req",
            "schema": {
                "@type": "Object",
                "fields": [{"@type": ["Field", "Required"], "name": "must", "schema": "string"}],
            },
        },
        {"@type": "Telemetry", "name": "flow", "schema": "float"},
        {
            "@type": "Relationship",
            "name": "feeds",
            "properties": [{"@type": "Property", "name": "since", "schema": "date"}],
        },
        {"@type": "Component", "name": "motor", "schema": "dtmi:ex:Motor;1"},
        version=4,
        schemas=[node],
    )
    pump["@context"] = ["dtmi:dtdl:context;4", "dtmi:dtdl:extension:requirement;1"]
    motor = interface("dtmi:ex:Motor;1", {"@type": "Property", "name": "rpm", "schema": "long"}, version=4)
    return parse([pump, motor])


GOOD: dict[str, Any] = {
    "$dtId": "pump-1",
    "speed": 2.5,
    "count": 3,
    "since": "2024-02-29T10:00:00.5+01:00",
    "id": "123e4567-e89b-12d3-a456-426614174000",
    "small": 255,
    "money": {"scale": 7, "value": "1234.56"},
    "chain": {"v": 1, "next": {"v": 2}},
    "tags": {"a": "b"},
    "history": [True, False],
    "state": 1,
    "req": {"must": "x"},
    "motor": {"$metadata": {}, "rpm": 3000},
}


def test_a_valid_twin_has_no_issues(models: ModelSet) -> None:
    assert validator_for(models, "dtmi:ex:Pump;1").validate_properties(GOOD) == []


@pytest.mark.parametrize(
    ("name", "value", "path"),
    [
        ("speed", "fast", "/speed"),
        ("speed", float("nan"), "/speed"),
        ("count", 2**31, "/count"),
        ("count", True, "/count"),
        ("since", "2024-02-30T10:00:00Z", "/since"),
        ("id", "not-a-uuid", "/id"),
        ("small", 256, "/small"),
        ("money", {"scale": 1, "value": "1.2.3"}, "/money/value"),
        ("chain", {"v": 1, "next": {"v": "2"}}, "/chain/next/v"),
        ("tags", {"a/b": 1}, "/tags/a~1b"),
        ("history", [True, 1], "/history/1"),
        ("state", 2, "/state"),
        ("req", {}, "/req"),
        ("motor", {"rpm": 1.5}, "/motor/rpm"),
        ("unknown", 1, "/unknown"),
    ],
)
def test_each_bad_value_is_named_by_its_pointer(models: ModelSet, name: str, value: Any, path: str) -> None:
    issues = validator_for(models, "dtmi:ex:Pump;1").validate_properties({**GOOD, name: value})
    assert [i.path for i in issues] == [path]


def test_check_properties_raises_a_validation_error(models: ModelSet) -> None:
    with pytest.raises(InstanceInvalid) as err:
        validator_for(models, "dtmi:ex:Pump;1").check_properties({"count": "x"})
    assert err.value.details["errors"][0]["path"] == "/count"


def test_telemetry_and_relationship_properties_are_validated(models: ModelSet) -> None:
    v = validator_for(models, "dtmi:ex:Pump;1")
    assert v.validate_telemetry({"flow": 1.0}) == []
    assert [i.code for i in v.validate_telemetry({"flow": 1e39, "x": 1})] == [
        "VALUE_INVALID",
        "TELEMETRY_UNKNOWN",
    ]
    assert v.validate_relationship("feeds", {"since": "2024-01-01"}) == []
    assert [i.path for i in v.validate_relationship("feeds", {"since": "yesterday"})] == ["/since"]
    assert v.validate_relationship("nope", {})[0].code == "RELATIONSHIP_UNKNOWN"
    assert v.is_writable("speed")
    assert not v.is_writable("count")


def test_validators_are_compiled_once_per_interface(models: ModelSet) -> None:
    assert validator_for(models, "dtmi:ex:Pump;1") is validator_for(models, "dtmi:ex:Pump;1")


def test_data_nested_deeper_than_the_stack_is_refused_not_raised(models: ModelSet) -> None:
    value: dict[str, Any] = {"v": 1}
    for _ in range(100_000):
        value = {"v": 1, "next": value}
    issues = validator_for(models, "dtmi:ex:Pump;1").validate_properties({"chain": value})
    assert [i.code for i in issues] == ["VALUE_TOO_DEEP"]


def test_command_payloads_follow_their_schema_and_v4_nullable() -> None:
    doc = interface(
        "dtmi:ex:Cmd;1",
        {
            "@type": "Command",
            "name": "go",
            "request": {"name": "speed", "schema": "double", "nullable": True},
            "response": {"name": "ok", "schema": "boolean"},
        },
        {"@type": "Command", "name": "stop"},
        version=4,
    )
    v = validator_for(parse([doc]), "dtmi:ex:Cmd;1")
    assert v.validate_command("go", 1.5) == []
    assert v.validate_command("go", None) == []
    assert v.validate_command("go", None, response=True)[0].code == "VALUE_INVALID"
    assert v.validate_command("stop", None) == []
    assert v.validate_command("stop", 1)[0].code == "VALUE_INVALID"
    assert v.validate_command("nope", None)[0].code == "COMMAND_UNKNOWN"


def test_model_sets_merge_for_a_registry(models: ModelSet) -> None:
    other = parse([interface("dtmi:ex:Other;1")])
    merged = models.merged(other)
    assert set(merged) == set(models) | {"dtmi:ex:Other;1"}
    later = parse([interface("dtmi:ex:Later;1", extends="dtmi:ex:Other;1")], known=merged)
    assert later["dtmi:ex:Later;1"].ancestors == ("dtmi:ex:Other;1",)
