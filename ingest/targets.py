"""Which twin a message is for: its model and telemetry reference, cached by the ingest path.

Looking a twin up in the graph for every message would cap ingest at the graph's read
rate, so answers are kept. What keeps them true is the graph's version token
(``graph.telemetry.targets_version``): every write of a twin (created, replaced, deleted,
its telemetry reference changed), by any process, renews it before the write returns.
Each batch reads the token once; when it moved, every entry is stale and the batch's
twins are read again, in one round trip. So a change committed before a device publishes
is honoured by the next message, in every profile (read your writes), at the cost of one
index seek per batch. ``ttl_s`` still bounds an entry's age, for writers that do not
renew the token; ``invalidate`` forgets twins at once (change events).

A twin that does not exist is remembered too, for ``miss_ttl_s`` and only while the
token stands, so a misconfigured device publishing at full speed costs one token read
per batch, not one lookup per message.

At start the cache can be filled before the first message (``warm``): a fleet that
publishes as ingest starts (a first start, a restart, a rolling update) would otherwise
send every twin's first message into a read of its own batch, all at once, and those
reads, competing with the writes, held the first round of 10,000 devices seconds behind
(``docs/performance.md``, Fleet).

Memory is bounded by bytes, not entries: a twin id may be long (the ingest door caps it,
``KGTWIN_INGEST_MAX_TWIN_ID_LENGTH``), and devices may name any number of unknown ids.
Known twins are kept up to ``max_bytes``, unknown ones up to an eighth of it; past that,
the oldest go first, and unknown ones are released as they expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from graph.telemetry import TwinTarget

Resolver = Callable[[Sequence[str]], Mapping[str, TwinTarget]]
"""Looks up many twin ids at once (``graph.telemetry.telemetry_targets`` bound to a store)."""

Version = Callable[[], str | None]
"""Reads the graph's version token (``graph.telemetry.targets_version`` bound to a store)."""

Listing = Callable[[int], Mapping[str, TwinTarget]]
"""Lists up to that many twins' targets (``graph.telemetry.some_telemetry_targets`` bound to a store)."""

# What one entry costs besides its id's characters: the dict slot, the tuple, and (for a
# known twin) its TwinTarget with the reference's tags.
_ENTRY_BYTES = 512


class TwinTargets:
    """A cache in front of a :data:`Resolver`, kept true by the graph's version token."""

    def __init__(
        self,
        resolve: Resolver,
        *,
        version: Version | None = None,
        listing: Listing | None = None,
        ttl_s: float = 60.0,
        miss_ttl_s: float = 2.0,
        max_bytes: int = 128 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._version = version
        self._listing = listing
        self._ttl = ttl_s
        self._miss_ttl = miss_ttl_s
        self._max_bytes = max_bytes
        self._max_miss_bytes = max(max_bytes // 8, _ENTRY_BYTES)
        self._clock = clock
        self._lock = threading.Lock()
        # Insertion-ordered: the oldest first. A miss always lives miss_ttl_s, so the
        # expired misses are at the front.
        self._known: dict[str, tuple[TwinTarget, float]] = {}
        self._unknown: dict[str, float] = {}
        self._known_bytes = 0
        self._unknown_bytes = 0
        self._token: str | None = None
        self.lookups = 0
        self.version_reads = 0

    @property
    def bytes(self) -> int:
        """What the entries cost, as counted against ``max_bytes``."""
        return self._known_bytes + self._unknown_bytes

    def warm(self, limit: int) -> int:
        """Read up to ``limit`` twins (fewer if the memory budget holds fewer) into the cache.

        The version token is read first: a twin written while the listing runs renews it,
        so the next batch finds the token moved and trusts nothing warmed. Returns how many
        twins were cached (0 without a ``listing``).
        """
        limit = min(limit, self._max_bytes // (_ENTRY_BYTES + 64))
        if self._listing is None or limit <= 0:
            return 0
        self._follow_version()
        listed = self._listing(limit)
        now = self._clock()
        with self._lock:
            for twin_id, target in listed.items():
                self._remember(twin_id, target, now)
            self._bound(now)
        return len(listed)

    def targets(self, twin_ids: Iterable[str]) -> dict[str, TwinTarget]:
        """The target of each id that names a twin; unknown ids are absent."""
        ids = list(dict.fromkeys(twin_ids))
        self._follow_version()
        now = self._clock()
        found: dict[str, TwinTarget] = {}
        missing: list[str] = []
        with self._lock:
            known, unknown = self._known, self._unknown
            for twin_id in ids:
                hit = known.get(twin_id)
                if hit is not None and hit[1] > now:
                    found[twin_id] = hit[0]
                    continue
                expires = unknown.get(twin_id)
                if expires is None or expires <= now:
                    missing.append(twin_id)
        if missing:
            resolved = self._resolve(missing)
            self.lookups += 1
            with self._lock:
                for twin_id in missing:
                    target = resolved.get(twin_id)
                    if target is not None:
                        found[twin_id] = target
                        self._remember(twin_id, target, now)
                    else:
                        self._forget_one(twin_id)
                        self._unknown[twin_id] = now + self._miss_ttl
                        self._unknown_bytes += len(twin_id) + _ENTRY_BYTES
                self._bound(now)
        return found

    def _follow_version(self) -> None:
        """Read the version token; when it moved, forget everything (nothing cached can be trusted)."""
        if self._version is None:
            return
        token = self._version()
        self.version_reads += 1
        if token != self._token:
            self.invalidate()
            self._token = token

    def _remember(self, twin_id: str, target: TwinTarget, now: float) -> None:
        self._forget_one(twin_id)
        self._known[twin_id] = (target, now + self._ttl)
        self._known_bytes += len(twin_id) + _ENTRY_BYTES

    def _bound(self, now: float) -> None:
        """Release expired unknown ids, then the oldest entries past the budgets (the lock held)."""
        unknown = self._unknown
        while unknown:
            oldest = next(iter(unknown))
            if unknown[oldest] > now and self._unknown_bytes <= self._max_miss_bytes:
                break
            del unknown[oldest]
            self._unknown_bytes -= len(oldest) + _ENTRY_BYTES
        known = self._known
        while known and self._known_bytes > self._max_bytes:
            oldest = next(iter(known))
            del known[oldest]
            self._known_bytes -= len(oldest) + _ENTRY_BYTES

    def _forget_one(self, twin_id: str) -> None:
        if self._known.pop(twin_id, None) is not None:
            self._known_bytes -= len(twin_id) + _ENTRY_BYTES
        if self._unknown.pop(twin_id, None) is not None:
            self._unknown_bytes -= len(twin_id) + _ENTRY_BYTES

    def __len__(self) -> int:
        """Twins cached (found or known missing)."""
        return len(self._known) + len(self._unknown)

    def invalidate(self, twin_ids: Iterable[str] | None = None) -> None:
        """Forget some twins (or all): the next message for them looks them up again."""
        with self._lock:
            if twin_ids is None:
                self._known.clear()
                self._unknown.clear()
                self._known_bytes = self._unknown_bytes = 0
            else:
                for twin_id in twin_ids:
                    self._forget_one(twin_id)
