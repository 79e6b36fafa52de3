"""How a service process stops: SIGTERM (or SIGINT) starts a clean stop that ends within the grace.

Every service turns unready at the signal, stops taking new work, finishes or hands back
what it holds, and exits 0, all within ``KGTWIN_SHUTDOWN_GRACE_S``
(docs/operations.md):

- the API (:class:`ApiServer`) answers ``/readyz`` 503 at once but keeps serving until no
  request has arrived for :data:`QUIET_S` (its load balancer has taken it out of rotation)
  or ``KGTWIN_SHUTDOWN_DRAIN_S`` has passed; then it stops accepting connections, lets the
  requests in flight finish, and closes its websockets with 1012 (service restart), which
  tells GraphQL clients to reconnect, through the balancer, to another replica;
- ingest and the worker (:class:`StopSignals`) stop at once: ingest makes its batch
  durable and acknowledges it, the worker puts its run back in the queue.

Should a stop outlast the grace anyway (a backend that hangs), :class:`Deadline` ends the
process with exit code 1 and a log line, before the orchestrator's SIGKILL would, so the
cause is on record.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import structlog
import uvicorn

from api.lifecycle import Lifecycle

QUIET_S = 1.0
"""A draining API stops accepting connections once no request has arrived for this long."""
CLOSE_MARGIN_S = 2.0
"""Kept from the grace for closing the backends after the last request."""
EXIT_OVERDUE = 1

_log = structlog.get_logger("kgtwin.lifecycle")


class Deadline:
    """Ends the process ``grace_s`` after :meth:`start`, if it is still running then."""

    def __init__(self, grace_s: float, exit: Callable[[int], None] = os._exit) -> None:
        self.grace_s = grace_s
        self._exit = exit
        self._started_at: float | None = None

    def start(self) -> None:
        """Start counting (once): a daemon thread, so a process that stops in time ends normally."""
        if self._started_at is not None:
            return
        self._started_at = time.monotonic()
        threading.Thread(target=self._wait, name="shutdown-deadline", daemon=True).start()

    def remaining(self) -> float:
        """Seconds left of the grace (all of it before :meth:`start`)."""
        if self._started_at is None:
            return self.grace_s
        return self.grace_s - (time.monotonic() - self._started_at)

    def _wait(self) -> None:
        time.sleep(self.grace_s)
        _log.error("service.stop_overdue", grace_s=self.grace_s)
        self._exit(EXIT_OVERDUE)


class StopSignals:
    """SIGTERM and SIGINT for a service without a web server: ``stop`` once, in a thread of its own.

    :attr:`stopping` turns true in the handler itself (a plain attribute: readiness probes
    read it from other threads), ``stop`` runs in a new thread, not in the handler: a
    handler interrupts the main thread anywhere, possibly inside a lock ``stop`` would
    take. A second signal changes nothing; the deadline holds.
    """

    def __init__(self, stop: Callable[[], None], deadline: Deadline) -> None:
        self._stop = stop
        self._deadline = deadline
        self.stopping = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        self._deadline.start()
        threading.Thread(target=self._stopping, args=(signum,), name="shutdown").start()

    def _stopping(self, signum: int) -> None:
        _log.info("service.stopping", signal=signal.Signals(signum).name, grace_s=self._deadline.grace_s)
        self._stop()


class ApiServer(uvicorn.Server):
    """uvicorn's server, draining before it stops (see the module doc).

    Overrides two of uvicorn's hooks: ``handle_exit`` (the signal handler) and ``on_tick``
    (called every 0.1 s by its main loop, which stops once ``should_exit`` is set). A
    second signal skips the rest of the drain, a third stops without waiting for requests
    in flight.
    """

    def __init__(
        self, config: uvicorn.Config, lifecycle: Lifecycle, *, drain_s: float, deadline: Deadline
    ) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_s = drain_s
        self.deadline = deadline
        self._drain_until = 0.0
        self._signal: int | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.lifecycle.stopping:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True
            return
        # Flags only: logging here could deadlock on a lock the interrupted code holds.
        self.lifecycle.begin_shutdown()
        self.deadline.start()
        self._drain_until = time.monotonic() + self.drain_s
        self._signal = sig

    async def on_tick(self, counter: int) -> bool:
        if self.lifecycle.stopping and not self._announced:
            self._announced = True
            name = signal.Signals(self._signal).name if self._signal is not None else None
            _log.info("service.stopping", signal=name, drain_s=self.drain_s, grace_s=self.deadline.grace_s)
        if self.lifecycle.stopping and not self.should_exit:
            quiet = self.lifecycle.quiet_s()
            if quiet >= QUIET_S or time.monotonic() >= self._drain_until:
                _log.info("service.drained", quiet_s=round(quiet, 2))
                self.should_exit = True
        if self.should_exit:
            # What is left of the grace goes to the requests in flight, less the backends' close.
            self.config.timeout_graceful_shutdown = max(1, int(self.deadline.remaining() - CLOSE_MARGIN_S))
        return await super().on_tick(counter)
