"""Fixtures for the ontology tests: small DTDL documents to build cases from."""

from __future__ import annotations

from typing import Any

import pytest


def interface(dtmi: str, *contents: dict[str, Any], version: int = 3, **extra: Any) -> dict[str, Any]:
    """A DTDL Interface document with the given contents."""
    return {
        "@context": f"dtmi:dtdl:context;{version}",
        "@id": dtmi,
        "@type": "Interface",
        "contents": list(contents),
        **extra,
    }


@pytest.fixture
def thermostat() -> list[dict[str, Any]]:
    """A valid two-document batch: a Thermostat that extends a Device."""
    device = interface(
        "dtmi:com:example:Device;1",
        {"@type": "Property", "name": "serial", "schema": "string"},
        {
            "@type": "Relationship",
            "name": "locatedIn",
            "target": "dtmi:com:example:Room;1",
            "maxMultiplicity": 1,
        },
    )
    thermostat = interface(
        "dtmi:com:example:Thermostat;1",
        {"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double", "unit": "degreeCelsius"},
        {"@type": "Property", "name": "setPoint", "schema": "double", "writable": True},
        {
            "@type": "Command",
            "name": "reboot",
            "request": {"name": "delay", "schema": "integer"},
            "response": {"name": "ok", "schema": "boolean"},
        },
        extends="dtmi:com:example:Device;1",
        schemas=[
            {
                "@id": "dtmi:com:example:Mode;1",
                "@type": "Enum",
                "valueSchema": "string",
                "enumValues": [{"name": "heat", "enumValue": "heat"}, {"name": "cool", "enumValue": "cool"}],
            }
        ],
    )
    thermostat["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    thermostat["contents"].append({"@type": "Property", "name": "mode", "schema": "dtmi:com:example:Mode;1"})
    return [device, thermostat]
