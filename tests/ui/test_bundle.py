"""The committed web bundle: what the lock file builds, small enough, named by no CDN, in the wheel."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from api.ui import STATIC

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui"
PAGE_BUDGET_GZIP = 1_500_000
# Split so that this file is not itself a hit of the search it makes.
CDN_HOSTS = ("un" + "pkg", "jsdel" + "ivr", "cdn" + "js")


def _need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        reason = f"{program} is not installed (Node 20 with npm builds the bundle)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def _page_assets(page: str) -> list[Path]:
    """Every file a page may load: what its HTML names, and the chunks its script imports."""
    text = (STATIC / f"{page}.html").read_text()
    named = [STATIC / "assets" / name for name in re.findall(r'"ui/assets/([^"]+)"', text)]
    chunks = json.loads((STATIC / "manifest.json").read_text())[page]["chunks"]
    # Chunks a script imports before it runs are also named by the page (modulepreload).
    return list(dict.fromkeys(named + [STATIC / "assets" / chunk for chunk in chunks]))


@pytest.mark.parametrize("page", ["explorer", "graphiql"])
def test_each_page_stays_within_its_gzipped_budget(page: str) -> None:
    assets = _page_assets(page)
    assert assets
    assert all(asset.is_file() for asset in assets)
    gzipped = sum(len(gzip.compress(asset.read_bytes(), compresslevel=9)) for asset in assets)
    assert gzipped < PAGE_BUDGET_GZIP, f"{page}: {gzipped} bytes gzipped"


def test_every_asset_belongs_to_a_page() -> None:
    named = {path for page in ("explorer", "graphiql") for path in _page_assets(page)}
    assert set((STATIC / "assets").iterdir()) == named


def test_no_file_of_the_project_names_a_cdn() -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "ignore").lower()
        hits += [f"{name}: {host}" for host in CDN_HOSTS if host in text]
    assert not hits


def test_the_lock_file_rebuilds_exactly_the_committed_bundle(tmp_path: Path) -> None:
    npm = _need("npm")
    source = tmp_path / "ui"
    shutil.copytree(UI, source, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=source, check=True, timeout=600
    )
    out = tmp_path / "out"
    subprocess.run([_need("node"), "build.mjs", "--outdir", str(out)], cwd=source, check=True, timeout=300)
    built = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(STATIC): p.read_bytes() for p in STATIC.rglob("*") if p.is_file()}
    assert sorted(built) == sorted(committed), "run scripts/build-ui and commit api/ui_static"
    changed = [str(name) for name in built if built[name] != committed[name]]
    assert not changed, f"run scripts/build-ui and commit api/ui_static: {changed} differ"


def test_the_wheel_carries_the_pages_and_their_assets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("kgtwin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(ROOT)) for p in STATIC.rglob("*") if p.is_file()}
    assert expected <= names
