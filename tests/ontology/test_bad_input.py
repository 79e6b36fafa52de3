"""Hostile or broken input gives a structured error each: never a crash, a hang or a RecursionError."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ontology import IssueCode, ModelError, parse, parse_partial
from tests.ontology.conftest import interface


def codes(documents: list[Any]) -> set[IssueCode]:
    with pytest.raises(ModelError) as err:
        parse(documents)
    return {e.code for e in err.value.errors}


@pytest.mark.parametrize(
    "text",
    ["{", '{"@context": }', "", "[1,]", "nul", '{"name": "a", "name": "b"}', "[NaN]", '{"x": -Infinity}'],
)
def test_malformed_json_is_a_json_error(text: str) -> None:
    assert codes([text]) == {IssueCode.JSON_INVALID}


@pytest.mark.parametrize("doc", [None, 5, '"just a string"', True, [1, 2]])
def test_a_document_that_is_not_an_object_is_refused(doc: Any) -> None:
    assert codes([doc]) == {IssueCode.DOCUMENT_NOT_OBJECT}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("@id", 42, IssueCode.ID_INVALID),
        ("@id", "urn:ex:a:1", IssueCode.ID_INVALID),
        ("@id", "dtmi:ex:a;0", IssueCode.ID_INVALID),
        ("@id", "dtmi:ex:_system;1", IssueCode.ID_INVALID),
        ("@id", "dtmi:dtdl:mine;1", IssueCode.ID_RESERVED),
        ("@id", "dtmi:ex:" + "a" * 200 + ";1", IssueCode.ID_INVALID),
        ("@type", "Interfaze", IssueCode.TYPE_UNDEFINED),
        ("@type", 7, IssueCode.TYPE_INVALID),
        ("@context", 3, IssueCode.CONTEXT_INVALID),
        ("@context", "dtmi:dtdl:context;9", IssueCode.CONTEXT_INVALID),
        ("contents", "not a dtmi", IssueCode.REFERENCE_INVALID),
        ("contents", [[[5]]], IssueCode.VALUE_INVALID),
        ("displayName", {"English": "x"}, IssueCode.LANGUAGE_INVALID),
        ("comment", "x" * 513, IssueCode.STRING_TOO_LONG),
        ("@graph", {}, IssueCode.KEYWORD_INVALID),
    ],
)
def test_wrong_values_are_named(field: str, value: Any, code: IssueCode) -> None:
    doc = interface("dtmi:ex:a;1")
    doc[field] = value
    assert code in codes([doc])


def test_cyclic_extends_is_an_error_not_a_hang() -> None:
    docs = [interface(f"dtmi:ex:C{i};1", extends=f"dtmi:ex:C{(i + 1) % 2000};1") for i in range(2000)]
    start = time.perf_counter()
    assert codes(docs) == {IssueCode.EXTENDS_CYCLE}
    assert time.perf_counter() - start < 5


def test_a_ten_megabyte_document_is_too_large() -> None:
    doc = interface(
        "dtmi:ex:Big;1",
        *(
            {"@type": "Property", "name": f"p{i}", "schema": "string", "comment": "x" * 500}
            for i in range(20_000)
        ),
    )
    text = json.dumps(doc)
    assert len(text) > 10_000_000
    assert IssueCode.DOCUMENT_TOO_LARGE in codes([text])


@pytest.mark.parametrize("depth", [6, 1_000, 50_000])
def test_schemas_nested_very_deep_are_refused_without_recursion_error(depth: int) -> None:
    schema: dict[str, Any] = {"@type": "Array", "elementSchema": "string"}
    for _ in range(depth):
        schema = {"@type": "Array", "elementSchema": schema}
    doc = interface("dtmi:ex:Deep;1", {"@type": "Telemetry", "name": "t", "schema": schema})
    found = codes([doc])
    assert IssueCode.SCHEMA_TOO_DEEP in found or IssueCode.NESTING_TOO_DEEP in found


def test_json_text_nested_beyond_the_decoder_is_refused() -> None:
    result = parse_partial(["[" * 200_000 + "]" * 200_000])
    assert [e.code for e in result.errors] in ([IssueCode.NESTING_TOO_DEEP], [IssueCode.JSON_INVALID])


def test_the_size_limit_counts_each_interface_without_inline_ones() -> None:
    def props(prefix: str) -> list[dict[str, Any]]:
        return [
            {"@type": "Property", "name": f"{prefix}{i}", "schema": "string", "comment": "x" * 500}
            for i in range(1000)
        ]

    base = interface("dtmi:ex:Base;1", *props("b"))
    doc = interface("dtmi:ex:Child;1", *props("c"), extends=base)
    assert len(json.dumps(doc)) > 1_048_576
    parse([doc])


@pytest.mark.parametrize("version", [3, 4])
def test_wide_shared_and_cyclic_schemas_are_measured_in_linear_time(version: int) -> None:
    schemas = [
        {
            "@id": f"dtmi:ex:S{level};1",
            "@type": "Object",
            "fields": [{"name": f"f{i}", "schema": f"dtmi:ex:S{(level + 1) % 6};1"} for i in range(200)],
        }
        for level in range(6)
    ]
    start = time.perf_counter()
    result = parse_partial([interface("dtmi:ex:Wide;1", version=version, schemas=schemas)])
    assert time.perf_counter() - start < 5
    assert {e.code for e in result.errors} == ({IssueCode.SCHEMA_CYCLE} if version == 3 else set())
