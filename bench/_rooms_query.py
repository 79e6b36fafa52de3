"""The 50-room graph-plus-telemetry GraphQL query, asked of a loaded campus in this process.

The query is ``bench/api.py``'s (docs/api.md): rooms of an area between 20 and 50 m2, their
latest temperature and a dozen 5-minute means of the last hour. Here the application is
built around the benchmark's graph store and an embedded DuckDB file
(``api.create_app`` + ``twin_context``) and called through Starlette's ASGI test client, so
the figure is the whole GraphQL path (parsing, validation, resolvers, the graph read, the
telemetry reads, JSON) without a socket or a second process: what grows with the graph is
the graph read, and this is the figure that shows it. The telemetry is the same at every
size: 70 minutes of one point a minute for ``ROOMS_WITH_HISTORY`` rooms, enough for the
first 50 the filter matches (rooms are generated in id order).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOMS = """{ twins(model: "dtmi:kgtwin:space:Room;1",
               where: { property: "area", gte: 20.0, lt: 50.0 }, first: 50) {
  nodes { id latest(name: "temperature") { value }
          telemetry(name: "temperature", start: "-1h", every: "5m", fn: "mean") { time value } } } }"""
ROOMS_WITH_HISTORY = 300
HISTORY_MINUTES = 70


def _write_history(telemetry: Any, rooms: list[str]) -> None:
    from telemetry.points import TelemetryPoint

    now_ns = time.time_ns()
    points = [
        TelemetryPoint(
            "telemetry",
            "Room",
            {"twin_id": room},
            {"temperature": 20.0 + (k % 30) / 10},
            now_ns - k * 60 * 10**9,
        )
        for room in rooms
        for k in range(HISTORY_MINUTES)
    ]
    for start in range(0, len(points), 5000):
        telemetry.write(points[start : start + 5000])


@contextmanager
def rooms_client(store: Any, rooms: list[str], folder: Path) -> Iterator[Any]:
    """A callable asking the 50-room query once (checked: 50 rooms with a value and 12 windows)."""
    with warnings.catch_warnings():
        # Starlette asks for httpx2 in its test client; the httpx it ships with is the tested one.
        warnings.filterwarnings("ignore", message="Using `httpx` with")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from api.context import twin_context
    from telemetry.duckdb import DuckDbTelemetryStore

    telemetry = DuckDbTelemetryStore(folder / "telemetry.duckdb")
    try:
        _write_history(telemetry, rooms[:ROOMS_WITH_HISTORY])
        context = twin_context("bench", store, telemetry=telemetry)
        with TestClient(create_app(context)) as client:

            def ask(_: int) -> None:
                answer = client.post("/graphql", json={"query": ROOMS})
                body = answer.json()
                if answer.status_code != 200 or body.get("errors"):
                    raise SystemExit(f"the 50-room query failed: {answer.status_code} {body}")
                nodes = body["data"]["twins"]["nodes"]
                if len(nodes) != 50 or any(n["latest"] is None or len(n["telemetry"]) < 12 for n in nodes):
                    raise SystemExit("the 50-room query answered rooms without their telemetry")

            yield ask
    finally:
        telemetry.close()
