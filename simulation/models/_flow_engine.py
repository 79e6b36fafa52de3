"""The SimPy side of the flow model: channels that hold parts, and the processes that move them.

A part is its arrival time (a float): all the model needs to know of it is its lead
time when it leaves. Every place a part can wait is a :class:`Channel`:

- a Buffer is a channel of its capacity, taken from by the stations it feeds;
- a Machine or Conveyor fed by anything else has a channel of capacity 0: a part passes
  only when one of its slots is idle and waiting (blocking after service upstream);
- a Sink accepts every part at once and counts it.

Each slot of a station is one process: take a part (starved while none comes), work
(a cycle time, plus repairs when a failure falls in it), then hand it on to the
downstream chosen by the routing probabilities (blocked until it is accepted). A wait
that ends at once schedules no event; one that does not is one ``Event`` that the
other side succeeds.

Time shares count only after the warm-up: an interval that straddles it is clipped.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import simpy
from simpy.events import Event

_INF = math.inf


class FlowTotals:
    """The line as a whole: parts in the system over time, and parts that left it."""

    __slots__ = ("area", "env", "last", "lead_times", "out", "scrapped", "warmup", "wip")

    def __init__(self, env: simpy.Environment, warmup: float) -> None:
        self.env = env
        self.warmup = warmup
        self.wip = 0
        self.area = 0.0
        self.last = 0.0
        self.out = 0
        self.scrapped = 0
        self.lead_times: list[float] = []

    def change(self, delta: int) -> None:
        """Parts entered (``delta`` > 0) or left; integrates WIP over post-warm-up time."""
        now = self.env.now
        w = self.warmup
        if now > w:
            self.area += self.wip * (now - (self.last if self.last > w else w))
        self.last = now
        self.wip += delta

    def close(self, horizon: float) -> None:
        """Integrate WIP up to the end of the run."""
        w = self.warmup
        if horizon > w:
            self.area += self.wip * (horizon - (self.last if self.last > w else w))
        self.last = horizon


class Channel:
    """A place parts wait: FIFO, at most ``capacity`` parts, plus parts waiting to get in."""

    __slots__ = ("capacity", "env", "getters", "items", "putters")

    def __init__(self, env: simpy.Environment, capacity: float) -> None:
        self.env = env
        self.capacity = capacity
        self.items: deque[float] = deque()
        self.getters: deque[Event] = deque()
        self.putters: deque[tuple[Event, float]] = deque()

    def offer(self, part: float) -> bool:
        """Hand ``part`` to a waiting taker or store it; false when the channel is full."""
        if self.getters:
            self.getters.popleft().succeed(part)
            return True
        if len(self.items) < self.capacity:
            self.items.append(part)
            return True
        return False

    def wait_put(self, part: float) -> Event:
        """An event that succeeds when ``part``, refused by :meth:`offer`, has got in."""
        event = Event(self.env)
        self.putters.append((event, part))
        return event

    def take(self) -> float | None:
        """The next part, or ``None`` when there is none; lets a waiting putter in."""
        items = self.items
        if items:
            part = items.popleft()
            if self.putters:
                event, waiting = self.putters.popleft()
                items.append(waiting)
                event.succeed()
            return part
        if self.putters:
            event, part = self.putters.popleft()
            event.succeed()
            return part
        return None

    def wait_get(self) -> Event:
        """An event whose value is the next part, for a taker that found none."""
        event = Event(self.env)
        self.getters.append(event)
        return event


class Sink:
    """Where parts leave: accepts every part at once and records its lead time."""

    __slots__ = ("env", "received", "totals", "warmup")

    def __init__(self, env: simpy.Environment, totals: FlowTotals) -> None:
        self.env = env
        self.totals = totals
        self.warmup = totals.warmup
        self.received = 0

    def offer(self, part: float) -> bool:
        """Count ``part`` out; a sink is never full."""
        now = self.env.now
        totals = self.totals
        totals.change(-1)
        if now > self.warmup:
            self.received += 1
            totals.out += 1
            totals.lead_times.append(now - part)
        return True

    def wait_put(self, part: float) -> Event:  # pragma: no cover - offer never refuses
        raise AssertionError("a sink never refuses a part")


Target = Channel | Sink


class StationState:
    """Time shares of one station, summed over its slots, after the warm-up.

    ``marks`` holds, per slot, the state it is in and since when, so the open interval
    can be closed at the end of the run.
    """

    __slots__ = ("blocked", "busy", "down", "marks", "processed", "scrapped", "starved")

    def __init__(self, slots: int) -> None:
        self.busy = 0.0
        self.blocked = 0.0
        self.starved = 0.0
        self.down = 0.0
        self.processed = 0
        self.scrapped = 0
        self.marks = [[0, 0.0, 0.0, 0.0] for _ in range(slots)]


STARVED, WORKING, BLOCKED = 0, 1, 2


def slot(
    env: simpy.Environment,
    state: StationState,
    mark: list[Any],
    source: Channel,
    targets: list[Target],
    cumulative: list[float],
    cycles: Iterator[float],
    failures: Iterator[float] | None,
    repairs: Iterator[float] | None,
    uniforms: Iterator[float],
    scrap_rate: float,
    totals: FlowTotals,
) -> Generator[Event, Any, None]:
    """One slot of a Machine or Conveyor: take, work, hand on; forever."""
    w = totals.warmup
    timeout = env.timeout
    take, wait_get = source.take, source.wait_get
    single = targets[0] if len(targets) == 1 else None
    to_failure = next(failures) if failures is not None else _INF
    while True:
        t0 = env.now
        part = take()
        if part is None:
            mark[0], mark[1] = STARVED, t0
            part = yield wait_get()
            t1 = env.now
            if t1 > w:
                state.starved += t1 - (t0 if t0 > w else w)
            t0 = t1
        cycle = next(cycles)
        repair = 0.0
        if cycle >= to_failure:
            # Operation-dependent failures: the clock runs only while working.
            left = cycle
            while left >= to_failure:
                left -= to_failure
                repair += next(repairs)  # type: ignore[arg-type]
                to_failure = next(failures)  # type: ignore[arg-type]
            to_failure -= left
        else:
            to_failure -= cycle
        mark[0], mark[1], mark[2], mark[3] = WORKING, t0, cycle, repair
        yield timeout(cycle + repair)
        t1 = env.now
        if t1 > w:
            share = 1.0 if t0 >= w else (t1 - w) / (t1 - t0)
            state.busy += cycle * share
            state.down += repair * share
            state.processed += 1
        if scrap_rate and next(uniforms) < scrap_rate:
            if t1 > w:
                state.scrapped += 1
                totals.scrapped += 1
            totals.change(-1)
            continue
        target = single or targets[bisect_right(cumulative, next(uniforms))]
        if not target.offer(part):
            mark[0], mark[1] = BLOCKED, t1
            yield target.wait_put(part)
            t2 = env.now
            if t2 > w:
                state.blocked += t2 - (t1 if t1 > w else w)


def arrivals(
    env: simpy.Environment,
    state: StationState,
    mark: list[Any],
    targets: list[Target],
    cumulative: list[float],
    interarrivals: Iterator[float],
    batch: int,
    uniforms: Iterator[float],
    totals: FlowTotals,
) -> Generator[Event, Any, None]:
    """A Source: a batch of parts at each arrival, each routed on; blocked while refused."""
    w = totals.warmup
    timeout = env.timeout
    single = targets[0] if len(targets) == 1 else None
    while True:
        t0 = env.now
        mark[0], mark[1], mark[2], mark[3] = WORKING, t0, 0.0, 0.0
        yield timeout(next(interarrivals))
        for _ in range(batch):
            part = env.now
            totals.change(1)
            if part > w:
                state.processed += 1
            target = single or targets[bisect_right(cumulative, next(uniforms))]
            if not target.offer(part):
                t1 = env.now
                mark[0], mark[1] = BLOCKED, t1
                yield target.wait_put(part)
                t2 = env.now
                if t2 > w:
                    state.blocked += t2 - (t1 if t1 > w else w)


def close_marks(state: StationState, horizon: float, warmup: float) -> None:
    """Add the open interval of every slot at the end of the run."""
    for kind, since, cycle, repair in state.marks:
        start = since if since > warmup else warmup
        if horizon <= start:
            continue
        if kind == STARVED:
            state.starved += horizon - start
        elif kind == BLOCKED:
            state.blocked += horizon - start
        elif cycle + repair > 0:
            # Working until ``since + cycle + repair``; the part done by the horizon counts.
            span = horizon - start
            state.busy += span * cycle / (cycle + repair)
            state.down += span * repair / (cycle + repair)
