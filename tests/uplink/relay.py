"""A TCP relay: the cloud namespace reaches the test servers, which listen on the host's loopback only.

``python -m tests.uplink.relay HOST PORT=TARGET_HOST:TARGET_PORT ...`` listens on
``HOST:PORT`` (an address of the veth pair between the host and the "cloud" namespace)
and copies bytes both ways to the target, one connection for each connection, until SIGTERM.
It runs as a process of its own so that its copying does not share the test's GIL.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

Connection = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _serve(host: str, routes: dict[int, tuple[str, int]]) -> None:
    def handler(target: tuple[str, int]) -> Connection:
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        return relay

    servers = [await asyncio.start_server(handler(t), host, p) for p, t in routes.items()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("relay listening", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    routes: dict[int, tuple[str, int]] = {}
    for arg in sys.argv[2:]:
        port, target = arg.split("=")
        target_host, target_port = target.rsplit(":", 1)
        routes[int(port)] = (target_host, int(target_port))
    asyncio.run(_serve(sys.argv[1], routes))
