"""GraphiQL at /graphql, from kgtwin's own files, with every other host unreachable."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.conftest import Visit
from tests.ui.service import TwinService

QUERY = '{ twin(id: "room-a101") { id name: property(name: "name") } }'


def test_graphiql_loads_offline_and_runs_a_query(visit: Visit, twin: TwinService) -> None:
    page = visit.page
    page.goto(f"{twin.url}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible(timeout=30_000)
    # The schema came over the page's own origin: the docs explorer knows the Query type.
    page.evaluate(
        "(q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)", QUERY
    )
    page.click(".graphiql-execute-button")
    result = page.locator(".result-window")
    expect(result).to_contain_text('"name": "Room A1.01"')
    visit.shot("graphiql-query")
    assert any(url.startswith(f"{twin.url}/ui/assets/graphiql-") for url in visit.urls)


def test_graphiql_runs_a_subscription_over_the_websocket(visit: Visit, twin: TwinService) -> None:
    page = visit.page
    page.goto(f"{twin.url}/graphql")
    expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible(timeout=30_000)
    subscription = 'subscription { telemetry(twinIds: ["press-1"], names: ["power"]) { twinId name value } }'
    page.evaluate(
        "(q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)",
        subscription,
    )
    page.click(".graphiql-execute-button")
    expect(page.locator(".result-window")).to_contain_text('"twinId": "press-1"', timeout=20_000)
    assert any(url.startswith(f"ws://127.0.0.1:{twin.port}/graphql") for url in visit.urls)
