"""A small DTDL plant for the twin-graph tests: equipment, pumps feeding tanks, rooms."""

from __future__ import annotations

from typing import Any

from ontology import ModelSet, parse

CTX = "dtmi:dtdl:context;3"
EQUIPMENT = "dtmi:ex:plant:Equipment;1"
PUMP = "dtmi:ex:plant:Pump;1"
TANK = "dtmi:ex:plant:Tank;1"
ROOM = "dtmi:ex:plant:Room;1"

DOCS: list[dict[str, Any]] = [
    {
        "@context": CTX,
        "@id": EQUIPMENT,
        "@type": "Interface",
        "contents": [
            {"@type": "Property", "name": "serial", "schema": "string"},
            {
                "@type": "Property",
                "name": "location",
                "schema": {
                    "@type": "Object",
                    "fields": [{"name": "lat", "schema": "double"}, {"name": "lon", "schema": "double"}],
                },
            },
            {
                "@type": "Property",
                "name": "tags",
                "schema": {
                    "@type": "Map",
                    "mapKey": {"name": "k", "schema": "string"},
                    "mapValue": {"name": "v", "schema": "string"},
                },
            },
            {"@type": "Relationship", "name": "locatedIn", "target": ROOM, "maxMultiplicity": 1},
        ],
    },
    {
        "@context": CTX,
        "@id": PUMP,
        "@type": "Interface",
        "extends": EQUIPMENT,
        "contents": [
            {"@type": "Property", "name": "flow", "schema": "double", "writable": True},
            {"@type": "Property", "name": "speeds", "schema": {"@type": "Array", "elementSchema": "integer"}},
            {
                "@type": "Relationship",
                "name": "feeds",
                "target": TANK,
                "properties": [{"@type": "Property", "name": "since", "schema": "date"}],
            },
        ],
    },
    {
        "@context": CTX,
        "@id": TANK,
        "@type": "Interface",
        "extends": EQUIPMENT,
        "contents": [{"@type": "Property", "name": "capacity", "schema": "double"}],
    },
    {
        "@context": CTX,
        "@id": ROOM,
        "@type": "Interface",
        "contents": [{"@type": "Property", "name": "name", "schema": "string"}],
    },
]


def plant_models() -> ModelSet:
    """The parsed plant models."""
    return parse(DOCS)
