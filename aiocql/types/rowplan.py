"""A row-decoding function specialised, once, for a list of column types.

:class:`aiocql.types.rows.RowDecoder` is the hottest loop of the driver, so instead of looping over
per-column decoder callables for every value it runs a function generated for its column types:

* consecutive fixed-size columns (int, bigint, double, boolean, timestamp, uuid, ...) are read with
  ONE precompiled ``struct`` call covering their [bytes] lengths and values; if any length is not
  the expected size (null, empty, malformed) the generic decoders take over for that group;
* variable-size columns read their length, then decode inline (``text``: ``bytes.decode``, ``blob``:
  the slice itself) or through the column's decoder from :func:`aiocql.types.codecs.decoder_for`;
* each row is built as one tuple display, with no per-row list.

The generated source uses only fixed templates and column indices (no names from the server) and is
cached per tuple of column types, so results of unprepared queries do not pay for compilation again.
The input must be followed by at least :data:`PADDING` readable bytes (zeros), so a group read near
the end never fails inside struct; the function checks the real length itself.
"""

from __future__ import annotations

import datetime as _dt
import functools
import struct
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from aiocql.errors.base import ProtocolError
from aiocql.protocol.cqltypes import CqlType, NativeType
from aiocql.types.codecs import decoder_for
from aiocql.types.decoders import (
    FAST_TIMESTAMP_LIMIT,
    UUID_SLOT_SETTERS,
    Decoder,
    decimal_from,
    timestamp_from_ms,
    uuid_from_int,
)
from aiocql.types.values import Date

__all__ = ["PADDING", "RowFunction", "row_function"]

#: Zero bytes the caller appends after the rows (at least the largest fixed group's size).
PADDING: Final = 64
#: (data, position, row count, data length[, row class]) -> (rows, position after the last row)
RowFunction = Callable[..., tuple[list[tuple[object, ...]], int]]

# Native types read in fixed groups: struct code, value size, conversion template ("{v}" = value).
_FIXED: Final[dict[str, tuple[str, int, str | None]]] = {
    "int": ("i", 4, None),
    "bigint": ("q", 8, None),
    "counter": ("q", 8, None),
    "smallint": ("h", 2, None),
    "tinyint": ("b", 1, None),
    "double": ("d", 8, None),
    "float": ("f", 4, None),
    "boolean": ("?", 1, None),
    "timestamp": ("q", 8, "timestamp"),
    "uuid": ("16s", 16, "uuid"),
    "timeuuid": ("16s", 16, "uuid"),
    "date": ("I", 4, "date"),
}
_INLINE_VARIABLE: Final[dict[str, str]] = {
    "text": "data[at:end].decode()",
    "ascii": "data[at:end].decode('ascii')",
    "blob": "data[at:end]",
    # decimal: [int] scale + varint; scaleb in an unlimited context is exact (see decoders)
    "decimal": "_decimal_at(data, at, end) if _n > 4 else _d{i}(data[at:end])",
}
_MAX_GROUP_BYTES: Final = PADDING
_MAX_COLUMNS: Final = 400  # beyond this, the generic loop (compile time grows with the source)

_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()


def _conversion(kind: str, v: str) -> list[str]:
    if kind == "timestamp":  # same result as decoders.timestamp_from_ms, inlined
        return [
            f"if 0 <= {v} < {FAST_TIMESTAMP_LIMIT}:",
            f"    {v} = _fromtimestamp({v} / 1000, _UTC)",
            "else:",
            f"    {v} = _timestamp_from_ms({v})",
        ]
    if kind == "uuid":  # same result as decoders.uuid_from_int, inlined when possible
        if UUID_SLOT_SETTERS is None:
            return [f"{v} = _uuid_from_int(_from_bytes({v}, 'big'))"]
        return [
            "_u = _new(_UUID)",
            f"_set_int(_u, _from_bytes({v}, 'big'))",
            "_set_safe(_u, _SAFE)",
            f"{v} = _u",
        ]
    if kind == "date":
        return [
            f"_o = {v} + {_EPOCH_ORDINAL - 2**31}",
            f"{v} = _fromordinal(_o) if 1 <= _o <= {_dt.date.max.toordinal()} else _Date({v} - {2**31})",
        ]
    raise AssertionError(kind)


_decimal_at = decimal_from  # limit-checked (set_decimal_limit), exact


def _slow_group(decoders: Sequence[Decoder]) -> Callable[[bytes, int, int], tuple[list[object], int]]:
    """Generic decoding of one fixed group, used when a length is not the type's size."""

    unpack_from = struct.Struct(">i").unpack_from

    def slow(data: bytes, at: int, length: int) -> tuple[list[object], int]:
        values: list[object] = []
        for decode in decoders:
            size = unpack_from(data, at)[0]
            at += 4
            if size < 0:
                values.append(None)
                continue
            end = at + size
            if end > length:
                raise struct.error("value past the end")
            values.append(decode(data[at:end]))
            at = end
        return values, at

    return slow


def _fixed_spec(t: CqlType) -> tuple[str, int, str | None] | None:
    return _FIXED.get(t.name) if isinstance(t, NativeType) else None


def _group_lines(types: Sequence[CqlType], group: list[int], env: dict[str, Any], read_next: bool) -> list[str]:
    """One struct call for a group of fixed-size columns (and the [bytes] length of the next column
    when ``read_next``, left in ``_n`` with ``at`` past it, as a variable column expects)."""
    first = group[0]
    specs = [_fixed_spec(types[c]) or ("", 0, None) for c in group]
    size = sum(4 + spec[1] for spec in specs)
    env[f"_g{first}"] = struct.Struct(
        ">" + "".join("i" + code for code, _, _ in specs) + ("i" if read_next else "")
    ).unpack_from
    env[f"_slow{first}"] = _slow_group([decoder_for(types[c]) for c in group])
    targets = ", ".join(f"_n{c}, v{c}" for c in group) + (", _n" if read_next else "")
    checks = " and ".join(f"_n{c} == {spec[1]}" for c, spec in zip(group, specs, strict=True))
    lines = [f"{targets} = _g{first}(data, at)", f"if {checks}:", f"    at += {size + 4 * read_next}"]
    for c, (_, _, kind) in zip(group, specs, strict=True):
        if kind is not None:
            lines += ["    " + line for line in _conversion(kind, f"v{c}")]
    lines += ["else:", f"    ({', '.join(f'v{c}' for c in group)},), at = _slow{first}(data, at, length)"]
    if read_next:
        lines += ["    _n = _len(data, at)[0]", "    at += 4"]
    return lines


def _variable_lines(t: CqlType, i: int, env: dict[str, Any], length_read: bool) -> list[str]:
    """Decode variable column ``i``; its length is read here unless a group already left it in ``_n``."""
    env[f"_d{i}"] = decoder_for(t)
    inline = _INLINE_VARIABLE.get(t.name) if isinstance(t, NativeType) else None
    expression = f"_d{i}(data[at:end])" if inline is None else inline.replace("{i}", str(i))
    return [
        *([] if length_read else ["_n = _len(data, at)[0]", "at += 4"]),
        "if _n < 0:",
        f"    v{i} = None",
        "else:",
        "    end = at + _n",
        "    if end > length:",
        "        raise _StructError",
        f"    v{i} = {expression}",
        "    at = end",
    ]


def _source(types: Sequence[CqlType], env: dict[str, Any], shaped: bool) -> str:
    body: list[str] = []
    i = 0
    n = len(types)
    length_read = False  # whether the previous group already read this column's [bytes] length
    while i < n:
        spec = _fixed_spec(types[i])
        if spec is None:
            body += _variable_lines(types[i], i, env, length_read)
            length_read = False
            i += 1
            continue
        group = [i]
        size = 4 + spec[1]
        while i + len(group) < n:
            nxt = _fixed_spec(types[i + len(group)])
            if nxt is None or size + 4 + nxt[1] > _MAX_GROUP_BYTES:
                break
            group.append(i + len(group))
            size += 4 + nxt[1]
        i += len(group)
        length_read = i < n and _fixed_spec(types[i]) is None
        body += _group_lines(types, group, env, length_read)
    body += [
        "if at > length:",
        "    raise _StructError",
        f"append_row({'_tnew(cls, ' if shaped else ''}({''.join(f'v{c}, ' for c in range(n))}){')' if shaped else ''})",
    ]
    # Every helper is bound as a keyword-only default: LOAD_FAST in the loop, not LOAD_GLOBAL.
    helpers = ", ".join(f"{name}={name}" for name in env if name.startswith("_"))
    lines = [
        f"def decode_rows(data, at, count, length{', cls' if shaped else ''}, *, {helpers}):",
        "    rows = []",
        "    append_row = rows.append",
        "    try:",
        "        for _ in range(count):",
        *("            " + line for line in body),
        "    except (_StructError, IndexError):",
        "        raise _ProtocolError(f'truncated rows: row {len(rows)} of {count} ends past the body') from None",
        "    except UnicodeDecodeError as exc:",
        "        raise _ProtocolError(f'row {len(rows)}: invalid text value: {exc}') from None",
        "    return rows, at",
    ]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=1024)
def row_function(types: tuple[CqlType, ...], shaped: bool = False) -> tuple[RowFunction, str]:
    """The specialised row function for ``types`` and its source (for debugging and tests).

    With ``shaped``, the function takes a fifth argument, a tuple subclass, and builds each row as an
    instance of it (``tuple.__new__(cls, values)``, in C) instead of a plain tuple.

    Example:
        >>> from aiocql.protocol.cqltypes import INT, TEXT
        >>> fn, source = row_function((INT, TEXT))
        >>> data = bytes.fromhex("00000004" "00000007" "00000002" "6869") + bytes(PADDING)
        >>> fn(data, 0, 1, len(data) - PADDING)
        ([(7, 'hi')], 14)
    """
    env: dict[str, Any] = {
        "_len": struct.Struct(">i").unpack_from,
        "_StructError": struct.error,
        "_ProtocolError": ProtocolError,
        "_fromtimestamp": _dt.datetime.fromtimestamp,
        "_UTC": _dt.UTC,
        "_timestamp_from_ms": timestamp_from_ms,
        "_uuid_from_int": uuid_from_int,
        "_UUID": uuid.UUID,
        "_new": object.__new__,
        "_set_int": UUID_SLOT_SETTERS[0] if UUID_SLOT_SETTERS else None,
        "_set_safe": UUID_SLOT_SETTERS[1] if UUID_SLOT_SETTERS else None,
        "_SAFE": uuid.SafeUUID.unknown,
        "_from_bytes": int.from_bytes,
        "_fromordinal": _dt.date.fromordinal,
        "_Date": Date,
        "_decimal_at": _decimal_at,
        "_tnew": tuple.__new__,
    }
    if len(types) > _MAX_COLUMNS:
        return _generic(types, shaped), "# generic loop"
    source = _source(types, env, shaped)
    exec(compile(source, f"<aiocql row decoder {len(types)} columns>", "exec"), env)
    function: RowFunction = env["decode_rows"]
    return function, source


def _generic(types: Sequence[CqlType], shaped: bool) -> RowFunction:
    decoders = tuple(decoder_for(t) for t in types)
    unpack_from = struct.Struct(">i").unpack_from

    def decode_rows(
        data: bytes, at: int, count: int, length: int, cls: type[tuple[object, ...]] = tuple
    ) -> tuple[list[tuple[object, ...]], int]:
        rows: list[tuple[object, ...]] = []
        try:
            for _ in range(count):
                row: list[object] = []
                for decode in decoders:
                    size = unpack_from(data, at)[0]
                    at += 4
                    if size < 0:
                        row.append(None)
                        continue
                    end = at + size
                    if end > length:
                        raise struct.error("value past the end")
                    row.append(decode(data[at:end]))
                    at = end
                rows.append(cls(row))
        except struct.error:
            raise ProtocolError(f"truncated rows: row {len(rows)} of {count} ends past the body") from None
        return rows, at

    return decode_rows
