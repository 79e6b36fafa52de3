"""Text to syntax tree: lark's LALR(1) parser on ``_grammar.GRAMMAR``, errors named and placed.

The parser is built once (a few milliseconds) and shared: lark's LALR parser keeps no state
between calls. The tree is built by a fresh transformer per query, and a non-recursive one,
so that a query nested thousands of parentheses deep is refused with a message rather than
overflowing Python's stack. Limits (each a ``QueryInvalid`` naming it) keep one query from
tying up the service: its length, how deep conditions nest, how many there are, and how
many values one ``IN`` list holds. ADT's own defaults are lower (8,000 characters, 50
``AND``/``OR``, 100 ``IN`` values); kgtwin's are wider, see docs/adt-query.md.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedInput, VisitError
from lark.tree import Meta

from graph.adt_query._grammar import GRAMMAR
from graph.adt_query._syntax_errors import FOREIGN, place, syntax_error
from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import (
    KEYWORDS,
    AdtQuery,
    And,
    Bare,
    Call,
    Collection,
    Column,
    Compare,
    Comparison,
    Condition,
    Direction,
    Edge,
    From,
    Hops,
    Join,
    Literal,
    Match,
    Membership,
    Node,
    Not,
    Operand,
    Or,
    Position,
    Ref,
    Scalar,
    Select,
    Shape,
)

MAX_QUERY_CHARS = 32_000
MAX_DEPTH = 32
"""How deep parentheses and ``NOT`` may nest in ``WHERE``."""
MAX_CONDITIONS = 500
"""Comparisons, memberships and function calls in one ``WHERE``."""
MAX_IN_VALUES = 1_000
MAX_TOP = 100_000
_INT64 = 2**63

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True, propagate_positions=True)


def parse(text: str) -> AdtQuery:
    """The syntax tree of ``text``, or ``QueryInvalid`` naming what is wrong and where."""
    if not isinstance(text, str):
        raise QueryInvalid("the query must be text", construct="query")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryInvalid(
            f"the query is {len(text)} characters long; at most {MAX_QUERY_CHARS} are accepted",
            construct="query length",
            limit=MAX_QUERY_CHARS,
        )
    if "\0" in text:
        raise QueryInvalid(
            "the query holds a NUL character", construct="NUL character", at=place(text, text.index("\0"))
        )
    if not text.strip():
        raise QueryInvalid("the query is empty", construct="query")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise syntax_error(exc, text, _parser()) from None
    try:
        built = _Build().transform(tree)
    except VisitError as exc:  # lark wraps what a rule's callback raises
        if isinstance(exc.orig_exc, QueryInvalid):
            raise exc.orig_exc from None
        raise
    assert isinstance(built, AdtQuery)
    return built


def _at(token: Token) -> Position:
    return Position(token.line or 0, token.column or 0)


def _name(token: Token) -> str:
    text = str(token)
    return text[2:-2] if token.type == "ESCAPED" else text


def _free_name(token: Token) -> str:
    """A name where ADT takes no reserved keyword unescaped: an alias, or a ref's first part."""
    word = str(token).upper()
    if token.type == "NAME" and word in FOREIGN:
        construct = FOREIGN[word]
        raise QueryInvalid(
            f"{construct} is not part of the ADT query language", construct=construct, at=_at(token)
        )
    if token.type == "NAME" and word in KEYWORDS:
        raise QueryInvalid(
            f"{token} is a reserved keyword; write [[{token}]] to use it as a name",
            construct=str(token),
            at=_at(token),
        )
    return _name(token)


class _Where:
    """The ``WHERE`` condition on its way up to ``query`` (told apart from joins and matches)."""

    def __init__(self, condition: Condition) -> None:
        self.condition = condition


class _Build(Transformer_NonRecursive):  # type: ignore[type-arg]
    """The syntax tree from lark's parse tree; counts conditions and their nesting as it goes."""

    def __init__(self) -> None:
        super().__init__()
        self.depth: dict[int, int] = {}
        self.conditions = 0

    # -- clauses -------------------------------------------------------------------------
    def start(self, children: list[Any]) -> AdtQuery:
        query: AdtQuery = children[0]
        return query

    def query(self, children: list[Any]) -> AdtQuery:
        select, source, *rest = children
        joins = tuple(c for c in rest if isinstance(c, Join))
        match = next((c for c in rest if isinstance(c, Match)), None)
        where = next((c.condition for c in rest if isinstance(c, _Where)), None)
        return AdtQuery(select, source, joins, match, where)

    def select(self, children: list[Any]) -> Select:
        keyword, top, shape = children
        at = _at(keyword)
        if shape is None:
            if top is None:
                raise QueryInvalid(
                    "SELECT needs *, COUNT(), TOP(n) or what to project", construct="SELECT", at=at
                )
            return Select(Shape.STAR, (), top, at)
        kind, columns = shape
        return Select(kind, columns, top, at)

    def top(self, children: list[Any]) -> int:
        keyword, count = children
        value = int(count)
        if not 1 <= value <= MAX_TOP:
            raise QueryInvalid(
                f"TOP needs a count from 1 to {MAX_TOP}, not {value}", construct="TOP", at=_at(keyword)
            )
        return value

    def star(self, children: list[Any]) -> tuple[Shape, tuple[Column, ...]]:
        return Shape.STAR, ()

    def count(self, children: list[Any]) -> tuple[Shape, tuple[Column, ...]]:
        return Shape.COUNT, ()

    def columns(self, children: list[Any]) -> tuple[Shape, tuple[Column, ...]]:
        return Shape.COLUMNS, tuple(children)

    def column(self, children: list[Any]) -> Column:
        ref, *rest = children
        names = [c for c in rest if isinstance(c, Token) and c.type != "AS"]
        return Column(ref, _free_name(names[0]) if names else None)

    def from_clause(self, children: list[Any]) -> From:
        keyword, collection, *rest = children
        names = [c for c in rest if isinstance(c, Token) and c.type != "AS"]
        return From(
            Collection(str(collection).upper()), _free_name(names[0]) if names else None, _at(keyword)
        )

    def join(self, children: list[Any]) -> Join:
        keyword, target, _related, source, relationship, *rest = children
        names = [c for c in rest if isinstance(c, Token) and c.type != "AS"]
        alias = _free_name(names[0]) if names else None
        return Join(_free_name(target), _free_name(source), _name(relationship), alias, _at(keyword))

    def match(self, children: list[Any]) -> Match:
        keyword, *chain = children
        nodes = tuple(c for c in chain if isinstance(c, Node))
        edges = tuple(c for c in chain if isinstance(c, Edge))
        return Match(nodes, edges, _at(keyword))

    @v_args(meta=True)
    def node(self, meta: Meta, children: list[Any]) -> Node:
        (name,) = children
        return Node(None if name is None else _free_name(name), _meta_at(meta))

    @v_args(meta=True)
    def edge_out(self, meta: Meta, children: list[Any]) -> Edge:
        return _directed(children[0], Direction.OUT, meta)

    @v_args(meta=True)
    def edge_in(self, meta: Meta, children: list[Any]) -> Edge:
        return _directed(children[0], Direction.IN, meta)

    @v_args(meta=True)
    def edge_any(self, meta: Meta, children: list[Any]) -> Edge:
        return _directed(children[0], Direction.ANY, meta)

    def rel(self, children: list[Any]) -> Edge:
        variable, names, hops = children
        at = _at(variable) if variable is not None else Position(0, 0)
        return Edge(Direction.ANY, names or (), None if variable is None else _free_name(variable), hops, at)

    def rel_bare_names(self, children: list[Any]) -> Edge:
        names = tuple(_name(c) for c in children if isinstance(c, Token))
        hops = next((c for c in children if isinstance(c, Hops)), None)
        return Edge(Direction.ANY, names, None, hops, _at(children[0]))

    def rel_names(self, children: list[Any]) -> tuple[str, ...]:
        return tuple(_name(c) for c in children)

    def hops_exact(self, children: list[Any]) -> Hops:
        return Hops(_hop(children[0]))

    def hops_range(self, children: list[Any]) -> Hops:
        return Hops(_hop(children[1]), _hop(children[0]), ranged=True)

    def hops_upto(self, children: list[Any]) -> Hops:
        return Hops(_hop(children[0]), None, ranged=True)

    def where(self, children: list[Any]) -> _Where:
        return _Where(children[1])

    # -- conditions ----------------------------------------------------------------------
    def disjunction(self, children: list[Any]) -> Or:
        found = Or(tuple(c for c in children if not isinstance(c, Token)))
        self._nested(found)
        return found

    def conjunction(self, children: list[Any]) -> And:
        found = And(tuple(c for c in children if not isinstance(c, Token)))
        self._nested(found)
        return found

    def negate(self, children: list[Any]) -> Not:
        keyword, condition = children
        found = Not(condition, _at(keyword))
        self._nested(found, deeper=True)
        return found

    def group(self, children: list[Any]) -> Condition:
        condition: Condition = children[0]
        self.depth[id(condition)] = self._depth_of(condition) + 1
        self._check_depth(condition)
        return condition

    def compare(self, children: list[Any]) -> Compare:
        left, op, right = children
        found = Compare(Comparison(str(op)), left, right, _operand_at(left))
        self._leaf(found)
        return found

    def member(self, children: list[Any]) -> Membership:
        found = Membership(children[0], children[-1], False, _operand_at(children[0]))
        self._leaf(found)
        return found

    def not_member(self, children: list[Any]) -> Membership:
        found = Membership(children[0], children[-1], True, _operand_at(children[0]))
        self._leaf(found)
        return found

    def bare(self, children: list[Any]) -> Bare:
        found = Bare(children[0], _operand_at(children[0]))
        self._leaf(found)
        return found

    # -- operands ------------------------------------------------------------------------
    def call(self, children: list[Any]) -> Call:
        name, *args = children
        return Call(str(name), tuple(a for a in args if a is not None), _at(name))

    def ref(self, children: list[Any]) -> Ref:
        first, *rest = children
        return Ref((_free_name(first), *(_name(c) for c in rest)), _at(first))

    def values(self, children: list[Any]) -> tuple[Literal, ...]:
        values = tuple(c for c in children if c is not None)
        if len(values) > MAX_IN_VALUES:
            raise QueryInvalid(
                f"an IN list holds {len(values)} values; at most {MAX_IN_VALUES} are accepted",
                construct="IN list",
                at=values[MAX_IN_VALUES].at,
                limit=MAX_IN_VALUES,
            )
        return values

    def string(self, children: list[Any]) -> Literal:
        (token,) = children
        value = _unescape(str(token)[1:-1])
        if "\0" in value:
            raise QueryInvalid("a string holds a NUL character", construct="NUL character", at=_at(token))
        return Literal(value, _at(token))

    def number(self, children: list[Any]) -> Literal:
        (token,) = children
        text = str(token)
        value: Scalar
        if re.fullmatch(r"-?[0-9]+", text):
            value = int(text)
            if not -_INT64 <= value < _INT64:
                raise QueryInvalid(f"{text} does not fit a 64-bit integer", construct="number", at=_at(token))
        else:
            value = float(text)
            if not math.isfinite(value):
                raise QueryInvalid(
                    f"{text} is out of the range of numbers", construct="number", at=_at(token)
                )
        return Literal(value, _at(token))

    def true(self, children: list[Any]) -> Literal:
        return Literal(True, _at(children[0]))

    def false(self, children: list[Any]) -> Literal:
        return Literal(False, _at(children[0]))

    def null(self, children: list[Any]) -> Literal:
        return Literal(None, _at(children[0]))

    # -- limits --------------------------------------------------------------------------
    def _leaf(self, condition: Condition) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise QueryInvalid(
                f"WHERE holds more than {MAX_CONDITIONS} conditions",
                construct="WHERE",
                at=getattr(condition, "at", None),
                limit=MAX_CONDITIONS,
            )

    def _depth_of(self, condition: Condition) -> int:
        return self.depth.get(id(condition), 0)

    def _nested(self, condition: Condition, *, deeper: bool = False) -> None:
        inner = (
            [condition.condition]
            if isinstance(condition, Not)
            else list(getattr(condition, "conditions", ()))
        )
        self.depth[id(condition)] = max(self._depth_of(c) for c in inner) + (1 if deeper else 0)
        self._check_depth(condition)

    def _check_depth(self, condition: Condition) -> None:
        if self.depth[id(condition)] > MAX_DEPTH:
            raise QueryInvalid(
                f"conditions nest more than {MAX_DEPTH} deep (parentheses and NOT)",
                construct="nesting",
                at=getattr(condition, "at", None),
                limit=MAX_DEPTH,
            )


def _directed(edge: Edge, direction: Direction, meta: Meta) -> Edge:
    return Edge(direction, edge.names, edge.variable, edge.hops, _meta_at(meta))


def _meta_at(meta: Meta) -> Position:
    return Position(0, 0) if meta.empty else Position(meta.line, meta.column)


def _hop(token: Token) -> int:
    value = int(token)
    if value > 1_000:  # checked against the real cap later; this only keeps the number small
        raise QueryInvalid(f"{value} hops is far beyond any limit", construct="hops", at=_at(token))
    return value


def _operand_at(operand: Operand) -> Position:
    return operand.at


def _unescape(body: str) -> str:
    """A string literal's text: ``\\'``, ``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\uXXXX``...; any other
    escaped character stands for itself."""
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 5 and code[0] == "u":
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(replace, body)
