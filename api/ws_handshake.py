"""The websocket of ``/graphql`` before the GraphQL server sees it: who is calling, and the close codes.

Browsers cannot set headers on a websocket, so credentials may come in the payload of
``connection_init`` (graphql-transport-ws). :func:`authenticate_socket` accepts the
socket, reads messages up to ``connection_init``, authenticates its payload and then
hands the socket to the application with the handshake and that message replayed (the
application's own accept is not sent twice). Until then it speaks the protocol itself,
with its close codes:

- 4400 a message that is not JSON, not an object with a ``type``, of an unknown type,
  or a ``connection_init`` whose payload is not an object;
- 4401 a ``subscribe`` before the connection is acknowledged;
- 4403 credentials refused (in the payload, or in the upgrade request's headers: the
  socket is accepted first, so the client sees 4403, not an HTTP 403 it cannot read);
- 4408 no ``connection_init`` within the init timeout;
- ``ping`` is answered with ``pong`` at any time, ``pong`` and ``complete`` are ignored.

After the hand-over the GraphQL server (Strawberry) answers 4409 for a duplicate
operation id and 4429 for a second ``connection_init``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from graphql import GraphQLError

from api.documents import choose_operation, parse_query
from api.limits import Asgi, Limits, Message, Receive, Scope, Send
from api.roles import ANONYMOUS, Principal
from ontology.errors import KgtwinError

TRANSPORT_WS = "graphql-transport-ws"
_MAX_TOKENS = Limits().graphql_max_tokens
_REASON_BYTES = 120  # a close reason is at most 123 bytes (RFC 6455 §5.5)

Authenticate = Callable[[str | None, str | None], Awaitable[Principal]]
"""Turns ``Authorization`` and ``X-API-Key`` values into a principal, or raises a ``KgtwinError``."""


class _Closed(Exception):
    """The handshake ended: the socket was closed (with ``code``) or the client left."""


def reason(text: str) -> str:
    """A close reason cut to what RFC 6455 allows, on a character boundary."""
    return text.encode()[:_REASON_BYTES].decode("utf-8", "ignore")


def refusal(exc: KgtwinError) -> str:
    return reason(f"{exc.code}: {exc.message}")


def subprotocol_of(scope: Scope) -> str | None:
    """graphql-transport-ws when the client offers it; the application answers 4406 otherwise."""
    return TRANSPORT_WS if TRANSPORT_WS in scope.get("subprotocols", []) else None


async def refuse_socket(receive: Receive, send: Send, scope: Scope, code: int, why: str) -> None:
    """Accept the upgrade, then close with ``code``: a browser sees close codes, not HTTP statuses."""
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "subprotocol": subprotocol_of(scope)})
    await send({"type": "websocket.close", "code": code, "reason": reason(why)})


async def authenticate_socket(
    app: Asgi, scope: Scope, receive: Receive, send: Send, authenticate: Authenticate, init_timeout_s: float
) -> None:
    """Authenticate a socket whose credentials come in ``connection_init``, then hand it to ``app``."""
    subprotocol = subprotocol_of(scope)
    if subprotocol is None:
        # Not a protocol this server speaks: the application closes it with 4406, unauthenticated.
        scope["state"]["principal"] = ANONYMOUS
        await app(scope, receive, send)
        return
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def close(code: int, why: str) -> NoReturn:
        await send({"type": "websocket.close", "code": code, "reason": reason(why)})
        raise _Closed

    try:
        init, payload = await _connection_init(receive, send, close, time.monotonic() + init_timeout_s)
        authorization = payload.get("Authorization") or payload.get("authorization")
        api_key = payload.get("apiKey") or payload.get("X-API-Key") or payload.get("x-api-key")
        try:
            scope["state"]["principal"] = await authenticate(
                authorization if isinstance(authorization, str) else None,
                api_key if isinstance(api_key, str) else None,
            )
        except KgtwinError as exc:
            await close(4403, refusal(exc))
    except _Closed:
        return
    replay = [connect, init]

    async def replaying_receive() -> Message:
        return replay.pop(0) if replay else await receive()

    accepted = {"done": False}

    async def send_once_accepted(message: Message) -> None:
        if message["type"] == "websocket.accept" and not accepted["done"]:
            accepted["done"] = True
            return
        await send(message)

    await app(scope, replaying_receive, send_once_accepted)


async def _connection_init(
    receive: Receive, send: Send, close: Callable[[int, str], Awaitable[NoReturn]], deadline: float
) -> tuple[Message, dict[str, Any]]:
    """Read messages until ``connection_init``: the message and its payload (closing on anything wrong)."""
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            await close(4408, "Connection initialisation timeout")
        if message["type"] != "websocket.receive":
            raise _Closed  # the client left
        data = _decode(message)
        kind = data.get("type") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(kind, str):
            await close(4400, "Invalid message: a JSON object with a type")
        if kind == "connection_init":
            payload = data.get("payload")
            if payload is not None and not isinstance(payload, dict):
                await close(4400, "Invalid connection init payload")
            return message, payload or {}
        if kind == "ping":
            await send({"type": "websocket.send", "text": json.dumps({"type": "pong"})})
        elif kind == "subscribe":
            await close(4401, "Unauthorized")
        elif kind not in ("pong", "complete"):
            await close(4400, f"Unknown message type: {kind}")


def protocol_messages_only(receive: Receive, send: Send) -> Receive:
    """``receive`` that closes with 4400 at the first frame that is not a JSON object with a ``type``.

    The GraphQL server behind it then sees the client leave. Strawberry closes with 4400
    for most malformed messages itself, but a JSON value that is not an object (``[1, 2]``)
    ended its handler with an exception and no close frame at all.
    """

    async def checked() -> Message:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive" or message.get("text") is None:
                return message
            data = _decode(message)
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                why = "Invalid message: a JSON object with a type"
                await send({"type": "websocket.close", "code": 4400, "reason": why})
                return {"type": "websocket.disconnect", "code": 4400}
            refused = _operation_refused(data)
            if refused is None:
                return message
            await send({"type": "websocket.send", "text": json.dumps(refused)})

    return checked


def _operation_refused(data: dict[str, Any]) -> dict[str, Any] | None:
    """The ``error`` message for a ``subscribe`` whose operation cannot be chosen, else None.

    Without ``operationName`` a document must hold one operation (GraphQL §6.1); the
    GraphQL server would otherwise run the first one. The document is parsed through the
    shared cache, so the server's own parse finds it there.
    """
    payload = data.get("payload")
    if data["type"] != "subscribe" or not isinstance(payload, dict):
        return None
    query, name = payload.get("query"), payload.get("operationName")
    if not isinstance(query, str) or not (name is None or isinstance(name, str)):
        return None
    try:
        document = parse_query(query, _MAX_TOKENS)
    except GraphQLError:
        return None  # a syntax error: the server reports it as the operation's error
    try:
        choose_operation(document, name)
    except GraphQLError as error:
        return {"id": data.get("id"), "type": "error", "payload": [error.formatted]}
    return None


def _decode(message: Message) -> Any:
    text = message.get("text")
    if text is None:
        return None  # graphql-transport-ws messages are text frames
    try:
        return json.loads(text)
    except ValueError:
        return None
