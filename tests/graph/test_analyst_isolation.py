"""An analyst's expensive query does not stall the twin, on either engine.

Measured first (``bench/analyst_isolation.py``, 2,000 rooms, a cartesian product with a
10 s budget, the 2-core test machine at load 13-18; docs/performance.md): through
``GraphStore.read`` a FalkorDB twin update waited for the whole query, p99 10,021 ms
(latest values 9,834 ms, reads 9,924 ms); Neo4j, whose readers take no locks, kept p99 at
459 ms. Through ``GraphStore.analyst_read`` (FalkorDB: a copy of the graph) the FalkorDB
p99 fell to 117 ms (latest values 39 ms), Neo4j's was 560 ms. The bound tested here,
``P99_BOUND_S``, is 2 s: a tenth of this test's 20 s budget, which a stalled write would
wait out, with room for a machine other processes share (Neo4j, which takes no read
locks, reached a p99 of 1.47 s at load 25 on the 2-core machine, its median 0.4 s).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from api.context import twin_context
from graph.errors import QueryTimeout
from graph.latest import write_latest
from graph.store import GraphStore
from graph.twins import TwinGraph
from graph.visibility import read_as_analyst

ROOM = "dtmi:kgtwin:space:Room;1"
ROOMS = 500
# Four-way: 500**4 rows outlast the budget on a quiet machine too (three-way can finish in it).
CARTESIAN = "MATCH (a:Twin), (b:Twin), (c:Twin), (d:Twin) WHERE a.id < b.id RETURN count(d)"
BUDGET_S = 20.0  # longer than the measurement, which a loaded Neo4j takes ~10 s over
P99_BOUND_S = 2.0


def _rooms(store: GraphStore) -> TwinGraph:
    twins = twin_context("test", store).twins
    assert twins is not None
    for i in range(ROOMS):
        twins.put_twin(f"room-{i}", ROOM, {"name": f"Room {i}", "area": float(10 + i % 90)})
    return twins


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def test_twin_updates_and_telemetry_writes_stay_under_the_bound_while_an_analyst_query_runs(
    store: GraphStore,
) -> None:
    twins = _rooms(store)
    rng = random.Random(21)

    def update() -> None:
        room = f"room-{rng.randrange(ROOMS)}"
        twins.patch_twin(room, [{"op": "replace", "path": "/area", "value": rng.uniform(10, 100)}])

    def latest() -> None:
        now = time.time_ns()
        write_latest(
            store,
            {
                f"room-{rng.randrange(ROOMS)}": ({"temperature": 21.5}, {"temperature": now})
                for _ in range(50)
            },
        )

    def timed(operation: Callable[[], None], times: int) -> list[float]:
        found = []
        for _ in range(times):
            started = time.perf_counter()
            operation()
            found.append(time.perf_counter() - started)
        return found

    timed(update, 10)  # warm: plans compiled and cached, connections open
    timed(latest, 3)
    outcome: list[BaseException] = []

    def analyst() -> None:
        try:
            read_as_analyst(store, CARTESIAN, timeout_s=BUDGET_S)
        except BaseException as exc:  # judged below, in the test's thread
            outcome.append(exc)

    query = threading.Thread(target=analyst)
    query.start()
    time.sleep(1.0)  # running, well into the engine's work
    updates = timed(update, 25)
    writes = timed(latest, 12)
    still_running = query.is_alive()
    query.join()
    assert [type(e) for e in outcome] == [QueryTimeout], outcome
    assert still_running, "the analyst query ended before the measurement did: nothing was measured"
    assert _p99(updates) < P99_BOUND_S, f"twin updates p99 {_p99(updates):.2f} s"
    assert _p99(writes) < P99_BOUND_S, f"latest values p99 {_p99(writes):.2f} s"


@pytest.mark.parametrize("budget_s", [1.0, 3.0])
def test_the_engine_stops_an_analyst_query_at_its_budget(store: GraphStore, budget_s: float) -> None:
    _rooms(store)
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        read_as_analyst(store, CARTESIAN, timeout_s=budget_s)
    elapsed = time.monotonic() - started
    assert budget_s * 0.8 < elapsed < budget_s + 4, f"{elapsed:.1f} s for a {budget_s:g} s budget"
