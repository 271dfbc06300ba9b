"""execute_concurrent(): bounded concurrency, results in input order, fail-fast or collected errors."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import ExecutionResult, InvalidRequest, InvalidValueError, Session, execute_concurrent
from aiocql.testing.pytest_plugin import ServerInfo

from .conftest import VERSIONS, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE cc (k text, c int, v int, PRIMARY KEY (k, c))")


async def _max_in_flight(session: Session, work: asyncio.Future[object]) -> int:
    """Sample the requests in flight on every loop turn until ``work`` is done."""
    peak = 0
    while not work.done():
        peak = max(peak, sum(p.in_flight for p in session.pools))
        await asyncio.sleep(0)
    return peak


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
@pytest.mark.parametrize("concurrency", [1, 16, 128])
async def test_bounded_and_ordered(session: Session, concurrency: int, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    insert = await session.prepare("INSERT INTO cc (k, c, v) VALUES (?, ?, ?)")
    n = 400
    work = asyncio.ensure_future(
        execute_concurrent(session, [(insert, (key, i, i * i)) for i in range(n)], concurrency=concurrency)
    )
    peak = await _max_in_flight(session, work)
    results = await work
    assert len(results) == n
    assert all(isinstance(r, ExecutionResult) and r.success for r in results)
    assert 1 <= peak <= concurrency
    if concurrency > 1:
        assert peak > 1  # really concurrent
    # Results come back in input order: reads of distinct rows.
    select = await session.prepare("SELECT v FROM cc WHERE k = ? AND c = ?")
    reads = await execute_concurrent(session, [(select, (key, i)) for i in range(n)], concurrency=concurrency)
    assert [r.result_or_exc.one().v for r in reads] == [i * i for i in range(n)]  # type: ignore[union-attr]


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_fail_fast(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    insert = await session.prepare("INSERT INTO cc (k, c, v) VALUES (?, ?, ?)")
    stmts: list[tuple[object, object]] = [(insert, (f"{key}-ff", i, i)) for i in range(2000)]
    stmts[20] = ("INSERT INTO no_such_table (k) VALUES (1)", None)
    with pytest.raises(InvalidRequest, match=r"no_such_table"):
        await execute_concurrent(session, stmts, concurrency=4)  # type: ignore[arg-type]
    # The rest was cancelled: far fewer than 2000 rows were written, and nothing is left in flight.
    # (With 4 workers, at least 17 statements had completed when the one at index 20 was started.)
    assert sum(p.in_flight for p in session.pools) == 0
    written = (await session.execute("SELECT count(*) FROM cc WHERE k = ?", (f"{key}-ff",))).one().count
    assert 17 <= written < 200


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_collect_errors(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    insert = await session.prepare("INSERT INTO cc (k, c, v) VALUES (?, ?, ?)")
    stmts: list[tuple[object, object]] = [(insert, (key, i, i)) for i in range(100)]
    stmts[10] = ("INSERT INTO no_such_table (k) VALUES (1)", None)
    stmts[50] = (insert, (key, "not an int", 1))
    stmts[99] = ("SELEKT nonsense", None)
    results = await execute_concurrent(session, stmts, concurrency=16, raise_on_first_error=False)  # type: ignore[arg-type]
    assert len(results) == 100
    failed = {i: r.result_or_exc for i, r in enumerate(results) if not r.success}
    assert sorted(failed) == [10, 50, 99]
    assert isinstance(failed[10], InvalidRequest)
    assert isinstance(failed[50], InvalidValueError) and "'c'" in str(failed[50])
    assert type(failed[99]).__name__ == "CqlSyntaxError"
    written = (await session.execute("SELECT count(*) FROM cc WHERE k = ?", (key,))).one().count
    assert written == 97
    with pytest.raises(InvalidValueError, match=r"concurrency"):
        await execute_concurrent(session, [], concurrency=0)
    assert await execute_concurrent(session, []) == []
