"""Mosquitto 2 (from Debian's package) started for the tests on a free loopback port."""

from __future__ import annotations

import getpass
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import ServerProcess, ServerUnavailable, free_port, launch

# Queue limits are set on purpose: with Mosquitto's default of 1,000 queued QoS 1
# messages per client, a subscriber that falls behind loses the rest silently. The tests
# (like the compose stack and the docs) lift the count limit and bound memory by bytes
# instead, so bursts far larger than 1,000 messages arrive whole.
CONFIG = """\
listener {port} 127.0.0.1
user {user}
allow_anonymous true
persistence true
persistence_location {data}/
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
log_dest stdout
log_type error
log_type warning
log_type notice
"""


@dataclass
class MosquittoServer:
    """A running Mosquitto; ``url`` is what kgtwin's broker setting takes."""

    process: ServerProcess
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise ServerUnavailable(
            "Mosquitto not installed: run tests/servers/provision.sh (apt-get install mosquitto)"
        )
    return found


def start_mosquitto(workdir: Path) -> MosquittoServer:
    binary = mosquitto_binary()
    port = free_port()
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "mosquitto.conf"
    # `user` keeps a root-run Mosquitto from dropping to a user that cannot write `data`.
    config.write_text(CONFIG.format(port=port, data=data, user=getpass.getuser()))
    process = launch("mosquitto", [binary, "-c", str(config)], workdir, port)
    process.wait_until_listening(timeout=15)
    return MosquittoServer(process=process, host="127.0.0.1", port=port)
