"""The tutorials (docs/tutorials) run as written against a real ``kgtwin serve --demo``.

Every command and code block a tutorial marks to run is executed in order, in a folder of
its own, and what it prints is checked (tests/docs/runner.py has the convention), so the
tutorials cannot drift from the product. Their screenshots are taken by the browser tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.runner import blocks, run_block, tutorial_env
from tests.ui.service import TwinService, running_twin

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
PAGES = sorted(p.name for p in TUTORIALS.glob("*.md"))
UI_MODULES = ROOT / "ui" / "node_modules"


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinService]:
    with running_twin(tmp_path_factory.mktemp("tutorials")) as service:
        yield service


def _node_modules() -> Path:
    """ui/node_modules, installed from the lock file if it is not yet (graphql-ws and ws for node)."""
    if not (UI_MODULES / "graphql-ws").is_dir():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            reason = "the JavaScript examples need Node 20 and npm"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT / "ui", check=True
        )
    return UI_MODULES


@pytest.mark.parametrize("page", PAGES)
def test_the_tutorial_runs_as_written(page: str, twin: TwinService, tmp_path: Path) -> None:
    text = (TUTORIALS / page).read_text()
    found = blocks(text)
    assert page == "README.md" or any(b.runs for b in found), f"{page} runs nothing"
    if any(b.runs and "node " in b.text for b in found):
        (tmp_path / "node_modules").symlink_to(_node_modules())
    env = tutorial_env(twin, {})
    for block in found:
        outcome = run_block(block, tmp_path, twin, env)
        assert not outcome.problems, f"{page}: " + "\n".join(outcome.problems)


def test_every_screenshot_a_tutorial_shows_is_taken_by_the_browser_tests() -> None:
    shown = {
        name
        for page in PAGES
        for name in re.findall(r"\]\(img/([\w-]+)\.png\)", (TUTORIALS / page).read_text())
    }
    taken = {
        name
        for test in (ROOT / "tests" / "ui").glob("test_*.py")
        for name in re.findall(r'shot\("([\w-]+)"\)', test.read_text())
    }
    assert shown, "the tutorials show no screenshot"
    assert shown <= taken, f"not taken by tests/ui: {shown - taken}"
    assert all((TUTORIALS / "img" / f"{name}.png").is_file() for name in shown)
