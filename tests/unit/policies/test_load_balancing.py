"""Load-balancing policies as pure functions of (RequestInfo, ClusterState), with seeded randomness."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest

from aiocql.model.host import Host, HostDistance
from aiocql.model.schema import KeyspaceMetadata
from aiocql.model.state import ClusterState
from aiocql.policies.load_balancing import (
    ClusterStateView,
    DCAwareRoundRobinPolicy,
    HostFilterPolicy,
    LoadBalancingPolicy,
    RequestInfo,
    RoundRobinPolicy,
    TokenAwarePolicy,
    default_load_balancing_policy,
)
from aiocql.types.token import murmur3_token

ANY = RequestInfo()


def host(n: int, dc: str | None = "dc1", *tokens: int, rack: str = "r1") -> Host:
    return Host(uuid.UUID(int=n), f"h{n}", datacenter=dc, rack=rack, tokens=tokens)


def ids(hosts: Iterator[Host] | Sequence[Host]) -> list[int]:
    return [h.host_id.int for h in hosts]


# Two DCs: 1-3 in dc1, 4-6 in dc2.
HOSTS = [host(i, "dc1" if i <= 3 else "dc2", i * 100) for i in range(1, 7)]


def state(*down: int, keyspaces: dict[str, KeyspaceMetadata] | None = None, hosts: list[Host] = HOSTS) -> ClusterState:
    return ClusterState.create(hosts, up=[h.host_id for h in hosts if h.host_id.int not in down], keyspaces=keyspaces)


def test_cluster_state_satisfies_the_view_protocol() -> None:
    view: ClusterStateView = state()
    policies: list[LoadBalancingPolicy] = [
        RoundRobinPolicy(),
        DCAwareRoundRobinPolicy(),
        TokenAwarePolicy(RoundRobinPolicy()),
        HostFilterPolicy(RoundRobinPolicy(), lambda h: True),
    ]
    assert view.host_list and len(policies) == 4


# ---------------------------------------------------------------------------------------------
# RoundRobinPolicy
# ---------------------------------------------------------------------------------------------


def test_round_robin_rotates_over_every_host() -> None:
    s = state()
    rr = RoundRobinPolicy(rng=random.Random(3))
    plans = [ids(rr.plan(ANY, s)) for _ in range(12)]
    assert all(sorted(p) == [1, 2, 3, 4, 5, 6] for p in plans)
    firsts = [p[0] for p in plans]
    assert Counter(firsts) == {i: 2 for i in range(1, 7)}
    assert all((b - a) % 6 == 1 for a, b in itertools.pairwise(firsts))
    assert all(rr.distance(h, s) is HostDistance.LOCAL for h in HOSTS)


def test_round_robin_puts_down_hosts_last() -> None:
    s = state(2, 5)
    rr = RoundRobinPolicy(rng=random.Random(0))
    for _ in range(6):
        plan = ids(rr.plan(ANY, s))
        assert sorted(plan[:4]) == [1, 3, 4, 6] and sorted(plan[4:]) == [2, 5]


def test_plan_is_lazy_and_the_counter_moves_at_plan_time() -> None:
    rr = RoundRobinPolicy(rng=random.Random(0))
    s = state()
    first = rr.plan(ANY, s)
    second = rr.plan(ANY, s)
    assert next(second).host_id.int - next(first).host_id.int in (1, -5)


def test_empty_cluster_gives_empty_plans() -> None:
    empty = ClusterState.create()
    for policy in (RoundRobinPolicy(), DCAwareRoundRobinPolicy("dc1"), TokenAwarePolicy(DCAwareRoundRobinPolicy())):
        assert list(policy.plan(RequestInfo(keyspace="k", token=1), empty)) == []


# ---------------------------------------------------------------------------------------------
# DCAwareRoundRobinPolicy
# ---------------------------------------------------------------------------------------------


def test_dc_aware_local_hosts_only_by_default() -> None:
    s = state()
    p = DCAwareRoundRobinPolicy("dc1", rng=random.Random(0))
    p.on_init(s, [])
    plans = [ids(p.plan(ANY, s)) for _ in range(3)]
    assert all(sorted(plan) == [1, 2, 3] for plan in plans)
    assert sorted(plan[0] for plan in plans) == [1, 2, 3]
    assert [p.distance(h, s) for h in HOSTS] == [HostDistance.LOCAL] * 3 + [HostDistance.IGNORED] * 3


def test_dc_aware_remote_hosts_come_after_up_local_hosts() -> None:
    s = state(1)
    p = DCAwareRoundRobinPolicy("dc1", used_hosts_per_remote_dc=2, rng=random.Random(0))
    assert [p.distance(h, s).value for h in HOSTS] == ["local"] * 3 + ["remote", "remote", "ignored"]
    for _ in range(4):
        plan = ids(p.plan(ANY, s))
        assert sorted(plan[:2]) == [2, 3] and sorted(plan[2:4]) == [4, 5] and plan[4:] == [1]


def test_dc_aware_remote_choice_prefers_up_hosts() -> None:
    s = state(4)
    p = DCAwareRoundRobinPolicy("dc1", used_hosts_per_remote_dc=2)
    assert [p.distance(h, s).value for h in HOSTS[3:]] == ["ignored", "remote", "remote"]
    all_down = state(4, 5, 6)
    assert [p.distance(h, all_down).value for h in HOSTS[3:]] == ["remote", "remote", "ignored"]
    plan = ids(p.plan(ANY, all_down))
    assert sorted(plan[:3]) == [1, 2, 3] and sorted(plan[3:]) == [4, 5]


def test_dc_aware_down_local_hosts_after_up_remote_hosts() -> None:
    s = state(1, 2, 3)
    p = DCAwareRoundRobinPolicy("dc1", used_hosts_per_remote_dc=1, rng=random.Random(0))
    plan = ids(p.plan(ANY, s))
    assert plan[0] == 4 and sorted(plan[1:]) == [1, 2, 3]


def test_dc_aware_several_remote_dcs_and_hosts_without_dc() -> None:
    hosts = [*HOSTS, host(7, "dc3"), host(8, None)]
    s = state(hosts=hosts)
    p = DCAwareRoundRobinPolicy("dc2", used_hosts_per_remote_dc=1, rng=random.Random(0))
    assert [p.distance(h, s).value for h in hosts] == [
        "remote", "ignored", "ignored", "local", "local", "local", "remote", "remote",
    ]  # fmt: skip
    plan = ids(p.plan(ANY, s))
    assert sorted(plan[:3]) == [4, 5, 6] and plan[3:] == [1, 7, 8]  # remote DCs by name, no-DC hosts last


def test_dc_aware_infers_local_dc_from_contact_points() -> None:
    s = state()
    p = DCAwareRoundRobinPolicy()
    assert p.local_dc is None and p.distance(HOSTS[4], s) is HostDistance.LOCAL  # before on_init
    p.on_init(s, [HOSTS[4], HOSTS[5]])
    assert p.local_dc == "dc2"
    assert sorted(ids(p.plan(ANY, s))) == [4, 5, 6]


def test_dc_aware_contact_points_in_several_dcs_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"several datacenters \('dc1', 'dc2'\): set local_dc to one of 'dc1', 'dc2'"):
        DCAwareRoundRobinPolicy().on_init(state(), [HOSTS[0], HOSTS[3]])


def test_dc_aware_without_contact_dc_uses_the_only_dc_or_fails() -> None:
    one_dc = state(hosts=HOSTS[:3])
    p = DCAwareRoundRobinPolicy()
    p.on_init(one_dc, [])
    assert p.local_dc == "dc1"
    with pytest.raises(ValueError, match="cannot be inferred"):
        DCAwareRoundRobinPolicy().on_init(state(), [])
    no_dc = state(hosts=[host(1, None), host(2, None)])
    p2 = DCAwareRoundRobinPolicy()
    p2.on_init(no_dc, [])
    assert p2.local_dc is None and sorted(ids(p2.plan(ANY, no_dc))) == [1, 2]


def test_dc_aware_unknown_local_dc_lists_existing_dcs() -> None:
    with pytest.raises(
        ValueError, match="local_dc 'DC1' is not a datacenter of this cluster; its datacenters are: 'dc1', 'dc2'"
    ):
        DCAwareRoundRobinPolicy("DC1").on_init(state(), [HOSTS[0]])
    DCAwareRoundRobinPolicy("dc2").on_init(state(), [HOSTS[0]])  # explicit wins over contact points


def test_dc_aware_rejects_negative_remote_count() -> None:
    with pytest.raises(ValueError):
        DCAwareRoundRobinPolicy("dc1", used_hosts_per_remote_dc=-1)


def test_dc_aware_follows_topology_changes() -> None:
    p = DCAwareRoundRobinPolicy("dc1", rng=random.Random(0))
    s = state()
    assert sorted(ids(p.plan(ANY, s))) == [1, 2, 3]
    s2 = s.with_host(host(9, "dc1"))
    assert sorted(ids(p.plan(ANY, s2))) == [1, 2, 3, 9]
    assert sorted(ids(p.plan(ANY, s2.without_host(uuid.UUID(int=1))))) == [2, 3, 9]


# ---------------------------------------------------------------------------------------------
# TokenAwarePolicy
# ---------------------------------------------------------------------------------------------

KS = {"rf2": KeyspaceMetadata.create("rf2", {"class": "SimpleStrategy", "replication_factor": "2"})}


def test_token_aware_replicas_first_then_child_without_repeats() -> None:
    s = state(keyspaces=KS)
    p = TokenAwarePolicy(DCAwareRoundRobinPolicy("dc1", rng=random.Random(0)), rng=random.Random(1))
    seen_first = set()
    for _ in range(20):
        plan = ids(p.plan(RequestInfo(keyspace="rf2", token=150), s))  # replicas 2 and 3, both in dc1
        assert sorted(plan[:2]) == [2, 3] and plan[2:] == [1]
        seen_first.add(plan[0])
    assert seen_first == {2, 3}  # shuffled


KS3 = {"rf3": KeyspaceMetadata.create("rf3", {"class": "SimpleStrategy", "replication_factor": "3"})}


def test_token_aware_first_host_is_uniform_over_the_local_up_replicas() -> None:
    hosts = [host(i, "dc1", i * 100) for i in range(1, 5)]
    s = state(3, keyspaces=KS3, hosts=hosts)  # replicas of 150: 2, 3, 4; host 3 down
    p = TokenAwarePolicy(DCAwareRoundRobinPolicy("dc1", rng=random.Random(0)), rng=random.Random(2))
    firsts = Counter(ids(itertools.islice(p.plan(RequestInfo(keyspace="rf3", token=150), s), 1))[0]
                     for _ in range(3000))  # fmt: skip
    assert set(firsts) == {2, 4}  # never the down replica
    assert 0.44 < firsts[2] / 3000 < 0.56  # a drawn replica that is down must not double its neighbour's share
    plan = ids(p.plan(RequestInfo(keyspace="rf3", token=150), s))
    assert sorted(plan[:2]) == [2, 4] and plan[2:] == [1, 3]  # then the child's plan without them (3 down: last)


class _CountingPolicy(RoundRobinPolicy):
    """A child policy that counts the plans asked of it."""

    __slots__ = ("plans",)

    def __init__(self) -> None:
        super().__init__(rng=random.Random(0))
        self.plans = 0

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        self.plans += 1
        return super().plan(info, state)


def test_token_aware_first_host_needs_no_child_plan() -> None:
    # The first host of a token-aware plan is a replica: the child's plan is made only if more hosts are asked for.
    child = _CountingPolicy()
    p = TokenAwarePolicy(child, rng=random.Random(3))
    plan = p.plan(RequestInfo(keyspace="rf2", token=150), state(keyspaces=KS))
    first = next(plan).host_id.int
    assert first in (2, 3) and child.plans == 0
    rest = ids(plan)
    assert rest[0] == 5 - first and child.plans == 1  # the other replica, then the child's plan without both
    assert sorted([first, *rest]) == [1, 2, 3, 4, 5, 6]


def test_token_aware_without_shuffle_keeps_ring_order() -> None:
    s = state(keyspaces=KS)
    p = TokenAwarePolicy(RoundRobinPolicy(rng=random.Random(0)), shuffle_replicas=False)
    for _ in range(5):
        plan = ids(p.plan(RequestInfo(keyspace="rf2", token=350), s))
        assert plan[:2] == [4, 5] and sorted(plan[2:]) == [1, 2, 3, 6]


def test_token_aware_only_local_up_replicas_go_first() -> None:
    s = state(2, keyspaces=KS)
    p = TokenAwarePolicy(DCAwareRoundRobinPolicy("dc1", used_hosts_per_remote_dc=1, rng=random.Random(0)))
    plan = ids(p.plan(RequestInfo(keyspace="rf2", token=250), s))  # replicas 3 (up, local) and 4 (remote)
    assert plan[0] == 3 and plan[1:] == [1, 4, 2]  # then the child: up local 1, remote 4, down local 2


def test_token_aware_uses_the_routing_key() -> None:
    key = b"\x00\x00\x00\x07"
    token = murmur3_token(key)
    s = state(keyspaces=KS)
    assert s.token_map is not None
    replicas = ids(s.token_map.replicas("rf2", token))
    p = TokenAwarePolicy(RoundRobinPolicy(rng=random.Random(0)), shuffle_replicas=False)
    assert ids(p.plan(RequestInfo(keyspace="rf2", routing_key=key), s))[:2] == replicas
    # An explicit token wins over the routing key.
    assert ids(p.plan(RequestInfo(keyspace="rf2", routing_key=key, token=150), s))[:2] == [2, 3]


@pytest.mark.parametrize(
    "info",
    [
        RequestInfo(token=150),  # no keyspace
        RequestInfo(keyspace="rf2"),  # no token or routing key
        RequestInfo(keyspace="unknown", token=150),
    ],
)
def test_token_aware_falls_back_to_the_child(info: RequestInfo) -> None:
    s = state(keyspaces=KS)
    child = RoundRobinPolicy(rng=random.Random(5))
    expected = ids(RoundRobinPolicy(rng=random.Random(5)).plan(info, s))
    assert ids(TokenAwarePolicy(child).plan(info, s)) == expected


def test_token_aware_falls_back_without_token_map_or_local_replicas() -> None:
    no_map = ClusterState.create(HOSTS, keyspaces=KS, partitioner="org.apache.cassandra.dht.RandomPartitioner")
    p = TokenAwarePolicy(DCAwareRoundRobinPolicy("dc1", rng=random.Random(0)))
    assert sorted(ids(p.plan(RequestInfo(keyspace="rf2", token=150), no_map))) == [1, 2, 3]
    remote_only = state(keyspaces=KS)
    assert sorted(ids(p.plan(RequestInfo(keyspace="rf2", token=450), remote_only))) == [1, 2, 3]  # replicas 5, 6
    all_down = state(2, 3, keyspaces=KS)
    assert ids(p.plan(RequestInfo(keyspace="rf2", token=150), all_down))[0] == 1


def test_token_aware_delegates_init_and_distance() -> None:
    child = DCAwareRoundRobinPolicy()
    p = TokenAwarePolicy(child)
    p.on_init(state(), [HOSTS[3]])
    assert child.local_dc == "dc2" and p.distance(HOSTS[0], state()) is HostDistance.IGNORED


def test_token_aware_with_network_topology_and_vnodes() -> None:
    rng = random.Random(11)
    hosts = [
        Host(
            uuid.UUID(int=i),
            f"h{i}",
            datacenter=f"dc{i % 2}",
            rack=f"r{i % 3}",
            tokens=tuple(rng.randrange(-(2**63), 2**63) for _ in range(8)),
        )
        for i in range(1, 9)
    ]
    keyspaces = {"k": KeyspaceMetadata.create("k", {"class": "NetworkTopologyStrategy", "dc0": "2", "dc1": "2"})}
    s = ClusterState.create(hosts, keyspaces=keyspaces)
    assert s.token_map is not None
    p = TokenAwarePolicy(DCAwareRoundRobinPolicy("dc0", rng=random.Random(0)), rng=random.Random(0))
    for _ in range(50):
        token = rng.randrange(-(2**63), 2**63)
        local_replicas = {h.host_id.int for h in s.token_map.replicas("k", token) if h.datacenter == "dc0"}
        plan = ids(p.plan(RequestInfo(keyspace="k", token=token), s))
        assert len(local_replicas) == 2 and set(plan[:2]) == local_replicas
        assert sorted(plan) == sorted(h.host_id.int for h in hosts if h.datacenter == "dc0")


# ---------------------------------------------------------------------------------------------
# HostFilterPolicy and the default
# ---------------------------------------------------------------------------------------------


def test_host_filter() -> None:
    s = state()
    even = HostFilterPolicy(RoundRobinPolicy(rng=random.Random(0)), lambda h: h.host_id.int % 2 == 0)
    assert sorted(ids(even.plan(ANY, s))) == [2, 4, 6]
    assert [even.distance(h, s).value for h in HOSTS[:2]] == ["ignored", "local"]


def test_host_filter_passes_accepted_contact_hosts_to_the_child() -> None:
    child = DCAwareRoundRobinPolicy()
    HostFilterPolicy(child, lambda h: h.datacenter == "dc2").on_init(state(), [HOSTS[0], HOSTS[4]])
    assert child.local_dc == "dc2"


def test_default_policy_is_token_aware_dc_aware() -> None:
    p = default_load_balancing_policy("dc2")
    assert isinstance(p, TokenAwarePolicy) and isinstance(p.child, DCAwareRoundRobinPolicy)
    assert p.child.local_dc == "dc2" and p.shuffle_replicas
