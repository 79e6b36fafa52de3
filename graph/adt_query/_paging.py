"""Continuation tokens: where the next page starts, opaque to clients and tamper-evident.

A page ends at a row key (twin ids; a relationship's source id and id, see
``graph.adt_query._cypher``); the next page is the rows after it, so twins created or
deleted between two pages shift nothing (no OFFSET). The token carries that key, how many
rows were served (``TOP`` counts across pages), the SHA-256 of the query text and the time
it was issued, signed with HMAC-SHA256.

The key is a secret of the graph, made once and kept on ``(:KgtwinMeta {id: 'adt-query'})``,
so every API process serving the graph accepts the others' tokens, and wiping the graph
voids every token. A token that was altered, made by hand, belongs to another query, is
older than :data:`TOKEN_TTL_S` or predates the secret is refused (``QueryInvalid``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph.adt_query.errors import QueryInvalid
from graph.store import GraphStore

TOKEN_TTL_S = 3600
"""How long a continuation token is honoured: a client pages through a result in minutes."""
_SKEW_S = 300
_VERSION = 1
_META = "KgtwinMeta"
_READ_SECRET = f"MATCH (m:{_META} {{id: 'adt-query'}}) RETURN m.secret"
_MAKE_SECRET = f"MERGE (m:{_META} {{id: 'adt-query'}}) ON CREATE SET m.secret = $secret RETURN m.secret"


@dataclass(frozen=True)
class Position:
    """Where a page of a query ends: the last row's key, and the rows served so far."""

    key: list[Any]
    served: int


def graph_secret(store: GraphStore, *, create: bool) -> bytes | None:
    """The graph's token key; made (once, by whichever process gets there first) when ``create``."""
    rows = store.query_rows(_READ_SECRET)
    if rows and isinstance(rows[0][0], str):
        return bytes.fromhex(rows[0][0])
    if not create:
        return None
    made = store.write(_MAKE_SECRET, {"secret": secrets.token_hex(32)}).rows
    return bytes.fromhex(str(made[0][0]))


def issue(secret: bytes, text: str, position: Position, *, now: Callable[[], float] = time.time) -> str:
    """A token for the page after ``position`` of query ``text``."""
    payload = {"v": _VERSION, "q": _digest(text), "k": position.key, "n": position.served, "t": int(now())}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return _b64(body) + "." + _b64(_sign(secret, body))


def redeem(secret: bytes | None, text: str, token: str, *, now: Callable[[], float] = time.time) -> Position:
    """Where the page after ``token`` starts; ``QueryInvalid`` for a token not good for ``text`` now."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 16_384:
        raise _refused("it is not a continuation token kgtwin issued")
    encoded_body, encoded_mac = token.split(".")
    try:
        body, mac = _unb64(encoded_body), _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise _refused("it is not a continuation token kgtwin issued") from None
    if secret is None or not hmac.compare_digest(mac, _sign(secret, body)):
        raise _refused("it was not issued by this graph, or it was altered")
    payload = json.loads(body)
    if payload.get("v") != _VERSION or payload.get("q") != _digest(text):
        raise _refused("it belongs to another query")
    issued = payload.get("t")
    if not isinstance(issued, int) or not -_SKEW_S <= now() - issued <= TOKEN_TTL_S:
        raise _refused(f"it has expired (tokens are good for {TOKEN_TTL_S} s)")
    key, served = payload.get("k"), payload.get("n")
    if not isinstance(key, list) or not isinstance(served, int):
        raise _refused("it is not a continuation token kgtwin issued")
    return Position(key, served)


def _refused(why: str) -> QueryInvalid:
    return QueryInvalid(f"the continuation token is refused: {why}", construct="continuation token")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _sign(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
