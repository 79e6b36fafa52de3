"""Moving a batch of DTDL documents to another language version, as a modeler would try it.

A naive move changes the DTDL context only. A migration also swaps the feature extensions
for the target version's (DTDL v2 has semantic types in its own context and no feature
extensions; v3 has QuantitativeTypes 1 and the other extensions' first versions; v4 the
second ones) and adds QuantitativeTypes when v2 semantic types move to v3 or v4.
"""

from __future__ import annotations

import re
from typing import Any

DTDL_CONTEXT = re.compile(r"^dtmi:dtdl:context;(\d+)")
_EXTENSION = re.compile(r"^dtmi:dtdl:extension:(\w+);(\d+)$")
# Extension version per DTDL version (DTDL v3 and v4 §Context; Extensions.md).
_EXTENSION_VERSIONS = {
    3: {"quantitativeTypes": 1, "historization": 1, "annotation": 1, "overriding": 1, "mqtt": 1},
    4: {
        "quantitativeTypes": 2,
        "historization": 2,
        "annotation": 2,
        "overriding": 2,
        "mqtt": 2,
        "requirement": 1,
    },
}


def version_of(doc: Any) -> int:
    """The DTDL version a top-level document names first (2 when it names none)."""
    context = doc.get("@context") if isinstance(doc, dict) else None
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if isinstance(entry, str) and (m := DTDL_CONTEXT.match(entry)):
            return int(m.group(1))
    return 2


def _uses_semantic_types(value: Any) -> bool:
    if isinstance(value, dict):
        types = value.get("@type")
        if isinstance(types, list) and len(types) > 1 and "unit" in value:
            return True
        return any(_uses_semantic_types(v) for v in value.values())
    if isinstance(value, list):
        return any(_uses_semantic_types(v) for v in value)
    return False


def _context(entries: list[Any], version: int, migrate: bool, semantic: bool) -> list[Any]:
    out: list[Any] = []
    for entry in entries:
        if isinstance(entry, str) and DTDL_CONTEXT.match(entry):
            out.append(f"dtmi:dtdl:context;{version}")
        elif migrate and isinstance(entry, str) and (m := _EXTENSION.match(entry)):
            wanted = _EXTENSION_VERSIONS.get(version, {}).get(m.group(1))
            if wanted is not None:
                out.append(f"dtmi:dtdl:extension:{m.group(1)};{wanted}")
        else:
            out.append(entry)
    if migrate and semantic and version > 2:
        qt = f"dtmi:dtdl:extension:quantitativeTypes;{_EXTENSION_VERSIONS[version]['quantitativeTypes']}"
        if qt not in out:
            out.append(qt)
    return out


def _move(value: Any, version: int, migrate: bool, semantic: bool) -> Any:
    if isinstance(value, dict):
        out = {k: _move(v, version, migrate, semantic) for k, v in value.items() if k != "@context"}
        if "@context" in value:
            raw = value["@context"]
            moved = _context(raw if isinstance(raw, list) else [raw], version, migrate, semantic)
            out = {"@context": moved if isinstance(raw, list) or len(moved) != 1 else moved[0], **out}
        return out
    if isinstance(value, list):
        return [_move(v, version, migrate, semantic) for v in value]
    return value


def move(batch: list[dict[str, Any]], version: int, *, migrate: bool) -> list[dict[str, Any]]:
    """The batch written for DTDL ``version`` (every ``@context``, nested ones included)."""
    semantic = _uses_semantic_types(batch)
    return [_move(doc, version, migrate, semantic) for doc in batch]
