"""A small building for the ADT query tests: a site, floors, rooms, equipment and their links.

Models (``dtmi:ex:adt:*;1``), with inheritance, a Component, an Object, a Map and arrays::

    Asset (name, tags: Map)  <- Space (area; contains -> Space)  <- Site (address: Object)
                                                                 <- Floor (level)
                                                                 <- Room (capacity, occupied,
                                                                          temperature, location: Object,
                                                                          features: [string])
                             <- Equipment (serial, installed, ratings: [integer];
                                           locatedIn -> Room, feeds -> Equipment {medium, flow},
                                           serves -> Space {since, priority})
                                  <- Pump (ratedFlow, running, motor: Component Motor)
                                       <- SmartPump (also a Sensor; firmware)
                                  <- Tank (volume)
                                  <- AirHandler (airflow)
    Sensor (unit, accuracy; monitors -> Asset)    Motor (power, voltage)

Twins and relationships (relationship ids repeat across sources, as ADT allows)::

    site-1 contains floor-0 (c-1), floor-1 (c-2)
    floor-0 contains room-a (c-1), room-b (c-2);  floor-1 contains room-c (c-1), room-d (c-2)
    pump-1, pump-2, pump-3, tank-1 locatedIn room-b (l-1);  tank-2 locatedIn room-d;  ahu-1 locatedIn room-c
    pump-1 feeds tank-1 (f-1), tank-2 (f-2);  tank-1 feeds pump-2 (f-1);  pump-2 feeds pump-1 (f-1)
    pump-3 feeds tank-2 (f-1)
    ahu-1 serves room-a (s-1), room-c (s-2);  pump-3 serves room-b (s-1)
    sensor-1 monitors room-a (m-1);  pump-3 monitors tank-2 (m-1)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graph.model_store import GraphModelStore
from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology import ModelSet, parse
from ontology.model_store import StoredModel

CTX = "dtmi:dtdl:context;3"
NS = "dtmi:ex:adt:"
ASSET, SPACE, SITE, FLOOR, ROOM = (f"{NS}{n};1" for n in ("Asset", "Space", "Site", "Floor", "Room"))
EQUIPMENT, PUMP, SMART_PUMP, TANK, AHU = (
    f"{NS}{n};1" for n in ("Equipment", "Pump", "SmartPump", "Tank", "AirHandler")
)
SENSOR, MOTOR = f"{NS}Sensor;1", f"{NS}Motor;1"


def _prop(name: str, schema: Any) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema, "writable": True}


def _object(*fields: tuple[str, str]) -> dict[str, Any]:
    return {"@type": "Object", "fields": [{"name": n, "schema": s} for n, s in fields]}


def _iface(dtmi: str, contents: list[dict[str, Any]], extends: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": CTX, "@id": dtmi, "@type": "Interface", "contents": contents}
    if extends is not None:
        doc["extends"] = extends
    return doc


DOCS: list[dict[str, Any]] = [
    _iface(
        ASSET,
        [
            _prop("name", "string"),
            _prop(
                "tags",
                {
                    "@type": "Map",
                    "mapKey": {"name": "tag", "schema": "string"},
                    "mapValue": {"name": "value", "schema": "string"},
                },
            ),
        ],
    ),
    _iface(
        SPACE,
        [
            _prop("area", "double"),
            {"@type": "Relationship", "name": "contains", "target": SPACE},
        ],
        ASSET,
    ),
    _iface(SITE, [_prop("address", _object(("city", "string"), ("zip", "string")))], SPACE),
    _iface(FLOOR, [_prop("level", "integer")], SPACE),
    _iface(
        ROOM,
        [
            _prop("capacity", "integer"),
            _prop("occupied", "boolean"),
            _prop("temperature", "double"),
            _prop("location", _object(("x", "double"), ("y", "double"))),
            _prop("features", {"@type": "Array", "elementSchema": "string"}),
        ],
        SPACE,
    ),
    _iface(MOTOR, [_prop("power", "double"), _prop("voltage", "integer")]),
    _iface(
        EQUIPMENT,
        [
            _prop("serial", "string"),
            _prop("installed", "date"),
            _prop("ratings", {"@type": "Array", "elementSchema": "integer"}),
            {"@type": "Relationship", "name": "locatedIn", "target": ROOM, "maxMultiplicity": 1},
            {
                "@type": "Relationship",
                "name": "feeds",
                "target": EQUIPMENT,
                "properties": [_prop("medium", "string"), _prop("flow", "double")],
            },
            {
                "@type": "Relationship",
                "name": "serves",
                "target": SPACE,
                "properties": [_prop("since", "date"), _prop("priority", "integer")],
            },
        ],
        ASSET,
    ),
    _iface(
        PUMP,
        [
            _prop("ratedFlow", "double"),
            _prop("running", "boolean"),
            {"@type": "Component", "name": "motor", "schema": MOTOR},
        ],
        EQUIPMENT,
    ),
    _iface(
        SENSOR,
        [
            _prop("unit", "string"),
            _prop("accuracy", "double"),
            {"@type": "Relationship", "name": "monitors", "target": ASSET},
        ],
    ),
    _iface(SMART_PUMP, [_prop("firmware", "string")], [PUMP, SENSOR]),
    _iface(TANK, [_prop("volume", "double")], EQUIPMENT),
    _iface(AHU, [_prop("airflow", "double")], EQUIPMENT),
]

TWINS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "site-1",
        SITE,
        {"name": "North campus", "address": {"city": "Oslo", "zip": "0150"}, "tags": {"owner": "facilities"}},
    ),
    ("floor-0", FLOOR, {"name": "Ground floor", "level": 0, "area": 500.0}),
    ("floor-1", FLOOR, {"name": "First floor", "level": 1, "area": 450.5}),
    (
        "room-a",
        ROOM,
        {
            "name": "Lobby",
            "capacity": 40,
            "occupied": True,
            "temperature": 21.5,
            "location": {"x": 1.0, "y": 2.0},
            "features": ["wifi", "projector"],
            "area": 80.0,
        },
    ),
    (
        "room-b",
        ROOM,
        {
            "name": "Plant room",
            "capacity": 4,
            "occupied": False,
            "temperature": 26.0,
            "features": ["drain"],
            "tags": {"zone": "technical"},
        },
    ),
    (
        "room-c",
        ROOM,
        {
            "name": "Office 101",
            "capacity": 12,
            "occupied": True,
            "temperature": 22.0,
            "location": {"x": 5.5, "y": 1.25},
        },
    ),
    ("room-d", ROOM, {"name": "Storage", "tags": {"zone": "storage"}}),
    (
        "pump-1",
        PUMP,
        {
            "name": "Feed pump",
            "serial": "P-100",
            "ratedFlow": 12.5,
            "running": True,
            "ratings": [3, 5],
            "installed": "2021-03-01",
            "motor": {"power": 1.5, "voltage": 400},
            "tags": {"criticality": "high"},
        },
    ),
    (
        "pump-2",
        PUMP,
        {
            "name": "Return pump",
            "serial": "P-200",
            "ratedFlow": 8.0,
            "running": False,
            "motor": {"power": 0.75},
        },
    ),
    (
        "pump-3",
        SMART_PUMP,
        {
            "name": "Smart pump",
            "serial": "SP-300",
            "ratedFlow": 10.0,
            "running": True,
            "firmware": "2.1.0",
            "unit": "m3/h",
            "motor": {},
        },
    ),
    ("tank-1", TANK, {"name": "Buffer tank", "serial": "T-1", "volume": 3.0}),
    ("tank-2", TANK, {"name": "Storage tank", "volume": 12.0, "ratings": [1]}),
    ("ahu-1", AHU, {"name": "AHU north", "airflow": 1200.0, "installed": "2019-11-20"}),
    ("sensor-1", SENSOR, {"unit": "degC", "accuracy": 0.5}),
]

RELATIONSHIPS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("site-1", "c-1", "contains", "floor-0", {}),
    ("site-1", "c-2", "contains", "floor-1", {}),
    ("floor-0", "c-1", "contains", "room-a", {}),
    ("floor-0", "c-2", "contains", "room-b", {}),
    ("floor-1", "c-1", "contains", "room-c", {}),
    ("floor-1", "c-2", "contains", "room-d", {}),
    ("pump-1", "l-1", "locatedIn", "room-b", {}),
    ("pump-2", "l-1", "locatedIn", "room-b", {}),
    ("pump-3", "l-1", "locatedIn", "room-b", {}),
    ("tank-1", "l-1", "locatedIn", "room-b", {}),
    ("tank-2", "l-1", "locatedIn", "room-d", {}),
    ("ahu-1", "l-1", "locatedIn", "room-c", {}),
    ("pump-1", "f-1", "feeds", "tank-1", {"medium": "water", "flow": 12.0}),
    ("pump-1", "f-2", "feeds", "tank-2", {"medium": "water", "flow": 2.0}),
    ("tank-1", "f-1", "feeds", "pump-2", {"medium": "water"}),
    ("pump-2", "f-1", "feeds", "pump-1", {}),
    ("pump-3", "f-1", "feeds", "tank-2", {"medium": "glycol", "flow": 4.5}),
    ("ahu-1", "s-1", "serves", "room-a", {"since": "2020-01-01", "priority": 1}),
    ("ahu-1", "s-2", "serves", "room-c", {"since": "2022-06-15", "priority": 2}),
    ("pump-3", "s-1", "serves", "room-b", {"priority": 3}),
    ("sensor-1", "m-1", "monitors", "room-a", {}),
    ("pump-3", "m-1", "monitors", "tank-2", {}),
]

UPLOADED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def building_models() -> ModelSet:
    """The parsed building models."""
    return parse(DOCS)


def build_building(store: GraphStore) -> ModelSet:
    """Store the models (as ``Model`` nodes) and write the twins and relationships; answer the models."""
    models = building_models()
    GraphModelStore(store).add([StoredModel(d["@id"], d, UPLOADED) for d in DOCS])
    twins = TwinGraph(store, models)
    for twin_id, model, properties in TWINS:
        twins.put_twin(twin_id, model, properties)
    for source, rel_id, name, target, properties in RELATIONSHIPS:
        twins.put_relationship(source, rel_id, name, target, properties)
    return models
