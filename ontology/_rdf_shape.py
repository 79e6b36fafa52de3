"""Fitting an imported class hierarchy into DTDL's limits, so that the documents parse as they are.

OWL allows what DTDL does not: cycles of ``rdfs:subClassOf`` (equivalent classes), chains
deeper than 10 (v2, v3) or 12 (v4) levels, more than two superclasses (v2), thousands of
properties, and the same name arriving from two superclasses. ``shape`` walks the classes
parents first and keeps each class, changing only what a limit forces, and says what it
changed in a :class:`ImportNote`:

* a ``subClassOf`` that closes a cycle is dropped;
* a superclass too deep is replaced by its ancestor on the longest chain at the deepest
  allowed level: the class stays a descendant of everything above, and only loses the
  contents of the skipped levels (this keeps "is a" true, which a dropped edge would not);
* a superclass beyond the count limits, or one bringing a content name that clashes with
  another superclass's, is dropped;
* an own content whose name is already inherited from a different property is renamed
  ``name_2``; one past the contents limit is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ontology._rdf_terms import Limits


@dataclass(frozen=True)
class ImportNote:
    """One thing of the ontology that the import changed or left out: ``subject`` is its IRI."""

    subject: str
    message: str


@dataclass
class ContentPlan:
    """A content to place on an Interface: ``key`` is the RDF property it comes from."""

    key: str
    doc: dict[str, Any]


@dataclass
class ClassPlan:
    """What the ontology says about one class, before the limits are applied."""

    dtmi: str
    texts: dict[str, dict[str, str]]
    parents: list[str] = field(default_factory=list)
    contents: list[ContentPlan] = field(default_factory=list)


@dataclass
class _Shaped:
    extends: list[str]
    height: int
    ancestors: set[str]
    names: dict[str, tuple[str, str]]  # name -> (class defining it, RDF property)


def shape(plans: dict[str, ClassPlan], limits: Limits, notes: list[ImportNote]) -> list[dict[str, Any]]:
    """One DTDL Interface document per class of ``plans``, within ``limits`` (``@context`` left out)."""
    order, parents = _topological(plans, notes)
    done: dict[str, _Shaped] = {}
    documents = []
    for cls in order:
        shaped = _choose_parents(cls, parents[cls], done, limits, notes)
        contents = _own_contents(cls, plans[cls].contents, shaped, limits, notes)
        done[cls] = shaped
        plan = plans[cls]
        doc: dict[str, Any] = {"@id": plan.dtmi, "@type": "Interface", **plan.texts}
        if shaped.extends:
            doc["extends"] = [plans[p].dtmi for p in shaped.extends]
        if contents:
            doc["contents"] = contents
        documents.append(doc)
    return documents


def _topological(
    plans: dict[str, ClassPlan], notes: list[ImportNote]
) -> tuple[list[str], dict[str, list[str]]]:
    """Classes parents first, and each class's parents less the edges that close a cycle.

    An iterative depth-first walk, so that a chain of thousands of classes does not recurse.
    """
    order: list[str] = []
    kept: dict[str, list[str]] = {c: [] for c in plans}
    on_stack: set[str] = set()
    seen: set[str] = set()
    for root in plans:
        if root in seen:
            continue
        seen.add(root)
        on_stack.add(root)
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(plans[root].parents))]
        while stack:
            node, todo = stack[-1]
            for parent in todo:
                if parent in on_stack:
                    notes.append(
                        ImportNote(node, f"subClassOf {parent} closes a cycle; that extends is dropped")
                    )
                    continue
                kept[node].append(parent)
                if parent not in seen:
                    seen.add(parent)
                    on_stack.add(parent)
                    stack.append((parent, iter(plans[parent].parents)))
                    break
            else:
                stack.pop()
                on_stack.discard(node)
                order.append(node)
    return order, kept


def _choose_parents(
    cls: str, candidates: list[str], done: dict[str, _Shaped], limits: Limits, notes: list[ImportNote]
) -> _Shaped:
    out = _Shaped([], 0, set(), {})
    for wanted in candidates:
        parent = wanted
        # DTDL §Interface extends depth: climb the longest chain until the class fits under it.
        while done[parent].height >= limits.depth:
            parent = max(done[parent].extends, key=lambda p: (done[p].height, p))
        if parent != wanted:
            notes.append(
                ImportNote(
                    cls, f"extends {parent} instead of {wanted}: the extends depth limit is {limits.depth}"
                )
            )
        if parent in out.extends:
            continue
        above = done[parent]
        ancestors = out.ancestors | above.ancestors | {parent}
        clash = [n for n, src in above.names.items() if out.names.get(n, src) != src]
        if limits.direct is not None and len(out.extends) >= limits.direct:
            reason = f"at most {limits.direct} superclasses are allowed"
        elif limits.hierarchy is not None and len(ancestors) > limits.hierarchy:
            reason = f"at most {limits.hierarchy} Interfaces may be inherited from"
        elif clash:
            reason = f"it brings content names another superclass has too: {', '.join(sorted(clash))}"
        elif len(out.names | above.names) > limits.contents:
            reason = f"at most {limits.contents} contents are allowed, inherited ones included"
        else:
            out.extends.append(parent)
            out.ancestors = ancestors
            out.names |= above.names
            out.height = max(out.height, above.height + 1)
            continue
        notes.append(ImportNote(cls, f"subClassOf {parent} is dropped: {reason}"))
    return out


def _own_contents(
    cls: str, contents: list[ContentPlan], shaped: _Shaped, limits: Limits, notes: list[ImportNote]
) -> list[dict[str, Any]]:
    out = []
    for content in sorted(contents, key=lambda c: (c.doc["name"], c.key)):
        base = name = content.doc["name"]
        if shaped.names.get(name, ("", ""))[1] == content.key:
            continue  # the same property is already inherited
        n = 1
        while name in shaped.names:
            n += 1
            name = f"{base[: limits.name_length - 8]}_{n}"
        if len(shaped.names) >= limits.contents:
            notes.append(
                ImportNote(content.key, f"not placed on {cls}: the contents limit is {limits.contents}")
            )
            continue
        if name != base:
            notes.append(
                ImportNote(content.key, f"named {name} on {cls}: {base} is inherited from another property")
            )
        shaped.names[name] = (cls, content.key)
        out.append({**content.doc, "name": name})
    return out
