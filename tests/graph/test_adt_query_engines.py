"""ADT queries checked against a reference written in Python, on both engines.

Where an engine has a fault kgtwin works around (FalkorDB's range index on ``Twin.id``,
its variable-length hops walked backwards), every combination is compared with what the
query means, computed here from the building's own lists.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable

import pytest

from graph.adt_query import run_query
from graph.store import GraphStore
from tests.graph.adt_building import RELATIONSHIPS, TWINS, build_building

IDS = sorted(twin_id for twin_id, _, _ in TWINS)
ORDERINGS: dict[str, Callable[[str, str], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@pytest.fixture(scope="module", params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def building(request: pytest.FixtureRequest) -> GraphStore:
    store: GraphStore = request.getfixturevalue(f"{request.param}_store")
    store.write("MATCH (n) DETACH DELETE n")
    build_building(store)
    return store


def _all(store: GraphStore, text: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    token = None
    while True:
        page = run_query(store, text, max_items=1000, continuation=token)
        items += page.items
        token = page.continuation
        if token is None:
            return items


@pytest.mark.parametrize("op", list(ORDERINGS))
def test_ordering_twin_ids_agrees_with_string_order(building: GraphStore, op: str) -> None:
    for bound in [*IDS, "", "floor-", "room-b0", "zzz"]:
        found = [
            getattr(item["$twin"], "id", None)
            for item in _all(building, f"SELECT * FROM DIGITALTWINS T WHERE T.$dtId {op} '{bound}'")
        ]
        assert found == [t for t in IDS if ORDERINGS[op](t, bound)], (op, bound)


def _trails(start: str, names: tuple[str, ...], direction: str, low: int, high: int) -> set[str]:
    """The twins ending a trail (no relationship twice) of ``low``..``high`` hops from ``start``."""
    edges = [
        (source, f"{source}/{rid}", target)
        for source, rid, name, target, _ in RELATIONSHIPS
        if not names or name in names
    ]
    found: set[str] = set()

    def walk(at: str, used: frozenset[str], hops: int) -> None:
        if low <= hops:
            found.add(at)
        if hops == high:
            return
        for source, key, target in edges:
            if key in used:
                continue
            if direction in ("out", "any") and source == at:
                walk(target, used | {key}, hops + 1)
            if direction in ("in", "any") and target == at:
                walk(source, used | {key}, hops + 1)

    walk(start, frozenset(), 0)
    return found


ARROWS = {"out": ("-", "->"), "in": ("<-", "-"), "any": ("-", "-")}
# ADT's hop counts and what they mean: *n exactly n; *a..b more than a, at most b; *..b 1 to b.
HOPS = {"*1": (1, 1), "*2": (2, 2), "*3": (3, 3), "*1..3": (2, 3), "*..2": (1, 2), "*0..2": (1, 2)}
NAMES: list[tuple[str, ...]] = [(), ("contains",), ("feeds",), ("feeds", "locatedIn")]


@pytest.mark.parametrize(("direction", "names"), list(itertools.product(ARROWS, NAMES)))
def test_variable_hops_reach_what_trails_reach(
    building: GraphStore, direction: str, names: tuple[str, ...]
) -> None:
    left, right = ARROWS[direction]
    label = ":" + "|".join(names) if names else ""
    for (spec, (low, high)), start in itertools.product(
        HOPS.items(), ("site-1", "room-c", "pump-2", "tank-2")
    ):
        # The anchor at either end of the pattern: FalkorDB then walks the hop one way or the other.
        for pattern, anchor in (
            (f"(A){left}[{label}{spec}]{right}(B)", "A"),
            (f"(B){_reverse(left, right, label + spec)}(A)", "A"),
        ):
            text = f"SELECT B FROM DIGITALTWINS MATCH {pattern} WHERE {anchor}.$dtId = '{start}'"
            found = {getattr(item["B"], "id", None) for item in _all(building, text)}
            assert found == _trails(start, names, direction, low, high), text


def _reverse(left: str, right: str, inner: str) -> str:
    """The same hop written from its other end: ``-[..]->`` read backwards is ``<-[..]-``."""
    flipped = {("-", "->"): ("<-", "-"), ("<-", "-"): ("-", "->"), ("-", "-"): ("-", "-")}[(left, right)]
    return f"{flipped[0]}[{inner}]{flipped[1]}"
