"""The lean path of ``session.execute(prepared, values)`` (issue 12): it is taken for a prepared statement with no
per-call option, and any outcome but a plain success goes on in the execution core with the first attempt
handed over, so that retries, re-prepares, timeouts and the statement's own settings behave as on the general
path (whose tests run the same requests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from aiocql import (
    Cluster,
    ConsistencyLevel,
    ExecutionProfile,
    OperationTimedOut,
    PreparedStatement,
    ReadTimeout,
    RetryDecision,
    RetryInfo,
    Session,
    WriteTimeout,
)
from aiocql.session import session as session_module
from aiocql.session.fast import StatementPlan
from aiocql.testing.fakeserver import NO_REPLY, Error, FakeServer, Opcode, Prepared, ReceivedRequest
from aiocql.testing.polling import wait_until
from aiocql.types import INT, TEXT

from .conftest import KV_COLUMNS, echo_row

QUERY = "SELECT k, v FROM kv WHERE k = ?"
INSERT = "INSERT INTO kv (k, v) VALUES (?, ?)"


def script_kv(server: FakeServer) -> None:
    server.on(Opcode.PREPARE, match=lambda r: r.query == QUERY, reply=Prepared(bind=[("k", INT)], result=KV_COLUMNS))
    server.on(Opcode.PREPARE, match=lambda r: r.query == INSERT, reply=Prepared(bind=[("k", INT), ("v", TEXT)]))
    server.on(Opcode.EXECUTE, match=lambda r: r.query == QUERY, reply=echo_row)


@asynccontextmanager
async def used_statement(server: FakeServer) -> AsyncIterator[tuple[Session, PreparedStatement]]:
    """A session on ``server`` (scripted by :func:`script_kv`) and the point read prepared and executed once
    (its plan made: the next execution takes the lean path)."""
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        assert (await session.execute(ps, (1,))).one() == (1, "value-1")
        yield session, ps


def executes(server: FakeServer, query: str) -> list[ReceivedRequest]:
    return server.received(Opcode.EXECUTE, lambda r: r.query == query)


class Counting:
    """Counts the requests that go the general way (``run_with_deadline`` of the session module)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = session_module.run_with_deadline

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(session_module, "run_with_deadline", counted)


@pytest.fixture
def general(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counting]:
    yield Counting(monkeypatch)


class Always:
    """A retry policy that always says ``decision`` (and records what it was shown)."""

    def __init__(self, decision: RetryDecision) -> None:
        self.decision = decision
        self.seen: list[RetryInfo] = []

    def decide(self, info: RetryInfo) -> RetryDecision:
        self.seen.append(info)
        return self.decision if info.attempt < 3 else RetryDecision.RETHROW


@pytest.mark.parametrize("version", [4, 5])
async def test_a_prepared_statement_takes_the_lean_path(server: FakeServer, general: Counting, version: int) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        prepared_calls = general.calls
        node = cluster.metrics.node(f"{server.host}:{server.port}")
        before = node.requests
        for k in range(5):
            assert (await session.execute(ps, (k,))).one() == (k, f"value-{k}")
        assert general.calls == prepared_calls  # none of the five went the general way
        assert isinstance(ps._fast, StatementPlan) and ps._fast.eligible
        # A per-call option takes the general path (and is honoured).
        rs = await session.execute(ps, (7,), consistency_level=ConsistencyLevel.QUORUM)
        assert rs.one() == (7, "value-7")
        assert general.calls == prepared_calls + 1
        assert executes(server, QUERY)[-1].message.params.consistency == ConsistencyLevel.QUORUM
        assert node.requests == before + 6  # the lean path counts its attempts as the core does


async def test_write_timeout_on_a_non_idempotent_insert_is_not_retried(server: FakeServer, general: Counting) -> None:
    script_kv(server)
    policy = Always(RetryDecision.RETRY_SAME)  # would retry anything: the core refuses it for this write
    timeout = WriteTimeout("timed out", consistency=ConsistencyLevel.ONE, received=0, block_for=1, write_type="SIMPLE")
    server.on(Opcode.EXECUTE, match=lambda r: r.query == INSERT, reply=Error(timeout))
    profile = ExecutionProfile(retry_policy=policy)  # type: ignore[arg-type]
    async with Cluster([server.host], port=server.port, execution_profiles={"default": profile}) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(INSERT)
        calls = general.calls
        with pytest.raises(WriteTimeout):
            await session.execute(ps, (1, "x"))
        assert general.calls == calls  # it went the lean way...
        assert len(executes(server, INSERT)) == 1  # ...and was sent once
        assert len(policy.seen) == 1 and not policy.seen[0].is_idempotent  # the policy heard of it once


async def test_an_idempotent_read_is_retried_as_the_policy_says(server: FakeServer, general: Counting) -> None:
    script_kv(server)
    policy = Always(RetryDecision.RETRY_SAME)
    failed = ReadTimeout("timed out", consistency=ConsistencyLevel.ONE, received=0, block_for=1, data_present=False)
    server.on(Opcode.EXECUTE, match=lambda r: r.query == QUERY, reply=Error(failed), times=1)
    profile = ExecutionProfile(retry_policy=policy)  # type: ignore[arg-type]
    async with Cluster([server.host], port=server.port, execution_profiles={"default": profile}) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        ps.is_idempotent = True
        calls = general.calls
        node = cluster.metrics.node(f"{server.host}:{server.port}")
        before = (node.requests, node.retries)
        assert (await session.execute(ps, (3,))).one() == (3, "value-3")
        assert general.calls == calls
        assert len(executes(server, QUERY)) == 2  # the failed attempt and its one retry
        assert [info.attempt for info in policy.seen] == [0]  # the first attempt's failure, judged once
        assert (node.requests - before[0], node.retries - before[1]) == (2, 1)


@pytest.mark.parametrize("version", [4, 5])
async def test_unprepared_through_the_lean_path_prepares_again(server: FakeServer, version: int) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        assert (await session.execute(ps, (1,))).one() == (1, "value-1")
        prepares = len(server.received(Opcode.PREPARE))
        server.forget_prepared()
        assert (await session.execute(ps, (2,))).one() == (2, "value-2")
        assert len(server.received(Opcode.PREPARE)) == prepares + 1
        assert len(server.received(Opcode.EXECUTE)) == 3  # 1, then 2 answered UNPREPARED, then 2 again
        assert (await session.execute(ps, (4,))).one() == (4, "value-4")


async def test_a_setting_changed_after_first_use_is_honoured(server: FakeServer) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        await session.execute(ps, (1,))
        assert executes(server, QUERY)[-1].message.params.consistency == ConsistencyLevel.LOCAL_ONE
        plan = ps._fast
        ps.consistency_level = ConsistencyLevel.QUORUM
        assert ps._fast is None  # setting it dropped what was worked out
        await session.execute(ps, (2,))
        assert executes(server, QUERY)[-1].message.params.consistency == ConsistencyLevel.QUORUM
        assert ps._fast is not plan
        ps.fetch_size = 7
        await session.execute(ps, (3,))
        assert executes(server, QUERY)[-1].message.params.page_size == 7


async def test_a_timeout_on_the_lean_path_leaves_the_stream_reserved(server: FakeServer, general: Counting) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        ps.timeout = 0.2
        await session.execute(ps, (1,))
        calls = general.calls
        rule = server.on(Opcode.EXECUTE, reply=NO_REPLY, times=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(OperationTimedOut, match=r"0\.2s"):
            await session.execute(ps, (2,))
        assert 0.15 <= loop.time() - started < 5.0
        assert general.calls == calls
        assert rule.hits == 1
        conn = session.pools[0].connections[0]
        assert conn.orphaned == 1  # its stream id stays reserved: no late reply yet
        assert (await session.execute(ps, (3,))).one() == (3, "value-3")  # the connection still works


async def test_a_cancelled_lean_request_returns_at_once_and_its_stream_waits_for_the_late_reply(
    server: FakeServer, general: Counting
) -> None:
    async with used_statement(server) as (session, ps):
        calls = general.calls
        late = server.on(Opcode.EXECUTE, reply=echo_row, delay=1.0, times=1)  # the reply comes, but late
        task = asyncio.ensure_future(session.execute(ps, (2,)))
        await wait_until(lambda: late.hits == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5.0)  # a caller that waited for the reply would still be waiting here
        conn = session.pools[0].connections[0]
        assert conn.orphaned == 1  # returned before the reply: its stream id stays reserved until it comes
        assert general.calls == calls  # cancelled on the lean path, not handed over
        assert (await session.execute(ps, (3,))).one() == (3, "value-3")  # the connection still works
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)  # the late reply freed it
        assert session.pools[0].connections == [conn] and not conn.is_closed


async def test_a_bound_statement_takes_the_lean_path_unless_its_options_differ(
    server: FakeServer, general: Counting
) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        calls = general.calls
        assert (await session.execute(ps.bind((5,)))).one() == (5, "value-5")
        assert general.calls == calls  # bound as bind() makes it: the prepared statement's plan
        bound = ps.bind((6,))
        bound.consistency_level = ConsistencyLevel.QUORUM  # its own setting: the general path honours it
        assert (await session.execute(bound)).one() == (6, "value-6")
        assert general.calls == calls + 1
        assert executes(server, QUERY)[-1].message.params.consistency == ConsistencyLevel.QUORUM
        server.forget_prepared()  # UNPREPARED through the lean path, for a bound statement too
        assert (await session.execute(ps.bind((8,)))).one() == (8, "value-8")
        assert general.calls == calls + 1


async def test_a_used_statement_copies_without_its_plan(server: FakeServer) -> None:
    import copy

    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(INSERT)
        await session.execute(ps, (1, "x"))
        assert ps._fast is not None
        for twin in (copy.copy(ps), copy.deepcopy(ps)):
            assert twin._fast is None
            assert (twin.query, twin.query_id, twin.bind_columns) == (ps.query, ps.query_id, ps.bind_columns)
            await session.execute(twin, (2, "y"))  # works, with a plan of its own
            assert twin._fast is not None and twin._fast is not ps._fast


async def test_a_lean_request_on_a_paused_connection_waits_until_it_is_writable(
    server: FakeServer, general: Counting
) -> None:
    async with used_statement(server) as (session, ps):
        calls, sent = general.calls, len(executes(server, QUERY))
        conn = session.pools[0].connections[0]
        conn.proto.pause_writing()  # as asyncio does when the write buffer passes its high-water mark
        assert conn.proto.is_paused
        task = asyncio.ensure_future(session.execute(ps, (4,)))
        for _ in range(10):
            await asyncio.sleep(0)
        assert not task.done() and conn.in_flight == 0  # waiting, with no stream id taken
        conn.proto.resume_writing()
        assert not conn.proto.is_paused
        assert (await asyncio.wait_for(task, 5.0)).one() == (4, "value-4")
        assert len(executes(server, QUERY)) == sent + 1
        assert general.calls == calls  # on the lean path throughout
