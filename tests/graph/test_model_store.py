"""Models as ``Model`` nodes: the ontology's ``ModelStore`` contract on both engines, plus the graph's extras.

The contract tests are the very functions of ``tests/ontology/test_model_store.py``,
collected here with a ``store`` fixture that puts a ``GraphModelStore`` on each engine.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.model_store import GraphModelStore
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import Conflict, ModelRegistry, ModelStore, StoredModel
from tests.graph.plant import DOCS, EQUIPMENT, PUMP, TANK
from tests.ontology import test_model_store as contract
from tests.ontology.test_model_store import (
    test_a_batch_with_a_taken_dtmi_is_refused_whole,
    test_a_deleted_model_is_gone,
    test_changing_an_unknown_model_is_not_found,
    test_models_come_back_as_stored_in_upload_order,
    test_the_decommissioned_flag_is_kept,
)

__all__ = [
    "test_a_batch_with_a_taken_dtmi_is_refused_whole",
    "test_a_deleted_model_is_gone",
    "test_changing_an_unknown_model_is_not_found",
    "test_models_come_back_as_stored_in_upload_order",
    "test_the_decommissioned_flag_is_kept",
]
WHEN = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.fixture
def store(store: GraphStore) -> ModelStore:
    """The contract's ``store``: a ``GraphModelStore`` on the conftest's (emptied) graph of each engine."""
    return GraphModelStore(store)


@pytest.fixture
def models(store: ModelStore) -> GraphModelStore:
    assert isinstance(store, GraphModelStore)
    return store


def test_every_contract_test_runs_on_the_graph_store() -> None:
    assert {name for name in vars(contract) if name.startswith("test_")} == set(__all__)


def test_a_model_is_a_node_with_extends_edges_to_the_models_it_extends(models: GraphModelStore) -> None:
    inline = {"@type": "Interface", "@id": "dtmi:x:Inline;1"}
    models.add([StoredModel(d["@id"], d, WHEN) for d in DOCS])
    models.add(
        [StoredModel("dtmi:x:Both;1", {"@id": "dtmi:x:Both;1", "extends": [PUMP, inline, TANK]}, WHEN)]
    )
    edges = models.store.read(
        "MATCH (m:Model)-[:EXTENDS]->(e:Model) RETURN m.id, e.id ORDER BY m.id, e.id"
    ).rows
    assert edges == [[PUMP, EQUIPMENT], [TANK, EQUIPMENT], ["dtmi:x:Both;1", PUMP], ["dtmi:x:Both;1", TANK]]
    node = models.store.read("MATCH (m:Model {id: $id}) RETURN m.decommissioned, m.uploadedAt", {"id": PUMP})
    assert node.rows == [[False, WHEN.isoformat()]]
    assert models.get(PUMP) == StoredModel(PUMP, DOCS[1], WHEN)


def test_a_refused_batch_leaves_no_node_and_no_edge(models: GraphModelStore) -> None:
    models.add([StoredModel(EQUIPMENT, DOCS[0], WHEN)])
    with pytest.raises(Conflict) as caught:
        models.add([StoredModel(PUMP, DOCS[1], WHEN), StoredModel(EQUIPMENT, DOCS[0], WHEN)])
    assert caught.value.details == {"dtmis": [EQUIPMENT]}
    with pytest.raises(Conflict):
        models.add([StoredModel(PUMP, DOCS[1], WHEN), StoredModel(PUMP, DOCS[1], WHEN)])
    assert models.store.read("MATCH (n:Model) RETURN count(n)").rows == [[1]]
    assert models.store.read("MATCH ()-[r]->() RETURN count(r)").rows == [[0]]


def test_model_ids_are_unique_in_the_engine(models: GraphModelStore) -> None:
    models.add([StoredModel(EQUIPMENT, DOCS[0], WHEN)])
    with pytest.raises(Conflict):
        models.store.write("CREATE (:Model {id: $id})", {"id": EQUIPMENT})


def test_a_deleted_model_takes_its_extends_edges_along(models: GraphModelStore) -> None:
    models.add([StoredModel(d["@id"], d, WHEN) for d in DOCS])
    models.delete(PUMP)
    assert models.store.read("MATCH ()-[r:EXTENDS]->() RETURN count(r)").rows == [[1]]


def test_the_registry_runs_on_the_graph_and_counts_twins_there(models: GraphModelStore) -> None:
    registry = ModelRegistry(models)
    registry.upload(DOCS)
    # A second registry on the same graph (a restart) parses what the graph holds.
    restarted = ModelRegistry(models)
    assert [m.dtmi for m in restarted.list()] == [d["@id"] for d in DOCS]
    twins = TwinGraph(models.store, restarted.models)
    twins.put_twin("tank-1", TANK, {"capacity": 10.0})
    assert (models.twin_count(TANK), models.twin_count(PUMP)) == (1, 0)
    with pytest.raises(Conflict, match="used by 1 twin"):
        restarted.delete(TANK, twin_count=models.twin_count)
    twins.delete_twin("tank-1")
    restarted.delete(TANK, twin_count=models.twin_count)
    assert models.get(TANK) is None


def test_every_model_change_renews_the_models_version(store: ModelStore) -> None:
    assert isinstance(store, GraphModelStore)
    seen = [store.version()]
    registry = ModelRegistry(store)
    registry.upload(DOCS)
    seen.append(store.version())
    registry.decommission(PUMP)
    seen.append(store.version())
    registry.delete(PUMP, twin_count=store.twin_count)
    seen.append(store.version())
    assert seen[0] is None
    assert len(set(seen)) == 4
