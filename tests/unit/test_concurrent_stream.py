"""execute_concurrent_stream / execute_concurrent without a server: a fake session whose statements finish
in an order the test controls, to check lazy input, input-order output, the concurrency bound, both error
modes, (ok, result) unpacking and argument checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aiocql import (
    ExecutionResult,
    InvalidValueError,
    execute_concurrent,
    execute_concurrent_stream,
    execute_concurrent_with_args,
)
from aiocql.testing.polling import wait_until


class FakeSession:
    """``execute(stmt, params)`` waits for the test to release ``params`` (or fails when params is an error)."""

    def __init__(self, *, auto: bool = True) -> None:
        self.auto = auto
        self.in_flight = 0
        self.peak = 0
        self.started: list[Any] = []
        self.gates: dict[Any, asyncio.Event] = {}
        self.kwargs: list[dict[str, Any]] = []
        self.cancelled = 0

    async def execute(self, stmt: Any, params: Any, **kwargs: Any) -> Any:
        self.started.append(params)
        self.kwargs.append(kwargs)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if not self.auto:
                await self.gates.setdefault(params, asyncio.Event()).wait()
            else:
                await asyncio.sleep(0)
            if isinstance(params, Exception):
                raise params
            return f"{stmt}:{params}"
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1

    def release(self, params: Any) -> None:
        self.gates.setdefault(params, asyncio.Event()).set()


async def test_results_keep_input_order_and_unpack_as_pairs() -> None:
    session = FakeSession(auto=False)
    stream = execute_concurrent_stream(session, [("s", i) for i in range(5)], concurrency=5)  # type: ignore[arg-type]
    first = asyncio.ensure_future(stream.__anext__())
    while len(session.started) < 5:
        await asyncio.sleep(0)
    for i in (4, 3, 2, 1):  # finish in reverse order: nothing comes out before the first one
        session.release(i)
    await wait_until(lambda: session.in_flight == 1, timeout=5.0)  # the four have finished...
    for _ in range(10):  # ...and the stream has had loop turns to (wrongly) hand one out
        await asyncio.sleep(0)
    assert not first.done()
    session.release(0)
    ok, result = await first
    assert (ok, result) == (True, "s:0")
    rest = [r async for r in stream]
    assert [tuple(r) for r in rest] == [(True, f"s:{i}") for i in range(1, 5)]
    assert all(isinstance(r, ExecutionResult) for r in rest)


async def test_input_is_read_lazily_and_in_flight_is_bounded() -> None:
    session = FakeSession()
    pulled = 0

    def source() -> Iterator[tuple[str, int]]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield "s", i

    seen = 0
    async with execute_concurrent_stream(session, source(), concurrency=8) as results:  # type: ignore[arg-type]
        async for ok, _ in results:
            assert ok
            seen += 1
            assert pulled <= seen + 8  # never more than `concurrency` ahead of the consumer
            if seen == 100:
                break
    assert session.peak <= 8 and session.peak > 1
    assert pulled <= 108


async def test_an_async_iterable_input_works() -> None:
    session = FakeSession()

    async def source() -> AsyncIterator[tuple[str, int]]:
        for i in range(50):
            await asyncio.sleep(0)
            yield "s", i

    results = await execute_concurrent(session, source(), concurrency=4)  # type: ignore[arg-type]
    assert [r.result_or_exc for r in results] == [f"s:{i}" for i in range(50)]
    assert session.peak <= 4


async def test_raise_on_first_error_cancels_the_rest() -> None:
    session = FakeSession(auto=False)
    boom = InvalidValueError("boom")
    stream = execute_concurrent_stream(session, [("s", 0), ("s", boom), ("s", 2), ("s", 3)], concurrency=4)  # type: ignore[arg-type]
    task = asyncio.ensure_future(_collect(stream))
    while len(session.started) < 4:
        await asyncio.sleep(0)
    session.release(0)
    session.release(boom)
    with pytest.raises(InvalidValueError, match="boom"):
        await task
    await asyncio.sleep(0)
    assert session.cancelled == 2 and session.in_flight == 0


async def test_without_raise_on_first_error_failures_are_results() -> None:
    session = FakeSession()
    boom = InvalidValueError("boom")
    results = await execute_concurrent(
        session,
        [("s", 0), ("s", boom), ("s", 2)],
        raise_on_first_error=False,  # type: ignore[arg-type]
    )
    assert [ok for ok, _ in results] == [True, False, True]
    assert results[1].result_or_exc is boom


async def test_leaving_the_block_cancels_what_is_in_flight() -> None:
    session = FakeSession(auto=False)
    async with execute_concurrent_stream(session, (("s", i) for i in range(100)), concurrency=5) as results:  # type: ignore[arg-type]
        session.release(0)
        ok, _ = await results.__anext__()
        assert ok
    await asyncio.sleep(0)
    assert len(session.started) == 5  # the slot of the result read is refilled only when the next is asked for
    assert session.cancelled == 4 and session.in_flight == 0
    assert [r async for r in results] == []


async def test_execute_keyword_arguments_are_passed_on_and_checked() -> None:
    session = FakeSession()
    await execute_concurrent(session, [("s", 1)], timeout=3.0, execution_profile="p")  # type: ignore[arg-type]
    assert session.kwargs == [{"timeout": 3.0, "execution_profile": "p"}]
    with pytest.raises(InvalidValueError, match="unknown keyword arguments: bogus"):
        execute_concurrent_stream(session, [], bogus=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="execute_concurrent_stream"):
        await execute_concurrent_with_args(session, "s", [(1,)], results_generator=True)  # type: ignore[arg-type]


async def test_with_args_runs_one_statement_per_parameter_set() -> None:
    session = FakeSession()
    results = await execute_concurrent_with_args(session, "ins", [(i,) for i in range(3)])  # type: ignore[arg-type]
    assert [r.result_or_exc for r in results] == ["ins:(0,)", "ins:(1,)", "ins:(2,)"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "at least 1"),
        ({"concurrency": 2.5}, "must be an int"),
        ({"concurrency": True}, "must be an int"),
        ({"raise_on_first_error": "yes"}, "must be a bool"),
    ],
)
def test_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        execute_concurrent_stream(FakeSession(), [], **kwargs)  # type: ignore[arg-type]


async def test_the_input_must_be_pairs() -> None:
    with pytest.raises(InvalidValueError, match="must be an iterable"):
        execute_concurrent_stream(FakeSession(), 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"statements_and_parameters\[1\] must be a \(statement, parameters\)"):
        await execute_concurrent(FakeSession(), [("s", 1), "SELECT 1"])  # type: ignore[arg-type, list-item]


async def _collect(stream: Any) -> list[Any]:
    return [r async for r in stream]
