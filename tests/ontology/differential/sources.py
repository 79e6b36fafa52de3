"""The real ontologies of ``../shared/ontologies``, whole or one Interface with its dependencies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ONTOLOGIES = ("building", "energygrid", "smartcities")


@dataclass(frozen=True)
class Ontology:
    """One published ontology: its Interfaces by DTMI, in file order."""

    name: str
    interfaces: dict[str, dict[str, Any]]

    def whole(self) -> list[dict[str, Any]]:
        return list(self.interfaces.values())

    def with_dependencies(self, dtmi: str) -> list[dict[str, Any]]:
        """The Interface first, then every Interface of the ontology it names, transitively.

        That is what a modeler uploads to have one model accepted on its own: what it
        extends, its Component schemas and its Relationship targets, and theirs.
        """
        order = [dtmi]
        seen = {dtmi}
        for current in order:
            for ref in sorted(_references(self.interfaces[current]) & self.interfaces.keys()):
                if ref not in seen:
                    seen.add(ref)
                    order.append(ref)
        return [self.interfaces[d] for d in order]


def _references(value: Any) -> set[str]:
    """Every DTMI a document names as a value (its own ``@id`` and nested ones excluded)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(v for k, v in item.items() if k != "@id")
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item.startswith("dtmi:"):
            found.add(item)
    return found


def load_ontologies(shared: Path) -> list[Ontology]:
    """Every ontology found under ``shared/ontologies``, files read in sorted order."""
    out = []
    for name in ONTOLOGIES:
        root = shared / "ontologies" / name / "Ontology"
        if not root.is_dir():
            continue
        interfaces: dict[str, dict[str, Any]] = {}
        for path in sorted(root.rglob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
            for item in doc if isinstance(doc, list) else [doc]:
                interfaces[item["@id"]] = item
        out.append(Ontology(name, interfaces))
    return out
