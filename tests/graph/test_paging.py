"""Paging twins returns every twin present from the first page to the last exactly once, on both engines.

Another client creates and deletes twins between pages (hypothesis chooses which, where
they sort, and the page sizes) and, in the last test, from a thread while pages are read.
Ids and names mix plain text with the characters where engines' string orders disagree
(U+E000..U+FFFF and above U+FFFF); flows include doubles with 17 significant digits and
ties, which FalkorDB answers rounded.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.search import Condition, find_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import base_model_set
from ontology.errors import BadRequest
from tests.graph.campus import EQUIPMENT, PUMP, TANK

MODELS = base_model_set()
# Plain letters, an accent, a private-use and a fullwidth character (U+E000..U+FFFF), and
# two above U+FFFF: Neo4j's ``>`` and its ORDER BY disagree on the last four.
_CHARS = ["a", "B", "-", "é", "\ue000", "\uff46", "\uffff", "\U0001f600", "\U0001d518"]
_IDS = st.text(alphabet=_CHARS, min_size=1, max_size=4)
_FLOWS = st.sampled_from([None, 0.1 + 0.2, 0.3, 1 / 3, 8.0, 12.5, -0.0, 2.0**53 + 1, 1e-300])
_SORTS = st.sampled_from(
    [("id", False), ("id", True), ("name", False), ("name", True), ("ratedFlow", False), ("ratedFlow", True)]
)


def _put(twins: TwinGraph, twin_id: str, name: str | None, flow: float | None) -> None:
    properties: dict[str, Any] = {}
    if name is not None:
        properties["name"] = name
    if flow is not None:
        properties["ratedFlow"] = flow
    # Tanks have no ratedFlow: they sort last by it, and a filter on it leaves them out.
    twins.put_twin(twin_id, PUMP if flow is not None else TANK, properties)


@st.composite
def walks(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(_IDS, min_size=1, max_size=20, unique=True))
    names = st.none() | st.sampled_from(["x", "a\U0001f600", "a\ue000", "\uff46"])
    twins = {i: (draw(names), draw(_FLOWS)) for i in ids}
    stays = draw(st.sets(st.sampled_from(ids)))
    return {
        "twins": twins,
        "stays": stays,
        "sort": draw(_SORTS),
        "sizes": draw(st.lists(st.integers(1, 7), min_size=1, max_size=40)),
        "newcomers": draw(st.lists(st.tuples(_IDS, _FLOWS), max_size=20)),
        "seed": draw(st.integers(0, 2**16)),
        "where": draw(st.booleans()),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(walk=walks())
def test_a_walk_sees_every_lasting_twin_once_while_others_come_and_go(
    store: GraphStore, walk: dict[str, Any]
) -> None:
    store.write("MATCH (n) DETACH DELETE n")
    twins = TwinGraph(store, MODELS)
    for twin_id, (name, flow) in walk["twins"].items():
        _put(twins, twin_id, name, flow)
    order_by, descending = walk["sort"]
    where = Condition("ratedFlow", "gte", -1.0) if walk["where"] else None
    lasting = {i for i in walk["stays"] if not walk["where"] or walk["twins"][i][1] is not None}
    # Twins not in ``stays`` are deleted as the walk goes; newcomers arrive at random places.
    doomed = [i for i in walk["twins"] if i not in walk["stays"]]
    newcomers = [n for n in dict(walk["newcomers"]).items() if n[0] not in walk["twins"]]
    rng = random.Random(walk["seed"])
    seen: list[str] = []
    after = None
    for step in range(len(walk["sizes"]) + 200):
        size = walk["sizes"][step % len(walk["sizes"])]
        page = find_twins(
            store,
            MODELS,
            EQUIPMENT,
            where=where,
            order_by=order_by,
            descending=descending,
            first=size,
            after=after,
        )
        seen += [t.id for t in page.twins]
        if not page.has_next:
            break
        after = page.end_cursor
        for _ in range(rng.randint(0, 3)):
            if doomed and rng.random() < 0.5:
                twins.delete_twin(doomed.pop(rng.randrange(len(doomed))), cascade=True)
            elif newcomers:
                new_id, flow = newcomers.pop()
                _put(twins, new_id, rng.choice([None, "b", "\U0001f600"]), flow)
    counts = Counter(seen)
    assert not [i for i, n in counts.items() if n > 1], f"repeated: {seen}"
    assert lasting <= set(seen), f"skipped: {sorted(lasting - set(seen))}"


def test_a_cursor_fits_only_its_own_query(store: GraphStore) -> None:
    twins = TwinGraph(store, MODELS)
    for i in range(3):
        _put(twins, f"p{i}", "x", float(i))
    cursor = find_twins(store, MODELS, EQUIPMENT, order_by="ratedFlow", first=1).end_cursor
    assert cursor is not None
    assert [t.id for t in find_twins(store, MODELS, EQUIPMENT, order_by="ratedFlow", after=cursor).twins] == [
        "p1",
        "p2",
    ]
    others: list[dict[str, Any]] = [
        {"model": PUMP, "order_by": "ratedFlow"},
        {"model": EQUIPMENT, "order_by": "ratedFlow", "descending": True},
        {"model": EQUIPMENT, "order_by": "name"},
        {"model": EQUIPMENT, "order_by": "ratedFlow", "where": Condition("name", "eq", "x")},
    ]
    for other in others:
        kwargs: dict[str, Any] = {"after": cursor, **other}
        with pytest.raises(BadRequest, match="another query"):
            find_twins(store, MODELS, kwargs.pop("model"), **kwargs)


def test_a_rounded_double_does_not_repeat_a_twin(store: GraphStore) -> None:
    # FalkorDB answers 0.30000000000000004 as 0.3: a cursor on that would start before it.
    twins = TwinGraph(store, MODELS)
    _put(twins, "a", "x", 0.1 + 0.2)
    _put(twins, "b", "x", 0.3)
    first = find_twins(store, MODELS, PUMP, order_by="ratedFlow", first=1)
    rest = find_twins(store, MODELS, PUMP, order_by="ratedFlow", first=5, after=first.end_cursor)
    assert [t.id for t in first.twins + rest.twins] == ["b", "a"]


def test_a_writer_thread_during_the_walk_never_makes_a_lasting_twin_skip_or_repeat(store: GraphStore) -> None:
    twins = TwinGraph(store, MODELS)
    lasting = [f"keep-{i:03d}-{c}" for i, c in enumerate(_CHARS * 8)]
    for i, twin_id in enumerate(lasting):
        _put(twins, twin_id, _CHARS[i % len(_CHARS)], float(i % 7) / 3)
    stop = threading.Event()
    written = Counter[str]()

    def other_client() -> None:
        rng = random.Random(7)
        alive: list[str] = []
        while not stop.is_set():
            if alive and rng.random() < 0.45:
                twins.delete_twin(alive.pop(rng.randrange(len(alive))))
                written["deleted"] += 1
            else:
                twin_id = (
                    "".join(rng.choice(_CHARS) for _ in range(rng.randint(1, 6))) + f"-{written['created']}"
                )
                _put(twins, twin_id, rng.choice(_CHARS), rng.choice([None, 0.1 + 0.2, 1.0]))
                alive.append(twin_id)
                written["created"] += 1

    writer = threading.Thread(target=other_client, daemon=True)
    writer.start()
    rng = random.Random(11)
    try:
        for order_by, descending in [("id", False), ("name", True), ("ratedFlow", False), ("id", True)]:
            seen: list[str] = []
            after = None
            while True:
                page = find_twins(
                    store,
                    MODELS,
                    EQUIPMENT,
                    order_by=order_by,
                    descending=descending,
                    first=rng.randint(1, 9),
                    after=after,
                )
                seen += [t.id for t in page.twins]
                if not page.has_next:
                    break
                after = page.end_cursor
            counts = Counter(seen)
            assert [i for i, n in counts.items() if n > 1] == [], (order_by, descending)
            assert sorted(set(lasting) - set(seen)) == [], (order_by, descending)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert written["created"] > 0
    assert written["deleted"] > 0
