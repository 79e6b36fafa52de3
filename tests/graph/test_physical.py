"""The physical encoding of twin documents and JSON Patch, checked on generated documents."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from graph.physical import DOCUMENT, canonical_json, decode, encode, flatten, new_etags
from ontology.patch import apply_patch

names = st.from_regex(r"[a-z][a-zA-Z0-9_]{0,8}", fullmatch=True)
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=4)),
    max_leaves=12,
)
documents = st.dictionaries(names, values, max_size=6)


def _is_property_value(value: Any) -> bool:
    scalar_types = (str, bool, int, float)
    if isinstance(value, list):
        kinds = {
            bool if isinstance(v, bool) else (float if isinstance(v, int | float) else type(v)) for v in value
        }
        return all(isinstance(v, scalar_types) for v in value) and len(kinds) <= 1
    return isinstance(value, scalar_types)


@given(documents)
def test_every_flattened_value_is_one_a_graph_engine_can_store(document: dict[str, Any]) -> None:
    for key, value in flatten(document).items():
        assert _is_property_value(value), (key, value)


@given(documents)
def test_the_document_survives_encoding_exactly(document: dict[str, Any]) -> None:
    properties = encode(document, {"id": "t-1"})
    assert properties["id"] == "t-1"
    assert isinstance(properties[DOCUMENT], str)
    assert decode(properties) == document


@given(documents, names, values)
def test_adding_then_removing_a_property_is_no_change(
    document: dict[str, Any], name: str, value: Any
) -> None:
    document.pop(name, None)
    patched = apply_patch(document, [{"op": "add", "path": f"/{name}", "value": value}])
    assert patched[name] == value
    assert apply_patch(patched, [{"op": "remove", "path": f"/{name}"}]) == document


@given(documents)
def test_canonical_json_is_sorted_compact_and_reads_back(document: dict[str, Any]) -> None:
    text = canonical_json(document)
    assert json.loads(text) == document
    assert text == canonical_json(json.loads(text))  # one text per value
    assert json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False) == (
        json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )


def test_canonical_json_writes_what_orjson_cannot_with_the_standard_encoder() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert canonical_json({"$meta": math.nan}) == '{"$meta":NaN}'  # not silently null
    assert canonical_json({"big": 2**70}) == '{"big":1180591620717411303424}'


def test_new_etags_are_weak_etags_of_distinct_version_4_uuids() -> None:
    tags = new_etags(1000)
    assert len(set(tags)) == 1000
    for tag in tags:
        assert tag.startswith('W/"')
        assert tag.endswith('"')
        parsed = uuid.UUID(tag[3:-1])
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
