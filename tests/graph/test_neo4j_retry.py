"""A transient Neo4j error is retried: a real deadlock between two real transactions.

Neo4j breaks a deadlock by failing the transaction whose lock request closes the cycle
with ``Neo.TransientError.Transaction.DeadlockDetected``. Here kgtwin's write is made that
transaction on purpose: another session holds ``y``; our statement locks ``x``, computes
for a while, then asks for ``y``; meanwhile the other session asks for ``x``. Our write
must come back successful, having been run again once the other session committed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import neo4j
import pytest

from graph.neo4j import Neo4jGraphStore
from graph.store import CypherResult

# Locks x, then spends a while computing (the window in which the other session queues
# for x), then asks for y.
_SLOW_WRITE = """
MATCH (x:LockProbe {id: 'x'}) SET x.v = x.v + 10
WITH x, reduce(s = 0, i IN range(1, $n) | s + i) AS busy
MATCH (y:LockProbe {id: 'y'}) SET y.v = y.v + 10
RETURN busy
"""


@pytest.mark.neo4j
def test_a_deadlocked_write_is_retried_and_succeeds(neo4j_store: Neo4jGraphStore, neo4j_url: str) -> None:
    store = neo4j_store
    store.write("MATCH (n) DETACH DELETE n")
    store.write("CREATE (:LockProbe {id: 'x', v: 0}), (:LockProbe {id: 'y', v: 0})")
    driver = neo4j.GraphDatabase.driver(neo4j_url)
    outcome: dict[str, Any] = {}

    def ours() -> None:
        try:
            outcome["result"] = store.write(_SLOW_WRITE, {"n": 3_000_000})
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            outcome["error"] = exc

    try:
        with driver.session() as other:
            tx = other.begin_transaction()
            tx.run("MATCH (y:LockProbe {id: 'y'}) SET y.v = y.v + 1").consume()
            writer = threading.Thread(target=ours)
            writer.start()
            _wait_until_running(driver, "reduce(s = 0")
            time.sleep(0.1)  # our statement has locked x and is computing
            # Queues for x; our write then asks for y, closes the cycle and is the victim.
            tx.run("MATCH (x:LockProbe {id: 'x'}) SET x.v = x.v + 1").consume()
            tx.commit()
            writer.join(timeout=60)
    finally:
        driver.close()
    assert "error" not in outcome, outcome.get("error")
    assert isinstance(outcome["result"], CypherResult)
    assert Neo4jGraphStore._write.statistics["attempt_number"] >= 2  # type: ignore[attr-defined]
    # Both transactions' changes are there, ours once: the failed attempt left nothing.
    rows = store.query_rows("MATCH (p:LockProbe) RETURN p.id, p.v ORDER BY p.id")
    assert rows == [["x", 11], ["y", 11]]


def _wait_until_running(driver: neo4j.Driver, fragment: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = driver.execute_query("SHOW TRANSACTIONS YIELD currentQuery RETURN currentQuery").records
        if any(fragment in (record["currentQuery"] or "") for record in records):
            return
        time.sleep(0.01)
    raise AssertionError("our write never started")
