"""What the fake server received and what it can answer: requests as recorded, replies, actions.

A :class:`Reply` encodes one response message for a protocol version (:meth:`Reply.encode`);
an :class:`Action` does something else with the request (never answer it, close the connection).
Replies are plain frozen dataclasses, so tests read like the exchange they script:

    >>> from aiocql.types import INT, TEXT
    >>> rows = Rows([("k", INT), ("v", TEXT)], [(1, "one")])
    >>> opcode, flags, body = rows.encode(5)
    >>> opcode.name, len(body)
    ('RESULT', 48)
    >>> from aiocql.errors.server import Overloaded
    >>> Error(Overloaded("busy")).encode(4)[2].hex()
    '00001001000462757379'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aiocql.errors import InvalidValueError
from aiocql.errors.server import ServerError
from aiocql.protocol.constants import (
    EventType,
    HeaderFlag,
    Opcode,
    ResultKind,
    RowsFlag,
    SchemaChangeTarget,
    SchemaChangeType,
    StatusChangeType,
)
from aiocql.protocol.cqltypes import CqlType
from aiocql.protocol.error_codec import encode_error
from aiocql.protocol.options import write_option
from aiocql.protocol.primitives import (
    Value,
    write_bytes,
    write_inet,
    write_int,
    write_short,
    write_short_bytes,
    write_string,
    write_string_list,
    write_string_multimap,
)
from aiocql.protocol.requests import Batch, Execute, Query, Request
from aiocql.types.codecs import decoder_for, encoder_for

__all__ = [
    "ABORT",
    "CLOSE",
    "NO_REPLY",
    "Action",
    "AuthChallenge",
    "AuthSuccess",
    "Authenticate",
    "CloseConnection",
    "Column",
    "Error",
    "Event",
    "NoReply",
    "Prepared",
    "Raw",
    "Ready",
    "ReceivedRequest",
    "Reply",
    "Rows",
    "SchemaChange",
    "SetKeyspace",
    "Supported",
    "Void",
    "prepared_id",
]

Column = tuple[str, CqlType]
"""A result or bind column: (name, type)."""


# -- what was received ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the fake server received and decoded it.

    ``query`` is the CQL text for QUERY and PREPARE; for EXECUTE, the text the id was prepared from
    on this server (None if the id is unknown here); for BATCH, the children's texts joined by
    ``"; "``. ``connection`` numbers the server's connections from 1 in accept order.
    """

    connection: int
    version: int
    stream: int
    opcode: Opcode
    flags: int
    message: Request
    query: str | None
    custom_payload: Mapping[str, bytes | None] | None
    time: float

    @property
    def values(self) -> tuple[Value, ...]:
        """The bound values of a QUERY or EXECUTE (encoded), else ``()``."""
        if isinstance(self.message, (Query, Execute)):
            return tuple(self.message.params.values)
        return ()

    def value(self, index: int, cql_type: CqlType) -> object:
        """Bound value ``index`` decoded as ``cql_type`` (None for null or unset).

        Example:
            >>> from aiocql.protocol.requests import QueryParameters
            >>> from aiocql.types import INT
            >>> message = Query("q", QueryParameters(values=[b"\\0\\0\\0\\7"]))
            >>> ReceivedRequest(1, 5, 0, Opcode.QUERY, 0, message, "q", None, 0.0).value(0, INT)
            7
        """
        raw = self.values[index]
        if not isinstance(raw, bytes):
            return None
        return decoder_for(cql_type)(memoryview(raw))

    @property
    def is_batch(self) -> bool:
        """True for a BATCH request."""
        return isinstance(self.message, Batch)


# -- replies --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """Base of every reply: ``warnings`` are sent with the WARNING flag (spec 2.2).

    Subclasses implement :meth:`body`; :meth:`encode` adds the prefixes.
    """

    warnings: tuple[str, ...] = ()

    opcode = Opcode.RESULT

    def body(self, version: int) -> bytes:
        """The message body for protocol ``version`` (without prefixes)."""
        raise NotImplementedError

    def encode(self, version: int) -> tuple[Opcode, int, bytes]:
        """``(opcode, envelope flags, body)`` for protocol ``version``."""
        body = self.body(version)
        if self.warnings:
            return self.opcode, int(HeaderFlag.WARNING), write_string_list(list(self.warnings)) + body
        return self.opcode, 0, body


@dataclass(frozen=True, slots=True)
class Raw(Reply):
    """Any bytes with any opcode and flags: for malformed replies and what no builder covers."""

    raw_opcode: Opcode
    raw_body: bytes
    flags: int = 0

    def encode(self, version: int) -> tuple[Opcode, int, bytes]:
        return self.raw_opcode, self.flags, self.raw_body


@dataclass(frozen=True, slots=True)
class Ready(Reply):
    """READY: the reply to STARTUP (no authentication) and REGISTER."""

    opcode = Opcode.READY

    def body(self, version: int) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class Authenticate(Reply):
    """AUTHENTICATE: STARTUP needs SASL authentication with ``authenticator``."""

    authenticator: str = "org.apache.cassandra.auth.PasswordAuthenticator"
    opcode = Opcode.AUTHENTICATE

    def body(self, version: int) -> bytes:
        return write_string(self.authenticator)


@dataclass(frozen=True, slots=True)
class AuthChallenge(Reply):
    """AUTH_CHALLENGE: another SASL round."""

    token: bytes | None = None
    opcode = Opcode.AUTH_CHALLENGE

    def body(self, version: int) -> bytes:
        return write_bytes(self.token)


@dataclass(frozen=True, slots=True)
class AuthSuccess(Reply):
    """AUTH_SUCCESS: authentication is done."""

    token: bytes | None = None
    opcode = Opcode.AUTH_SUCCESS

    def body(self, version: int) -> bytes:
        return write_bytes(self.token)


@dataclass(frozen=True, slots=True)
class Supported(Reply):
    """SUPPORTED: the reply to OPTIONS (also what answers a heartbeat)."""

    options: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: {
            "CQL_VERSION": ["3.4.7"],
            "COMPRESSION": ["lz4"],
            "PROTOCOL_VERSIONS": ["3/v3", "4/v4", "5/v5"],
        }
    )
    opcode = Opcode.SUPPORTED

    def body(self, version: int) -> bytes:
        return write_string_multimap(self.options)


@dataclass(frozen=True, slots=True)
class Void(Reply):
    """RESULT Void: a successful write or DDL-free statement."""

    def body(self, version: int) -> bytes:
        return write_int(ResultKind.VOID)


@dataclass(frozen=True, slots=True)
class SetKeyspace(Reply):
    """RESULT Set_keyspace: the reply to ``USE ks``."""

    keyspace: str

    def body(self, version: int) -> bytes:
        return write_int(ResultKind.SET_KEYSPACE) + write_string(self.keyspace)


@dataclass(frozen=True, slots=True)
class SchemaChange(Reply):
    """RESULT Schema_change: the reply to DDL (the driver then polls for schema agreement)."""

    change: SchemaChangeType = SchemaChangeType.CREATED
    target: SchemaChangeTarget = SchemaChangeTarget.TABLE
    keyspace: str = "ks"
    name: str | None = "t"

    def body(self, version: int) -> bytes:
        return write_int(ResultKind.SCHEMA_CHANGE) + _schema_change(self.change, self.target, self.keyspace, self.name)


def _schema_change(change: str, target: str, keyspace: str, name: str | None) -> bytes:
    parts = [write_string(change), write_string(target), write_string(keyspace)]
    if target != SchemaChangeTarget.KEYSPACE:
        parts.append(write_string(name or ""))
        if target in (SchemaChangeTarget.FUNCTION, SchemaChangeTarget.AGGREGATE):
            parts.append(write_string_list([]))
    return b"".join(parts)


def _column_specs(columns: Sequence[Column], keyspace: str, table: str, version: int) -> bytes:
    parts = [write_string(keyspace), write_string(table)]  # GLOBAL_TABLES_SPEC
    for name, ctype in columns:
        parts.append(write_string(name))
        parts.append(write_option(ctype, protocol_version=version))
    return b"".join(parts)


def _cell(ctype: CqlType, name: str, value: object) -> bytes:
    if value is None:
        return b"\xff\xff\xff\xff"
    data = encoder_for(ctype, f"column {name!r}")(value)
    return write_int(len(data)) + data


@dataclass(frozen=True, slots=True)
class Rows(Reply):
    """RESULT Rows: ``rows`` of Python values encoded by the ``columns``' types (None = null).

    The column metadata is always sent (whatever the request's SKIP_METADATA flag says) unless
    ``no_metadata=True``, which sets NO_METADATA and leaves it out. ``paging_state`` marks a page that is not the last;
    ``new_metadata_id`` (v5) sets METADATA_CHANGED.

    Example:
        >>> from aiocql.types import INT
        >>> Rows([("k", INT)], [(7,)]).body(4)[-8:].hex()
        '0000000400000007'
    """

    columns: Sequence[Column] = ()
    rows: Iterable[Sequence[object]] = ()
    keyspace: str = "ks"
    table: str = "t"
    paging_state: bytes | None = None
    no_metadata: bool | None = None
    new_metadata_id: bytes | None = None

    def body(self, version: int) -> bytes:
        flags = 0
        parts: list[bytes] = []
        if self.paging_state is not None:
            flags |= RowsFlag.HAS_MORE_PAGES
            parts.append(write_bytes(self.paging_state))
        if self.new_metadata_id is not None and version >= 5:
            flags |= RowsFlag.METADATA_CHANGED
            parts.append(write_short_bytes(self.new_metadata_id))
        if self.no_metadata:
            flags |= RowsFlag.NO_METADATA
        elif self.columns:
            flags |= RowsFlag.GLOBAL_TABLES_SPEC
            parts.append(_column_specs(self.columns, self.keyspace, self.table, version))
        rows = [tuple(r) for r in self.rows]
        parts.append(write_int(len(rows)))
        for row in rows:
            if len(row) != len(self.columns):
                raise InvalidValueError(f"row {row!r} has {len(row)} values for {len(self.columns)} columns")
            for (name, ctype), value in zip(self.columns, row, strict=True):
                parts.append(_cell(ctype, name, value))
        return b"".join([write_int(ResultKind.ROWS), write_int(int(flags)), write_int(len(self.columns)), *parts])


def prepared_id(query: str, keyspace: str | None = None) -> bytes:
    """The statement id the fake server gives ``query`` (MD5 of keyspace and text, as Cassandra does).

    Example:
        >>> len(prepared_id("SELECT 1"))
        16
    """
    return hashlib.md5(((keyspace or "") + query).encode()).digest()


@dataclass(frozen=True, slots=True)
class Prepared(Reply):
    """RESULT Prepared: bind markers and result columns of a statement.

    ``query_id`` defaults to :func:`prepared_id` of the PREPARE's text (the server fills it in);
    ``result_metadata_id`` (v5) defaults to a hash of the result columns.
    """

    bind: Sequence[Column] = ()
    result: Sequence[Column] = ()
    pk_indexes: Sequence[int] = ()
    query_id: bytes = b""
    result_metadata_id: bytes | None = None
    keyspace: str = "ks"
    table: str = "t"

    def body(self, version: int) -> bytes:
        parts = [write_int(ResultKind.PREPARED), write_short_bytes(self.query_id)]
        if version >= 5:
            metadata_id = self.result_metadata_id
            if metadata_id is None:
                metadata_id = hashlib.md5(repr([(n, str(t)) for n, t in self.result]).encode()).digest()
            parts.append(write_short_bytes(metadata_id))
        # bind metadata: flags, count, pk count, pk indexes, specs
        parts.append(write_int(int(RowsFlag.GLOBAL_TABLES_SPEC)))
        parts.append(write_int(len(self.bind)))
        parts.append(write_int(len(self.pk_indexes)))
        parts.extend(write_short(i) for i in self.pk_indexes)
        parts.append(_column_specs(self.bind, self.keyspace, self.table, version))
        # result metadata
        if self.result:
            parts.append(write_int(int(RowsFlag.GLOBAL_TABLES_SPEC)))
            parts.append(write_int(len(self.result)))
            parts.append(_column_specs(self.result, self.keyspace, self.table, version))
        else:
            parts.append(write_int(int(RowsFlag.NO_METADATA)))
            parts.append(write_int(0))
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Error(Reply):
    """ERROR: any server error, with its fields (``Error(WriteTimeout("...", consistency=..., ...))``)."""

    error: ServerError
    opcode = Opcode.ERROR

    def body(self, version: int) -> bytes:
        return encode_error(self.error, version)


@dataclass(frozen=True, slots=True)
class Event(Reply):
    """EVENT (pushed on stream -1): build with :meth:`status_change` or :meth:`schema_change`."""

    event_body: bytes
    opcode = Opcode.EVENT

    def body(self, version: int) -> bytes:
        return self.event_body

    @classmethod
    def status_change(cls, change: StatusChangeType, address: str, port: int = 9042) -> Event:
        """A STATUS_CHANGE event (UP/DOWN) for ``address:port``."""
        return cls(write_string(EventType.STATUS_CHANGE) + write_string(change) + write_inet(address, port))

    @classmethod
    def schema_change(
        cls, change: SchemaChangeType, target: SchemaChangeTarget, keyspace: str, name: str | None = None
    ) -> Event:
        """A SCHEMA_CHANGE event."""
        return cls(write_string(EventType.SCHEMA_CHANGE) + _schema_change(change, target, keyspace, name))


# -- actions --------------------------------------------------------------------------------------
class Action:
    """Something other than a reply: see :data:`NO_REPLY`, :data:`CLOSE`, :data:`ABORT`."""


@dataclass(frozen=True, slots=True)
class NoReply(Action):
    """Never answer this request (its stream id stays busy on the client)."""


@dataclass(frozen=True, slots=True)
class CloseConnection(Action):
    """Close this request's connection without answering: gracefully (FIN) or ``abort`` (RST)."""

    abort: bool = False


NO_REPLY = NoReply()
CLOSE = CloseConnection()
ABORT = CloseConnection(abort=True)
