"""What ``/readyz`` answers about the backends: the last check, kept briefly, refreshed off the request path.

A load balancer or kubelet asks every replica for its readiness once a second or more
often. Pinging Neo4j, InfluxDB and the broker for each probe costs round trips and a
thread of the pool the request handlers share; on a busy process the probe waited behind
the requests in that pool, timed out, and the balancer took a healthy replica out of
rotation (with its peer being replaced, it had none left). So :class:`Readiness` answers
from the last check while it is younger than ``ttl_s`` and, up to ``stale_s``, still
answers from it at once while a thread of its own checks again. Older than that (probes
are rare, or a backend accepts connections but never answers) a probe waits for the
running check, at most ``wait_s``, and says unready if it has not completed.

Shutdown is not cached: ``/readyz`` reads the stopping flag (``api.lifecycle``) before
asking this class, so a stopping process turns unready with the very next probe.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from api.context import BackendHealth

TTL_S = 1.0
"""How long a check answers probes before the next probe starts a new one."""
STALE_S = 10.0
"""How old a check may be and still answer a probe while a new one runs."""
WAIT_S = 0.8
"""The longest a probe waits for a check (under the 1 s probe timeout of Kubernetes' default)."""


class Readiness:
    """The backends' health for the readiness probe: cached for ``ttl_s``, checked in a thread of its own.

    ``check`` pings every backend and never raises (``ApiContext.health``). At most one
    check runs at a time, never in the request handlers' thread pool.
    """

    def __init__(
        self,
        check: Callable[[], list[BackendHealth]],
        *,
        ttl_s: float = TTL_S,
        stale_s: float = STALE_S,
        wait_s: float = WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.wait_s = wait_s
        self._clock = clock
        self._lock = threading.Lock()
        self._result: list[BackendHealth] | None = None
        self._checked_at = -math.inf
        self._running: Future[list[BackendHealth]] | None = None

    async def backends(self) -> list[BackendHealth]:
        """The backends' health as of at most ``ttl_s`` ago, or as recent as the probe can wait for."""
        with self._lock:
            age = self._clock() - self._checked_at
            if self._result is not None and age < self.ttl_s:
                return self._result
            if self._running is None:
                self._running = Future()
                threading.Thread(
                    target=self._run, args=(self._running,), name="readiness", daemon=True
                ).start()
            running = self._running
            if self._result is not None and age < self.stale_s:
                return self._result
        try:
            # Shielded: a probe that gives up must not cancel the check the next probe wants.
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(running)), self.wait_s)
        except TimeoutError:
            since = "yet" if math.isinf(age) else f"for {age:.0f} s"
            return [
                BackendHealth(
                    port="checks",
                    backend="readiness",
                    ok=False,
                    error=f"no backend check has completed {since}",
                )
            ]

    def _run(self, running: Future[list[BackendHealth]]) -> None:
        try:
            result = self._check()
        except Exception as exc:  # ApiContext.health never raises; should a check, the probe still answers
            result = [BackendHealth(port="checks", backend="readiness", ok=False, error=repr(exc))]
        with self._lock:
            self._result, self._checked_at, self._running = result, self._clock(), None
        running.set_result(result)
