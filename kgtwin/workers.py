"""``kgtwin api --workers N``: N API processes serving one port, and the process that supervises them.

The supervisor binds the port once and starts N ``kgtwin api`` processes that inherit
the listening socket (``--fd``): one accept queue, so whichever worker is free takes the
next connection, and a worker that stops or dies leaves no connection behind in a queue
of its own (as it would with ``SO_REUSEPORT``). Each worker is a whole ``kgtwin api``
process, with the same lifecycle as a single one (``kgtwin.lifecycle``), and keeps what
every replica keeps in step with the others: the model registry (reloaded when another
process changed the models), change events for subscriptions (through the broker,
``api.remote_changes``), API keys (a short cache). That is why several workers need
backends every process can reach: Neo4j, InfluxDB and an MQTT broker, not the embedded ones.

Their metrics add up (``kgtwin.metrics``): the supervisor gives them one folder for
``prometheus_client``'s multiprocess mode and removes it when they are gone.

The supervisor passes SIGTERM and SIGINT on to every worker and exits once they have
(0 when every worker stopped cleanly). A worker that dies is started again, at most once
a second; one that exits with 2 (a setting or a backend the user must fix) stops them all.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import structlog
from prometheus_client.multiprocess import mark_process_dead

from kgtwin.metrics import MULTIPROCESS_ENV
from kgtwin.settings import ENV_PREFIX, Settings
from kgtwin.urls import InfluxUrl, MqttUrl, Neo4jUrl
from ontology.errors import ConfigurationInvalid

EXIT_USAGE = 2
RESTART_PAUSE_S = 1.0
STOP_MARGIN_S = 5.0
"""How long past the grace the supervisor waits for its workers before it kills them."""

_log = structlog.get_logger("kgtwin.workers")


def check_shareable(settings: Settings) -> None:
    """Refuse several workers over backends that belong to one process (embedded ones, memory://)."""
    for name, url, kind in (
        ("GRAPH_URL", settings.graph, Neo4jUrl),
        ("TELEMETRY_URL", settings.telemetry, InfluxUrl),
        ("BROKER_URL", settings.broker, MqttUrl),
    ):
        if not isinstance(url, kind):
            raise ConfigurationInvalid(
                f"{ENV_PREFIX}API_WORKERS",
                f"{settings.api_workers} workers need backends every process can share, and "
                f"{ENV_PREFIX}{name} names one that belongs to a single process; use neo4j://, "
                "influxdb:// and mqtt:// (docs/operations.md), or one worker",
            )


def listen(host: str, port: int) -> socket.socket:
    """The listening socket the workers share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationInvalid(f"{ENV_PREFIX}PORT", f"{host}:{port}: {exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _stop_with_parent() -> None:
    """In the worker, before it runs: SIGTERM when the supervisor dies (Linux), so a supervisor
    killed outright (SIGKILL, OOM) leaves no worker serving the port on its own."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    """Starts the workers, restarts those that die, and stops them all on a signal."""

    def __init__(self, settings: Settings, sock: socket.socket, metrics_dir: Path) -> None:
        self.settings = settings
        self.sock = sock
        self.metrics_dir = metrics_dir
        self.workers: list[subprocess.Popen[bytes]] = []
        self.stopping: int | None = None  # the signal that asked for the stop
        self.exit_code = 0

    def _start(self) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        env = {
            **os.environ,
            MULTIPROCESS_ENV: str(self.metrics_dir),
            f"{ENV_PREFIX}API_WORKERS": "1",
            f"{ENV_PREFIX}HOST": self.settings.host,
            f"{ENV_PREFIX}PORT": str(self.settings.port),
        }
        worker = subprocess.Popen(  # noqa: S603 - this interpreter running kgtwin, no outside input
            [sys.executable, "-m", "kgtwin", "api", "--fd", str(fd)],
            env=env,
            pass_fds=(fd,),
            preexec_fn=_stop_with_parent,  # the supervisor runs no other thread: fork-safe
        )
        _log.info("worker.started", pid=worker.pid)
        return worker

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        # Passed on at once (a second signal too: it cuts the workers' drain short).
        self.stopping = signum
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    def run(self) -> int:
        """Serve until a signal; the exit code (0: every worker stopped cleanly)."""
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        self.workers = [self._start() for _ in range(self.settings.api_workers)]
        _log.info(
            "service.starting",
            profile="api",
            workers=self.settings.api_workers,
            url=f"http://{self.settings.host}:{self.settings.port}/graphql",
        )
        restarted = [0.0] * len(self.workers)
        while self.stopping is None:
            time.sleep(0.2)
            for slot, worker in enumerate(self.workers):
                code = worker.poll()
                if code is None or self.stopping is not None:
                    continue
                mark_process_dead(worker.pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
                _log.warning("worker.exited", pid=worker.pid, code=code)
                if code == EXIT_USAGE:  # a setting or backend to fix: every worker would fail alike
                    self._signal(signal.SIGTERM, None)
                    self.exit_code = EXIT_USAGE
                    break
                time.sleep(max(0.0, restarted[slot] + RESTART_PAUSE_S - time.monotonic()))
                restarted[slot] = time.monotonic()
                self.workers[slot] = self._start()
        return self._wait_for_workers()

    def _wait_for_workers(self) -> int:
        deadline = time.monotonic() + self.settings.shutdown_grace_s + STOP_MARGIN_S
        for worker in self.workers:
            try:
                code = worker.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                code = worker.wait()
                _log.error("worker.killed", pid=worker.pid, grace_s=self.settings.shutdown_grace_s)
            if code != 0 and self.exit_code == 0:
                self.exit_code = code if code > 0 else 1
        _log.info("service.stopped", profile="api", workers=len(self.workers), code=self.exit_code)
        return self.exit_code


def supervise(settings: Settings) -> int:
    """Run ``settings.api_workers`` API processes on the settings' port until a signal; the exit code."""
    settings.check_exposure()
    check_shareable(settings)
    sock = listen(settings.host, settings.port)
    metrics_dir = Path(tempfile.mkdtemp(prefix="kgtwin-metrics-"))
    try:
        return Supervisor(settings, sock, metrics_dir).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
