"""The token ring: which hosts own a token, per keyspace, for Murmur3Partitioner clusters.

A :class:`TokenMap` is built once per topology (hosts and their tokens) and never changes: new
topology, new map. The ring is a sorted list of tokens with the owning host of each; a key token
belongs to the first ring token ``>=`` it, wrapping past the largest token to the smallest (a replica
owns the range ending at its token, inclusive). Replica lists are computed lazily, per ring position
and per distinct :class:`~aiocql.model.replication.ReplicationSettings`, and memoized, so a lookup
is one ``bisect`` and one list index after the first time (no lock is needed: one event loop).

Placement follows Cassandra's own strategies:

* SimpleStrategy: walk the ring clockwise from the key's position, taking distinct hosts until
  ``full_replicas`` (or every host) are taken, whatever their datacenter.
* NetworkTopologyStrategy: one walk of the ring; per datacenter (of the settings), up to its factor
  (at most the number of its hosts) distinct hosts. A host in a rack already used in its DC is taken
  only while rack repeats remain (``factor - racks in the DC``), else skipped: every rack gets a
  replica before any rack gets two, and the earliest repeats in ring order fill the rest. This is
  Cassandra's ``NetworkTopologyStrategy.calculateNaturalReplicas``; a host with no rack counts as a
  rack of its own named ``None``. Datacenters in the settings that no host has, or factor 0, add none.
  With transient replication only the full replicas are returned.
* EverywhereStrategy (DSE): every host that owns tokens, in ring order from the key.
* LocalStrategy (system keyspaces, node-local data), unknown strategies, unknown keyspaces and an
  empty ring: ``()`` — there is no replica to prefer, so token-aware routing falls back to its child.

Replicas come in ring order (the first is the primary replica). Only hosts that own tokens are in the
ring. Only Murmur3Partitioner is supported: :func:`token_for` is Murmur3, and a cluster with another
partitioner (RandomPartitioner, ByteOrderedPartitioner) gets no token map and no token routing (see
:func:`supports_token_routing`).

Example:
    >>> import uuid
    >>> from aiocql.model.host import Host
    >>> from aiocql.model.replication import ReplicationSettings
    >>> hosts = [Host(uuid.UUID(int=i), f"10.0.0.{i}", tokens=(i * 100,)) for i in (1, 2, 3)]
    >>> rf2 = ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": "2"})
    >>> tm = TokenMap(hosts, {"ks": rf2})
    >>> [h.address for h in tm.replicas("ks", 150)]   # owned by the host at 200, then the next one
    ['10.0.0.2', '10.0.0.3']
    >>> [h.address for h in tm.replicas("ks", 301)]   # past the last token: wraps to the first
    ['10.0.0.1', '10.0.0.2']
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from aiocql.model.host import Host
from aiocql.model.replication import ReplicationSettings, StrategyKind
from aiocql.types.token import murmur3_token

__all__ = ["MURMUR3_PARTITIONER", "TokenMap", "supports_token_routing", "token_for"]

MURMUR3_PARTITIONER: Final = "org.apache.cassandra.dht.Murmur3Partitioner"

_EMPTY_MAPPING: Final[Mapping[str, ReplicationSettings]] = MappingProxyType({})


def supports_token_routing(partitioner: str | None) -> bool:
    """Whether a cluster's partitioner (``system.local.partitioner``) is one the token map supports.

    ``None`` (not known yet) counts as Murmur3Partitioner, Cassandra's default.

    Example:
        >>> supports_token_routing("org.apache.cassandra.dht.Murmur3Partitioner"), supports_token_routing(None)
        (True, True)
        >>> supports_token_routing("org.apache.cassandra.dht.RandomPartitioner")
        False
    """
    return partitioner is None or partitioner.rsplit(".", 1)[-1] == "Murmur3Partitioner"


def token_for(routing_key: bytes | bytearray | memoryview) -> int:
    """The Murmur3Partitioner token of a routing key (see :func:`aiocql.types.token.routing_key`).

    Example:
        >>> token_for(b"\\x00\\x00\\x00\\x01")
        -4069959284402364209
    """
    return murmur3_token(routing_key)


# Memo of one replication setting: the replica tuple of each ring position, None until first asked.
_Slots = list[tuple[Host, ...] | None]


class TokenMap:
    """An immutable token ring with lazily computed, memoized replica lists (see the module docs).

    ``hosts`` may come in any order; a host id given twice keeps its last value. ``keyspaces`` maps
    keyspace names to their replication settings. If two hosts claim the same token (a cluster in
    the middle of a move), the host with the smaller id owns it.

    Example:
        >>> import uuid
        >>> from aiocql.model.host import Host
        >>> h = Host(uuid.UUID(int=1), "10.0.0.1", tokens=(0,))
        >>> tm = TokenMap([h])
        >>> tm.ring, tm.owner(123) is h, tm.replicas("nope", 0)
        (((0, Host(...)),), True, ())
    """

    __slots__ = (
        "_by_keyspace", "_cache", "_dc_shape", "_host_dc", "_host_rack", "_hosts", "_keyspaces", "_owner_index",
        "_owners", "_tokens",
    )  # fmt: skip

    def __init__(self, hosts: Iterable[Host], keyspaces: Mapping[str, ReplicationSettings] | None = None) -> None:
        by_id = {h.host_id: h for h in hosts}
        pairs = sorted((t, h.host_id) for h in by_id.values() for t in h.tokens)
        tokens: list[int] = []
        owners: list[Host] = []
        for token, host_id in pairs:
            if tokens and tokens[-1] == token:
                continue
            tokens.append(token)
            owners.append(by_id[host_id])
        self._tokens: Final = tokens
        self._owners: Final = tuple(owners)
        ring_hosts = list(dict.fromkeys(owners))
        self._hosts: Final = tuple(ring_hosts)
        index = {h.host_id: i for i, h in enumerate(ring_hosts)}
        self._owner_index: Final = [index[h.host_id] for h in owners]
        self._host_dc: Final = [h.datacenter for h in ring_hosts]
        self._host_rack: Final = [h.rack for h in ring_hosts]
        # Per datacenter: (hosts in the ring, distinct racks), for NetworkTopologyStrategy.
        dc_racks: dict[str | None, set[str | None]] = {}
        dc_nodes: dict[str | None, int] = {}
        for h in ring_hosts:
            dc_nodes[h.datacenter] = dc_nodes.get(h.datacenter, 0) + 1
            dc_racks.setdefault(h.datacenter, set()).add(h.rack)
        self._dc_shape: Final = {dc: (count, len(dc_racks[dc])) for dc, count in dc_nodes.items()}
        self._keyspaces: Mapping[str, ReplicationSettings] = (
            MappingProxyType(dict(keyspaces)) if keyspaces else _EMPTY_MAPPING
        )
        # Memo per distinct settings (an empty list: nothing to route to), and the same lists per keyspace
        # name so that the hot path hashes a string, not the settings.
        self._cache: dict[ReplicationSettings, _Slots] = {}
        self._by_keyspace: dict[str, tuple[ReplicationSettings, _Slots]] = {}

    # ------------------------------------------------------------------------------------------
    # Reading the ring
    # ------------------------------------------------------------------------------------------

    @property
    def ring(self) -> tuple[tuple[int, Host], ...]:
        """``(token, owner)`` pairs in token order."""
        return tuple(zip(self._tokens, self._owners, strict=True))

    @property
    def hosts(self) -> tuple[Host, ...]:
        """The hosts that own at least one token, in order of their first token."""
        return self._hosts

    @property
    def keyspaces(self) -> Mapping[str, ReplicationSettings]:
        """Keyspace name -> replication settings this map routes for (read-only)."""
        return self._keyspaces

    def __len__(self) -> int:
        return len(self._tokens)

    def __repr__(self) -> str:
        return f"<TokenMap {len(self._tokens)} tokens, {len(self._hosts)} hosts, {len(self._keyspaces)} keyspaces>"

    token_for = staticmethod(murmur3_token)  # token_for's one call, without its frame (on the request path)

    def owner(self, token: int) -> Host | None:
        """The host owning the range that contains ``token`` (its primary replica), ``None`` if the ring is empty.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> a, b = Host(uuid.UUID(int=1), "a", tokens=(-10,)), Host(uuid.UUID(int=2), "b", tokens=(10,))
            >>> TokenMap([a, b]).owner(10).address, TokenMap([a, b]).owner(11).address
            ('b', 'a')
        """
        n = len(self._tokens)
        if not n:
            return None
        i = bisect_left(self._tokens, token)
        return self._owners[i if i < n else 0]

    # ------------------------------------------------------------------------------------------
    # Replicas
    # ------------------------------------------------------------------------------------------

    def replicas(self, keyspace: str | None, token: int) -> tuple[Host, ...]:
        """The replicas of ``token`` in ``keyspace``, primary first; ``()`` where there is nothing to prefer.

        ``()`` for: an unknown keyspace (or ``None``), LocalStrategy or an unknown strategy, an empty ring.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> from aiocql.model.replication import ReplicationSettings
            >>> hs = [Host(uuid.UUID(int=i), f"h{i}", datacenter=f"dc{i % 2}", tokens=(i,)) for i in range(4)]
            >>> nts = ReplicationSettings.from_map({"class": "NetworkTopologyStrategy", "dc0": "1", "dc1": "1"})
            >>> [h.address for h in TokenMap(hs, {"ks": nts}).replicas("ks", 2)]
            ['h2', 'h3']
        """
        if keyspace is None:
            return ()
        entry = self._by_keyspace.get(keyspace)
        if entry is None:
            settings = self._keyspaces.get(keyspace)
            if settings is None:
                return ()
            entry = self._by_keyspace[keyspace] = (settings, self._slots(settings))
        settings, slots = entry
        if not slots:
            return ()
        i = bisect_left(self._tokens, token)
        if i == len(slots):
            i = 0
        found = slots[i]
        if found is None:
            found = slots[i] = self._compute(settings, i)
        return found

    def _slots(self, settings: ReplicationSettings) -> _Slots:
        slots = self._cache.get(settings)
        if slots is None:
            routable = self._tokens and _placement(settings) is not None
            slots = self._cache[settings] = [None] * len(self._tokens) if routable else []
        return slots

    def with_keyspaces(self, keyspaces: Mapping[str, ReplicationSettings]) -> TokenMap:
        """A map over the same ring with new keyspace settings (after a schema change).

        Replica lists already computed for settings that are still in use are shared, not recomputed.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> from aiocql.model.replication import ReplicationSettings
            >>> tm = TokenMap([Host(uuid.UUID(int=1), "a", tokens=(0,))])
            >>> rf1 = ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": "1"})
            >>> [h.address for h in tm.with_keyspaces({"ks": rf1}).replicas("ks", 5)], tm.replicas("ks", 5)
            (['a'], ())
        """
        new = object.__new__(TokenMap)
        for name in ("_tokens", "_owners", "_hosts", "_owner_index", "_host_dc", "_host_rack", "_dc_shape"):
            object.__setattr__(new, name, getattr(self, name))
        new._keyspaces = MappingProxyType(dict(keyspaces)) if keyspaces else _EMPTY_MAPPING
        wanted = set(new._keyspaces.values())
        new._cache = {s: slots for s, slots in self._cache.items() if s in wanted}
        new._by_keyspace = {}
        return new

    def _compute(self, settings: ReplicationSettings, start: int) -> tuple[Host, ...]:
        placement = _placement(settings)
        assert placement is not None
        hosts = self._hosts
        return tuple(hosts[i] for i in placement(self, settings, start))

    # Each placement walks the ring from ``start`` and returns host indexes (into self._hosts).

    def _walk_distinct(self, limit: int, start: int) -> list[int]:
        owner_index = self._owner_index
        n = len(owner_index)
        limit = min(limit, len(self._hosts))
        chosen: list[int] = []
        for step in range(n):
            if len(chosen) >= limit:
                break
            hi = owner_index[(start + step) % n]
            if hi not in chosen:
                chosen.append(hi)
        return chosen

    def _simple(self, settings: ReplicationSettings, start: int) -> list[int]:
        rf = settings.replication_factor
        return self._walk_distinct(rf.full_replicas if rf is not None else 0, start)

    def _everywhere(self, settings: ReplicationSettings, start: int) -> list[int]:
        return self._walk_distinct(len(self._hosts), start)

    def _network_topology(self, settings: ReplicationSettings, start: int) -> list[int]:
        host_dc, host_rack, shape = self._host_dc, self._host_rack, self._dc_shape
        # Per DC: [replicas still to place, rack repeats still allowed, transient replicas].
        todo: dict[str | None, list[int]] = {}
        used: dict[str | None, set[str | None]] = {}  # racks used, per DC
        for dc_name, rf in settings.datacenters:
            if rf.all_replicas > 0 and dc_name in shape:
                nodes, racks = shape[dc_name]
                todo[dc_name] = [min(rf.all_replicas, nodes), rf.all_replicas - racks, rf.transient_replicas]
                used[dc_name] = set()
        remaining = len(todo)
        chosen: list[int] = []
        taken: set[int] = set()
        owner_index = self._owner_index
        n = len(owner_index)
        for step in range(n):
            if not remaining:
                break
            hi = owner_index[(start + step) % n]
            dc = host_dc[hi]
            state = todo.get(dc)
            if state is None or state[0] == 0 or hi in taken:
                continue
            rack = host_rack[hi]
            dc_racks = used[dc]
            if rack not in dc_racks:
                dc_racks.add(rack)
            elif state[1] > 0:
                state[1] -= 1
            else:
                continue
            taken.add(hi)
            if state[0] > state[2]:  # Cassandra: the last ``transient`` replicas of a DC are transient
                chosen.append(hi)
            state[0] -= 1
            if state[0] == 0:
                remaining -= 1
        return chosen


_Placement = Callable[[TokenMap, ReplicationSettings, int], list[int]]

_PLACEMENTS: Final[dict[StrategyKind, _Placement]] = {
    StrategyKind.SIMPLE: TokenMap._simple,
    StrategyKind.NETWORK_TOPOLOGY: TokenMap._network_topology,
    StrategyKind.EVERYWHERE: TokenMap._everywhere,
}


def _placement(settings: ReplicationSettings) -> _Placement | None:
    return _PLACEMENTS.get(settings.kind)
