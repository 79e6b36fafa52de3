"""The registry of edits and the small helpers every edit uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from random import Random
from typing import Any

Batch = list[dict[str, Any]]
Edit = Callable[[Random, Batch], str | None]
TextEdit = Callable[[Random, list[str]], str | None]

EDITS: dict[str, Edit] = {}
TEXT_EDITS: dict[str, TextEdit] = {}

MATERIAL = ("Property", "Telemetry", "Relationship", "Component", "Command")


def edit(name: str) -> Callable[[Edit], Edit]:
    """Register an edit of the parsed documents under ``name``."""

    def register(function: Edit) -> Edit:
        EDITS[name] = function
        return function

    return register


def text_edit(name: str) -> Callable[[TextEdit], TextEdit]:
    """Register an edit of the documents' JSON text under ``name``."""

    def register(function: TextEdit) -> TextEdit:
        TEXT_EDITS[name] = function
        return function

    return register


def types_of(obj: dict[str, Any]) -> list[str]:
    raw = obj.get("@type")
    if isinstance(raw, str):
        return [raw]
    return [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []


def contents(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The contents of an Interface as a list (a single object is made a list in place)."""
    raw = doc.get("contents")
    if isinstance(raw, dict):
        doc["contents"] = raw = [raw]
    if not isinstance(raw, list):
        doc["contents"] = raw = []
    return [c for c in raw if isinstance(c, dict)]


def add_content(doc: dict[str, Any], content: dict[str, Any]) -> None:
    contents(doc)
    doc["contents"].append(content)


def of_type(doc: dict[str, Any], *kinds: str) -> list[dict[str, Any]]:
    """The contents of ``doc`` whose ``@type`` names one of ``kinds``."""
    return [c for c in contents(doc) if set(types_of(c)) & set(kinds)]


def objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``value``, depth first, in document order."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def pick[T](rng: Random, items: list[T]) -> T | None:
    return rng.choice(items) if items else None


def interface(dtmi: str, dtdl_version: int, **members: Any) -> dict[str, Any]:
    """A new Interface, as a modeler adds one beside the others."""
    return {"@context": f"dtmi:dtdl:context;{dtdl_version}", "@id": dtmi, "@type": "Interface", **members}


def fresh_dtmi(batch: Batch, stem: str) -> str:
    """A DTMI no document of the batch uses, under ``dtmi:com:example:``."""
    used = {d.get("@id") for d in batch}
    n = 1
    while f"dtmi:com:example:{stem}{n};1" in used:
        n += 1
    return f"dtmi:com:example:{stem}{n};1"
