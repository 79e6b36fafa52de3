"""The syntax tree of an ADT query: what ``parse_query`` answers, and how it reads back as text.

Plain frozen dataclasses, compared by content: positions (``at``) are kept for error
messages but left out of equality, so a query parsed from its own ``str()`` equals the
original (the property tests rely on it). Names are kept as written; which collection a
name belongs to is decided later (``graph.adt_query._scope``), since ``T`` is a collection
in ``FROM DIGITALTWINS T`` and a property in ``FROM DIGITALTWINS``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

Scalar = str | int | float | bool | None

# ADT's reserved keywords (reference: Reserved keywords) plus this grammar's own keywords:
# as a name they are written ``[[name]]``.
KEYWORDS = frozenset(
    {
        "ALL", "AND", "AS", "ASC", "AVG", "BY", "COUNT", "DESC", "DEVICES_JOBS", "DEVICES_MODULES",
        "DEVICES", "ENDS_WITH", "FALSE", "FROM", "GROUP", "IN", "IS_BOOL", "IS_DEFINED", "IS_NULL",
        "IS_NUMBER", "IS_OBJECT", "IS_PRIMITIVE", "IS_STRING", "MAX", "MIN", "NOT", "NOT_IN", "NULL",
        "OR", "ORDER", "SELECT", "STARTS_WITH", "SUM", "TOP", "TRUE", "WHERE", "IS_OF_MODEL",
        "DIGITALTWINS", "RELATIONSHIPS", "JOIN", "RELATED", "MATCH", "NIN",
    }
)  # fmt: skip
# Words of other languages the parser names as outside this one (``LIMIT``, ``ORDER``...): as
# a name they are written ``[[name]]`` too.
FOREIGN_WORDS = frozenset(
    {
        "ORDER", "GROUP", "BY", "LIMIT", "OFFSET", "SKIP", "DISTINCT", "UNION", "HAVING", "LIKE", "BETWEEN",
        "IS", "EXISTS", "CASE", "ASC", "DESC", "INNER", "OUTER", "LEFT", "RIGHT", "CROSS", "ON", "DEVICES",
        "DEVICES_MODULES", "DEVICES_JOBS", "INSERT", "UPDATE", "DELETE", "CREATE", "MERGE", "SET", "REMOVE",
        "DETACH", "RETURN", "WITH", "CALL", "UNWIND", "OPTIONAL", "AVG", "SUM", "MIN", "MAX",
    }
)  # fmt: skip
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\$[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Position:
    """Where a construct starts in the query text: line and column count from 1."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


_NOWHERE = Position(0, 0)


@dataclass(frozen=True)
class Ref:
    """A collection (``T``), or a property of one (``T.location.lat``, ``T.$dtId``, ``name``).

    ``parts`` as written; the first may be a collection alias or a property name.
    """

    parts: tuple[str, ...]
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return ".".join(_name_text(p) for p in self.parts)


@dataclass(frozen=True)
class Literal:
    """A string, number, ``true``, ``false`` or ``null`` written in the query."""

    value: Scalar
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return literal_text(self.value)


@dataclass(frozen=True)
class Call:
    """A function call, ``name`` as written (``IS_DEFINED``, ``startswith``)."""

    name: str
    args: tuple[Operand, ...]
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return f"{self.name}({', '.join(str(a) for a in self.args)})"


Operand = Ref | Literal | Call


class Comparison(StrEnum):
    """ADT's comparison operators."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    op: Comparison
    left: Operand
    right: Operand
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return f"{self.left} {self.op.value} {self.right}"


@dataclass(frozen=True)
class Membership:
    """``operand IN [...]``, or ``NIN`` (also written ``NOT IN``) when ``negated``."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool = False
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        word = "NIN" if self.negated else "IN"
        return f"{self.operand} {word} [{', '.join(str(v) for v in self.values)}]"


@dataclass(frozen=True)
class Bare:
    """An operand standing alone as a condition: a function call such as ``IS_DEFINED(x)``."""

    operand: Operand
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return str(self.operand)


@dataclass(frozen=True)
class Not:
    """``NOT condition``."""

    condition: Condition
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return f"NOT {_grouped(self.condition)}"


@dataclass(frozen=True)
class And:
    """Every condition holds (two or more)."""

    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return " AND ".join(_grouped(c) for c in self.conditions)


@dataclass(frozen=True)
class Or:
    """At least one condition holds (two or more)."""

    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return " OR ".join(_grouped(c) for c in self.conditions)


Condition = Compare | Membership | Bare | Not | And | Or


def _grouped(condition: Condition) -> str:
    return f"({condition})" if isinstance(condition, And | Or) else str(condition)


class Collection(StrEnum):
    """What ``FROM`` reads: twins or relationships."""

    DIGITALTWINS = "DIGITALTWINS"
    RELATIONSHIPS = "RELATIONSHIPS"


@dataclass(frozen=True)
class From:
    """``FROM DIGITALTWINS [AS] alias`` or ``FROM RELATIONSHIPS [AS] alias``."""

    collection: Collection
    alias: str | None = None
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return f"FROM {self.collection.value}" + (f" {_name_text(self.alias)}" if self.alias else "")


@dataclass(frozen=True)
class Join:
    """``JOIN target RELATED source.relationship [AS] alias``: one hop out of ``source``."""

    target: str
    source: str
    relationship: str
    alias: str | None = None
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        text = (
            f"JOIN {_name_text(self.target)} RELATED {_name_text(self.source)}."
            f"{_name_text(self.relationship)}"
        )
        return text + (f" {_name_text(self.alias)}" if self.alias else "")


@dataclass(frozen=True)
class Hops:
    """A hop count as written: ``*3`` (``end`` only), ``*1..3`` (``start`` and ``end``), ``*..3``.

    ADT reads ``*start..end`` as more than ``start`` and at most ``end`` hops.
    """

    end: int
    start: int | None = None
    ranged: bool = False

    def bounds(self) -> tuple[int, int]:
        """The least and the most hops, ADT's way (the start of a range is excluded)."""
        if not self.ranged:
            return self.end, self.end
        return (1 if self.start is None else self.start + 1), self.end

    def __str__(self) -> str:
        if not self.ranged:
            return f"*{self.end}"
        return f"*{'' if self.start is None else self.start}..{self.end}"


class Direction(StrEnum):
    """How a ``MATCH`` edge points: ``-[]->``, ``<-[]-`` or ``-[]-``."""

    OUT = "out"
    IN = "in"
    ANY = "any"


@dataclass(frozen=True)
class Edge:
    """One relationship condition of a ``MATCH`` chain."""

    direction: Direction = Direction.ANY
    names: tuple[str, ...] = ()
    variable: str | None = None
    hops: Hops | None = None
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        inner = _name_text(self.variable) if self.variable else ""
        if self.names:
            inner += ":" + "|".join(_name_text(n) for n in self.names)
        if self.hops is not None:
            inner += str(self.hops)
        left, right = {"out": ("-", "->"), "in": ("<-", "-"), "any": ("-", "-")}[self.direction]
        return f"{left}[{inner}]{right}"


@dataclass(frozen=True)
class Node:
    """A twin of a ``MATCH`` chain, named or not: ``(Room)``, ``()``."""

    alias: str | None = None
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        return f"({_name_text(self.alias) if self.alias else ''})"


@dataclass(frozen=True)
class Match:
    """``MATCH (a)-[...]->(b)...``: ``nodes`` has one more element than ``edges``."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        text = str(self.nodes[0])
        for edge, node in zip(self.edges, self.nodes[1:], strict=True):
            text += f"{edge}{node}"
        return f"MATCH {text}"


@dataclass(frozen=True)
class Column:
    """One projected column: a collection or a property, with an optional ``AS`` name."""

    ref: Ref
    alias: str | None = None

    def __str__(self) -> str:
        return str(self.ref) + (f" AS {_name_text(self.alias)}" if self.alias else "")


class Shape(StrEnum):
    """What ``SELECT`` returns: ``*``, ``COUNT()``, or columns."""

    STAR = "*"
    COUNT = "COUNT()"
    COLUMNS = "columns"


@dataclass(frozen=True)
class Select:
    """``SELECT [TOP(n)] (* | COUNT() | columns)``; ``TOP(n)`` alone means ``TOP(n) *``."""

    shape: Shape
    columns: tuple[Column, ...] = ()
    top: int | None = None
    at: Position = field(default=_NOWHERE, compare=False)

    def __str__(self) -> str:
        text = "SELECT" + (f" TOP({self.top})" if self.top is not None else "")
        if self.shape == Shape.COLUMNS:
            return f"{text} {', '.join(str(c) for c in self.columns)}"
        return f"{text} {self.shape.value}"


@dataclass(frozen=True)
class AdtQuery:
    """A parsed ADT query; ``str()`` writes it back as canonical ADT text."""

    select: Select
    source: From
    joins: tuple[Join, ...] = ()
    match: Match | None = None
    where: Condition | None = None

    def __str__(self) -> str:
        parts = [str(self.select), str(self.source), *(str(j) for j in self.joins)]
        if self.match is not None:
            parts.append(str(self.match))
        if self.where is not None:
            parts.append(f"WHERE {self.where}")
        return " ".join(parts)


def literal_text(value: Scalar) -> str:
    """A value as an ADT literal: strings single-quoted with backslash escapes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return "'" + escaped.replace("\t", "\\t") + "'"


def _name_text(name: str) -> str:
    """A name as the lexer reads it back: ``[[...]]`` around a keyword."""
    if (name.upper() in KEYWORDS or name.upper() in FOREIGN_WORDS) and _PLAIN_NAME.fullmatch(name):
        return f"[[{name}]]"
    return name
