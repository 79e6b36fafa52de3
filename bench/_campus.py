"""A seeded campus and factory of twins in the base ontology, for the graph benchmark.

The campus is sites of buildings; a building contains floors, a floor contains two zones
and holds an AHU, a zone contains rooms, and each room has a VAV (fed by the floor's AHU,
serving the room) and two sensors. The first building is the large one (about a tenth of
all twins) that the containment benchmark walks. The factory is halls of 1,000 twins:
lines of Source -> Machine/Buffer/Conveyor -> Sink over ``feeds``, each station with a
sensor, all ``locatedIn`` the hall. About 2 relationships per twin overall.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SPACE = "dtmi:kgtwin:space:"
ASSET = "dtmi:kgtwin:asset:"
SITE, BUILDING, FLOOR, ZONE, ROOM = (SPACE + n + ";1" for n in ("Site", "Building", "Floor", "Zone", "Room"))
SENSOR = ASSET + "Sensor;1"
AHU, VAV = "dtmi:kgtwin:hvac:AirHandlingUnit;1", "dtmi:kgtwin:hvac:VAV;1"
SOURCE, MACHINE, BUFFER, CONVEYOR, SINK = (
    "dtmi:kgtwin:production:" + n + ";1" for n in ("Source", "Machine", "Buffer", "Conveyor", "Sink")
)
ENTITY = "dtmi:kgtwin:core:Entity;1"
EQUIPMENT = ASSET + "Equipment;1"

FLOORS_LARGE = 20
FLOORS, ROOMS_PER_FLOOR = 10, 50
BUILDINGS_PER_SITE = 10
HALL_TWINS = 1000
"""Twins located in one factory hall: the subgraph benchmark selects one hall."""
LINES_PER_HALL = 4


@dataclass(frozen=True)
class TwinSpec:
    id: str
    model: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class RelSpec:
    source: str
    id: str
    name: str
    target: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Campus:
    """The generated twins and relationships, and the ids the queries start from."""

    twins: list[TwinSpec] = field(default_factory=list)
    relationships: list[RelSpec] = field(default_factory=list)
    large_building: str = ""
    rooms: list[str] = field(default_factory=list)
    floors: list[str] = field(default_factory=list)
    """Floors of the ordinary buildings (205 twins each at every size), for the floor's tree."""
    halls: list[str] = field(default_factory=list)
    _seq: dict[str, int] = field(default_factory=dict)

    def twin(self, prefix: str, model: str, properties: dict[str, Any]) -> str:
        n = self._seq[prefix] = self._seq.get(prefix, 0) + 1
        twin_id = f"{prefix}-{n:06d}"
        self.twins.append(TwinSpec(twin_id, model, {"name": twin_id, **properties}))
        return twin_id

    def link(self, source: str, name: str, target: str, properties: dict[str, Any] | None = None) -> None:
        rid = f"{name}-{len(self.relationships):07d}"
        self.relationships.append(RelSpec(source, rid, name, target, properties or {}))


def generate(twins: int = 100_000, seed: int = 7) -> Campus:
    """About ``twins`` twins (and twice as many relationships), the same for the same seed."""
    rng = random.Random(seed)
    campus = Campus()
    site = _site(campus, rng)
    # A floor of the large building holds 5 + 4 * rooms twins.
    large_rooms = max(1, round((twins * 0.1 / FLOORS_LARGE - 5) / 4))
    campus.large_building = _building(campus, rng, site, FLOORS_LARGE, large_rooms)
    building_twins = 1 + FLOORS * (5 + 4 * ROOMS_PER_FLOOR)
    for i in range(max(1, round(twins * 0.6 / building_twins))):
        if (i + 1) % BUILDINGS_PER_SITE == 0:
            site = _site(campus, rng)
        _building(campus, rng, site, FLOORS, ROOMS_PER_FLOOR)
    factory_site = _site(campus, rng)
    factory = campus.twin("building", BUILDING, _building_props(rng, 1))
    campus.link(factory_site, "contains", factory)
    for _ in range(max(1, round(twins * 0.3 / (HALL_TWINS + 1)))):
        _hall(campus, rng, factory)
    return campus


def _site(campus: Campus, rng: random.Random) -> str:
    props = {
        "latitude": rng.uniform(45, 55),
        "longitude": rng.uniform(0, 15),
        "timeZone": "Europe/Berlin",
        "area": rng.uniform(1e4, 1e5),
    }
    return campus.twin("site", SITE, props)


def _building_props(rng: random.Random, floors: int) -> dict[str, Any]:
    return {"floorsAboveGround": floors, "yearBuilt": rng.randint(1960, 2024), "area": rng.uniform(2e3, 4e4)}


def _building(campus: Campus, rng: random.Random, site: str, floors: int, rooms: int) -> str:
    building = campus.twin("building", BUILDING, _building_props(rng, floors))
    campus.link(site, "contains", building)
    for level in range(floors):
        floor = campus.twin(
            "floor", FLOOR, {"level": level, "elevation": 3.5 * level, "area": rng.uniform(500, 3000)}
        )
        campus.link(building, "contains", floor)
        if campus.large_building:
            campus.floors.append(floor)
        ahu = campus.twin("ahu", AHU, _equipment(rng) | {"nominalAirflow": rng.uniform(5, 20)})
        campus.link(ahu, "locatedIn", floor)
        _sensor(campus, rng, ahu, floor, "temperature")
        zones = [
            campus.twin("zone", ZONE, {"zoneType": "hvac", "area": rng.uniform(200, 1500)}) for _ in range(2)
        ]
        for zone in zones:
            campus.link(floor, "contains", zone)
        for r in range(rooms):
            room = campus.twin("room", ROOM, _room(rng))
            campus.rooms.append(room)
            campus.link(zones[r % 2], "contains", room)
            vav = campus.twin(
                "vav", VAV, _equipment(rng) | {"minAirflow": 0.05, "maxAirflow": rng.uniform(0.3, 1)}
            )
            campus.link(vav, "locatedIn", room)
            campus.link(vav, "serves", room)
            campus.link(ahu, "feeds", vav, {"medium": "air"})
            _sensor(campus, rng, vav, room, "flow")
            _sensor(campus, rng, room, room, "co2")
    return building


def _room(rng: random.Random) -> dict[str, Any]:
    area = rng.uniform(10, 120)
    return {
        "area": area,
        "volume": area * 3,
        "maxOccupancy": rng.randint(1, 60),
        "heatingSetpoint": 21.0,
        "coolingSetpoint": 25.0,
    }


def _equipment(rng: random.Random) -> dict[str, Any]:
    return {
        "ratedPower": round(rng.uniform(0.5, 50), 2),
        "mtbf": rng.uniform(500, 5000),
        "mttr": rng.uniform(1, 24),
        "manufacturer": rng.choice(["Acme", "Siemens", "Trane", "Bosch", "ABB"]),
        "serialNumber": f"SN{rng.randrange(10**8):08d}",
        "installationDate": f"{rng.randint(2005, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }


def _sensor(campus: Campus, rng: random.Random, owner: str, space: str, observed: str) -> str:
    unit = {"temperature": "degC", "flow": "m3/s", "co2": "ppm", "power": "kW"}[observed]
    sensor = campus.twin("sensor", SENSOR, {"observedProperty": observed, "unitOfMeasure": unit})
    campus.link(sensor, "locatedIn", space)
    campus.link(owner, "hasPoint", sensor)
    return sensor


def _hall(campus: Campus, rng: random.Random, factory: str) -> None:
    hall = campus.twin("hall", ROOM, _room(rng) | {"area": rng.uniform(2000, 8000)})
    campus.halls.append(hall)
    campus.link(factory, "contains", hall)
    stations = HALL_TWINS // LINES_PER_HALL // 2  # each station has one sensor
    for _ in range(LINES_PER_HALL):
        previous = ""
        for kind, model, props in _line(rng, stations):
            station = campus.twin(kind, model, _equipment(rng) | props)
            campus.link(station, "locatedIn", hall)
            _sensor(campus, rng, station, hall, "power")
            if previous:
                campus.link(previous, "feeds", station, {"medium": "material", "routingProbability": 1.0})
            previous = station


def _line(rng: random.Random, stations: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    yield (
        "source",
        SOURCE,
        {"interarrivalTimeMean": rng.uniform(20, 60), "interarrivalTimeDistribution": "exponential"},
    )
    middle = [
        ("machine", MACHINE),
        ("buffer", BUFFER),
        ("machine", MACHINE),
        ("conveyor", CONVEYOR),
    ]
    for i in range(stations - 2):
        kind, model = middle[i % len(middle)]
        if model == MACHINE:
            yield (
                kind,
                model,
                {
                    "cycleTimeMean": rng.uniform(10, 50),
                    "cycleTimeDistribution": "normal",
                    "cycleTimeStdDev": rng.uniform(1, 5),
                    "capacity": 1,
                    "scrapRate": rng.uniform(0, 0.05),
                },
            )
        elif model == BUFFER:
            yield kind, model, {"capacity": rng.randint(5, 50), "initialLevel": 0}
        else:
            yield kind, model, {"length": rng.uniform(2, 20), "speed": rng.uniform(0.1, 1), "capacity": 10}
    yield "sink", SINK, {}
