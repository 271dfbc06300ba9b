"""The executor's deadline wheel: a deadline cancels its task once it passed (never before), a request that
ends first is left alone, another cancellation is not mistaken for the deadline, and many deadlines share
one loop timer per slot."""

from __future__ import annotations

import asyncio

import pytest

from aiocql.session.deadlines import RESOLUTION, DeadlineWheel


async def _guarded(wheel: DeadlineWheel, timeout: float, work: asyncio.Future[None]) -> str:
    deadline = wheel.start(timeout)
    try:
        await work
        return "done"
    except asyncio.CancelledError as exc:
        if deadline.owns(exc):
            return "timed out"
        raise
    finally:
        deadline.stop()


async def test_a_deadline_cancels_its_task_once_it_passed_and_not_before() -> None:
    loop = asyncio.get_running_loop()
    wheel = DeadlineWheel()
    started = loop.time()
    outcome = await _guarded(wheel, 0.05, loop.create_future())
    elapsed = loop.time() - started
    assert outcome == "timed out"
    assert elapsed >= 0.05
    assert elapsed < 2.0  # generous: the machine may be loaded
    assert wheel.pending == 0 and wheel.timers == 0


async def test_a_request_that_ends_first_is_not_cancelled() -> None:
    loop = asyncio.get_running_loop()
    wheel = DeadlineWheel()
    work: asyncio.Future[None] = loop.create_future()
    task = asyncio.ensure_future(_guarded(wheel, 0.02, work))
    await asyncio.sleep(0)
    assert wheel.pending == 1
    work.set_result(None)
    assert await task == "done"
    assert wheel.pending == 0
    await asyncio.sleep(0.02 + 2 * RESOLUTION)  # the slot's timer fires with nobody left in it
    assert not task.cancelled() and wheel.timers == 0


async def test_another_cancellation_is_not_taken_for_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    wheel = DeadlineWheel()
    task = asyncio.ensure_future(_guarded(wheel, 30.0, loop.create_future()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wheel.pending == 0


async def test_a_caller_cancelled_as_the_deadline_fires_stays_cancelled() -> None:
    loop = asyncio.get_running_loop()
    wheel = DeadlineWheel()
    task = asyncio.ensure_future(_guarded(wheel, RESOLUTION, loop.create_future()))
    await asyncio.sleep(0)
    deadline = next(iter(next(iter(wheel._slots.values()))))
    wheel._fire(next(iter(wheel._slots)))  # the deadline fires ...
    task.cancel()  # ... and the caller is cancelled too, before the task runs again
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadline.expired()


async def test_many_deadlines_share_one_timer_per_slot() -> None:
    loop = asyncio.get_running_loop()
    wheel = DeadlineWheel()
    works = [loop.create_future() for _ in range(200)]
    tasks = [asyncio.ensure_future(_guarded(wheel, 5.0, w)) for w in works]
    await asyncio.sleep(0)
    assert wheel.pending == 200
    assert wheel.timers < 20  # started within a few milliseconds: a few slots, not 200 timers
    for w in works:
        w.set_result(None)
    assert await asyncio.gather(*tasks) == ["done"] * 200
    assert wheel.pending == 0


def test_one_wheel_serves_a_new_loop_after_the_old_one_closed() -> None:
    # The wheel keeps its loop to find the current task without asking for the running loop; on another
    # loop it starts again there (the old loop's slots and timers are gone with it).
    wheel = DeadlineWheel()

    async def one_run() -> tuple[str, str, int]:
        loop = asyncio.get_running_loop()
        fast = loop.create_future()
        loop.call_later(0.01, fast.set_result, None)
        done = await _guarded(wheel, 5.0, fast)
        timed_out = await _guarded(wheel, 0.02, loop.create_future())
        return done, timed_out, wheel.pending

    assert asyncio.run(one_run()) == ("done", "timed out", 0)
    assert asyncio.run(one_run()) == ("done", "timed out", 0)


def test_a_loop_with_its_own_clock_is_timed_by_that_clock() -> None:
    # asyncio's own loops' time() is time.monotonic() (the wheel calls that directly); a loop that keeps
    # another clock (here 1,000 s ahead) is asked itself: timed by monotonic, the deadline would be a slot
    # 1,000 s in that loop's past and fire at once.
    class AheadLoop(asyncio.SelectorEventLoop):
        def time(self) -> float:
            return super().time() + 1000.0

    wheel = DeadlineWheel()

    async def run() -> tuple[str, float, str]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        timed_out = await _guarded(wheel, 0.05, loop.create_future())
        elapsed = loop.time() - started
        fast = loop.create_future()
        loop.call_later(0.01, fast.set_result, None)
        return timed_out, elapsed, await _guarded(wheel, 5.0, fast)

    loop = AheadLoop()
    try:
        timed_out, elapsed, done = loop.run_until_complete(run())
    finally:
        loop.close()
    assert (timed_out, done) == ("timed out", "done")
    assert 0.05 <= elapsed < 2.0
    assert asyncio.run(run())[0::2] == ("timed out", "done")  # and then asyncio's loop, on its own clock
