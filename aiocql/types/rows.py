"""Row decoding and bound-value encoding, each built once and reused.

* :class:`RowDecoder` is built once per result metadata (or prepared statement) and decodes the
  ``<rows_content>`` of every page: the driver's hottest loop.
* :class:`ValuesEncoder` is built once per prepared statement and turns the user's positional or
  named values into the [value]s of an EXECUTE (``bytes``, ``None`` for null, ``UNSET``).

Example:
    >>> from aiocql.protocol.cqltypes import INT, TEXT
    >>> enc = ValuesEncoder(["id", "name"], [INT, TEXT])
    >>> values = enc.encode({"id": 1, "name": "a"})
    >>> values
    [b'\\x00\\x00\\x00\\x01', b'a']
    >>> body = b"".join(len(v).to_bytes(4, "big") + v for v in values)
    >>> RowDecoder([INT, TEXT]).decode_rows(memoryview(body), 0, 1)
    [(1, 'a')]
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from aiocql.errors.base import InvalidValueError, ProtocolError
from aiocql.protocol.cqltypes import CqlType, ListType, NativeType
from aiocql.types import speedups
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.decoders import (
    EXACT_DECIMAL_CONTEXT,
    FAST_TIMESTAMP_LIMIT,
    UUID_SLOT_SETTERS,
    Decoder,
    decimal_limit,
    timestamp_from_ms,
)
from aiocql.types.record import Row, row_class
from aiocql.types.rowplan import PADDING, row_function
from aiocql.types.values import UNSET, Unset

__all__ = ["ROW", "ROW_SHAPES", "TUPLE", "RowDecoder", "ValuesEncoder"]

_PADDING: Final = bytes(PADDING)
_PAD_JOIN: Final = b"".join


class RowDecoder:
    """Decodes rows of [bytes] values with decoders resolved once from the column types.

    The per-row work runs in the compiled core when it is built (:data:`aiocql.compiled`), else in a
    function generated for the column types (:func:`aiocql.types.rowplan.row_function`, cached per tuple of
    types). Both give the same rows and raise the same errors. ``names`` (the column names) give the
    :class:`~aiocql.types.record.Row` class of :meth:`decode_page`'s default rows; ``compiled`` forces one
    implementation (``False``: pure Python; ``True``: compiled, an error if it is not built).

    Example:
        >>> from aiocql.protocol.cqltypes import BIGINT
        >>> RowDecoder([BIGINT]).decode_rows(memoryview(bytes.fromhex("ffffffff")), 0, 1)
        [(None,)]
    """

    __slots__ = ("_codec", "_function", "_row_type", "_shaped", "column_types", "names")

    def __init__(
        self, column_types: Sequence[CqlType], names: Sequence[str] | None = None, *, compiled: bool | None = None
    ) -> None:
        self.column_types: tuple[CqlType, ...] = tuple(column_types)
        self.names: tuple[str, ...] = (
            tuple(names) if names is not None else tuple(f"column{i}" for i in range(len(self.column_types)))
        )
        if len(self.names) != len(self.column_types):
            raise InvalidValueError(f"{len(self.names)} column names but {len(self.column_types)} column types")
        core = speedups.core if compiled is None else _core_or_fail() if compiled else None
        self._codec = None if core is None else core.RowCodec(*codec_spec(self.column_types))
        self._function = self._shaped = None
        if self._codec is None:
            self._function = row_function(self.column_types)[0]
            self._shaped = row_function(self.column_types, True)[0]
        self._row_type: type[Row] | None = None

    @property
    def compiled(self) -> bool:
        """Whether this decoder runs in the compiled core."""
        return self._codec is not None

    @property
    def row_type(self) -> type[Row]:
        """The :class:`~aiocql.types.record.Row` class of these columns' rows (one per set of names)."""
        if self._row_type is None:
            self._row_type = row_class(self.names)
        return self._row_type

    def decode_rows(self, buf: memoryview, pos: int, count: int, cls: type[tuple[Any, ...]] | None = None) -> list[Any]:
        """Decode ``count`` rows starting at ``pos``; a length of -1 (null) gives ``None``.

        Rows are tuples, or instances of ``cls`` (a tuple subclass such as :attr:`row_type`).
        Raises :class:`~aiocql.errors.ProtocolError` if the buffer ends before the last row.
        """
        return self.decode_rows_end(buf, pos, count, cls)[0]

    def decode_rows_end(
        self, buf: memoryview, pos: int, count: int, cls: type[tuple[Any, ...]] | None = None
    ) -> tuple[list[Any], int]:
        """Like :meth:`decode_rows`, also returning the position after the last row."""
        if self._codec is not None:  # it makes the check below itself, in C
            rows, end = self._codec.decode(buf, pos, count, cls)
            return rows, end
        available = len(buf) - pos
        # Every value takes at least its 4-byte length: refuse absurd counts before allocating.
        if count < 0 or count * 4 * len(self.column_types) > available or (not self.column_types and count > 65536):
            raise ProtocolError(f"{count} rows of {len(self.column_types)} columns cannot fit in {available} bytes")
        # One copy of the rest of the body (plus zero padding, see rowplan) makes every slice a
        # bytes object: faster to decode than memoryview slices, and blobs need no second copy.
        data = _PAD_JOIN((buf[pos:], _PADDING))
        if cls is None:
            rows, end = self._function(data, 0, count, available)  # type: ignore[misc]
        else:
            rows, end = self._shaped(data, 0, count, available, cls)  # type: ignore[misc]
        return rows, pos + end

    def page_decoder(self, factory: Callable[..., Any]) -> Callable[[memoryview, int, int], list[Any]]:
        """:meth:`decode_page` with ``factory`` fixed: ``(buf, pos, count) -> rows``, for a caller that decodes
        many pages of these columns (made once per result metadata and factory; one C call per page in the
        compiled core for the default rows and tuples). The factory's shape is looked up here, once.

        Example:
            >>> from aiocql import named_tuple_factory
            >>> from aiocql.protocol.cqltypes import INT
            >>> page = RowDecoder([INT], ["k"]).page_decoder(named_tuple_factory)
            >>> page(memoryview(b"\\x00\\x00\\x00\\x04\\x00\\x00\\x00\\x07"), 0, 1)
            [Row(k=7)]
        """
        shape = ROW_SHAPES.get(factory)
        if shape is not ROW and shape is not TUPLE:
            return functools.partial(self.decode_page, factory=factory)
        cls = self.row_type if shape is ROW else None
        if self._codec is not None:
            compiled: Callable[[memoryview, int, int], list[Any]] = self._codec.page(cls)
            return compiled
        rows_end = self.decode_rows_end

        def page(buf: memoryview, pos: int, count: int) -> list[Any]:
            return rows_end(buf, pos, count, cls)[0]

        return page

    def decode_page(self, buf: memoryview, pos: int, count: int, factory: Callable[..., Any]) -> list[Any]:
        """The rows of one page as ``factory`` shapes them: a factory registered in :data:`ROW_SHAPES`
        (the default rows, tuples) is built by the decoder itself, any other is called as
        ``factory(names, tuples)``."""
        shape = ROW_SHAPES.get(factory)
        if shape is ROW:
            return self.decode_rows(buf, pos, count, self.row_type)
        rows = self.decode_rows(buf, pos, count)
        if shape is TUPLE:
            return rows
        page = factory(self.names, rows)
        # A factory may return any iterable (a generator): the page is a list, so one(), len() and
        # indexing work and the rows can be read more than once.
        return page if type(page) is list else list(page)


#: Row shapes the decoder builds itself: ``ROW_SHAPES[factory]`` is :data:`ROW` or :data:`TUPLE`.
ROW: Final = "row"
TUPLE: Final = "tuple"
ROW_SHAPES: dict[object, str] = {}


def _core_or_fail() -> Any:
    if speedups.core is None:
        raise InvalidValueError("the compiled core is not in use (not built, or AIOCQL_NO_EXTENSIONS is set)")
    return speedups.core


# Column kinds the compiled core decodes itself (any other column: its Python decoder, per value).
_KINDS: Final = {
    "int": 1, "bigint": 2, "counter": 2, "smallint": 3, "tinyint": 4, "double": 5, "float": 6, "boolean": 7,
    "timestamp": 8, "uuid": 9, "timeuuid": 9, "text": 10, "ascii": 11, "blob": 12, "decimal": 13,
}  # fmt: skip
_LIST: Final = 14
_LIST_ELEMENTS: Final = {k: v for k, v in _KINDS.items() if k != "decimal"}


def _kind(t: CqlType) -> tuple[int, int]:
    if isinstance(t, NativeType):
        return _KINDS.get(t.name, 0), 0
    if isinstance(t, ListType) and isinstance(t.elem, NativeType) and t.elem.name in _LIST_ELEMENTS:
        return _LIST, _LIST_ELEMENTS[t.elem.name]
    return 0, 0


def codec_spec(types: Sequence[CqlType]) -> tuple[bytes, bytes, tuple[Decoder, ...], tuple[Any, ...]]:
    """What the compiled core's RowCodec is built from: a kind code per column (0: call the column's Python
    decoder), the element kind of list columns, every column's Python decoder (also used for any value the
    fast path does not take: unexpected sizes, nulls in lists, ...), and the helpers."""
    kinds = [_kind(t) for t in types]
    decoders = tuple(decoder_for(t) for t in types)
    return bytes(k for k, _ in kinds), bytes(e for _, e in kinds), decoders, _HELPERS


_HELPERS: Final = (ProtocolError, timestamp_from_ms, FAST_TIMESTAMP_LIMIT, uuid.UUID, uuid.SafeUUID.unknown,
                   UUID_SLOT_SETTERS is not None, Decimal, EXACT_DECIMAL_CONTEXT, decimal_limit)  # fmt: skip


class ValuesEncoder:
    """Encodes the bound values of a prepared statement with encoders resolved once.

    Values may be a sequence (positional) or a mapping (by bind-variable name). ``None`` becomes a
    null, :data:`UNSET` passes through (leaves the column unchanged).

    Example:
        >>> from aiocql.protocol.cqltypes import INT
        >>> ValuesEncoder(["a", "b"], [INT, INT]).encode([1])
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: expected 2 values, got 1
    """

    __slots__ = ("_encoders", "_index", "column_names", "column_types")

    def __init__(self, column_names: Sequence[str], column_types: Sequence[CqlType]) -> None:
        if len(column_names) != len(column_types):
            raise InvalidValueError(f"{len(column_names)} column names but {len(column_types)} column types")
        self.column_names: tuple[str, ...] = tuple(column_names)
        self.column_types: tuple[CqlType, ...] = tuple(column_types)
        self._encoders = tuple(
            encoder_for(t, f"column {name!r}") for name, t in zip(self.column_names, self.column_types, strict=True)
        )
        self._index: frozenset[str] = frozenset(self.column_names)

    def encode(self, values: Sequence[object] | Mapping[str, object]) -> list[bytes | Unset | None]:
        """Encode one set of bound values; raises InvalidValueError naming the column at fault."""
        kind = type(values)
        if kind is tuple or kind is list:  # the common case, without the (slow) ABC checks below
            ordered: Sequence[object] = values  # type: ignore[assignment]
        elif isinstance(values, Mapping):
            unknown = [k for k in values if k not in self._index]
            if unknown:
                raise InvalidValueError(
                    f"unknown named parameter(s) {', '.join(map(repr, unknown))}; "
                    f"the statement binds {', '.join(map(repr, self.column_names)) or 'nothing'}"
                )
            missing = [n for n in self.column_names if n not in values]
            if missing:
                raise InvalidValueError(
                    f"missing value for column(s) {', '.join(map(repr, missing))} "
                    "(pass None for null or UNSET to leave a column unchanged)"
                )
            ordered = [values[n] for n in self.column_names]
        elif isinstance(values, (str, bytes, bytearray, memoryview)) or not isinstance(values, Sequence):
            raise InvalidValueError(f"expected a sequence or mapping of values, got {type(values).__name__}")
        else:
            ordered = values
        if len(ordered) != len(self._encoders):
            raise InvalidValueError(f"expected {len(self._encoders)} values, got {len(ordered)}")
        out: list[bytes | Unset | None] = []
        for encode, value in zip(self._encoders, ordered, strict=True):
            if value is None:
                out.append(None)
            elif value is UNSET:
                out.append(UNSET)
            else:
                out.append(encode(value))
        return out
