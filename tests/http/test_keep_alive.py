"""Idle HTTP connections outlive the pools in front of the API.

A load balancer or client pool that keeps a connection idle for longer than the server
does can send a request just as the server closes it: the request is lost ("server
disconnected without sending a response", a 502 from a balancer), and a mutation cannot
be retried blindly. uvicorn closes idle connections after 5 s by default, below every
common pool (httpx 5 s, HAProxy's idle pool, an AWS ALB 60 s); kgtwin keeps them
``KGTWIN_HTTP_KEEPALIVE_S`` (75 s). Real ``kgtwin serve`` processes and raw sockets.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.http.conftest import Served, start_serve, stop_serve

REQUEST_BODY = json.dumps({"query": "{ __typename }"}).encode()


def _connect(served: Served) -> socket.socket:
    address = urlsplit(served.url)
    assert address.hostname is not None
    assert address.port is not None
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _ask(connection: socket.socket) -> bytes:
    """One GraphQL request on a kept-alive connection; the whole answer."""
    connection.sendall(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(REQUEST_BODY)).encode() + b"\r\n\r\n" + REQUEST_BODY
    )
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = connection.recv(65536)
        assert chunk, f"the server closed the connection without an answer: {answer!r}"
        answer += chunk
    return answer


def _closed_by_server(connection: socket.socket) -> bool:
    """True when the server has closed its end (a read would return end of file)."""
    readable, _, _ = select.select([connection], [], [], 0)
    return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""


@pytest.fixture(scope="module")
def short_keepalive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serve(Path(tmp_path_factory.mktemp("keepalive")), {"KGTWIN_HTTP_KEEPALIVE_S": "1"})
    try:
        yield served
    finally:
        stop_serve(served)


def test_an_idle_connection_outlives_common_client_pools(serve: Served) -> None:
    with _connect(serve) as connection:
        assert b'"__typename":"Query"' in _ask(connection)
        time.sleep(6.5)  # past uvicorn's own 5 s and httpx's pool expiry
        assert not _closed_by_server(connection)
        assert b'"__typename":"Query"' in _ask(connection)


def test_the_idle_time_is_a_setting(short_keepalive: Served) -> None:
    with _connect(short_keepalive) as connection:
        assert b"200 OK" in _ask(connection)
        time.sleep(2.5)
        assert _closed_by_server(connection)
