"""The dependency direction: ontology <- telemetry <- graph <- ingest, simulation <- api <- kgtwin.

And "private" means private: no package imports another package's ``_module``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ontology", "telemetry", "graph", "ingest", "simulation", "api", "kgtwin")


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: ontology importing a driver, or graph importing api, is caught."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    tree = tmp_path / "tree"
    for package in PACKAGES:
        (tree / package).mkdir(parents=True)
        (tree / package / "__init__.py").write_text("")
    (tree / "ontology" / "leak.py").write_text("import duckdb\n")
    (tree / "graph" / "upward.py").write_text("import api\n")
    (tree / "telemetry" / "upward.py").write_text("import graph\n")
    (tree / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = subprocess.run(
        [str(lint_imports)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 2 broken" in result.stdout
    assert "graph.upward -> api" in result.stdout
    assert "telemetry.upward -> graph" in result.stdout
    assert "ontology.leak -> duckdb" in result.stdout


def private_imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> Iterator[str]:
    """``file:line: module`` for each import of another package's private module (``graph._traversal``).

    A module is private when a part of its dotted name after the package starts with ``_``;
    ``from graph import _traversal`` counts too. Imports inside one package are its own business.
    """
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                for name in names:
                    head, *rest = name.split(".")
                    if head in packages and head != package and any(p.startswith("_") for p in rest):
                        yield f"{path.relative_to(root)}:{node.lineno}: {name}"
                        break


def test_no_package_imports_another_packages_private_module() -> None:
    assert list(private_imports(ROOT)) == []


def test_a_private_import_across_packages_is_caught(tmp_path: Path) -> None:
    """The check can fail, in both spellings; a package's own private modules stay allowed."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "graph" / "_walk.py").write_text("")
    (tmp_path / "graph" / "queries.py").write_text("from graph._walk import walk\n")
    (tmp_path / "api" / "loaders.py").write_text("import json\nfrom graph._walk import walk\n")
    (tmp_path / "kgtwin" / "wiring.py").write_text("from graph import _walk, queries\n")
    assert list(private_imports(tmp_path)) == [
        "api/loaders.py:2: graph._walk",
        "kgtwin/wiring.py:1: graph._walk",
    ]
