"""The browser pages kgtwin serves itself: the explorer at ``/explorer`` and GraphiQL at ``/graphql``.

Their scripts and styles are files of this package (``api/ui_static``), bundled from npm
packages by ``scripts/build-ui`` (``ui/``: lock file, esbuild), so an edge box without
internet serves every page whole, and the pages can never drift from the API they ship
with. Nothing is fetched from a CDN: each page's Content-Security-Policy lets the browser
load scripts, styles and connections from this origin only.

Asset names carry a hash of their content (``explorer-3XNIWZTV.js``), so browsers may keep
them for a year; the pages are revalidated on every load and name the current assets.
Assets are gzipped once, when first asked for, and sent compressed to browsers that accept it.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

STATIC = Path(__file__).parent / "ui_static"
"""The built pages and their assets (committed; rebuilt by ``scripts/build-ui``)."""
ASSETS_PATH = "/ui/assets/"
"""Where the assets are served; public, like the pages (they hold no data)."""
PAGES = ("/", "/explorer")

# Scripts, styles and connections from this origin only; inline styles and data: URLs for
# the fonts and images bundled inside the stylesheets.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
_ASSET_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+")
# What the bundler writes; fixed here rather than read from the system's MIME table.
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class Asset:
    """One bundled file, as sent: its bytes, gzipped bytes, media type and entity tag."""

    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def _stamp(path: Path) -> int | None:
    """The file's modification time; None when it is not a file."""
    try:
        return path.stat().st_mtime_ns if path.is_file() else None
    except OSError:
        return None


@lru_cache(maxsize=32)
def _asset(path: Path, stamp: int) -> Asset:
    """An asset read and compressed once per version of the file (``scripts/build-ui`` may
    run while a developer's service is up; in production the files never change)."""
    body = path.read_bytes()
    media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    # mtime=0: the same bytes on every start, so a cached gzip response stays valid.
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    return Asset(body, gzipped, media_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@lru_cache(maxsize=8)
def _read_page(path: Path, stamp: int) -> str:
    return path.read_text(encoding="utf-8")


def _page(name: str) -> str:
    path = STATIC / f"{name}.html"
    stamp = _stamp(path)
    if stamp is None:
        # A source checkout where scripts/build-ui never ran: say so instead of a bare 404.
        return (
            "<!doctype html><title>kgtwin</title><p>The web pages of this kgtwin are not built: "
            "run <code>scripts/build-ui</code>.</p>"
        )
    return _read_page(path, stamp)


def page(name: str) -> HTMLResponse:
    """The page ``explorer`` or ``graphiql``, with the headers that keep it to this origin."""
    return HTMLResponse(_page(name), headers=_PAGE_HEADERS)


def graphiql_page() -> HTMLResponse:
    """GraphiQL, as ``GET /graphql`` answers a browser."""
    return page("graphiql")


def ui_router() -> APIRouter:
    """``/`` (to the explorer), ``/explorer`` and the bundled assets."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def root() -> RedirectResponse:
        # Relative, so the redirect also works behind a proxy that serves kgtwin under a prefix.
        return RedirectResponse("explorer", status_code=307)

    @router.get("/explorer")
    def explorer() -> HTMLResponse:
        return page("explorer")

    @router.get(ASSETS_PATH + "{name}")
    def asset(name: str, request: Request) -> Response:
        path = STATIC / "assets" / name
        # Only a file the bundler wrote: a plain name, no separator, nothing hidden or outside.
        stamp = _stamp(path) if _ASSET_NAME.fullmatch(name) else None
        if stamp is None:
            raise HTTPException(404, f"no asset {name}")
        found = _asset(path, stamp)
        headers = {"Cache-Control": _IMMUTABLE, "ETag": found.etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(found.gzipped, media_type=found.media_type, headers=headers)
        return Response(found.body, media_type=found.media_type, headers=headers)

    return router
