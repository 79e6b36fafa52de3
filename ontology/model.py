"""The resolved model: Interfaces with their contents and schemas, as the twin uses them.

A :class:`ModelSet` is what ``ontology.parse`` returns: every Interface of the batch by
DTMI, with ``extends`` resolved (``properties``, ``relationships``, ... include what is
inherited). Instance validation, the registry and the RDF bridge read these objects;
they never see JSON-LD.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from typing import Literal as Lit


@dataclass(frozen=True, slots=True)
class PrimitiveSchema:
    """A built-in schema: ``boolean``, ``string``, ``integer``, ``dateTime``, ``uuid`` (v4), ..."""

    kind: str
    dtmi: str


@dataclass(eq=False, slots=True)
class EnumValue:
    """One named value of an Enum."""

    name: str
    value: int | str
    dtmi: str
    display_name: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Field:
    """A named, typed field of an Object (``required`` comes from the v4 Requirement extension)."""

    name: str
    schema: Schema
    dtmi: str
    required: bool = False
    display_name: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class ArraySchema:
    """A JSON array whose elements all follow ``element``."""

    dtmi: str
    element: Schema = field(default_factory=lambda: PrimitiveSchema("string", ""))
    kind: Lit["Array"] = "Array"


@dataclass(eq=False, slots=True)
class EnumSchema:
    """A closed set of named integer or string values."""

    dtmi: str
    value_schema: str = "string"
    values: tuple[EnumValue, ...] = ()
    kind: Lit["Enum"] = "Enum"


@dataclass(eq=False, slots=True)
class MapSchema:
    """A JSON object with free string keys whose values follow ``value``."""

    dtmi: str
    key_name: str = ""
    value_name: str = ""
    value: Schema = field(default_factory=lambda: PrimitiveSchema("string", ""))
    kind: Lit["Map"] = "Map"


@dataclass(eq=False, slots=True)
class ObjectSchema:
    """A JSON object with named fields (may refer to itself in DTDL v4)."""

    dtmi: str
    fields: tuple[Field, ...] = ()
    kind: Lit["Object"] = "Object"


Schema = PrimitiveSchema | ArraySchema | EnumSchema | MapSchema | ObjectSchema


@dataclass(frozen=True, slots=True)
class Content:
    """What every content of an Interface has: a name, an identifier, display strings, cotypes.

    ``cotypes`` are the extra ``@type`` values (semantic types such as ``Temperature``,
    ``Historized``, ...); ``unit`` is the unit of a quantitative semantic type.
    """

    name: str
    dtmi: str
    defined_in: str
    display_name: Mapping[str, str]
    description: Mapping[str, str]
    cotypes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Property(Content):
    """A state value of a twin (DTDL §Property); ``writable`` means clients may set it."""

    schema: Schema
    writable: bool = False
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Telemetry(Content):
    """A measurement a twin emits (DTDL §Telemetry)."""

    schema: Schema
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Relationship(Content):
    """A link to other twins (DTDL §Relationship); ``target`` None means any Interface."""

    target: str | None = None
    min_multiplicity: int = 0
    max_multiplicity: int | None = None
    writable: bool = False
    properties: tuple[Property, ...] = ()


@dataclass(frozen=True, slots=True)
class Component(Content):
    """A part of a twin described by another Interface, by value (DTDL §Component)."""

    schema: str = ""


@dataclass(frozen=True, slots=True)
class CommandPayload:
    """The request or response of a Command (``nullable`` is DTDL v4)."""

    name: str
    schema: Schema
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Command(Content):
    """An operation a twin can perform (DTDL §Command)."""

    request: CommandPayload | None = None
    response: CommandPayload | None = None


AnyContent = Property | Telemetry | Relationship | Component | Command


@dataclass(frozen=True, slots=True)
class Interface:
    """A resolved DTDL Interface: its own contents plus everything it inherits.

    ``contents`` maps each name to the content, inherited ones included (names are unique
    across an Interface and its ancestors, so this is well defined); ``ancestors`` lists
    every Interface it extends, transitively, nearest first.
    """

    dtmi: str
    dtdl_version: int
    extends: tuple[str, ...]
    ancestors: tuple[str, ...]
    contents: Mapping[str, AnyContent]
    schemas: tuple[Schema, ...]
    display_name: Mapping[str, str]
    description: Mapping[str, str]
    comment: str | None
    cotypes: tuple[str, ...]

    @property
    def properties(self) -> dict[str, Property]:
        return {n: c for n, c in self.contents.items() if isinstance(c, Property)}

    @property
    def telemetries(self) -> dict[str, Telemetry]:
        return {n: c for n, c in self.contents.items() if isinstance(c, Telemetry)}

    @property
    def relationships(self) -> dict[str, Relationship]:
        return {n: c for n, c in self.contents.items() if isinstance(c, Relationship)}

    @property
    def components(self) -> dict[str, Component]:
        return {n: c for n, c in self.contents.items() if isinstance(c, Component)}

    @property
    def commands(self) -> dict[str, Command]:
        return {n: c for n, c in self.contents.items() if isinstance(c, Command)}


@dataclass(frozen=True)
class ModelSet(Mapping[str, Interface]):
    """The Interfaces of one parsed batch, by DTMI (a read-only mapping).

    ``elements`` keeps the parser's element graph so that a later batch can reference
    these Interfaces (``parse(..., known=model_set)``), as the registry does.
    """

    interfaces: Mapping[str, Interface]
    elements: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)
    # Things derived from these Interfaces once and reused (compiled validators, label indexes).
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, dtmi: str) -> Interface:
        return self.interfaces[dtmi]

    def __iter__(self) -> Iterator[str]:
        return iter(self.interfaces)

    def __len__(self) -> int:
        return len(self.interfaces)

    def merged(self, other: ModelSet) -> ModelSet:
        """This model set and ``other`` together (``other`` wins on a DTMI in both), e.g. for a registry."""
        return ModelSet({**self.interfaces, **other.interfaces}, {**self.elements, **other.elements})

    def is_a(self, dtmi: str, ancestor: str) -> bool:
        """Whether Interface ``dtmi`` is ``ancestor`` or extends it (transitively)."""
        iface = self.interfaces.get(dtmi)
        return iface is not None and (dtmi == ancestor or ancestor in iface.ancestors)
