"""The GraphQL fast path: graphql-core's executor, with a short path for plain values.

Everything here exists for speed and depends on internals of Strawberry and graphql-core,
so it lives in this one module, behind :func:`fast_field` and :class:`FastExecutor`, and
works only with the library versions it was tested with (:data:`TESTED`, pinned in
pyproject.toml): any other version stops the import with :class:`UnsupportedLibraries`
rather than answering differently. ``tests/api/test_execution.py`` holds it to answering
exactly what the stock executor answers.

A list of 50 rooms with their temperature in 5-minute windows is some 1,500 fields, most
of them the ``time`` or ``value`` of one of 650 points. graphql-core spends about 10 µs on
each field (a path, a resolve-info object, argument coercion, the resolver, three levels
of ``complete_value``) and as much again on each point. Three short cuts:

- **Plain leaves.** A field Strawberry resolves by attribute (no resolver, permission,
  extension or argument) whose type is a scalar or an enum is one attribute read and the
  scalar's serialisation; an object whose selected fields are all such is a dict of them.
- **Fast fields.** A resolver declared with :func:`fast_field` (``latest`` and
  ``telemetry`` of a twin, asked once per twin of a list) is called by the executor itself,
  its arguments coerced once per request instead of once per twin and through five fewer
  layers; one that takes nothing but ``self`` is read like an attribute. An ``async``
  one is run at once, by hand, and completes without a task when what it awaits is ready.
- **Lists batch their fast fields.** Before the items of a list of objects are completed,
  the ``async`` fast fields selected on them are started for every item, so their
  DataLoader loads batch, and awaited once; the items then complete at once instead of as
  a coroutine, a future and two tasks each (about 30 µs a twin).
- **Compiled queries.** A query of ``twin(id)`` and ``twins(...)`` roots whose selections
  this package knows is planned before anything runs (``_plan.py``) into one projected
  read per root (``graph.projection``: one Cypher statement bringing only the fields
  asked, neighbours one hop away included), and its answer is built from those reads
  without resolvers (``_compiled.py``); ``latest`` and ``telemetry`` still load through
  the request's DataLoaders, one batched read per kind. A floor and its 100 rooms was
  three statements returning every room's whole node; it is one returning the fields asked.
  A query that does not compile, or meets an error, is answered whole by the resolvers.

Anything out of the ordinary takes graphql-core's own path, from the start of the field,
object or list, so errors keep their message, path and ``extensions`` and nothing is
answered differently: a null for a non-null field, a value the scalar refuses, an
attribute missing, an exception or an awaitable as a value, an object type with an
``is_type_of`` check, ``@defer`` or ``@stream``, resolver middleware (a schema extension
with a ``resolve`` hook). Attribute reads have no side effect, so doing one twice is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any

import strawberry

TESTED = {"strawberry-graphql": "0.341", "graphql-core": "3.3"}
"""The ``major.minor`` of each library the fast path was tested with (pyproject.toml pins them)."""


class UnsupportedLibraries(ImportError):
    """Raised on import when Strawberry or graphql-core is not the tested version.

    The fast path reaches into both libraries' internals; rather than risk answering a
    query differently, kgtwin refuses to start until the tested versions are installed
    (or the fast path is checked against the new ones and :data:`TESTED` updated).
    """


def check_versions(version_of: Callable[[str], str] = metadata.version) -> None:
    """Raise :class:`UnsupportedLibraries` unless each library's ``major.minor`` is the tested one."""
    wrong = {
        name: found for name in TESTED if ".".join((found := version_of(name)).split(".")[:2]) != TESTED[name]
    }
    if wrong:
        listed = ", ".join(f"{name} {found} (tested: {TESTED[name]}.x)" for name, found in wrong.items())
        raise UnsupportedLibraries(
            f"kgtwin's GraphQL fast path (api/fastpath) depends on internals of {listed}; "
            "install the versions pyproject.toml pins"
        )


# Before anything reaches into the libraries: an untested version stops here, with the reason.
check_versions()

from api.fastpath._executor import FastExecutor  # noqa: E402
from api.fastpath._fields import FAST  # noqa: E402
from api.fastpath._validation import prepare, prepared, prevalidate, query_caches  # noqa: E402


def fast_field(**options: Any) -> Any:
    """``strawberry.field(**options)``, for a resolver the executor may call itself.

    The promise a fast field makes: its arguments are built-in scalars (which Strawberry
    hands over unchanged); it reads nothing of ``info`` but the context; it has no side
    effect beyond DataLoader loads (which a second call finds cached) and sets no context
    variable; it has no permission class or field extension. The executor checks all it
    can and otherwise lets Strawberry call it as usual.
    """
    options["metadata"] = {**(options.get("metadata") or {}), FAST: True}
    return strawberry.field(**options)


__all__ = [
    "TESTED",
    "FastExecutor",
    "UnsupportedLibraries",
    "check_versions",
    "fast_field",
    "prepare",
    "prepared",
    "prevalidate",
    "query_caches",
]
