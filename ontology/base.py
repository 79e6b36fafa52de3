"""The base ontology kgtwin ships: spaces, assets and the relationships simulations walk.

The models live as DTDL v3 JSON in ``ontology/models`` (one file per namespace:
``core``, ``space``, ``asset``, ``production``, ``hvac``, ``fluid``), so a modeler
reads and extends them as ordinary DTDL and the registry uploads them like any other
batch. Every Interface extends ``dtmi:kgtwin:core:Entity;1``; equipment carries its
simulation parameters as Properties with units (QuantitativeTypes extension) and is
linked by ``feeds`` (with a routing probability), ``serves`` and ``controls``, the
edges the flow, thermal and failure-propagation models follow.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from ontology.model import ModelSet
from ontology.parser import parse

ENTITY = "dtmi:kgtwin:core:Entity;1"
"""The root Interface of the base ontology: every kgtwin twin is an Entity."""


@cache
def _documents() -> tuple[dict[str, Any], ...]:
    folder = resources.files("ontology") / "models"
    found: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            found.extend(data if isinstance(data, list) else [data])
    return tuple(found)


def base_models() -> list[dict[str, Any]]:
    """The Interface documents of the base ontology, one per Interface (copies: safe to change)."""
    return [copy.deepcopy(doc) for doc in _documents()]


@cache
def base_model_set() -> ModelSet:
    """The base ontology parsed (once per process; a ModelSet is read-only, so it is shared)."""
    return parse(list(_documents()))
