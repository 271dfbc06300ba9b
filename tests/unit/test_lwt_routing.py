"""LWT detection from the statement text, and LWT plans: the local replicas in ring order, never shuffled."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest

from aiocql import RequestInfo, RoundRobinPolicy, TokenAwarePolicy
from aiocql.model.host import Host
from aiocql.model.schema import KeyspaceMetadata
from aiocql.model.state import ClusterState
from aiocql.session.lwt import is_conditional
from aiocql.session.session import _is_lwt
from aiocql.statements import BatchStatement, BoundStatement, PreparedStatement, SimpleStatement


@pytest.mark.parametrize(
    ("query", "lwt"),
    [
        ("INSERT INTO t (k, v) VALUES (?, ?) IF NOT EXISTS", True),
        ("update t set v = 1 where k = 2 if v = 0", True),
        ("DELETE FROM t WHERE k = 1 IF EXISTS", True),
        ("  UPDATE ks.t USING TTL 5 SET v = ? WHERE k = ? IF v != null", True),
        ("BEGIN BATCH UPDATE t SET v = 1 WHERE k = 1 IF v = 0; APPLY BATCH", True),
        ("INSERT INTO t (k, v) VALUES (1, 'IF NOT EXISTS')", False),
        ('UPDATE t SET "if" = 1 WHERE k = 1', False),
        ("UPDATE t SET v = 1 WHERE k = 1 -- IF v = 0", False),
        ("CREATE TABLE IF NOT EXISTS t (k int PRIMARY KEY)", False),
        ("SELECT * FROM t WHERE k = 1", False),
        ("SELECT iff FROM t", False),
    ],
)
def test_conditional_writes_are_recognized(query: str, lwt: bool) -> None:
    assert is_conditional(query) is lwt


def test_statements_carry_the_flag() -> None:
    prepared = PreparedStatement(query="UPDATE t SET v = 1 WHERE k = 1 IF v = 0", is_lwt=True)
    assert _is_lwt(BoundStatement(prepared, []))
    assert not _is_lwt(BoundStatement(PreparedStatement(query="SELECT 1"), []))
    assert _is_lwt(SimpleStatement("INSERT INTO t (k) VALUES (1) IF NOT EXISTS"))
    assert not _is_lwt(SimpleStatement("INSERT INTO t (k) VALUES (1)"))
    batch = BatchStatement()
    batch.add("INSERT INTO t (k, c) VALUES (1, 1)")
    assert not _is_lwt(batch)
    batch.add(BoundStatement(prepared, []))
    assert _is_lwt(batch)


def _state() -> ClusterState:
    hosts = [Host(uuid.UUID(int=i + 1), f"10.0.0.{i + 1}", datacenter="dc1", tokens=(i * 1000,)) for i in range(4)]
    ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "3"})
    return ClusterState.create(hosts, keyspaces={"ks": ks})


def test_lwt_plans_take_the_replicas_in_ring_order() -> None:
    state = _state()
    policy = TokenAwarePolicy(RoundRobinPolicy(rng=random.Random(1)), rng=random.Random(1))
    policy.on_init(state, state.host_list)
    lwt, plain = RequestInfo(keyspace="ks", token=1500, is_lwt=True), RequestInfo(keyspace="ks", token=1500)
    firsts_lwt = Counter(next(iter(policy.plan(lwt, state))).address for _ in range(60))
    firsts_plain = Counter(next(iter(policy.plan(plain, state))).address for _ in range(60))
    # Token 1500: replicas 10.0.0.3 (token 2000, the primary), .4, .1 in ring order.
    assert firsts_lwt == Counter({"10.0.0.3": 60})
    assert set(firsts_plain) == {"10.0.0.3", "10.0.0.4", "10.0.0.1"}  # shuffled otherwise
    assert [h.address for h in policy.plan(lwt, state)][:3] == ["10.0.0.3", "10.0.0.4", "10.0.0.1"]
    # A replica that is down is skipped, the order of the others kept.
    down = state.with_host_down(uuid.UUID(int=3))
    assert [h.address for h in policy.plan(lwt, down)][:2] == ["10.0.0.4", "10.0.0.1"]
