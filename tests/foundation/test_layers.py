"""The dependency direction: ontology <- graph <- ingest, simulation <- api <- kgtwin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: ontology importing a driver, or graph importing api, is caught."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    tree = tmp_path / "tree"
    for package in ("ontology", "graph", "ingest", "simulation", "api", "kgtwin"):
        (tree / package).mkdir(parents=True)
        (tree / package / "__init__.py").write_text("")
    (tree / "ontology" / "leak.py").write_text("import duckdb\n")
    (tree / "graph" / "upward.py").write_text("import api\n")
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
    assert "ontology.leak -> duckdb" in result.stdout
