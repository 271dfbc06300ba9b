"""Retries under failure: a non-idempotent write is attempted exactly once
after a timeout, a lost connection or an overloaded node; idempotent requests are retried where the
policy says; a client-side timeout is never retried. Two fake nodes serve as two contact points."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiocql import (
    Cluster,
    ConnectionLost,
    ConsistencyLevel,
    NoHostAvailable,
    OperationTimedOut,
    Overloaded,
    ReadTimeout,
    RetryDecision,
    RetryInfo,
    Unavailable,
    WriteTimeout,
)
from aiocql.protocol.requests import Options
from aiocql.testing.fakeserver import ABORT, NO_REPLY, Error, FakeServer, Opcode, start_fake_servers
from aiocql.testing.replies import Reply

INSERT = "INSERT INTO kv (k, v) VALUES (1, 'x')"
SELECT = "SELECT k, v FROM kv WHERE k = 1"


def is_insert(req: object) -> bool:
    return getattr(req, "query", None) == INSERT


def is_select(req: object) -> bool:
    return getattr(req, "query", None) == SELECT


def write_timeout(write_type: str = "SIMPLE") -> Error:
    return Error(
        WriteTimeout(
            "Operation timed out - received only 0 responses.",
            consistency=ConsistencyLevel.QUORUM,
            received=0,
            block_for=2,
            write_type=write_type,
        )
    )


@pytest.fixture
async def nodes() -> AsyncIterator[list[FakeServer]]:
    servers = await start_fake_servers(2)
    try:
        yield servers
        for s in servers:
            assert s.errors == [], s.errors
    finally:
        for s in servers:
            await s.close()


def cluster_of(nodes: list[FakeServer], **kwargs: object) -> Cluster:
    return Cluster([s.host for s in nodes], port=nodes[0].port, contact_points_are_hosts=True, **kwargs)  # type: ignore[arg-type]


def attempts(nodes: list[FakeServer], match: object = is_insert) -> list[str]:
    """The node (host) of every attempt of the statement, in arrival order."""
    seen = [(r.time, s.host) for s in nodes for r in s.received(Opcode.QUERY, match)]  # type: ignore[arg-type]
    return [host for _, host in sorted(seen)]


def first_attempt_gets(reply: Reply | object, nodes: list[FakeServer], match: object = is_insert) -> None:
    """Whichever node receives the first attempt answers ``reply``; every later attempt gets the default
    answer (Void for a write, an empty page for a SELECT)."""
    state = {"first": True}

    def handler(req: object) -> object:
        if state["first"]:
            state["first"] = False
            return reply
        return None

    for s in nodes:
        s.on(Opcode.QUERY, match=match, reply=handler)  # type: ignore[arg-type]


@pytest.mark.parametrize("write_type", ["SIMPLE", "BATCH_LOG"])
async def test_non_idempotent_write_timeout_is_attempted_exactly_once(nodes: list[FakeServer], write_type: str) -> None:
    first_attempt_gets(write_timeout(write_type), nodes)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        with pytest.raises(WriteTimeout) as info:
            await session.execute(INSERT, is_idempotent=False)
        assert info.value.write_type == write_type and info.value.block_for == 2
        assert len(attempts(nodes)) == 1


async def test_idempotent_batch_log_write_timeout_is_retried_on_the_same_node(nodes: list[FakeServer]) -> None:
    first_attempt_gets(write_timeout("BATCH_LOG"), nodes)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        await session.execute(INSERT, is_idempotent=True)
        tried = attempts(nodes)
        assert len(tried) == 2 and tried[0] == tried[1]  # RETRY_SAME


async def test_idempotent_simple_write_timeout_is_not_retried(nodes: list[FakeServer]) -> None:
    first_attempt_gets(write_timeout("SIMPLE"), nodes)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        with pytest.raises(WriteTimeout):
            await session.execute(INSERT, is_idempotent=True)
        assert len(attempts(nodes)) == 1


@pytest.mark.parametrize(
    "failure",
    [Error(Overloaded("Server is in overloaded state. Cannot accept more requests at this point")), ABORT],
    ids=["overloaded", "connection-lost"],
)
async def test_non_idempotent_write_is_not_retried_on_another_node(nodes: list[FakeServer], failure: object) -> None:
    first_attempt_gets(failure, nodes)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        expected = Overloaded if failure is not ABORT else ConnectionLost
        with pytest.raises(expected):
            await session.execute(INSERT, is_idempotent=False)
        assert len(attempts(nodes)) == 1


@pytest.mark.parametrize(
    "failure",
    [Error(Overloaded("Server is in overloaded state. Cannot accept more requests at this point")), ABORT],
    ids=["overloaded", "connection-lost"],
)
async def test_idempotent_request_is_retried_on_the_next_node(nodes: list[FakeServer], failure: object) -> None:
    first_attempt_gets(failure, nodes)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        await session.execute(INSERT, is_idempotent=True)
        tried = attempts(nodes)
        assert len(tried) == 2 and tried[0] != tried[1]  # RETRY_NEXT


async def test_overloaded_idempotent_on_every_node_gives_no_host_available(nodes: list[FakeServer]) -> None:
    for s in nodes:
        s.on(Opcode.QUERY, match=is_insert, reply=Error(Overloaded("busy")))
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        with pytest.raises(NoHostAvailable) as info:
            await session.execute(INSERT, is_idempotent=True)
        assert all(isinstance(e, Overloaded) for e in info.value.errors.values())
        assert sorted(attempts(nodes)) == sorted(s.host for s in nodes)


@pytest.mark.parametrize("idempotent", [False, True])
async def test_client_side_timeout_is_never_retried(nodes: list[FakeServer], idempotent: bool) -> None:
    for s in nodes:
        s.on(Opcode.QUERY, match=is_insert, reply=NO_REPLY)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        with pytest.raises(OperationTimedOut):
            await session.execute(INSERT, is_idempotent=idempotent, timeout=0.2)
        assert len(attempts(nodes)) == 1
        # A round trip on every node: anything the timed-out call might still send would be there by now.
        for pool in session.pools:
            await pool.borrow().request(Options())
        assert len(attempts(nodes)) == 1


async def test_read_timeout_without_data_is_retried_on_the_same_node(nodes: list[FakeServer]) -> None:
    timeout = ReadTimeout("timed out", consistency=ConsistencyLevel.QUORUM, received=2, block_for=2, data_present=False)
    first_attempt_gets(Error(timeout), nodes, is_select)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        await session.execute(SELECT)
        tried = attempts(nodes, is_select)
        assert len(tried) == 2 and tried[0] == tried[1]


async def test_unavailable_is_retried_on_the_next_node_even_when_not_idempotent(nodes: list[FakeServer]) -> None:
    # The coordinator refused before writing anything: a retry cannot apply the write twice.
    first_attempt_gets(Error(Unavailable("no", consistency=ConsistencyLevel.QUORUM, required=2, alive=1)), nodes)
    async with cluster_of(nodes) as cluster:
        session = await cluster.connect()
        await session.execute(INSERT, is_idempotent=False)
        tried = attempts(nodes)
        assert len(tried) == 2 and tried[0] != tried[1]


class RetryEverything:
    """A reckless user policy: retry every failure on the same node."""

    def __init__(self) -> None:
        self.calls: list[RetryInfo] = []

    def decide(self, info: RetryInfo) -> RetryDecision:
        self.calls.append(info)
        return RetryDecision.RETRY_SAME if info.attempt < 3 else RetryDecision.RETHROW


@pytest.mark.parametrize(
    "failure", [write_timeout(), Error(Overloaded("busy")), ABORT], ids=["write-timeout", "overloaded", "lost"]
)
async def test_a_reckless_policy_cannot_repeat_a_non_idempotent_write(nodes: list[FakeServer], failure: object) -> None:
    first_attempt_gets(failure, nodes)
    async with cluster_of(nodes, retry_policy=RetryEverything()) as cluster:
        session = await cluster.connect()
        with pytest.raises((WriteTimeout, Overloaded, ConnectionLost)):
            await session.execute(INSERT, is_idempotent=False)
        assert len(attempts(nodes)) == 1


class IgnoreErrors:
    """A policy that swallows write timeouts (the request then returns an empty result)."""

    def decide(self, info: RetryInfo) -> RetryDecision:
        return RetryDecision.IGNORE if isinstance(info.error, WriteTimeout) else RetryDecision.RETHROW


@pytest.mark.parametrize("idempotent", [False, True])
async def test_ignore_decision_returns_an_empty_result_without_retrying(
    nodes: list[FakeServer], idempotent: bool
) -> None:
    for s in nodes:
        s.on(Opcode.QUERY, match=is_insert, reply=write_timeout())
    async with cluster_of(nodes, retry_policy=IgnoreErrors()) as cluster:
        session = await cluster.connect()
        rs = await session.execute(INSERT, is_idempotent=idempotent, timeout=2.0)
        assert rs.current_rows == [] and rs.one() is None
        assert len(attempts(nodes)) == 1
