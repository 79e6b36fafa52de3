"""GraphQL errors: kgtwin's stable codes in ``extensions.code``, never a traceback.

Resolvers raise kgtwin's own errors (``ontology.errors``) and nothing else on purpose.
This module is the one place that turns an error of a GraphQL response into what a
client sees: a ``KgtwinError`` keeps its message and gains ``extensions.code`` and
``extensions.details`` (for ``VALIDATION_FAILED`` the ontology's list of issues is in
``details.errors``); a GraphQL syntax or validation error (unknown field, wrong argument
type) is ``BAD_REQUEST``; anything else is logged with its traceback and reaches the
client as a generic ``INTERNAL`` message, so no driver or Python detail leaks out.
"""

from __future__ import annotations

from typing import Any

import strawberry
import structlog
from graphql import GraphQLError
from pydantic import ValidationError
from strawberry.types import ExecutionContext

from ontology.errors import BadRequest, ErrorCode, KgtwinError

INTERNAL = "INTERNAL"
INTERNAL_MESSAGE = "an unexpected error occurred; it has been logged"

_log = structlog.get_logger("api.graphql")


def classify(error: GraphQLError) -> None:
    """Give ``error`` its ``extensions.code`` (and details), in place; hide unexpected causes."""
    original = error.original_error
    # graphql-core wraps a resolver's exception once more for each list or field it crossed.
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, ValidationError):
        # Pydantic models at the edge (SubgraphSpec): a malformed argument, named by its field.
        original = BadRequest(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in original.errors()),
            details={"errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in original.errors()]},
        )
    if isinstance(original, KgtwinError):
        error.message = original.message
        error.extensions = {"code": str(original.code), "details": _json_safe(original.details)}
    elif original is None or isinstance(original, GraphQLError):
        # Raised by graphql-core itself: syntax, unknown field, argument of the wrong type.
        error.extensions = {"code": str(ErrorCode.BAD_REQUEST), **(error.extensions or {})}
    else:
        _log.error(
            "graphql.resolver_failed",
            path=error.path,
            error=repr(original),
            exc_info=(type(original), original, original.__traceback__),
        )
        error.message = INTERNAL_MESSAGE
        error.extensions = {"code": INTERNAL}
        error.original_error = None
        error.__cause__ = None


def _json_safe(value: Any) -> Any:
    """Details as JSON: tuples become lists, anything unknown its string."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class KgtwinSchema(strawberry.Schema):
    """The Strawberry schema whose errors carry kgtwin's codes (queries, mutations and subscriptions).

    ``process_errors`` sees every error of every result before it is serialised, on every
    transport, so classifying there covers HTTP and websockets alike.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            classify(error)
            if error.extensions and error.extensions.get("code") != INTERNAL:
                _log.info("graphql.error", code=error.extensions.get("code"), message=error.message)
