"""Per-request host targeting: ``session.execute(..., host=...)`` runs a request on one given node only.

Needed for per-node virtual tables (``system_views.*`` answer for the coordinator) and nodetool-like tools.
The request goes to that host's pool whatever the load-balancing policy says, is never retried on or
speculated to another host, and its next pages go to the same host. A host that is down, unknown, or has
no pool (the load-balancing policy ignores it) is an error before anything is sent.

Example:
    >>> host = cluster.hosts[1]  # doctest: +SKIP
    >>> rs = await session.execute("SELECT * FROM system_views.clients", host=host)  # doctest: +SKIP
    >>> rs.coordinator == host.address  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from aiocql.errors import InvalidValueError, NoHostAvailable
from aiocql.model.host import Host, HostDistance
from aiocql.policies.load_balancing import ClusterStateView
from aiocql.policies.request import RequestInfo

if TYPE_CHECKING:
    from aiocql.session.session import Session

__all__ = ["TargetHostPolicy", "resolve_target"]


class TargetHostPolicy:
    """A load-balancing policy whose every plan is the one host (what ``execute(host=...)`` uses).

    Example:
        >>> import uuid
        >>> from aiocql.model.state import ClusterState
        >>> h = Host(uuid.UUID(int=1), "10.0.0.1")
        >>> [x.address for x in TargetHostPolicy(h).plan(RequestInfo(), ClusterState.create([h]))]
        ['10.0.0.1']
    """

    __slots__ = ("host",)

    def __init__(self, host: Host) -> None:
        self.host = host

    def on_init(self, state: ClusterStateView, contact_hosts: Sequence[Host]) -> None:
        """Nothing to learn: the host is given."""

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        """LOCAL for the target, IGNORED for every other host."""
        return HostDistance.LOCAL if host.host_id == self.host.host_id else HostDistance.IGNORED

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """The target host, alone."""
        yield self.host


def resolve_target(session: Session, host: object) -> Host:
    """The :class:`Host` that ``host`` (a Host or an address string) names, checked to be known, up and pooled.

    Raises :class:`aiocql.InvalidValueError` for an unknown host, :class:`aiocql.NoHostAvailable` (naming the
    host) when it is down or has no connection pool.

    Example:
        >>> resolve_target(session, "127.0.0.2")  # doctest: +SKIP
        Host(host_id=UUID('...'), address='127.0.0.2', ...)
    """
    state = session.state
    if isinstance(host, Host):
        found = state.get_host(host.host_id)
    elif isinstance(host, str):
        found = state.host_at(host)
    else:
        raise InvalidValueError(f"host must be an aiocql.Host or an address (str), not {type(host).__name__}")
    if found is None:
        known = ", ".join(h.address for h in state.host_list)
        raise InvalidValueError(f"host {host} is not a host of this cluster (known: {known})")
    pool = session._pools.get(found.host_id)
    if pool is None:
        raise NoHostAvailable(
            f"host {found.address} has no connection pool in this session (its load-balancing policy ignores it)", {}
        )
    if not state.is_up(found) or not pool.is_up:
        errors = {found.address: pool.last_error} if pool.last_error is not None else {}
        raise NoHostAvailable(f"host {found.address} is down: the request was not sent", errors)
    return found
