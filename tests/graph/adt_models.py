"""Small DTDL models with a Component, for the ADT features of the twin graph (and the ADT API tests)."""

from __future__ import annotations

from typing import Any

from ontology import ModelSet, parse

CTX = "dtmi:dtdl:context;3"
SENSOR = "dtmi:ex:adt:Sensor;1"
THERMOSTAT = "dtmi:ex:adt:Thermostat;1"
ROOM = "dtmi:ex:adt:Room;1"

DOCS: list[dict[str, Any]] = [
    {
        "@context": CTX,
        "@id": SENSOR,
        "@type": "Interface",
        "displayName": "Sensor",
        "contents": [
            {"@type": "Property", "name": "offset", "schema": "double", "writable": True},
            {"@type": "Property", "name": "unit", "schema": "string"},
            {"@type": "Telemetry", "name": "reading", "schema": "double"},
        ],
    },
    {
        "@context": CTX,
        "@id": ROOM,
        "@type": "Interface",
        "displayName": {"en": "Room", "de": "Raum"},
        "contents": [
            {"@type": "Property", "name": "name", "schema": "string"},
            {"@type": "Property", "name": "area", "schema": "double"},
        ],
    },
    {
        "@context": CTX,
        "@id": THERMOSTAT,
        "@type": "Interface",
        "description": "A thermostat with its own sensor.",
        "contents": [
            {"@type": "Property", "name": "setpoint", "schema": "double", "writable": True},
            {"@type": "Property", "name": "label", "schema": "string"},
            {"@type": "Telemetry", "name": "temperature", "schema": "double"},
            {"@type": "Component", "name": "sensor", "schema": SENSOR},
            {
                "@type": "Relationship",
                "name": "controls",
                "target": ROOM,
                "properties": [{"@type": "Property", "name": "priority", "schema": "integer"}],
            },
        ],
    },
]


def adt_models() -> ModelSet:
    """The parsed models."""
    return parse(DOCS)
