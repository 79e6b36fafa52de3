"""CORS, from pages on other loopback origins, in a real headless Chromium (Playwright).

Two small pages are served by Python on two ports of 127.0.0.1: one whose origin is in
``KGTWIN_CORS_ORIGINS``, one that is not. The browser is the judge of CORS: a page reads an
answer only if the API's headers allow it, after a preflight for a request with
credentials headers. Pages of origins not listed may not change anything either: a form
``POST`` (sent without preflight) is refused and a websocket is closed with 4403.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unavailable
from tests.http.conftest import Served, start_serve, stop_serve
from tests.servers.process import free_port

CHROMIUM = os.environ.get("KGTWIN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # No request leaves the machine: every name but 127.0.0.1 fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
MODEL = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:example:cors:Probe;1", "@type": "Interface"}


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>page</title><p>another origin</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        """Quiet."""


@dataclass
class Origins:
    allowed: str
    foreign: str


@pytest.fixture(scope="module")
def origins() -> Iterator[Origins]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Page) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Origins(*(f"http://127.0.0.1:{s.server_address[1]}" for s in servers))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def api_with_keys(tmp_path_factory: pytest.TempPathFactory, origins: Origins) -> Iterator[Served]:
    served = start_serve(
        tmp_path_factory.mktemp("cors-keys"),
        {"KGTWIN_API_KEYS": "true", "KGTWIN_CORS_ORIGINS": origins.allowed},
        keys={"viewer": "viewer"},
    )
    try:
        yield served
    finally:
        stop_serve(served)


@pytest.fixture(scope="module")
def edge_api(tmp_path_factory: pytest.TempPathFactory, origins: Origins) -> Iterator[Served]:
    """The loopback edge profile, auth off: only the origin guard stands between it and a page."""
    served = start_serve(tmp_path_factory.mktemp("cors-edge"), {"KGTWIN_CORS_ORIGINS": origins.allowed})
    try:
        yield served
    finally:
        stop_serve(served)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} not found: apt-get install chromium chromium-driver")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _on(browser: Any, origin: str, script: str, arg: Any) -> Any:
    """Run ``script`` (an async arrow function of one argument) in a page of ``origin``."""
    page = browser.new_page()
    try:
        page.goto(f"{origin}/index.html")
        return page.evaluate(script, arg)
    finally:
        page.close()


FETCH = """async ({url, headers, body}) => {
  try {
    const response = await fetch(url, {method: 'POST', credentials: 'include',
      headers: {'Content-Type': 'application/json', ...headers}, body});
    return {status: response.status, body: await response.json(),
            retryAfter: response.headers.get('Retry-After')};
  } catch (error) {
    return {failed: String(error)};
  }
}"""


def _graphql(served: Served, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"url": f"{served.url}/graphql", "headers": headers or {}, "body": '{"query": "{ version }"}'}


def test_a_listed_origin_reads_answers_with_credentials_after_a_preflight(
    browser: Any, origins: Origins, api_with_keys: Served
) -> None:
    # X-API-Key is not a safelisted header: the browser sends a preflight first.
    answer = _on(
        browser, origins.allowed, FETCH, _graphql(api_with_keys, {"X-API-Key": api_with_keys.keys["viewer"]})
    )
    assert answer.get("status") == 200, answer
    assert answer["body"]["data"]["version"]


def test_a_listed_origin_reads_the_refusal_too(browser: Any, origins: Origins, api_with_keys: Served) -> None:
    answer = _on(browser, origins.allowed, FETCH, _graphql(api_with_keys))
    assert answer.get("status") == 401, answer
    assert answer["body"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_an_origin_not_listed_reads_nothing(browser: Any, origins: Origins, api_with_keys: Served) -> None:
    answer = _on(
        browser, origins.foreign, FETCH, _graphql(api_with_keys, {"X-API-Key": api_with_keys.keys["viewer"]})
    )
    assert "failed" in answer, answer
    assert "Failed to fetch" in answer["failed"]


def test_the_preflight_names_what_may_be_sent(origins: Origins, api_with_keys: Served) -> None:
    # What the browser asked above, spelled out: the allowed origin, credentials, the header.
    answer = httpx.options(
        f"{api_with_keys.url}/graphql",
        headers={
            "Origin": origins.allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origins.allowed
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "x-api-key" in answer.headers["access-control-allow-headers"].lower()
    refused = httpx.options(
        f"{api_with_keys.url}/graphql",
        headers={"Origin": origins.foreign, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


UPLOAD = """async ({url, model}) => {
  const form = new FormData();
  form.append('files', new Blob([model], {type: 'application/json'}), 'probe.json');
  // A form post: no preflight, and the page cannot read the answer (opaque).
  await fetch(url, {method: 'POST', mode: 'no-cors', body: form});
  return true;
}"""

SOCKET = """async ({url}) => new Promise((resolve) => {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  ws.onopen = () => ws.send(JSON.stringify({type: 'connection_init'}));
  ws.onmessage = (event) => { resolve({message: JSON.parse(event.data)}); ws.close(); };
  ws.onclose = (event) => resolve({code: event.code, reason: event.reason});
})"""


def _models(served: Served) -> list[str]:
    body = httpx.post(f"{served.url}/graphql", json={"query": "{ models { id } }"}).json()
    return [m["id"] for m in body["data"]["models"]]


def test_a_page_not_listed_cannot_upload_models_to_the_edge_profile(
    browser: Any, origins: Origins, edge_api: Served
) -> None:
    import json

    _on(browser, origins.foreign, UPLOAD, {"url": f"{edge_api.url}/models/files", "model": json.dumps(MODEL)})
    assert MODEL["@id"] not in _models(edge_api)
    # The same upload from the listed origin goes through: the guard is what refused it.
    _on(browser, origins.allowed, UPLOAD, {"url": f"{edge_api.url}/models/files", "model": json.dumps(MODEL)})
    assert MODEL["@id"] in _models(edge_api)


def test_a_websocket_from_a_page_not_listed_is_closed_4403(
    browser: Any, origins: Origins, edge_api: Served
) -> None:
    url = edge_api.url.replace("http://", "ws://") + "/graphql"
    foreign = _on(browser, origins.foreign, SOCKET, {"url": url})
    assert foreign.get("code") == 4403, foreign
    listed = _on(browser, origins.allowed, SOCKET, {"url": url})
    assert listed.get("message") == {"type": "connection_ack"}, listed
