"""Errors reported by the server: one class per error code of the native protocol.

Every class derives from :class:`ServerError` and carries ``code`` and ``message`` plus the
fields the spec defines for its code (v4 spec section 9, v5 spec section 8). ``wire_fields`` lists,
in wire order, each field's attribute name and wire kind; the protocol layer
(:mod:`aiocql.protocol.error_codec`) reads and writes every error from that one table, so there is
no hand-written parser per code.

This module does not import the protocol layer at run time (``Consistency`` and addresses are only
used in annotations), so ``aiocql.protocol`` can import it freely.

Example:
    >>> from aiocql.errors.server import ERROR_CLASSES, Unavailable
    >>> ERROR_CLASSES[0x1000] is Unavailable
    True
    >>> exc = Unavailable("Cannot achieve consistency", consistency=4, required=3, alive=1)
    >>> (exc.code, exc.required, exc.alive, str(exc))
    (4096, 3, 1, 'Cannot achieve consistency')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from aiocql.errors.base import CqlError

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

    from aiocql.protocol.constants import Consistency

    _Endpoint = IPv4Address | IPv6Address

__all__ = [
    "ERROR_CLASSES",
    "AlreadyExists",
    "BadCredentials",
    "CASWriteUnknown",
    "CDCWriteFailure",
    "ConfigError",
    "CqlSyntaxError",
    "FunctionFailure",
    "InternalServerError",
    "InvalidPagingState",
    "InvalidRequest",
    "IsBootstrapping",
    "Overloaded",
    "ProtocolErrorFromServer",
    "ReadFailure",
    "ReadTimeout",
    "ReplicaFailure",
    "ReplicaTimeout",
    "RequestExecutionError",
    "RequestValidationError",
    "ServerError",
    "TruncateError",
    "Unauthorized",
    "Unavailable",
    "Unprepared",
    "WriteFailure",
    "WriteTimeout",
    "error_class_for",
]


def _restore(cls: type[ServerError], message: str, state: dict[str, Any]) -> ServerError:
    exc = cls.__new__(cls)
    CqlError.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class ServerError(CqlError):
    """An ERROR response. Used as is for error codes this driver does not know.

    Example:
        >>> exc = ServerError("odd", code=0x7777)
        >>> hex(exc.code), exc.message
        ('0x7777', 'odd')
    """

    code: int = -1
    """The error code; class constant for known codes, set per instance for unknown ones."""

    wire_fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(attribute, wire kind) of the fields after <code><message>, in wire order."""

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def fields(self) -> dict[str, Any]:
        """The code-specific fields, by attribute name.

        Example:
            >>> AlreadyExists("exists", keyspace="ks", table="t").fields()
            {'keyspace': 'ks', 'table': 't'}
        """
        names: list[str] = []
        for name, kind in self.wire_fields:
            names.extend(("num_failures", "reason_map") if kind == "failures" else (name,))
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.fields().items())
        code = "" if type(self).code == self.code else f", code=0x{self.code:04x}"
        return f"{type(self).__name__}({self.message!r}{code}{extra})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.message, dict(self.__dict__)))


class InternalServerError(ServerError):
    """0x0000 Server error: something unexpected happened on the server (a server-side bug)."""

    code = 0x0000


class ProtocolErrorFromServer(ServerError):
    """0x000A Protocol error: the server says a client message violated the protocol.

    Also the reply to an unsupported protocol version during negotiation.
    """

    code = 0x000A


class InvalidPagingState(ProtocolErrorFromServer):
    """The server refused the ``paging_state`` passed to ``execute``: it is not a token this cluster made
    for this statement (a truncated, altered or foreign token, e.g. from an HTTP client). Not a driver
    bug: answer it as a bad request (HTTP 400). Still a :class:`ProtocolErrorFromServer` (code 0x000A).

    Example:
        >>> issubclass(InvalidPagingState, ProtocolErrorFromServer)
        True
    """


class BadCredentials(ServerError):
    """0x0100 Authentication error: authentication was required and failed."""

    code = 0x0100


class RequestExecutionError(ServerError):
    """Base of the errors raised while executing a valid request (codes 0x1xxx)."""


class Unavailable(RequestExecutionError):
    """0x1000 Not enough replicas alive to achieve the consistency level.

    Example:
        >>> Unavailable("no", consistency=1, required=1, alive=0).alive
        0
    """

    code = 0x1000
    wire_fields = (("consistency", "consistency"), ("required", "int"), ("alive", "int"))

    def __init__(self, message: str = "", *, consistency: Consistency | int, required: int, alive: int) -> None:
        super().__init__(message)
        self.consistency = consistency
        self.required = required
        self.alive = alive


class Overloaded(RequestExecutionError):
    """0x1001 The coordinator is overloaded."""

    code = 0x1001


class IsBootstrapping(RequestExecutionError):
    """0x1002 The coordinator is bootstrapping."""

    code = 0x1002


class TruncateError(RequestExecutionError):
    """0x1003 A TRUNCATE failed."""

    code = 0x1003


class ReplicaTimeout(RequestExecutionError):
    """Base of :class:`ReadTimeout` and :class:`WriteTimeout` (the coordinator waited for replicas)."""

    consistency: Consistency | int
    received: int
    block_for: int


class WriteTimeout(ReplicaTimeout):
    """0x1100 Replicas did not acknowledge a write in time.

    ``contentions`` (v5) is the number of Paxos contentions of a CAS write; ``None`` otherwise.
    """

    code = 0x1100
    wire_fields = (
        ("consistency", "consistency"),
        ("received", "int"),
        ("block_for", "int"),
        ("write_type", "string"),
        ("contentions", "cas_contentions"),
    )

    def __init__(
        self,
        message: str = "",
        *,
        consistency: Consistency | int,
        received: int,
        block_for: int,
        write_type: str,
        contentions: int | None = None,
    ) -> None:
        super().__init__(message)
        self.consistency = consistency
        self.received = received
        self.block_for = block_for
        self.write_type = write_type
        self.contentions = contentions


class ReadTimeout(ReplicaTimeout):
    """0x1200 Replicas did not answer a read in time; ``data_present`` tells if the data replica did."""

    code = 0x1200
    wire_fields = (
        ("consistency", "consistency"),
        ("received", "int"),
        ("block_for", "int"),
        ("data_present", "bool"),
    )

    def __init__(
        self,
        message: str = "",
        *,
        consistency: Consistency | int,
        received: int,
        block_for: int,
        data_present: bool,
    ) -> None:
        super().__init__(message)
        self.consistency = consistency
        self.received = received
        self.block_for = block_for
        self.data_present = data_present


class ReplicaFailure(RequestExecutionError):
    """Base of :class:`ReadFailure` and :class:`WriteFailure` (replicas failed, not timed out).

    v4 sends only ``num_failures``; v5 sends ``reason_map`` (replica address -> failure reason
    code) and ``num_failures`` is its size. In v4 ``reason_map`` is empty.
    """

    consistency: Consistency | int
    received: int
    block_for: int
    num_failures: int
    reason_map: dict[_Endpoint, int]

    def _set_failures(self, num_failures: int | None, reason_map: Mapping[_Endpoint, int] | None) -> None:
        self.reason_map = dict(reason_map or {})
        self.num_failures = len(self.reason_map) if num_failures is None else num_failures


class ReadFailure(ReplicaFailure):
    """0x1300 A non-timeout failure during a read."""

    code = 0x1300
    wire_fields = (
        ("consistency", "consistency"),
        ("received", "int"),
        ("block_for", "int"),
        ("failures", "failures"),
        ("data_present", "bool"),
    )

    def __init__(
        self,
        message: str = "",
        *,
        consistency: Consistency | int,
        received: int,
        block_for: int,
        num_failures: int | None = None,
        reason_map: Mapping[_Endpoint, int] | None = None,
        data_present: bool,
    ) -> None:
        super().__init__(message)
        self.consistency = consistency
        self.received = received
        self.block_for = block_for
        self._set_failures(num_failures, reason_map)
        self.data_present = data_present


class FunctionFailure(RequestExecutionError):
    """0x1400 A user-defined function failed."""

    code = 0x1400
    wire_fields = (("keyspace", "string"), ("function", "string"), ("arg_types", "string_list"))

    def __init__(self, message: str = "", *, keyspace: str, function: str, arg_types: Sequence[str]) -> None:
        super().__init__(message)
        self.keyspace = keyspace
        self.function = function
        self.arg_types = tuple(arg_types)


class WriteFailure(ReplicaFailure):
    """0x1500 A non-timeout failure during a write."""

    code = 0x1500
    wire_fields = (
        ("consistency", "consistency"),
        ("received", "int"),
        ("block_for", "int"),
        ("failures", "failures"),
        ("write_type", "string"),
    )

    def __init__(
        self,
        message: str = "",
        *,
        consistency: Consistency | int,
        received: int,
        block_for: int,
        num_failures: int | None = None,
        reason_map: Mapping[_Endpoint, int] | None = None,
        write_type: str,
    ) -> None:
        super().__init__(message)
        self.consistency = consistency
        self.received = received
        self.block_for = block_for
        self._set_failures(num_failures, reason_map)
        self.write_type = write_type


class CDCWriteFailure(RequestExecutionError):
    """0x1600 A write to a CDC-enabled table failed (CDC space exhausted)."""

    code = 0x1600


class CASWriteUnknown(RequestExecutionError):
    """0x1700 (v5) A contended CAS write may or may not have been applied."""

    code = 0x1700
    wire_fields = (("consistency", "consistency"), ("received", "int"), ("block_for", "int"))

    def __init__(self, message: str = "", *, consistency: Consistency | int, received: int, block_for: int) -> None:
        super().__init__(message)
        self.consistency = consistency
        self.received = received
        self.block_for = block_for


class RequestValidationError(ServerError):
    """Base of the errors for requests the server refuses to run (codes 0x2xxx)."""


class CqlSyntaxError(RequestValidationError):
    """0x2000 The query has a syntax error."""

    code = 0x2000


class Unauthorized(RequestValidationError):
    """0x2100 The logged-in user may not perform the query."""

    code = 0x2100


class InvalidRequest(RequestValidationError):
    """0x2200 The query is syntactically correct but invalid."""

    code = 0x2200


class ConfigError(RequestValidationError):
    """0x2300 The query is invalid because of some configuration issue."""

    code = 0x2300


class AlreadyExists(ConfigError):
    """0x2400 The keyspace or table to create exists already (``table`` is "" for a keyspace)."""

    code = 0x2400
    wire_fields = (("keyspace", "string"), ("table", "string"))

    def __init__(self, message: str = "", *, keyspace: str, table: str) -> None:
        super().__init__(message)
        self.keyspace = keyspace
        self.table = table


class Unprepared(RequestValidationError):
    """0x2500 The node does not know the prepared statement ``statement_id``: re-prepare, retry."""

    code = 0x2500
    wire_fields = (("statement_id", "short_bytes"),)

    def __init__(self, message: str = "", *, statement_id: bytes) -> None:
        super().__init__(message)
        self.statement_id = statement_id


ERROR_CLASSES: Mapping[int, type[ServerError]] = {
    cls.code: cls
    for cls in (
        InternalServerError,
        ProtocolErrorFromServer,
        BadCredentials,
        Unavailable,
        Overloaded,
        IsBootstrapping,
        TruncateError,
        WriteTimeout,
        ReadTimeout,
        ReadFailure,
        FunctionFailure,
        WriteFailure,
        CDCWriteFailure,
        CASWriteUnknown,
        CqlSyntaxError,
        Unauthorized,
        InvalidRequest,
        ConfigError,
        AlreadyExists,
        Unprepared,
    )
}
"""Error code -> exception class, for every code of the v4 and v5 specs."""


def error_class_for(code: int) -> type[ServerError]:
    """The class for an error code (:class:`ServerError` itself for unknown codes).

    Example:
        >>> error_class_for(0x2200).__name__, error_class_for(0x9999).__name__
        ('InvalidRequest', 'ServerError')
    """
    return ERROR_CLASSES.get(code, ServerError)
