"""Where an API process is in its life: serving, or stopping (and since when it was last asked).

The composition root starts the shutdown (on SIGTERM); the app reads it: ``/readyz``
answers 503 from that moment, so a load balancer that checks it stops sending, while the
process keeps answering what still arrives. How long ago the last request arrived tells
the composition root when the balancer has stopped sending, so the process can stop
accepting connections without refusing anyone (``kgtwin.server``).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Lifecycle:
    """One API process's shutdown flag and the arrival time of its latest request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.stopping = False
        """Set once, when the shutdown starts; ``/readyz`` is 503 from then on."""
        self.last_request = clock()
        """When the latest request (probes excluded) or websocket arrived, on ``clock``."""

    def begin_shutdown(self) -> None:
        """Turn unready now; safe to call from a signal handler (it only sets a flag)."""
        self.stopping = True

    def arrived(self) -> None:
        """Note a request's arrival (``api.observation`` calls it for every non-probe request)."""
        self.last_request = self._clock()

    def quiet_s(self) -> float:
        """Seconds since the latest request arrived."""
        return self._clock() - self.last_request
