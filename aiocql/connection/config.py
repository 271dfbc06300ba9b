"""``ConnectionConfig``: how the driver opens and keeps each connection (public, frozen).

Every connection of a cluster is opened with one :class:`ConnectionConfig`: the port, the protocol version
to ask for, TLS, compression, authentication, the connect timeout, heartbeats and the stream table's
limits. Each default is written here once; ``Cluster(connect_timeout=...)`` and the other connection
keywords of :class:`aiocql.Cluster` build one (docs/configuration.md lists every setting).

The object is never changed by the driver: the protocol version the cluster negotiated is
``cluster.protocol_version``, not a field written back here.

Example:
    >>> config = ConnectionConfig(connect_timeout=2.0, compression=True)
    >>> config.connect_timeout, config.heartbeat_interval
    (2.0, 30.0)
    >>> ConnectionConfig(connect_timeout=0)
    Traceback (most recent call last):
    ...
    aiocql.errors.base.InvalidValueError: ConnectionConfig.connect_timeout must be more than 0 seconds, not 0 (int)
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiocql.connection.auth import AuthProvider
from aiocql.model.host import Host
from aiocql.protocol.streams import MAX_STREAMS
from aiocql.validation import check_cluster_arguments

__all__ = ["CONNECTION_KEYWORDS", "ConnectionConfig", "ConnectionOptions"]

#: ``Cluster(...)`` keyword -> :class:`ConnectionConfig` field, where the two names differ or not.
CONNECTION_KEYWORDS: dict[str, str] = {
    "port": "port",
    "protocol_version": "protocol_version",
    "compression": "compression",
    "auth_provider": "auth_provider",
    "ssl_context": "ssl_context",
    "server_hostname": "server_hostname",
    "connect_timeout": "connect_timeout",
    "heartbeat_interval": "heartbeat_interval",
    "heartbeat_timeout": "heartbeat_timeout",
    "max_streams_per_connection": "max_streams",
    "max_orphans_per_connection": "max_orphans",
}
_CHECK_OF_FIELD = {field: keyword for keyword, field in CONNECTION_KEYWORDS.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionConfig:
    """How to open and keep a connection: one object shared by every connection of a cluster.

    - ``port``: the port of the contact points (and of a discovered host that announces none).
    - ``protocol_version``: 4 or 5 pins a version; ``None`` negotiates (v5, falling back to v4).
    - ``compression``: ``True`` asks for LZ4 (``pip install lz4``).
    - ``auth_provider``: e.g. :class:`~aiocql.PlainTextAuthProvider`; ``None``: no authentication.
    - ``ssl_context``: turns TLS on (hostname checking as the context says).
    - ``server_hostname``: the name a certificate is checked against: a fixed name, or a function of the
      :class:`~aiocql.Host` giving its name; ``None``: the contact point's name as given, else the address.
    - ``connect_timeout``: seconds for TCP, TLS and the handshake of one connection.
    - ``heartbeat_interval``: seconds a connection may go without a decoded reply before an OPTIONS probe
      (0 turns the periodic probe off); a request that times out probes its connection at once.
    - ``heartbeat_timeout``: seconds a probe has to be answered before the connection is dropped (its
      waiting requests fail with :class:`~aiocql.ConnectionLost`, retried as their policy allows).
    - ``max_streams``: stream ids per connection (concurrent requests on it), 1 to 32768.
    - ``max_orphans``: stream ids held by timed-out requests after which the connection is replaced.
    - ``internal_request_timeout``: seconds each request the driver sends for itself may take (the control
      connection's queries and REGISTER, schema reads, ``USE``, PREPARE on the other hosts when the call
      gave no timeout); no ``Cluster(...)`` keyword: set it here.

    Every field is checked here, once: a wrong one raises :class:`~aiocql.InvalidValueError` naming it.

    Example:
        >>> import ssl
        >>> tls = ConnectionConfig(ssl_context=ssl.create_default_context(), server_hostname="db.example")
        >>> tls.port
        9042
    """

    port: int = 9042
    protocol_version: int | None = None
    compression: bool = False
    auth_provider: AuthProvider | None = None
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | Callable[[Host], str | None] | None = None
    connect_timeout: float = 5.0
    heartbeat_interval: float = 30.0
    heartbeat_timeout: float = 10.0
    max_streams: int = MAX_STREAMS
    max_orphans: int = 4096
    internal_request_timeout: float = 10.0

    def __post_init__(self) -> None:
        check_cluster_arguments(
            {_CHECK_OF_FIELD.get(f.name, f.name): getattr(self, f.name) for f in _FIELDS},
            type(self).__name__ + ".",
            names=CONNECTION_KEYWORDS,
        )
        if self.server_hostname is not None and self.ssl_context is None:
            from aiocql.errors import UsageError

            raise UsageError(
                "server_hostname is the name a TLS certificate is checked against, and no ssl_context is given: "
                "pass ssl_context= too (without TLS nothing would read it)"
            )

    def tls_name(self) -> str | None:
        """``server_hostname`` when it is a fixed name (a function of the host is the cluster's to call)."""
        return self.server_hostname if isinstance(self.server_hostname, str) else None


_FIELDS = dataclasses.fields(ConnectionConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOptions(ConnectionConfig):
    """A :class:`ConnectionConfig` as the cluster hands it to its connections (internal).

    ``tls_name_for`` is the TLS name for an address when ``server_hostname`` is not a fixed name (the
    cluster maps contact-point addresses to the names they were given, and asks a ``server_hostname``
    function for the host at that address); None or no answer: the address itself.
    """

    tls_name_for: Callable[[str], str | None] | None = None

    @classmethod
    def of(cls, config: ConnectionConfig, **changes: Any) -> ConnectionOptions:
        """``config``'s settings (with ``changes``) as connection options.

        Example:
            >>> ConnectionOptions.of(ConnectionConfig(port=9043)).port
            9043
        """
        fields = {f.name: getattr(config, f.name) for f in _FIELDS}
        return cls(**{**fields, **changes})
