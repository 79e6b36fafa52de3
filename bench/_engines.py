"""The graph engines a benchmark runs on: an embedded FalkorDB, or Neo4j, each in a temporary folder.

Each yields the store, the engine's process id (to add its CPU time to the benchmark's;
``None`` for a Neo4j named by ``KGTWIN_BENCH_NEO4J_URL``, which must be empty) and the
folder. The Neo4j server is the test suite's (``tests/servers``), started and stopped here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from graph.falkordb import FalkorGraphStore
from graph.neo4j import Neo4jGraphStore


@contextmanager
def falkordb(prefix: str) -> Iterator[tuple[FalkorGraphStore, int | None, Path]]:
    """An embedded FalkorDB; its redis-server detaches from us, so it is found by its folder."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        store = FalkorGraphStore(folder)
        try:
            yield store, process_in(folder), folder
        finally:
            store.close()


def process_in(directory: Path) -> int | None:
    """The process whose working directory is ``directory``."""
    for process in psutil.process_iter(["pid", "cwd"]):
        if process.info["cwd"] and Path(process.info["cwd"]).resolve() == directory.resolve():
            return int(process.info["pid"])
    return None


@contextmanager
def neo4j(prefix: str) -> Iterator[tuple[Neo4jGraphStore, int | None, Path]]:
    """``KGTWIN_BENCH_NEO4J_URL`` if set (it must hold no twins), else a Neo4j test server."""
    url = os.environ.get("KGTWIN_BENCH_NEO4J_URL")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = None
        if url is None:
            from tests.servers.neo4j_server import start_neo4j

            server = start_neo4j(Path(tmp))
            url = server.url
        store = Neo4jGraphStore(url)
        try:
            if store.query_rows("MATCH (t:Twin) RETURN count(t)")[0][0]:
                raise SystemExit(f"{url} already holds twins: the benchmark needs an empty database")
            yield store, (server.process.process.pid if server is not None else None), Path(tmp)
        finally:
            store.close()
            if server is not None:
                server.stop()
