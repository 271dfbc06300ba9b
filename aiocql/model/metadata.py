"""``cluster.metadata``: the schema by keyspace name, plus cluster-wide facts (name, hosts, replicas, CQL export).

A :class:`ClusterMetadata` is a read-only mapping of keyspace name to
:class:`~aiocql.model.schema.KeyspaceMetadata` over one immutable cluster state: each read of
``cluster.metadata`` gives the state of that moment, and later schema or topology changes do not alter it.

Example:
    >>> md = cluster.metadata  # doctest: +SKIP
    >>> md["ks"].tables["t"].partition_key, md.cluster_name  # doctest: +SKIP
    >>> md.get_replicas("ks", (1).to_bytes(4, "big"))  # doctest: +SKIP
    >>> print(md.export_schema_as_string())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aiocql.errors import InvalidValueError
from aiocql.model.host import Host
from aiocql.model.schema import KeyspaceMetadata
from aiocql.model.schema_cql import schema_export
from aiocql.model.state import ClusterState
from aiocql.model.token_map import TokenMap, token_for

__all__ = ["ClusterMetadata"]


class ClusterMetadata(Mapping[str, KeyspaceMetadata]):
    """Schema metadata by keyspace name (a mapping), with the cluster's name, hosts and token map.

    Example:
        >>> from aiocql.model.state import ClusterState
        >>> md = ClusterMetadata(ClusterState.create(), "Test Cluster")
        >>> md.cluster_name, len(md), md.get_replicas("ks", b"\\x00\\x00\\x00\\x01")
        ('Test Cluster', 0, [])
    """

    __slots__ = ("_state", "cluster_name")

    def __init__(self, state: ClusterState, cluster_name: str | None = None) -> None:
        self._state = state
        #: ``system.local.cluster_name`` (None until the control connection read it).
        self.cluster_name = cluster_name

    # -- the mapping --------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> KeyspaceMetadata:
        return self._state.keyspaces[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state.keyspaces)

    def __len__(self) -> int:
        return len(self._state.keyspaces)

    def __repr__(self) -> str:
        return f"<ClusterMetadata {self.cluster_name!r}: {len(self)} keyspaces, {len(self._state.hosts)} hosts>"

    @property
    def keyspaces(self) -> Mapping[str, KeyspaceMetadata]:
        """The schema by keyspace name (cassandra-driver's ``metadata.keyspaces``)."""
        return self._state.keyspaces

    # -- cluster-wide facts ---------------------------------------------------------------------------
    @property
    def partitioner(self) -> str | None:
        """``system.local.partitioner``, e.g. ``org.apache.cassandra.dht.Murmur3Partitioner``."""
        return self._state.partitioner

    @property
    def token_map(self) -> TokenMap | None:
        """The ring (None when the partitioner is not Murmur3)."""
        return self._state.token_map

    def all_hosts(self) -> tuple[Host, ...]:
        """Every known host (cassandra-driver's name).

        Example:
            >>> ClusterMetadata(ClusterState.create()).all_hosts()
            ()
        """
        return self._state.host_list

    def get_host(self, address: str, port: int | None = None) -> Host | None:
        """The host at ``address`` (and ``port``), or None.

        Example:
            >>> ClusterMetadata(ClusterState.create()).get_host("127.0.0.1") is None
            True
        """
        return self._state.host_at(address, port)

    def get_replicas(self, keyspace: str, key: bytes) -> list[Host]:
        """The replicas of the partition whose serialized key is ``key`` in ``keyspace``, primary first.

        ``key`` is the routing key: a bound statement's ``routing_key``, or
        :func:`aiocql.types.token.routing_key` of the serialized partition key columns. Empty for an
        unknown keyspace, LocalStrategy, or a partitioner other than Murmur3.

        Example:
            >>> [h.address for h in cluster.metadata.get_replicas("ks", (1).to_bytes(4, "big"))]  # doctest: +SKIP
            ['127.0.0.2', '127.0.0.3']
        """
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise InvalidValueError(
                f"get_replicas() takes the serialized routing key (bytes), not {type(key).__name__}: use a bound "
                "statement's routing_key, or aiocql.types.token.routing_key([serialized columns])"
            )
        token_map = self._state.token_map
        if token_map is None:
            return []
        return list(token_map.replicas(keyspace, token_for(key)))

    def export_schema_as_string(self, *, include_system: bool = False) -> str:
        """Every keyspace as CQL (``DESCRIBE SCHEMA``); ``include_system`` adds the server's own keyspaces.

        Example:
            >>> ClusterMetadata(ClusterState.create()).export_schema_as_string()
            ''
        """
        return schema_export(self._state.keyspaces, include_system=include_system)
