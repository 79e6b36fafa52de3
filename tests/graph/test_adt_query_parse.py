"""The ADT query parser without a graph: round trips, checks, errors named and placed.

Property tests: any syntax tree written as text parses back to itself, and any text at
all either parses or is refused with ``QueryInvalid``, never another exception, also
when the translator runs on what parsed.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from graph.adt_query import MAX_DEPTH, MAX_QUERY_CHARS, QueryInvalid, parse_query
from graph.adt_query._check import check
from graph.adt_query._conditions import FALKORDB, NEO4J
from graph.adt_query._cypher import translate
from graph.adt_query._parse import parse
from graph.adt_query.syntax import (
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
    Or,
    Ref,
    Select,
    Shape,
)
from tests.graph.adt_golden import GOLDEN

# -- strategies: syntax trees -------------------------------------------------------------------
NAMES = st.sampled_from(
    [
        "T",
        "x",
        "Room",
        "name",
        "level",
        "_a",
        "a1",
        "Group",
        "select",
        "top",
        "count",
        "exact",
        "IN",
        "limit",
        "order",
        "from",
        "where",
        "Match",
        "related",
        "digitaltwins",
        "true",
        "null",
        "nin",
        "AS",
        "by",
    ]
)
SYSTEM = st.sampled_from(["$dtId", "$etag", "$metadata", "$model", "$sourceId", "$x_1"])
REFS = st.lists(st.one_of(NAMES, SYSTEM), min_size=1, max_size=4).map(lambda parts: Ref(tuple(parts)))
TEXT = st.text(alphabet=st.characters(exclude_characters="\0", exclude_categories=["Cs"]), max_size=20)
SCALARS = st.one_of(
    TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
LITERALS = SCALARS.map(Literal)
CALLS = st.builds(
    Call,
    st.sampled_from(["IS_DEFINED", "is_of_model", "STARTSWITH", "foo", "ARRAY_CONTAINS"]),
    st.lists(st.one_of(REFS, LITERALS), max_size=3).map(tuple),
)
OPERANDS = st.one_of(REFS, LITERALS, CALLS)
LEAVES = st.one_of(
    st.builds(Compare, st.sampled_from(list(Comparison)), OPERANDS, OPERANDS),
    st.builds(Membership, OPERANDS, st.lists(LITERALS, max_size=4).map(tuple), st.booleans()),
    st.builds(Bare, OPERANDS),
)


def _conditions(inner: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    many = st.lists(inner, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(Not, inner), many.map(And), many.map(Or))


CONDITIONS = st.recursive(LEAVES, _conditions, max_leaves=8)
ALIASES = st.one_of(st.none(), NAMES)
HOPS = st.one_of(
    st.none(),
    st.builds(Hops, st.integers(0, 12)),
    st.builds(Hops, st.integers(0, 12), st.one_of(st.none(), st.integers(0, 12)), st.just(True)),
)
EDGES = st.builds(
    Edge, st.sampled_from(list(Direction)), st.lists(NAMES, max_size=3).map(tuple), ALIASES, HOPS
)


@st.composite
def matches(draw: st.DrawFn) -> Match:
    edges = tuple(draw(st.lists(EDGES, max_size=3)))
    nodes = tuple(Node(draw(ALIASES)) for _ in range(len(edges) + 1))
    return Match(nodes, edges)


@st.composite
def selects(draw: st.DrawFn) -> Select:
    shape = draw(st.sampled_from(list(Shape)))
    columns = (
        tuple(draw(st.lists(st.builds(Column, REFS, ALIASES), min_size=1, max_size=3)))
        if shape == Shape.COLUMNS
        else ()
    )
    top = draw(st.one_of(st.none(), st.integers(1, 100_000)))
    return Select(shape, columns, top)


QUERIES = st.builds(
    AdtQuery,
    selects(),
    st.builds(From, st.sampled_from(list(Collection)), ALIASES),
    st.lists(st.builds(Join, NAMES, NAMES, NAMES, ALIASES), max_size=3).map(tuple),
    st.one_of(st.none(), matches()),
    st.one_of(st.none(), CONDITIONS),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(QUERIES)
def test_a_syntax_tree_written_as_text_parses_back_to_itself(query: AdtQuery) -> None:
    assert parse(str(query)) == query


# -- strategies: any text ---------------------------------------------------------------------
FRAGMENTS = st.sampled_from(
    [
        "SELECT",
        "*",
        "FROM",
        "DIGITALTWINS",
        "RELATIONSHIPS",
        "T",
        "WHERE",
        "JOIN",
        "RELATED",
        "MATCH",
        "(",
        ")",
        "-[",
        "]->",
        "<-[",
        "]-",
        ":",
        "|",
        "*1..3",
        ",",
        ".",
        "$dtId",
        "=",
        "!=",
        "<",
        ">=",
        "IN",
        "NIN",
        "NOT",
        "AND",
        "OR",
        "[",
        "]",
        "'x'",
        '"y"',
        "3",
        "-2.5e3",
        "true",
        "null",
        "TOP(2)",
        "COUNT()",
        "IS_OF_MODEL",
        "IS_DEFINED",
        "STARTSWITH",
        "exact",
        "AS",
        "[[Group]]",
        "'",
        "\\",
        "ORDER BY",
        ";",
        "\n",
        " ",
    ]
)
MUTATED = st.tuples(
    st.sampled_from([q for q, _ in GOLDEN]), st.integers(0, 400), st.integers(0, 6), TEXT
).map(lambda t: t[0][: t[1]] + t[3] + t[0][t[1] + t[2] :])
ANY_TEXT = st.one_of(
    st.lists(FRAGMENTS, max_size=25).map(" ".join),
    st.lists(FRAGMENTS, max_size=25).map("".join),
    MUTATED,
    st.text(max_size=200),
    st.text(alphabet=string.printable, max_size=200),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
@example("SELECT * FROM DIGITALTWINS WHERE " + "(" * 5000)
@example("SELECT * FROM DIGITALTWINS WHERE " + "NOT " * 5000 + "x = 1")
@example("SELECT * FROM DIGITALTWINS MATCH (a)-[*1..99999999999999999999]->(b)")
def test_any_text_parses_or_is_refused_by_name_never_otherwise(text: str) -> None:
    query = _parsed(text)
    if isinstance(query, QueryInvalid):
        assert query.details["construct"]
        assert query.message
        return
    scope = check(query)
    for dialect in (NEO4J, FALKORDB):
        plan = translate(query, scope, dialect, lambda dtmi: [dtmi], after=None, limit=3)
        assert plan.text.startswith("MATCH ")


def _parsed(text: str) -> AdtQuery | QueryInvalid:
    """The query, or the refusal (any other exception escapes and fails the test)."""
    try:
        return parse_query(text)
    except QueryInvalid as refused:
        return refused


# -- the language, example by example -----------------------------------------------------------
def test_the_golden_queries_all_parse_and_read_back_as_themselves() -> None:
    for query, _ in GOLDEN:
        parsed = parse_query(query)
        assert parse_query(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM DIGITALTWINS", "SELECT * FROM DIGITALTWINS"),
        ("select top (5) from digitaltwins as t", "SELECT TOP(5) * FROM DIGITALTWINS t"),
        ("SELECT T.name n FROM DIGITALTWINS T", "SELECT T.name AS n FROM DIGITALTWINS T"),
        (
            "SELECT * FROM DIGITALTWINS WHERE x NOT IN [1, 'a']",
            "SELECT * FROM DIGITALTWINS WHERE x NIN [1, 'a']",
        ),
        (
            "SELECT a FROM DIGITALTWINS MATCH (a)<-[has|includes*..3]-(b)",
            "SELECT a FROM DIGITALTWINS MATCH (a)<-[:has|includes*..3]-(b)",
        ),
        (
            "SELECT * FROM DIGITALTWINS WHERE [[Group]] = 'B'",
            "SELECT * FROM DIGITALTWINS WHERE [[Group]] = 'B'",
        ),
        ("SELECT T.top FROM DIGITALTWINS T", "SELECT T.[[top]] FROM DIGITALTWINS T"),
        (
            "SELECT * FROM DIGITALTWINS WHERE a = 'it\\'s' AND b = \"q\\\"\"",
            "SELECT * FROM DIGITALTWINS WHERE a = 'it\\'s' AND b = 'q\"'",
        ),
    ],
)
def test_canonical_text(text: str, expected: str) -> None:
    assert str(parse_query(text)) == expected


def test_hops_follow_adt_where_a_range_excludes_its_start() -> None:
    query = parse_query("SELECT a FROM DIGITALTWINS MATCH (a)-[*1..3]->(b)-[*2]-(c)-[*..4]-(d)")
    assert query.match is not None
    assert [e.hops.bounds() for e in query.match.edges if e.hops] == [(2, 3), (2, 2), (1, 4)]


def _refusal(text: str) -> QueryInvalid:
    with pytest.raises(QueryInvalid) as caught:
        parse_query(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "construct", "column"),
    [
        ("SELECT * FROM DIGITALTWINS ORDER BY x", "ORDER BY", 28),
        ("SELECT * FROM DIGITALTWINS GROUP BY x", "GROUP BY", 28),
        ("SELECT DISTINCT T FROM DIGITALTWINS T", "DISTINCT", 8),
        ("SELECT * FROM DIGITALTWINS LIMIT 5", "LIMIT (use TOP(n), or max-items-per-page to page)", 28),
        ("SELECT * FROM (SELECT * FROM DIGITALTWINS)", "subquery", 15),
        ("SELECT * FROM DEVICES", "FROM DEVICES (IoT Hub's collection)", 15),
        (
            "SELECT * FROM DIGITALTWINS WHERE name LIKE 'a%'",
            "LIKE (use STARTSWITH, ENDSWITH or CONTAINS)",
            39,
        ),
        ("SELECT * FROM DIGITALTWINS WHERE x = 1; DROP", "';' (one query per request)", 39),
        ("SELECT * FROM DIGITALTWINS WHERE `x` = 1", "backticks (write [[name]])", 34),
        ("SELECT * FROM DIGITALTWINS WHERE name = 'abc", "unterminated string", 41),
        ("SELECT * FROM DIGITALTWINS WHERE", "end of query", 33),
        ("SELECT FROM DIGITALTWINS", "SELECT", 1),
        ("SELECT * FROM DIGITALTWINS WHERE x == 1", "=", 37),
        ("SELECT TOP(0) FROM DIGITALTWINS", "TOP", 8),
        ("SELECT * FROM DIGITALTWINS WHERE x = 1e999", "number", 38),
        ("SELECT * FROM DIGITALTWINS WHERE x = 99999999999999999999", "number", 38),
        ("SELECT * FROM DIGITALTWINS WHERE FOO(x)", "FOO", 34),
        ("SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(x, y)", "IS_DEFINED", 34),
        ("SELECT * FROM DIGITALTWINS WHERE STARTSWITH(x, 5)", "STARTSWITH", 48),
        ("SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(IS_BOOL(x))", "IS_BOOL", 45),
        ("SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(x) = true", "IS_DEFINED", 34),
        ("SELECT * FROM DIGITALTWINS WHERE x", "x", 34),
        ("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL(T, 'dtmi:a;1')", "IS_OF_MODEL", 34),
        ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 5)", "IS_OF_MODEL", 36),
        ("SELECT * FROM RELATIONSHIPS R WHERE IS_OF_MODEL('dtmi:a;1')", "IS_OF_MODEL", 37),
        ("SELECT X FROM DIGITALTWINS T JOIN X RELATED T.a JOIN Y RELATED X.b WHERE name = 1", "name", 74),
        ("SELECT * FROM DIGITALTWINS T WHERE U.name = 'x' AND T.a = 1 AND V.b = 2", "U", 36),
        ("SELECT T FROM DIGITALTWINS T JOIN T RELATED T.a", "T", 30),
        ("SELECT X FROM DIGITALTWINS T JOIN X RELATED Q.a", "Q", 30),
        ("SELECT X FROM DIGITALTWINS JOIN X RELATED Q.a", "JOIN", 28),
        ("SELECT X FROM RELATIONSHIPS R JOIN X RELATED R.a", "JOIN", 31),
        ("SELECT X FROM DIGITALTWINS T JOIN X RELATED T.a MATCH (X)", "JOIN", 30),
        ("SELECT X FROM DIGITALTWINS MATCH ()", "MATCH", 28),
        ("SELECT a FROM DIGITALTWINS MATCH (a)-[*11]->(b)", "hops", 37),
        ("SELECT a FROM DIGITALTWINS MATCH (a)-[*3..3]->(b)", "hops", 37),
        ("SELECT a FROM DIGITALTWINS MATCH (a)-[r*2]->(b)", "r", 37),
        ("SELECT a FROM DIGITALTWINS MATCH (a)-[:_x]->(b)", "_x", 37),
        ("SELECT a FROM DIGITALTWINS T MATCH (a)-[]->(b)", "T", 10),
        ("SELECT TOP(2) COUNT() FROM DIGITALTWINS", "TOP", 1),
        ("SELECT T.name, U.name FROM DIGITALTWINS T JOIN U RELATED T.a", "name", 16),
        ("SELECT name FROM DIGITALTWINS T JOIN U RELATED T.a", "name", 8),
        ("SELECT * FROM DIGITALTWINS WHERE $foo = 1", "$foo", 34),
        (
            "SELECT * FROM DIGITALTWINS WHERE $metadata.name.lastUpdateTime = 1",
            "$metadata.name.lastUpdateTime",
            34,
        ),
        ("SELECT * FROM RELATIONSHIPS WHERE $dtId = 'a'", "$dtId", 35),
        ("SELECT $metadata FROM DIGITALTWINS", "$metadata", 8),
        ("SELECT * FROM DIGITALTWINS T WHERE T = 1", "T", 36),
        ("SELECT * FROM DIGITALTWINS WHERE a.$dtId = 1", "$dtId", 34),
        ("SELECT * FROM DIGITALTWINS WHERE select = 1", "select", 34),
        ("SELECT * FROM DIGITALTWINS WHERE x = 'a\0'", "NUL character", 40),
    ],
)
def test_a_refused_query_names_its_construct_and_where_it_starts(
    text: str, construct: str, column: int
) -> None:
    error = _refusal(text)
    assert error.details["construct"] == construct
    if column > 1 or "line" in error.details:
        assert (error.details.get("line"), error.details.get("column")) == (1, column), error.message
    assert error.code == "BAD_REQUEST"


def test_an_unknown_function_lists_the_functions_there_are() -> None:
    error = _refusal("SELECT * FROM DIGITALTWINS WHERE IS_ARRAY(x)")
    assert "unknown function 'IS_ARRAY'" in error.message
    assert "ARRAY_CONTAINS" in error.message
    assert "IS_OF_MODEL" in error.message


def test_a_misspelt_collection_is_suggested() -> None:
    error = _refusal(
        "SELECT B FROM DIGITALTWINS Building JOIN B RELATED Building.contains WHERE building.$dtId = 'x'"
    )
    assert "did you mean 'Building'?" in error.message


def test_errors_on_later_lines_say_which_line() -> None:
    error = _refusal("SELECT *\nFROM DIGITALTWINS\nWHERE x ORDER BY y")
    assert (error.details["line"], error.details["column"], error.details["construct"]) == (3, 9, "ORDER BY")


def test_limits_are_named_with_their_limit() -> None:
    long = _refusal("SELECT * FROM DIGITALTWINS WHERE name = '" + "x" * MAX_QUERY_CHARS + "'")
    assert (long.details["construct"], long.details["limit"]) == ("query length", MAX_QUERY_CHARS)
    deep = _refusal(
        "SELECT * FROM DIGITALTWINS WHERE " + "(" * (MAX_DEPTH + 1) + "x = 1" + ")" * (MAX_DEPTH + 1)
    )
    assert deep.details["construct"] == "nesting"
    wide = _refusal("SELECT * FROM DIGITALTWINS WHERE x IN [" + ", ".join(["1"] * 1001) + "]")
    assert wide.details["construct"] == "IN list"
    many = _refusal("SELECT * FROM DIGITALTWINS WHERE " + " OR ".join(["x = 1"] * 501))
    assert many.details["construct"] == "WHERE"
    joins = " ".join(f"JOIN J{i} RELATED {'T' if i == 0 else f'J{i - 1}'}.a" for i in range(6))
    assert _refusal(f"SELECT T FROM DIGITALTWINS T {joins}").details["construct"] == "JOIN"


def test_the_deepest_allowed_nesting_parses() -> None:
    parse_query("SELECT * FROM DIGITALTWINS WHERE " + "(" * MAX_DEPTH + "x = 1" + ")" * MAX_DEPTH)


@pytest.mark.parametrize("text", [1, None, b"SELECT * FROM DIGITALTWINS", "", "   \n "])
def test_what_is_not_query_text_is_refused(text: object) -> None:
    with pytest.raises(QueryInvalid):
        parse_query(text)  # type: ignore[arg-type]
