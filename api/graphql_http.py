"""GraphQL over HTTP, as the GraphQL-over-HTTP specification has it, in front of Strawberry's executor.

- Media types (spec §Accept, §Body): ``application/graphql-response+json`` and
  ``application/json``, chosen from ``Accept`` (q-values honoured; ``*/*`` or no header
  means ``application/json``); an ``Accept`` naming neither is 406.
- With ``application/graphql-response+json``, a request that fails before execution
  (JSON, parameters, syntax, validation, the operation to run, variables) answers 400 and
  carries no ``data`` entry; a result of execution answers 200. With ``application/json``
  a well-formed request answers 200 with ``data: null`` as before, and a malformed one 400.
- ``POST`` takes ``application/json`` (UTF-8) only: a JSON object with ``query`` (a
  string), and optional ``operationName`` (a string), ``variables`` and ``extensions``
  (objects), each of them ``null`` or absent at will. Anything else is 400 (415 for
  another content type), never a 500.
- ``GET`` runs queries only (405 with ``Allow: POST`` for a mutation or subscription);
  ``variables`` and ``extensions`` are JSON text. A browser's ``GET`` without ``query``
  gets GraphiQL. Subscriptions are served over the websocket (graphql-transport-ws).
- Without ``operationName`` a document must hold exactly one operation (GraphQL spec §6.1).

Strawberry's own HTTP view answers parse and validation failures with 200 whatever the
client accepts, 500 for a body that is JSON but not an object, and plain text for JSON it
cannot read; this module replaces it for HTTP and keeps its websocket handling
(``api.app``). Authentication, limits and error codes are unchanged: the middleware of
``api.auth`` runs first, and errors carry ``extensions.code`` (``api.graphql_errors``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from graphql import GraphQLError, OperationType
from starlette.responses import Response
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperation

from api.documents import choose_operation
from api.fastpath import prepare, prepared
from api.graphql_errors import KgtwinSchema
from api.limits import limits_of
from api.media import GRAPHQL_RESPONSE, JSON, negotiate
from api.ui import graphiql_page
from ontology.errors import ErrorCode

_CHARSET = "; charset=utf-8"
_DECODE_IN_THREAD_BYTES = 256 * 1024
_PARAMETERS = ("query", "operationName", "variables", "extensions")
_ALL = frozenset({StrawberryOperation.QUERY, StrawberryOperation.MUTATION})
_QUERIES = frozenset({StrawberryOperation.QUERY})

ContextGetter = Callable[[Request], Awaitable[Any]]


class _RequestError(Exception):
    """A request this module refuses before anything executes: its status and message."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class GraphQLParams:
    """The four parameters of a GraphQL-over-HTTP request, checked."""

    query: str
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None


def _json_object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise _RequestError(400, f"{name} must be a JSON object or null, not {type(value).__name__}")


def params_of(data: Any) -> GraphQLParams:
    """The parameters of a request body or query string already decoded from JSON text."""
    if not isinstance(data, dict):
        kind = (
            "a list (batched requests are not supported)" if isinstance(data, list) else type(data).__name__
        )
        raise _RequestError(400, f"the request must be a JSON object, not {kind}")
    query = data.get("query")
    if query is None:
        raise _RequestError(400, "the request has no query parameter")
    if not isinstance(query, str):
        raise _RequestError(400, f"query must be a string, not {type(query).__name__}")
    name = data.get("operationName")
    if name is not None and not isinstance(name, str):
        raise _RequestError(400, f"operationName must be a string or null, not {type(name).__name__}")
    return GraphQLParams(
        query,
        name,
        _json_object(data.get("variables"), "variables"),
        _json_object(data.get("extensions"), "extensions"),
    )


def _decode(text: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # also too deeply nested (orjson stops at 1024 levels)
        raise _RequestError(400, f"{what} is not valid JSON: {exc}") from None


async def _post_params(request: Request) -> GraphQLParams:
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise _RequestError(415, "a POST needs Content-Type: application/json")
    media, _, params = content_type.partition(";")
    if media.strip().lower() != JSON:
        raise _RequestError(415, f"a POST must be application/json, not {media.strip() or 'empty'}")
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise _RequestError(415, f"the body must be UTF-8, not {value.strip()}")
    body = await request.body()
    if not body.strip():
        raise _RequestError(400, "the request body is empty: send a JSON object with a query")
    if len(body) > _DECODE_IN_THREAD_BYTES:  # megabytes of variables: off the event loop
        return params_of(await asyncio.to_thread(_decode, body, "the request body"))
    return params_of(_decode(body, "the request body"))


def _get_params(request: Request) -> GraphQLParams:
    data: dict[str, Any] = {}
    for name in _PARAMETERS:
        value = request.query_params.get(name)
        if value is None:
            continue
        data[name] = _decode(value, name) if name in ("variables", "extensions") else value
    return params_of(data)


class GraphQLHttp:
    """The ``GET``/``POST`` handler of ``/graphql`` (see the module's docstring)."""

    def __init__(self, schema: KgtwinSchema, context_getter: ContextGetter, *, graphiql: bool = True) -> None:
        self.schema = schema
        self.context_getter = context_getter
        self.graphiql = graphiql

    async def handle(self, request: Request) -> Response:
        if (
            request.method == "GET"
            and self.graphiql
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        ):
            return graphiql_page()  # from this package's files, not a CDN (api.ui)
        media = negotiate(request.headers.get("accept"))
        if media is None:
            return self._refusal(JSON, _RequestError(406, f"the answer is {GRAPHQL_RESPONSE} or {JSON}"))
        try:
            params = await _post_params(request) if request.method == "POST" else _get_params(request)
            context = await self.context_getter(request)
            limits = limits_of(context)
            # Parsing and validating a large document take tens of milliseconds: in a worker
            # thread, so the event loop goes on serving (the executor finds both cached);
            # a text seen before is found at once, without the thread hop.
            document = prepared(self.schema._schema, params.query, limits)
            if document is None:
                document = await asyncio.to_thread(prepare, self.schema._schema, params.query, limits)
            operation = choose_operation(document, params.operation_name)
        except _RequestError as error:
            return self._refusal(media, error)
        except GraphQLError as error:
            self.schema.process_errors([error])  # as the executor does with its own errors
            return self._not_executed(media, [error])
        kind = operation.operation
        if kind != OperationType.QUERY and request.method == "GET":
            message = f"a {kind.value} needs POST; GET runs queries only"
            refused = _RequestError(405, message, {"Allow": "POST"})
            return self._refusal(media, refused)
        if kind == OperationType.SUBSCRIPTION:
            message = "subscriptions are served over the websocket of /graphql (graphql-transport-ws)"
            return self._refusal(media, _RequestError(400, message))
        result = await self.schema.execute(
            params.query,
            variable_values=params.variables,
            context_value=context,
            operation_name=params.operation_name,
            allowed_operation_types=_ALL if request.method == "POST" else _QUERIES,
            operation_extensions=params.extensions,
        )
        if _not_executed(result):
            return self._not_executed(media, result.errors or [])
        return self._answer(media, 200, _body(result))

    def _not_executed(self, media: str, errors: list[GraphQLError]) -> Response:
        """A request error: 400 without ``data`` in the new media type, 200 with ``data: null`` in JSON."""
        formatted = [error.formatted for error in errors]
        if media == GRAPHQL_RESPONSE:
            return self._answer(media, 400, {"errors": formatted})
        return self._answer(media, 200, {"data": None, "errors": formatted})

    def _refusal(self, media: str, error: _RequestError) -> Response:
        body = {"errors": [{"message": error.message, "extensions": {"code": _code(error.status)}}]}
        return self._answer(media, error.status, body, error.headers)

    @staticmethod
    def _answer(
        media: str, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> Response:
        return Response(encode_json(body), status_code=status, media_type=media + _CHARSET, headers=headers)


_STRING = {"type": "string"}
_OBJECT = {"type": "object", "additionalProperties": True}
_ANSWERS = {
    "200": {"description": "The GraphQL response (data and errors)."},
    "400": {"description": "Not a GraphQL-over-HTTP request, or (graphql-response+json) a request error."},
}
OPENAPI_GET: dict[str, Any] = {
    "parameters": [
        {"name": "query", "in": "query", "required": True, "schema": _STRING},
        {"name": "operationName", "in": "query", "required": False, "schema": _STRING},
        {"name": "variables", "in": "query", "required": False, "schema": _STRING, "description": "JSON"},
        {"name": "extensions", "in": "query", "required": False, "schema": _STRING, "description": "JSON"},
    ],
    "responses": {**_ANSWERS, "405": {"description": "A mutation over GET."}},
}
OPENAPI_POST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {
                        "query": _STRING,
                        "operationName": {"type": "string", "nullable": True},
                        "variables": {**_OBJECT, "nullable": True},
                        "extensions": {**_OBJECT, "nullable": True},
                    },
                }
            }
        },
    },
    "responses": {**_ANSWERS, "415": {"description": "Not application/json."}},
}


def _not_executed(result: ExecutionResult) -> bool:
    """Whether a result is a request error: no data, and no error raised by a field (a field's has a path)."""
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


def _code(status: int) -> str:
    return str(ErrorCode.LIMIT_EXCEEDED if status == 413 else ErrorCode.BAD_REQUEST)


def _body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return body


def encode_json(data: object) -> bytes:
    """JSON with orjson: some 40 kB of a large answer written in a tenth of the standard library's time.

    What orjson refuses (an integer beyond 64 bits in a JSON scalar) is written by
    ``json`` as before; orjson writes NaN as ``null`` where ``json`` wrote ``NaN``, which
    is not JSON at all.
    """
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()
