"""Syntax errors as kgtwin names them: the construct, what was expected, and where.

lark says which token it met and which terminals it could take; this module turns that
into a ``QueryInvalid`` a person can act on, and names words of other languages (SQL,
Cypher, IoT Hub's) as outside this one rather than as a bare syntax error.
"""

from __future__ import annotations

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import FOREIGN_WORDS, Position

# Words of SQL, Cypher or IoT Hub's language that people try; met where the grammar does
# not take them, they are named as outside the language rather than as a syntax error.
FOREIGN = {
    "ORDER": "ORDER BY",
    "GROUP": "GROUP BY",
    "BY": "ORDER BY / GROUP BY",
    "LIMIT": "LIMIT (use TOP(n), or max-items-per-page to page)",
    "OFFSET": "OFFSET (page with the continuation token)",
    "SKIP": "SKIP (page with the continuation token)",
    "DISTINCT": "DISTINCT",
    "UNION": "UNION",
    "HAVING": "HAVING",
    "LIKE": "LIKE (use STARTSWITH, ENDSWITH or CONTAINS)",
    "BETWEEN": "BETWEEN (use two comparisons)",
    "IS": "IS (use IS_NULL or IS_DEFINED)",
    "EXISTS": "EXISTS",
    "CASE": "CASE",
    "ASC": "ASC",
    "DESC": "DESC",
    "INNER": "INNER JOIN (write JOIN ... RELATED)",
    "OUTER": "OUTER JOIN",
    "LEFT": "LEFT JOIN",
    "RIGHT": "RIGHT JOIN",
    "CROSS": "CROSS JOIN",
    "ON": "JOIN ... ON (write JOIN ... RELATED)",
    "DEVICES": "FROM DEVICES (IoT Hub's collection)",
    "DEVICES_MODULES": "FROM DEVICES_MODULES (IoT Hub's collection)",
    "DEVICES_JOBS": "FROM DEVICES_JOBS (IoT Hub's collection)",
    **{
        word: f"{word} (a write)"
        for word in ("INSERT", "UPDATE", "DELETE", "CREATE", "MERGE", "SET", "REMOVE")
    },
    **{word: f"Cypher's {word}" for word in ("DETACH", "RETURN", "WITH", "CALL", "UNWIND", "OPTIONAL")},
    **{word: f"{word} (the one aggregate is COUNT())" for word in ("AVG", "SUM", "MIN", "MAX")},
}
assert set(FOREIGN) == FOREIGN_WORDS
_EXPECTED = {
    "SELECT": "SELECT",
    "TOP": "TOP",
    "COUNT": "COUNT",
    "FROM": "FROM",
    "COLLECTION": "DIGITALTWINS or RELATIONSHIPS",
    "AS": "AS",
    "JOIN": "JOIN",
    "RELATED": "RELATED",
    "MATCH": "MATCH",
    "WHERE": "WHERE",
    "AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
    "IN": "IN",
    "NIN": "NIN",
    "NAME": "a name",
    "SYSTEM": "a $name",
    "ESCAPED": "a [[name]]",
    "INT": "a whole number",
    "NUMBER": "a number",
    "STRING": "a string",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "COMPARE": "a comparison (=, !=, <, <=, >, >=)",
    "STAR": "*",
    "$END": "the end of the query",
}


def place(text: str, offset: int) -> Position:
    """The line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def syntax_error(exc: UnexpectedInput, text: str, parser: Lark) -> QueryInvalid:
    """The error for what lark refused, naming the construct and where it starts."""
    at = Position(exc.line, exc.column) if exc.line > 0 else place(text, len(text))
    if isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream or 0
        char = text[offset] if offset < len(text) else ""
        if char and char in "'\"":
            return QueryInvalid("the string never ends", construct="unterminated string", at=at)
        construct = {";": "';' (one query per request)", "`": "backticks (write [[name]])"}.get(
            char, repr(char)
        )
        return QueryInvalid(f"unexpected character {construct}", construct=construct, at=at)
    names: set[str] = set(getattr(exc, "expected", None) or ())
    expected = sorted({_EXPECTED.get(name, _anonymous(parser, name)) for name in names})
    wanted = "; expected " + ", ".join(expected) if expected else ""
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        end = place(text, len(text.rstrip()))
        return QueryInvalid("the query ends too early" + wanted, construct="end of query", at=end)
    assert isinstance(exc, UnexpectedToken)
    value = str(exc.token.value)
    if value.upper() == "SELECT" or (value == "(" and "COLLECTION" in names):
        return QueryInvalid("subqueries are not part of the ADT query language", construct="subquery", at=at)
    # A foreign word just before may have been taken as a name (``FROM DIGITALTWINS ORDER BY``).
    before = list(getattr(exc.state, "value_stack", ())[-1:]) if exc.state is not None else []
    for token in [*before, exc.token]:
        if isinstance(token, Token) and token.type == "NAME" and str(token).upper() in FOREIGN:
            construct = FOREIGN[str(token).upper()]
            return QueryInvalid(
                f"{construct} is not part of the ADT query language",
                construct=construct,
                at=Position(token.line or 0, token.column or 0),
            )
    return QueryInvalid(f"unexpected {value!r}{wanted}", construct=value, at=at)


def _anonymous(parser: Lark, name: str) -> str:
    try:
        return repr(parser.get_terminal(name).pattern.value)
    except KeyError:
        return name
