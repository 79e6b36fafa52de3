"""The executor setting, the executor registry, and the worker ``kgtwin serve`` runs in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graph.store import GraphStore
from kgtwin.backends import Backends, open_executor, parse_executor_url
from kgtwin.services import start_worker
from kgtwin.settings import load_settings
from kgtwin.urls import DaskUrl, LocalExecutorUrl
from kgtwin.wiring import build_run_store
from ontology.errors import ConfigurationInvalid
from simulation.jobs import RunStatus
from simulation.local import LocalExecutor
from tests.servers.process import free_port


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("local", LocalExecutorUrl()),
        ("local://?workers=3", LocalExecutorUrl(3)),
        ("dask://scheduler:8786", DaskUrl("tcp://scheduler:8786")),
        ("dask://scheduler", DaskUrl("tcp://scheduler:8786")),
        ("tls://scheduler:9000", DaskUrl("tls://scheduler:9000")),
    ],
)
def test_executor_urls(url: str, parsed: object) -> None:
    assert parse_executor_url(url) == parsed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("spark://x:7077", "unknown executor 'spark'"),
        ("local://?workers=0", "workers must be a positive integer"),
        ("dask://", "dask URL has no host"),
    ],
)
def test_a_bad_executor_url_is_one_line_naming_the_setting(url: str, message: str) -> None:
    with pytest.raises(ConfigurationInvalid, match=message) as caught:
        load_settings(executor_url=url)
    assert caught.value.setting == "KGTWIN_EXECUTOR_URL"


def test_the_local_executor_takes_its_worker_count_from_the_url() -> None:
    executor = open_executor(load_settings(executor_url="local://?workers=1"))
    try:
        assert isinstance(executor, LocalExecutor)
        assert executor.workers == 1
    finally:
        executor.close()


def test_an_unreachable_scheduler_stops_start_up_naming_the_setting() -> None:
    with pytest.raises(ConfigurationInvalid, match="KGTWIN_EXECUTOR_URL: dask unavailable"):
        open_executor(load_settings(executor_url="dask://127.0.0.1:9"))


def test_the_in_process_worker_runs_queued_runs_until_the_backends_close(flow_line: GraphStore) -> None:
    settings = load_settings(executor_url="local://?workers=1", worker_lease_s=5)
    backends = Backends(graph=flow_line)
    runs = build_run_store(backends)
    start_worker(settings, backends, runs)
    try:
        run = runs.create("flow", {"roots": ["S"], "maxDepth": 5}, parameters={"horizonS": 5000.0})
        deadline = time.monotonic() + 60
        while (current := runs.get(run.id)).status is not RunStatus.SUCCEEDED:
            assert not current.status.final, current.error
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        backends.close()


def test_kgtwin_worker_with_an_unreachable_graph_stops_with_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KGTWIN_GRAPH_URL": f"bolt://127.0.0.1:{free_port()}",
        "KGTWIN_CONFIG": str(tmp_path / "none.toml"),
        "KGTWIN_HEALTH_PORT": "0",  # another process on this host may hold the default
    }
    kgtwin = Path(sys.executable).parent / "kgtwin"
    result = subprocess.run(
        [kgtwin, "worker"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("kgtwin:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("kgtwin: KGTWIN_GRAPH_URL: neo4j unavailable")
    assert "Traceback" not in result.stderr
