"""Bad input to ``run_query`` on both engines: each a ``QueryInvalid`` naming the problem, nothing lost.

Malformed queries, unknown functions, injection through string literals, a 1 MB query,
forged, altered, foreign and expired continuation tokens, page sizes out of range.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from graph.adt_query import TOKEN_TTL_S, QueryInvalid, run_query
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology.errors import KgtwinError
from tests.graph.adt_building import ROOM, build_building, building_models

ROOMS = "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '" + ROOM + "')"


@pytest.fixture
def building(store: GraphStore) -> GraphStore:
    build_building(store)
    return store


def _refused(store: GraphStore, text: str, **kwargs: object) -> QueryInvalid:
    with pytest.raises(QueryInvalid) as caught:
        run_query(store, text, **kwargs)  # type: ignore[arg-type]
    return caught.value


def _count(store: GraphStore) -> tuple[int, int]:
    nodes = store.query_rows("MATCH (n) RETURN count(n)")[0][0]
    edges = store.query_rows("MATCH ()-[r]->() RETURN count(r)")[0][0]
    return int(nodes), int(edges)


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ("SELEC * FROM DIGITALTWINS", "SELEC"),
        ("SELECT * FROM DIGITALTWINS WHERE", "end of query"),
        ("SELECT * FROM DIGITALTWINS WHERE (x = 1", "end of query"),
        ("SELECT * FROM DIGITALTWINS WHERE x = 1)", ")"),
        ("SELECT * FROM DIGITALTWINS ORDER BY $dtId", "ORDER BY"),
        ("SELECT * FROM DIGITALTWINS WHERE x = 1; MATCH (n) DETACH DELETE n", "';' (one query per request)"),
        ("MATCH (n) RETURN n", "MATCH"),
        ("SELECT * FROM DIGITALTWINS WHERE IS_ARRAY(x)", "IS_ARRAY"),
        ("SELECT * FROM DIGITALTWINS WHERE toUpper(name) = 'X'", "toUpper"),
        ("SELECT * FROM DIGITALTWINS WHERE apoc.text.join(x) = 1", "("),
    ],
)
def test_a_malformed_query_is_refused_by_name(building: GraphStore, text: str, construct: str) -> None:
    error = _refused(building, text)
    assert error.details["construct"] == construct
    assert error.code == "BAD_REQUEST"


@pytest.mark.parametrize(
    "value",
    [
        "' OR 1=1 --",
        "x') MATCH (n) DETACH DELETE n //",
        '") RETURN 1 UNION MATCH (n) DETACH DELETE n //',
        "}) WITH 1 AS x MATCH (n) SET n.hacked = true //",
        "` MATCH (n) DELETE n //",
        '\\" RETURN 1 //',
        "line\nbreak\r\ttab \\u0041",
        "CYPHER p0=1 ",
        "$p0",
        "🙂 ünïcode",
    ],
)
def test_string_literals_are_values_never_query_text(building: GraphStore, value: str) -> None:
    before = _count(building)
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    twins = TwinGraph(building, building_models())
    twins.patch_twin("room-d", [{"op": "add", "path": "/name", "value": value}])
    for text in (
        f"SELECT * FROM DIGITALTWINS WHERE name = '{escaped}'",
        f"SELECT * FROM DIGITALTWINS WHERE name IN ['{escaped}', 'x']",
        f"SELECT * FROM DIGITALTWINS WHERE STARTSWITH(name, '{escaped}')",
        f"SELECT T FROM DIGITALTWINS T JOIN X RELATED T.contains WHERE X.name = '{escaped}'",
    ):
        items = run_query(building, text).items
        found = [next(iter(item.values())) for item in items]
        assert [getattr(t, "id", None) for t in found] in (["room-d"], ["floor-1"]), text
    assert _count(building) == before
    assert building.query_rows("MATCH (n) WHERE n.hacked RETURN count(n)")[0][0] == 0


def test_a_1_mb_query_is_refused_before_it_is_parsed(building: GraphStore) -> None:
    text = "SELECT * FROM DIGITALTWINS WHERE name IN [" + ", ".join(["'xxxxxxxx'"] * 90_000) + "]"
    assert len(text) > 1_000_000
    started = time.perf_counter()
    error = _refused(building, text)
    assert time.perf_counter() - started < 0.5
    assert error.details["construct"] == "query length"
    assert "at most" in error.message


def test_a_forged_token_is_refused(building: GraphStore) -> None:
    body = base64.urlsafe_b64encode(json.dumps({"v": 1, "k": ["room-a"], "n": 1}).encode()).decode()
    for token in ("", "abc", "x.y", body + ".AAAA", "..", "€.€", "a" * 20_000):
        error = _refused(building, ROOMS, continuation=token)
        assert error.details["construct"] == "continuation token"


def test_an_altered_token_is_refused(building: GraphStore) -> None:
    token = run_query(building, ROOMS, max_items=1).continuation
    assert token is not None
    body, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["k"] = ["room-c"]
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=") + "." + mac
    error = _refused(building, ROOMS, continuation=forged)
    assert "altered" in error.message
    flipped = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert _refused(building, ROOMS, continuation=flipped).details["construct"] == "continuation token"


def test_a_token_of_another_query_is_refused(building: GraphStore) -> None:
    token = run_query(building, ROOMS, max_items=1).continuation
    error = _refused(building, ROOMS + " AND T.capacity > 0", continuation=token)
    assert "another query" in error.message


def test_an_expired_token_is_refused(building: GraphStore) -> None:
    issued = time.time() - TOKEN_TTL_S - 10
    token = run_query(building, ROOMS, max_items=1, now=lambda: issued).continuation
    assert "expired" in _refused(building, ROOMS, continuation=token).message


def test_wiping_the_graph_voids_its_tokens(building: GraphStore) -> None:
    token = run_query(building, ROOMS, max_items=1).continuation
    building.write("MATCH (n) DETACH DELETE n")
    build_building(building)
    assert "not issued by this graph" in _refused(building, ROOMS, continuation=token).message


@pytest.mark.parametrize("max_items", [0, -1, 1001, True, 2.5])
def test_a_page_size_out_of_range_is_refused(building: GraphStore, max_items: object) -> None:
    error = _refused(building, ROOMS, max_items=max_items)
    assert error.details["construct"] == "max-items-per-page"


def test_every_refusal_is_a_kgtwin_error_with_a_message(building: GraphStore) -> None:
    for text in (
        "",
        "SELECT",
        "SELECT * FROM DIGITALTWINS WHERE x = 'a",
        "SELECT 'x' FROM DIGITALTWINS",
        None,
        ["x"],
    ):
        with pytest.raises(KgtwinError) as caught:
            run_query(building, text)
        assert caught.value.to_dict()["code"] == "BAD_REQUEST"
        assert caught.value.message
