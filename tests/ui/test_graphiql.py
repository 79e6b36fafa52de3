"""GraphiQL at /graphql, from kgtwin's own files, with every other host unreachable."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.conftest import Visit
from tests.ui.service import TwinService

QUERY = '{ twin(id: "room-a101") { id name: property(name: "name") } }'
EDITOR = ".graphiql-query-editor .CodeMirror"


def _open_graphiql(visit: Visit, twin: TwinService) -> None:
    """GraphiQL, once it has read the schema (before that it cannot tell a subscription)."""
    page = visit.page
    with page.expect_response(lambda r: "IntrospectionQuery" in (r.request.post_data or "")) as schema:
        page.goto(f"{twin.url}/graphql")
    assert schema.value.ok
    expect(page.locator(EDITOR)).to_be_visible(timeout=30_000)


def _run(visit: Visit, query: str) -> None:
    visit.page.evaluate(f"(q) => document.querySelector('{EDITOR}').CodeMirror.setValue(q)", query)
    # GraphiQL parses the editor's text a moment after it changes, and sends a subscription
    # over the websocket only once it has: a user who clicks at once gets the old parse too.
    visit.page.wait_for_timeout(1500)
    visit.page.click(".graphiql-execute-button")


def test_graphiql_loads_offline_and_runs_a_query(visit: Visit, twin: TwinService) -> None:
    page = visit.page
    _open_graphiql(visit, twin)
    _run(visit, QUERY)
    result = page.locator(".result-window")
    expect(result).to_contain_text('"name": "Room A1.01"')
    visit.shot("graphiql-query")
    assert any(url.startswith(f"{twin.url}/ui/assets/graphiql-") for url in visit.urls)


def test_graphiql_runs_a_subscription_over_the_websocket(visit: Visit, twin: TwinService) -> None:
    page = visit.page
    _open_graphiql(visit, twin)
    _run(visit, 'subscription { telemetry(twinIds: ["press-1"], names: ["power"]) { twinId name value } }')
    expect(page.locator(".result-window")).to_contain_text('"twinId": "press-1"')
    assert any(url.startswith(f"ws://127.0.0.1:{twin.port}/graphql") for url in visit.urls)
