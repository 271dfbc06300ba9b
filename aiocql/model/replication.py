"""Keyspace replication settings, parsed once from ``system_schema.keyspaces.replication``.

The replication map is ``{'class': ..., option: value, ...}``: ``replication_factor`` for
SimpleStrategy, one entry per datacenter for NetworkTopologyStrategy. A factor is ``"3"`` or, with
transient replication, ``"3/1"``: 3 replicas in all, of which 1 is transient, so 2 full replicas.
Parsing never raises: a map that cannot be understood gives :attr:`StrategyKind.OTHER` (no token routing).

Settings are hashable values: keyspaces with equal settings share one replica cache in the token map.

Example:
    >>> s = ReplicationSettings.from_map({"class": "org.apache.cassandra.locator.NetworkTopologyStrategy",
    ...                                   "dc1": "3", "dc2": "3/1"})
    >>> s.kind, s.strategy, s.dc_full_replicas
    (<StrategyKind.NETWORK_TOPOLOGY: 'NetworkTopologyStrategy'>, 'NetworkTopologyStrategy', {'dc1': 3, 'dc2': 2})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

from aiocql.errors.base import InvalidValueError

__all__ = ["ReplicationFactor", "ReplicationSettings", "StrategyKind"]

_LOCATOR_PREFIX: Final = "org.apache.cassandra.locator."


class StrategyKind(Enum):
    """The replication strategies the token map knows how to place replicas for (OTHER: it does not)."""

    SIMPLE = "SimpleStrategy"
    NETWORK_TOPOLOGY = "NetworkTopologyStrategy"
    LOCAL = "LocalStrategy"
    EVERYWHERE = "EverywhereStrategy"
    OTHER = "other"


_KINDS: Final = {k.value: k for k in StrategyKind if k is not StrategyKind.OTHER}


@dataclass(frozen=True, slots=True)
class ReplicationFactor:
    """A replication factor: ``all_replicas`` of which ``transient_replicas`` are transient.

    Example:
        >>> ReplicationFactor.parse("3/1"), ReplicationFactor.parse("3/1").full_replicas
        (ReplicationFactor(all_replicas=3, transient_replicas=1), 2)
        >>> str(ReplicationFactor.parse(" 2 "))
        '2'
    """

    all_replicas: int
    transient_replicas: int = 0

    def __post_init__(self) -> None:
        if self.all_replicas < 0 or not 0 <= self.transient_replicas <= self.all_replicas:
            raise InvalidValueError(f"invalid replication factor {self.all_replicas}/{self.transient_replicas}")

    @property
    def full_replicas(self) -> int:
        """Replicas that hold a full copy of the data (the ones requests are routed to)."""
        return self.all_replicas - self.transient_replicas

    @classmethod
    def parse(cls, text: str) -> ReplicationFactor:
        """Parse ``"3"`` or ``"3/1"``; raises :class:`~aiocql.errors.InvalidValueError` (a ValueError) otherwise.

        Example:
            >>> ReplicationFactor.parse("5")
            ReplicationFactor(all_replicas=5, transient_replicas=0)
        """
        all_text, sep, transient_text = text.strip().partition("/")
        try:
            return cls(int(all_text), int(transient_text) if sep else 0)
        except ValueError:
            raise InvalidValueError(f"invalid replication factor {text!r}") from None

    def __str__(self) -> str:
        return f"{self.all_replicas}/{self.transient_replicas}" if self.transient_replicas else str(self.all_replicas)


@dataclass(frozen=True, slots=True)
class ReplicationSettings:
    """A keyspace's replication, as the token map needs it.

    ``strategy`` is the short class name as given (``"SimpleStrategy"``, ``"com.example.MyStrategy"``
    stays as is); ``replication_factor`` is set for SimpleStrategy; ``datacenters`` holds
    ``(dc, factor)`` pairs sorted by name for NetworkTopologyStrategy; ``options`` keeps every entry of
    the map except ``class``, sorted, for custom strategies and display.

    Example:
        >>> s = ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": "2"})
        >>> s.kind, s.replication_factor
        (<StrategyKind.SIMPLE: 'SimpleStrategy'>, ReplicationFactor(all_replicas=2, transient_replicas=0))
    """

    strategy: str
    kind: StrategyKind
    replication_factor: ReplicationFactor | None = None
    datacenters: tuple[tuple[str, ReplicationFactor], ...] = ()
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_map(cls, replication: Mapping[str, str]) -> ReplicationSettings:
        """Parse a ``replication`` map (short or ``org.apache.cassandra.locator.`` class names).

        A SimpleStrategy without a valid ``replication_factor`` or a NetworkTopologyStrategy with an
        invalid factor becomes kind OTHER rather than raising: schema parsing must not fail on it.

        Example:
            >>> ReplicationSettings.from_map({"class": "org.apache.cassandra.locator.LocalStrategy"}).kind
            <StrategyKind.LOCAL: 'LocalStrategy'>
            >>> ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": "x"}).kind
            <StrategyKind.OTHER: 'other'>
        """
        class_name = str(replication.get("class", ""))
        strategy = class_name[len(_LOCATOR_PREFIX) :] if class_name.startswith(_LOCATOR_PREFIX) else class_name
        options = tuple(sorted((str(k), str(v)) for k, v in replication.items() if k != "class"))
        kind = _KINDS.get(strategy, StrategyKind.OTHER)
        try:
            if kind is StrategyKind.SIMPLE:
                rf = ReplicationFactor.parse(str(replication["replication_factor"]))
                return cls(strategy, kind, replication_factor=rf, options=options)
            if kind is StrategyKind.NETWORK_TOPOLOGY:
                dcs = tuple((dc, ReplicationFactor.parse(value)) for dc, value in options)
                return cls(strategy, kind, datacenters=dcs, options=options)
        except (KeyError, ValueError):
            kind = StrategyKind.OTHER
        return cls(strategy, kind, options=options)

    @property
    def dc_full_replicas(self) -> dict[str, int]:
        """NetworkTopologyStrategy: full replicas per datacenter (empty for other strategies)."""
        return {dc: rf.full_replicas for dc, rf in self.datacenters}

    def as_map(self) -> dict[str, str]:
        """The replication map back, with the short class name (as CREATE KEYSPACE accepts it).

        Example:
            >>> ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": "1"}).as_map()
            {'class': 'SimpleStrategy', 'replication_factor': '1'}
        """
        return {"class": self.strategy, **dict(self.options)}
