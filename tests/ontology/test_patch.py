"""A JSON Patch (RFC 6902) is applied to a copy of a twin's properties and the result validated."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ontology import (
    BadRequest,
    Conflict,
    PatchFailed,
    PatchMalformed,
    PatchTargetMissing,
    PatchTestFailed,
    TwinValidator,
    ValidationFailed,
    apply_patch,
    parse,
    validate_patch,
    validator_for,
)
from tests.ontology.conftest import interface

# RFC 6901 §5: the example document and what each pointer names.
RFC_DOC: dict[str, Any] = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}


ROOM = interface(
    "dtmi:ex:Room;1",
    {"@type": "Property", "name": "name", "schema": "string", "writable": True},
    {"@type": "Property", "name": "setPoint", "schema": "double", "writable": True},
    {"@type": "Property", "name": "occupancy", "schema": "integer"},
    {"@type": "Property", "name": "open", "schema": "boolean"},
    {"@type": "Property", "name": "tags", "schema": {"@type": "Array", "elementSchema": "string"}},
)


@pytest.fixture(scope="module")
def room() -> TwinValidator:
    return validator_for(parse([ROOM]), "dtmi:ex:Room;1")


CURRENT: dict[str, Any] = {"name": "Lab", "setPoint": 21.0, "occupancy": 2, "open": True, "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2), ("/m~0n", 8)],
)
def test_pointers_follow_rfc_6901_escapes(pointer: str, value: Any) -> None:
    assert apply_patch(RFC_DOC, [{"op": "test", "path": pointer, "value": value}]) == RFC_DOC


def test_tilde_one_is_decoded_before_tilde_zero() -> None:
    doc = {"~1": "tilde-one", "/": "slash"}
    assert apply_patch(doc, [{"op": "remove", "path": "/~01"}]) == {"/": "slash"}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ([{"op": "add", "path": "/b", "value": 2}], {"a": [1, 2], "b": 2}),
        ([{"op": "add", "path": "/a/1", "value": 9}], {"a": [1, 9, 2]}),
        ([{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3]}),
        ([{"op": "add", "path": "/a/2", "value": 3}], {"a": [1, 2, 3]}),
        ([{"op": "add", "path": "/a", "value": {}}], {"a": {}}),
        ([{"op": "remove", "path": "/a/0"}], {"a": [2]}),
        ([{"op": "replace", "path": "/a/1", "value": 5}], {"a": [1, 5]}),
        ([{"op": "replace", "path": "", "value": {"x": 1}}], {"x": 1}),
        ([{"op": "move", "from": "/a/0", "path": "/first"}], {"a": [2], "first": 1}),
        ([{"op": "move", "from": "/a/0", "path": "/a/-"}], {"a": [2, 1]}),
        ([{"op": "move", "from": "/a", "path": "/a"}], {"a": [1, 2]}),
        ([{"op": "copy", "from": "/a", "path": "/b"}], {"a": [1, 2], "b": [1, 2]}),
        ([{"op": "test", "path": "/a", "value": [1.0, 2]}], {"a": [1, 2]}),
    ],
)
def test_each_operation_follows_rfc_6902(patch: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert apply_patch({"a": [1, 2]}, patch) == expected


def test_copied_values_are_independent() -> None:
    result = apply_patch({"a": {"x": 1}}, [{"op": "copy", "from": "/a", "path": "/b"}])
    result["b"]["x"] = 2
    assert result == {"a": {"x": 1}, "b": {"x": 2}}


def test_patch_values_are_not_shared_with_the_result() -> None:
    value = {"x": [1]}
    patch = [{"op": "add", "path": "/a", "value": value}]
    apply_patch({}, patch)["a"]["x"].append(2)
    assert value == {"x": [1]}


@pytest.mark.parametrize(
    ("patch", "error", "reason"),
    [
        ([{"op": "remove", "path": "/missing"}], PatchTargetMissing, "/missing does not exist"),
        ([{"op": "replace", "path": "/a/5", "value": 1}], PatchTargetMissing, "/a/5 is not an index"),
        ([{"op": "add", "path": "/a/01", "value": 1}], PatchTargetMissing, "/a/01 is not a place"),
        ([{"op": "add", "path": "/a/3", "value": 1}], PatchTargetMissing, "/a/3 is not a place"),
        ([{"op": "remove", "path": "/a/-"}], PatchTargetMissing, "/a/- is not an index"),
        ([{"op": "add", "path": "/n/x", "value": 1}], PatchTargetMissing, "/n is neither"),
        ([{"op": "add", "path": "/x/y", "value": 1}], PatchTargetMissing, "/x does not exist"),
        ([{"op": "copy", "from": "/nope", "path": "/b"}], PatchTargetMissing, "/nope does not exist"),
        ([{"op": "test", "path": "/n", "value": True}], PatchTestFailed, "/n is 1, not True"),
        ([{"op": "test", "path": "/a", "value": [1]}], PatchTestFailed, "/a is [1, 2]"),
        ([{"op": "frobnicate", "path": "/a"}], PatchMalformed, "op must be one of"),
        ([{"path": "/a"}], PatchMalformed, "op must be one of"),
        ([{"op": "add", "path": "/b"}], PatchMalformed, "needs a value"),
        ([{"op": "add", "path": "b", "value": 1}], PatchMalformed, "path must be a JSON Pointer"),
        ([{"op": "add", "path": "/b~2", "value": 1}], PatchMalformed, "path must be a JSON Pointer"),
        ([{"op": "copy", "path": "/b"}], PatchMalformed, "from must be a JSON Pointer"),
        ([{"op": "move", "from": "/a", "path": "/a/0"}], PatchMalformed, "into its own child"),
        ([{"op": "remove", "path": ""}], PatchMalformed, "cannot remove the whole"),
        ([{"op": "replace", "path": "", "value": [1]}], PatchMalformed, "must stay a JSON object"),
        (["add"], PatchMalformed, "must be a JSON object"),
    ],
)
def test_a_failing_operation_is_named_with_its_reason(
    patch: list[Any], error: type[PatchFailed], reason: str
) -> None:
    ops = [{"op": "test", "path": "/n", "value": 1}, *patch]
    with pytest.raises(error) as caught:
        apply_patch({"a": [1, 2], "n": 1}, ops)
    assert caught.value.operation == "/1"
    assert caught.value.details["index"] == 1
    assert reason in caught.value.reason
    assert caught.value.message.startswith("patch operation 1: ")


def test_error_codes_follow_the_kgtwin_hierarchy() -> None:
    with pytest.raises(Conflict):
        apply_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    with pytest.raises(ValidationFailed):
        apply_patch({"a": 1}, [{"op": "remove", "path": "/b"}])
    with pytest.raises(BadRequest):
        apply_patch({"a": 1}, [{"op": "nope", "path": "/b"}])


@pytest.mark.parametrize("patch", ["add", {"op": "add"}, b"[]", 3])
def test_a_patch_must_be_an_array(patch: Any) -> None:
    with pytest.raises(PatchMalformed, match="array of operations") as caught:
        apply_patch({}, patch)
    assert caught.value.operation == ""


def test_a_failing_patch_changes_nothing() -> None:
    current = {"a": [1, 2]}
    with pytest.raises(PatchTestFailed):
        apply_patch(current, [{"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/a", "value": []}])
    assert current == {"a": [1, 2]}


def test_a_valid_patch_gives_no_issues(room: TwinValidator) -> None:
    patch = [
        {"op": "test", "path": "/occupancy", "value": 2},
        {"op": "replace", "path": "/setPoint", "value": 19.5},
        {"op": "add", "path": "/tags/-", "value": "c"},
        {"op": "remove", "path": "/open"},
    ]
    assert validate_patch(room, CURRENT, patch) == []


def test_a_patched_value_breaking_its_schema_is_reported_at_its_pointer(room: TwinValidator) -> None:
    patch = [
        {"op": "replace", "path": "/occupancy", "value": "many"},
        {"op": "add", "path": "/tags/0", "value": 1},
    ]
    issues = validate_patch(room, CURRENT, patch)
    assert [(i.path, i.code) for i in issues] == [
        ("/occupancy", "VALUE_INVALID"),
        ("/tags/0", "VALUE_INVALID"),
    ]


def test_an_unknown_property_added_by_a_patch_is_reported(room: TwinValidator) -> None:
    issues = validate_patch(room, CURRENT, [{"op": "add", "path": "/colour", "value": "red"}])
    assert [(i.path, i.code) for i in issues] == [("/colour", "PROPERTY_UNKNOWN")]


def test_a_failed_test_is_an_issue_at_its_operation(room: TwinValidator) -> None:
    patch = [
        {"op": "replace", "path": "/setPoint", "value": 19.5},
        {"op": "test", "path": "/occupancy", "value": 3},
    ]
    issues = validate_patch(room, CURRENT, patch)
    assert [(i.path, i.code) for i in issues] == [("/patch/1", "PATCH_TEST_FAILED")]
    assert "/occupancy is 2, not 3" in issues[0].message


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ({"op": "remove", "path": "/nothing"}, "PATCH_PATH_MISSING"),
        ({"op": "move", "path": "/x"}, "PATCH_INVALID"),
    ],
)
def test_an_inapplicable_patch_is_an_issue_at_its_operation(
    room: TwinValidator, operation: dict[str, Any], code: str
) -> None:
    issues = validate_patch(room, CURRENT, [operation])
    assert [(i.path, i.code) for i in issues] == [("/patch/0", code)]


# Hypothesis: valid values per property of the Room, and arbitrary JSON for the mutation checks.
VALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.text(),
    "setPoint": st.floats(allow_nan=False, allow_infinity=False),
    "occupancy": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "open": st.booleans(),
    "tags": st.lists(st.text(), max_size=4),
}
replace_ops = st.lists(
    st.sampled_from(sorted(VALID_VALUES)).flatmap(
        lambda name: VALID_VALUES[name].map(lambda v: {"op": "replace", "path": f"/{name}", "value": v})
    ),
    max_size=6,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
documents = st.dictionaries(st.text(max_size=3), json_values, max_size=4)
keys = st.text(alphabet="ab~/-0", max_size=3)
pointers = st.lists(keys, max_size=3).map(
    lambda parts: "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)
)
operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]), "path": pointers},
    optional={"value": json_values, "from": pointers},
)


@given(patch=replace_ops)
def test_replacing_with_valid_values_keeps_the_twin_valid(
    room: TwinValidator, patch: list[dict[str, Any]]
) -> None:
    assert validate_patch(room, CURRENT, patch) == []


@given(documents, st.lists(operations, max_size=5))
def test_the_input_is_never_mutated(document: dict[str, Any], patch: list[dict[str, Any]]) -> None:
    before, patch_before = copy.deepcopy(document), copy.deepcopy(patch)
    failed: PatchFailed | None = None
    try:
        apply_patch(document, patch)
    except PatchFailed as error:
        failed = error
    assert failed is None or failed.index in range(len(patch))
    assert document == before
    assert patch == patch_before


@given(documents, keys, json_values)
def test_a_test_passes_on_the_value_and_fails_on_any_other(
    document: dict[str, Any], key: str, value: Any
) -> None:
    document = {**document, key: value}
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    assert apply_patch(document, [{"op": "test", "path": pointer, "value": value}]) == document
    with pytest.raises(PatchTestFailed) as caught:
        apply_patch(document, [{"op": "test", "path": pointer, "value": [value]}])
    assert caught.value.operation == "/0"
    assert caught.value.path == pointer


@given(documents, keys, json_values)
def test_add_then_remove_restores_a_missing_member(document: dict[str, Any], key: str, value: Any) -> None:
    document.pop(key, None)
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    patch = [{"op": "add", "path": pointer, "value": value}, {"op": "remove", "path": pointer}]
    assert apply_patch(document, patch) == document
