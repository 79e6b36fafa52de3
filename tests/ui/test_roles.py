"""With API keys on, the explorer asks for a key and shows only what the key's roles may do."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Visit
from tests.ui.service import KGTWIN, TwinService, environment, running_twin


@dataclass(frozen=True)
class SecuredTwin:
    service: TwinService
    keys: dict[str, str]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredTwin]:
    """``kgtwin serve --demo`` with API keys on, and one key per role made with ``kgtwin keys``."""
    folder = tmp_path_factory.mktemp("secured")
    keys = {}
    for role in ("viewer", "operator"):
        made = subprocess.run(
            [KGTWIN, "keys", "create", f"{role}-key", "--role", role],
            cwd=folder,
            env=environment({"KGTWIN_LOG_LEVEL": "warning"}),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        keys[role] = made.stdout.strip()
    with running_twin(folder, settings={"KGTWIN_API_KEYS": "true"}) as service:
        yield SecuredTwin(service, keys)


def _sign_in(visit: Visit, twin: SecuredTwin, role: str) -> None:
    page = visit.page
    page.goto(f"{twin.service.url}/explorer?twin=buffer-1")
    expect(page.locator("#key-dialog")).to_be_visible()
    page.fill("#key-input", twin.keys[role])
    page.click("#key-dialog button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-graph", "drawn", timeout=30_000)
    expect(page.locator("#who")).to_contain_text(f"key:{role}-key ({role})")
    expect(page.locator("#twin-id")).to_have_text("buffer-1")


def test_a_viewer_sees_the_twin_but_no_action_it_may_not_take(visit: Visit, secured: SecuredTwin) -> None:
    _sign_in(visit, secured, "viewer")
    page = visit.page
    expect(page.locator("#properties")).to_contain_text("capacity")
    expect(page.locator("#edit-properties")).to_have_count(0)
    expect(page.get_by_role("button", name="Simulate from this twin…")).to_have_count(0)
    visit.shot("viewer")
    page.goto(f"{secured.service.url}/explorer#simulations")
    expect(page.locator("#sim-model")).to_be_visible()
    expect(page.locator("#start-simulation")).to_have_count(0)
    expect(page.locator("#panel-simulations")).to_contain_text("may not start simulations")
    page.goto(f"{secured.service.url}/explorer#models")
    expect(page.locator("#model-tree")).to_contain_text("Room")
    expect(page.locator("#model-files")).to_have_count(0)
    page.goto(f"{secured.service.url}/explorer#cypher")
    expect(page.locator("#run-cypher")).to_have_count(0)


def test_an_operator_may_edit_and_simulate(visit: Visit, secured: SecuredTwin) -> None:
    _sign_in(visit, secured, "operator")
    expect(visit.page.locator("#edit-properties")).to_have_count(1)
    expect(visit.page.get_by_role("button", name="Simulate from this twin…")).to_have_count(1)


def test_a_wrong_key_is_asked_again(visit: Visit, secured: SecuredTwin) -> None:
    page = visit.page
    page.goto(f"{secured.service.url}/explorer")
    page.fill("#key-input", "kgt_not_a_key")
    page.click("#key-dialog button[type=submit]")
    expect(page.locator("#key-error")).to_contain_text("unknown API key")
    expect(page.locator("#key-dialog")).to_be_visible()
