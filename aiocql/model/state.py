"""The cluster as the driver knows it at one moment: hosts, which are up, token map, schema, partitioner.

A :class:`ClusterState` never changes. The cluster keeps one reference to the current state and
replaces it with the result of a ``with_...`` method when something happens; readers (the
load-balancing policy, the executor, the user) take the reference once per request and see one
consistent snapshot, with no locks. A ``with_...`` call that changes nothing returns ``self``, so
``new is old`` tells whether anything happened.

What each change costs: up/down only swaps the set of up ids (the token map is shared); a schema
change shares the token ring and the replica lists of unchanged replication settings; a topology
change (hosts added, removed, or changed in any field) builds a new token map.

Example:
    >>> import uuid
    >>> from aiocql.model.host import Host
    >>> a = Host(uuid.UUID(int=1), "10.0.0.1", datacenter="dc1", tokens=(0,))
    >>> s0 = ClusterState.create([a])
    >>> s1 = s0.with_host_down(a.host_id)
    >>> s0.is_up(a), s1.is_up(a), s1.token_map is s0.token_map, s1.with_host_down(a.host_id) is s1
    (True, False, True, True)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from aiocql.model.host import Host, HostState
from aiocql.model.replication import ReplicationSettings
from aiocql.model.schema import KeyspaceMetadata
from aiocql.model.token_map import TokenMap, supports_token_routing

__all__ = ["ClusterState"]


def _settings(keyspaces: Mapping[str, KeyspaceMetadata]) -> dict[str, ReplicationSettings]:
    return {name: ks.replication_settings for name, ks in keyspaces.items()}


@dataclass(frozen=True, slots=True, eq=False)
class ClusterState:
    """One immutable snapshot of the cluster; build it with :meth:`create`, change it with ``with_...``.

    * ``hosts``: host id -> :class:`Host` (read-only mapping); ``host_list``: the same hosts in a
      stable order (by host id), for round-robin policies.
    * ``up``: ids of the hosts considered up. A host not in it is DOWN.
    * ``token_map``: ``None`` when the partitioner is not Murmur3Partitioner (no token routing).
    * ``keyspaces``: schema, keyspace name -> :class:`KeyspaceMetadata` (read-only mapping).
    * ``partitioner``: ``system.local.partitioner``, ``None`` until known.

    Example:
        >>> ClusterState.create().host_list, ClusterState.create().token_map
        ((), <TokenMap 0 tokens, 0 hosts, 0 keyspaces>)
    """

    hosts: Mapping[uuid.UUID, Host]
    host_list: tuple[Host, ...]
    up: frozenset[uuid.UUID]
    token_map: TokenMap | None
    keyspaces: Mapping[str, KeyspaceMetadata]
    partitioner: str | None = None
    _by_endpoint: Mapping[tuple[str, int], Host] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        hosts: Iterable[Host] = (),
        *,
        up: Iterable[uuid.UUID] | None = None,
        keyspaces: Mapping[str, KeyspaceMetadata] | None = None,
        partitioner: str | None = None,
    ) -> ClusterState:
        """A new state. ``up=None`` means every host is up; else only the ids given (others are ignored).

        A host id given twice keeps its last value.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> h = Host(uuid.UUID(int=7), "10.0.0.7")
            >>> s = ClusterState.create([h], up=[], partitioner="org.apache.cassandra.dht.RandomPartitioner")
            >>> s.is_up(h), s.token_map is None
            (False, True)
        """
        by_id = {h.host_id: h for h in hosts}
        keyspaces = MappingProxyType(dict(keyspaces or {}))
        token_map = TokenMap(by_id.values(), _settings(keyspaces)) if supports_token_routing(partitioner) else None
        return cls._make(by_id, up, token_map, keyspaces, partitioner)

    @classmethod
    def _make(
        cls,
        by_id: dict[uuid.UUID, Host],
        up: Iterable[uuid.UUID] | None,
        token_map: TokenMap | None,
        keyspaces: Mapping[str, KeyspaceMetadata],
        partitioner: str | None,
    ) -> ClusterState:
        up_set = frozenset(by_id) if up is None else frozenset(up).intersection(by_id)
        return cls(
            hosts=MappingProxyType(by_id),
            host_list=tuple(sorted(by_id.values(), key=lambda h: h.host_id)),
            up=up_set,
            token_map=token_map,
            keyspaces=keyspaces,
            partitioner=partitioner,
            _by_endpoint=MappingProxyType({h.endpoint: h for h in by_id.values()}),
        )

    # ------------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------------

    def is_up(self, host: Host | uuid.UUID) -> bool:
        """Whether a host (or host id) is known and up.

        Example:
            >>> import uuid
            >>> ClusterState.create().is_up(uuid.UUID(int=1))
            False
        """
        return (host.host_id if isinstance(host, Host) else host) in self.up

    def host_state(self, host: Host | uuid.UUID) -> HostState:
        """:attr:`HostState.UP` or :attr:`HostState.DOWN` (also for unknown hosts).

        Example:
            >>> import uuid
            >>> ClusterState.create().host_state(uuid.UUID(int=1))
            <HostState.DOWN: 'down'>
        """
        return HostState.UP if self.is_up(host) else HostState.DOWN

    def get_host(self, host_id: uuid.UUID) -> Host | None:
        """The host with this id, or ``None``.

        Example:
            >>> import uuid
            >>> ClusterState.create().get_host(uuid.UUID(int=1)) is None
            True
        """
        return self.hosts.get(host_id)

    def host_at(self, address: str, port: int | None = None) -> Host | None:
        """The host at ``address`` (and ``port``; any port if ``None``), e.g. for a STATUS_CHANGE event.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> s = ClusterState.create([Host(uuid.UUID(int=1), "10.0.0.1", 9042)])
            >>> s.host_at("10.0.0.1").port, s.host_at("10.0.0.1", 9043)
            (9042, None)
        """
        if port is not None:
            return self._by_endpoint.get((address, port))
        return next((h for h in self.host_list if h.address == address), None)

    @property
    def up_hosts(self) -> tuple[Host, ...]:
        """The hosts that are up, in ``host_list`` order."""
        up = self.up
        return tuple(h for h in self.host_list if h.host_id in up)

    @property
    def datacenters(self) -> tuple[str, ...]:
        """The datacenter names hosts report, sorted (hosts without one are left out)."""
        return tuple(sorted({h.datacenter for h in self.host_list if h.datacenter is not None}))

    def __repr__(self) -> str:
        return (
            f"<ClusterState {len(self.hosts)} hosts ({len(self.up)} up), "
            f"{len(self.keyspaces)} keyspaces, token map {self.token_map!r}>"
        )

    # ------------------------------------------------------------------------------------------
    # Host state (cheap: token map and schema are shared)
    # ------------------------------------------------------------------------------------------

    def with_host_up(self, host_id: uuid.UUID) -> ClusterState:
        """Mark a known host up (an unknown id changes nothing).

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> h = Host(uuid.UUID(int=1), "10.0.0.1")
            >>> ClusterState.create([h], up=[]).with_host_up(h.host_id).is_up(h)
            True
        """
        if host_id in self.up or host_id not in self.hosts:
            return self
        return replace(self, up=self.up | {host_id})

    def with_host_down(self, host_id: uuid.UUID) -> ClusterState:
        """Mark a host down.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> h = Host(uuid.UUID(int=1), "10.0.0.1")
            >>> ClusterState.create([h]).with_host_down(h.host_id).up
            frozenset()
        """
        if host_id not in self.up:
            return self
        return replace(self, up=self.up - {host_id})

    # ------------------------------------------------------------------------------------------
    # Topology (rebuilds the token map)
    # ------------------------------------------------------------------------------------------

    def with_hosts(self, hosts: Iterable[Host], *, new_hosts_up: bool = True) -> ClusterState:
        """Replace the whole host list (after reading ``system.local`` and ``system.peers_v2``).

        Hosts that stay keep their up/down state; hosts that are new are up if ``new_hosts_up``
        (the driver then tries to connect; a failure marks them down). Hosts not listed are removed.
        The token map is rebuilt only if some host changed.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> a, b = Host(uuid.UUID(int=1), "10.0.0.1"), Host(uuid.UUID(int=2), "10.0.0.2")
            >>> s = ClusterState.create([a], up=[]).with_hosts([a, b])
            >>> s.is_up(a), s.is_up(b), s.with_hosts([b, a]) is s
            (False, True, True)
        """
        by_id = {h.host_id: h for h in hosts}
        if by_id == dict(self.hosts):
            return self
        up = {i for i in by_id if i in self.up or (new_hosts_up and i not in self.hosts)}
        return self._with_topology(by_id, up)

    def with_host(self, host: Host, *, up: bool | None = None) -> ClusterState:
        """Add a host or replace the one with the same id (e.g. after NEW_NODE, or a host that moved).

        ``up=None`` keeps a known host's state and makes a new host up.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> h = Host(uuid.UUID(int=1), "10.0.0.1", tokens=(5,))
            >>> s = ClusterState.create().with_host(h, up=False)
            >>> s.get_host(h.host_id) is h, s.is_up(h), len(s.token_map)
            (True, False, 1)
        """
        known = self.hosts.get(host.host_id)
        is_up = (known is None or host.host_id in self.up) if up is None else up
        if known == host:
            return self.with_host_up(host.host_id) if is_up else self.with_host_down(host.host_id)
        by_id = {**self.hosts, host.host_id: host}
        ups = self.up | {host.host_id} if is_up else self.up - {host.host_id}
        return self._with_topology(by_id, ups)

    def without_host(self, host_id: uuid.UUID) -> ClusterState:
        """Remove a host (e.g. after REMOVED_NODE).

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> h = Host(uuid.UUID(int=1), "10.0.0.1")
            >>> ClusterState.create([h]).without_host(h.host_id).hosts
            mappingproxy({})
        """
        if host_id not in self.hosts:
            return self
        by_id = {i: h for i, h in self.hosts.items() if i != host_id}
        return self._with_topology(by_id, self.up - {host_id})

    def _with_topology(self, by_id: dict[uuid.UUID, Host], up: Iterable[uuid.UUID]) -> ClusterState:
        token_map = TokenMap(by_id.values(), _settings(self.keyspaces)) if self.token_map is not None else None
        return self._make(by_id, up, token_map, self.keyspaces, self.partitioner)

    def with_partitioner(self, partitioner: str | None) -> ClusterState:
        """Set the partitioner; a token map exists only for Murmur3Partitioner.

        Example:
            >>> ClusterState.create().with_partitioner("org.apache.cassandra.dht.ByteOrderedPartitioner").token_map
        """
        if partitioner == self.partitioner:
            return self
        return ClusterState.create(self.hosts.values(), up=self.up, keyspaces=self.keyspaces, partitioner=partitioner)

    # ------------------------------------------------------------------------------------------
    # Schema (shares the token ring)
    # ------------------------------------------------------------------------------------------

    def with_keyspaces(self, keyspaces: Mapping[str, KeyspaceMetadata]) -> ClusterState:
        """Replace the whole schema (after a full refresh).

        Example:
            >>> ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "1"})
            >>> s = ClusterState.create().with_keyspaces({"ks": ks})
            >>> list(s.keyspaces), list(s.token_map.keyspaces)
            (['ks'], ['ks'])
        """
        frozen = MappingProxyType(dict(keyspaces))
        token_map = self.token_map
        if token_map is not None:
            token_map = token_map.with_keyspaces(_settings(frozen))
        return replace(self, keyspaces=frozen, token_map=token_map)

    def with_keyspace(self, keyspace: KeyspaceMetadata) -> ClusterState:
        """Add or replace one keyspace (after a keyspace, table or type change in it).

        Example:
            >>> ks = KeyspaceMetadata.create("ks", {"class": "LocalStrategy"})
            >>> list(ClusterState.create().with_keyspace(ks).keyspaces)
            ['ks']
        """
        if self.keyspaces.get(keyspace.name) is keyspace:
            return self
        return self.with_keyspaces({**self.keyspaces, keyspace.name: keyspace})

    def without_keyspace(self, name: str) -> ClusterState:
        """Remove one keyspace (after DROP KEYSPACE).

        Example:
            >>> ks = KeyspaceMetadata.create("ks", {"class": "LocalStrategy"})
            >>> dict(ClusterState.create(keyspaces={"ks": ks}).without_keyspace("ks").keyspaces)
            {}
        """
        if name not in self.keyspaces:
            return self
        return self.with_keyspaces({k: v for k, v in self.keyspaces.items() if k != name})
