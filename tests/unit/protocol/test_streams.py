"""StreamIdAllocator: exhaustion, orphans are never re-issued before their reply."""

from __future__ import annotations

import random

import pytest

from aiocql.protocol.streams import StreamIdAllocator, StreamIdError


def test_exhaustion_and_reuse() -> None:
    ids = StreamIdAllocator()
    got = [ids.acquire() for _ in range(32768)]
    assert sorted(got) == list(range(32768))  # type: ignore[type-var]
    assert ids.acquire() is None
    assert (ids.in_flight, ids.available) == (32768, 0)
    assert ids.release(12345) is False
    assert ids.acquire() == 12345
    assert ids.acquire() is None


def test_orphans_are_not_reissued_until_released() -> None:
    ids = StreamIdAllocator(max_streams=3)
    a, b, c = ids.acquire(), ids.acquire(), ids.acquire()
    assert None not in (a, b, c)
    assert isinstance(a, int) and isinstance(b, int)
    ids.orphan(a)
    ids.orphan(a)  # idempotent
    assert (ids.in_flight, ids.orphaned, ids.available) == (2, 1, 0)
    assert ids.is_orphaned(a) and ids.in_use(a)
    ids.release(b)
    assert ids.acquire() == b  # b comes back, a does not
    assert ids.acquire() is None
    assert ids.release(a) is True  # the late reply: drop it
    assert (ids.in_flight, ids.orphaned) == (2, 0)
    assert ids.acquire() == a


def test_release_orphan_and_errors() -> None:
    ids = StreamIdAllocator(max_streams=4)
    s = ids.acquire()
    assert s is not None
    with pytest.raises(StreamIdError, match="not orphaned"):
        ids.release_orphan(s)
    ids.orphan(s)
    ids.release_orphan(s)
    assert not ids.in_use(s)
    with pytest.raises(StreamIdError, match="not in use"):
        ids.release(s)
    with pytest.raises(StreamIdError, match="cannot be orphaned"):
        ids.orphan(s)
    with pytest.raises(StreamIdError, match="outside"):
        ids.release(4)
    with pytest.raises(StreamIdError, match="outside"):
        ids.release(-1)
    assert not ids.in_use(-1) and not ids.is_orphaned(99)
    with pytest.raises(ValueError):
        StreamIdAllocator(0)
    with pytest.raises(ValueError):
        StreamIdAllocator(32769)


def test_reset_frees_everything() -> None:
    ids = StreamIdAllocator(max_streams=8)
    taken = [ids.acquire() for _ in range(8)]
    for s in taken[:4]:
        assert s is not None
        ids.orphan(s)
    ids.reset()
    assert (ids.in_flight, ids.orphaned, ids.available) == (0, 0, 8)
    assert ids.acquire() == 0


def test_random_operations_against_a_model() -> None:
    rng = random.Random(7)
    ids = StreamIdAllocator(max_streams=64)
    in_flight: set[int] = set()
    orphans: set[int] = set()
    for _ in range(20_000):
        op = rng.random()
        if op < 0.45:
            s = ids.acquire()
            if len(in_flight) + len(orphans) == 64:
                assert s is None
            else:
                assert s is not None and s not in in_flight and s not in orphans
                in_flight.add(s)
        elif op < 0.75 and in_flight:
            s = rng.choice(sorted(in_flight))
            assert ids.release(s) is False
            in_flight.remove(s)
        elif op < 0.9 and in_flight:
            s = rng.choice(sorted(in_flight))
            ids.orphan(s)
            in_flight.remove(s)
            orphans.add(s)
        elif orphans:
            s = rng.choice(sorted(orphans))
            assert ids.release(s) is True
            orphans.remove(s)
        assert (ids.in_flight, ids.orphaned, ids.available) == (
            len(in_flight),
            len(orphans),
            64 - len(in_flight) - len(orphans),
        )


def test_freed_ids_are_reused_least_recently_freed_first() -> None:
    # Issue 11 defect 10: with a LIFO free list the id just freed went to the very next request, so
    # a duplicated reply sent 1-20 ms later reached the wrong caller. FIFO: the id comes back only
    # after every other free id was handed out.
    ids = StreamIdAllocator(max_streams=8)
    a = ids.acquire()
    assert a == 0
    ids.release(a)
    assert [ids.acquire() for _ in range(7)] == [1, 2, 3, 4, 5, 6, 7]
    assert ids.acquire() == 0  # only now, after the whole id space
    for sid in (5, 2, 7):
        ids.release(sid)
    assert [ids.acquire(), ids.acquire(), ids.acquire()] == [5, 2, 7]


def test_a_just_freed_id_is_not_the_next_one_with_many_requests_in_flight() -> None:
    ids = StreamIdAllocator()
    busy = [ids.acquire() for _ in range(100)]
    for _ in range(1000):  # request/reply churn: each freed id must not come straight back
        sid = busy.pop(0)
        assert sid is not None
        ids.release(sid)
        new = ids.acquire()
        assert new != sid
        busy.append(new)
