"""The HTTP side of the ADT routes: bodies, preconditions, paging, and the caller's permission.

ADT sends JSON (JSON Patch for updates, ``application/json-patch+json``), takes its
preconditions in ``If-Match`` / ``If-None-Match`` and its page size in the
``max-items-per-page`` header, and pages with a ``nextLink`` URL that carries every
parameter (the SDKs do not send the first request's headers or query again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.adt.errors import AdtError
from api.adt.options import ACCEPTED_VERSIONS, API_VERSION
from api.context import principal_of
from api.roles import Permission

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_TOKEN_CHARS = 8_192

__all__ = ["run_in_threadpool"]


def check_version(request: Request) -> None:
    """Refuse a request without an ``api-version`` this surface answers (ADT requires one)."""
    version = request.query_params.get("api-version")
    if version is None:
        raise AdtError(400, "InvalidArgument", f"the api-version query parameter is required ({API_VERSION})")
    if version not in ACCEPTED_VERSIONS:
        accepted = ", ".join(sorted(ACCEPTED_VERSIONS))
        raise AdtError(
            400, "InvalidArgument", f"api-version {version!r} is not supported; use one of {accepted}"
        )


def allow(request: Request, permission: Permission) -> None:
    """Raise ``Forbidden`` unless the caller's roles grant ``permission``."""
    principal_of(request.state).require(permission)


def permission(needed: Permission) -> Callable[[Request], None]:
    """A route dependency requiring ``needed``."""

    def check(request: Request) -> None:
        allow(request, needed)

    return check


async def json_body(request: Request) -> Any:
    """The request's JSON body; ``InvalidArgument`` when it is empty or not JSON."""
    raw = await request.body()
    if not raw.strip():
        raise AdtError(400, "InvalidArgument", "the request needs a JSON body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AdtError(400, "InvalidArgument", f"the body is not JSON: {exc}") from None


async def json_patch(request: Request) -> list[Any]:
    """A JSON Patch body (an array of operations); ``JsonPatchInvalid`` for anything else."""
    body = await json_body(request)
    if not isinstance(body, list):
        raise AdtError(400, "JsonPatchInvalid", "a JSON Patch is an array of operations")
    return body


def if_match(request: Request) -> str | None:
    """The ``If-Match`` etag (or ``*``), if sent."""
    value = request.headers.get("if-match")
    return value.strip() if value else None


def if_none_match(request: Request) -> bool:
    """Whether ``If-None-Match: *`` was sent (create only); ADT allows no other value."""
    value = request.headers.get("if-none-match")
    if value is None:
        return False
    if value.strip() != "*":
        raise AdtError(400, "InvalidArgument", f"If-None-Match takes only '*', not {value!r}")
    return True


def page_size(request: Request) -> int:
    """``max-items-per-page`` (the header), else a ``nextLink``'s ``pageSize``; at most ``MAX_PAGE``."""
    text = request.headers.get("max-items-per-page") or request.query_params.get("pageSize")
    if text is None:
        return DEFAULT_PAGE
    try:
        size = int(text)
    except ValueError:
        raise AdtError(
            400, "InvalidArgument", f"max-items-per-page must be an integer, not {text!r}"
        ) from None
    if size < 1:
        raise AdtError(400, "InvalidArgument", f"max-items-per-page must be at least 1, not {size}")
    return min(size, MAX_PAGE)


def offset(request: Request) -> int:
    """Where a page starts: the ``continuationToken`` of a ``nextLink`` (0 without one)."""
    text = request.query_params.get("continuationToken")
    if text is None:
        return 0
    if not text.isdigit() or len(text) > 12:
        raise AdtError(400, "BadRequest", "the continuation token is invalid")
    return int(text)


def continuation(request: Request) -> str | None:
    """The ``continuationToken`` of a ``nextLink`` as text (the domain checks it), if any."""
    text = request.query_params.get("continuationToken")
    if text is not None and (not text or len(text) > MAX_TOKEN_CHARS):
        raise AdtError(400, "BadRequest", "the continuation token is invalid")
    return text


def next_link(request: Request, start: int | str, size: int) -> str:
    """The URL of the page from ``start`` (a position or a cursor): this request's URL and query,
    with the position and size."""
    params = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("continuationToken", "pageSize")
    ]
    params += [("continuationToken", str(start)), ("pageSize", str(size))]
    return str(request.url.replace(query=urlencode(params)))


def etag_header(etag: str) -> dict[str, str]:
    return {"ETag": etag}
