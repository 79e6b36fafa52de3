"""What each name of a query stands for: its collections, and a reference resolved in them.

A ``Scope`` is filled by ``graph.adt_query._check`` and read by the translation. System
names (``$dtId``, ``$metadata.$model``, ``$sourceId``...) are spelled canonically here, and
one a collection lacks is refused by name.

Collections get Cypher variables of kgtwin's own (``t0``, ``r0``...), never the user's
names, so no alias can collide with a Cypher keyword or another variable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import (
    Position,
    Ref,
)

# DTDL §Content name: what a relationship may be called (also a safe Cypher identifier).
# Spellings the reference also uses (its overview and its reserved keywords).
TWIN_SYSTEM = {"$dtid": "$dtId", "$etag": "$etag"}
TWIN_METADATA = {"$model": "$model", "$lastupdatetime": "$lastUpdateTime"}
RELATIONSHIP_SYSTEM = {
    "$relationshipid": "$relationshipId",
    "$sourceid": "$sourceId",
    "$targetid": "$targetId",
    "$relationshipname": "$relationshipName",
    "$etag": "$etag",
}


class Kind(StrEnum):
    """What a collection holds."""

    TWIN = "twin"
    RELATIONSHIP = "relationship"


@dataclass(frozen=True)
class Binding:
    """A collection of the query: its name as written (``""`` when unnamed) and its Cypher variable.

    ``named``: the user named it, so ``SELECT *`` returns it and it is one of the row's
    identity (a JOIN's unnamed relationship is part of the identity too: ``identity``).
    """

    alias: str
    kind: Kind
    var: str
    named: bool = True
    identity: bool = True


@dataclass(frozen=True)
class Resolved:
    """A reference resolved: the collection, and the property path in it (``()``: the collection).

    System names are spelled canonically (``$dtId``, ``$metadata``, ``$model``).
    """

    binding: Binding
    path: tuple[str, ...]

    @property
    def system(self) -> bool:
        return bool(self.path) and self.path[0].startswith("$")


@dataclass
class Scope:
    """The collections of a query, in the order they were declared."""

    bindings: dict[str, Binding] = field(default_factory=dict)
    order: list[Binding] = field(default_factory=list)
    implicit: Binding | None = None
    """Where a property named without its collection belongs (a query with one collection)."""

    def declare(self, binding: Binding, at: Position | None) -> Binding:
        if binding.named:
            if binding.alias in self.bindings:
                raise QueryInvalid(
                    f"the name {binding.alias!r} is used for two collections", construct=binding.alias, at=at
                )
            self.bindings[binding.alias] = binding
        self.order.append(binding)
        return binding

    def next_var(self, kind: Kind) -> str:
        prefix = "t" if kind == Kind.TWIN else "r"
        return f"{prefix}{sum(1 for b in self.order if b.kind == kind)}"

    @property
    def identity(self) -> list[Binding]:
        """The collections whose elements make a row what it is (its paging key)."""
        return [b for b in self.order if b.identity]

    @property
    def named(self) -> list[Binding]:
        return [b for b in self.order if b.named]

    def resolve(self, ref: Ref) -> Resolved:
        """The collection and path ``ref`` names; ``QueryInvalid`` if it names nothing here."""
        head, *rest = ref.parts
        binding = self.bindings.get(head)
        if binding is not None:
            return Resolved(binding, _canonical(binding, tuple(rest), ref))
        # Unqualified, a name is a property of the one collection; a dotted name with an unknown
        # head in a query that names its collections is a mistyped collection, not a nested path.
        if self.implicit is not None and (len(ref.parts) == 1 or not self.bindings):
            return Resolved(self.implicit, _canonical(self.implicit, ref.parts, ref))
        known = ", ".join(sorted(self.bindings)) or "none"
        near = [a for a in self.bindings if a.lower() == head.lower()]
        hint = f"; did you mean {near[0]!r}?" if near else f" (collections: {known})"
        raise QueryInvalid(
            f"{head!r} is not a collection of this query; with several collections name the one a "
            f"property belongs to{hint}",
            construct=head,
            at=ref.at,
        )


def property_of(ref: Ref, scope: Scope, where: str) -> Resolved:
    """``ref`` resolved as a property (not a whole collection)."""
    resolved = scope.resolve(ref)
    if not resolved.path:
        raise QueryInvalid(
            f"{ref} is a collection; {where} takes one of its properties", construct=str(ref), at=ref.at
        )
    if resolved.path == ("$metadata",):
        raise QueryInvalid(
            "name $metadata.$model or $metadata.$lastUpdateTime", construct="$metadata", at=ref.at
        )
    return resolved


def _canonical(binding: Binding, path: tuple[str, ...], ref: Ref) -> tuple[str, ...]:
    """``path`` with system names spelled canonically; ``QueryInvalid`` for one the collection lacks."""
    if not path or not path[0].startswith("$"):
        for part in path[1:]:
            if part.startswith("$"):
                raise QueryInvalid(f"{part} inside a property is not supported", construct=part, at=ref.at)
        return path
    head = path[0].lower()
    if binding.kind == Kind.RELATIONSHIP:
        if head in RELATIONSHIP_SYSTEM and len(path) == 1:
            return (RELATIONSHIP_SYSTEM[head],)
        known = ", ".join(sorted(RELATIONSHIP_SYSTEM.values()))
        raise QueryInvalid(
            f"relationships have no {'.'.join(path)}; they have {known}", construct=path[0], at=ref.at
        )
    if head in TWIN_SYSTEM and len(path) == 1:
        return (TWIN_SYSTEM[head],)
    if head == "$metadata":
        if len(path) == 1:
            return ("$metadata",)
        if len(path) == 2 and path[1].lower() in TWIN_METADATA:
            return ("$metadata", TWIN_METADATA[path[1].lower()])
        raise QueryInvalid(
            f"{'.'.join(path)} is not supported: twins' metadata here are $metadata.$model "
            "and $metadata.$lastUpdateTime",
            construct=".".join(path),
            at=ref.at,
        )
    raise QueryInvalid(
        f"twins have no {path[0]}; they have $dtId, $etag, $metadata.$model and $metadata.$lastUpdateTime",
        construct=path[0],
        at=ref.at,
    )
