"""A bulk import's writes, run in order on a thread of their own while the next batch is read.

Reading, parsing and validating a batch is Python work; writing it is mostly the
engine's (another process, waited on with the GIL released). Running the two at once
keeps both busy: on FalkorDB and Neo4j alike an import spends about as long waiting for
its statements as it spends in Python. Work items run strictly one after another in the
order they were submitted, so the reads a batch makes while writing (which edges exist,
how many a source has) see every batch before it. The queue holds two batches, so memory
stays bounded by a few batches. The first failure stops the pipeline (later work is
dropped) and is raised again in the importing thread at its next ``submit`` or ``drain``.

While the pipeline runs, Python's thread switch interval is cut from 5 ms to 0.5 ms: when
the engine answers, the writer thread must win the GIL back from the busy importing
thread before it can send the next statement, and at 5 ms those waits left the engine
idle for a fifth of a FalkorDB import (55,000 against 69,000 elements/s, measured).
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Work = Callable[[], None]
DEPTH = 2
SWITCH_INTERVAL_S = 0.0005


class WritePipeline:
    """One writer thread fed by a short queue of work items (closures that write one batch)."""

    def __init__(self, depth: int = DEPTH) -> None:
        self._queue: queue.Queue[Work | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kgtwin-import-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                if work is None:
                    return
                if self._error is None:
                    work()
            except BaseException as exc:  # raised again in the importing thread
                self._error = exc
            finally:
                self._queue.task_done()

    def submit(self, work: Work) -> None:
        """Queue ``work`` (waits while two items are queued); raises an earlier item's failure."""
        self._raise()
        self._queue.put(work)

    def drain(self) -> None:
        """Wait until every submitted item ran: then the graph holds everything written so far."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Stop the thread once the queued items ran (or were dropped after a failure)."""
        self._queue.put(None)
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:  # kept: later work is dropped, the import is failing
            raise self._error


@contextmanager
def write_pipeline() -> Iterator[WritePipeline]:
    """A pipeline whose thread is stopped on the way out, whether the import succeeded or not."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL_S))
    pipeline = WritePipeline()
    try:
        yield pipeline
    finally:
        pipeline.close()
        sys.setswitchinterval(interval)
