"""Which twin a message is for: its model and telemetry reference, cached by the ingest path.

Looking a twin up in the graph for every message would cap ingest at the graph's read
rate, so answers are kept for ``ttl_s`` (a twin whose reference or model changes is seen
within that time; ``invalidate`` makes it immediate, for example on a change event). A
twin that does not exist is remembered too, for ``miss_ttl_s``, so a misconfigured device
publishing at full speed costs one lookup per period, not one per message. Misses of a
batch are resolved in one round trip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from graph.telemetry import TwinTarget

Resolver = Callable[[Sequence[str]], Mapping[str, TwinTarget]]
"""Looks up many twin ids at once (``graph.telemetry.telemetry_targets`` bound to a store)."""


class TwinTargets:
    """A TTL cache in front of a :data:`Resolver`."""

    def __init__(
        self,
        resolve: Resolver,
        *,
        ttl_s: float = 60.0,
        miss_ttl_s: float = 5.0,
        max_entries: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._ttl = ttl_s
        self._miss_ttl = miss_ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[TwinTarget | None, float]] = {}
        self.lookups = 0

    def targets(self, twin_ids: Iterable[str]) -> dict[str, TwinTarget]:
        """The target of each id that names a twin; unknown ids are absent."""
        now = self._clock()
        found: dict[str, TwinTarget] = {}
        missing: list[str] = []
        with self._lock:
            entries = self._entries
            for twin_id in dict.fromkeys(twin_ids):
                entry = entries.get(twin_id)
                if entry is None or entry[1] <= now:
                    missing.append(twin_id)
                elif entry[0] is not None:
                    found[twin_id] = entry[0]
        if missing:
            resolved = self._resolve(missing)
            self.lookups += 1
            with self._lock:
                if len(self._entries) + len(missing) > self._max:
                    self._entries.clear()
                for twin_id in missing:
                    target = resolved.get(twin_id)
                    ttl = self._ttl if target is not None else self._miss_ttl
                    self._entries[twin_id] = (target, now + ttl)
                    if target is not None:
                        found[twin_id] = target
        return found

    def invalidate(self, twin_ids: Iterable[str] | None = None) -> None:
        """Forget some twins (or all): the next message for them looks them up again."""
        with self._lock:
            if twin_ids is None:
                self._entries.clear()
            else:
                for twin_id in twin_ids:
                    self._entries.pop(twin_id, None)
