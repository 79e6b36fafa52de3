"""The FalkorDB client: budgets are the engine's, and no command is ever sent twice.

Regression (issue 21, defect 2): redis-py's 5 s socket timeout and its retries (three of
its own under three of ours) sent an analyst's 30 s query up to 11 times; it failed after
some 60 s as ``BACKEND_UNAVAILABLE`` instead of ``TIMEOUT``, and a compare-and-set write
queued behind it was sent twice: applied by the first send, refused by the second, so the
caller was told "conflict" about a change that had been made. The server counts the
commands it ran (``INFO commandstats``), so the tests can count the sends.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from graph.errors import QueryTimeout
from graph.falkordb import FalkorGraphStore

# Billions of rows: far longer than any budget below, stopped by the engine's TIMEOUT.
CARTESIAN = "MATCH (a:Probe), (b:Probe), (c:Probe) RETURN count(*)"
BUDGET_S = 7.0  # past redis-py's default socket timeout of 5 s


def _calls(store: FalkorGraphStore, command: str) -> int:
    stats: dict[str, Any] = store._db.execute_command("INFO", "commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


@pytest.fixture
def probes(falkordb_store: FalkorGraphStore) -> FalkorGraphStore:
    falkordb_store.write("MATCH (n) DETACH DELETE n")
    falkordb_store.write("UNWIND range(1, 3000) AS i CREATE (:Probe {id: 'p' + toString(i), v: 0})")
    return falkordb_store


def test_a_query_past_its_budget_is_stopped_by_the_engine_once_as_timeout(probes: FalkorGraphStore) -> None:
    sent = _calls(probes, "graph.RO_QUERY")
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as stopped:
        probes.read(CARTESIAN, timeout_s=BUDGET_S)
    elapsed = time.monotonic() - started
    assert stopped.value.code == "TIMEOUT"
    assert BUDGET_S * 0.9 < elapsed < BUDGET_S + 5, f"{elapsed:.1f} s"
    assert _calls(probes, "graph.RO_QUERY") == sent + 1
    # The engine is free again at once: a read answers in well under a second.
    started = time.monotonic()
    assert probes.query_rows("MATCH (p:Probe {id: 'p1'}) RETURN p.v") == [[0]]
    assert time.monotonic() - started < 1.0


def test_a_write_queued_behind_a_long_query_is_sent_once_and_answers_what_it_did(
    probes: FalkorGraphStore,
) -> None:
    outcome: list[BaseException] = []

    def long_query() -> None:
        try:
            probes.read(CARTESIAN, timeout_s=BUDGET_S)
        except BaseException as exc:  # judged below, in the test's thread
            outcome.append(exc)

    reader = threading.Thread(target=long_query)
    reader.start()
    time.sleep(1.0)  # the query runs; the write below waits for it
    sent = _calls(probes, "graph.QUERY")
    # A compare-and-set, as a twin update is: applied only to the version it read.
    answer = probes.write("MATCH (p:Probe {id: 'p1'}) WHERE p.v = 0 SET p.v = p.v + 1 RETURN p.v")
    reader.join()
    assert [type(e) for e in outcome] == [QueryTimeout]
    assert answer.rows == [[1]], "the write was applied, so its answer must say so"
    assert _calls(probes, "graph.QUERY") == sent + 1
    assert probes.query_rows("MATCH (p:Probe {id: 'p1'}) RETURN p.v") == [[1]]
