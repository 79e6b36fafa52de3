"""Browser tests: Debian's Chromium, driven by Playwright, against a real ``kgtwin serve --demo``.

Chromium resolves no host but 127.0.0.1 (``--host-resolver-rules``), so a page that
fetched anything from a CDN would fail; every request and websocket a page opens is
also recorded and checked to stay on loopback. Screenshots of each step go to
``.artifacts/ui/`` (not committed); ``KGTWIN_DOC_SCREENSHOTS=1`` also copies the ones the
tutorials show into ``docs/tutorials/img/``.

Outside CI, a machine without Chromium or Playwright skips these tests with the reason;
with ``CI=true`` they fail instead (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.ui.service import TwinService, running_twin

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "ui"
DOC_IMAGES = ROOT / "docs" / "tutorials" / "img"
CHROMIUM = Path(os.environ.get("KGTWIN_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1400, "height": 900}
# How long a step may take: CI machines have 2 cores shared with the servers, the service and
# the browser, so a page that answers in a second on a quiet machine may take ten.
STEP_TIMEOUT_MS = 30_000
_LOCAL = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")
# The browser logs every 4xx answer; those of the API are refusals the page shows (a key to
# ask for, a model's errors), those of the pages and assets would be bugs.
_PAGES_AND_ASSETS = re.compile(r"https?://[^/]+/(ui/|explorer|$)")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system (Playwright's own download is not used)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinService]:
    """``kgtwin serve --demo`` for the session: the demo twin with live telemetry, no auth."""
    with running_twin(tmp_path_factory.mktemp("twin")) as service:
        yield service


@dataclass
class Visit:
    """A browser tab and what it did: every URL it asked for, every error it logged."""

    page: Page
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and not _PAGES_AND_ASSETS.match(url):
            return
        self.errors.append(f"{message.text} ({url})")

    def shot(self, name: str) -> Path:
        """A screenshot of the tab now, kept under .artifacts/ui (and for the tutorials, if asked)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        if os.environ.get("KGTWIN_DOC_SCREENSHOTS") == "1" and (DOC_IMAGES / path.name).exists():
            shutil.copyfile(path, DOC_IMAGES / path.name)
        return path


@pytest.fixture
def visit(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh tab (own storage); afterwards, it must have stayed on loopback and thrown nothing."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    found = Visit(page)
    page.on("request", lambda r: found.urls.append(r.url))
    page.on("websocket", lambda ws: found.urls.append(ws.url))
    page.on("pageerror", lambda error: found.errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: found.console(message))
    page.on("response", lambda r: found.errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    try:
        yield found
    finally:
        failed = request.node.stash.get(_FAILED, False)
        if failed:
            found.shot(f"failed-{request.node.name}")
        context.close()
    outside = [url for url in found.urls if not url.startswith(_LOCAL)]
    assert not outside, f"the page reached beyond loopback: {outside}"
    assert not found.errors, f"the page logged errors: {found.errors}"


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call" and getattr(report, "failed", False):
        item.stash[_FAILED] = True
    return report
