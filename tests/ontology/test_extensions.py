"""Feature extensions: QuantitativeTypes, Annotation, Overriding, Historization, MQTT, Requirement, limits."""

from __future__ import annotations

from typing import Any

import pytest

from ontology import IssueCode, ModelError, parse
from tests.ontology.conftest import interface

V3_ALL = [
    "dtmi:dtdl:context;3",
    "dtmi:dtdl:extension:quantitativeTypes;1",
    "dtmi:dtdl:extension:annotation;1",
    "dtmi:dtdl:extension:overriding;1",
    "dtmi:dtdl:extension:historization;1",
    "dtmi:dtdl:extension:mqtt;1",
]


def sensor(*extra: dict[str, Any]) -> dict[str, Any]:
    doc = interface(
        "dtmi:ex:Sensor;1",
        {
            "@type": ["Telemetry", "Temperature", "Historized"],
            "name": "temp",
            "schema": "double",
            "unit": "degreeFahrenheit",
        },
        *extra,
    )
    doc["@context"] = V3_ALL
    return doc


def codes(doc: dict[str, Any]) -> list[IssueCode]:
    with pytest.raises(ModelError) as err:
        parse([doc])
    return [e.code for e in err.value.errors]


def test_annotation_and_override_of_a_sibling_are_accepted() -> None:
    parse(
        [
            sensor(
                {
                    "@type": ["Property", "ValueAnnotation", "Override"],
                    "name": "tempUnit",
                    "annotates": "temp",
                    "overrides": "unit",
                    "schema": "string",
                }
            )
        ]
    )


def test_an_annotation_must_name_a_sibling() -> None:
    doc = sensor(
        {"@type": ["Property", "ValueAnnotation"], "name": "a", "annotates": "missing", "schema": "string"}
    )
    assert codes(doc) == [IssueCode.SIBLING_INVALID]


def test_an_override_must_name_an_extension_property_of_the_sibling() -> None:
    doc = sensor(
        {
            "@type": ["Property", "ValueAnnotation", "Override"],
            "name": "o",
            "annotates": "temp",
            "overrides": "schema",
            "schema": "string",
        }
    )
    assert codes(doc) == [IssueCode.SIBLING_INVALID]


def test_a_semantic_type_needs_a_numeric_schema_and_a_unit() -> None:
    assert codes(
        sensor({"@type": ["Property", "Length"], "name": "l", "schema": "string", "unit": "metre"})
    ) == [IssueCode.TYPE_NOT_ALLOWED]
    assert codes(sensor({"@type": ["Property", "Length"], "name": "l", "schema": "double"})) == [
        IssueCode.PROPERTY_MISSING
    ]


def test_historized_only_applies_to_properties_and_telemetry() -> None:
    assert IssueCode.TYPE_NOT_ALLOWED in codes(sensor({"@type": ["Command", "Historized"], "name": "c"}))


def test_requirement_marks_fields_required_in_v4_only_on_fields() -> None:
    doc = interface(
        "dtmi:ex:R;1",
        {"@type": ["Property", "Required"], "name": "p", "schema": "string"},
        version=4,
    )
    doc["@context"] = ["dtmi:dtdl:context;4", "dtmi:dtdl:extension:requirement;1"]
    assert codes(doc) == [IssueCode.TYPE_NOT_ALLOWED]


def test_onvif_limits_raise_the_schema_depth_to_24() -> None:
    schema: dict[str, Any] = {"@type": "Array", "elementSchema": "string"}
    for _ in range(20):
        schema = {"@type": "Array", "elementSchema": schema}
    doc = interface("dtmi:ex:Deep;1", {"@type": "Telemetry", "name": "t", "schema": schema}, version=4)
    assert IssueCode.SCHEMA_TOO_DEEP in codes(doc)
    doc["@context"] = ["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:limits:onvif;1"]
    parse([doc])


def test_v2_semantic_types_come_with_their_units() -> None:
    ok = interface(
        "dtmi:ex:V2;1",
        {"@type": ["Telemetry", "Luminosity"], "name": "l", "schema": "double", "unit": "watt"},
        version=2,
    )
    parse([ok])
    ok["contents"][0]["unit"] = "lumen"
    assert codes(ok) == [IssueCode.VALUE_INVALID]


def test_iot_central_location_narrows_the_schema_to_geospatial_values() -> None:
    doc = interface(
        "dtmi:ex:Tracker;1",
        {"@type": ["Telemetry", "Location"], "name": "loc", "schema": "geopoint"},
        version=2,
    )
    doc["@context"] = ["dtmi:dtdl:context;2", "dtmi:iotcentral:context;2"]
    parse([doc])
    doc["contents"][0]["schema"] = "string"
    assert codes(doc) == [IssueCode.VALUE_INVALID]
