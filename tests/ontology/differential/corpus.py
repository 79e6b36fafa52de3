"""The differential corpus: batches of DTDL documents both parsers are asked about.

Sources are the real ontologies of ``../shared/ontologies`` (each Interface with the
Interfaces it needs; whole ontologies on request) and batches drawn by hypothesis. A
case takes a source, sometimes moves it to another DTDL version, and applies one edit
kind; the kinds are taken in turn so that every kind is well represented. The same seed
and count give the same cases, in the same order.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

from tests.ontology.differential.edits import EDITS, TEXT_EDITS
from tests.ontology.differential.generated import generated_batches
from tests.ontology.differential.sources import load_ontologies
from tests.ontology.differential.versions import move, version_of

# One case in this many is a hypothesis-drawn batch (all of them without the ontologies).
GENERATED_SHARE = 6
ATTEMPTS_PER_CASE = 20


@dataclass(frozen=True)
class Case:
    """One batch of JSON texts, with where it came from and what was done to it."""

    name: str
    kind: str
    documents: tuple[str, ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256("\0".join(self.documents).encode()).hexdigest()[:12]


def _texts(batch: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(doc, ensure_ascii=False) for doc in batch]


def _short(dtmi: str) -> str:
    return dtmi.removeprefix("dtmi:").split(";")[0].rsplit(":", 1)[-1]


def _version_move(rng: Random, batch: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    current = version_of(batch[0])
    target = rng.choice([v for v in (2, 3, 4) if v != current])
    migrate = rng.random() < 0.6
    return move(batch, target, migrate=migrate), f"v{current}->v{target}{'' if migrate else ' naive'}"


def _edited(rng: Random, name: str, batch: list[dict[str, Any]], kind: str) -> Case | None:
    """The case of ``kind`` made from ``batch`` (a copy), or None when the edit does not apply."""
    batch = copy.deepcopy(batch)
    steps = [name]
    if kind == "version-moved" or rng.random() < 0.25:
        batch, label = _version_move(rng, batch)
        steps.append(label)
    if kind in EDITS:
        what = EDITS[kind](rng, batch)
        if what is None:
            return None
        steps.append(f"{kind}: {what}")
    texts = _texts(batch)
    if kind in TEXT_EDITS:
        what = TEXT_EDITS[kind](rng, texts)
        if what is None:
            return None
        steps.append(f"{kind}: {what}")
    return Case(" | ".join(steps), kind, tuple(texts))


def kinds() -> list[str]:
    """Every kind of case, in the order they are taken in turn."""
    return ["original", "version-moved", *sorted(EDITS), *sorted(TEXT_EDITS)]


def build_corpus(shared: Path | None, *, seed: int, count: int, whole: bool = False) -> list[Case]:
    """``count`` distinct cases for ``seed``; ``whole`` adds each ontology whole, as is and moved."""
    rng = Random(seed)
    ontologies = load_ontologies(shared) if shared is not None else []
    sources = [
        (f"{o.name}/{_short(dtmi)}", o.with_dependencies(dtmi)) for o in ontologies for dtmi in o.interfaces
    ]
    cases: list[Case] = []
    seen: set[str] = set()

    def add(case: Case | None) -> None:
        if case is not None and case.digest not in seen and len(cases) < count:
            seen.add(case.digest)
            cases.append(case)

    if whole:
        for ontology in ontologies:
            add(Case(f"{ontology.name} whole", "whole", tuple(_texts(ontology.whole()))))
            moved, label = _version_move(rng, ontology.whole())
            add(Case(f"{ontology.name} whole | {label}", "whole", tuple(_texts(moved))))
    generated_count = count if not sources else count // GENERATED_SHARE
    for i, batch in enumerate(generated_batches(seed, generated_count)):
        add(Case(f"generated #{i}", "generated", tuple(_texts(batch))))
    order = kinds()
    turn = 0
    while sources and len(cases) < count and turn < count * ATTEMPTS_PER_CASE:
        kind = order[turn % len(order)]
        turn += 1
        for _ in range(ATTEMPTS_PER_CASE):
            name, batch = rng.choice(sources)
            case = _edited(rng, name, batch, kind)
            if case is not None:
                add(case)
                break
    return cases
