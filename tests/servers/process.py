"""Start and stop the real test servers as child processes.

Every server the tests use (Neo4j, InfluxDB, Mosquitto) is a real program built or
installed by ``tests/servers/provision.sh``. This module holds what their launchers
share: a free loopback port, waiting until a port answers, and a process handle that
is stopped with SIGTERM (then SIGKILL) when the test session ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CACHE_DIR = Path(os.environ.get("KGTWIN_TEST_SERVERS_CACHE", Path.home() / ".cache" / "kgtwin-test-servers"))


class ServerUnavailable(RuntimeError):
    """Raised when a server is not provisioned; the message says how to get it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class ServerProcess:
    """A running test server: its process, its port and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_listening(self, timeout: float) -> None:
        """Block until the port answers; fail with the log tail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} before listening:\n"
                    f"{self.log_tail()}"
                )
            if port_answers(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not listen on port {self.port} within {timeout} s:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM, wait, then SIGKILL: servers get the chance to shut down cleanly."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace)


def launch(
    name: str, argv: list[str], workdir: Path, port: int, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start ``argv`` in ``workdir`` with its output in ``workdir/<name>.log``."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        argv,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    log.close()
    return ServerProcess(name=name, process=process, port=port, log_path=log_path)
