"""The demo twin: a small campus and a production line, and devices that talk for them.

``make run`` starts kgtwin with this content so that a newcomer has something to query in
GraphiQL, to simulate and to watch. The twin is written as a bulk NDJSON document and
imported like any user file (``graph.import_bulk``): loading it twice changes nothing.
``DemoDevices`` publishes plausible telemetry for the demo's rooms, air handlers and
machines over MQTT, exactly as real devices would, so the ingest path is the real one.
"""

from __future__ import annotations

import io
import json
import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from graph.importer import ImportReport, import_bulk
from graph.store import GraphStore
from ontology import base_models
from ontology.errors import KgtwinError

_log = structlog.get_logger("kgtwin.demo")

_SPACE = "dtmi:kgtwin:space:"
_HVAC = "dtmi:kgtwin:hvac:"
_PROD = "dtmi:kgtwin:production:"

FLOORS = 3
ROOMS_PER_FLOOR = 6


class Publisher(Protocol):
    """What the demo devices need from a broker (``ingest.Broker`` has it)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None: ...


@dataclass(frozen=True)
class DemoTwin:
    """One twin of the demo: id, model and DTDL properties."""

    id: str
    model: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class DemoLink:
    """One relationship of the demo."""

    source: str
    name: str
    target: str
    properties: dict[str, Any]


def _campus() -> Iterator[DemoTwin | DemoLink]:
    yield DemoTwin("site-demo", _SPACE + "Site;1", {"name": "Demo campus", "timeZone": "Europe/Berlin"})
    yield DemoTwin("building-a", _SPACE + "Building;1", {"name": "Building A", "floorsAboveGround": FLOORS})
    yield DemoLink("site-demo", "contains", "building-a", {})
    yield DemoTwin("ahu-1", _HVAC + "AirHandlingUnit;1", _ahu("AHU 1"))
    yield DemoTwin("ahu-2", _HVAC + "AirHandlingUnit;1", _ahu("AHU 2"))
    for level in range(1, FLOORS + 1):
        floor = f"floor-a{level}"
        yield DemoTwin(floor, _SPACE + "Floor;1", {"name": f"Floor {level}", "level": level})
        yield DemoLink("building-a", "contains", floor, {})
        for number in range(1, ROOMS_PER_FLOOR + 1):
            room = f"room-a{level}{number:02d}"
            yield DemoTwin(room, _SPACE + "Room;1", _room(f"Room A{level}.{number:02d}"))
            yield DemoLink(floor, "contains", room, {})
            yield DemoLink("ahu-1" if level < FLOORS else "ahu-2", "serves", room, {})
    yield DemoLink("ahu-1", "locatedIn", "floor-a1", {})
    yield DemoLink("ahu-2", "locatedIn", f"floor-a{FLOORS}", {})


def _ahu(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "nominalAirflow": 12000.0,
        "coolingCapacity": 80.0,
        "heatingCapacity": 60.0,
        "supplyAirTemperatureSetpoint": 18.0,
        "mtbf": 2000.0,
        "mttr": 8.0,
    }


def _room(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "area": 30.0,
        "volume": 90.0,
        "maxOccupancy": 8,
        "thermalCapacitance": 2.0e6,
        "envelopeConductance": 60.0,
        "heatingSetpoint": 20.0,
        "coolingSetpoint": 24.0,
    }


def _factory() -> Iterator[DemoTwin | DemoLink]:
    """Line 1: a source, three stages with buffers between, the middle stage doubled, a sink."""
    yield DemoTwin("building-f", _SPACE + "Building;1", {"name": "Factory", "floorsAboveGround": 1})
    yield DemoLink("site-demo", "contains", "building-f", {})
    yield DemoTwin("hall-1", _SPACE + "Room;1", {"name": "Assembly hall", "area": 2400.0})
    yield DemoLink("building-f", "contains", "hall-1", {})
    stations = [
        DemoTwin(
            "source-1",
            _PROD + "Source;1",
            {
                "name": "Raw parts",
                "interarrivalTimeMean": 30.0,
                "interarrivalTimeDistribution": "exponential",
            },
        ),
        DemoTwin("press-1", _PROD + "Machine;1", _machine("Press 1", 24.0)),
        DemoTwin("buffer-1", _PROD + "Buffer;1", {"name": "Buffer 1", "capacity": 10}),
        DemoTwin("weld-1", _PROD + "Machine;1", _machine("Welder 1", 50.0)),
        DemoTwin("weld-2", _PROD + "Machine;1", _machine("Welder 2", 50.0)),
        DemoTwin("buffer-2", _PROD + "Buffer;1", {"name": "Buffer 2", "capacity": 5}),
        DemoTwin("paint-1", _PROD + "Machine;1", _machine("Paint booth", 26.0)),
        DemoTwin("sink-1", _PROD + "Sink;1", {"name": "Finished goods"}),
    ]
    for station in stations:
        yield station
        yield DemoLink(station.id, "locatedIn", "hall-1", {})
    for source, target, share in (
        ("source-1", "press-1", None),
        ("press-1", "buffer-1", None),
        ("buffer-1", "weld-1", 0.5),
        ("buffer-1", "weld-2", 0.5),
        ("weld-1", "buffer-2", None),
        ("weld-2", "buffer-2", None),
        ("buffer-2", "paint-1", None),
        ("paint-1", "sink-1", None),
    ):
        yield DemoLink(source, "feeds", target, {} if share is None else {"routingProbability": share})


def _machine(name: str, cycle_s: float) -> dict[str, Any]:
    return {
        "name": name,
        "cycleTimeMean": cycle_s,
        "cycleTimeDistribution": "lognormal",
        "cycleTimeStdDev": cycle_s * 0.15,
        "capacity": 1,
        "mtbf": 40.0,
        "mttr": 0.5,
    }


def demo_elements() -> list[DemoTwin | DemoLink]:
    """Every twin and relationship of the demo, twins before the relationships that use them."""
    return [*_campus(), *_factory()]


def demo_bulk() -> bytes:
    """The demo as a bulk NDJSON file (docs/bulk-format.md), base models included."""
    elements = demo_elements()
    lines: list[dict[str, Any]] = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "format": "kgtwin", "description": "kgtwin demo campus and line"},
        {"Section": "Models"},
        *base_models(),
        {"Section": "Twins"},
    ]
    lines += [
        {"$dtId": t.id, "$metadata": {"$model": t.model}, **t.properties}
        for t in elements
        if isinstance(t, DemoTwin)
    ]
    lines.append({"Section": "Relationships"})
    for link in elements:
        if isinstance(link, DemoLink):
            rel_id = f"{link.name}-{link.target}"
            lines.append(
                {
                    "$dtId": link.source,
                    "$relationshipId": rel_id,
                    "$relationshipName": link.name,
                    "$targetId": link.target,
                    **link.properties,
                }
            )
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()


def load_demo(store: GraphStore) -> ImportReport:
    """Import the demo into ``store``; idempotent, like any bulk import."""
    return import_bulk(store, io.BytesIO(demo_bulk()))


class DemoDevices:
    """Simulated devices publishing the demo's telemetry over MQTT every ``interval_s`` seconds.

    Rooms warm with occupancy through the working day, air handlers follow their setpoint
    and machines cycle through running and idle. Values are plausible, not physical: the
    thermal simulation is the physical model.
    """

    def __init__(self, broker: Publisher, *, interval_s: float = 5.0, seed: int = 7) -> None:
        self._broker = broker
        self._interval_s = interval_s
        self._random = random.Random(seed)  # noqa: S311 - demo values, not secrets
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._parts: dict[str, int] = {}
        self.published = 0

    def messages(self, now_s: float) -> list[tuple[str, dict[str, Any]]]:
        """One round of messages (twin id, payload) for the instant ``now_s`` (epoch seconds)."""
        rnd = self._random
        day = (now_s % 86400) / 86400
        occupied = 0.3 < day < 0.75
        out: list[tuple[str, dict[str, Any]]] = []
        ts = int(now_s * 1000)
        for element in demo_elements():
            if not isinstance(element, DemoTwin):
                continue
            model = element.model.rsplit(":", 1)[-1]
            if model == "Room;1" and element.id.startswith("room-"):
                people = rnd.randint(0, 8) if occupied else 0
                temperature = 21.0 + 1.5 * math.sin(2 * math.pi * day) + 0.15 * people + rnd.gauss(0, 0.1)
                out.append(
                    (
                        element.id,
                        {
                            "temperature": round(temperature, 2),
                            "humidity": round(40 + rnd.gauss(0, 2), 1),
                            "co2": round(420 + 60 * people + rnd.gauss(0, 10), 0),
                            "occupancy": people,
                            "ts": ts,
                        },
                    )
                )
            elif model == "AirHandlingUnit;1":
                out.append(
                    (
                        element.id,
                        {
                            "supplyAirTemperature": round(18 + rnd.gauss(0, 0.2), 2),
                            "returnAirTemperature": round(22 + rnd.gauss(0, 0.3), 2),
                            "airflow": round(9000 + rnd.gauss(0, 300), 0),
                            "state": "running",
                            "ts": ts,
                        },
                    )
                )
            elif model == "Machine;1":
                running = rnd.random() < 0.85
                if running:
                    self._parts[element.id] = self._parts.get(element.id, 0) + 1
                out.append(
                    (
                        element.id,
                        {
                            "state": "running" if running else "idle",
                            "partsProduced": self._parts.get(element.id, 0),
                            "power": round((12.0 if running else 1.5) + rnd.gauss(0, 0.3), 2),
                            "temperature": round(45 + rnd.gauss(0, 1.5), 1),
                            "ts": ts,
                        },
                    )
                )
        return out

    def publish_once(self) -> int:
        """Publish one round now; returns the number of messages sent."""
        sent = 0
        for twin_id, payload in self.messages(time.time()):
            self._broker.publish(f"kgtwin/twins/{twin_id}/telemetry", json.dumps(payload).encode(), qos=1)
            sent += 1
        self.published += sent
        return sent

    def start(self) -> None:
        """Publish in a background thread until ``stop``."""
        self._thread = threading.Thread(target=self._run, name="kgtwin-demo-devices", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.publish_once()
            except KgtwinError as exc:
                # A broker that is briefly away: the demo devices try again next round.
                _log.warning("demo.publish_failed", error=exc.message)
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        """Stop publishing and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
