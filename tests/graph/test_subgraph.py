"""Subgraph selection on both engines: by spec or by an analyst's Cypher, as a MultiDiGraph."""

from __future__ import annotations

import networkx as nx
import pytest
from pydantic import ValidationError

from graph.errors import CypherWriteRefused, LimitExceeded
from graph.store import GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph, subgraph_from_cypher
from graph.twins import TwinGraph
from ontology import base_model_set
from ontology.errors import BadRequest, NotFound
from telemetry.refs import TelemetryRef
from tests.graph.campus import EQUIPMENT, PUMP, build_campus


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    graph = TwinGraph(store, base_model_set())
    build_campus(graph)
    return graph


def _edges(graph: nx.MultiDiGraph) -> list[tuple[str, str, str, str]]:
    return sorted((u, v, k, d["$relationshipName"]) for u, v, k, d in graph.edges(keys=True, data=True))


def test_the_feeds_loop_comes_back_with_twin_and_relationship_properties(twins: TwinGraph) -> None:
    # As the API sends it (JSON names).
    spec = SubgraphSpec.model_validate({"roots": ["pump-1"], "relationships": ["feeds"], "maxDepth": 5})
    graph = select_subgraph(twins.store, base_model_set(), spec)
    assert sorted(graph.nodes) == ["pump-1", "pump-2", "tank-1"]
    assert _edges(graph) == [
        ("pump-1", "tank-1", "f-1", "feeds"),
        ("pump-2", "pump-1", "f-1", "feeds"),
        ("tank-1", "pump-2", "f-1", "feeds"),
    ]
    pump = graph.nodes["pump-1"]
    assert pump["ratedFlow"] == 12.5
    assert pump["externalIds"] == {"sap": "4711"}
    assert pump["$model"] == PUMP
    assert pump["$etag"].startswith('W/"')
    assert graph.edges["pump-1", "tank-1", "f-1"]["routingProbability"] == 0.7


def test_the_last_level_keeps_the_relationships_between_reached_twins(twins: TwinGraph) -> None:
    # Depth 2 reaches pump-2 last; its feeds back to pump-1 closes the loop.
    spec = SubgraphSpec(roots=("pump-1",), relationships=("feeds",), max_depth=2)
    graph = select_subgraph(twins.store, base_model_set(), spec)
    assert ("pump-2", "pump-1", "f-1") in graph.edges
    # Depth 1 stops at tank-1: tank-1 feeds pump-2, which is not in the subgraph.
    spec = SubgraphSpec(roots=("pump-1",), relationships=("feeds",), max_depth=1)
    graph = select_subgraph(twins.store, base_model_set(), spec)
    assert sorted(graph.nodes) == ["pump-1", "tank-1"]
    assert _edges(graph) == [("pump-1", "tank-1", "f-1", "feeds")]


def test_a_model_filter_and_several_roots(twins: TwinGraph) -> None:
    spec = SubgraphSpec(roots=("room-1", "room-2"), direction="in", max_depth=3, models=(EQUIPMENT,))
    graph = select_subgraph(twins.store, base_model_set(), spec)
    assert sorted(graph.nodes) == ["pump-1", "pump-2", "room-1", "room-2", "tank-1"]
    assert ("pump-1", "room-1", "l-1") in graph.edges
    # Walking in, the feeds between equipment are followed too (any relationship name).
    assert ("pump-1", "tank-1", "f-1") in graph.edges


def test_a_spec_is_checked_before_anything_is_read(twins: TwinGraph) -> None:
    with pytest.raises(ValidationError):
        SubgraphSpec(roots=(), max_depth=1)
    with pytest.raises(ValidationError):
        SubgraphSpec(roots=("pump-1",), max_depth=11)
    with pytest.raises(ValidationError):
        SubgraphSpec(roots=("pump-1",), direction="sideways")
    with pytest.raises(BadRequest):
        select_subgraph(
            twins.store, base_model_set(), SubgraphSpec(roots=("pump-1",), models=("dtmi:x:Y;1",))
        )
    with pytest.raises(NotFound):
        select_subgraph(twins.store, base_model_set(), SubgraphSpec(roots=("pump-1", "ghost")))
    with pytest.raises(LimitExceeded):
        select_subgraph(
            twins.store, base_model_set(), SubgraphSpec(roots=("room-1",), direction="both"), max_twins=2
        )


def test_an_analysts_query_selects_twins_and_brings_their_relationships(twins: TwinGraph) -> None:
    graph = subgraph_from_cypher(twins.store, "MATCH (p:Pump) RETURN p")
    assert sorted(graph.nodes) == ["pump-1", "pump-2"]
    assert _edges(graph) == [("pump-2", "pump-1", "f-1", "feeds")]
    assert graph.nodes["pump-2"]["serialNumber"] == "P-200"


def test_twins_in_paths_lists_and_relationship_ends_are_selected(twins: TwinGraph) -> None:
    graph = subgraph_from_cypher(
        twins.store,
        "MATCH path = (:Room {id: $room})<-[:locatedIn]-(e) RETURN path, e.id AS ignored",
        {"room": "room-1"},
    )
    assert sorted(graph.nodes) == ["pump-1", "room-1", "tank-1"]
    assert len(graph.edges) == 3  # two locatedIn and pump-1 feeds tank-1
    graph = subgraph_from_cypher(twins.store, "MATCH (:Tank)-[f:feeds]->() RETURN collect(f) AS fs")
    assert sorted(graph.nodes) == ["pump-2", "tank-1"]


def test_an_analysts_query_may_not_write(twins: TwinGraph) -> None:
    with pytest.raises(CypherWriteRefused):
        subgraph_from_cypher(twins.store, "MATCH (p:Pump) SET p.name = 'x' RETURN p")


def test_an_analysts_query_over_the_twin_limit_is_refused(twins: TwinGraph) -> None:
    with pytest.raises(LimitExceeded):
        subgraph_from_cypher(twins.store, "MATCH (t:Twin) RETURN t", max_twins=3)


def test_an_analysts_variable_length_pattern_selects_the_same_twins_on_both_engines(twins: TwinGraph) -> None:
    graph = subgraph_from_cypher(
        twins.store,
        "MATCH p = (:Pump {id: $id})-[:feeds*1..2]->() RETURN p, [r IN relationships(p) | r.id] AS ids",
        {"id": "pump-1"},
    )
    assert sorted(graph.nodes) == ["pump-1", "pump-2", "tank-1"]
    assert len(graph.edges) == 3


def test_subgraph_twins_carry_their_own_telemetry_reference(twins: TwinGraph) -> None:
    # A simulation reading "fromTelemetry" parameters must read the series the twin points at.
    elsewhere = TelemetryRef("plant", "scada_pumps", {"twin_id": "pump-2", "line": "north"}, ("flow",))
    twins.set_telemetry_ref("pump-2", elsewhere)
    spec = SubgraphSpec.model_validate({"roots": ["pump-1"], "relationships": ["feeds"], "maxDepth": 5})
    graph = select_subgraph(twins.store, base_model_set(), spec)
    assert TelemetryRef.from_dict(graph.nodes["pump-2"]["$telemetry"]) == elsewhere
    assert graph.nodes["pump-1"]["$telemetry"]["tags"] == {"twin_id": "pump-1"}
    by_cypher = subgraph_from_cypher(twins.store, "MATCH (t:Twin {id: 'pump-2'}) RETURN t")
    assert TelemetryRef.from_dict(by_cypher.nodes["pump-2"]["$telemetry"]) == elsewhere
