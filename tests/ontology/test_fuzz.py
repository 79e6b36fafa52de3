"""Property-based tests: whatever JSON arrives, the parser answers with data, never an exception."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ontology import DtdlPolicy, IssueCode, ModelIssue, parse_partial
from tests.ontology.conftest import interface

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "@context",
        "@id",
        "@type",
        "contents",
        "schema",
        "name",
        "extends",
        "schemas",
        "displayName",
        "writable",
        "target",
        "fields",
        "elementSchema",
        "enumValues",
        "valueSchema",
        "unit",
        "request",
    ]
)
terms = st.sampled_from(
    [
        "Interface",
        "Property",
        "Telemetry",
        "Relationship",
        "Component",
        "Command",
        "Object",
        "Array",
        "Map",
        "Enum",
        "string",
        "double",
        "dtmi:ex:a;1",
        "dtmi:ex:b;1",
        "dtmi:dtdl:context;3",
    ]
)

BASE = interface(
    "dtmi:ex:a;1",
    {
        "@type": "Property",
        "name": "p",
        "schema": {"@type": "Object", "fields": [{"name": "f", "schema": "string"}]},
    },
    {
        "@type": "Relationship",
        "name": "r",
        "target": "dtmi:ex:b;1",
        "properties": [{"@type": "Property", "name": "w", "schema": "integer"}],
    },
    {"@type": "Command", "name": "c", "request": {"name": "q", "schema": "double"}},
)


def _all_objects(value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            out.append(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def _check(result_errors: list[ModelIssue]) -> None:
    for e in result_errors:
        assert isinstance(e.code, IssueCode)
        assert e.path == "" or e.path.startswith("/")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, max_size=3))
def test_arbitrary_json_never_raises(documents: list[Any]) -> None:
    _check(parse_partial(documents).errors)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_models_never_raise(data: st.DataObject) -> None:
    doc = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 4))):
        target = data.draw(st.sampled_from(_all_objects(doc)))
        key = data.draw(keys)
        target[key] = data.draw(st.one_of(json_values, terms, st.lists(terms, max_size=3)))
    policy = DtdlPolicy(undefined_extensions=data.draw(st.sampled_from([None, True, False])))
    result = parse_partial([doc, json.dumps(doc)], policy=policy)
    _check(result.errors)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    _check(parse_partial([text]).errors)
