"""The readiness probe's backend checks: kept a second, refreshed off the request path, never trusted stale.

A fake check (a function of our own, counting its calls and able to hang) and a clock the
test moves; the app-level behaviour (503 the moment shutdown starts, a backend that is
down) is in tests/api/test_observation.py and tests/foundation/test_api_app.py.
"""

from __future__ import annotations

import asyncio
import threading
import time

from api.context import BackendHealth
from api.readiness import Readiness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Backends:
    """A check whose answer the test sets, that can be held (a backend that does not answer)."""

    def __init__(self) -> None:
        self.calls = 0
        self.ok = True
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> list[BackendHealth]:
        self.calls += 1
        self.release.wait(30)
        return [BackendHealth(port="graph", backend="neo4j", ok=self.ok, error=None if self.ok else "down")]


def probe(readiness: Readiness) -> list[BackendHealth]:
    return asyncio.run(readiness.backends())


def wait_calls(backends: Backends, calls: int) -> None:
    deadline = time.monotonic() + 10
    while backends.calls < calls:
        assert time.monotonic() < deadline, "the check never ran"
        time.sleep(0.01)


def test_probes_within_the_ttl_share_one_check() -> None:
    backends, clock = Backends(), Clock()
    readiness = Readiness(backends, ttl_s=1.0, clock=clock)
    assert [b.ok for b in probe(readiness)] == [True]
    clock.now += 0.5
    assert [b.ok for b in probe(readiness)] == [True]
    assert backends.calls == 1


def test_an_expired_result_answers_at_once_while_a_new_check_runs() -> None:
    backends, clock = Backends(), Clock()
    readiness = Readiness(backends, ttl_s=1.0, stale_s=10.0, wait_s=5.0, clock=clock)
    probe(readiness)
    backends.ok = False
    backends.release.clear()  # the next check hangs until released
    clock.now += 2
    began = time.monotonic()
    assert [b.ok for b in probe(readiness)] == [True]  # the last result, without waiting
    assert time.monotonic() - began < 1.0
    wait_calls(backends, 2)
    assert [b.ok for b in probe(readiness)] == [True]  # one check at a time: still the last result
    backends.release.set()
    deadline = time.monotonic() + 10
    while probe(readiness)[0].ok:
        assert time.monotonic() < deadline, "the new check's result never answered"
        time.sleep(0.01)
    assert probe(readiness)[0].error == "down"
    assert backends.calls == 2


def test_a_check_that_hangs_turns_the_probe_unready_once_the_last_result_is_stale() -> None:
    backends, clock = Backends(), Clock()
    readiness = Readiness(backends, ttl_s=1.0, stale_s=10.0, wait_s=0.2, clock=clock)
    probe(readiness)
    backends.release.clear()
    clock.now += 2
    assert probe(readiness)[0].ok  # starts the check that hangs
    clock.now += 10
    [verdict] = probe(readiness)
    assert not verdict.ok
    assert verdict.error == "no backend check has completed for 12 s"
    backends.release.set()


def test_a_rare_probe_waits_for_a_fresh_check_rather_than_answer_an_old_one() -> None:
    backends, clock = Backends(), Clock()
    readiness = Readiness(backends, ttl_s=1.0, stale_s=10.0, wait_s=5.0, clock=clock)
    probe(readiness)
    backends.ok = False
    clock.now += 30  # probes every 30 s: the last result says little now
    assert [b.error for b in probe(readiness)] == ["down"]
    assert backends.calls == 2


def test_the_first_probe_waits_for_the_first_check_and_a_hung_one_is_unready() -> None:
    backends = Backends()
    backends.release.clear()
    readiness = Readiness(backends, wait_s=0.2)
    [verdict] = probe(readiness)
    assert (verdict.ok, verdict.error) == (False, "no backend check has completed yet")
    backends.release.set()
    readiness.wait_s = 10.0
    assert [b.ok for b in probe(readiness)] == [True]
    assert backends.calls == 1
