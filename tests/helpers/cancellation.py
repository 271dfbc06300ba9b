"""The cancellation storm: many requests on one connection, cancelled at random moments, each caller
checked for its own outcome (used against the fake server and against the real one)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiocql import ResultSet


class _Orphans(Protocol):
    @property
    def orphaned(self) -> int: ...


async def cancellation_storm(
    start: Callable[[int], Awaitable[ResultSet[Any]]],
    kinds: Sequence[str],
    conn: _Orphans,
    *,
    rng: random.Random,
    max_delay: float,
    tasks: list[asyncio.Future[ResultSet[Any]]] | None = None,
) -> tuple[list[object], int]:
    """Start ``start(k)`` for each ``kinds[k]``: ``"A"`` is cancelled on the next loop turn (before it is
    sent), ``"D"`` at a random moment within ``max_delay`` seconds, any other kind is left alone by the
    storm (a fake server's handler may cancel ``"B"`` itself through ``tasks``, filled in order).

    Returns every outcome (a result or the exception, in input order) and the most stream ids of
    ``conn`` orphaned at once, sampled as each caller returned.
    """
    loop = asyncio.get_running_loop()
    tasks = [] if tasks is None else tasks
    for k, kind in enumerate(kinds):
        tasks.append(asyncio.ensure_future(start(k)))
        if kind == "A":
            loop.call_soon(tasks[k].cancel)
        elif kind == "D":
            loop.call_later(rng.uniform(0, max_delay), tasks[k].cancel)
    peaks = [0]
    for task in tasks:
        task.add_done_callback(lambda _: peaks.append(max(peaks[-1], conn.orphaned)))
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return list(outcomes), peaks[-1]


def check_storm_outcomes(
    kinds: Sequence[str], outcomes: Sequence[object], expected_row: Callable[[int], object], cancelled: str
) -> int:
    """Each request of a kind in ``cancelled`` was cancelled; ``"C"`` requests (never cancelled) and
    every ``"D"`` one that finished before its cancel got exactly their own row. Returns how many
    were cancelled."""
    for k, (kind, outcome) in enumerate(zip(kinds, outcomes, strict=True)):
        if kind in cancelled:
            assert isinstance(outcome, asyncio.CancelledError), (k, kind, outcome)
        elif kind == "C" or not isinstance(outcome, asyncio.CancelledError):
            assert isinstance(outcome, ResultSet), (k, kind, outcome)
            assert outcome.one() == expected_row(k), (k, kind, outcome)
    return sum(isinstance(o, asyncio.CancelledError) for o in outcomes)
