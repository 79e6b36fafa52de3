"""A small twin graph with FMUs for the FMU suites: rooms and an AHU, a pump feeding a tank.

``FmuWorld`` holds a real graph (each engine in turn), a real DuckDB telemetry store, an
FMU library under a temporary folder with the room, pump and tank FMUs stored for the
base ontology's Room, Pump and Tank, and helpers to write telemetry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from api.context import ApiContext, twin_context
from graph.fmus import FmuNodes
from graph.store import GraphStore
from ontology.model import ModelSet
from simulation.fmu.library import FmuLibrary, StoredFmu
from simulation.fmu.store import FmuFiles
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.points import TelemetryPoint
from tests.simulation.fmus import BuiltFmus

ROOM = "dtmi:kgtwin:space:Room;1"
AHU = "dtmi:kgtwin:hvac:AirHandlingUnit;1"
PUMP = "dtmi:kgtwin:fluid:Pump;1"
TANK = "dtmi:kgtwin:fluid:Tank;1"


@dataclass
class FmuWorld:
    graph: GraphStore
    api: ApiContext
    telemetry: DuckDbTelemetryStore
    library: FmuLibrary
    room: StoredFmu
    pump: StoredFmu
    tank: StoredFmu

    @property
    def models(self) -> ModelSet:
        assert self.api.registry is not None
        return self.api.registry.models

    def write(
        self, measurement: str, twin: str, field: str, points: Sequence[tuple[datetime, float]]
    ) -> None:
        """Telemetry of ``twin`` as the ingest path stores it (default reference)."""
        self.telemetry.write(
            [
                TelemetryPoint(
                    "telemetry", measurement, {"twin_id": twin}, {field: value}, round(at.timestamp() * 1e9)
                )
                for at, value in points
            ]
        )


def make_world(graph: GraphStore, fmus: BuiltFmus, folder: Path) -> FmuWorld:
    api = twin_context("test", graph)
    twins = api.twins
    assert twins is not None
    for room, (c, ua) in {"room-1": (2000.0, 250.0), "room-2": (3000.0, 150.0)}.items():
        twins.put_twin(room, ROOM, {"thermalCapacitance": c, "envelopeConductance": ua})
    twins.put_twin("ahu-1", AHU, {})
    twins.put_twin("pump-1", PUMP, {"ratedFlow": 0.02})
    twins.put_twin("tank-1", TANK, {"volume": 6.0, "height": 2.0})
    twins.put_relationship("pump-1", "feeds:tank-1", "feeds", "tank-1", {})
    twins.put_relationship("ahu-1", "serves:room-1", "serves", "room-1", {})
    twins.put_relationship("ahu-1", "serves:room-2", "serves", "room-2", {})
    nodes = FmuNodes(graph)
    nodes.ensure_schema()
    library = FmuLibrary(nodes, FmuFiles(folder / "fmus"))
    telemetry = DuckDbTelemetryStore(folder / "telemetry.duckdb")
    room = library.add(fmus.room.read_bytes(), ROOM, name="room.fmu")
    pump = library.add(fmus.pump.read_bytes(), PUMP, name="pump.fmu")
    tank = library.add(fmus.tank.read_bytes(), TANK, name="tank.fmu")
    return FmuWorld(graph, api, telemetry, library, room, pump, tank)
