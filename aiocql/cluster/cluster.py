"""``Cluster``: configuration, connecting, and the lifetime of the sessions it makes.

Example:
    >>> async with Cluster(["127.0.0.1"], compression=True) as cluster:  # doctest: +SKIP
    ...     session = await cluster.connect("ks")
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from typing import Any

from aiocql.connection.auth import AuthProvider
from aiocql.connection.connection import Connection, ConnectionOptions, negotiate
from aiocql.errors import AuthenticationError, ConnectionClosed, CqlError, NoHostAvailable
from aiocql.policies.retry import DefaultRetryPolicy, RetryPolicy
from aiocql.pool.host_pool import HostPool
from aiocql.protocol.constants import Consistency
from aiocql.results import RowFactory, named_tuple_factory
from aiocql.session.session import Session, SessionDefaults, use_keyspace


def _no_host(errors: dict[str, BaseException]) -> CqlError:
    """The error of a failed connect: NoHostAvailable, or AuthenticationError when every host refused
    the credentials (a configuration problem to fix, not a host problem to wait out)."""
    failure = NoHostAvailable("could not connect to any contact point", errors)
    if errors and all(isinstance(e, AuthenticationError) for e in errors.values()):
        auth = AuthenticationError(f"authentication failed: {'; '.join(f'{h}: {e}' for h, e in errors.items())}")
        auth.__cause__ = failure
        return auth
    return failure


async def resolve(host: str, port: int) -> list[str]:
    """IP literals as they are; host names through the loop's own resolver (``loop.getaddrinfo``)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Cluster:
    """The entry point: where the cluster is and how to talk to it.

    ``protocol_version=None`` negotiates (v5, falling back to v4); ``compression=True`` asks for LZ4;
    ``ssl_context`` turns on TLS (hostname checking as the context says);
    ``connections_per_host`` sizes each host's pool.

    Example:
        >>> cluster = Cluster(["127.0.0.1"], protocol_version=4)
        >>> cluster.contact_points
        ['127.0.0.1']
    """

    def __init__(
        self,
        contact_points: Sequence[str] = ("127.0.0.1",),
        port: int = 9042,
        *,
        protocol_version: int | None = None,
        auth_provider: AuthProvider | None = None,
        ssl_context: ssl.SSLContext | None = None,
        compression: bool = False,
        connect_timeout: float = 5.0,
        request_timeout: float | None = 10.0,
        connections_per_host: int = 1,
        heartbeat_interval: float = 30.0,
        consistency_level: Consistency = Consistency.LOCAL_ONE,
        serial_consistency_level: Consistency | None = None,
        fetch_size: int = 5000,
        row_factory: RowFactory = named_tuple_factory,
        retry_policy: RetryPolicy | None = None,
        client_timestamps: bool = True,
        schema_agreement_wait: float = 10.0,
        max_streams_per_connection: int = 32768,
    ) -> None:
        if isinstance(contact_points, str):
            contact_points = [contact_points]
        if not contact_points:
            raise ValueError("contact_points must name at least one host")
        if protocol_version not in (None, 4, 5):
            raise ValueError(f"protocol_version must be 4, 5 or None (negotiate), not {protocol_version!r}")
        self.contact_points = list(contact_points)
        self.port = port
        self.protocol_version = protocol_version
        self.connections_per_host = connections_per_host
        self.options = ConnectionOptions(
            port=port,
            protocol_version=protocol_version,
            compression=compression,
            auth_provider=auth_provider,
            ssl_context=ssl_context,
            connect_timeout=connect_timeout,
            heartbeat_interval=heartbeat_interval,
            max_streams=max_streams_per_connection,
        )
        self.defaults = SessionDefaults(
            consistency_level=consistency_level,
            serial_consistency_level=serial_consistency_level,
            request_timeout=request_timeout,
            fetch_size=fetch_size,
            row_factory=row_factory,
            retry_policy=retry_policy or DefaultRetryPolicy(),
            client_timestamps=client_timestamps,
            schema_agreement_wait=schema_agreement_wait,
        )
        self.sessions: list[Session] = []
        self._closed = False

    async def connect(self, keyspace: str | None = None) -> Session:
        """Open pools to the contact points and return a :class:`Session` (``USE keyspace`` if given).

        Contact points that are down are skipped; when none can be reached, raises
        :class:`NoHostAvailable` with each host's error.

        Example:
            >>> session = await cluster.connect("my_keyspace")  # doctest: +SKIP
        """
        if self._closed:
            raise ConnectionClosed("this cluster is closed")
        errors: dict[str, BaseException] = {}
        hosts: list[str] = []
        for point in self.contact_points:
            try:
                hosts.extend(h for h in await resolve(point, self.port) if h not in hosts)
            except OSError as exc:
                errors[point] = exc
        version = await self._negotiate(hosts, errors)
        made: list[Session] = []

        async def setup(conn: Connection) -> None:
            # A connection opened later (refill, reconnect) joins the session's *current* keyspace,
            # which a USE may have changed since connect().
            current = made[0].keyspace if made else keyspace
            if current is not None:
                await use_keyspace(conn, current)

        pools = [HostPool(h, self.options, version=version, size=self.connections_per_host, setup=setup) for h in hosts]
        live = []
        try:
            results = await asyncio.gather(*(p.open() for p in pools), return_exceptions=True)
            for pool, result in zip(pools, results, strict=True):
                if isinstance(result, BaseException):
                    errors[pool.host] = result
                    await pool.close()
                else:
                    live.append(pool)
        except BaseException:  # cancelled: pools already open must not leak their connections
            for pool in pools:
                pool.abort()
            raise
        if not live:
            raise _no_host(errors)
        session = Session(live, self.defaults, keyspace)
        made.append(session)
        self.sessions = [s for s in self.sessions if not s.is_closed]
        self.sessions.append(session)
        return session

    async def _negotiate(self, hosts: list[str], errors: dict[str, BaseException]) -> int:
        """The protocol version to use: pinned, or negotiated with the first host that answers."""
        if self.protocol_version is not None:
            return self.protocol_version
        for host in hosts:
            try:
                conn = await negotiate(host, self.options)
            except Exception as exc:
                errors[host] = exc
                continue
            version = conn.version
            await conn.close()
            self.protocol_version = version
            return version
        raise _no_host(errors)

    async def close(self) -> None:
        """Close every session (draining in-flight requests briefly). Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    shutdown = close  # cassandra-driver's name

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Cluster {self.contact_points} port={self.port} v{self.protocol_version or '?'}>"
