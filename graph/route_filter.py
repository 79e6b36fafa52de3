"""Event route filters: which change events an event route lets through.

Azure Digital Twins' routes carry a filter over the CloudEvents attributes of each event
and its body. kgtwin reads this subset of that syntax (keywords and attribute names in any
case, string literals in single quotes with ``''`` for a quote):

    filter     := or
    or         := and ("OR" and)*
    and        := unary ("AND" unary)*
    unary      := "NOT" unary | "(" or ")" | "true" | "false" | comparison | function
    comparison := operand ("=" | "!=" | "<>") literal
    function   := ("STARTS_WITH" | "ENDS_WITH" | "CONTAINS") "(" operand "," string ")"
    operand    := type | source | subject | id | dataschema | datacontenttype | specversion
                | "$body" ("." name)+
    literal    := string | number | "true" | "false" | "null"

``$body.<name>...`` reads a member of the event's data (``$body.$metadata.$model`` is the
model of a created twin). Anything else is refused with the position and what was
expected, so a route is never stored with a filter it cannot apply. Parsing is by hand:
the grammar is a dozen rules and evaluation must be cheap (it runs for every event).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ontology.errors import BadRequest

ATTRIBUTES = frozenset({"type", "source", "subject", "id", "dataschema", "datacontenttype", "specversion"})
MAX_FILTER_LENGTH = 4096

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op>!=|<>|=|\(|\)|,)|(?P<path>\$body(?:\.\$?[A-Za-z_][A-Za-z0-9_]*)+)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_FUNCTIONS = {
    "STARTS_WITH": str.startswith,
    "ENDS_WITH": str.endswith,
    "CONTAINS": str.__contains__,
}

Predicate = Callable[[Mapping[str, Any], Any], bool]
"""Whether an event (its attributes, its body) passes."""


@dataclass(frozen=True)
class RouteFilter:
    """A parsed filter: ``matches(attributes, body)`` tells whether an event passes it."""

    text: str
    _predicate: Predicate

    def matches(self, attributes: Mapping[str, Any], body: Any) -> bool:
        """Whether the event with these CloudEvents ``attributes`` and data ``body`` passes."""
        return self._predicate(attributes, body)


def parse_filter(text: str) -> RouteFilter:
    """The filter ``text`` parsed; ``BadRequest`` naming the position and what was expected."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("an event route filter is an expression; use 'true' to let every event through")
    if len(text) > MAX_FILTER_LENGTH:
        raise BadRequest(f"an event route filter holds at most {MAX_FILTER_LENGTH} characters")
    parser = _Parser(text)
    predicate = parser.expression()
    parser.end()
    return RouteFilter(text, predicate)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.at = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise self.error("the filter ends too early")
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].upper() == word:
            self.at += 1
            return True
        return False

    def expect(self, op: str) -> None:
        token = self.take()
        if token[0] != "op" or token[1] != op:
            raise self.error(f"expected {op!r}", token)

    def error(self, message: str, token: tuple[str, str, int] | None = None) -> BadRequest:
        position = token[2] if token is not None else len(self.text)
        found = f", found {token[1]!r}" if token is not None else ""
        return BadRequest(
            f"event route filter, character {position + 1}: {message}{found}",
            details={"filter": self.text, "position": position + 1},
        )

    def end(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.error("expected AND, OR or the end of the filter", token)

    def expression(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda a, b: any(p(a, b) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("AND"):
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda a, b: all(p(a, b) for p in parts)

    def unary(self) -> Predicate:
        if self.keyword("NOT"):
            inner = self.unary()
            return lambda a, b: not inner(a, b)
        token = self.take()
        kind, value, _ = token
        if kind == "op" and value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "word" and value.lower() in ("true", "false"):
            constant = value.lower() == "true"
            return lambda a, b: constant
        if kind == "word" and value.upper() in _FUNCTIONS:
            return self.function(value.upper())
        self.at -= 1
        return self.comparison()

    def function(self, name: str) -> Predicate:
        test = _FUNCTIONS[name]
        self.expect("(")
        read = self.operand()
        self.expect(",")
        token = self.take()
        if token[0] != "string":
            raise self.error(f"{name} takes a string in single quotes", token)
        needle = _unquote(token[1])
        self.expect(")")

        def check(attributes: Mapping[str, Any], body: Any) -> bool:
            value = read(attributes, body)
            return isinstance(value, str) and test(value, needle)

        return check

    def comparison(self) -> Predicate:
        read = self.operand()
        token = self.take()
        if token[0] != "op" or token[1] not in ("=", "!=", "<>"):
            raise self.error("expected =, != or <>", token)
        equal = token[1] == "="
        literal = self.literal()

        def compare(attributes: Mapping[str, Any], body: Any) -> bool:
            value = read(attributes, body)
            same = (value == literal and type(value) is type(literal)) or _numbers_equal(value, literal)
            return same if equal else not same

        return compare

    def operand(self) -> Callable[[Mapping[str, Any], Any], Any]:
        token = self.take()
        kind, value, _ = token
        if kind == "path":
            steps = value.split(".")[1:]
            return lambda a, b: _member(b, steps)
        if kind == "word" and value.lower() in ATTRIBUTES:
            name = value.lower()
            return lambda a, b: a.get(name)
        expected = ", ".join(sorted(ATTRIBUTES))
        raise self.error(f"expected an event attribute ({expected}) or $body.<name>", token)

    def literal(self) -> Any:
        token = self.take()
        kind, value, _ = token
        if kind == "string":
            return _unquote(value)
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "word" and value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value.lower()]
        raise self.error("expected a string in single quotes, a number, true, false or null", token)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[position:].lstrip())
            raise BadRequest(
                f"event route filter, character {start + 1}: unexpected {text[start : start + 10]!r}",
                details={"filter": text, "position": start + 1},
            )
        found.append((match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup)))
        position = match.end()
    return found


def _unquote(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _member(body: Any, steps: list[str]) -> Any:
    value = body
    for step in steps:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _numbers_equal(value: Any, literal: Any) -> bool:
    numeric = (int, float)
    return (
        isinstance(value, numeric)
        and isinstance(literal, numeric)
        and not isinstance(value, bool)
        and not isinstance(literal, bool)
        and value == literal
    )
