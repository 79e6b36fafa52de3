"""The web pages kgtwin serves itself: the explorer, GraphiQL, their assets, and nothing from elsewhere.

Over HTTP only; tests/ui drives the same pages in a real browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import ApiContext, create_app
from api.auth import AuthConfig
from api.ui import STATIC

HTML = {"Accept": "text/html"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(ApiContext(version="9.9.9")), follow_redirects=False) as client:
        yield client


@pytest.fixture
def client_with_auth() -> Iterator[TestClient]:
    context = ApiContext(version="9.9.9", auth=AuthConfig(api_keys=True))
    with TestClient(create_app(context), follow_redirects=False) as client:
        yield client


def _assets(page: str) -> list[str]:
    """The asset paths a page names (relative, as the page writes them)."""
    return re.findall(r'(?:src|href)="(ui/assets/[^"]+)"', page)


def test_the_root_leads_to_the_explorer(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "explorer"


def test_the_explorer_page_names_assets_that_are_served(client: TestClient) -> None:
    page = client.get("/explorer")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = _assets(page.text)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        response = client.get("/" + asset)
        assert response.status_code == 200, asset
        assert response.content == (STATIC / "assets" / asset.rsplit("/", 1)[1]).read_bytes()


def test_graphiql_in_a_browser_comes_from_local_files(client: TestClient) -> None:
    page = client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert "<title>GraphiQL" in page.text
    assets = _assets(page.text)
    assert assets
    assert all(client.get("/" + a).status_code == 200 for a in assets)
    # Nothing but this origin: no absolute URL in the page, and the browser is told so.
    assert "://" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_graphql_still_answers_queries_by_get(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": "{ version }"})
    assert response.json() == {"data": {"version": "9.9.9"}}


def test_pages_are_revalidated_and_assets_kept_for_a_year(client: TestClient) -> None:
    assert client.get("/explorer").headers["cache-control"] == "no-cache"
    asset = _assets(client.get("/explorer").text)[0]
    headers = client.get("/" + asset).headers
    assert "immutable" in headers["cache-control"]
    assert client.get("/" + asset, headers={"If-None-Match": headers["etag"]}).status_code == 304


def test_assets_go_gzipped_to_browsers_that_accept_it(client: TestClient) -> None:
    asset = next(a for a in _assets(client.get("/explorer").text) if a.endswith(".js"))
    plain = client.get("/" + asset, headers={"Accept-Encoding": "identity"})
    packed = client.get("/" + asset, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["content-type"] == "text/javascript; charset=utf-8"
    # httpx decodes the body; the bytes on the wire are the smaller ones.
    assert packed.content == plain.content
    assert int(packed.headers["content-length"]) < len(plain.content) / 2


@pytest.mark.parametrize("name", ["missing.js", "..%2Fui.py", "%2E%2E%2F%2E%2E%2Fpyproject.toml", ".hidden"])
def test_an_unknown_asset_is_a_404_problem(client: TestClient, name: str) -> None:
    response = client.get(f"/ui/assets/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"


def test_with_auth_on_the_pages_are_public_and_the_data_is_not(client_with_auth: TestClient) -> None:
    page = client_with_auth.get("/explorer")
    assert page.status_code == 200
    for asset in _assets(page.text):
        assert client_with_auth.get("/" + asset).status_code == 200
    assert client_with_auth.get("/").status_code == 307
    assert client_with_auth.get("/graphql", headers=HTML).status_code == 200
    refused = client_with_auth.post("/graphql", json={"query": "{ version }"})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
