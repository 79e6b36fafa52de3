"""Benchmark the edge update: how long ``kgtwin serve`` is away when it is restarted on its data.

Run ``python bench/edge_restart.py`` (``--restarts 5`` by default). In a temporary folder
it starts ``kgtwin serve --demo`` on the embedded stores (FalkorDB, DuckDB, the embedded
broker) once, to create the data and load the demo twin, then restarts it ``--restarts``
times the way an update does: SIGTERM, wait for the exit, start the (same) command on the
same folder, wait for ``/readyz`` and a first GraphQL answer. The table gives, per restart
and as medians, the stop (SIGTERM to exit), the start (launch to ready) and the outage
(SIGTERM to the first answer of the new process, what a client sees).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERY = {"query": '{ twins(model: "dtmi:kgtwin:space:Room;1", first: 5) { nodes { id } } }'}


def start(folder: Path, port: int, broker_port: int, *, demo: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {
        "KGTWIN_CONFIG": str(folder / "none.toml"),
        "KGTWIN_HOST": "127.0.0.1",
        "KGTWIN_PORT": str(port),
        "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker_port}",
        "KGTWIN_LOG_LEVEL": "warning",
    }
    kgtwin = str(Path(sys.executable).with_name("kgtwin"))
    log = (folder / "serve.log").open("ab")
    return subprocess.Popen(
        [kgtwin, "serve", *(["--demo"] if demo else [])], cwd=folder, env=env, stdout=log, stderr=log
    )


def tail(folder: Path) -> str:
    return (folder / "serve.log").read_text(errors="replace")[-3000:]


def wait_answering(url: str, process: subprocess.Popen[bytes], folder: Path, timeout: float = 300) -> None:
    """Until ``/readyz`` is 200 and a GraphQL query answers without errors."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"kgtwin serve exited with {process.returncode} \n{tail(folder)}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                answer = httpx.post(f"{url}/graphql", json=QUERY, timeout=10)
                body = answer.json()
                if answer.status_code == 200 and not body.get("errors") and body["data"]["twins"]["nodes"]:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"kgtwin serve did not answer within {timeout} s \n{tail(folder)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--restarts", type=int, default=5)
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    from tests.servers.process import free_port

    folder = Path(tempfile.mkdtemp(prefix="kgtwin-bench-edge-restart-"))
    port, broker_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(folder, port, broker_port, demo=True)
    rows: list[tuple[float, float, float]] = []
    try:
        wait_answering(url, process, folder)
        for _ in range(args.restarts):
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(120)
            stopped = time.monotonic()
            if code != 0:
                raise SystemExit(f"kgtwin serve exited with {code} on SIGTERM")
            process = start(folder, port, broker_port, demo=False)
            wait_answering(url, process, folder)
            answered = time.monotonic()
            rows.append((stopped - began, answered - stopped, answered - began))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
        shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()
    table = Table(
        title=f"kgtwin serve restarted on its data (demo twin), {platform.node()}, "
        f"{os.cpu_count()} cores, load {load[0]:.1f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    for column in ("restart", "stop s", "start s", "outage s"):
        table.add_column(column, justify="right")
    for i, (stop, begin, outage) in enumerate(rows, 1):
        table.add_row(str(i), f"{stop:.2f}", f"{begin:.2f}", f"{outage:.2f}")
    medians = [statistics.median(r[k] for r in rows) for k in range(3)]
    table.add_row("median", *(f"{m:.2f}" for m in medians))
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
