"""Host values and the immutable ClusterState."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from aiocql.model.host import Host, HostDistance, HostState
from aiocql.model.schema import KeyspaceMetadata
from aiocql.model.state import ClusterState

RANDOM = "org.apache.cassandra.dht.RandomPartitioner"
MURMUR3 = "org.apache.cassandra.dht.Murmur3Partitioner"


def host(n: int, *tokens: int, dc: str = "dc1", address: str | None = None) -> Host:
    return Host(uuid.UUID(int=n), address or f"10.0.0.{n}", datacenter=dc, rack="r1", tokens=tokens)


def ks(name: str, rf: int = 1) -> KeyspaceMetadata:
    return KeyspaceMetadata.create(name, {"class": "SimpleStrategy", "replication_factor": str(rf)})


# ---------------------------------------------------------------------------------------------
# Host
# ---------------------------------------------------------------------------------------------


def test_host_is_a_frozen_slotted_value() -> None:
    h = host(1, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.address = "x"  # type: ignore[misc]
    assert not hasattr(h, "__dict__")
    assert h == host(1, 5) and h != host(1, 6)
    assert hash(h) == hash(h.host_id) == hash(host(1, 6))
    assert Host(uuid.UUID(int=1), "a", tokens=[3, 1]).tokens == (3, 1)  # type: ignore[arg-type]


def test_host_str_and_endpoint() -> None:
    assert str(host(1)) == "10.0.0.1:9042 (dc1/r1)"
    assert str(Host(uuid.UUID(int=1), "::1", 9043)) == "::1:9043"
    assert host(1).endpoint == ("10.0.0.1", 9042)


def test_enums() -> None:
    assert [d.value for d in HostDistance] == ["local", "remote", "ignored"]
    assert [s.value for s in HostState] == ["up", "down"]


# ---------------------------------------------------------------------------------------------
# ClusterState
# ---------------------------------------------------------------------------------------------


def test_create_defaults() -> None:
    a, b = host(2, 10), host(1, 0)
    s = ClusterState.create([a, b])
    assert s.host_list == (b, a)  # stable order: by host id
    assert s.up == {a.host_id, b.host_id}
    assert s.token_map is not None and len(s.token_map) == 2
    assert dict(s.keyspaces) == {} and s.partitioner is None
    assert s.get_host(a.host_id) is a and s.get_host(uuid.UUID(int=99)) is None
    assert s.datacenters == ("dc1",)
    assert "2 hosts (2 up)" in repr(s)


def test_create_with_explicit_up_set_ignores_unknown_ids() -> None:
    a, b = host(1), host(2)
    s = ClusterState.create([a, b], up=[b.host_id, uuid.UUID(int=77)])
    assert s.up == {b.host_id}
    assert [h.host_id for h in s.up_hosts] == [b.host_id]
    assert s.host_state(a) is HostState.DOWN and s.host_state(b.host_id) is HostState.UP


def test_state_is_immutable() -> None:
    s = ClusterState.create([host(1)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.up = frozenset()  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.hosts[uuid.UUID(int=5)] = host(5)  # type: ignore[index]
    with pytest.raises(TypeError):
        s.keyspaces["x"] = ks("x")  # type: ignore[index]


def test_up_down_swaps_only_the_up_set() -> None:
    a = host(1, 0)
    s0 = ClusterState.create([a], keyspaces={"k": ks("k")})
    s1 = s0.with_host_down(a.host_id)
    assert not s1.is_up(a) and s0.is_up(a)
    assert s1.token_map is s0.token_map and s1.keyspaces is s0.keyspaces and s1.hosts is s0.hosts
    assert s1.with_host_down(a.host_id) is s1
    s2 = s1.with_host_up(a.host_id)
    assert s2.is_up(a) and s2.with_host_up(a.host_id) is s2
    assert s2.with_host_up(uuid.UUID(int=42)) is s2  # unknown host: no change


def test_with_hosts_keeps_states_and_marks_new_hosts_up() -> None:
    a, b, c = host(1, 0), host(2, 10), host(3, 20)
    s0 = ClusterState.create([a, b], up=[b.host_id])
    s1 = s0.with_hosts([b, c])
    assert set(s1.hosts) == {b.host_id, c.host_id}
    assert s1.up == {b.host_id, c.host_id}
    assert s1.token_map is not None and [h for _, h in s1.token_map.ring] == [b, c]
    assert s1.with_hosts([c, b]) is s1
    s2 = s0.with_hosts([a, b, c], new_hosts_up=False)
    assert s2.up == {b.host_id}


def test_with_host_adds_replaces_and_sets_state() -> None:
    a = host(1, 0)
    s0 = ClusterState.create([a], up=[])
    moved = host(1, 100, address="10.9.9.9")
    s1 = s0.with_host(moved)
    assert s1.get_host(a.host_id) is moved and not s1.is_up(moved)  # known host: state kept
    assert s1.token_map is not None and s1.token_map.owner(50) is moved
    assert s1.host_at("10.9.9.9", 9042) is moved and s1.host_at("10.0.0.1", 9042) is None
    s2 = s1.with_host(host(2, 200))
    assert s2.is_up(uuid.UUID(int=2))  # new host: up
    assert s2.with_host(host(2, 200)) is s2  # equal value: nothing to do
    assert not s2.with_host(host(2, 200), up=False).is_up(uuid.UUID(int=2))
    assert s2.with_host(moved, up=True).is_up(moved)
    assert s2.with_host(host(3), up=False).up == s2.up


def test_without_host() -> None:
    a, b = host(1, 0), host(2, 10)
    s = ClusterState.create([a, b]).without_host(a.host_id)
    assert list(s.hosts) == [b.host_id] and s.up == {b.host_id}
    assert s.token_map is not None and s.token_map.hosts == (b,)
    assert s.without_host(a.host_id) is s


def test_host_at_any_port() -> None:
    s = ClusterState.create([Host(uuid.UUID(int=1), "10.0.0.1", 9043)])
    assert s.host_at("10.0.0.1") is s.host_list[0]
    assert s.host_at("10.0.0.2") is None


def test_keyspace_changes_share_the_ring() -> None:
    a, b = host(1, 0), host(2, 10)
    s0 = ClusterState.create([a, b], keyspaces={"k1": ks("k1", 2)})
    assert s0.token_map is not None
    before = s0.token_map.replicas("k1", 5)
    s1 = s0.with_keyspace(ks("k2", 1))
    assert sorted(s1.keyspaces) == ["k1", "k2"]
    assert s1.token_map is not None and s1.token_map is not s0.token_map
    assert s1.token_map.replicas("k1", 5) is before  # memo shared
    assert [h.host_id.int for h in s1.token_map.replicas("k2", 5)] == [2]
    assert s1.hosts is s0.hosts and s1.up is s0.up
    s2 = s1.without_keyspace("k1")
    assert list(s2.keyspaces) == ["k2"] and s2.token_map is not None and s2.token_map.replicas("k1", 5) == ()
    assert s2.without_keyspace("k1") is s2
    same = s1.keyspaces["k2"]
    assert s1.with_keyspace(same) is s1
    s3 = s2.with_keyspaces({})
    assert dict(s3.keyspaces) == {}


def test_topology_change_keeps_keyspaces_in_the_new_token_map() -> None:
    s = ClusterState.create([host(1, 0)], keyspaces={"k": ks("k", 2)}).with_host(host(2, 10))
    assert s.token_map is not None and len(s.token_map.replicas("k", 5)) == 2


def test_partitioner_without_token_routing() -> None:
    s = ClusterState.create([host(1, 0)], keyspaces={"k": ks("k")}, partitioner=RANDOM)
    assert s.token_map is None
    assert s.with_host(host(2, 5)).token_map is None
    assert s.with_keyspace(ks("k2")).token_map is None
    back = s.with_partitioner(MURMUR3)
    assert back.token_map is not None and len(back.token_map) == 1 and "k" in back.token_map.keyspaces
    assert back.up == s.up and back.with_partitioner(MURMUR3) is back
    assert back.with_partitioner(RANDOM).token_map is None
