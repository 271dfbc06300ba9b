"""A host-state listener that records every transition with the loop time, for the three-node tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiocql import Cluster, Host
from aiocql.cluster.cluster import HostStateListener


@dataclass(frozen=True, slots=True)
class Transition:
    at: float  # loop time
    address: str
    kind: str  # "add", "remove", "up", "down"
    is_up: bool  # cluster.is_up(host) when the listener was called


@dataclass
class Recorder(HostStateListener):
    """Registered with ``cluster.add_listener``; ``transitions`` in the order they happened."""

    cluster: Cluster
    transitions: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cluster.add_listener(self)

    def _record(self, host: Host, kind: str) -> None:
        now = asyncio.get_running_loop().time()
        self.transitions.append(Transition(now, host.address, kind, self.cluster.is_up(host)))

    def on_add(self, host: Host) -> None:
        self._record(host, "add")

    def on_remove(self, host: Host) -> None:
        self._record(host, "remove")

    def on_up(self, host: Host) -> None:
        self._record(host, "up")

    def on_down(self, host: Host) -> None:
        self._record(host, "down")

    def of(self, address: str, after: float = float("-inf")) -> list[Transition]:
        """The transitions of one host, at or after loop time ``after``."""
        return [t for t in self.transitions if t.address == address and t.at >= after]

    def first(self, address: str, kind: str, after: float = float("-inf")) -> Transition | None:
        """The first ``kind`` transition of ``address`` at or after ``after``, if any."""
        return next((t for t in self.of(address, after) if t.kind == kind), None)
