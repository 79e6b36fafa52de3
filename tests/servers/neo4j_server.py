"""Start the Neo4j 5.26 Community test server built by ``tests/servers/neo4j/build.sh``.

The server is Neo4j embedded in a one-class Java launcher (``Neo4jTestServer``): one
DBMS in a fresh data directory, Bolt on a free loopback port, no authentication. Use
its ``url`` (``bolt://``: a single instance, so the driver needs no routing table).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import CACHE_DIR, ServerProcess, ServerUnavailable, free_port, launch

NEO4J_DIR = CACHE_DIR / "neo4j"
LAUNCHER_JAR = NEO4J_DIR / "neo4j-test-server.jar"
LIB_DIR = NEO4J_DIR / "lib"
MAIN_CLASS = "dev.kgtwin.testserver.Neo4jTestServer"

# The JVM starts and Neo4j opens its store in about 7 s on a quiet machine; a loaded CI
# runner can take several times that.
START_TIMEOUT_S = 90.0
# From the server.jvm.additional defaults in Neo4j 5.26's neo4j.conf: without these
# opens the page cache falls back to slower buffers and every transaction-log file
# operation logs an "Incorrect file descriptor" warning.
_NEO4J_JVM_OPTIONS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:-OmitStackTraceInFastThrow",
)
# Printed by Neo4jTestServer once the default database is available.
_READY = b"READY bolt://"


@dataclass
class Neo4jServer:
    """A running Neo4j test server and the Bolt URL the Python driver connects to."""

    process: ServerProcess
    url: str

    def stop(self) -> None:
        """SIGTERM: the launcher's shutdown hook closes the DBMS cleanly."""
        self.process.stop()


def start_neo4j(workdir: Path) -> Neo4jServer:
    """Start a Neo4j test server with its data and log in ``workdir``; wait until it answers."""
    if not LAUNCHER_JAR.is_file() or not LIB_DIR.is_dir():
        raise ServerUnavailable("Neo4j test server not built: run tests/servers/provision.sh")
    java = shutil.which("java")
    if java is None:
        raise ServerUnavailable("Neo4j test server needs a Java 17+ runtime on PATH")
    port = free_port()
    data_dir = workdir / "data"
    argv = [
        java,
        "-Xms256m",
        "-Xmx1g",
        *_NEO4J_JVM_OPTIONS,
        "-cp",
        os.pathsep.join([str(LAUNCHER_JAR), str(LIB_DIR / "*")]),
        MAIN_CLASS,
        str(data_dir),
        str(port),
    ]
    process = launch("neo4j", argv, workdir, port)
    try:
        _wait_until_ready(process, time.monotonic() + START_TIMEOUT_S)
    except BaseException:
        process.stop()
        raise
    return Neo4jServer(process=process, url=f"bolt://127.0.0.1:{port}")


def _wait_until_ready(process: ServerProcess, deadline: float) -> None:
    """Wait for Bolt, then for the launcher's ``READY``.

    In 5.26 both come within milliseconds, but only ``READY`` promises that the default
    database is available, and that the port is ours rather than a process that took
    it after ``free_port`` released it.
    """
    process.wait_until_listening(max(deadline - time.monotonic(), 0.0))
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(
                f"neo4j exited with code {process.process.returncode} before READY:\n{process.log_tail()}"
            )
        if _READY in process.log_path.read_bytes():
            return
        time.sleep(0.1)
    raise RuntimeError(f"neo4j did not print READY within {START_TIMEOUT_S} s:\n{process.log_tail()}")
