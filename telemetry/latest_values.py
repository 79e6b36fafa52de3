"""The last-value cache: each twin's newest value and time of each telemetry, in memory,
and the one rule for which of two values of a telemetry is the current one (:func:`freshest`).

The ingest path updates it once a point is durably stored, so the API can answer "what
does this sensor read now?" without a time-series query. It also remembers which twins
changed since they were last copied onto their graph node, so the graph is written at
most once per second per twin (``graph.latest``), however fast a device publishes.

Watchers (:meth:`LatestValues.watch`) are told which twins changed right after each
update, so the API's ``telemetry`` subscription pushes a value the moment ingest takes it
instead of polling. They are called in ingest's threads: a watcher must be quick and
thread-safe, and one that raises is logged, never allowed to fail ingest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import NamedTuple

import structlog

from telemetry.points import FieldValue, Sample, TelemetryPoint
from telemetry.refs import TWIN_TAG

_log = structlog.get_logger("kgtwin.ingest")

_MAX_NS = 2**63 - 1

LatestWatcher = Callable[[frozenset[str]], None]
"""Told the ids of the twins whose values an update changed (in the updating thread)."""


def freshest(first: Sample | None, second: Sample | None) -> Sample | None:
    """Which of two values of one telemetry is the current one: the later observed; ``first`` on a tie.

    The rule of every place that holds a latest value: the cache below (a point arriving
    is ``first`` against what it holds, so a redelivered correction with the same time
    replaces it), and a reader choosing between the cache and the copy on a twin's node
    (``graph.latest``): the cache is ``first``, as it is never older than what it copied.
    """
    if first is None:
        return second
    if second is None or first.time >= second.time:
        return first
    return second


class LatestValue(NamedTuple):
    """The newest value of one telemetry of one twin and when it was observed (ns since the epoch)."""

    value: FieldValue
    time_ns: int

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ns / 1e9, tz=UTC)


class _TwinLatest:
    """One twin's newest values and their times (two dicts, so updates stay C-level)."""

    __slots__ = ("newest_ns", "times", "values")

    def __init__(self) -> None:
        self.values: dict[str, FieldValue] = {}
        self.times: dict[str, int] = {}
        self.newest_ns = -1


class LatestValues:
    """Thread-safe map of twin id -> telemetry name -> :class:`LatestValue`.

    An older point (a late or redelivered message) never replaces a newer value, by
    :func:`freshest`'s rule, here on the nanosecond times (the hot path of ingest: the
    comparisons are written out rather than called). Points usually arrive in time order,
    so a point newer than everything known about its twin is taken whole with two
    ``dict.update`` calls; only late points go field by field.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._twins: dict[str, _TwinLatest] = {}
        self._dirty: set[str] = set()
        # Replaced, never mutated, so an update can call a snapshot outside the lock.
        self._watchers: tuple[LatestWatcher, ...] = ()

    def update(self, points: Iterable[TelemetryPoint]) -> None:
        """Take the values of stored points, then tell the watchers which twins changed."""
        with self._lock:
            watchers = self._watchers
            if not watchers:  # the ingest hot path when no subscription is open
                self._take(points, self._dirty)
                return
            changed: set[str] = set()
            try:
                self._take(points, changed)
            finally:  # a bad point midway: the twins changed before it still reach the graph
                self._dirty |= changed
        if changed:
            self._notify(watchers, frozenset(changed))

    def _take(self, points: Iterable[TelemetryPoint], changed: set[str]) -> None:
        """Apply ``points`` (the lock held), adding the ids of the twins they changed to ``changed``.

        A time outside 1970 .. 2262 (signed 64-bit nanoseconds, what every store and the
        graph copy can represent) is never taken: as the newest value it would break every
        read of the twin's ``latest`` until restart. Ingest refuses such times at the door;
        this is the cache's own guard.
        """
        twins = self._twins
        for point in points:
            at = point.time_ns
            if not 0 <= at <= _MAX_NS:
                _log.error("ingest.latest_time_refused", twin_id=point.tags.get(TWIN_TAG), time_ns=at)
                continue
            twin_id = point.tags[TWIN_TAG]
            twin = twins.get(twin_id)
            if twin is None:
                twin = twins[twin_id] = _TwinLatest()
            if at >= twin.newest_ns:
                twin.values.update(point.fields)
                twin.times.update(dict.fromkeys(point.fields, at))
                twin.newest_ns = at
                changed.add(twin_id)
                continue
            times = twin.times
            for name, value in point.fields.items():
                if times.get(name, -1) <= at:
                    twin.values[name] = value
                    times[name] = at
                    changed.add(twin_id)

    def _notify(self, watchers: tuple[LatestWatcher, ...], changed: frozenset[str]) -> None:
        for watcher in watchers:
            try:
                watcher(changed)
            except Exception:
                # The points are stored already: a broken watcher must not fail or stop ingest.
                _log.exception("ingest.latest_watcher_failed", watcher=repr(watcher), twins=len(changed))

    def watch(self, watcher: LatestWatcher) -> Callable[[], None]:
        """Call ``watcher(twin_ids)`` after each update that changes values; returns the unsubscribe.

        ``watcher`` runs in the updating (ingest) thread, outside the lock, so it may read
        this cache; it must be quick and thread-safe. It is registered under the lock, so
        a later value is either seen by a :meth:`get` made after ``watch`` returns or
        announced to ``watcher``: read the current values after watching, not before.
        """
        with self._lock:
            self._watchers = (*self._watchers, watcher)

        registered = [True]  # each unsubscribe removes its own registration once

        def unsubscribe() -> None:
            with self._lock:
                if not registered[0]:
                    return
                registered[0] = False
                i = next(i for i, w in enumerate(self._watchers) if w is watcher)
                self._watchers = self._watchers[:i] + self._watchers[i + 1 :]

        return unsubscribe

    @property
    def watchers(self) -> int:
        """How many watchers are registered (the open ``telemetry`` subscriptions of the API)."""
        return len(self._watchers)

    def get(self, twin_id: str) -> dict[str, LatestValue]:
        """The newest value of each telemetry of ``twin_id`` (empty when none arrived yet)."""
        with self._lock:
            twin = self._twins.get(twin_id)
            if twin is None:
                return {}
            return {name: LatestValue(value, twin.times[name]) for name, value in twin.values.items()}

    def sample(self, twin_id: str, name: str) -> Sample | None:
        """The newest value of telemetry ``name`` of ``twin_id`` as a ``Sample``; None when none arrived."""
        with self._lock:
            twin = self._twins.get(twin_id)
            if twin is None or name not in twin.values:
                return None
            value, time_ns = twin.values[name], twin.times[name]
        return Sample(LatestValue(value, time_ns).time, value)

    def twins(self) -> list[str]:
        """The twins with at least one value."""
        with self._lock:
            return list(self._twins)

    def take_changed(self) -> dict[str, tuple[dict[str, FieldValue], dict[str, int]]]:
        """Values and times of the twins changed since the last call, then no longer "changed"."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            twins = self._twins
            return {t: (dict(twins[t].values), dict(twins[t].times)) for t in dirty if t in twins}

    def mark_changed(self, twin_ids: Iterable[str]) -> None:
        """Flag twins again (their graph write failed and must be retried)."""
        with self._lock:
            self._dirty.update(t for t in twin_ids if t in self._twins)

    def forget(self, twin_ids: Iterable[str]) -> None:
        """Drop twins (deleted from the graph)."""
        with self._lock:
            for twin_id in twin_ids:
                self._twins.pop(twin_id, None)
                self._dirty.discard(twin_id)
