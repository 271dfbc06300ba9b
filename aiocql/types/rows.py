"""Row decoding and bound-value encoding, each built once and reused.

* :class:`RowDecoder` is built once per result metadata (or prepared statement) and decodes the
  ``<rows_content>`` of every page: the driver's hottest loop.
* :class:`ValuesEncoder` is built once per prepared statement and turns the user's positional or
  named values into the [value]s of an EXECUTE (``bytes``, ``None`` for null, ``UNSET``).

Example:
    >>> from aiocql.types.cqltypes import INT, TEXT
    >>> enc = ValuesEncoder(["id", "name"], [INT, TEXT])
    >>> values = enc.encode({"id": 1, "name": "a"})
    >>> values
    [b'\\x00\\x00\\x00\\x01', b'a']
    >>> body = b"".join(len(v).to_bytes(4, "big") + v for v in values)
    >>> RowDecoder([INT, TEXT]).decode_rows(memoryview(body), 0, 1)
    [(1, 'a')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aiocql.errors.base import InvalidValueError, ProtocolError
from aiocql.types.codecs import encoder_for
from aiocql.types.cqltypes import CqlType
from aiocql.types.rowplan import PADDING, row_function
from aiocql.types.values import UNSET, Unset

__all__ = ["RowDecoder", "ValuesEncoder"]

_PADDING: Final = bytes(PADDING)
_PAD_JOIN: Final = b"".join


class RowDecoder:
    """Decodes rows of [bytes] values with decoders resolved once from the column types.

    The per-row work runs in a function generated for the column types
    (:func:`aiocql.types.rowplan.row_function`, cached per tuple of types).

    Example:
        >>> from aiocql.types.cqltypes import BIGINT
        >>> RowDecoder([BIGINT]).decode_rows(memoryview(bytes.fromhex("ffffffff")), 0, 1)
        [(None,)]
    """

    __slots__ = ("_function", "column_types")

    def __init__(self, column_types: Sequence[CqlType]) -> None:
        self.column_types: tuple[CqlType, ...] = tuple(column_types)
        self._function = row_function(self.column_types)[0]

    def decode_rows(self, buf: memoryview, pos: int, count: int) -> list[tuple[object, ...]]:
        """Decode ``count`` rows starting at ``pos``; a length of -1 (null) gives ``None``.

        Raises :class:`~aiocql.errors.ProtocolError` if the buffer ends before the last row.
        """
        return self.decode_rows_end(buf, pos, count)[0]

    def decode_rows_end(self, buf: memoryview, pos: int, count: int) -> tuple[list[tuple[object, ...]], int]:
        """Like :meth:`decode_rows`, also returning the position after the last row."""
        # One copy of the rest of the body (plus zero padding, see rowplan) makes every slice a
        # bytes object: faster to decode than memoryview slices, and blobs need no second copy.
        available = len(buf) - pos
        # Every value takes at least its 4-byte length: refuse absurd counts before allocating.
        if count < 0 or count * 4 * len(self.column_types) > available or (not self.column_types and count > 65536):
            raise ProtocolError(f"{count} rows of {len(self.column_types)} columns cannot fit in {available} bytes")
        data = _PAD_JOIN((buf[pos:], _PADDING))
        rows, end = self._function(data, 0, count, available)
        return rows, pos + end


class ValuesEncoder:
    """Encodes the bound values of a prepared statement with encoders resolved once.

    Values may be a sequence (positional) or a mapping (by bind-variable name). ``None`` becomes a
    null, :data:`UNSET` passes through (leaves the column unchanged).

    Example:
        >>> from aiocql.types.cqltypes import INT
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
        if isinstance(values, Mapping):
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
            ordered: Sequence[object] = [values[n] for n in self.column_names]
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
