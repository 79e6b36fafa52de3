"""Random WHERE conditions on both engines, against a reference evaluator written in Python.

The reference says what docs/adt-query.md says a condition means on kgtwin's twins:
undefined properties, unlike types, three-valued AND/OR/NOT, IN/NIN, and every function.
Hypothesis draws conditions over the building's properties; each must select exactly
the twins the reference selects.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.adt_query import run_query
from graph.adt_query.syntax import (
    And,
    Bare,
    Call,
    Compare,
    Comparison,
    Condition,
    Literal,
    Membership,
    Not,
    Operand,
    Or,
    Ref,
)
from graph.store import GraphStore
from tests.graph.adt_building import TWINS, build_building

UNDEFINED = object()
PATHS = [
    ("name",), ("capacity",), ("temperature",), ("level",), ("occupied",), ("running",), ("area",),
    ("location",), ("location", "x"), ("tags",), ("tags", "zone"), ("features",), ("ratings",),
    ("motor",), ("motor", "power"), ("serial",), ("$dtId",), ("id",), ("nothing",),
]  # fmt: skip
VALUES: list[Any] = [
    "Lobby", "room-a", "P-100", "", "S", "Storage", "technical", "wifi", "pump-2",
    0, 1, 4, 12, 21.5, 22, 40, -1, 1.5, True, False, None,
]  # fmt: skip


@pytest.fixture(scope="module", params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def building(request: pytest.FixtureRequest) -> GraphStore:
    store: GraphStore = request.getfixturevalue(f"{request.param}_store")
    store.write("MATCH (n) DETACH DELETE n")
    build_building(store)
    return store


# -- the reference ------------------------------------------------------------------------------
def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return None


def _has_leaf(value: Any) -> bool:
    """Whether kgtwin stores anything of an object: a field set somewhere inside it."""
    return any(_has_leaf(v) if isinstance(v, dict) else True for v in value.values())


def _lookup(twin: tuple[str, str, dict[str, Any]], path: tuple[str, ...]) -> Any:
    twin_id, _, document = twin
    if path == ("$dtId",):
        return twin_id
    value: Any = document
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return UNDEFINED
        value = value[part]
    if isinstance(value, dict) and not _has_leaf(value):
        return UNDEFINED  # an object with no field set is stored as nothing
    return value


def _operand(twin: tuple[str, str, dict[str, Any]], operand: Operand) -> Any:
    if isinstance(operand, Literal):
        return operand.value
    assert isinstance(operand, Ref)
    return _lookup(twin, operand.parts[1:])


def _value(twin: tuple[str, str, dict[str, Any]], operand: Operand) -> Any:
    """An operand as comparisons see it: an object has no value to compare (it is flattened)."""
    value = _operand(twin, operand)
    return UNDEFINED if isinstance(value, dict) else value


def _equal(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and a == b


def _compare(op: Comparison, a: Any, b: Any) -> bool | None:
    if a is UNDEFINED or b is UNDEFINED:
        return None
    if a is None or b is None:  # x != null holds for a defined x; anything else with null is undefined
        other = b if a is None else a
        return True if op == Comparison.NE and other is not None else None
    if op == Comparison.EQ:
        return _equal(a, b)
    if op == Comparison.NE:
        return not _equal(a, b)
    if _kind(a) != _kind(b):
        return None
    try:  # numbers, strings, booleans (false first) and lists (element by element)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op.value]
    except TypeError:
        return None


def _call(twin: tuple[str, str, dict[str, Any]], call: Call) -> bool | None:
    name = call.name.upper()
    values = [_operand(twin, a) for a in call.args]
    x = values[0]
    if name == "IS_DEFINED":
        return x is not UNDEFINED
    if name == "IS_NULL":
        return False
    if name == "IS_OBJECT":
        return _kind(x) == "object"
    if name == "IS_PRIMITIVE":
        return _kind(x) in ("boolean", "number", "string")
    if name in ("IS_BOOL", "IS_NUMBER", "IS_STRING"):
        return _kind(x) == {"IS_BOOL": "boolean", "IS_NUMBER": "number", "IS_STRING": "string"}[name]
    y = values[1]
    if name == "ARRAY_CONTAINS":
        return any(_equal(e, y) for e in x) if _kind(x) == "list" and y not in (UNDEFINED, None) else None
    if _kind(x) != "string" or _kind(y) != "string":
        return None
    return {"STARTSWITH": x.startswith(y), "ENDSWITH": x.endswith(y), "CONTAINS": y in x}[name]


def holds(twin: tuple[str, str, dict[str, Any]], condition: Condition) -> bool | None:
    """True, False or None (undefined), as Cypher's three-valued logic combines them."""
    if isinstance(condition, Not):
        inner = holds(twin, condition.condition)
        return None if inner is None else not inner
    if isinstance(condition, And):
        results = [holds(twin, c) for c in condition.conditions]
        return False if False in results else (None if None in results else True)
    if isinstance(condition, Or):
        results = [holds(twin, c) for c in condition.conditions]
        return True if True in results else (None if None in results else False)
    if isinstance(condition, Compare):
        return _compare(condition.op, _value(twin, condition.left), _value(twin, condition.right))
    if isinstance(condition, Membership):
        x = _value(twin, condition.operand)
        if x is UNDEFINED:
            return None
        found = any(_equal(x, v.value) for v in condition.values if v.value is not None)
        return not found if condition.negated else found
    assert isinstance(condition, Bare)
    assert isinstance(condition.operand, Call)
    return _call(twin, condition.operand)


# -- conditions --------------------------------------------------------------------------------
REFS = st.sampled_from(PATHS).map(lambda path: Ref(("T", *path)))
LITERALS = st.sampled_from(VALUES).map(Literal)
LEAVES = st.one_of(
    st.builds(Compare, st.sampled_from(list(Comparison)), REFS, st.one_of(LITERALS, REFS)),
    st.builds(Compare, st.sampled_from(list(Comparison)), LITERALS, REFS),
    st.builds(Membership, REFS, st.lists(LITERALS, max_size=4).map(tuple), st.booleans()),
    st.builds(
        lambda name, ref: Bare(Call(name, (ref,))),
        st.sampled_from(
            ["IS_DEFINED", "IS_NULL", "IS_BOOL", "IS_NUMBER", "IS_STRING", "IS_PRIMITIVE", "IS_OBJECT"]
        ),
        REFS,
    ),
    st.builds(
        lambda name, ref, value: Bare(Call(name, (ref, value))),
        st.sampled_from(["STARTSWITH", "ENDSWITH", "CONTAINS"]),
        REFS,
        st.sampled_from(["", "S", "room", "pump", "oo", "-1", "Lob"]).map(Literal),
    ),
    st.builds(lambda ref, value: Bare(Call("ARRAY_CONTAINS", (ref, value))), REFS, LITERALS),
)
CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda c: And(tuple(c))),
        st.lists(inner, min_size=2, max_size=3).map(lambda c: Or(tuple(c))),
    ),
    max_leaves=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=CONDITIONS)
def test_a_condition_selects_the_twins_the_reference_selects(
    building: GraphStore, condition: Condition
) -> None:
    text = f"SELECT T.$dtId FROM DIGITALTWINS T WHERE {condition}"
    found = [item["$dtId"] for item in run_query(building, text, max_items=1000).items]
    expected = sorted(twin[0] for twin in TWINS if holds(twin, condition) is True)
    assert found == expected, text
