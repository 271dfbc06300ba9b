"""What a session is configured with: its defaults (the ``"default"`` execution profile and more), the
typed keyword arguments of ``execute()``, and what it needs from its cluster.

Example:
    >>> SessionDefaults().default_profile.request_timeout
    10.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

from aiocql.metrics.trackers import RequestTracker
from aiocql.model.host import Host
from aiocql.model.state import ClusterState
from aiocql.protocol.constants import Consistency
from aiocql.session.profiles import ExecutionProfile, ResolvedProfile
from aiocql.types.udt_classes import UdtClasses
from aiocql.validation import NoPaging


class ExecuteOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`Session.execute` other than ``row_factory`` (for its typed overloads;
    tests/unit/test_typed_rows.py checks that the two lists agree)."""

    consistency_level: Consistency | None
    serial_consistency_level: Consistency | None
    timeout: float | None
    fetch_size: int | NoPaging | None
    paging_state: bytes | None
    timestamp: int | None
    trace: bool
    custom_payload: Mapping[str, bytes] | None
    is_idempotent: bool | None
    keyspace: str | None
    execution_profile: str | ExecutionProfile | None
    host: Host | str | None


class _Default:
    """The "not given" marker of ``timeout=``: the statement's or the execution profile's timeout applies
    (``None`` means no timeout)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<profile default>"


_DEFAULT: Any = _Default()

#: cassandra-driver ``Session`` attributes and the aiocql way to get the same effect.
_DRIVER_HABITS = {
    "row_factory": "pass row_factory= to Cluster(...), to an ExecutionProfile or to execute()",
    "default_timeout": "pass request_timeout= to Cluster(...) or an ExecutionProfile, or timeout= to execute()",
    "default_consistency_level": "pass consistency_level= to Cluster(...), an ExecutionProfile, a statement "
    "or execute()",
    "default_serial_consistency_level": "pass serial_consistency_level= to Cluster(...), an ExecutionProfile, "
    "a statement or execute()",
    "default_fetch_size": "pass fetch_size= to Cluster(...), an ExecutionProfile, a statement or execute()",
    "default_retry_policy": "pass retry_policy= to Cluster(...) or an ExecutionProfile",
    "use_client_timestamp": "pass client_timestamps= to Cluster(...)",
    "client_protocol_handler": "rows are decoded by aiocql itself: choose the row shape with row_factory=",
    "encoder": "values are encoded by their column's CQL type: nothing to configure",
    "max_trace_wait": "pass max_wait= to ResultSet.get_query_trace()",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDefaults:
    """Request settings used when neither the call, the statement nor an execution profile gives one.

    ``default_profile`` is the execution profile named ``"default"`` before a profile of that name given
    in ``execution_profiles`` is laid over it; ``Cluster(...)`` builds both (docs/configuration.md).
    """

    default_profile: ResolvedProfile = field(default_factory=ResolvedProfile)
    client_timestamps: bool = True
    schema_agreement_wait: float = 10.0
    execution_profiles: Mapping[str, ExecutionProfile] = field(default_factory=dict)
    request_tracker: RequestTracker | None = None
    max_requests_in_flight: int | None = None
    max_requests_queued: int = 10_000

    def profile(self) -> ResolvedProfile:
        """The default execution profile (before a profile named ``"default"`` is laid over it)."""
        return self.default_profile


class ClusterView(Protocol):
    """What a session needs from its cluster: the current state, and a schema refresh after DDL."""

    @property
    def state(self) -> ClusterState:
        """The current, immutable cluster state."""
        ...

    @property
    def contact_hosts(self) -> Sequence[Host]:
        """The hosts the contact points resolved to (load-balancing policies infer the local DC from them)."""
        ...

    async def refresh_schema(self, keyspace: str | None = None) -> None:
        """Read the schema again (after DDL this session ran): all of it, or one keyspace."""
        ...

    @property
    def udt_classes(self) -> UdtClasses:
        """The classes user types decode to (:meth:`aiocql.Cluster.register_user_type`)."""
        ...
