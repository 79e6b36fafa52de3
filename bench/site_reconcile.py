"""Benchmark the cloud's reconcile of a site's first snapshot: one write at a time against batched.

Run ``python bench/site_reconcile.py`` (``--neo4j-url bolt://...`` for a running Neo4j;
without it the test Neo4j of ``tests/servers`` is started, ``--no-neo4j`` skips it). The
demo site (``kgtwin.demo``: 35 twins, 60 relationships, 19 models) is built on an embedded
FalkorDB "edge" and its snapshot (``graph.sites.site_snapshot``) reconciled into an empty
cloud graph, on embedded FalkorDB and on Neo4j, ``--repeats`` times each way, alternating:

- **one by one**: one ``TwinGraph`` call (one write transaction) per twin and relationship;
- **batched**: ``graph.site_sync``'s bulk path, the importer's ``UNWIND`` statements.

Each row gives median wall time, median CPU of this process, the queries sent through the
``GraphStore`` port and the change events announced; every reconcile must end with the
cloud's site equal to the edge's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graph.site_sync as site_sync
from graph.events import ChangeEvent, EventBus
from graph.falkordb import FalkorGraphStore
from graph.model_store import GraphModelStore
from graph.neo4j import Neo4jGraphStore
from graph.sites import outgoing_relationships, site_snapshot, site_twins
from graph.store import GraphStore
from graph.twins import TwinGraph
from kgtwin.demo import load_demo
from ontology.registry import ModelRegistry

SITE = "site-demo"
_COUNTED = frozenset({"read", "analyst_read", "query_rows", "write", "send"})
WAYS: dict[str, int | None] = {"one by one": None, "batched": 20}


class CountingStore:
    """A ``GraphStore`` that counts the statements sent through it (reads and writes)."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.queries = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name not in _COUNTED:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.queries += 1
            return found(*args, **kwargs)

        return counted


def _state(store: GraphStore, twins: TwinGraph) -> tuple[dict[str, Any], dict[Any, Any]]:
    found = {t.id: (t.model, t.properties) for t in site_twins(store, twins.models, SITE)}
    rels = {(r.source, r.id): (r.name, r.target, r.properties) for r in outgoing_relationships(store, found)}
    return found, rels


def _once(
    cloud: GraphStore, snapshot: dict[str, Any], edge_state: Any, bulk_from: int | None
) -> tuple[float, ...]:
    cloud.write("MATCH (n) DETACH DELETE n")
    counting = CountingStore(cloud)
    model_store = GraphModelStore(cloud)
    registry = ModelRegistry(model_store, version=model_store.version)
    bus = EventBus()
    events: list[ChangeEvent] = []
    bus.subscribe(events.append)
    twins = TwinGraph(counting, lambda: registry.models, events=bus)  # type: ignore[arg-type]
    site_sync.BULK_FROM = bulk_from
    wall, cpu = time.perf_counter(), time.process_time()
    report = site_sync.reconcile(twins, SITE, snapshot, refresh_models=registry.refresh)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if report.issues or _state(cloud, twins) != edge_state:
        raise SystemExit(f"the cloud's site differs from the edge's: {report.issues[:5]}")
    return wall, cpu, float(counting.queries), float(len(events))


def _engine(name: str, cloud: GraphStore, snapshot: dict[str, Any], edge_state: Any, repeats: int) -> None:
    runs: dict[str, list[tuple[float, ...]]] = {way: [] for way in WAYS}
    for _ in range(repeats):
        for way, bulk_from in WAYS.items():
            runs[way].append(_once(cloud, snapshot, edge_state, bulk_from))
    cloud.write("MATCH (n) DETACH DELETE n")
    for way, found in runs.items():
        med = [statistics.median(r[i] for r in found) for i in range(4)]
        print(
            f"| {name} | {way} | {med[0]:.2f} s | {med[1]:.2f} s | {med[2]:.0f} | {med[3]:.0f} |"
            f" {', '.join(f'{r[0]:.2f}' for r in found)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neo4j-url", default=None)
    parser.add_argument("--no-neo4j", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        edge = FalkorGraphStore(Path(tmp) / "edge")
        load_demo(edge)
        edge_registry = ModelRegistry(GraphModelStore(edge))
        edge_twins = TwinGraph(edge, lambda: edge_registry.models)
        snapshot = site_snapshot(edge, edge_registry.models, SITE)
        edge_state = _state(edge, edge_twins)
        print(f"load average {os.getloadavg()[0]:.1f}, {args.repeats} runs each way")
        print("| cloud graph | reconcile | wall (median) | CPU (median) | queries | events | wall, each |")
        print("|---|---|---:|---:|---:|---:|---|")
        falkor = FalkorGraphStore(Path(tmp) / "cloud")
        _engine("FalkorDB (embedded)", falkor, snapshot, edge_state, args.repeats)
        falkor.close()
        if not args.no_neo4j:
            server = None
            url = args.neo4j_url
            if url is None:
                from tests.servers.neo4j_server import start_neo4j

                server = start_neo4j(Path(tmp) / "neo4j")
                url = server.url
            neo4j = Neo4jGraphStore(url)
            try:
                _engine("Neo4j", neo4j, snapshot, edge_state, args.repeats)
            finally:
                neo4j.close()
                if server is not None:
                    server.stop()
        print(f"load average {os.getloadavg()[0]:.1f}")
        edge.close()


if __name__ == "__main__":
    main()
