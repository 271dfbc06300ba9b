"""A node of the cluster as the driver knows it: identity and placement, never its up/down state.

A :class:`Host` is an immutable value read from ``system.local`` / ``system.peers_v2``. Whether a host
is up lives in :class:`~aiocql.model.state.ClusterState` (a set of host ids), so a state change
never rebuilds a ``Host`` or anything derived from one (the token map holds ``Host`` objects).

Example:
    >>> import uuid
    >>> h = Host(uuid.UUID(int=1), "127.0.0.1", datacenter="dc1", rack="r1", tokens=(-5, 7))
    >>> h.endpoint, h.datacenter, HostDistance.LOCAL.value
    (('127.0.0.1', 9042), 'dc1', 'local')
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

__all__ = ["Host", "HostDistance", "HostState"]


class HostDistance(Enum):
    """How the load-balancing policy sees a host: LOCAL and REMOTE hosts get pools, IGNORED ones do not."""

    LOCAL = "local"
    REMOTE = "remote"
    IGNORED = "ignored"


class HostState(Enum):
    """Whether the driver currently considers a host reachable. Kept in the cluster state, not on the host."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Host:
    """One node: who it is (``host_id``), where to reach it, where it sits in the ring and topology.

    Hosts are identified by ``host_id``: use it as the key of any map and to tell whether two values
    describe the same node. Equality compares every field (a node that moved or got new tokens is a
    different value with the same id); the hash is the id's, so hashing never walks the token tuple.

    ``datacenter`` and ``rack`` are ``None`` while unknown; ``tokens`` are the node's Murmur3 tokens
    (any order; empty for a node that owns no range). The ``broadcast_*`` and ``listen_*`` fields are the
    node's own addresses and ports as its system tables give them (``None`` where they do not).

    Example:
        >>> import uuid
        >>> a = Host(uuid.UUID(int=1), "10.0.0.1", 9042, "dc1", "r1", (0,), "5.0.2")
        >>> b = Host(uuid.UUID(int=1), "10.0.0.9", 9042, "dc1", "r1", (0,), "5.0.2")
        >>> a == b, a.host_id == b.host_id, hash(a) == hash(b)
        (False, True, True)
    """

    host_id: uuid.UUID
    address: str
    port: int = 9042
    datacenter: str | None = None
    rack: str | None = None
    tokens: tuple[int, ...] = ()
    release_version: str | None = None
    # Where the node says it is (system.local / system.peers_v2), whatever address the driver reaches it at:
    broadcast_address: str | None = None  # its address for other nodes (peers' "peer")
    broadcast_port: int | None = None
    broadcast_rpc_address: str | None = None  # its client address (rpc_address; peers' native_address)
    broadcast_rpc_port: int | None = None
    listen_address: str | None = None  # known for the control connection's node only
    listen_port: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tokens, tuple):
            object.__setattr__(self, "tokens", tuple(self.tokens))

    def __hash__(self) -> int:
        return hash(self.host_id)

    @property
    def endpoint(self) -> tuple[str, int]:
        """``(address, port)`` to open connections to.

        Example:
            >>> import uuid
            >>> Host(uuid.UUID(int=2), "::1", 9043).endpoint
            ('::1', 9043)
        """
        return (self.address, self.port)

    def __str__(self) -> str:
        where = "/".join(x for x in (self.datacenter, self.rack) if x)
        return f"{self.address}:{self.port}" + (f" ({where})" if where else "")
