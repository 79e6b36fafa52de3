"""Latest values onto the twin graph: the ingest service's graph thread.

Once per ``interval_s`` the twins whose newest values changed (``LatestValues.take_changed``)
are copied onto their nodes (``graph.latest.write_latest``, bound to a store by the
composition root). Under load the copy itself takes time; waiting at least four times as
long keeps the graph writes below a fifth of the process (each twin still at most once
per interval, just less often when busy).

One refused value must not stop the copy for everyone: when the graph refuses a batch
(``BadRequest``), the twins are written one by one and a refused twin is logged and
dropped until its next value. When the graph is down, every value waits for the next
round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import structlog

from ontology.errors import BadRequest
from telemetry.latest_values import LatestValues
from telemetry.points import FieldValue

_log = structlog.get_logger("kgtwin.ingest")

Changed = Mapping[str, tuple[Mapping[str, FieldValue], Mapping[str, int]]]
"""Twin id -> (telemetry name -> newest value, telemetry name -> its time in ns)."""

LatestWriter = Callable[[Changed], object]
"""Writes last values onto twin nodes (``graph.latest.write_latest`` bound to a store)."""


class LatestCopy:
    """Copies changed last values from the cache onto the twin graph, each interval."""

    def __init__(self, latest: LatestValues, write: LatestWriter | None, interval_s: float) -> None:
        self.latest = latest
        self._write = write
        self.interval_s = interval_s

    def run(self, done: threading.Event) -> None:
        """Copy every interval until ``done`` is set (the graph thread's body)."""
        pause = self.interval_s
        while not done.wait(pause):
            began = time.monotonic()
            self.flush()
            pause = max(self.interval_s, 4 * (time.monotonic() - began))

    def flush(self) -> None:
        """Copy what changed since the last flush."""
        if self._write is None:
            return
        changed = self.latest.take_changed()
        if not changed:
            return
        try:
            self._write(changed)
        except BadRequest as exc:  # a value the graph refuses: write the others, twin by twin
            _log.warning("ingest.latest_write_refused", error=exc.message, twins=len(changed))
            self._write_apart(changed)
        except Exception as exc:  # the graph is down: keep the values and try next round
            _log.warning("ingest.latest_write_failed", error=str(exc) or type(exc).__name__)
            self.latest.mark_changed(changed)

    def _write_apart(self, changed: Changed) -> None:
        assert self._write is not None
        for twin_id, values in changed.items():
            try:
                self._write({twin_id: values})
            except BadRequest as exc:  # never retried: it would be refused every round
                _log.error("ingest.latest_refused", twin_id=twin_id[:200], error=exc.message)
            except Exception as exc:
                _log.warning("ingest.latest_write_failed", error=str(exc) or type(exc).__name__)
                self.latest.mark_changed([twin_id])
