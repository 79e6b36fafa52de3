"""Start the InfluxDB 2.7 OSS test server built by ``tests/servers/influxdb/build.sh``.

Each server starts empty in its own directory and is onboarded as ``influx setup``
would leave a new installation: one user, the organisation ``kgtwin``, the bucket
``telemetry`` and an all-access operator token, which is what kgtwin's adapter needs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers.process import CACHE_DIR, ServerProcess, ServerUnavailable, free_port, launch

INFLUXD = CACHE_DIR / "influxdb" / "influxd"
ORG = "kgtwin"
BUCKET = "telemetry"
USERNAME = "kgtwin"

# influxd opens its stores and answers /health in well under a second on a quiet
# machine; a loaded CI runner can take many times that.
START_TIMEOUT_S = 60.0


@dataclass
class InfluxServer:
    """A running, onboarded InfluxDB: where it listens and the credentials to use."""

    process: ServerProcess
    url: str
    token: str
    org: str
    bucket: str

    def stop(self) -> None:
        """SIGTERM: influxd flushes its write-ahead log and closes its stores."""
        self.process.stop()


def start_influxdb(workdir: Path, options: Mapping[str, str] | None = None) -> InfluxServer:
    """Start an empty InfluxDB with its data and log in ``workdir``, then onboard it.

    ``options`` are more influxd flags, without their dashes (a benchmark sizes the storage
    engine's write cache with ``{"storage-cache-snapshot-memory-size": "8388608"}``).
    """
    if not INFLUXD.is_file():
        raise ServerUnavailable("InfluxDB test server not built: run tests/servers/provision.sh")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(INFLUXD),
        "--bolt-path",
        str(workdir / "influxd.bolt"),  # the SQLite metadata file goes beside it
        "--engine-path",
        str(workdir / "engine"),
        "--http-bind-address",
        f"127.0.0.1:{port}",
        "--reporting-disabled",
        "--log-level",
        "info",
    ]
    for name, value in (options or {}).items():
        argv += [f"--{name}", value]
    # influxd also reads a config file from INFLUXD_CONFIG_PATH or the working directory;
    # point it at the fresh workdir so a developer's own config cannot leak in.
    process = launch("influxdb", argv, workdir, port, env={"INFLUXD_CONFIG_PATH": str(workdir)})
    token = secrets.token_urlsafe(32)
    try:
        with httpx.Client(base_url=url, timeout=5.0) as client:
            _wait_until_healthy(process, client, time.monotonic() + START_TIMEOUT_S)
            _onboard(process, client, token)
    except BaseException:
        process.stop()
        raise
    return InfluxServer(process=process, url=url, token=token, org=ORG, bucket=BUCKET)


def _wait_until_healthy(process: ServerProcess, client: httpx.Client, deadline: float) -> None:
    """Poll ``/health`` until it reports ``pass``; fail with the log tail if influxd dies.

    Asking /health rather than only connecting also proves the port is ours, not a
    process that took it after ``free_port`` released it.
    """
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(
                f"influxd exited with code {process.process.returncode} before it was healthy:\n"
                f"{process.log_tail()}"
            )
        try:
            response = client.get("/health")
        except httpx.TransportError:
            pass  # not listening yet
        else:
            body: object = response.json() if response.is_success else None
            if isinstance(body, dict) and body.get("status") == "pass":
                return
        time.sleep(0.1)
    raise RuntimeError(f"influxd was not healthy within {START_TIMEOUT_S} s:\n{process.log_tail()}")


def _onboard(process: ServerProcess, client: httpx.Client, token: str) -> None:
    """Create the user, organisation, bucket and operator token (``POST /api/v2/setup``)."""
    response = client.post(
        "/api/v2/setup",
        json={
            "username": USERNAME,
            "password": secrets.token_urlsafe(16),  # nobody logs in: the tests use the token
            "org": ORG,
            "bucket": BUCKET,
            "token": token,  # no retention given: the bucket keeps points forever
        },
    )
    if response.status_code != httpx.codes.CREATED:
        raise RuntimeError(
            f"influxd onboarding failed with HTTP {response.status_code}: {response.text}\n"
            f"{process.log_tail()}"
        )
