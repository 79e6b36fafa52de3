"""The model registry: all-or-nothing uploads, versions, decommissioning, deletion, evolution."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ontology import (
    Conflict,
    InMemoryModelStore,
    ModelError,
    ModelRegistry,
    NotFound,
    validator_for,
)
from tests.ontology.conftest import interface

NO_TWINS = {"twin_count": lambda dtmi: 0}
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def pump(version: int, *contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return interface(f"dtmi:x:Pump;{version}", *contents, **extra)


def prop(name: str, schema: Any) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema, "writable": True}


@pytest.fixture
def registry() -> ModelRegistry:
    """A registry holding Asset <- Pump;1 and a Site that uses a Pump as a Component."""
    reg = ModelRegistry(InMemoryModelStore(), clock=lambda: WHEN)
    reg.upload(
        [
            interface("dtmi:x:Asset;1", prop("serial", "string")),
            pump(1, prop("speed", "double"), prop("mode", "string"), extends="dtmi:x:Asset;1"),
        ]
    )
    return reg


def test_an_upload_is_stored_with_its_time_and_can_be_read_back(registry: ModelRegistry) -> None:
    [stored] = registry.get("dtmi:x:Pump;1")
    assert stored.uploaded_at == WHEN
    assert not stored.decommissioned
    assert stored.document["@id"] == "dtmi:x:Pump;1"
    assert [m.dtmi for m in registry.list()] == ["dtmi:x:Asset;1", "dtmi:x:Pump;1"]


def test_a_batch_may_build_on_models_uploaded_before(registry: ModelRegistry) -> None:
    registry.upload([interface("dtmi:x:BigPump;1", prop("stages", "integer"), extends="dtmi:x:Pump;1")])
    assert registry.models["dtmi:x:BigPump;1"].ancestors == ("dtmi:x:Pump;1", "dtmi:x:Asset;1")


def test_a_batch_with_one_bad_model_stores_nothing(registry: ModelRegistry) -> None:
    good = interface("dtmi:x:Valve;1", prop("open", "boolean"))
    bad = interface("dtmi:x:Motor;1", prop("rpm", "dtmi:x:Nowhere;1"))
    with pytest.raises(ModelError) as caught:
        registry.upload([good, bad])
    assert caught.value.errors[0].document == 1
    assert "dtmi:x:Valve;1" not in registry.models
    assert [m.dtmi for m in registry.list()] == ["dtmi:x:Asset;1", "dtmi:x:Pump;1"]


def test_reuploading_a_registered_dtmi_is_a_conflict(registry: ModelRegistry) -> None:
    with pytest.raises(Conflict) as caught:
        registry.upload([interface("dtmi:x:Fan;1"), pump(1, prop("speed", "integer"))])
    assert caught.value.details["dtmis"] == ["dtmi:x:Pump;1"]
    assert "dtmi:x:Fan;1" not in registry.models


def test_versions_of_one_model_coexist(registry: ModelRegistry) -> None:
    registry.upload([pump(2, prop("speed", "double"), extends="dtmi:x:Asset;1")])
    registry.upload([pump(10, extends="dtmi:x:Asset;1")])
    assert registry.versions("dtmi:x:Pump") == ["dtmi:x:Pump;1", "dtmi:x:Pump;2", "dtmi:x:Pump;10"]
    assert "mode" in registry.models["dtmi:x:Pump;1"].properties
    assert "mode" not in registry.models["dtmi:x:Pump;2"].properties


def test_json_text_and_arrays_are_stored_one_model_per_interface() -> None:
    registry = ModelRegistry(InMemoryModelStore())
    text = json.dumps([interface("dtmi:x:A;1"), interface("dtmi:x:B;1", extends="dtmi:x:A;1")])
    stored = registry.upload([text])
    assert [m.dtmi for m in stored] == ["dtmi:x:A;1", "dtmi:x:B;1"]
    assert registry.get("dtmi:x:B;1")[0].document["extends"] == "dtmi:x:A;1"


def test_get_with_dependencies_lists_what_the_model_needs(registry: ModelRegistry) -> None:
    registry.upload(
        [
            interface("dtmi:x:Motor;1", prop("rpm", "double")),
            interface(
                "dtmi:x:Skid;1",
                {"@type": "Component", "name": "motor", "schema": "dtmi:x:Motor;1"},
                extends="dtmi:x:Pump;1",
            ),
        ]
    )
    assert [m.dtmi for m in registry.get("dtmi:x:Skid;1")] == ["dtmi:x:Skid;1"]
    found = [m.dtmi for m in registry.get("dtmi:x:Skid;1", include_dependencies=True)]
    assert found[0] == "dtmi:x:Skid;1"
    assert sorted(found[1:]) == ["dtmi:x:Asset;1", "dtmi:x:Motor;1", "dtmi:x:Pump;1"]
    listed = registry.list(dependencies_for=["dtmi:x:Pump;1"])
    assert [m.dtmi for m in listed] == ["dtmi:x:Asset;1", "dtmi:x:Pump;1"]


def test_an_unknown_model_is_not_found(registry: ModelRegistry) -> None:
    for call in (
        lambda: registry.get("dtmi:x:Nope;1"),
        lambda: registry.resolve("dtmi:x:Nope;1"),
        lambda: registry.decommission("dtmi:x:Nope;1"),
        lambda: registry.delete("dtmi:x:Nope;1", **NO_TWINS),
        lambda: registry.ensure_instantiable("dtmi:x:Nope;1"),
    ):
        with pytest.raises(NotFound):
            call()


def test_a_decommissioned_model_gets_no_new_twins_but_stays_registered(registry: ModelRegistry) -> None:
    assert registry.ensure_instantiable("dtmi:x:Pump;1").dtmi == "dtmi:x:Pump;1"
    assert registry.decommission("dtmi:x:Pump;1").decommissioned
    with pytest.raises(Conflict) as caught:
        registry.ensure_instantiable("dtmi:x:Pump;1")
    assert caught.value.details["reason"] == "DECOMMISSIONED"
    assert "dtmi:x:Pump;1" in registry.models
    assert registry.resolve("dtmi:x:Pump;1").decommissioned
    assert [m.dtmi for m in registry.list(include_decommissioned=False)] == ["dtmi:x:Asset;1"]


def test_delete_is_refused_while_another_model_extends_it(registry: ModelRegistry) -> None:
    with pytest.raises(Conflict) as caught:
        registry.delete("dtmi:x:Asset;1", **NO_TWINS)
    assert caught.value.details["dependents"] == ["dtmi:x:Pump;1"]


def test_delete_is_refused_while_twins_use_it(registry: ModelRegistry) -> None:
    with pytest.raises(Conflict) as caught:
        registry.delete("dtmi:x:Pump;1", twin_count=lambda dtmi: 3 if dtmi == "dtmi:x:Pump;1" else 0)
    assert caught.value.details == {"dtmi": "dtmi:x:Pump;1", "reason": "TWINS_EXIST", "twins": 3}


def test_a_deleted_model_is_gone_and_may_be_uploaded_again(registry: ModelRegistry) -> None:
    registry.delete("dtmi:x:Pump;1", **NO_TWINS)
    assert "dtmi:x:Pump;1" not in registry.models
    registry.delete("dtmi:x:Asset;1", **NO_TWINS)
    assert registry.list() == []
    registry.upload([pump(1, prop("flow", "double"))])
    assert list(registry.models["dtmi:x:Pump;1"].properties) == ["flow"]


def test_a_registry_reloads_what_its_store_holds() -> None:
    store = InMemoryModelStore()
    first = ModelRegistry(store)
    first.upload([interface("dtmi:x:A;1", prop("p", "double"))])
    first.upload([interface("dtmi:x:B;1", extends="dtmi:x:A;1")])
    first.decommission("dtmi:x:A;1")
    second = ModelRegistry(store)
    assert second.models["dtmi:x:B;1"].properties.keys() == {"p"}
    assert second.resolve("dtmi:x:A;1").decommissioned


def test_resolve_flattens_inherited_contents_and_writes_schemas_out(registry: ModelRegistry) -> None:
    registry.upload(
        [
            pump(
                3,
                prop("limits", {"@type": "Object", "fields": [{"name": "max", "schema": "double"}]}),
                prop("state", "dtmi:x:State;1"),
                extends="dtmi:x:Asset;1",
                schemas=[
                    {
                        "@id": "dtmi:x:State;1",
                        "@type": "Enum",
                        "valueSchema": "string",
                        "enumValues": [{"name": "on", "enumValue": "on"}],
                    }
                ],
            )
        ]
    )
    resolved = registry.resolve("dtmi:x:Pump;3")
    assert [a.dtmi for a in resolved.ancestors] == ["dtmi:x:Asset;1"]
    data = resolved.to_dict()
    assert data["ancestors"] == ["dtmi:x:Asset;1"]
    contents = {c["name"]: c for c in data["contents"]}
    assert contents["serial"]["definedIn"] == "dtmi:x:Asset;1"
    assert contents["limits"]["schema"]["fields"] == [{"name": "max", "schema": "double"}]
    assert contents["state"]["schema"]["enumValues"] == [{"name": "on", "enumValue": "on"}]
    assert contents["state"]["schema"]["@id"] == "dtmi:x:State;1"


def test_evolution_reports_dropped_and_retyped_properties_per_twin(registry: ModelRegistry) -> None:
    registry.upload([pump(2, prop("speed", "integer"), prop("flow", "double"), extends="dtmi:x:Asset;1")])
    report = registry.evolution_report(
        "dtmi:x:Pump;1",
        "dtmi:x:Pump;2",
        [
            ("p1", {"$dtId": "p1", "serial": "A", "speed": 3}),
            ("p2", {"serial": "B", "speed": 2.5, "mode": "eco"}),
        ],
    )
    assert report.diff.removed == ("mode",)
    assert report.diff.added == ("flow",)
    assert report.diff.retyped == ("speed",)
    assert not report.diff.compatible
    ok, blocked = report.twins
    assert ok.valid
    assert (ok.dropped, ok.retyped) == ((), ())
    assert not blocked.valid
    assert blocked.dropped == ("mode",)
    assert blocked.retyped == ("speed",)
    assert report.blocked == (blocked,)
    assert not report.ready
    assert report.to_dict()["twins"][1]["dropped"] == ["mode"]


def test_evolution_names_the_relationships_and_telemetry_a_new_version_drops(registry: ModelRegistry) -> None:
    feeds = {"@type": "Relationship", "name": "feeds"}
    flow = {"@type": "Telemetry", "name": "flow", "schema": "double"}
    registry.upload([pump(2, feeds, flow), pump(3)])
    diff = registry.evolution_report("dtmi:x:Pump;2", "dtmi:x:Pump;3", []).diff
    assert diff.removed_relationships == ("feeds",)
    assert diff.removed_telemetry == ("flow",)


def test_evolution_reports_required_fields_a_twin_lacks() -> None:
    registry = ModelRegistry(InMemoryModelStore())
    limits_v2 = {
        "@type": "Object",
        "fields": [
            {"name": "max", "schema": "double"},
            {"@type": ["Field", "Required"], "name": "min", "schema": "double"},
        ],
    }
    limits_v1 = {"@type": "Object", "fields": limits_v2["fields"][:1]}
    old = interface("dtmi:x:Pump;1", prop("limits", limits_v1), version=4)
    new = interface("dtmi:x:Pump;2", prop("limits", limits_v2), version=4)
    new["@context"] = ["dtmi:dtdl:context;4", "dtmi:dtdl:extension:requirement;1"]
    registry.upload([old, new])
    report = registry.evolution_report("dtmi:x:Pump;1", "dtmi:x:Pump;2", [("p1", {"limits": {"max": 1.0}})])
    [twin] = report.twins
    assert twin.missing == ("/limits/min",)
    assert twin.retyped == ("limits",)
    assert not twin.valid


def test_identical_versions_are_compatible_and_every_twin_is_ready(registry: ModelRegistry) -> None:
    registry.upload([pump(2, prop("speed", "double"), prop("mode", "string"), extends="dtmi:x:Asset;1")])
    report = registry.evolution_report("dtmi:x:Pump;1", "dtmi:x:Pump;2", [("p1", {"speed": 1.0})])
    assert report.diff.compatible
    assert report.ready


SCHEMAS = ["double", "integer", "string", "boolean", "dtmi:x:Undefined;1"]


models = st.tuples(st.sampled_from(["A", "B", "Pump"]), st.sampled_from([1, 2]), st.sampled_from(SCHEMAS))


@given(st.lists(models, max_size=4))
def test_an_upload_stores_all_of_its_models_or_none(batch: list[tuple[str, int, str]]) -> None:
    registry = ModelRegistry(InMemoryModelStore())
    registry.upload([pump(1, prop("speed", "double"))])
    docs = [interface(f"dtmi:x:{name};{version}", prop("p", schema)) for name, version, schema in batch]
    before = [m.dtmi for m in registry.list()]
    try:
        registry.upload(docs)
    except (ModelError, Conflict):
        assert [m.dtmi for m in registry.list()] == before
        assert set(registry.models) == set(before)
    else:
        assert [m.dtmi for m in registry.list()] == before + [d["@id"] for d in docs]
        assert set(registry.models) == {*before, *(d["@id"] for d in docs)}


twin_values = st.one_of(st.floats(allow_nan=False), st.integers(), st.text(max_size=3), st.booleans())


@given(st.dictionaries(st.sampled_from(["serial", "speed", "mode", "other"]), twin_values, max_size=4))
def test_a_twin_is_ready_for_an_identical_version_exactly_when_it_is_valid_today(
    properties: dict[str, Any],
) -> None:
    registry = ModelRegistry(InMemoryModelStore())
    same = (prop("speed", "double"), prop("mode", "string"))
    registry.upload([pump(1, *same), pump(2, *same)])
    [twin] = registry.evolution_report("dtmi:x:Pump;1", "dtmi:x:Pump;2", [("t", properties)]).twins
    valid_today = not validator_for(registry.models, "dtmi:x:Pump;1").validate_properties(properties)
    assert twin.valid == valid_today
    assert twin.retyped == ()
    assert set(twin.dropped) == properties.keys() - {"speed", "mode"}
