"""``ontology.parse``: resolved models on success, every violation on failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ontology import (
    DtdlPolicy,
    EnumSchema,
    IssueCode,
    ModelError,
    PrimitiveSchema,
    ValidationFailed,
    parse,
    parse_partial,
)
from tests.ontology.conftest import interface


def test_a_valid_batch_resolves_inheritance_and_schemas(thermostat: list[dict[str, Any]]) -> None:
    models = parse(thermostat)
    t = models["dtmi:com:example:Thermostat;1"]
    assert t.ancestors == ("dtmi:com:example:Device;1",)
    assert set(t.properties) == {"serial", "setPoint", "mode"}
    assert t.properties["setPoint"].writable
    assert t.properties["serial"].defined_in == "dtmi:com:example:Device;1"
    assert t.telemetries["temp"].unit == "degreeCelsius"
    assert t.telemetries["temp"].cotypes == ("Temperature",)
    assert t.relationships["locatedIn"].max_multiplicity == 1
    assert t.commands["reboot"].request is not None
    assert t.commands["reboot"].request.schema == PrimitiveSchema(
        "integer", "dtmi:dtdl:instance:Schema:integer;3"
    )
    mode = t.properties["mode"].schema
    assert isinstance(mode, EnumSchema)
    assert [v.value for v in mode.values] == ["heat", "cool"]
    assert models.is_a("dtmi:com:example:Thermostat;1", "dtmi:com:example:Device;1")


def test_json_strings_are_accepted(thermostat: list[dict[str, Any]]) -> None:
    assert len(parse([json.dumps(d) for d in thermostat])) == 2


def test_a_reference_outside_the_batch_lists_exactly_the_unresolved_dtmis() -> None:
    doc = interface(
        "dtmi:ex:A;1",
        {"@type": "Component", "name": "c", "schema": "dtmi:ex:Missing;1"},
        extends=["dtmi:ex:AlsoMissing;2"],
    )
    with pytest.raises(ModelError) as err:
        parse([doc])
    assert err.value.unresolved == {"dtmi:ex:Missing;1", "dtmi:ex:AlsoMissing;2"}
    assert {e.code for e in err.value.errors} == {IssueCode.REFERENCE_UNRESOLVED}
    assert isinstance(err.value, ValidationFailed)


def test_a_known_model_set_resolves_references_of_a_later_batch(thermostat: list[dict[str, Any]]) -> None:
    first = parse(thermostat[:1])
    models = parse(thermostat[1:], known=first)
    assert "serial" in models["dtmi:com:example:Thermostat;1"].properties


def test_every_violation_of_a_batch_is_reported_with_a_pointer() -> None:
    doc = interface(
        "dtmi:ex:A;1",
        {"@type": "Property", "name": "1bad", "schema": "string"},
        {"@type": "Telemetry", "name": "t"},
        {"@type": "Property", "name": "p", "schema": "string", "writable": "yes"},
    )
    with pytest.raises(ModelError) as err:
        parse([doc])
    found = {(e.path, e.code) for e in err.value.errors}
    assert ("/contents/0/name", IssueCode.PATTERN_MISMATCH) in found
    assert ("/contents/1", IssueCode.PROPERTY_MISSING) in found
    assert ("/contents/2/writable", IssueCode.VALUE_INVALID) in found
    assert all(e.dtmi == "dtmi:ex:A;1" for e in err.value.errors)
    assert err.value.unresolved == frozenset()


def test_names_are_unique_across_an_interface_and_what_it_extends() -> None:
    base = interface("dtmi:ex:Base;1", {"@type": "Property", "name": "x", "schema": "string"})
    child = interface(
        "dtmi:ex:Child;1", {"@type": "Telemetry", "name": "x", "schema": "double"}, extends="dtmi:ex:Base;1"
    )
    with pytest.raises(ModelError) as err:
        parse([base, child])
    assert [e.code for e in err.value.errors] == [IssueCode.NAME_DUPLICATE]


@pytest.mark.parametrize(("version", "limit"), [(2, 10), (3, 10), (4, 12)])
def test_extends_depth_follows_each_version(version: int, limit: int) -> None:
    def chain(n: int) -> list[dict[str, Any]]:
        docs = [interface(f"dtmi:ex:I{i};1", version=version) for i in range(n + 1)]
        for i in range(n):
            docs[i]["extends"] = f"dtmi:ex:I{i + 1};1"
        return docs

    parse(chain(limit))
    with pytest.raises(ModelError) as err:
        parse(chain(limit + 1))
    assert IssueCode.EXTENDS_TOO_DEEP in {e.code for e in err.value.errors}


def test_v4_allows_a_self_referential_schema_and_v3_does_not() -> None:
    def doc(version: int) -> dict[str, Any]:
        node = {
            "@id": "dtmi:ex:Node;1",
            "@type": "Object",
            "fields": [{"name": "next", "schema": "dtmi:ex:Node;1"}, {"name": "v", "schema": "integer"}],
        }
        return interface("dtmi:ex:List;1", version=version, schemas=[node])

    parse([doc(4)])
    with pytest.raises(ModelError) as err:
        parse([doc(3)])
    assert IssueCode.SCHEMA_CYCLE in {e.code for e in err.value.errors}


def test_v4_primitive_schemas_are_not_v3_schemas() -> None:
    prop = {"@type": "Property", "name": "id", "schema": "uuid"}
    assert (
        parse([interface("dtmi:ex:U;1", prop, version=4)])["dtmi:ex:U;1"].properties["id"].schema.kind
        == "uuid"
    )
    with pytest.raises(ModelError):
        parse([interface("dtmi:ex:U;1", prop, version=3)])


def test_a_unit_must_belong_to_the_semantic_type() -> None:
    doc = interface(
        "dtmi:ex:T;1",
        {"@type": ["Telemetry", "Temperature"], "name": "t", "schema": "double", "unit": "metre"},
    )
    doc["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    with pytest.raises(ModelError) as err:
        parse([doc])
    assert [e.path for e in err.value.errors] == ["/contents/0/unit"]


def test_partial_parse_keeps_valid_interfaces_and_drops_dependents_of_broken_ones() -> None:
    broken = interface("dtmi:ex:Broken;1", {"@type": "Property", "name": "p"})
    child = interface("dtmi:ex:Child;1", extends="dtmi:ex:Broken;1")
    fine = interface("dtmi:ex:Fine;1")
    result = parse_partial([broken, child, fine])
    assert not result.valid
    assert set(result.models) == {"dtmi:ex:Fine;1"}
    assert {e.dtmi for e in result.errors} == {"dtmi:ex:Broken;1"}


@pytest.mark.parametrize("version", [3, 4])
def test_undefined_extensions_are_refused_in_v3_and_v4_unless_allowed(version: int) -> None:
    doc = interface("dtmi:ex:E;1", version=version)
    doc["@context"] = [f"dtmi:dtdl:context;{version}", "dtmi:acme:context;1"]
    with pytest.raises(ModelError) as err:
        parse([doc])
    assert err.value.errors[0].code == IssueCode.EXTENSION_UNDEFINED
    assert "dtmi:ex:E;1" in parse([doc], policy=DtdlPolicy(undefined_extensions=True))


def test_a_v2_model_with_an_undefined_extension_is_accepted_unless_refused() -> None:
    # DTDL v2 §Model completeness: contextually incomplete v2 models are accepted by default.
    doc = interface(
        "dtmi:ex:E;1",
        {"@type": ["Property", "Flavor"], "name": "flavoring", "schema": "string", "brand": "Acme"},
        version=2,
    )
    doc["@context"] = ["dtmi:dtdl:context;2", "dtmi:acme:context;1"]
    assert "dtmi:ex:E;1" in parse([doc])
    with pytest.raises(ModelError) as err:
        parse([doc], policy=DtdlPolicy(undefined_extensions=False))
    assert err.value.errors[0].code == IssueCode.EXTENSION_UNDEFINED
    del doc["contents"][0]["@type"][1]  # without the undefined co-type, "brand" is not allowed
    with pytest.raises(ModelError, match="'brand' is not a property of Property"):
        parse([doc])


def test_a_feature_extension_is_known_in_v2_but_its_types_fit_no_v2_element() -> None:
    doc = interface("dtmi:ex:H;1", {"@type": ["Property", "Historized"], "name": "p", "schema": "double"})
    doc["@context"] = ["dtmi:dtdl:context;2", "dtmi:dtdl:extension:historization;1"]
    with pytest.raises(ModelError) as err:
        parse([doc])
    assert [e.code for e in err.value.errors] == [IssueCode.TYPE_NOT_ALLOWED]


def test_iot_central_schemas_serve_v3_properties() -> None:
    doc = interface("dtmi:ex:Tracker;1", {"@type": "Property", "name": "at", "schema": "geopoint"})
    doc["@context"] = ["dtmi:dtdl:context;3", "dtmi:iotcentral:context;2"]
    assert parse([doc])["dtmi:ex:Tracker;1"].properties["at"].schema.dtmi.startswith("dtmi:iotcentral:")
    doc["contents"][0]["@type"] = ["Property", "Location"]  # an IoT Central type fits v2 elements only
    with pytest.raises(ModelError):
        parse([doc])


def test_an_array_in_an_array_is_read_as_its_items() -> None:
    # JSON-LD 1.1 §Expansion: nested arrays are flattened, [["a"]] means ["a"].
    base = interface("dtmi:ex:Base;1", {"@type": "Property", "name": "p", "schema": "double"})
    doc = interface("dtmi:ex:Nested;1", extends=[["dtmi:ex:Base;1"]], displayName=[["Nested"]])
    doc["contents"] = [[{"@type": "Property", "name": "q", "schema": "string", "writable": [[True]]}]]
    nested = parse([base, doc])["dtmi:ex:Nested;1"]
    assert nested.extends == ("dtmi:ex:Base;1",)
    assert nested.properties["q"].writable
    assert set(nested.properties) == {"p", "q"}


def test_a_component_inherited_by_a_component_schema_is_nested() -> None:
    # DTDL v3 §Component: the schema "may not contain nested Component in hierarchy".
    part = interface("dtmi:ex:Part;1")
    base = interface("dtmi:ex:Base;1", {"@type": "Component", "name": "part", "schema": "dtmi:ex:Part;1"})
    module = interface("dtmi:ex:Module;1", extends="dtmi:ex:Base;1")
    machine = interface(
        "dtmi:ex:Machine;1", {"@type": "Component", "name": "m", "schema": "dtmi:ex:Module;1"}
    )
    with pytest.raises(ModelError) as err:
        parse([part, base, module, machine])
    assert [(e.dtmi, e.code) for e in err.value.errors] == [("dtmi:ex:Machine;1", IssueCode.COMPONENT_NESTED)]


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        *[(code, True) for code in ("en", "zh-Hant-TW", "es-419", "unit")],
        *[(code, False) for code in ("EN", "en-GB-oed", "x-private", "english", "en_US")],
    ],
)
def test_language_codes_follow_the_expression_of_the_specification(code: str, valid: bool) -> None:
    # DTDL v3 Specification §Localizable string: ^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$
    doc = interface("dtmi:ex:L;1", displayName={"en": "Pump", code: "Pumpe"})
    if valid:
        parse([doc])
    else:
        with pytest.raises(ModelError) as err:
            parse([doc])
        assert [e.code for e in err.value.errors] == [IssueCode.LANGUAGE_INVALID]


def test_an_enum_adds_no_level_of_schema_nesting() -> None:
    schema: Any = {
        "@type": "Enum",
        "valueSchema": "string",
        "enumValues": [{"name": "on", "enumValue": "on"}],
    }
    for _ in range(5):  # five levels, the v3 limit, around the Enum
        schema = {"@type": "Array", "elementSchema": schema}
    parse([interface("dtmi:ex:D;1", {"@type": "Telemetry", "name": "t", "schema": schema})])
    schema = {"@type": "Array", "elementSchema": schema}
    with pytest.raises(ModelError) as err:
        parse([interface("dtmi:ex:D;1", {"@type": "Telemetry", "name": "t", "schema": schema})])
    assert [e.code for e in err.value.errors] == [IssueCode.SCHEMA_TOO_DEEP]


def test_a_relationship_target_is_a_dtmi_string_not_an_object() -> None:
    target = {"@id": "dtmi:ex:Room;1", "@type": "Interface"}
    doc = interface("dtmi:ex:Pump;1", {"@type": "Relationship", "name": "in", "target": target})
    with pytest.raises(ModelError) as err:
        parse([doc])
    assert [(e.path, e.code) for e in err.value.errors] == [("/contents/0/target", IssueCode.VALUE_INVALID)]


def test_a_dtdl_context_after_an_extension_context_is_an_error() -> None:
    doc = interface("dtmi:ex:Pump;1")
    doc["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:context;3"]  # repeated: discouraged, not wrong
    parse([doc])
    doc["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:historization;1", "dtmi:dtdl:context;3"]
    with pytest.raises(ModelError, match="follows an extension context"):
        parse([doc])


def test_v2_counts_inherited_contents_against_the_300_limit() -> None:
    def properties(prefix: str, count: int) -> list[dict[str, Any]]:
        return [{"@type": "Property", "name": f"{prefix}{i}", "schema": "double"} for i in range(count)]

    base = interface("dtmi:ex:Base;1", *properties("b", 2), version=2)
    child = interface("dtmi:ex:Child;1", *properties("c", 298), version=2, extends="dtmi:ex:Base;1")
    parse([base, child])
    child["contents"].append({"@type": "Property", "name": "one_more", "schema": "double"})
    with pytest.raises(ModelError) as err:
        parse([base, child])
    assert [(e.dtmi, e.code) for e in err.value.errors] == [("dtmi:ex:Child;1", IssueCode.TOO_MANY_VALUES)]
