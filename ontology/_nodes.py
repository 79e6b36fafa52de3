"""The intermediate graph the reader builds: elements, references and literals.

The reader turns JSON-LD into :class:`Node` objects whose property values are other
nodes (inline definitions), :class:`Ref` (a DTMI to resolve across the batch) or
:class:`Literal`. The semantic checks and the public model are built from this graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference by DTMI (``"schema": "dtmi:com:example:Speed;1"``) not yet resolved."""

    target: str
    pointer: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal value; ``lang`` is set for the entries of a language map."""

    value: Any
    pointer: str
    lang: str | None = None


@dataclass(eq=False, slots=True)
class Node:
    """One DTDL element as written in the input (an Interface, a Property, an Enum, ...)."""

    id: str
    explicit_id: bool
    version: int
    material: str | None
    cotypes: tuple[str, ...]
    undefined_cotype: bool
    pointer: str
    document: int
    parent: Node | None
    parent_prop: str | None
    props: dict[str, list[Node | Ref | Literal]] = field(default_factory=dict)
    partition: Node | None = None
    size: int = 0
    limits: str | None = None

    @property
    def top(self) -> Node:
        """The top-level element (partition) that this element is written inside."""
        return self.partition if self.partition is not None else self

    def values(self, term: str) -> list[Node | Ref | Literal]:
        return self.props.get(term, [])

    def literal(self, term: str) -> Any:
        for value in self.props.get(term, []):
            if isinstance(value, Literal) and value.lang is None:
                return value.value
        return None

    def name(self) -> str | None:
        name = self.literal("name")
        return name if isinstance(name, str) else None
