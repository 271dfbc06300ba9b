"""RESULT messages (spec 4.2.5): Void, Rows, Set_keyspace, Prepared, Schema_change.

Rows are *not* decoded here: :class:`RowsResult` keeps the body as a ``memoryview`` and the offset
where <rows_content> starts, for a row decoder built once per metadata (``aiocql.types``). Column
types are parsed with :func:`aiocql.protocol.options.read_option`.

Example:
    >>> body = bytes.fromhex("00000002" "00000004" "00000000" "00000000")  # Rows, NO_METADATA, 0 cols
    >>> r = decode_result(memoryview(body), 0, 4, {})
    >>> type(r).__name__, r.metadata.no_metadata, r.rows_count
    ('RowsResult', True, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiocql.errors.base import ProtocolError
from aiocql.protocol.constants import ResultKind, RowsFlag, SchemaChangeTarget, SchemaChangeType
from aiocql.protocol.cqltypes import CqlType
from aiocql.protocol.events import read_schema_change
from aiocql.protocol.message import Response
from aiocql.protocol.options import read_option
from aiocql.protocol.primitives import Buffer, read_bytes, read_int, read_short, read_short_bytes, read_string

__all__ = [
    "ColumnSpec",
    "PreparedMetadata",
    "PreparedResult",
    "Result",
    "RowsMetadata",
    "RowsResult",
    "SchemaChangeResult",
    "SetKeyspaceResult",
    "VoidResult",
    "decode_result",
    "read_prepared_metadata",
    "read_rows_metadata",
]

_GLOBAL_TABLES_SPEC = int(RowsFlag.GLOBAL_TABLES_SPEC)
_HAS_MORE_PAGES = int(RowsFlag.HAS_MORE_PAGES)
_NO_METADATA = int(RowsFlag.NO_METADATA)
_METADATA_CHANGED = int(RowsFlag.METADATA_CHANGED)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One <col_spec>: where the column comes from, its name and its type."""

    keyspace: str
    table: str
    name: str
    type: CqlType


@dataclass(slots=True, unsafe_hash=True)
class RowsMetadata:
    """Result metadata (spec 4.2.5.2).

    ``columns`` is None when the server sent NO_METADATA (the client asked to skip metadata and
    must use the cached metadata of the prepared statement). ``new_metadata_id`` (v5) is set with
    METADATA_CHANGED: the cached metadata is stale, use ``columns`` and this id from now on.
    """

    flags: int
    column_count: int
    columns: tuple[ColumnSpec, ...] | None
    paging_state: bytes | None = None
    new_metadata_id: bytes | None = None

    @property
    def has_more_pages(self) -> bool:
        """True unless this is the last page (pages may be empty and not last)."""
        return bool(self.flags & _HAS_MORE_PAGES)

    @property
    def no_metadata(self) -> bool:
        """True if the column specs were omitted (NO_METADATA)."""
        return self.columns is None

    @property
    def metadata_changed(self) -> bool:
        """True if the server reported new result metadata (v5 METADATA_CHANGED)."""
        return self.new_metadata_id is not None


@dataclass(frozen=True, slots=True)
class PreparedMetadata:
    """Bind-variable metadata of a prepared statement (spec 4.2.5.4).

    ``pk_indexes[i]`` is the bind marker index of the i-th partition key column (empty when some
    partition key column is not bound by a plain marker).
    """

    flags: int
    columns: tuple[ColumnSpec, ...]
    pk_indexes: tuple[int, ...]


@dataclass(slots=True, unsafe_hash=True)
class Result(Response):
    """Base of the RESULT messages."""


@dataclass(slots=True, unsafe_hash=True)
class VoidResult(Result):
    """A successful request with nothing to return."""


@dataclass(slots=True, unsafe_hash=True)
class RowsResult(Result):
    """A page of rows, not decoded: ``rows_count`` rows of ``metadata.column_count`` [bytes] values
    each, starting at ``buffer[offset]``."""

    metadata: RowsMetadata
    rows_count: int
    buffer: memoryview
    offset: int


@dataclass(slots=True, unsafe_hash=True)
class SetKeyspaceResult(Result):
    """The reply to ``USE keyspace``."""

    keyspace: str


@dataclass(slots=True, unsafe_hash=True)
class PreparedResult(Result):
    """The reply to PREPARE: statement id, v5 result metadata id, bind and result metadata."""

    query_id: bytes
    result_metadata_id: bytes | None
    bind_metadata: PreparedMetadata
    result_metadata: RowsMetadata


@dataclass(slots=True, unsafe_hash=True)
class SchemaChangeResult(Result):
    """The reply to a schema-altering query (same fields as a SCHEMA_CHANGE event)."""

    change_type: SchemaChangeType
    target: SchemaChangeTarget
    keyspace: str
    name: str | None = None
    argument_types: tuple[str, ...] | None = None


def _count(buf: Buffer, pos: int, what: str) -> tuple[int, int]:
    n, end = read_int(buf, pos, what)
    if n < 0:
        raise ProtocolError(f"{what} at offset {pos} is negative ({n})")
    return n, end


def _read_column_specs(buf: Buffer, pos: int, flags: int, count: int) -> tuple[tuple[ColumnSpec, ...], int]:
    if flags & _GLOBAL_TABLES_SPEC:
        ks, pos = read_string(buf, pos, "global keyspace")
        table, pos = read_string(buf, pos, "global table")
    columns = []
    for _ in range(count):
        if not flags & _GLOBAL_TABLES_SPEC:
            ks, pos = read_string(buf, pos, "column keyspace")
            table, pos = read_string(buf, pos, "column table")
        name, pos = read_string(buf, pos, "column name")
        if pos >= len(buf):
            raise ProtocolError(f"truncated column type at offset {pos}")
        ctype, pos = read_option(buf if isinstance(buf, memoryview) else memoryview(buf), pos)
        columns.append(ColumnSpec(ks, table, name, ctype))
    return tuple(columns), pos


def read_rows_metadata(buf: Buffer, pos: int, version: int) -> tuple[RowsMetadata, int]:
    """Read <metadata> of a Rows result (or the <result_metadata> of a Prepared result).

    Example:
        >>> data = bytes.fromhex("00000006" "00000001" "00000002" "abcd")  # more pages, no metadata
        >>> read_rows_metadata(data, 0, 4)
        (RowsMetadata(flags=6, column_count=1, columns=None, paging_state=b'\\xab\\xcd', \
new_metadata_id=None), 14)
    """
    flags, pos = read_int(buf, pos, "rows metadata flags")
    count, pos = _count(buf, pos, "column count")
    paging_state = None
    if flags & _HAS_MORE_PAGES:
        paging_state, pos = read_bytes(buf, pos, "paging state")
    new_id = None
    if version >= 5 and flags & _METADATA_CHANGED:
        new_id, pos = read_short_bytes(buf, pos, "new result metadata id")
    if flags & _NO_METADATA:
        return RowsMetadata(flags, count, None, paging_state, new_id), pos
    columns, pos = _read_column_specs(buf, pos, flags, count)
    return RowsMetadata(flags, count, columns, paging_state, new_id), pos


def read_prepared_metadata(buf: Buffer, pos: int) -> tuple[PreparedMetadata, int]:
    """Read the bind-variable <metadata> of a Prepared result (v4 and v5 alike).

    Example:
        >>> data = bytes.fromhex("00000001" "00000000" "00000000" "0002" "6b73" "0001" "74")
        >>> read_prepared_metadata(data, 0)
        (PreparedMetadata(flags=1, columns=(), pk_indexes=()), 19)
    """
    flags, pos = read_int(buf, pos, "prepared metadata flags")
    count, pos = _count(buf, pos, "bind marker count")
    pk_count, pos = _count(buf, pos, "partition key index count")
    pk_indexes = []
    for _ in range(pk_count):
        index, pos = read_short(buf, pos, "partition key index")
        pk_indexes.append(index)
    columns, pos = _read_column_specs(buf, pos, flags, count)
    return PreparedMetadata(flags, columns, tuple(pk_indexes)), pos


def decode_result(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Result:
    """Decode a RESULT body starting at ``pos``; ``extras`` are the prefix fields (tracing id...).

    Example:
        >>> decode_result(memoryview(bytes.fromhex("00000003" "0002" "6b73")), 0, 5, {}).keyspace
        'ks'
    """
    kind, pos = read_int(buf, pos, "result kind")
    if kind == ResultKind.ROWS:
        metadata, pos = read_rows_metadata(buf, pos, version)
        rows_count, pos = _count(buf, pos, "rows count")
        return RowsResult(metadata, rows_count, buf, pos, **extras)
    if kind == ResultKind.VOID:
        return VoidResult(**extras)
    if kind == ResultKind.SET_KEYSPACE:
        keyspace, pos = read_string(buf, pos, "keyspace")
        return SetKeyspaceResult(keyspace, **extras)
    if kind == ResultKind.PREPARED:
        query_id, pos = read_short_bytes(buf, pos, "prepared id")
        result_metadata_id = None
        if version >= 5:
            result_metadata_id, pos = read_short_bytes(buf, pos, "result metadata id")
        bind_metadata, pos = read_prepared_metadata(buf, pos)
        result_metadata, pos = read_rows_metadata(buf, pos, version)
        return PreparedResult(query_id, result_metadata_id, bind_metadata, result_metadata, **extras)
    if kind == ResultKind.SCHEMA_CHANGE:
        fields, pos = read_schema_change(buf, pos)
        return SchemaChangeResult(*fields, **extras)
    raise ProtocolError(f"unknown result kind 0x{kind:04x}")
