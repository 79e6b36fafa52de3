"""``kgtwin ingest`` with a spool directory it cannot use: one line naming the setting, exit 2.

The real command on the embedded backends (FalkorDB, DuckDB, the embedded broker), as an
operator would meet it with a read-only or wrongly mounted volume.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.operations.conftest import KGTWIN
from tests.servers.process import free_port


def run_ingest(workdir: Path, spool_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {
        "KGTWIN_CONFIG": str(workdir / "none.toml"),
        "KGTWIN_HEALTH_PORT": "0",
        "KGTWIN_GRAPH_URL": f"falkordb://{workdir / 'graph.db'}",
        "KGTWIN_TELEMETRY_URL": f"duckdb://{workdir / 'telemetry.duckdb'}",
        "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{free_port()}",
        "KGTWIN_INGEST_SPOOL_DIR": str(spool_dir),
    }
    return subprocess.run(
        [KGTWIN, "ingest"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], spool_dir: Path) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "cli.crashed" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("kgtwin: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"kgtwin: KGTWIN_INGEST_SPOOL_DIR: cannot keep the spool {spool_dir}/")


def test_a_file_where_the_spool_directory_should_be(tmp_path: Path) -> None:
    (tmp_path / "volume").write_text("not a directory")
    spool_dir = tmp_path / "volume" / "spool"
    result = run_ingest(tmp_path, spool_dir)
    assert_one_line_error(result, spool_dir)
    assert "Not a directory" in result.stderr


def test_a_directory_where_the_spool_file_should_be(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    (spool_dir / "kgtwin-ingest.sqlite").mkdir(parents=True)  # SQLite cannot open it
    result = run_ingest(tmp_path, spool_dir)
    assert_one_line_error(result, spool_dir)


@pytest.mark.skipif(os.getuid() == 0, reason="root writes in any directory")
def test_a_spool_directory_the_process_may_not_write(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    spool_dir.chmod(0o555)
    try:
        result = run_ingest(tmp_path, spool_dir)
    finally:
        spool_dir.chmod(0o755)
    assert_one_line_error(result, spool_dir)
