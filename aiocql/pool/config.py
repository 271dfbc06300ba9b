"""``PoolConfig``: how many connections the driver keeps to each host, and how it reconnects (public, frozen).

Each default is written here once; ``Cluster(connections_per_host=...)`` and the other pool keywords of
:class:`aiocql.Cluster` build one (docs/configuration.md lists every setting).

Example:
    >>> pool = PoolConfig(connections_per_host=2)
    >>> pool.connections_per_host, pool.remote_connections_per_host
    (2, 1)
    >>> PoolConfig(connections_per_host=0)
    Traceback (most recent call last):
    ...
    aiocql.errors.base.InvalidValueError: PoolConfig.connections_per_host must be an int from 1 to 1024, not 0 (int)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from aiocql.policies.reconnection import ExponentialReconnectionPolicy, ReconnectionPolicy
from aiocql.validation import check_cluster_arguments

__all__ = ["POOL_KEYWORDS", "PoolConfig"]

#: ``Cluster(...)`` keyword -> :class:`PoolConfig` field.
POOL_KEYWORDS: dict[str, str] = {
    "connections_per_host": "connections_per_host",
    "remote_connections_per_host": "remote_connections_per_host",
    "reconnection_policy": "reconnection_policy",
}


def default_reconnection_policy() -> ReconnectionPolicy:
    """The reconnection policy a pool uses unless told otherwise: exponential, 0.5 s doubling to 30 s."""
    return ExponentialReconnectionPolicy(base=0.5, max=30.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolConfig:
    """The connection pool of each host.

    - ``connections_per_host``: connections kept open to each LOCAL host (as the load-balancing policy's
      ``distance`` says), 1 to 1024; each carries up to ``ConnectionConfig.max_streams`` requests at once.
    - ``remote_connections_per_host``: the same for each REMOTE host (IGNORED hosts get no pool).
    - ``reconnection_policy``: the delays between attempts to reconnect a host's pool that lost its
      connections (and the control connection's): exponential from 0.5 s to 30 s with jitter by default.

    Every field is checked here, once: a wrong one raises :class:`~aiocql.InvalidValueError` naming it.

    Example:
        >>> from aiocql import ConstantReconnectionPolicy
        >>> PoolConfig(reconnection_policy=ConstantReconnectionPolicy(1.0)).connections_per_host
        1
    """

    connections_per_host: int = 1
    remote_connections_per_host: int = 1
    reconnection_policy: ReconnectionPolicy = field(default_factory=default_reconnection_policy)

    def __post_init__(self) -> None:
        check_cluster_arguments({f.name: getattr(self, f.name) for f in _FIELDS}, "PoolConfig.")
        if self.reconnection_policy is None:  # the check above lets None through: here it is no policy
            from aiocql.errors import InvalidValueError

            raise InvalidValueError("PoolConfig.reconnection_policy must be a ReconnectionPolicy, not None (NoneType)")


_FIELDS = dataclasses.fields(PoolConfig)
