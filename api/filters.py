"""The GraphQL inputs of a twin search: ``TwinFilter`` and ``TwinOrder``, and the ``graph.Filter`` they mean.

Kept apart from the ``Query`` root so that every reader of ``twins`` arguments (the
resolver, ``api.fastpath``'s compiled reads) turns them into the same filter.
"""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from strawberry.scalars import JSON

from graph import AllOf, AnyOf, Condition, Filter
from ontology.errors import BadRequest

_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in_", "contains")


@strawberry.input(description="Conditions on twin properties; every condition given must hold.")
class TwinFilter:
    property: str | None = strawberry.field(
        default=None,
        description="A DTDL property path (flow, location.lat) or id, model, createdAt, updatedAt.",
    )
    eq: JSON | None = None
    ne: JSON | None = None
    gt: JSON | None = None
    gte: JSON | None = None
    lt: JSON | None = None
    lte: JSON | None = None
    in_: list[JSON] | None = strawberry.field(default=None, name="in")
    contains: JSON | None = strawberry.field(
        default=None, description="A string property contains it; an array property has it."
    )
    and_: list[TwinFilter] | None = strawberry.field(
        default=None, name="and", description="Every filter holds."
    )
    or_: list[TwinFilter] | None = strawberry.field(default=None, name="or", description="One filter holds.")


@strawberry.input(description="How twins are sorted: a scalar property path, then id.")
class TwinOrder:
    property: str = "id"
    descending: bool = False


def to_filter(where: TwinFilter) -> Filter:
    """The ``graph.Filter`` a GraphQL ``TwinFilter`` means: its conditions and groups, all holding."""
    parts: list[Filter] = []
    ops = {op.rstrip("_"): getattr(where, op) for op in _OPERATORS if getattr(where, op) is not None}
    if ops and where.property is None:
        raise BadRequest(f"a filter with {', '.join(ops)} needs a property", details={"operators": list(ops)})
    if where.property is not None and not ops:
        raise BadRequest(
            f"the filter on {where.property!r} names no operator (eq, ne, gt, gte, lt, lte, in, contains)",
            details={"property": where.property},
        )
    parts += [Condition(str(where.property), op, value) for op, value in ops.items()]
    if where.and_ is not None:
        parts.append(AllOf(tuple(to_filter(f) for f in _non_empty(where.and_, "and"))))
    if where.or_ is not None:
        parts.append(AnyOf(tuple(to_filter(f) for f in _non_empty(where.or_, "or"))))
    if not parts:
        raise BadRequest("an empty filter: give a property and an operator, or and/or")
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _non_empty(filters: Sequence[TwinFilter], name: str) -> Sequence[TwinFilter]:
    if not filters:
        raise BadRequest(f"{name} needs at least one filter")
    return filters
