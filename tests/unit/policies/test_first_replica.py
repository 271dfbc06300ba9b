"""TokenAwarePolicy.first_replica + plan_after (the session's lean path) give the plan that plan() gives: the same
first host drawn the same way, then the same rest, for shuffled, ordered and LWT requests, with hosts down."""

from __future__ import annotations

import random
import uuid

import pytest

from aiocql.model.host import Host
from aiocql.model.schema import KeyspaceMetadata
from aiocql.model.state import ClusterState
from aiocql.policies.load_balancing import DCAwareRoundRobinPolicy, RequestInfo, TokenAwarePolicy

HOSTS = [Host(uuid.UUID(int=i + 1), f"h{i}", datacenter="dc1", tokens=(i * 100,)) for i in range(6)]
KS = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "3"})


def policy(seed: int, shuffle: bool) -> TokenAwarePolicy:
    child = DCAwareRoundRobinPolicy(rng=random.Random(seed))
    return TokenAwarePolicy(child, shuffle_replicas=shuffle, rng=random.Random(seed))


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("lwt", [True, False])
@pytest.mark.parametrize("down", [(), (2,), (1, 2, 3)])
def test_first_replica_then_plan_after_is_the_plan(shuffle: bool, lwt: bool, down: tuple[int, ...]) -> None:
    state = ClusterState.create(HOSTS, keyspaces={"ks": KS})
    for i in down:
        state = state.with_host_down(HOSTS[i].host_id)
    general, lean = policy(7, shuffle), policy(7, shuffle)
    general.on_init(state, HOSTS[:1])
    lean.on_init(state, HOSTS[:1])
    firsts = 0
    for token in range(0, 600, 37):
        info = RequestInfo(keyspace="ks", token=token, is_lwt=lwt)
        first = lean.first_replica("ks", None, token, lwt, state)
        if first is None:  # the lean path asks plan() then (after a draw that chose no local up replica)
            if shuffle and not lwt:
                general._rng.random()
            expected = [h.address for h in general.plan(info, state)]
            got = [h.address for h in lean.plan(info, state)]
        else:
            expected = [h.address for h in general.plan(info, state)]
            firsts += 1
            got = [first.address] + [h.address for h in lean.plan_after(first, info, state)]
        assert got == expected, token
    assert firsts > 0


def test_no_first_replica_without_keyspace_key_or_token_map() -> None:
    state = ClusterState.create(HOSTS, keyspaces={"ks": KS})
    p = policy(1, True)
    assert p.first_replica(None, None, 5, False, state) is None
    assert p.first_replica("ks", None, None, False, state) is None
    assert p.first_replica("nope", None, 5, False, state) is None
    assert p.first_replica("ks", b"\x00\x00\x00\x01", None, False, state) is not None
