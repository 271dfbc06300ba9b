"""TokenMap: ring ownership, SimpleStrategy, NetworkTopologyStrategy (racks, transient), fallbacks, memo;
cross-checked against cassandra-driver's pure-Python strategies on random rings."""

from __future__ import annotations

import bisect
import random
import uuid
from collections.abc import Sequence

import pytest

from aiocql.model.host import Host
from aiocql.model.replication import ReplicationSettings
from aiocql.model.token_map import MURMUR3_PARTITIONER, TokenMap, supports_token_routing, token_for
from aiocql.types.token import murmur3_token

MIN_TOKEN = -(2**63)
MAX_TOKEN = 2**63 - 1


def host(n: int, *tokens: int, dc: str | None = "dc1", rack: str | None = "r1") -> Host:
    return Host(uuid.UUID(int=n), f"10.0.0.{n}", datacenter=dc, rack=rack, tokens=tokens)


def simple(rf: str | int) -> ReplicationSettings:
    return ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": str(rf)})


def nts(**dcs: str | int) -> ReplicationSettings:
    return ReplicationSettings.from_map(
        {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", **{k: str(v) for k, v in dcs.items()}}
    )


def names(hosts: Sequence[Host]) -> list[str]:
    return [h.address.rsplit(".", 1)[1] for h in hosts]


# ---------------------------------------------------------------------------------------------
# Ring ownership
# ---------------------------------------------------------------------------------------------

A, B, C = host(1, -100), host(2, 0), host(3, 100)
THREE = TokenMap([C, A, B], {"rf1": simple(1), "rf2": simple(2), "rf5": simple(5)})


@pytest.mark.parametrize(
    ("token", "owner"),
    [
        (-100, "1"),  # equal to a host token: that host (ranges end at their token, inclusive)
        (-99, "2"),
        (0, "2"),
        (1, "3"),
        (100, "3"),
        (101, "1"),  # past the last token: wraps to the first
        (MIN_TOKEN, "1"),
        (MAX_TOKEN, "1"),
        (-101, "1"),
    ],
)
def test_owner_is_first_token_at_or_after(token: int, owner: str) -> None:
    assert names([THREE.owner(token)]) == [owner]  # type: ignore[list-item]
    assert names(THREE.replicas("rf1", token)) == [owner]


def test_ring_is_sorted_with_owners() -> None:
    assert [(t, h.host_id.int) for t, h in THREE.ring] == [(-100, 1), (0, 2), (100, 3)]
    assert len(THREE) == 3
    assert [h.host_id.int for h in THREE.hosts] == [1, 2, 3]
    assert repr(THREE) == "<TokenMap 3 tokens, 3 hosts, 3 keyspaces>"


def test_single_host_ring() -> None:
    tm = TokenMap([host(1, 42)], {"ks": simple(3)})
    for token in (MIN_TOKEN, 0, 42, 43, MAX_TOKEN):
        assert names(tm.replicas("ks", token)) == ["1"]


def test_single_host_with_vnodes() -> None:
    tm = TokenMap([host(1, 10, -10, 500)], {"ks": simple(2)})
    assert len(tm) == 3 and names(tm.replicas("ks", 11)) == ["1"]


def test_empty_ring_and_unknown_keyspaces() -> None:
    empty = TokenMap([], {"ks": simple(1)})
    assert empty.owner(0) is None
    assert empty.replicas("ks", 0) == ()
    assert THREE.replicas("missing", 0) == ()
    assert THREE.replicas(None, 0) == ()


def test_hosts_without_tokens_are_not_in_the_ring() -> None:
    tm = TokenMap([A, host(9)], {"ks": simple(3)})
    assert names(tm.hosts) == ["1"]
    assert names(tm.replicas("ks", 5)) == ["1"]


def test_duplicate_host_id_keeps_last_value() -> None:
    moved = host(1, 50)
    tm = TokenMap([A, moved], {"ks": simple(1)})
    assert [t for t, _ in tm.ring] == [50]


def test_duplicate_token_is_owned_by_smaller_host_id() -> None:
    tm = TokenMap([host(5, 7), host(2, 7)], {"ks": simple(1)})
    assert [(t, h.host_id.int) for t, h in tm.ring] == [(7, 2)]


# ---------------------------------------------------------------------------------------------
# SimpleStrategy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [(-100, ["1", "2"]), (-50, ["2", "3"]), (50, ["3", "1"]), (101, ["1", "2"]), (MIN_TOKEN, ["1", "2"])],
)
def test_simple_strategy_walks_clockwise_and_wraps(token: int, expected: list[str]) -> None:
    assert names(THREE.replicas("rf2", token)) == expected


def test_simple_strategy_rf_above_host_count_gives_every_host_once() -> None:
    assert names(THREE.replicas("rf5", 50)) == ["3", "1", "2"]


def test_simple_strategy_skips_repeated_hosts_with_vnodes() -> None:
    tm = TokenMap([host(1, 0, 10), host(2, 20), host(3, 5)], {"ks": simple(2)})
    # Ring: 0:h1, 5:h3, 10:h1, 20:h2. From 6: 10:h1, 20:h2.
    assert names(tm.replicas("ks", 6)) == ["1", "2"]
    # From 1: 5:h3, 10:h1.
    assert names(tm.replicas("ks", 1)) == ["3", "1"]
    # From 21 wraps: 0:h1, 5:h3.
    assert names(tm.replicas("ks", 21)) == ["1", "3"]


def test_simple_strategy_ignores_datacenters() -> None:
    tm = TokenMap([host(1, 0, dc="a"), host(2, 10, dc="b")], {"ks": simple(2)})
    assert names(tm.replicas("ks", 5)) == ["2", "1"]


def test_simple_strategy_transient_routes_to_full_replicas_only() -> None:
    tm = TokenMap([A, B, C], {"ks": simple("3/1")})
    assert names(tm.replicas("ks", -100)) == ["1", "2"]


def test_rf_zero_gives_no_replicas() -> None:
    assert TokenMap([A, B, C], {"ks": simple(0)}).replicas("ks", 0) == ()


# ---------------------------------------------------------------------------------------------
# NetworkTopologyStrategy
# ---------------------------------------------------------------------------------------------

# Six hosts, two DCs, interleaved on the ring:
#   token:  0    10   20   30   40   50
#   host:   1    2    3    4    5    6
#   dc:     d1   d2   d1   d2   d1   d2
#   rack:   a    x    a    y    b    x
SIX = [
    host(1, 0, dc="d1", rack="a"),
    host(2, 10, dc="d2", rack="x"),
    host(3, 20, dc="d1", rack="a"),
    host(4, 30, dc="d2", rack="y"),
    host(5, 40, dc="d1", rack="b"),
    host(6, 50, dc="d2", rack="x"),
]


def test_nts_one_replica_per_dc_in_ring_order() -> None:
    tm = TokenMap(SIX, {"ks": nts(d1=1, d2=1)})
    assert names(tm.replicas("ks", 0)) == ["1", "2"]
    assert names(tm.replicas("ks", 15)) == ["3", "4"]
    assert names(tm.replicas("ks", 45)) == ["6", "1"]  # wraps for d1


def test_nts_prefers_distinct_racks() -> None:
    tm = TokenMap(SIX, {"ks": nts(d1=2, d2=2)})
    # From 0, d1 sees 1(a), 3(a), 5(b): 3 shares rack a with 1, so 5 is taken; d2 sees 2(x), 4(y).
    assert names(tm.replicas("ks", 0)) == ["1", "2", "4", "5"]
    # From 45, d1 sees 1(a), 3(a), 5(b) -> 1, 5; d2 sees 6(x), 2(x), 4(y) -> 6, 4.
    assert names(tm.replicas("ks", 45)) == ["6", "1", "4", "5"]


def test_nts_fills_with_rack_repeats_once_racks_are_used() -> None:
    tm = TokenMap(SIX, {"ks": nts(d1=3, d2=3)})
    # d1 has racks {a, b}: one repeat allowed, the earliest in ring order (3, rack a).
    assert set(names(tm.replicas("ks", 0))) == {"1", "2", "3", "4", "5", "6"}
    tm2 = TokenMap(SIX, {"ks": nts(d1=3)})
    assert names(tm2.replicas("ks", 41)) == ["1", "3", "5"]


def test_nts_repeat_budget_matches_cassandra() -> None:
    # One DC, racks a a a b c in ring order, RF 4: racks a, b, c plus one repeat (the first: host 2).
    hosts = [host(i, i * 10, dc="d", rack=r) for i, r in enumerate("aaabc", start=1)]
    tm = TokenMap(hosts, {"ks": nts(d=4)})
    assert names(tm.replicas("ks", 0)) == ["1", "2", "4", "5"]
    # RF 2: two distinct racks, the repeats skipped.
    assert names(TokenMap(hosts, {"ks": nts(d=2)}).replicas("ks", 0)) == ["1", "4"]


def test_nts_rf_above_dc_size_takes_whole_dc() -> None:
    tm = TokenMap(SIX, {"ks": nts(d1=5, d2=0)})
    assert names(tm.replicas("ks", 25)) == ["5", "1", "3"]


def test_nts_unknown_dc_and_zero_rf_add_nothing() -> None:
    tm = TokenMap(SIX, {"ks": nts(d1=1, nowhere=3, d2=0)})
    assert names(tm.replicas("ks", 11)) == ["3"]
    assert TokenMap(SIX, {"ks": nts(nowhere=3)}).replicas("ks", 0) == ()


def test_nts_hosts_without_rack_or_dc() -> None:
    hosts = [host(1, 0, dc=None, rack=None), host(2, 10, dc="d", rack=None), host(3, 20, dc="d", rack=None)]
    tm = TokenMap(hosts, {"ks": nts(d=2)})
    assert names(tm.replicas("ks", 0)) == ["2", "3"]  # the None rack is one rack: one repeat allowed


def test_nts_transient_keeps_full_replicas_of_each_dc() -> None:
    # One DC, racks a a b: RF 3/1 places 1(a), 2(a, the one repeat), 3(b); the last placed is transient.
    hosts = [host(1, 0, dc="d", rack="a"), host(2, 10, dc="d", rack="a"), host(3, 20, dc="d", rack="b")]
    tm = TokenMap(hosts, {"ks": nts(d="3/1")})
    assert names(tm.replicas("ks", 0)) == ["1", "2"]
    # Only two nodes: Cassandra still makes the last one transient.
    tm2 = TokenMap(hosts[:2], {"ks": nts(d="3/1")})
    assert names(tm2.replicas("ks", 0)) == ["1"]


# ---------------------------------------------------------------------------------------------
# Other strategies, memo, with_keyspaces
# ---------------------------------------------------------------------------------------------


def test_everywhere_local_and_unknown_strategies() -> None:
    settings = {
        "every": ReplicationSettings.from_map({"class": "EverywhereStrategy"}),
        "local": ReplicationSettings.from_map({"class": "org.apache.cassandra.locator.LocalStrategy"}),
        "custom": ReplicationSettings.from_map({"class": "com.example.Strategy", "x": "1"}),
    }
    tm = TokenMap(SIX, settings)
    assert names(tm.replicas("every", 31)) == ["5", "6", "1", "2", "3", "4"]
    assert tm.replicas("local", 0) == ()
    assert tm.replicas("custom", 0) == ()


def test_replica_lists_are_memoized_per_ring_position() -> None:
    tm = TokenMap(SIX, {"ks": nts(d1=2)})
    first = tm.replicas("ks", 1)
    assert tm.replicas("ks", 5) is first  # same ring position (10)
    assert tm.replicas("ks", 11) is not first


def test_keyspaces_with_equal_settings_share_the_memo() -> None:
    tm = TokenMap(SIX, {"a": nts(d1=2), "b": nts(d1=2)})
    assert tm.replicas("a", 0) is tm.replicas("b", 0)


def test_with_keyspaces_shares_ring_and_memo() -> None:
    tm = TokenMap(SIX, {"a": simple(2)})
    before = tm.replicas("a", 0)
    tm2 = tm.with_keyspaces({"a": simple(2), "b": nts(d2=1)})
    assert tm2.replicas("a", 0) is before
    assert names(tm2.replicas("b", 0)) == ["2"]
    assert tm.replicas("b", 0) == ()  # the old map is unchanged
    assert tm2.ring == tm.ring and list(tm2.keyspaces) == ["a", "b"]
    assert tm.with_keyspaces({}).replicas("a", 0) == ()


def test_keyspaces_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        THREE.keyspaces["x"] = simple(1)  # type: ignore[index]


def test_token_for_is_murmur3() -> None:
    key = b"\x00\x00\x00\x2a"
    assert token_for(key) == murmur3_token(key) == TokenMap.token_for(key) == THREE.token_for(key)


def test_supported_partitioners() -> None:
    assert supports_token_routing(MURMUR3_PARTITIONER)
    assert supports_token_routing("Murmur3Partitioner")
    assert supports_token_routing(None)
    assert not supports_token_routing("org.apache.cassandra.dht.RandomPartitioner")
    assert not supports_token_routing("org.apache.cassandra.dht.ByteOrderedPartitioner")


# ---------------------------------------------------------------------------------------------
# Oracle: cassandra-driver's SimpleStrategy / NetworkTopologyStrategy on random rings
# ---------------------------------------------------------------------------------------------

metadata = pytest.importorskip("cassandra.metadata")


class _DriverHost:
    """What cassandra-driver's strategies read from a host."""

    def __init__(self, h: Host) -> None:
        self.host = h
        self.datacenter = h.datacenter
        self.rack = h.rack


def _random_ring(rng: random.Random) -> list[Host]:
    n_hosts, vnodes = rng.randint(1, 10), rng.randint(1, 6)
    n_dcs, n_racks = rng.randint(1, 3), rng.randint(1, 4)
    used: set[int] = set()
    hosts = []
    for i in range(n_hosts):
        tokens: list[int] = []
        while len(tokens) < vnodes:
            t = rng.randrange(MIN_TOKEN + 1, MAX_TOKEN + 1)
            if t not in used:
                used.add(t)
                tokens.append(t)
        dc, rack = f"dc{rng.randrange(n_dcs)}", f"r{rng.randrange(n_racks)}"
        hosts.append(Host(uuid.UUID(int=i + 1), f"10.0.0.{i + 1}", datacenter=dc, rack=rack, tokens=tuple(tokens)))
    return hosts


def _driver_replicas(strategy: object, hosts: list[Host], keys: list[int]) -> list[list[Host]]:
    owner: dict[int, _DriverHost] = {}
    wrapped = {h.host_id: _DriverHost(h) for h in hosts}
    for h in hosts:
        for t in h.tokens:
            owner[t] = wrapped[h.host_id]
    ring = sorted(owner)
    replica_map = strategy.make_token_replica_map(owner, ring)  # type: ignore[attr-defined]
    out = []
    for key in keys:
        point = bisect.bisect_left(ring, key)
        out.append([d.host for d in replica_map[ring[point if point < len(ring) else 0]]])
    return out


def test_simple_strategy_matches_cassandra_driver() -> None:
    checked = 0
    for seed in range(150):
        rng = random.Random(seed)
        hosts = _random_ring(rng)
        rf = rng.randint(1, 6)
        tm = TokenMap(hosts, {"ks": simple(rf)})
        keys = [rng.randrange(MIN_TOKEN, MAX_TOKEN + 1) for _ in range(20)] + [t for h in hosts for t in h.tokens]
        expected = _driver_replicas(metadata.SimpleStrategy({"replication_factor": str(rf)}), hosts, keys)
        for key, want in zip(keys, expected, strict=True):
            assert list(tm.replicas("ks", key)) == want, (seed, key)
            checked += 1
    assert checked > 3000


def test_network_topology_strategy_matches_cassandra_driver() -> None:
    # cassandra-driver can list a host twice with vnodes and rack repeats (it queues a skipped host once per
    # token); such lists are compared against our own placement only through their distinct hosts' count.
    checked = skipped = 0
    for seed in range(300):
        rng = random.Random(seed)
        hosts = _random_ring(rng)
        dcs = sorted({h.datacenter for h in hosts if h.datacenter})
        options = {dc: str(rng.randint(0, 5)) for dc in dcs}
        if rng.random() < 0.3:
            options["dc_without_hosts"] = "2"
        tm = TokenMap(hosts, {"ks": nts(**options)})
        keys = [rng.randrange(MIN_TOKEN, MAX_TOKEN + 1) for _ in range(20)] + [t for h in hosts for t in h.tokens]
        expected = _driver_replicas(metadata.NetworkTopologyStrategy(options), hosts, keys)
        for key, want in zip(keys, expected, strict=True):
            got = tm.replicas("ks", key)
            assert len(set(got)) == len(got)
            if len(set(want)) != len(want):
                skipped += 1
                continue
            assert set(got) == set(want), (seed, key)
            # Per DC, our list is in ring order like Cassandra's; the driver's is per DC too.
            for dc in dcs:
                in_dc = [h for h in got if h.datacenter == dc]
                assert len(in_dc) == len([h for h in want if h.datacenter == dc])
            checked += 1
    assert checked > 5000 and skipped < checked / 10


def test_large_vnode_ring_lookups_are_fast_enough() -> None:
    rng = random.Random(7)
    hosts = [
        Host(
            uuid.UUID(int=i + 1),
            f"10.1.{i // 250}.{i % 250}",
            datacenter=f"dc{i % 2}",
            rack=f"r{i % 3}",
            tokens=tuple(rng.randrange(MIN_TOKEN, MAX_TOKEN) for _ in range(16)),
        )
        for i in range(100)
    ]
    tm = TokenMap(hosts, {"ks": nts(dc0=3, dc1=3)})
    for _ in range(2000):
        replicas = tm.replicas("ks", rng.randrange(MIN_TOKEN, MAX_TOKEN))
        assert len(replicas) == 6
        assert len({h.rack for h in replicas if h.datacenter == "dc0"}) == 3
