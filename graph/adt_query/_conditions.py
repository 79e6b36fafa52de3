"""The Cypher of a ``WHERE`` condition: comparisons, memberships and ADT's functions.

Values are typed the way kgtwin stores DTDL (docs/graph-model.md): scalars as they are,
Objects, Maps and Components flattened into ``a.b`` keys, arrays of scalars as lists.
Both engines answer ``=`` on unlike values with false and an ordering of unlike values
with null (undefined: no row), as ADT does; string functions and ``ARRAY_CONTAINS`` see a
value of the wrong kind as null (the engines refuse ``STARTS WITH`` on a number, FalkorDB
even in a ``CASE`` branch it does not take). The engines name types differently
(:class:`Dialect`); everything else is the same text on both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from graph.adt_query._functions import function_name, model_test
from graph.adt_query._scope import Kind, Resolved, Scope, property_of
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
    Scalar,
)
from graph.physical import SYSTEM_KEYS

Descendants = Callable[[str], list[str]]
"""The model ids a twin may have to pass ``IS_OF_MODEL(dtmi)``: ``dtmi`` and those extending it."""


@dataclass(frozen=True)
class Dialect:
    """How one engine tests a value's type: Cypher for "is ``x`` a boolean / number / string / list"."""

    boolean: str
    number: str
    string: str
    list: str

    def test(self, kind: str, expr: str) -> str:
        template: str = getattr(self, kind)
        return "(" + template.format(x=expr) + ")"


NEO4J = Dialect(
    boolean="{x} IS :: BOOLEAN NOT NULL",
    number="{x} IS :: INTEGER NOT NULL OR {x} IS :: FLOAT NOT NULL",
    string="{x} IS :: STRING NOT NULL",
    list="{x} IS :: LIST<ANY> NOT NULL",
)
FALKORDB = Dialect(
    boolean="typeOf({x}) = 'Boolean'",
    number="typeOf({x}) IN ['Integer', 'Float']",
    string="typeOf({x}) = 'String'",
    list="typeOf({x}) = 'List'",
)


DIALECTS = {"neo4j": NEO4J, "falkordb": FALKORDB}


@dataclass
class Params:
    """The parameters of a statement, named ``p0``, ``p1``... in the order they are added."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


class Conditions:
    """Writes the Cypher of ``WHERE`` conditions; literals and model ids become parameters."""

    def __init__(self, scope: Scope, dialect: Dialect, descendants: Descendants, params: Params) -> None:
        self.scope = scope
        self.dialect = dialect
        self.descendants = descendants
        self.params = params

    def condition(self, condition: Condition) -> str:
        if isinstance(condition, And | Or):
            joiner = " AND " if isinstance(condition, And) else " OR "
            return "(" + joiner.join(self.condition(c) for c in condition.conditions) + ")"
        if isinstance(condition, Not):
            return f"(NOT {self.condition(condition.condition)})"
        if isinstance(condition, Compare):
            return self.compare(condition)
        if isinstance(condition, Membership):
            return self.membership(condition)
        assert isinstance(condition, Bare)
        operand = condition.operand
        if isinstance(operand, Literal):
            return "true" if operand.value else "false"
        assert isinstance(operand, Call)
        return self.call(operand)

    # -- values --------------------------------------------------------------------------
    def value(self, operand: Operand, where: str) -> str:
        if isinstance(operand, Literal):
            return "null" if operand.value is None else self.params.add(operand.value)
        assert isinstance(operand, Ref)
        return value_expr(property_of(operand, self.scope, where))

    def compare(self, item: Compare) -> str:
        where = f"the comparison {item.op.value}"
        left, right = item.left, item.right
        if _is_null(left) or _is_null(right):
            other = right if _is_null(left) else left
            if item.op == Comparison.NE and not _is_null(other):
                return f"(CASE WHEN {self.value(other, where)} IS NOT NULL THEN true END)"
            return "null"
        # Both engines answer false for = on unlike values and null (undefined) for an order.
        op = "<>" if item.op == Comparison.NE else item.op.value
        a, b = self.value(left, where), self.value(right, where)
        if item.op in _ORDERING:
            a, b = _unindexed(a), _unindexed(b)
        return f"({a} {op} {b})"

    def membership(self, item: Membership) -> str:
        values = [v.value for v in item.values if v.value is not None]
        value = self.value(item.operand, "NIN" if item.negated else "IN")
        found = f"{value} IN {self.params.add(values)}"
        test = f"NOT ({found})" if item.negated else found
        if self.never_null(item.operand):
            return f"({test})"  # kept plain so that the engine seeks $dtId IN [...] in its index
        # Cypher answers false for null IN [], which would make NIN [] true for an undefined value.
        return f"(CASE WHEN {value} IS NOT NULL THEN {test} END)"

    def never_null(self, operand: Operand) -> bool:
        """Whether every element of the collection has the value: ids, models, times, names."""
        if not isinstance(operand, Ref):
            return False
        resolved = property_of(operand, self.scope, "IN")
        return resolved.system and resolved.path[-1] != "$etag"

    # -- functions -----------------------------------------------------------------------
    def call(self, call: Call) -> str:
        name = function_name(call)
        if name == "IS_OF_MODEL":
            test = model_test(call, self.scope)
            var = test.binding.var
            if test.exact:
                return f"({var}.model = {self.params.add(test.model)})"
            return f"({var}.model IN {self.params.add(self.descendants(test.model))})"
        arg = call.args[0]
        if name in {"STARTSWITH", "ENDSWITH", "CONTAINS", "ARRAY_CONTAINS"}:
            return self.two_place(name, arg, call.args[1])
        if isinstance(arg, Literal):
            return "true" if _literal_test(name, arg.value) else "false"
        assert isinstance(arg, Ref)
        resolved = property_of(arg, self.scope, name)
        value = value_expr(resolved)
        if name == "IS_NULL":
            return "false"  # kgtwin stores no nulls: a DTDL value is present or absent
        if name in {"IS_BOOL", "IS_NUMBER", "IS_STRING"}:
            return self.dialect.test(
                {"IS_BOOL": "boolean", "IS_NUMBER": "number", "IS_STRING": "string"}[name], value
            )
        if name == "IS_PRIMITIVE":
            return (
                "(" + " OR ".join(self.dialect.test(k, value) for k in ("boolean", "number", "string")) + ")"
            )
        obj = self.object_test(resolved)
        if name == "IS_OBJECT":
            return f"({value} IS NULL AND {obj})"
        assert name == "IS_DEFINED"
        return f"({value} IS NOT NULL OR {obj})"

    def two_place(self, name: str, first: Operand, second: Operand) -> str:
        # The engines refuse STARTS WITH on a number or IN on a string (FalkorDB even inside a
        # CASE branch not taken), so an operand of the wrong kind becomes null: undefined.
        if name == "ARRAY_CONTAINS":
            return f"({self.value(second, name)} IN {self.only('list', first, name)})"
        op = {"STARTSWITH": "STARTS WITH", "ENDSWITH": "ENDS WITH", "CONTAINS": "CONTAINS"}[name]
        return f"({self.only('string', first, name)} {op} {self.only('string', second, name)})"

    def only(self, kind: str, operand: Operand, where: str) -> str:
        """``operand`` where it is a ``kind``, else null."""
        if isinstance(operand, Literal):
            return self.value(operand, where) if _literal_kind(operand.value) == kind else "null"
        assert isinstance(operand, Ref)  # checked: function arguments are properties or values
        value = self.value(operand, where)
        if kind == "string" and property_of(operand, self.scope, where).system:
            return value  # ids, etags, model ids, times and relationship names are strings
        return f"(CASE WHEN {self.dialect.test(kind, value)} THEN {value} END)"

    def object_test(self, resolved: Resolved) -> str:
        """Whether a DTDL path holds an Object, Map or Component: some flattened key lies under it."""
        if resolved.system or _hidden(resolved.path):
            return "false"
        prefix = self.params.add(".".join(resolved.path) + ".")
        return f"any(k IN keys({resolved.binding.var}) WHERE k STARTS WITH {prefix})"


def value_expr(resolved: Resolved) -> str:
    """The Cypher value of a property: a system property's column, or a DTDL path's flattened key."""
    var, path = resolved.binding.var, resolved.path
    if resolved.binding.kind == Kind.TWIN:
        system = {
            ("$dtId",): f"{var}.id",
            ("$etag",): f"{var}.etag",
            ("$metadata", "$model"): f"{var}.model",
            ("$metadata", "$lastUpdateTime"): f"{var}.updatedAt",
        }
    else:
        system = {
            ("$relationshipId",): f"{var}.id",
            ("$sourceId",): f"startNode({var}).id",
            ("$targetId",): f"endNode({var}).id",
            ("$relationshipName",): f"type({var})",
            ("$etag",): f"{var}.etag",
        }
    if path in system:
        return system[path]
    if _hidden(path):
        return "null"
    # Each part is [A-Za-z_][A-Za-z0-9_]* (the grammar's NAME), so backticks quote the key whole.
    return f"{var}.`{'.'.join(path)}`"


_TWIN_ID = re.compile(r"t[0-9]+\.id")
_ORDERING = frozenset({Comparison.LT, Comparison.LE, Comparison.GT, Comparison.GE})


def _unindexed(value: str) -> str:
    """A twin id as an expression no index answers: FalkorDB's range index on ``Twin.id``
    (falkordblite 0.11) answers ``<`` and ``<=`` wrongly (``'floor-1' < 'floor-0'``)."""
    return f"toString({value})" if _TWIN_ID.fullmatch(value) else value


def _hidden(path: Iterable[str]) -> bool:
    """Keys kgtwin keeps for itself: never a DTDL property (DTDL names start with a letter, and
    the system names are refused as property names when a twin is written)."""
    head = next(iter(path), "")
    return head in SYSTEM_KEYS or head.startswith("_")


def _is_null(operand: Operand) -> bool:
    return isinstance(operand, Literal) and operand.value is None


def _literal_kind(value: Scalar) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _literal_test(name: str, value: Scalar) -> bool:
    kind = _literal_kind(value)
    return {
        "IS_DEFINED": True,
        "IS_NULL": value is None,
        "IS_BOOL": kind == "boolean",
        "IS_NUMBER": kind == "number",
        "IS_STRING": kind == "string",
        "IS_PRIMITIVE": True,
        "IS_OBJECT": False,
    }[name]
