"""Planning a query's graph part: its selections as projected reads and how to complete their answers.

Private to ``api.fastpath`` (``_compiled.py`` says when a query is compiled and why). A
plan reads a twin type's selection field by field, through graphql-core's own field
collection (fragments, aliases, ``@skip``/``@include``) and argument coercion, then
Strawberry's argument conversion, so it sees what the resolvers would see. Each field it
knows becomes part of a ``graph.projection.TwinFields`` (what the read brings) and a
completer (how the answer's value is made from what was read, as the resolver and
graphql-core would make it). A field it does not know, or a value it cannot complete
exactly, raises :class:`NotCompiled`, and the plain path answers the whole request.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from strawberry import UNSET
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from api.context import RequestContext
from api.fastpath._fields import ISOFORMAT
from api.loaders import latest_key, series_key
from graph import Direction
from graph.projection import Neighbours, Relationships, TwinFields, TwinView, stored_key
from graph.store import GraphStore
from ontology.model import ModelSet

if TYPE_CHECKING:
    from api.fastpath._executor import FastExecutor

Completer = Callable[[Any, "Answer"], Any]
"""Completes one field of a value read: the source, the request's answer in progress."""
Selection = list[tuple[str, Completer]]
"""An object's selection: response key and completer, in the order graphql-core answers them."""


class NotCompiled(Exception):
    """The request, or a value met while answering it, is not one the compiled path answers exactly."""


class Later:
    """A value a DataLoader gives once the whole answer is built (a twin's ``latest`` or ``telemetry``)."""

    __slots__ = ("finish", "key", "loader", "row", "slot")

    def __init__(self, loader: Any, key: Any, finish: Callable[[Any], Any]) -> None:
        self.loader, self.key, self.finish = loader, key, finish
        self.row: dict[str, Any] = {}
        self.slot = ""


class Answer:
    """One compiled request being answered: its context and the loads left for its ``Later`` values."""

    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx
        self.later: list[Later] = []

    def load(self, loader: Any, key: Any, finish: Callable[[Any], Any]) -> Later:
        found = Later(loader, key, finish)
        self.later.append(found)
        return found

    async def settle(self) -> None:
        """Load every ``Later`` value, one ``load_many`` per loader (so the loaders batch), and place it."""
        by_loader: dict[int, list[Later]] = {}
        for later in self.later:
            by_loader.setdefault(id(later.loader), []).append(later)
        for waiting in by_loader.values():
            values = await waiting[0].loader.load_many([later.key for later in waiting])
            for later, value in zip(waiting, values, strict=True):
                later.row[later.slot] = later.finish(value)


def complete_object(source: Any, selection: Selection, answer: Answer) -> dict[str, Any]:
    """The answer's object for ``source``: each selected field's value, in selection order."""
    row: dict[str, Any] = {}
    for key, complete in selection:
        value = complete(source, answer)
        if value.__class__ is Later:
            value.row, value.slot = row, key
        row[key] = value
    return row


class Planner:
    """Plans one operation's twin reads, on the executor that runs it."""

    def __init__(self, executor: FastExecutor, ctx: RequestContext, graph: GraphStore, models: ModelSet):
        self.executor = executor
        self.ctx = ctx
        self.graph = graph
        self.models = models
        self.exact_floats = graph.capabilities.exact_floats
        strawberry_schema = executor.schema._strawberry_schema  # type: ignore[attr-defined]
        self._config = strawberry_schema.config
        self._scalars = strawberry_schema.schema_converter.scalar_registry

    # -- selections and arguments ------------------------------------------------------------

    def fields(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> list[tuple[str, str, GraphQLField | None, FieldDetailsList]]:
        """The fields selected on ``object_type``: response key, name, definition, details."""
        collected = self.executor.collect_subfields(object_type, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise NotCompiled("@defer or @stream")
        found = []
        for key, field_details in collected.grouped_field_set.items():
            if any(d.defer_usage is not None or d.fragment_variable_values for d in field_details):
                raise NotCompiled("@defer or fragment arguments")
            name = field_details[0].node.name.value
            found.append((key, name, object_type.fields.get(name), field_details))
        return found

    def arguments(self, field: GraphQLField | None, details: FieldDetailsList) -> dict[str, Any]:
        """The resolver's keyword arguments, as Strawberry would hand them over (defaults included)."""
        definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
        if field is None or not isinstance(definition, StrawberryField):
            raise NotCompiled("not a Strawberry field")
        coerced = get_argument_values(field, details[0].node, self.executor.variable_values)
        kwargs = convert_arguments(coerced, definition.arguments, self._scalars, self._config)
        for argument in definition.arguments:
            if argument.python_name not in kwargs and argument.default is not UNSET:
                kwargs[argument.python_name] = argument.default
        return kwargs

    def leaf(self, read: Callable[[Any], Any], field: GraphQLField | None) -> Completer:
        """A scalar (or a list of scalars) read by ``read``, completed as graphql-core completes it."""
        if field is None:
            raise NotCompiled("unknown field")
        return _leaf(read, field.type, self.executor)

    def leaves(
        self, object_type: Any, details: FieldDetailsList, readers: dict[str, Callable[[Any], Any]]
    ) -> Selection:
        """An object whose selected fields are all scalars read by ``readers``, by field name."""
        object_type = get_nullable_type(object_type)
        while isinstance(object_type, GraphQLList):
            object_type = get_nullable_type(object_type.of_type)
        if not isinstance(object_type, GraphQLObjectType):
            raise NotCompiled("not an object type")
        selection: Selection = []
        for key, name, field, _ in self.fields(object_type, details):
            if name == "__typename":
                selection.append((key, constant(object_type.name)))
            elif name in readers:
                selection.append((key, self.leaf(readers[name], field)))
            else:
                raise NotCompiled(f"{object_type.name}.{name}")
        return selection

    # -- twins ---------------------------------------------------------------------------------

    def twin(
        self, twin_type: Any, details: FieldDetailsList, wanted: FieldsWanted, on_node: bool
    ) -> Selection:
        """A ``Twin`` selection; ``wanted`` gathers what the read must bring for it.

        ``on_node``: the read brings the last telemetry values on the node (``twin(id)`` and
        pages do; neighbours, read by a walk in the plain path, do not).
        """
        twin_type = object_type(twin_type)
        selection: Selection = []
        for key, name, field, field_details in self.fields(twin_type, details):
            if name == "__typename":
                selection.append((key, constant(twin_type.name)))
                continue
            make = _TWIN.get(name)
            if make is None or field is None:
                raise NotCompiled(f"Twin.{name}")
            selection.append((key, make(self, field, field_details, wanted, on_node)))
        return selection


class FieldsWanted:
    """What the twins of one selection need read, gathered while planning (``TwinFields``, unfrozen)."""

    def __init__(self) -> None:
        self.system: set[str] = set()
        self.document = False
        self.stored: dict[str, None] = {}
        self.telemetry = False
        self.latest: dict[str, None] = {}
        self.relationships: dict[Relationships, None] = {}
        self.neighbours: dict[Neighbours, None] = {}

    def frozen(self) -> TwinFields:
        return TwinFields(
            model="model" in self.system,
            etag="etag" in self.system,
            created_at="createdAt" in self.system,
            updated_at="updatedAt" in self.system,
            document=self.document,
            stored=tuple(self.stored),
            telemetry=self.telemetry,
            latest=tuple(self.latest),
            relationships=tuple(self.relationships),
            neighbours=tuple(self.neighbours),
        )


_SYSTEM_READERS: dict[str, Callable[[TwinView], Any]] = {
    "id": attrgetter("id"),
    "etag": attrgetter("etag"),
    # ``TwinNode``: null for twins without times (those of a subgraph)
    "createdAt": lambda view: view.created_at or None,
    "updatedAt": lambda view: view.updated_at or None,
}


def _id(planner: Planner, field: GraphQLField, _d: FieldDetailsList, _w: FieldsWanted, _n: bool) -> Completer:
    return planner.leaf(_SYSTEM_READERS["id"], field)


def _system(name: str) -> Callable[[Planner, GraphQLField, FieldDetailsList, FieldsWanted, bool], Completer]:
    def make(
        planner: Planner, field: GraphQLField, _d: FieldDetailsList, wanted: FieldsWanted, _n: bool
    ) -> Completer:
        wanted.system.add(name)
        return planner.leaf(_SYSTEM_READERS[name], field)

    return make


def _model(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    wanted.system.add("model")
    selection = planner.leaves(field.type, details, {"id": lambda dtmi: dtmi})
    return lambda view, answer: complete_object(view.model, selection, answer)


def _properties(
    planner: Planner, field: GraphQLField, _d: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    wanted.document = True
    return planner.leaf(attrgetter("properties"), field)


def _property(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    name: str = planner.arguments(field, details)["name"]
    key = stored_key(planner.models, name, exact_floats=planner.exact_floats)
    if key is not None:
        wanted.stored[key] = None
        return planner.leaf(lambda view: view.stored[key], field)
    wanted.document = True
    path = name.split(".")
    return planner.leaf(lambda view: _at(view.properties, path), field)


def _at(document: Any, path: list[str]) -> Any:
    """``TwinNode.property``: the value at ``path``, None where a segment is missing."""
    value = document
    for segment in path:
        if not isinstance(value, dict) or segment not in value:
            return None
        value = value[segment]
    return value


_RELATIONSHIP_READERS: dict[str, Callable[[Any], Any]] = {
    name: attrgetter(name) for name in ("id", "name", "source", "target", "properties")
}


def _relationships(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    kwargs = planner.arguments(field, details)
    selection = planner.leaves(field.type, details, _RELATIONSHIP_READERS)
    properties = any(
        name == "properties" for _, name, _, _ in planner.fields(object_type(field.type), details)
    )
    read = Relationships(kwargs["name"], Direction(kwargs["direction"].value), properties)
    wanted.relationships[read] = None
    return lambda view, answer: [complete_object(rel, selection, answer) for rel in view.relationships[read]]


def _neighbours(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    kwargs = planner.arguments(field, details)
    if kwargs["depth"] != 1:
        raise NotCompiled("neighbours further than one hop are walked")
    inner = FieldsWanted()
    selection = planner.twin(field.type, details, inner, on_node=False)
    read = Neighbours(kwargs["relationship"] or None, Direction(kwargs["direction"].value), inner.frozen())
    wanted.neighbours[read] = None
    return lambda view, answer: [complete_object(twin, selection, answer) for twin in view.neighbours[read]]


_REFERENCE_READERS: dict[str, Callable[[Any], Any]] = {
    "bucket": attrgetter("bucket"),
    "measurement": attrgetter("measurement"),
    "tags": lambda ref: dict(ref.tags),
    "fields": lambda ref: list(ref.fields),
}


def _reference(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    wanted.telemetry = True
    selection = planner.leaves(field.type, details, _REFERENCE_READERS)
    return lambda view, answer: complete_object(view.telemetry, selection, answer)


_LATEST_READERS: dict[str, Callable[[Any], Any]] = {
    "name": lambda pair: pair[0],
    "value": lambda pair: pair[1].value,
    "time": lambda pair: pair[1].time,
}


def _latest(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, on_node: bool
) -> Completer:
    name: str = planner.arguments(field, details)["name"]
    selection = planner.leaves(field.type, details, _LATEST_READERS)
    wanted.telemetry = True
    if on_node:
        wanted.latest[name] = None
    loader = planner.ctx.loaders.latest

    def complete(view: TwinView, answer: Answer) -> Later:
        assert view.telemetry is not None
        key = latest_key(view.id, view.telemetry, view.latest.get(name), name)
        return answer.load(
            loader,
            key,
            lambda sample: None if sample is None else complete_object((name, sample), selection, answer),
        )

    return complete


_POINT_READERS: dict[str, Callable[[Any], Any]] = {"time": attrgetter("time"), "value": attrgetter("value")}


def _telemetry(
    planner: Planner, field: GraphQLField, details: FieldDetailsList, wanted: FieldsWanted, _n: bool
) -> Completer:
    kwargs = planner.arguments(field, details)
    selection = planner.leaves(field.type, details, _POINT_READERS)
    wanted.telemetry = True
    ctx, loader = planner.ctx, planner.ctx.loaders.series
    name, start, stop, every, fn = (kwargs[k] for k in ("name", "start", "stop", "every", "fn"))
    ctx.window(start, stop, every, fn)  # a bad window is the resolvers' error to report, not the read's

    def complete(view: TwinView, answer: Answer) -> Later:
        assert view.telemetry is not None
        key = series_key(ctx, view.id, view.telemetry, name, start, stop, every, fn)
        return answer.load(
            loader, key, lambda samples: [complete_object(s, selection, answer) for s in samples]
        )

    return complete


_TWIN: dict[str, Callable[[Planner, GraphQLField, FieldDetailsList, FieldsWanted, bool], Completer]] = {
    "id": _id,
    "etag": _system("etag"),
    "createdAt": _system("createdAt"),
    "updatedAt": _system("updatedAt"),
    "model": _model,
    "properties": _properties,
    "property": _property,
    "relationships": _relationships,
    "neighbors": _neighbours,
    "telemetryRef": _reference,
    "latest": _latest,
    "telemetry": _telemetry,
}


# -- leaves -------------------------------------------------------------------------------------


def object_type(field_type: GraphQLOutputType) -> GraphQLObjectType:
    found: Any = get_nullable_type(field_type)
    while isinstance(found, GraphQLList):
        found = get_nullable_type(found.of_type)
    if not isinstance(found, GraphQLObjectType):
        raise NotCompiled("not an object type")
    return found


def constant(value: str) -> Completer:
    return lambda _source, _answer: value


def _leaf(read: Callable[[Any], Any], field_type: GraphQLOutputType, executor: FastExecutor) -> Completer:
    """graphql-core's completion of a scalar field (``complete_value``), or NotCompiled where it errs."""
    non_null = isinstance(field_type, GraphQLNonNull)
    base: Any = get_nullable_type(field_type)
    if isinstance(base, GraphQLList):
        item_non_null = isinstance(base.of_type, GraphQLNonNull)
        item = get_nullable_type(base.of_type)
        if not is_leaf_type(item):
            raise NotCompiled("a list of objects")
        serialize_item = _serializer(item, executor)

        def complete_list(source: Any, _answer: Answer) -> Any:
            values = read(source)
            if values is None:
                if non_null:
                    raise NotCompiled("null for a non-null list")
                return None
            return [_scalar(value, serialize_item, item_non_null) for value in values]

        return complete_list
    if not is_leaf_type(base):
        raise NotCompiled("not a scalar")
    serialize = _serializer(base, executor)
    return lambda source, _answer: _scalar(read(source), serialize, non_null)


def _serializer(leaf_type: Any, executor: FastExecutor) -> Callable[[Any], Any]:
    serialize: Callable[[Any], Any] = leaf_type.coerce_output_value
    # DateTime: the executor's cache of ISO strings (a page's series share a dozen instants).
    return executor.isoformat if serialize is ISOFORMAT else serialize


def _scalar(value: Any, serialize: Callable[[Any], Any], non_null: bool) -> Any:
    if value is None or value is Undefined:
        if non_null:
            raise NotCompiled("null for a non-null field")
        return None
    coerced = serialize(value)
    if coerced is None or coerced is Undefined:
        raise NotCompiled("a value the scalar refuses")
    return coerced
