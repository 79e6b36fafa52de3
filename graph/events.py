"""Change events: what changed in the twin graph, announced after it is written.

Every successful change of a twin, a relationship or a model becomes one
:class:`ChangeEvent`, published on an in-process :class:`EventBus` only after the
writing statement returned (each change is one statement, committed when it returns),
so a refused or rolled-back change is never announced. The API turns events into
GraphQL subscriptions and MQTT notifications.

Subscribers either give a callback, called in the writer's thread (keep it short: it
delays the writer), or open an :class:`EventStream`, an async iterator for one asyncio
loop, fed from any thread. A failing subscriber is logged and never breaks the writer or
the other subscribers. **Overflow policy:** a stream holds at most ``maxsize`` events;
when a slow consumer lets it fill, the *oldest* event is dropped and ``dropped`` counts
it, so a consumer always sees the latest state and can tell it missed some (then re-read
what it shows) — a writer is never blocked by a reader.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

from graph.times import utc_now

log = logging.getLogger(__name__)

DEFAULT_STREAM_SIZE = 1000


class ChangeKind(StrEnum):
    """What happened; the value is the event type MQTT topics and GraphQL clients see."""

    TWIN_CREATED = "twin.created"
    TWIN_UPDATED = "twin.updated"
    TWIN_DELETED = "twin.deleted"
    RELATIONSHIP_CREATED = "relationship.created"
    RELATIONSHIP_UPDATED = "relationship.updated"
    RELATIONSHIP_DELETED = "relationship.deleted"
    MODEL_UPLOADED = "model.uploaded"
    MODEL_DECOMMISSIONED = "model.decommissioned"
    MODEL_DELETED = "model.deleted"
    SHADOW_DRIFT = "shadow.drift"
    """A live shadow's residual left its band (``simulation.fmu.shadow``); ``id`` is the twin."""
    SHADOW_RECOVERED = "shadow.recovered"
    """The residual came back inside its band."""


@dataclass(frozen=True)
class ChangeEvent:
    """One committed change.

    ``id`` is the twin id, the relationship id (unique per ``source``) or the DTMI;
    ``at`` is UTC ISO 8601 (a twin's ``updatedAt`` for twin changes); ``model`` is the
    twin's model, the relationship source's model, or the DTMI itself; ``source`` is the
    source twin of a relationship. ``data`` depends on ``kind`` (``docs/graph-model.md``):
    the twin (etag and properties), the JSON Patch of an update, the relationship
    (name, target, properties) or the model document.
    """

    kind: ChangeKind
    id: str
    at: str
    model: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    origin: str | None = field(default=None, compare=False)
    """The process that made the change when it was another one (None: this process).

    Events of other processes arrive over MQTT (``api.remote_changes``); they are shown to
    this process's subscribers but never published again."""

    @classmethod
    def now(
        cls,
        kind: ChangeKind,
        id: str,
        *,
        model: str | None = None,
        data: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> ChangeEvent:
        """An event stamped with the current time."""
        return cls(kind, id, utc_now(), model, dict(data or {}), source)

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON (for MQTT payloads and logs)."""
        found = {"kind": self.kind.value, "id": self.id, "at": self.at, "model": self.model}
        if self.source is not None:
            found["source"] = self.source
        return {**found, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, found: Mapping[str, Any], *, origin: str | None = None) -> ChangeEvent:
        """The event :meth:`to_dict` wrote; ``ValueError`` for anything else (a foreign payload)."""
        try:
            kind = ChangeKind(found["kind"])
            event_id, at, model, data = found["id"], found["at"], found.get("model"), found.get("data", {})
            source = found.get("source")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a change event: {exc!r}") from None
        if not isinstance(event_id, str) or not isinstance(at, str) or not isinstance(data, dict):
            raise ValueError("not a change event: id and at must be text, data an object")
        if not all(v is None or isinstance(v, str) for v in (model, source)):
            raise ValueError("not a change event: model and source must be text")
        return cls(kind, event_id, at, model, data, source, origin)


Subscriber = Callable[[ChangeEvent], None]


class EventBus:
    """Fans committed changes out to in-process subscribers; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def publish(self, event: ChangeEvent) -> None:
        """Hand ``event`` to every subscriber in subscription order; a failing one is logged."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                # A broken consumer must not undo or fail a change that is already committed.
                log.exception("change event subscriber %r failed on %s %s", subscriber, event.kind, event.id)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns the function that stops it."""
        with self._lock:
            self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback``; nothing happens if it is not subscribed."""
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def stream(
        self, *, maxsize: int = DEFAULT_STREAM_SIZE, loop: asyncio.AbstractEventLoop | None = None
    ) -> EventStream:
        """An async iterator of events for the running (or given) loop, subscribed at once."""
        stream = EventStream(self, loop or asyncio.get_running_loop(), maxsize)
        self.subscribe(stream.offer)
        return stream


class EventStream:
    """One async consumer's bounded buffer of events: ``async for event in stream``.

    Fed from any thread by :meth:`offer`; read on its loop. When full, the oldest event
    is dropped and counted in ``dropped``. Close it (or leave its ``with`` block) to
    unsubscribe.
    """

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"an event stream holds at least one event, not {maxsize}")
        self._bus = bus
        self._loop = loop
        self._lock = threading.Lock()
        self._buffer: deque[ChangeEvent] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self._wake_pending = False
        self.dropped = 0

    def offer(self, event: ChangeEvent) -> None:
        """Buffer ``event`` (from any thread), dropping the oldest one when full."""
        with self._lock:
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append(event)
            wake, self._wake_pending = not self._wake_pending, True
        if wake:
            # One wake-up per batch: the loop's own queue stays bounded however fast writers go.
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the consumer's loop is closed: nobody will read this stream
                self.close()
                raise

    async def get(self) -> ChangeEvent:
        """The next event, waiting for one."""
        while True:
            with self._lock:
                if self._buffer:
                    return self._buffer.popleft()
                self._wake_pending = False
                self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """Stop receiving events."""
        self._bus.unsubscribe(self.offer)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ChangeEvent:
        return await self.get()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def document_patch(
    before: Mapping[str, Any], after: Mapping[str, Any], path: str = ""
) -> list[dict[str, Any]]:
    """A JSON Patch (RFC 6902) turning ``before`` into ``after``: what a replaced twin changed.

    Objects are compared member by member, recursively; any other changed value is replaced whole.
    """
    patch: list[dict[str, Any]] = []
    for key, old in before.items():
        pointer = f"{path}/{_escape(key)}"
        if key not in after:
            patch.append({"op": "remove", "path": pointer})
        elif isinstance(old, Mapping) and isinstance(after[key], Mapping):
            patch += document_patch(old, after[key], pointer)
        elif old != after[key] or type(old) is not type(after[key]):
            patch.append({"op": "replace", "path": pointer, "value": after[key]})
    patch += [
        {"op": "add", "path": f"{path}/{_escape(key)}", "value": value}
        for key, value in after.items()
        if key not in before
    ]
    return patch


def _escape(key: str) -> str:
    # RFC 6901 §3: "~" is written "~0" and "/" is written "~1".
    return key.replace("~", "~0").replace("/", "~1")
