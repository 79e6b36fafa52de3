"""Replicas that start together create the same indexes at once: on Neo4j, none of them fails.

Neo4j checks ``IF NOT EXISTS`` as a schema statement starts; of two identical statements
running together the later commit used to fail ("An equivalent index already exists"),
and an API replica started beside another exited with that error.
"""

from __future__ import annotations

import threading

import pytest

from graph.neo4j import Neo4jGraphStore

pytestmark = pytest.mark.neo4j

STORES = 4
ROUNDS = 5


def test_identical_index_statements_running_together_all_succeed(neo4j_url: str) -> None:
    stores = [Neo4jGraphStore(neo4j_url) for _ in range(STORES)]
    names = [f"schema_race_{n}" for n in range(ROUNDS)]
    failures: list[BaseException] = []
    try:
        for name in names:
            barrier = threading.Barrier(STORES)

            def create(
                store: Neo4jGraphStore, name: str = name, barrier: threading.Barrier = barrier
            ) -> None:
                barrier.wait(30)
                try:
                    store.write(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:SchemaRace) ON (n.{name})")
                except BaseException as exc:
                    failures.append(exc)

            threads = [threading.Thread(target=create, args=(store,)) for store in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert failures == []
        found = stores[0].query_rows(
            "SHOW INDEXES YIELD name WHERE name STARTS WITH 'schema_race_' RETURN name"
        )
        assert sorted(name for (name,) in found) == names
    finally:
        for name in names:
            stores[0].write(f"DROP INDEX {name} IF EXISTS")
        for store in stores:
            store.close()
