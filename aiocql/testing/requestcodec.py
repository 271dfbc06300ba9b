"""Decoding request bodies (spec 4.1) back into :mod:`aiocql.protocol.requests` messages.

The driver only ever *encodes* requests; a fake server has to read them. This is the mirror of
:func:`aiocql.protocol.requests.encode_request`, for v4 and v5 (flags are a [byte] in v4 and an
[int] in v5; PREPARE flags, the EXECUTE result metadata id and per-query keyspace are v5 only).
No I/O, like the protocol package. Malformed bodies raise :class:`~aiocql.errors.ProtocolError`.

Example:
    >>> from aiocql.protocol.requests import Query, QueryParameters, encode_request
    >>> opcode, body = encode_request(Query("SELECT 1", QueryParameters(page_size=10)), 5)
    >>> decode_request(opcode, body, 5)
    Query(query='SELECT 1', params=QueryParameters(consistency=<Consistency.ONE: 1>, values=(), names=None, \
skip_metadata=False, page_size=10, paging_state=None, serial_consistency=None, timestamp=None, keyspace=None, \
now_in_seconds=None))
"""

from __future__ import annotations

from collections.abc import Callable

from aiocql.errors.base import ProtocolError
from aiocql.protocol.constants import BatchType, Consistency, Opcode, PrepareFlag, QueryFlag
from aiocql.protocol.primitives import (
    Buffer,
    Value,
    read_byte,
    read_bytes,
    read_consistency,
    read_int,
    read_long,
    read_long_string,
    read_short,
    read_short_bytes,
    read_string,
    read_string_list,
    read_string_map,
    read_value,
)
from aiocql.protocol.requests import (
    AuthResponse,
    Batch,
    BatchPrepared,
    BatchQuery,
    Execute,
    Options,
    Prepare,
    Query,
    QueryParameters,
    Register,
    Request,
    Startup,
)

__all__ = ["decode_query_parameters", "decode_request"]


def _flags(buf: Buffer, pos: int, version: int, what: str) -> tuple[int, int]:
    return read_byte(buf, pos, what) if version < 5 else read_int(buf, pos, what)


def _values(buf: Buffer, pos: int, with_names: bool) -> tuple[tuple[Value, ...], tuple[str, ...] | None, int]:
    count, pos = read_short(buf, pos, "value count")
    values: list[Value] = []
    names: list[str] = []
    for _ in range(count):
        if with_names:
            name, pos = read_string(buf, pos, "value name")
            names.append(name)
        value, pos = read_value(buf, pos, "bound value")
        values.append(value)
    return tuple(values), (tuple(names) if with_names else None), pos


def decode_query_parameters(buf: Buffer, pos: int, version: int) -> tuple[QueryParameters, int]:
    """Read <query_parameters> (spec 4.1.4) at ``pos``; return them and the position after.

    Example:
        >>> decode_query_parameters(bytes.fromhex("000a00"), 0, 4)[0].consistency
        <Consistency.LOCAL_ONE: 10>
    """
    consistency, pos = read_consistency(buf, pos, "consistency")
    flags, pos = _flags(buf, pos, version, "query flags")
    values: tuple[Value, ...] = ()
    names: tuple[str, ...] | None = None
    if flags & QueryFlag.VALUES:
        values, names, pos = _values(buf, pos, bool(flags & QueryFlag.WITH_NAMES_FOR_VALUES))
    page_size: int | None = None
    paging_state: bytes | None = None
    serial: Consistency | None = None
    timestamp: int | None = None
    keyspace: str | None = None
    now: int | None = None
    if flags & QueryFlag.PAGE_SIZE:
        page_size, pos = read_int(buf, pos, "page size")
    if flags & QueryFlag.WITH_PAGING_STATE:
        paging_state, pos = read_bytes(buf, pos, "paging state")
    if flags & QueryFlag.WITH_SERIAL_CONSISTENCY:
        serial, pos = read_consistency(buf, pos, "serial consistency")
    if flags & QueryFlag.WITH_DEFAULT_TIMESTAMP:
        timestamp, pos = read_long(buf, pos, "timestamp")
    if version >= 5 and flags & QueryFlag.WITH_KEYSPACE:
        keyspace, pos = read_string(buf, pos, "keyspace")
    if version >= 5 and flags & QueryFlag.WITH_NOW_IN_SECONDS:
        now, pos = read_int(buf, pos, "now in seconds")
    params = QueryParameters(
        consistency=consistency,
        values=values,
        names=names,
        skip_metadata=bool(flags & QueryFlag.SKIP_METADATA),
        page_size=page_size,
        paging_state=paging_state,
        serial_consistency=serial,
        timestamp=timestamp,
        keyspace=keyspace,
        now_in_seconds=now,
    )
    return params, pos


def _startup(buf: Buffer, version: int) -> Request:
    return Startup(read_string_map(buf, 0, "startup options")[0])


def _options(buf: Buffer, version: int) -> Request:
    return Options()


def _query(buf: Buffer, version: int) -> Request:
    query, pos = read_long_string(buf, 0, "query")
    return Query(query, decode_query_parameters(buf, pos, version)[0])


def _prepare(buf: Buffer, version: int) -> Request:
    query, pos = read_long_string(buf, 0, "query")
    keyspace = None
    if version >= 5:
        flags, pos = read_int(buf, pos, "prepare flags")
        if flags & PrepareFlag.WITH_KEYSPACE:
            keyspace, pos = read_string(buf, pos, "prepare keyspace")
    return Prepare(query, keyspace)


def _execute(buf: Buffer, version: int) -> Request:
    query_id, pos = read_short_bytes(buf, 0, "prepared id")
    metadata_id = None
    if version >= 5:
        metadata_id, pos = read_short_bytes(buf, pos, "result metadata id")
    return Execute(query_id, decode_query_parameters(buf, pos, version)[0], metadata_id)


def _batch(buf: Buffer, version: int) -> Request:
    kind, pos = read_byte(buf, 0, "batch type")
    count, pos = read_short(buf, pos, "batch size")
    children: list[BatchQuery | BatchPrepared] = []
    for _ in range(count):
        child_kind, pos = read_byte(buf, pos, "batch child kind")
        if child_kind == 0:
            query, pos = read_long_string(buf, pos, "batch child query")
            values, _, pos = _values(buf, pos, False)
            children.append(BatchQuery(query, values))
        elif child_kind == 1:
            query_id, pos = read_short_bytes(buf, pos, "batch child id")
            values, _, pos = _values(buf, pos, False)
            children.append(BatchPrepared(query_id, values))
        else:
            raise ProtocolError(f"batch child kind {child_kind} at offset {pos - 1}")
    consistency, pos = read_consistency(buf, pos, "batch consistency")
    flags, pos = _flags(buf, pos, version, "batch flags")
    serial: Consistency | None = None
    timestamp: int | None = None
    keyspace: str | None = None
    now: int | None = None
    if flags & QueryFlag.WITH_SERIAL_CONSISTENCY:
        serial, pos = read_consistency(buf, pos, "batch serial consistency")
    if flags & QueryFlag.WITH_DEFAULT_TIMESTAMP:
        timestamp, pos = read_long(buf, pos, "batch timestamp")
    if version >= 5 and flags & QueryFlag.WITH_KEYSPACE:
        keyspace, pos = read_string(buf, pos, "batch keyspace")
    if version >= 5 and flags & QueryFlag.WITH_NOW_IN_SECONDS:
        now, pos = read_int(buf, pos, "batch now in seconds")
    try:
        batch_type = BatchType(kind)
    except ValueError:
        raise ProtocolError(f"unknown batch type {kind}") from None
    return Batch(children, batch_type, consistency, serial, timestamp, keyspace, now)


def _register(buf: Buffer, version: int) -> Request:
    return Register(tuple(read_string_list(buf, 0, "event types")[0]))


def _auth_response(buf: Buffer, version: int) -> Request:
    return AuthResponse(read_bytes(buf, 0, "auth token")[0])


_DECODERS: dict[Opcode, Callable[[Buffer, int], Request]] = {
    Opcode.STARTUP: _startup,
    Opcode.OPTIONS: _options,
    Opcode.QUERY: _query,
    Opcode.PREPARE: _prepare,
    Opcode.EXECUTE: _execute,
    Opcode.BATCH: _batch,
    Opcode.REGISTER: _register,
    Opcode.AUTH_RESPONSE: _auth_response,
}


def decode_request(opcode: Opcode, body: Buffer, version: int) -> Request:
    """Decode one request body (custom payload prefix already removed) for protocol ``version``.

    Example:
        >>> decode_request(Opcode.OPTIONS, b"", 4)
        Options()
    """
    decoder = _DECODERS.get(opcode)
    if decoder is None:
        raise ProtocolError(f"opcode {opcode.name} is not a request")
    return decoder(body, version)
