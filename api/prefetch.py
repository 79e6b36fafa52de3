"""Load a page's telemetry before its twins are resolved, so their fields complete at once.

``latest`` and ``telemetry`` of a list of twins batch through DataLoaders, but resolved one
twin at a time each is still a coroutine, a future and two asyncio tasks in graphql-core:
about 30 µs, 3 ms of the 50-room query. :func:`prefetch` reads the selection of the page's
``nodes``, makes the same ``load`` calls the fields will make, for every twin at once, and
waits for them; the fields then find their answers loaded (``api.types.then``).

Nothing else changes: the loads are the ones the fields make (same keys, so the same
batches and backend calls), and whatever the fields would refuse (a caller without
``READ``, an unknown telemetry name, a bad window, an argument set to null, a field under
``@skip``) is not prefetched but left to the field, which reports it at its own path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from api.context import RequestContext
from api.types import Ctx, TwinNode, context


async def prefetch(info: Ctx, twins: Sequence[TwinNode]) -> None:
    """Load what the ``latest`` and ``telemetry`` fields selected on ``twins`` will ask for.

    ``info`` is the resolver's of the field answering ``twins``; its selection is theirs.
    """
    try:
        ctx = context(info)
    except Exception:  # the fields raise it again, each at its own path
        return
    loads: list[Any] = []
    selected = [inner for nodes in info.selected_fields for inner in nodes.selections]
    for field in _telemetry_fields(selected):
        arguments = field.arguments
        if any(value is None for value in arguments.values()):
            continue  # null for a defaulted argument: the field decides what that means
        loads += [load for twin in twins if (load := _load(ctx, field, twin)) is not None]
    if loads:
        # A failed load fails its fields when they read it, as it would have.
        await asyncio.gather(*loads, return_exceptions=True)


def _load(ctx: RequestContext, field: SelectedField, twin: TwinNode) -> Awaitable[Any] | None:
    """The load ``field`` of ``twin`` makes; None when the field would refuse its arguments."""
    try:
        if field.name == "latest":
            return ctx.loaders.latest.load(twin.latest_key(ctx, **field.arguments))
        return ctx.loaders.series.load(twin.series_key(ctx, **field.arguments))
    except Exception:  # the field raises it again, at its own path
        return None


def _telemetry_fields(selections: Sequence[Selection]) -> Iterator[SelectedField]:
    """The ``latest`` and ``telemetry`` fields selected on the twins, fragments spread in."""
    for selection in selections:
        if _skipped(selection.directives):
            continue
        if isinstance(selection, SelectedField) and selection.name in ("latest", "telemetry"):
            yield selection
        elif isinstance(selection, InlineFragment | FragmentSpread):
            yield from _telemetry_fields(selection.selections)


def _skipped(directives: dict[str, dict[str, Any]]) -> bool:
    """Whether ``@skip`` or ``@include`` leave the selection out (graphql-core decides the same)."""
    return directives.get("skip", {}).get("if") is True or directives.get("include", {}).get("if") is False
