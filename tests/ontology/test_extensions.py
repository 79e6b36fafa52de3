"""Feature extensions: QuantitativeTypes, Annotation, Overriding, Historization, MQTT, Requirement, limits."""

from __future__ import annotations

from typing import Any

import pytest

from ontology import DtdlPolicy, EnumSchema, IssueCode, ModelError, parse, validator_for
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
                    "schema": "TemperatureUnit",
                }
            )
        ]
    )


def override(schema: Any, *, version: int = 3) -> dict[str, Any]:
    """The Overriding example (DTDL v3 §Override examples): a unit override with ``schema``."""
    doc = interface(
        "dtmi:com:example:Sensor;1",
        {
            "@type": ["Telemetry", "Temperature"],
            "name": "currentTemp",
            "schema": "double",
            "unit": "degreeFahrenheit",
        },
        {
            "@type": ["Property", "ValueAnnotation", "Override"],
            "name": "currentTempUnit",
            "annotates": "currentTemp",
            "overrides": "unit",
            "schema": schema,
            "writable": True,
        },
        version=version,
    )
    extensions = ["quantitativeTypes;1", "annotation;1", "overriding;1"]
    if version == 4:
        extensions = ["quantitativeTypes;2", "annotation;2", "overriding;2"]
    doc["@context"] = [f"dtmi:dtdl:context;{version}", *(f"dtmi:dtdl:extension:{e}" for e in extensions)]
    return doc


@pytest.mark.parametrize("version", [3, 4])
def test_an_override_of_a_unit_takes_the_unit_type_as_schema(version: int) -> None:
    models = parse([override("TemperatureUnit", version=version)])
    schema = models["dtmi:com:example:Sensor;1"].contents["currentTempUnit"].schema
    assert isinstance(schema, EnumSchema)
    assert schema.dtmi.endswith(":enum:TemperatureUnit")
    validator = validator_for(models, "dtmi:com:example:Sensor;1")
    assert validator.validate_properties({"currentTempUnit": "degreeCelsius"}) == []
    assert [i.code for i in validator.validate_properties({"currentTempUnit": "pascal"})] == ["VALUE_INVALID"]


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize(
    "schema",
    [
        "string",
        "PressureUnit",
        {"@type": "Enum", "valueSchema": "string", "enumValues": [{"name": "k", "enumValue": "k"}]},
    ],
)
def test_an_override_schema_must_match_the_overridden_property(schema: Any, version: int) -> None:
    with pytest.raises(ModelError) as err:
        parse([override(schema, version=version)])
    [issue] = err.value.errors
    assert issue.code == IssueCode.TYPE_NOT_ALLOWED
    assert issue.path == "/contents/1/schema"
    assert "must be TemperatureUnit" in issue.message


def test_an_override_may_name_a_property_of_an_extended_interface() -> None:
    base = interface(
        "dtmi:com:example:BaseSensor;1",
        {"@type": ["Telemetry", "Temperature"], "name": "currentTemp", "schema": "double", "unit": "kelvin"},
    )
    base["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    sensor_doc = override("TemperatureUnit")
    sensor_doc["contents"] = sensor_doc["contents"][1:]
    sensor_doc["extends"] = "dtmi:com:example:BaseSensor;1"
    parse([base, sensor_doc])
    sensor_doc["contents"][0]["schema"] = "LengthUnit"
    with pytest.raises(ModelError, match="must be TemperatureUnit, not LengthUnit"):
        parse([base, sensor_doc])


def test_an_annotation_must_name_a_property_or_telemetry() -> None:
    doc = sensor(
        {"@type": "Relationship", "name": "next"},
        {"@type": ["Property", "ValueAnnotation"], "name": "a", "annotates": "next", "schema": "string"},
    )
    assert codes(doc) == [IssueCode.SIBLING_INVALID]


def test_an_annotation_of_a_name_no_sibling_has_is_accepted() -> None:
    # Microsoft's DTDLParser checks the annotated sibling only when there is one.
    doc = sensor(
        {"@type": ["Property", "ValueAnnotation"], "name": "a", "annotates": "missing", "schema": "string"}
    )
    assert "dtmi:ex:Sensor;1" in parse([doc])


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


def test_onvif_limits_raise_the_schema_depth_to_24_where_accepted() -> None:
    schema: dict[str, Any] = {"@type": "Array", "elementSchema": "string"}
    for _ in range(20):
        schema = {"@type": "Array", "elementSchema": schema}
    doc = interface("dtmi:ex:Deep;1", {"@type": "Telemetry", "name": "t", "schema": schema}, version=4)
    assert IssueCode.SCHEMA_TOO_DEEP in codes(doc)
    doc["@context"] = ["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:limits:onvif;1"]
    parse([doc], policy=DtdlPolicy(limit_extensions=frozenset({"dtmi:dtdl:limits:onvif"})))
    # DTDL Extensions §Limit extensions: no service must accept one; by default kgtwin does not.
    with pytest.raises(ModelError, match="limit extension 'dtmi:dtdl:limits:onvif;1' is not accepted"):
        parse([doc])


def test_mqtt_v3_is_an_undefined_extension_unless_recognized() -> None:
    # Published after Microsoft's DTDLParser 1.1.3, which reads it as an unknown context.
    doc = interface("dtmi:ex:Q;1", version=4)
    doc["@context"] = ["dtmi:dtdl:context;4", "dtmi:dtdl:extension:mqtt;3"]
    assert codes(doc) == [IssueCode.EXTENSION_UNDEFINED]
    parse([doc], policy=DtdlPolicy(later_extensions=frozenset({"dtmi:dtdl:extension:mqtt;3"})))


def test_a_policy_names_only_extensions_kgtwin_ships() -> None:
    with pytest.raises(ValueError, match="unknown limit extension"):
        DtdlPolicy(limit_extensions=frozenset({"dtmi:dtdl:limits:acme"}))


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


def test_a_unit_type_is_not_a_unit() -> None:
    doc = override("TemperatureUnit")
    doc["contents"][0]["unit"] = "TemperatureUnit"
    with pytest.raises(ModelError, match="must name a unit of TemperatureUnit, and TemperatureUnit is not"):
        parse([doc])


def test_byte_stays_the_v4_schema_under_quantitative_types() -> None:
    # QuantitativeTypes v2 defines the unit "byte"; the DTDL context's schema "byte" keeps
    # the term, as Microsoft's DTDLParser reads it, and the unit is written as its DTMI.
    context = ["dtmi:dtdl:context;4", "dtmi:dtdl:extension:quantitativeTypes;2"]
    counter = interface("dtmi:ex:C;1", {"@type": "Property", "name": "n", "schema": "byte"}, version=4)
    counter["@context"] = context
    assert parse([counter])["dtmi:ex:C;1"].properties["n"].schema.kind == "byte"
    memory = {"@type": ["Property", "DataSize"], "name": "m", "schema": "double", "unit": "byte"}
    sized = interface("dtmi:ex:M;1", memory, version=4)
    sized["@context"] = context
    assert codes(sized) == [IssueCode.VALUE_INVALID]
    memory["unit"] = "dtmi:dtdl:extension:quantitativeTypes:v2:unit:byte"
    assert parse([sized])["dtmi:ex:M;1"].properties["m"].unit == "byte"


def test_a_v2_semantic_type_does_not_apply_to_a_relationship() -> None:
    # DTDL v2 §Semantic Type: semantic types "can be applied to Properties and Telemetries".
    doc = interface(
        "dtmi:ex:Pipe;1",
        {"@type": ["Relationship", "Length"], "name": "feeds", "unit": "metre"},
        version=2,
    )
    assert IssueCode.TYPE_NOT_ALLOWED in codes(doc)


def test_iot_central_context_may_come_before_the_dtdl_context() -> None:
    # IoT Central exports its models so; a feature extension's context may not come first.
    doc = interface(
        "dtmi:ex:Tracker;1", {"@type": ["Telemetry", "Location"], "name": "at", "schema": "geopoint"}
    )
    doc["@context"] = ["dtmi:iotcentral:context;2", "dtmi:dtdl:context;2"]
    parse([doc])
    doc["@context"] = ["dtmi:dtdl:extension:historization;1", "dtmi:dtdl:context;2"]
    assert codes(doc) == [IssueCode.CONTEXT_MISSING]
    doc["@context"] = ["dtmi:iotcentral:context;2"]
    assert codes(doc) == [IssueCode.CONTEXT_MISSING]
