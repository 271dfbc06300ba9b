"""The driver's own exceptions: everything aiocql raises derives from :class:`CqlError`.

Server errors (one class per error code of the native protocol) live in :mod:`aiocql.errors.server`
and derive from :class:`ServerError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CqlError(Exception):
    """Base of every exception raised by aiocql.

    Example:
        >>> try:
        ...     raise ProtocolError("bad frame")
        ... except CqlError as exc:
        ...     print(type(exc).__name__)
        ProtocolError
    """


class DriverError(CqlError):
    """An error detected by the driver itself (not reported by the server)."""


class ProtocolError(DriverError):
    """Bytes received from (or about to be sent to) the server do not follow the native protocol.

    The message names what was wrong (which field, at which offset). Decoders raise only this
    exception for malformed input, never ``IndexError`` or ``struct.error``.
    """


class ValueTooLarge(DriverError):
    """A value received is beyond a decoding limit the driver keeps so that no value blocks the loop.

    Raised while decoding rows, e.g. for a ``decimal`` whose unscaled part is longer than
    :func:`aiocql.types.set_decimal_limit` allows (converting binary to decimal digits costs time
    that grows faster than the value's size). The message names the limit and how to raise it.
    """


class InvalidValueError(DriverError, TypeError, ValueError):
    """A Python value does not fit the CQL type it is bound to.

    The message names the column or position and the expected type, e.g.
    ``column 'age' (int): expected int, got str``.
    """


class ConnectionError_(DriverError):
    """Base for failures of a connection; exported as ``aiocql.ConnectionError``."""


class ConnectionLost(ConnectionError_):
    """The connection closed or broke while a request was waiting for its reply."""


class ConnectionClosed(ConnectionError_):
    """A request was made on a connection (or session, cluster) that is already closed."""


class ConnectTimeout(ConnectionError_):
    """Opening a connection (TCP, TLS, handshake) took longer than the connect timeout."""


class OperationTimedOut(DriverError, TimeoutError):
    """The client-side deadline of a request passed before a reply arrived.

    The request's stream id stays reserved until the late reply arrives and is dropped.
    """


class UnsupportedProtocolVersion(DriverError):
    """The server does not speak the requested protocol version."""


class AuthenticationError(DriverError):
    """Authentication failed or the server asked for an authenticator the client does not have."""


class UsageError(DriverError, RuntimeError):
    """An API used where it does not apply (``was_applied`` on a non-LWT result, ``fetch_next_page``
    after the last page). Also a :class:`RuntimeError`, as in cassandra-driver.

    Example:
        >>> try:
        ...     raise UsageError("no more pages")
        ... except CqlError as exc:
        ...     print(exc)
        no more pages
    """


class TraceUnavailable(DriverError, RuntimeError):
    """A query trace cannot be read: the request was not traced, or its trace was not complete in
    ``system_traces`` within the wait."""


class NoHostAvailable(DriverError):
    """No host could serve the request. ``errors`` maps each host tried to its error."""

    def __init__(self, message: str, errors: dict[str, BaseException] | None = None) -> None:
        self.errors: dict[str, BaseException] = dict(errors or {})
        detail = "; ".join(f"{host}: {type(err).__name__}: {err}" for host, err in self.errors.items())
        super().__init__(f"{message} ({detail})" if detail else message)


class ConfigurationError(DriverError):
    """The driver's settings do not fit the cluster: fix the configuration (retrying will not help)."""


class TLSCertificateError(ConfigurationError):
    """The server's TLS certificate was refused: not signed by a trusted CA, expired, or not issued for
    the name checked (the contact point's name, the peer's address, or ``Cluster(server_hostname=...)``)."""


class TypeStringError(DriverError, ValueError):
    """A type string could not be parsed; the message names the position and the string.

    Raised by :func:`aiocql.types.parse_cql_type` and :func:`aiocql.types.parse_marshal_type`.

    Example:
        >>> from aiocql.types import parse_cql_type
        >>> parse_cql_type("list<int")
        Traceback (most recent call last):
        ...
        aiocql.errors.base.TypeStringError: invalid CQL type 'list<int': expected '>' at position 8
    """

    def __init__(self, kind: str, text: str, position: int, detail: str) -> None:
        self.text = text
        self.position = position
        super().__init__(f"invalid {kind} {text!r}: {detail} at position {position}")


class DecodeError(ProtocolError):
    """What :meth:`aiocql.protocol.decoder.FrameDecoder.feed` raises for malformed input.

    ``envelopes`` are the valid :class:`~aiocql.protocol.envelope.Envelope` objects the same ``feed``
    call decoded before the bad bytes, in stream order (empty when there were none, and on every later
    call): deliver them, then treat the connection as broken.

    Example:
        >>> from aiocql.protocol.decoder import FrameDecoder
        >>> ready = bytes.fromhex("840000070200000000")
        >>> try:
        ...     FrameDecoder().feed(ready + bytes.fromhex("847f0000ff00000000"))
        ... except DecodeError as exc:
        ...     print([e.stream for e in exc.envelopes], exc)
        [7] envelope at offset 9 has unknown opcode 0xff (stream 0)
    """

    def __init__(self, message: str, envelopes: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.envelopes: tuple[Any, ...] = tuple(envelopes)


class StreamIdError(DriverError, ValueError):
    """A stream id was released or orphaned in a state where that is not allowed."""


class StreamsExhausted(DriverError):
    """Every stream id of the connection is in flight or orphaned; the pool should use another one."""


class RequestThrottled(DriverError):
    """The session already has its maximum of requests in flight and its queue is full."""


class NameResolutionError(DriverError):
    """A host name could not be resolved (no such name, no address, or no nameserver answered)."""


class DnsFormatError(DriverError):
    """A DNS reply that does not follow RFC 1035 (or does not answer the query sent)."""


class TestingError(CqlError, RuntimeError):
    """The test harness (:mod:`aiocql.testing`: the local Cassandra launcher, the fake server, the proxies,
    the polling helpers) could not do what it was asked; the message says what and why.

    Still a ``RuntimeError``, as the harness's errors were before they derived from :class:`CqlError`.

    Example:
        >>> issubclass(LauncherError, TestingError), issubclass(TestingError, CqlError)
        (True, True)
    """

    __test__ = False  # not a test class, though its name starts with "Test" (pytest would try to collect it)


class LauncherError(TestingError):
    """The local Cassandra could not be fetched, started or stopped; the message says which and why.

    Example:
        >>> from aiocql.testing.launcher import LocalCluster
        >>> LocalCluster(nodes=12)
        Traceback (most recent call last):
        ...
        aiocql.errors.base.LauncherError: nodes must be between 1 and 9, not 12
    """


class WaitTimeout(TestingError, TimeoutError):
    """:func:`aiocql.testing.polling.wait_until` gave up: its condition was still false at its timeout.

    Also a ``TimeoutError``, so ``pytest.raises(TimeoutError)`` still matches.

    Example:
        >>> import asyncio
        >>> from aiocql.testing.polling import wait_until
        >>> asyncio.run(wait_until(lambda: False, timeout=0.01, message="never true"))
        Traceback (most recent call last):
        ...
        aiocql.errors.base.WaitTimeout: never true
    """


class BadClientHello(TestingError, ValueError):
    """Bytes the SNI proxy (:mod:`aiocql.testing.sniproxy`) read are not a TLS ClientHello it can route.

    Example:
        >>> from aiocql.testing.sniproxy import server_name
        >>> server_name(b"GET / HTTP/1.1")
        Traceback (most recent call last):
        ...
        aiocql.errors.base.BadClientHello: not a TLS handshake record
    """


class CliError(CqlError):
    """A problem the ``aiocql`` command line tools report in one line (bad arguments, bad input) before
    exiting with ``EXIT_FAILED``."""
