"""The fast path (``api.fastpath``) answers exactly what graphql-core's executor answers.

Each query runs on two schemas of the same types, one with graphql-core's executor and
one with :class:`~api.fastpath.FastExecutor`, and the whole results are compared:
data, errors with their messages, paths and locations. The cases are the ones the short
path must hand back to graphql-core: nulls, values a scalar refuses, missing attributes,
``is_type_of`` checks, permissions, resolver middleware, awaitables; and, for resolvers
declared with ``fast_field``, arguments (literal, defaulted, variables), errors they
raise, awaitables they return, ``async`` ones that finish at once or wait, alone or started
ahead for every item of a list. And the fast path refuses library versions it was not
tested with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from importlib import metadata
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import fastpath
from api.fastpath import FastExecutor, UnsupportedLibraries, check_versions, fast_field

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@strawberry.enum
class Level(Enum):
    LOW = "low"
    HIGH = "high"


@strawberry.type
class Point:
    time: datetime
    value: strawberry.scalars.JSON
    count: int | None = None
    level: Level = Level.LOW


@dataclass
class Loose:
    """Not a ``Point``: what a resolver may hand over instead (attributes read by name)."""

    time: Any
    value: Any
    count: Any = None
    level: Any = Level.LOW


class Never(BasePermission):
    message = "nobody may read this"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Sensor(Named):
    unit: str


@strawberry.type
class Guarded:
    open: str
    secret: str = strawberry.field(permission_classes=[Never])


@strawberry.type
class Series:
    label: str

    @fast_field()
    def window(
        self, info: strawberry.Info, name: str, every: str = "5m", stop: str | None = None
    ) -> list[Point]:
        if name == "bad":
            raise ValueError(f"{self.label} has no series named bad")
        assert info.context is not None
        return [Point(time=T0, value=f"{self.label}/{name}/{every}/{stop}")]

    @fast_field(graphql_type=list[Point])
    def awaited(self, name: str) -> Awaitable[list[Point]]:
        async def later() -> list[Point]:
            await asyncio.sleep(0)
            if name == "bad":
                raise ValueError("no series named bad")
            return [Point(time=T0, value=name)]

        return later()

    @fast_field(permission_classes=[Never])
    def guarded(self, name: str) -> list[Point]:
        return [Point(time=T0, value=name)]

    @fast_field()
    def by_level(self, level: Level) -> str:
        return f"{self.label}:{level.value}"

    @fast_field()
    def shout(self) -> str:
        return self.label.upper()

    @fast_field()
    def fragile(self) -> int | None:
        if self.label == "b":
            raise ValueError("b is fragile")
        return None

    @fast_field()
    async def loaded(self, info: strawberry.Info, name: str, wait: bool = False) -> list[Point]:
        """An ``async`` fast field: done at once, or after waiting on a future (as a DataLoader's)."""
        if wait:
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(future.set_result, name)
            name = await future
        if name == "bad":
            raise ValueError(f"{self.label} has no series named bad")
        assert info.context is not None
        return [Point(time=T0, value=f"{self.label}/{name}")]

    @fast_field()
    async def slept(self, name: str) -> str:
        """An ``async`` fast field that waits on a bare loop turn, then on nothing."""
        await asyncio.sleep(0)
        if name == "bad":
            raise ValueError("no such name")
        return f"{self.label}:{name}"


def _points() -> list[Any]:
    return [
        Point(time=T0, value=20.5, count=1, level=Level.HIGH),
        Point(time=T0 + timedelta(minutes=5), value={"a": [1, 2]}),
        Point(time=T0.astimezone(timezone(timedelta(hours=1))), value=None),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def points(self) -> list[Point]:
        return _points()

    @strawberry.field
    def maybe_points(self) -> list[Point | None]:
        return [_points()[0], None]

    @strawberry.field
    def points_with_a_null(self) -> list[Point]:
        return [_points()[0], None]  # type: ignore[list-item]

    @strawberry.field
    def loose(self) -> list[Point]:
        return [Loose(T0, 1), Loose(None, 2), Loose(T0, 3, count="three"), Loose(T0, 4, level="?")]  # type: ignore[list-item]

    @strawberry.field
    def missing(self) -> list[Point]:
        return [object()]  # type: ignore[list-item]

    @strawberry.field
    def one(self) -> Point:
        return _points()[0]

    @strawberry.field
    def broken(self) -> Point:
        return Loose(None, 1)  # type: ignore[return-value]

    @strawberry.field
    def sensors(self) -> list[Named]:
        return [Sensor(name="t1", unit="°C")]

    @strawberry.field
    def guarded(self) -> list[Guarded]:
        return [Guarded(open="yes", secret="no")]

    @strawberry.field
    async def later(self) -> list[Point]:
        await asyncio.sleep(0)
        return _points()

    @strawberry.field
    def series(self) -> list[Series]:
        return [Series(label="a"), Series(label="b")]

    @strawberry.field
    def first_series(self) -> Series:
        return Series(label="a")


def _run(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = asyncio.run(schema.execute(query, variable_values=variables, context_value={}))
    return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}


def _schemas(**kwargs: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, types=[Sensor], **kwargs)
    short = strawberry.Schema(query=Query, types=[Sensor], execution_context_class=FastExecutor, **kwargs)
    return plain, short


QUERIES = {
    "list of plain objects": "{ points { time value count level } }",
    "aliases and typename": "{ points { t: time v: value __typename } }",
    "a fragment": "fragment P on Point { time value } { points { ...P count } }",
    "skip and include": "query($s: Boolean!) { points { time @skip(if: $s) value @include(if: $s) } }",
    "a nullable list item": "{ maybePoints { time value } }",
    "a null where an object must be": "{ pointsWithANull { time } }",
    "a null and a refused value in fields": "{ loose { time value count level } }",
    "a missing attribute": "{ missing { time } }",
    "a single object": "{ one { time value } }",
    "a null in a single object": "{ broken { time value } }",
    "an interface": "{ sensors { name ... on Sensor { unit } } }",
    "a field behind a permission": "{ guarded { open secret } }",
    "an awaited list": "{ later { time value } }",
    "direct resolvers": '{ series { label a: window(name: "x") { value } '
    'b: window(name: "y", every: "1h") { value } } }',
    "a direct resolver raising": '{ series { window(name: "bad") { value } label } }',
    "a direct resolver's awaitable": '{ series { awaited(name: "x") { value } } }',
    "a direct resolver's awaitable raising": '{ series { awaited(name: "bad") { value } } }',
    "a direct field behind a permission": '{ series { guarded(name: "x") { value } } }',
    "a direct field with an enum argument": "{ series { byLevel(level: HIGH) } }",
    "a direct field with an argument refused": '{ series { window(name: "x", every: null) { value } } }',
    "direct fields read like attributes": "{ series { label shout } }",
    "a direct field read like an attribute raising": "{ series { label fragile } }",
    "async fast fields done at once": '{ series { label loaded(name: "x") { time value } } }',
    "async fast fields that wait": '{ series { a: loaded(name: "x", wait: true) { value } '
    'b: loaded(name: "y") { value } } }',
    "async fast fields raising": '{ series { label loaded(name: "bad", wait: true) { value } '
    'ok: loaded(name: "z") { value } } }',
    "async fast fields on a bare loop turn": '{ series { slept(name: "x") bad: slept(name: "bad") } }',
    "an async fast field under skip": '{ series { label loaded(name: "x") @skip(if: true) { value } } }',
    "async fast fields of one object": '{ firstSeries { loaded(name: "x", wait: true) { value } '
    'bad: loaded(name: "bad") { value } } }',
}

VARIABLES = {
    "query($n: String!, $e: String) { series { window(name: $n, every: $e) { value } } }": [
        {"n": "x", "e": "1m"},
        {"n": "x"},
        {"n": "bad", "e": None},
    ],
}


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_the_short_path_answers_what_graphql_core_answers(query: str) -> None:
    plain, short = _schemas()
    for variables in ({"s": True}, {"s": False}) if "$s" in query else (None,):
        assert _run(short, query, variables) == _run(plain, query, variables)


@pytest.mark.parametrize("query", VARIABLES)
def test_direct_resolvers_read_variables_as_graphql_core_does(query: str) -> None:
    plain, short = _schemas()
    for variables in VARIABLES[query]:
        assert _run(short, query, variables) == _run(plain, query, variables)


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the fields graphql-core's own ``execute_field`` runs, in order."""
    names: list[str] = []
    base = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, source: Any, fields: Any, *args: Any) -> Any:
        names.append(fields[0].node.name.value)
        return base(self, parent_type, source, fields, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    return names


def test_direct_resolvers_skip_graphql_cores_field_execution(executed: list[str]) -> None:
    _, short = _schemas()
    answer = _run(short, '{ series { window(name: "x") { value } shout byLevel(level: LOW) } }')
    assert answer["errors"] == []
    assert [s["window"][0]["value"] for s in answer["data"]["series"]] == ["a/x/5m/None", "b/x/5m/None"]
    assert [s["shout"] for s in answer["data"]["series"]] == ["A", "B"]
    # ``series`` and the enum-argument field (Strawberry converts enums) take graphql-core's path.
    assert executed == ["series", "byLevel", "byLevel"]


def test_instants_with_other_offsets_keep_their_own_strings() -> None:
    _, short = _schemas()
    times = [p["time"] for p in _run(short, "{ points { time } }")["data"]["points"]]
    assert times == [
        "2026-11-25T06:00:00+00:00",
        "2026-11-25T06:05:00+00:00",
        "2026-11-25T07:00:00+01:00",  # the same instant as the first one
    ]


def test_a_resolve_hook_of_an_extension_sees_every_field() -> None:
    seen: list[str] = []

    class Spy(SchemaExtension):
        def resolve(self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    plain, short = _schemas(extensions=[Spy])
    expected = _run(plain, "{ points { time value } }")
    plain_seen, seen[:] = list(seen), []
    assert _run(short, "{ points { time value } }") == expected
    assert seen == plain_seen


def test_plain_objects_are_completed_without_graphql_cores_field_execution(executed: list[str]) -> None:
    _, short = _schemas()
    assert _run(short, "{ maybePoints { time value count level } one { time } }")["errors"] == []
    assert executed == ["maybePoints", "one"]


def test_async_fast_fields_of_a_list_are_started_ahead_and_skip_graphql_cores_field_execution(
    executed: list[str],
) -> None:
    _, short = _schemas()
    answer = _run(short, '{ series { loaded(name: "x", wait: true) { value } } }')
    assert answer["errors"] == []
    assert [s["loaded"][0]["value"] for s in answer["data"]["series"]] == ["a/x", "b/x"]
    assert executed == ["series"]


def test_the_tested_library_versions_are_the_installed_ones() -> None:
    check_versions()  # the import did it too: this is the installed pair
    for name, minor in fastpath.TESTED.items():
        installed = metadata.version(name)
        assert installed.startswith(minor + "."), (name, installed)


@pytest.mark.parametrize(
    ("library", "version"),
    [("strawberry-graphql", "0.342.0"), ("graphql-core", "3.4.0"), ("graphql-core", "3.2.6")],
)
def test_an_untested_library_version_stops_the_fast_path_with_the_reason(library: str, version: str) -> None:
    def installed(name: str) -> str:
        return version if name == library else metadata.version(name)

    with pytest.raises(UnsupportedLibraries, match=f"{library} {version} \\(tested: "):
        check_versions(installed)
