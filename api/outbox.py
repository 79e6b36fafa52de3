"""A bounded queue with a thread of its own that hands each item on: writers never wait.

The event bus calls its subscribers in the writer's thread, and an MQTT publish waits
for the broker's acknowledgement. Change notifications (``api.notifications``) and the
ADT event routes (``api.adt.event_router``) therefore only put the event here; the
outbox's thread passes it to their handler. When the broker is slower than the writers,
the oldest items are dropped and counted (``dropped``), never the writer delayed.
Stopping hands on what is queued first, within a timeout.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class Outbox[T]:
    """Items put from any thread, handed to ``handle`` one at a time, in order, by one thread."""

    def __init__(self, handle: Callable[[T], None], *, name: str, maxsize: int) -> None:
        self.dropped = 0
        self._handle = handle
        self._name = name
        self._queue: deque[T] = deque(maxlen=maxsize)
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread that hands items on."""
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        """Queue ``item``; when the queue is full the oldest item is dropped."""
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(item)
            self._ready.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Hand on what is queued (within ``timeout``), then stop the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if not self._queue:
                    return
                item = self._queue.popleft()
            self._handle(item)
