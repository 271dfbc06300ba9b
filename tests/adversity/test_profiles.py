"""Execution profiles, checked at the fake server and in the results: a named profile changes the
consistency sent, the timeout, the row factory, the retry policy, the speculative policy and the load
balancing policy; fields left None inherit the cluster's settings; an ExecutionProfile object works as
well as a name; an unknown name is a clear error."""

from __future__ import annotations

import asyncio
import time

import pytest

from aiocql import (
    Cluster,
    ConsistencyLevel,
    ConstantSpeculativeExecutionPolicy,
    DCAwareRoundRobinPolicy,
    ExecutionProfile,
    FallthroughRetryPolicy,
    HostFilterPolicy,
    InvalidValueError,
    OperationTimedOut,
    RoundRobinPolicy,
    Unavailable,
    dict_factory,
)
from aiocql.protocol.requests import Query
from aiocql.testing.fakeserver import Error, FakeServer, Opcode, ReceivedRequest
from aiocql.testing.replies import Reply

from .conftest import echo_row, is_kv, key_of
from .fakecluster import Gate, cluster_of, fake_nodes, kv_requests, label_of


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


def consistency_of(req: ReceivedRequest) -> tuple[ConsistencyLevel, ConsistencyLevel | None]:
    assert isinstance(req.message, Query)
    return req.message.params.consistency, req.message.params.serial_consistency


def sent(server: FakeServer, k: int) -> ReceivedRequest:
    found = server.received(Opcode.QUERY, lambda r: is_kv(r) and key_of(r) == k)
    assert len(found) == 1, found
    return found[0]


async def test_a_named_profile_sets_consistency_timeout_and_row_factory(server: FakeServer) -> None:
    held = Gate()  # -1 is answered only after the test: only a deadline can end its wait
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) < 0, reply=echo_row, delay=1.0)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) == -1, reply=held.hold)
    strict = ExecutionProfile(
        consistency_level=ConsistencyLevel.QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        request_timeout=0.1,
        row_factory=dict_factory,
    )
    async with Cluster([server.host], port=server.port, execution_profiles={"strict": strict}) as cluster:
        session = await cluster.connect()
        plain = await session.execute(select(1))
        assert plain.one() == (1, "value-1")  # named tuples, the cluster's default
        assert consistency_of(sent(server, 1)) == (ConsistencyLevel.LOCAL_ONE, None)

        # (timeout=10: these must not time out on a loaded machine; the profile's timeout is checked below)
        rs = await session.execute(select(2), execution_profile="strict", timeout=10.0)
        assert rs.one() == {"k": 2, "v": "value-2"}
        assert consistency_of(sent(server, 2)) == (ConsistencyLevel.QUORUM, ConsistencyLevel.LOCAL_SERIAL)

        started = time.perf_counter()
        with pytest.raises(OperationTimedOut):
            await session.execute(select(-1), execution_profile="strict")
        assert time.perf_counter() - started < 2.0  # the profile's 0.1 s, not the cluster's 10 s
        # the default profile keeps the cluster's 10 s timeout: a request answered after 1 s succeeds
        assert (await session.execute(select(-2))).one() == (-2, "value--2")
        held.open()

        # what the call says wins over the profile
        await session.execute(
            select(3), execution_profile="strict", consistency_level=ConsistencyLevel.ALL, timeout=10.0
        )
        assert consistency_of(sent(server, 3))[0] == ConsistencyLevel.ALL
        # and the default profile can be named
        await session.execute(select(4), execution_profile="default")
        assert consistency_of(sent(server, 4))[0] == ConsistencyLevel.LOCAL_ONE


async def test_fields_left_none_inherit_the_cluster_settings(server: FakeServer) -> None:
    held = Gate()  # -1 is answered only after the test: only a deadline can end its wait
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) == -1, reply=held.hold)
    only_consistency = ExecutionProfile(consistency_level=ConsistencyLevel.TWO)
    async with Cluster(
        [server.host],
        port=server.port,
        consistency_level=ConsistencyLevel.THREE,
        row_factory=dict_factory,
        request_timeout=0.1,
        execution_profiles={"two": only_consistency},
    ) as cluster:
        session = await cluster.connect()
        # (timeout=10: these must not time out on a loaded machine; the inherited timeout is checked below)
        rs = await session.execute(select(1), execution_profile="two", timeout=10.0)
        assert rs.one() == {"k": 1, "v": "value-1"}  # the cluster's row factory
        assert consistency_of(sent(server, 1))[0] == ConsistencyLevel.TWO
        await session.execute(select(2), timeout=10.0)
        assert consistency_of(sent(server, 2))[0] == ConsistencyLevel.THREE
        started = time.perf_counter()
        with pytest.raises(OperationTimedOut):  # the cluster's 0.1 s timeout, not the default 10 s
            await session.execute(select(-1), execution_profile="two")
        assert time.perf_counter() - started < 2.0
        held.open()


async def test_an_execution_profile_object_works_without_a_name(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        profile = ExecutionProfile(consistency_level=ConsistencyLevel.EACH_QUORUM, row_factory=dict_factory)
        rs = await session.execute(select(1), execution_profile=profile)
        assert rs.one() == {"k": 1, "v": "value-1"}
        assert consistency_of(sent(server, 1))[0] == ConsistencyLevel.EACH_QUORUM


async def test_an_unknown_profile_name_lists_the_known_ones(server: FakeServer) -> None:
    profiles = {"fast": ExecutionProfile(request_timeout=1.0), "analytics": ExecutionProfile(fetch_size=10)}
    async with Cluster([server.host], port=server.port, execution_profiles=profiles) as cluster:
        session = await cluster.connect()
        with pytest.raises(InvalidValueError) as info:
            await session.execute(select(1), execution_profile="fats")
        assert str(info.value) == "no execution profile named 'fats' (known: analytics, default, fast)"
        assert server.received(Opcode.QUERY, is_kv) == []


def first_attempt_fails(nodes: list[FakeServer], reply: Reply) -> None:
    """The first kv request, on whichever node, gets ``reply``; every later one its row."""
    state = {"first": True}

    def handler(req: ReceivedRequest) -> object:
        if state["first"]:
            state["first"] = False
            return reply
        return echo_row(req)

    for node in nodes:
        node.on(Opcode.QUERY, match=is_kv, reply=handler)


async def test_a_profile_changes_the_retry_policy() -> None:
    unavailable = Error(Unavailable("Cannot achieve consistency", consistency=ConsistencyLevel.QUORUM,
                                    required=2, alive=1))  # fmt: skip
    async with fake_nodes(2) as nodes:
        profiles = {"no-retry": ExecutionProfile(retry_policy=FallthroughRetryPolicy())}
        async with cluster_of(nodes, execution_profiles=profiles) as cluster:
            session = await cluster.connect()
            first_attempt_fails(nodes, unavailable)
            # default policy: Unavailable is retried once on the next node
            assert (await session.execute(select(1))).one() == (1, "value-1")
            assert len(kv_requests(nodes)) == 2
            first_attempt_fails(nodes, unavailable)
            with pytest.raises(Unavailable):
                await session.execute(select(2), execution_profile="no-retry")
            assert len(kv_requests(nodes)) == 3  # attempted once


async def test_a_profile_turns_speculation_on() -> None:
    async with fake_nodes(3) as nodes:
        held = Gate()  # the slow node holds its replies while the speculating profile runs: none may wait
        nodes[0].on(Opcode.QUERY, match=is_kv, reply=held.hold)
        speculative = ExecutionProfile(speculative_execution_policy=ConstantSpeculativeExecutionPolicy(0.05, 2))
        async with cluster_of(
            nodes, load_balancing_policy=RoundRobinPolicy(), execution_profiles={"spec": speculative}
        ) as cluster:
            session = await cluster.connect()

            def speculated() -> int:
                return sum(cluster.metrics.node(label_of(n)).speculative_executions for n in nodes)

            async with asyncio.timeout(30):  # one waiting for the held node would hang: fail instead
                for k in range(6):  # round robin: two of them start on the slow node
                    rs = await session.execute(select(k), is_idempotent=True, execution_profile="spec")
                    assert rs.one() == (k, f"value-{k}") and rs.coordinator != nodes[0].host
            assert held.held >= 2 and speculated() >= 2
            held.open()
            nodes[0].on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=0.5)  # from now on: slow, not held
            before = speculated()
            started = time.perf_counter()
            for k in range(6):  # the default profile does not speculate: two wait for the slow node
                await session.execute(select(k), is_idempotent=True)
            # two waits of 0.5 s; uvloop's millisecond timers, set from a clock read once per loop
            # iteration, may end each a few ms early in real time
            assert time.perf_counter() - started >= 1.0 - 0.02
            assert speculated() == before


async def test_a_profile_changes_the_load_balancing_policy() -> None:
    async with fake_nodes(3) as nodes:
        only_third = HostFilterPolicy(RoundRobinPolicy(), lambda host: host.address == nodes[2].host)
        profiles = {"third": ExecutionProfile(load_balancing_policy=only_third)}
        async with cluster_of(nodes, load_balancing_policy=RoundRobinPolicy(), execution_profiles=profiles) as cluster:
            session = await cluster.connect()
            for k in range(9):
                rs = await session.execute(select(k), execution_profile="third")
                assert rs.coordinator == nodes[2].host
            for k in range(9):
                await session.execute(select(100 + k))
            assert [len(n.received(Opcode.QUERY, is_kv)) for n in nodes] == [3, 3, 12]


async def test_a_profile_object_with_its_own_dc_aware_policy() -> None:
    # Two DCs; the cluster keeps a pool to one remote host. A DC-aware policy in a profile passed as an
    # object (never seen at connect) must learn the local DC like the cluster's own policy did, and a
    # local_dc no host has must be a clear error, not a silent "no host".
    async with fake_nodes(2) as nodes:
        nodes[1].datacenter = "dc2"
        nodes[0].peers = [nodes[1].peer_row()]
        nodes[0].datacenter = "dc1"
        async with cluster_of(
            nodes, load_balancing_policy=DCAwareRoundRobinPolicy(used_hosts_per_remote_dc=1)
        ) as cluster:
            session = await cluster.connect()
            assert len(session.pools) == 2  # the local node and the remote one
            profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy())
            for k in range(6):
                rs = await session.execute(select(k), execution_profile=profile)
                assert rs.coordinator == nodes[0].host
            wrong = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy("dc-nowhere"))
            with pytest.raises(InvalidValueError, match=r"'dc-nowhere'.*'dc1', 'dc2'"):
                await session.execute(select(9), execution_profile=wrong)
            assert 9 not in [key_of(r) for r in kv_requests(nodes)]
