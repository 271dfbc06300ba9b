"""Request messages (spec 4.1) and their encoding for v4 and v5.

Each request is a frozen dataclass with an ``opcode`` and ``encode(version) -> bytes`` (the
envelope body). Differences between versions: QUERY/EXECUTE/BATCH flags are a
[byte] in v4 and an [int] in v5; v5 adds PREPARE flags + keyspace, the EXECUTE result metadata id,
and the keyspace / now_in_seconds parameters. Asking v4 for a v5-only feature raises ProtocolError.

Bound values are given already encoded: ``bytes``, ``None`` (null) or ``UNSET`` (not set).

Example:
    >>> from aiocql.protocol.constants import Consistency
    >>> q = Query("SELECT * FROM t", QueryParameters(Consistency.ONE))
    >>> opcode, body = encode_request(q, 4)
    >>> opcode.name, body.hex()
    ('QUERY', '0000000f53454c454354202a2046524f4d2074000100')
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

from aiocql.errors.base import ProtocolError
from aiocql.protocol.constants import BatchType, Consistency, EventType, HeaderFlag, Opcode, PrepareFlag, QueryFlag
from aiocql.protocol.primitives import (
    Value,
    write_bytes,
    write_bytes_map,
    write_long_string,
    write_short_bytes,
    write_string,
    write_string_list,
    write_string_map,
)
from aiocql.protocol.unset import UNSET
from aiocql.protocol.wire import fast as _fast

__all__ = [
    "AuthResponse",
    "Batch",
    "BatchPrepared",
    "BatchQuery",
    "Execute",
    "Options",
    "Prepare",
    "Query",
    "QueryParameters",
    "Register",
    "Request",
    "Startup",
    "encode_request",
    "envelope_extras",
    "keyspace_field",
    "skips_result_metadata",
    "with_custom_payload",
]

_BYTE = struct.Struct(">B")
_SHORT = struct.Struct(">H")
_INT = struct.Struct(">i")
_UINT = struct.Struct(">I")
_LONG = struct.Struct(">q")
_SHORT_UINT = struct.Struct(">HI")  # consistency + v5 flags
_SHORT_BYTE = struct.Struct(">HB")  # consistency + v4 flags

# The compiled bodies of EXECUTE and QUERY (None: an input the pure code below must encode, or reject).
_execute_body = _fast.execute_body if _fast is not None else None
_query_body = _fast.query_body if _fast is not None else None

_NULL = b"\xff\xff\xff\xff"
_NOT_SET = b"\xff\xff\xff\xfe"

_VALUES = int(QueryFlag.VALUES)
_SKIP_METADATA = int(QueryFlag.SKIP_METADATA)
_PAGE_SIZE = int(QueryFlag.PAGE_SIZE)
_PAGING_STATE = int(QueryFlag.WITH_PAGING_STATE)
_SERIAL = int(QueryFlag.WITH_SERIAL_CONSISTENCY)
_TIMESTAMP = int(QueryFlag.WITH_DEFAULT_TIMESTAMP)
_NAMES = int(QueryFlag.WITH_NAMES_FOR_VALUES)
_KEYSPACE = int(QueryFlag.WITH_KEYSPACE)
_NOW = int(QueryFlag.WITH_NOW_IN_SECONDS)


def _pack(st: struct.Struct, value: int, what: str) -> bytes:
    try:
        return st.pack(value)
    except struct.error:
        raise ProtocolError(f"{what}: value {value!r} does not fit") from None


def _append_values(parts: list[bytes], values: Sequence[Value], names: Sequence[str] | None) -> None:
    n = len(values)
    if n > 0xFFFF:
        raise ProtocolError(f"{n} bound values: at most 65535 are allowed")
    if names is not None and len(names) != n:
        raise ProtocolError(f"{len(names)} value names for {n} values")
    parts.append(_SHORT.pack(n))
    int_pack = _INT.pack
    for i, v in enumerate(values):
        if names is not None:
            parts.append(write_string(names[i]))
        if type(v) is bytes:  # the common case first: one type check
            parts.append(int_pack(len(v)))
            parts.append(v)
        elif v is None:
            parts.append(_NULL)
        elif v is UNSET:
            parts.append(_NOT_SET)
        elif isinstance(v, bytes | bytearray | memoryview):
            parts.append(int_pack(len(v)))
            parts.append(bytes(v))
        else:
            raise ProtocolError(f"bound value {i} is {type(v).__name__}, expected bytes, None or UNSET")


def _append_flags(parts: list[bytes], flags: int, version: int) -> None:
    parts.append(_BYTE.pack(flags) if version < 5 else _UINT.pack(flags))


def _v5_only(version: int, what: str) -> None:
    if version < 5:
        raise ProtocolError(f"{what} needs protocol v5 (this connection speaks v{version})")


class _PerRequest:
    """Value semantics (``==``, ``hash``, ``repr`` over ``__slots__``) for the messages built per request.

    Plain slotted classes, not frozen dataclasses: a frozen dataclass's ``__init__`` sets each field
    through ``object.__setattr__``, which made building QUERY/EXECUTE parameters cost about 5 times as
    much. Treat instances as read-only.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # in the constructor's order

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _PerRequest)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


class QueryParameters(_PerRequest):
    """<query_parameters> shared by QUERY and EXECUTE (spec 4.1.4).

    ``values`` are encoded values; with ``names`` (same length) they are bound by marker name.
    ``timestamp`` is the default timestamp in microseconds. ``keyspace`` and ``now_in_seconds``
    are v5 only.

    Example:
        >>> QueryParameters(Consistency.QUORUM, [b"\\x01"], page_size=100).encode(5).hex()
        '0004000000050001000000010100000064'
    """

    _fields = (
        "consistency",
        "values",
        "names",
        "skip_metadata",
        "page_size",
        "paging_state",
        "serial_consistency",
        "timestamp",
        "keyspace",
        "now_in_seconds",
    )
    __slots__ = _fields

    def __init__(
        self,
        consistency: Consistency | int = Consistency.ONE,
        values: Sequence[Value] = (),
        names: Sequence[str] | None = None,
        skip_metadata: bool = False,
        page_size: int | None = None,
        paging_state: bytes | None = None,
        serial_consistency: Consistency | int | None = None,
        timestamp: int | None = None,
        keyspace: str | None = None,
        now_in_seconds: int | None = None,
    ) -> None:
        self.consistency = consistency
        self.values = values
        self.names = names
        self.skip_metadata = skip_metadata
        self.page_size = page_size
        self.paging_state = paging_state
        self.serial_consistency = serial_consistency
        self.timestamp = timestamp
        self.keyspace = keyspace
        self.now_in_seconds = now_in_seconds

    def flags(self) -> int:
        """The <flags> bits these parameters need."""
        flags = 0
        if self.values:
            flags |= _VALUES
            if self.names is not None:
                flags |= _NAMES
        if self.skip_metadata:
            flags |= _SKIP_METADATA
        if self.page_size is not None:
            flags |= _PAGE_SIZE
        if self.paging_state is not None:
            flags |= _PAGING_STATE
        if self.serial_consistency is not None:
            flags |= _SERIAL
        if self.timestamp is not None:
            flags |= _TIMESTAMP
        if self.keyspace is not None:
            flags |= _KEYSPACE
        if self.now_in_seconds is not None:
            flags |= _NOW
        return flags

    def encode(self, version: int) -> bytes:
        """Encode for protocol ``version``.

        Example:
            >>> QueryParameters().encode(4).hex()
            '000100'
        """
        parts: list[bytes] = []
        self.append_to(parts, version)
        return b"".join(parts)

    def append_to(self, parts: list[bytes], version: int) -> None:
        """Append the encoded parameters to ``parts`` (used by QUERY and EXECUTE).

        On every request's path: the fields are read once and the flags computed inline (the
        bytes are those of :meth:`flags`, which the unit tests compare).
        """
        values = self.values
        page_size = self.page_size
        paging_state = self.paging_state
        serial = self.serial_consistency
        timestamp = self.timestamp
        keyspace = self.keyspace
        now = self.now_in_seconds
        flags = 0
        if values:
            flags = _VALUES | _NAMES if self.names is not None else _VALUES
        if self.skip_metadata:
            flags |= _SKIP_METADATA
        if page_size is not None:
            flags |= _PAGE_SIZE
        if paging_state is not None:
            flags |= _PAGING_STATE
        if serial is not None:
            flags |= _SERIAL
        if timestamp is not None:
            flags |= _TIMESTAMP
        if keyspace is not None or now is not None:
            _v5_only(version, "a per-query keyspace or now_in_seconds")
            if keyspace is not None:
                flags |= _KEYSPACE
            if now is not None:
                flags |= _NOW
        try:
            parts.append((_SHORT_UINT if version >= 5 else _SHORT_BYTE).pack(self.consistency, flags))
            if values:
                _append_values(parts, values, self.names)
            if page_size is not None:
                parts.append(_INT.pack(page_size))
            if paging_state is not None:
                parts.append(write_bytes(paging_state))
            if serial is not None:
                parts.append(_SHORT.pack(serial))
            if timestamp is not None:
                parts.append(_LONG.pack(timestamp))
            if keyspace is not None:
                parts.append(write_string(keyspace))
            if now is not None:
                parts.append(_INT.pack(now))
        except struct.error as exc:
            self._reject_numbers()
            raise ProtocolError(f"cannot encode the query parameters: {exc}") from None

    def _reject_numbers(self) -> None:
        """Raise ProtocolError naming the numeric field that does not fit its width."""
        for what, st, value in (
            ("consistency", _SHORT, self.consistency),
            ("page_size", _INT, self.page_size),
            ("serial_consistency", _SHORT, self.serial_consistency),
            ("timestamp", _LONG, self.timestamp),
            ("now_in_seconds", _INT, self.now_in_seconds),
        ):
            if value is None:
                continue
            try:
                st.pack(value)
            except struct.error:
                raise ProtocolError(f"{what}: value {value!r} does not fit") from None


_DEFAULT_PARAMS = QueryParameters()


@dataclass(frozen=True, slots=True)
class Startup:
    """STARTUP (spec 4.1.1): a [string map] of options, ``CQL_VERSION`` mandatory.

    Example:
        >>> Startup({"CQL_VERSION": "3.0.0"}).encode(4).hex()
        '0001000b43514c5f56455253494f4e0005332e302e30'
    """

    options: Mapping[str, str]
    opcode: ClassVar[Opcode] = Opcode.STARTUP

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        return write_string_map(self.options)


@dataclass(frozen=True, slots=True)
class Options:
    """OPTIONS (spec 4.1.3): empty body; the reply is SUPPORTED. Also a cheap heartbeat.

    Example:
        >>> Options().encode(5)
        b''
    """

    opcode: ClassVar[Opcode] = Opcode.OPTIONS

    def encode(self, version: int) -> bytes:
        """Encode the (empty) body."""
        return b""


class Query(_PerRequest):
    """QUERY (spec 4.1.4): <query [long string]><query_parameters>.

    Example:
        >>> Query("USE ks").encode(5).hex()
        '00000006555345206b73000100000000'
    """

    _fields = ("query", "params")
    __slots__ = _fields
    opcode: ClassVar[Opcode] = Opcode.QUERY

    def __init__(self, query: str, params: QueryParameters = _DEFAULT_PARAMS) -> None:
        self.query = query
        self.params = params

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        if _query_body is not None:
            body: bytes | None = _query_body(self.query, self.params, version)
            if body is not None:
                return body
        parts = [write_long_string(self.query)]
        self.params.append_to(parts, version)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Prepare:
    """PREPARE (spec 4.1.5): v4 <query>; v5 <query><flags [int]>[<keyspace>].

    Example:
        >>> Prepare("SELECT 1", keyspace="ks").encode(5).hex()
        '0000000853454c45435420310000000100026b73'
    """

    query: str
    keyspace: str | None = None
    opcode: ClassVar[Opcode] = Opcode.PREPARE

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        query = write_long_string(self.query)
        if version < 5:
            if self.keyspace is not None:
                _v5_only(version, "PREPARE with a keyspace")
            return query
        if self.keyspace is None:
            return query + b"\x00\x00\x00\x00"
        return query + _UINT.pack(int(PrepareFlag.WITH_KEYSPACE)) + write_string(self.keyspace)


class Execute(_PerRequest):
    """EXECUTE (spec 4.1.6): <id [short bytes]>[<result_metadata_id [short bytes]> (v5)]<params>.

    Example:
        >>> Execute(b"\\x01", result_metadata_id=b"\\x02").encode(5).hex()
        '000101000102000100000000'
    """

    _fields = ("query_id", "params", "result_metadata_id")
    __slots__ = _fields
    opcode: ClassVar[Opcode] = Opcode.EXECUTE

    def __init__(
        self, query_id: bytes, params: QueryParameters = _DEFAULT_PARAMS, result_metadata_id: bytes | None = None
    ) -> None:
        self.query_id = query_id
        self.params = params
        self.result_metadata_id = result_metadata_id

    def encode(self, version: int) -> bytes:
        """Encode the body; v5 requires ``result_metadata_id`` (from the PREPARED result)."""
        if _execute_body is not None:
            body: bytes | None = _execute_body(self.query_id, self.result_metadata_id, self.params, version)
            if body is not None:
                return body
        query_id = self.query_id
        if version >= 5:
            metadata_id = self.result_metadata_id
            if metadata_id is None:
                raise ProtocolError("EXECUTE on v5 needs the result_metadata_id of the PREPARED result")
            if len(query_id) > 0xFFFF or len(metadata_id) > 0xFFFF:
                raise ProtocolError("a prepared statement id or result metadata id is longer than 65535 bytes")
            parts = [_SHORT.pack(len(query_id)), query_id, _SHORT.pack(len(metadata_id)), metadata_id]
        else:
            parts = [write_short_bytes(query_id)]
        self.params.append_to(parts, version)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class BatchQuery:
    """A BATCH child given as a query string (kind 0) with its values."""

    query: str
    values: Sequence[Value] = ()

    def append_to(self, parts: list[bytes]) -> None:
        """Append <kind><string_or_id><n><value_1>...<value_n>."""
        parts.append(b"\x00")
        parts.append(write_long_string(self.query))
        _append_values(parts, self.values, None)


@dataclass(frozen=True, slots=True)
class BatchPrepared:
    """A BATCH child given as a prepared statement id (kind 1) with its values."""

    query_id: bytes
    values: Sequence[Value] = ()

    def append_to(self, parts: list[bytes]) -> None:
        """Append <kind><string_or_id><n><value_1>...<value_n>."""
        parts.append(b"\x01")
        parts.append(write_short_bytes(self.query_id))
        _append_values(parts, self.values, None)


@dataclass(frozen=True, slots=True)
class Batch:
    """BATCH (spec 4.1.7): <type><n><query_1>...<query_n><consistency><flags>[<serial>][<timestamp>]
    [<keyspace>][<now_in_seconds>] (the last two v5 only).

    Named values are not supported: the spec itself says the 0x40 flag cannot work for batches.

    Example:
        >>> b = Batch([BatchQuery("INSERT", [None]), BatchPrepared(b"\\x07")], BatchType.UNLOGGED)
        >>> b.encode(4).hex()
        '0100020000000006494e534552540001ffffffff010001070000000100'
    """

    statements: Sequence[BatchQuery | BatchPrepared]
    batch_type: BatchType = BatchType.LOGGED
    consistency: Consistency | int = Consistency.ONE
    serial_consistency: Consistency | int | None = None
    timestamp: int | None = None
    keyspace: str | None = None
    now_in_seconds: int | None = None
    opcode: ClassVar[Opcode] = Opcode.BATCH

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        n = len(self.statements)
        if n > 0xFFFF:
            raise ProtocolError(f"a batch of {n} statements: at most 65535 are allowed")
        parts = [_pack(_BYTE, int(self.batch_type), "batch type"), _SHORT.pack(n)]
        for stmt in self.statements:
            stmt.append_to(parts)
        flags = 0
        if self.serial_consistency is not None:
            flags |= _SERIAL
        if self.timestamp is not None:
            flags |= _TIMESTAMP
        if self.keyspace is not None:
            flags |= _KEYSPACE
        if self.now_in_seconds is not None:
            flags |= _NOW
        if flags & (_KEYSPACE | _NOW):
            _v5_only(version, "a batch keyspace or now_in_seconds")
        parts.append(_pack(_SHORT, int(self.consistency), "consistency"))
        _append_flags(parts, flags, version)
        if self.serial_consistency is not None:
            parts.append(_pack(_SHORT, int(self.serial_consistency), "serial_consistency"))
        if self.timestamp is not None:
            parts.append(_pack(_LONG, self.timestamp, "timestamp"))
        if self.keyspace is not None:
            parts.append(write_string(self.keyspace))
        if self.now_in_seconds is not None:
            parts.append(_pack(_INT, self.now_in_seconds, "now_in_seconds"))
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Register:
    """REGISTER (spec 4.1.8): a [string list] of event types; the reply is READY.

    Example:
        >>> Register([EventType.STATUS_CHANGE]).encode(4).hex()
        '0001000d5354415455535f4348414e4745'
    """

    event_types: Sequence[EventType | str] = field(default_factory=lambda: tuple(EventType))
    opcode: ClassVar[Opcode] = Opcode.REGISTER

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        return write_string_list([str(e) for e in self.event_types])


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """AUTH_RESPONSE (spec 4.1.2): one [bytes] SASL token (may be null).

    Example:
        >>> AuthResponse(b"\\x00u\\x00p").encode(5).hex()
        '0000000400750070'
    """

    token: bytes | None
    opcode: ClassVar[Opcode] = Opcode.AUTH_RESPONSE

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        return write_bytes(self.token)


Request: TypeAlias = Startup | Options | Query | Prepare | Execute | Batch | Register | AuthResponse
"""Any request message."""


def keyspace_field(keyspace: str | None, version: int) -> str | None:
    """What the keyspace field of a QUERY, EXECUTE, BATCH or PREPARE carries for a request in ``keyspace``:
    v5 names it; v4 has no such field (the request runs in its connection's keyspace, set by ``USE``).

    Example:
        >>> keyspace_field("ks", 5), keyspace_field("ks", 4)
        ('ks', None)
    """
    return keyspace if version >= 5 else None


def skips_result_metadata(version: int) -> bool:
    """Whether an EXECUTE may ask for no result metadata in its reply: only from v5, where a reply says
    METADATA_CHANGED when the copy the client holds (under its result metadata id) is stale.

    Example:
        >>> skips_result_metadata(4), skips_result_metadata(5)
        (False, True)
    """
    return version >= 5


_TRACING = int(HeaderFlag.TRACING)
_CUSTOM_PAYLOAD = int(HeaderFlag.CUSTOM_PAYLOAD)


def envelope_extras(
    tracing: bool = False, custom_payload: Mapping[str, bytes | None] | None = None
) -> tuple[int, bytes]:
    """The envelope flags and body prefix of a request that is traced and/or carries a custom payload (spec
    2.2: the TRACING flag; the payload a [bytes map] before the body, with the CUSTOM_PAYLOAD flag).

    Example:
        >>> envelope_extras(tracing=True)
        (2, b'')
        >>> flags, prefix = envelope_extras(custom_payload={"k": b"v"}); flags, prefix.hex()
        (4, '000100016b0000000176')
    """
    flags = _TRACING if tracing else 0
    if not custom_payload:
        return flags, b""
    return flags | _CUSTOM_PAYLOAD, write_bytes_map(custom_payload)


def encode_request(msg: Request, version: int) -> tuple[Opcode, bytes]:
    """Encode a request body for protocol ``version``; return ``(opcode, body)``.

    Example:
        >>> encode_request(Options(), 5)
        (<Opcode.OPTIONS: 5>, b'')
    """
    return msg.opcode, msg.encode(version)


def with_custom_payload(body: bytes, payload: Mapping[str, bytes | None]) -> bytes:
    """Prefix a request body with a custom payload ([bytes map]); the caller must also set the
    CUSTOM_PAYLOAD envelope flag (spec 2.2).

    Example:
        >>> with_custom_payload(b"", {"k": b"v"}).hex()
        '000100016b0000000176'
    """
    return write_bytes_map(payload) + body
