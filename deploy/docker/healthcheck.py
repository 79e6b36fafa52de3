"""The container image's HEALTHCHECK: ask the running kgtwin service for ``/healthz``.

``kgtwin serve`` and ``kgtwin api`` answer on their main port (``--port`` on their command
line, else ``KGTWIN_PORT``, else 8000); ``kgtwin ingest`` and ``kgtwin worker`` on their
health port (``KGTWIN_HEALTH_PORT``, else 8001). Which service runs is read from the
kgtwin process's command line, so one image-wide check fits every command. A one-shot
command (``kgtwin import`` ...) has nothing to ask and counts as healthy.

Standard library only: it runs beside the service in the same image, with no venv of its own.
"""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

MAIN_PORT_SERVICES = {"serve", "api"}
HEALTH_PORT_SERVICES = {"ingest", "worker"}
TIMEOUT_S = 4.0


def kgtwin_argv() -> list[str] | None:
    """The arguments after ``kgtwin`` of the oldest process running kgtwin, if any."""
    pids = sorted(int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        for index, part in enumerate(argv[:3]):
            if part == "kgtwin" or part.endswith("/kgtwin"):
                return argv[index + 1 :]
    return None


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE``."""
    for index, part in enumerate(argv):
        if part == name and index + 1 < len(argv):
            return argv[index + 1]
        if part.startswith(f"{name}="):
            return part.split("=", 1)[1]
    return None


def port_to_ask(argv: list[str]) -> int | None:
    """The port whose ``/healthz`` tells this service's health; None for one-shot commands."""
    command = argv[0] if argv else "serve"
    if command in MAIN_PORT_SERVICES:
        return int(option(argv, "--port") or os.environ.get("KGTWIN_PORT") or 8000)
    if command in HEALTH_PORT_SERVICES:
        return int(os.environ.get("KGTWIN_HEALTH_PORT") or 8001)
    return None


def main() -> int:
    argv = kgtwin_argv()
    if argv is None:
        print("healthcheck: no kgtwin process is running", file=sys.stderr)
        return 1
    port = port_to_ask(argv)
    if port is None:
        return 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
    except OSError as exc:
        print(f"healthcheck: 127.0.0.1:{port}/healthz: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != http.HTTPStatus.OK:
        print(f"healthcheck: 127.0.0.1:{port}/healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
