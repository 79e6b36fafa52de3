"""API processes that start together on an empty graph both load the base ontology, and both start.

``kgtwin api --workers 2`` (or two replicas) on a new Neo4j: each process finds the base
models missing and uploads them; the one that comes second must take up what the first
stored instead of failing its start on the uniqueness constraint.
"""

from __future__ import annotations

import threading

import pytest

from api.context import load_base_ontology
from graph.model_store import GraphModelStore
from graph.neo4j import Neo4jGraphStore
from ontology.base import base_models
from ontology.registry import ModelRegistry

pytestmark = [pytest.mark.neo4j]


def test_two_processes_loading_the_base_ontology_at_once_both_end_with_it(neo4j_url: str) -> None:
    stores = [Neo4jGraphStore(neo4j_url) for _ in range(2)]
    try:
        stores[0].write("MATCH (n) DETACH DELETE n")
        registries = [ModelRegistry(GraphModelStore(store)) for store in stores]
        barrier = threading.Barrier(2)
        loaded: list[list[str]] = [[], []]
        errors: list[BaseException] = []

        def load(i: int) -> None:
            barrier.wait()
            try:
                loaded[i] = load_base_ontology(registries[i])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        base = {str(doc["@id"]) for doc in base_models()}
        assert set(loaded[0]) | set(loaded[1]) == base  # stored once, by one or the other
        for registry in registries:
            assert base <= set(registry.models)
        stored = stores[0].query_rows("MATCH (m:Model) RETURN count(m)")[0][0]
        assert stored == len(base)
    finally:
        for store in stores:
            store.close()


def test_a_process_whose_registry_is_behind_takes_up_the_stored_base_ontology(neo4j_url: str) -> None:
    stores = [Neo4jGraphStore(neo4j_url) for _ in range(2)]
    try:
        stores[0].write("MATCH (n) DETACH DELETE n")
        first, second = (ModelRegistry(GraphModelStore(store)) for store in stores)
        assert load_base_ontology(first)
        assert load_base_ontology(second) == []  # read back, not uploaded again
        base = {str(doc["@id"]) for doc in base_models()}
        assert base <= set(second.models)
    finally:
        for store in stores:
            store.close()
