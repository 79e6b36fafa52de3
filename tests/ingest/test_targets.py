"""The twin cache and the models of the ingest path: true to the graph, bounded in bytes (no broker).

The resolver and the version token are small fakes of the graph reads they stand for
(``graph.telemetry.telemetry_targets`` and ``targets_version``), so time and tokens can
be moved by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from graph.telemetry import TwinTarget
from ingest.messages import MessageDecoder
from ingest.pipeline import Models, Pipeline
from ingest.subscriber import Inbound
from ingest.targets import TwinTargets
from ontology import ModelSet, parse
from telemetry.refs import TelemetryRef
from tests.ingest.helpers import SENSOR, SENSOR_DOC

NOW_NS = 1_764_000_000_000_000_000


class Graph:
    """What the cache reads: twins by id, and a token that moves with every write."""

    def __init__(self) -> None:
        self.twins: dict[str, str] = {}
        self.token = "t0"
        self.resolved: list[list[str]] = []
        self.version_reads = 0

    def write(self, twin_id: str, model: str | None) -> None:
        if model is None:
            self.twins.pop(twin_id, None)
        else:
            self.twins[twin_id] = model
        self.token = f"t{len(self.resolved)}-{twin_id}-{model}"

    def resolve(self, ids: Sequence[str]) -> dict[str, TwinTarget]:
        self.resolved.append(list(ids))
        return {
            i: TwinTarget(self.twins[i], TelemetryRef("telemetry", "Sensor", {"twin_id": i}))
            for i in ids
            if i in self.twins
        }

    def version(self) -> str:
        self.version_reads += 1
        return self.token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_twin_created_deleted_or_changed_is_seen_by_the_next_batch() -> None:
    graph = Graph()
    cache = TwinTargets(graph.resolve, version=graph.version)
    assert cache.targets(["new"]) == {}
    assert cache.targets(["new"]) == {}  # remembered as unknown while the graph stands still
    assert graph.resolved == [["new"]]
    graph.write("new", SENSOR)
    assert cache.targets(["new"])["new"].model == SENSOR  # at once, not after miss_ttl_s
    graph.write("new", "dtmi:ex:Other;1")
    assert cache.targets(["new"])["new"].model == "dtmi:ex:Other;1"
    graph.write("new", None)
    assert cache.targets(["new"]) == {}
    assert graph.version_reads == 5  # one token read per batch


def test_a_quiet_graph_costs_one_token_read_per_batch_and_no_lookup() -> None:
    graph = Graph()
    graph.write("a", SENSOR)
    cache = TwinTargets(graph.resolve, version=graph.version)
    for _ in range(10):
        assert set(cache.targets(["a", "ghost"])) == {"a"}
    assert graph.resolved == [["a", "ghost"]]
    assert graph.version_reads == 10


def test_unknown_ids_are_released_once_they_expire() -> None:
    graph, clock = Graph(), Clock()
    cache = TwinTargets(graph.resolve, miss_ttl_s=2.0, clock=clock)
    cache.targets([f"ghost-{i}" for i in range(1000)])
    held = cache.bytes
    assert held > 500_000
    clock.now += 3
    cache.targets(["one-more"])
    assert cache.bytes < held / 500  # the expired ones are gone, not merely stale


def test_memory_is_bounded_by_bytes_whatever_the_ids() -> None:
    """10,000 distinct 30 KB unknown ids and 20,000 known twins in a 4 MiB cache."""
    graph = Graph()
    cache = TwinTargets(graph.resolve, max_bytes=4 * 1024 * 1024)
    for chunk in range(20):
        cache.targets([f"{chunk}-{i}-" + "y" * 30_000 for i in range(500)])
        assert cache.bytes <= 4 * 1024 * 1024 // 8 + 31_000
    for i in range(20_000):
        graph.twins[f"twin-{i:05d}"] = SENSOR
    for chunk in range(40):
        found = cache.targets([f"twin-{chunk * 500 + i:05d}" for i in range(500)])
        assert len(found) == 500
        assert cache.bytes <= 4 * 1024 * 1024 + 4 * 1024 * 1024 // 8
    # The newest are kept: asking again for the last batch is no lookup.
    lookups = cache.lookups
    cache.targets([f"twin-{19_500 + i:05d}" for i in range(500)])
    assert cache.lookups == lookups


def listing(graph: Graph, asked: list[int]) -> Callable[[int], dict[str, TwinTarget]]:
    def some(limit: int) -> dict[str, TwinTarget]:
        asked.append(limit)
        return graph.resolve(sorted(graph.twins)[:limit])

    return some


def test_warmed_twins_need_no_lookup_in_the_first_batch() -> None:
    graph, asked = Graph(), []
    for i in range(50):
        graph.write(f"twin-{i:02d}", SENSOR)
    cache = TwinTargets(graph.resolve, version=graph.version, listing=listing(graph, asked))
    assert cache.warm(30) == 30
    graph.resolved.clear()
    found = cache.targets([f"twin-{i:02d}" for i in range(30)])
    assert len(found) == 30
    assert graph.resolved == []  # all cached
    cache.targets(["twin-30", "twin-31"])
    assert graph.resolved == [["twin-30", "twin-31"]]  # the ones not warmed are read as before


def test_warming_asks_no_more_than_the_memory_budget_holds() -> None:
    graph, asked = Graph(), []
    cache = TwinTargets(graph.resolve, listing=listing(graph, asked), max_bytes=1024 * 1024)
    cache.warm(1_000_000)
    assert asked == [1024 * 1024 // 576]
    assert TwinTargets(graph.resolve).warm(10) == 0  # nothing to list with


def test_a_twin_written_while_warming_is_read_again_by_the_first_batch() -> None:
    graph = Graph()
    graph.write("a", SENSOR)

    def racing(limit: int) -> dict[str, TwinTarget]:
        listed = graph.resolve(["a"])
        graph.write("a", "dtmi:ex:Other;1")  # committed after the listing read it
        return listed

    cache = TwinTargets(graph.resolve, version=graph.version, listing=racing)
    assert cache.warm(10) == 1
    assert cache.targets(["a"])["a"].model == "dtmi:ex:Other;1"


# --- models: a model uploaded through another process is used by the next message ---------

OTHER = "dtmi:ex:ingest:Meter;1"
OTHER_DOC: dict[str, Any] = {
    "@context": "dtmi:dtdl:context;3",
    "@id": OTHER,
    "@type": "Interface",
    "contents": [{"@type": "Telemetry", "name": "kwh", "schema": "double"}],
}


class Registry:
    """The models in the graph and their version token."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = [SENSOR_DOC]
        self.token = "m0"
        self.loads = 0
        self.version_reads = 0

    def upload(self, document: dict[str, Any]) -> None:
        self.documents = [*self.documents, document]
        self.token = f"m{len(self.documents)}"

    def load(self) -> ModelSet:
        self.loads += 1
        return parse(self.documents)

    def version(self) -> str:
        self.version_reads += 1
        return self.token


def message(twin_id: str, values: dict[str, Any]) -> Inbound:
    return Inbound(f"kgtwin/twins/{twin_id}/telemetry", json.dumps(values).encode(), 1, 1, NOW_NS, 1)


def test_a_model_uploaded_meanwhile_is_used_by_the_next_message_and_misses_cost_one_read_a_batch() -> None:
    graph, registry = Graph(), Registry()
    graph.write("meter", OTHER)  # a twin of a model this process has not loaded yet
    run = Pipeline(
        MessageDecoder(),
        TwinTargets(graph.resolve, version=graph.version),
        Models(registry.load, version=registry.version),
    )
    refused = run.process([message("meter", {"kwh": 1.0}) for _ in range(50)])
    assert dict(refused.rejected) == {"UNKNOWN_TWIN": 50}
    assert (registry.version_reads, registry.loads) == (2, 1)  # one token read for the batch
    registry.upload(OTHER_DOC)
    taken = run.process([message("meter", {"kwh": 2.0})])
    assert [p.fields for p in taken.points] == [{"kwh": 2.0}]
    assert registry.loads == 2


def test_a_telemetry_name_the_cached_model_lacks_asks_for_fresh_models_once() -> None:
    graph, registry = Graph(), Registry()
    graph.write("s", SENSOR)
    run = Pipeline(
        MessageDecoder(),
        TwinTargets(graph.resolve, version=graph.version),
        Models(registry.load, version=registry.version),
    )
    outcome = run.process(
        [message("s", {"nope": 1.0}), message("s", {"nada": 1.0}), message("s", {"v0": 1.0})]
    )
    assert dict(outcome.rejected) == {"UNKNOWN_FIELD": 2}
    assert len(outcome.points) == 1
    assert registry.version_reads == 2  # at start, and once for the batch's misses
    assert registry.loads == 1  # the token had not moved: nothing reloaded
