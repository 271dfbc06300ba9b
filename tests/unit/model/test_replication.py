"""ReplicationSettings / ReplicationFactor parsing."""

from __future__ import annotations

import pytest

from aiocql.model.replication import ReplicationFactor, ReplicationSettings, StrategyKind


@pytest.mark.parametrize(
    ("text", "all_", "transient", "full"),
    [("3", 3, 0, 3), ("3/1", 3, 1, 2), (" 5 / 2 ", 5, 2, 3), ("0", 0, 0, 0), ("2/2", 2, 2, 0)],
)
def test_replication_factor_parse(text: str, all_: int, transient: int, full: int) -> None:
    rf = ReplicationFactor.parse(text)
    assert (rf.all_replicas, rf.transient_replicas, rf.full_replicas) == (all_, transient, full)


@pytest.mark.parametrize("text", ["", "x", "3/", "/1", "-1", "1/2", "3/1/1", "1.5"])
def test_replication_factor_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        ReplicationFactor.parse(text)


def test_replication_factor_str_round_trips() -> None:
    assert [str(ReplicationFactor.parse(t)) for t in ("3", "3/1")] == ["3", "3/1"]


@pytest.mark.parametrize("prefix", ["", "org.apache.cassandra.locator."])
def test_simple_strategy(prefix: str) -> None:
    s = ReplicationSettings.from_map({"class": f"{prefix}SimpleStrategy", "replication_factor": "3"})
    assert s.kind is StrategyKind.SIMPLE and s.strategy == "SimpleStrategy"
    assert s.replication_factor == ReplicationFactor(3)
    assert s.options == (("replication_factor", "3"),) and s.datacenters == () and s.dc_full_replicas == {}
    assert s.as_map() == {"class": "SimpleStrategy", "replication_factor": "3"}


def test_network_topology_strategy_sorted_and_transient() -> None:
    s = ReplicationSettings.from_map(
        {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc2": "3/1", "dc1": "2"}
    )
    assert s.kind is StrategyKind.NETWORK_TOPOLOGY
    assert s.datacenters == (("dc1", ReplicationFactor(2)), ("dc2", ReplicationFactor(3, 1)))
    assert s.dc_full_replicas == {"dc1": 2, "dc2": 2}
    assert s.replication_factor is None


def test_settings_are_hashable_values() -> None:
    a = ReplicationSettings.from_map({"class": "NetworkTopologyStrategy", "dc1": "3", "dc2": "1"})
    b = ReplicationSettings.from_map(
        {"dc2": "1", "class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "3"}
    )
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    ("mapping", "kind", "strategy"),
    [
        ({"class": "org.apache.cassandra.locator.LocalStrategy"}, StrategyKind.LOCAL, "LocalStrategy"),
        ({"class": "EverywhereStrategy"}, StrategyKind.EVERYWHERE, "EverywhereStrategy"),
        ({"class": "com.example.Custom", "a": "b"}, StrategyKind.OTHER, "com.example.Custom"),
        ({"class": "SimpleStrategy"}, StrategyKind.OTHER, "SimpleStrategy"),  # no factor
        ({"class": "SimpleStrategy", "replication_factor": "three"}, StrategyKind.OTHER, "SimpleStrategy"),
        ({"class": "NetworkTopologyStrategy", "dc1": "x"}, StrategyKind.OTHER, "NetworkTopologyStrategy"),
        ({}, StrategyKind.OTHER, ""),
    ],
)
def test_other_and_malformed_maps_never_raise(mapping: dict[str, str], kind: StrategyKind, strategy: str) -> None:
    s = ReplicationSettings.from_map(mapping)
    assert (s.kind, s.strategy) == (kind, strategy)
