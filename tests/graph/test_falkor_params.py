"""FalkorDB parameters written by kgtwin (``graph._falkor_params``) come back as sent.

FalkorDB takes parameters as Cypher text, so every value is sent through the real engine
and read back with ``RETURN $p``: strings with quotes, backslashes, backticks, control
characters and any Unicode, numbers, booleans, nulls, lists and maps.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph._falkor_params import params_header, value_text
from graph.falkordb import FalkorGraphStore
from ontology.errors import BadRequest

# FalkorDB strings are C strings: no NUL. Lone surrogates cannot be sent as UTF-8 at all.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
SCALARS = (
    TEXT
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    # FalkorDB *answers* doubles with 15 significant digits (what it receives is exact: see
    # test_doubles_are_sent_exactly), so only such doubles can be compared after a round trip.
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: float(f"{f:.15g}") == f)
    | st.booleans()
    | st.none()
)
KEYS = TEXT.filter(lambda k: bool(k) and "`" not in k)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def echo(store: FalkorGraphStore, value: Any) -> Any:
    return store.query_rows("RETURN $p", {"p": value})[0][0]


@pytest.mark.parametrize(
    "value",
    [
        'say "hi"',
        "back\\slash \\n not a newline",
        "`backticks` in a value",
        "line\nbreak\ttab\rreturn\x08\x0c",
        "\x01\x1f control",
        "\\u00e9 is six characters",
        "é ü 中文 😀",
        "",
        ["a", 1, 2.5, True, None, ["nested", "list"]],
        {"key with space": 1, "dotted.key": "v", "@type": ["x"], "é": {"inner": False}},
        [[1, "a\nb"], [2, "\x02"]],
    ],
)
def test_values_come_back_as_sent(falkordb_store: FalkorGraphStore, value: Any) -> None:
    assert echo(falkordb_store, value) == value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES)
def test_any_value_comes_back_as_sent(falkordb_store: FalkorGraphStore, value: Any) -> None:
    assert same(echo(falkordb_store, value), value)


def same(back: Any, sent: Any) -> bool:
    """Equal, with booleans kept apart from integers (``True == 1`` in Python)."""
    if isinstance(sent, dict):
        return (
            isinstance(back, dict)
            and back.keys() == sent.keys()
            and all(same(back[k], sent[k]) for k in sent)
        )
    if isinstance(sent, list):
        return isinstance(back, list) and len(back) == len(sent) and all(map(same, back, sent))
    return back == sent and isinstance(back, bool) == isinstance(sent, bool)


def test_keys_falkordb_cannot_write_and_non_finite_numbers_are_refused(
    falkordb_store: FalkorGraphStore,
) -> None:
    for value in ({"a`b": 1}, {"": 1}, [1.0, math.inf], math.nan):
        with pytest.raises(BadRequest):
            echo(falkordb_store, value)


def test_doubles_are_sent_exactly(falkordb_store: FalkorGraphStore) -> None:
    rows = falkordb_store.query_rows("RETURN $p - 1000000000000000.0", {"p": 1000000000000001.0})
    assert rows == [[1.0]]


def test_lists_of_scalars_are_written_as_the_client_would_read_them() -> None:
    assert params_header({"rows": [[1, 'a"b\\c'], [2.5, None, True]]}) == (
        'CYPHER `rows`=[[1,"a\\"b\\\\c"],[2.5,null,true]] '
    )
    # A control character JSON would write as \\u0001 goes through the exact encoder.
    assert params_header({"s": ["\x01"]}) == 'CYPHER `s`=["\x01"] '
    assert value_text({"k": [1, "x"]}) == '{`k`:[1,"x"]}'


@pytest.mark.parametrize(
    "params",
    [
        {"p": "nul\x00inside"},
        {"ids": ["ok", "nul\x00id"]},
        {"rows": [{"id": "a", "props": {"state": "on\x00off"}}]},
        {"rows": [{"nul\x00key": 1}]},
    ],
)
def test_a_nul_anywhere_is_a_bad_request_before_the_engine_sees_it(
    falkordb_store: FalkorGraphStore, params: dict[str, Any]
) -> None:
    """FalkorDB has no escape for U+0000 and fails the whole query on one: it is refused first."""
    with pytest.raises(BadRequest, match=r"U\+0000"):
        falkordb_store.query_rows("RETURN 1", params)
    with pytest.raises(BadRequest, match=r"U\+0000"):
        falkordb_store.write("RETURN 1", params)
    assert falkordb_store.query_rows("RETURN $p", {"p": "still\x01answers"}) == [["still\x01answers"]]
