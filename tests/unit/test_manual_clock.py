"""``aiocql.testing.clock.ManualClock``: timers run in time order inside the advance that reaches them, at their
own time; a cancelled one never runs; the clock never goes back; install() puts a cluster's status machine on it."""

from __future__ import annotations

import pytest

from aiocql import Cluster
from aiocql.errors import TestingError
from aiocql.testing.clock import ManualClock
from tests.helpers.doctests import run_doctests


def test_docstring_examples() -> None:
    run_doctests("aiocql.testing.clock")


def test_timers_run_in_time_order_at_their_own_time() -> None:
    clock = ManualClock(start=5.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(7.0, lambda: seen.append(("b", clock.time())))
    clock.call_at(6.0, lambda: seen.append(("a", clock.time())))
    clock.call_at(7.0, lambda: seen.append(("c", clock.time())))  # same time: in the order they were set
    clock.call_at(9.0, lambda: seen.append(("late", clock.time()))).cancel()
    clock.advance(1.5)
    assert seen == [("a", 6.0)] and clock.time() == 6.5
    clock.advance(10.0)
    assert seen == [("a", 6.0), ("b", 7.0), ("c", 7.0)] and clock.time() == 16.5 and clock.pending == 0


def test_a_timer_set_by_a_timer_runs_in_the_same_advance_when_due() -> None:
    clock = ManualClock()
    seen: list[float] = []
    clock.call_at(1.0, lambda: clock.call_at(2.0, lambda: seen.append(clock.time())))
    clock.advance(3.0)
    assert seen == [2.0]


def test_the_clock_never_goes_back() -> None:
    with pytest.raises(TestingError, match="only moves forward"):
        ManualClock().advance(-1.0)


async def test_install_refuses_a_connected_or_closed_cluster() -> None:
    cluster = Cluster(["127.0.0.1"])
    await cluster.close()
    with pytest.raises(TestingError, match="has not connected yet"):
        ManualClock().install(cluster)
