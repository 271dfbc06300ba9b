"""Reading and writing the [option] type specs of result and prepared metadata (spec 4.2.5.2).

An [option] is an id [short] followed by the id's parameters: a [string] class name for custom
types, one or two [option]s for collections, ``<ks><name><n><field><type>...`` for user types and
``<n><type>...`` for tuples.

Custom class names are parsed (:func:`aiocql.protocol.typestring.parse_marshal_type`): vectors exist
on the wire only as ``org.apache.cassandra.db.marshal.VectorType(...)``, and protocol v4 has no id for
``duration``, which Cassandra then sends as the custom ``org.apache.cassandra.db.marshal.DurationType``.
Both come back as their proper :class:`CqlType`; unknown classes stay :class:`CustomType`.

Example:
    >>> from aiocql.protocol.cqltypes import INT, TEXT, MapType
    >>> data = write_option(MapType(TEXT, INT))
    >>> data.hex()
    '0021000d0009'
    >>> read_option(memoryview(data), 0)
    (MapType(key=NativeType(name='text'), value=NativeType(name='int'), frozen=False), 6)
"""

from __future__ import annotations

import dataclasses
from typing import Final

from aiocql.errors.base import InvalidValueError, ProtocolError
from aiocql.protocol.cqltypes import (
    NATIVE_TYPES,
    CqlType,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)
from aiocql.protocol.primitives import read_short, read_string, write_short, write_string
from aiocql.protocol.typestring import TypeStringError, marshal_name, parse_marshal_type

__all__ = ["OPTION_IDS", "read_option", "write_option"]

#: [option] id of each native type (spec 4.2.5.2).
OPTION_IDS: Final[dict[str, int]] = {
    "ascii": 0x0001,
    "bigint": 0x0002,
    "blob": 0x0003,
    "boolean": 0x0004,
    "counter": 0x0005,
    "decimal": 0x0006,
    "double": 0x0007,
    "float": 0x0008,
    "int": 0x0009,
    "timestamp": 0x000B,
    "uuid": 0x000C,
    "text": 0x000D,
    "varint": 0x000E,
    "timeuuid": 0x000F,
    "inet": 0x0010,
    "date": 0x0011,
    "time": 0x0012,
    "smallint": 0x0013,
    "tinyint": 0x0014,
    "duration": 0x0015,
}
_BY_ID: Final[dict[int, NativeType]] = {i: NATIVE_TYPES[name] for name, i in OPTION_IDS.items()}
_BY_ID[0x000A] = NATIVE_TYPES["text"]  # "text" of protocol v1; harmless to accept

_CUSTOM: Final = 0x0000
_LIST: Final = 0x0020
_MAP: Final = 0x0021
_SET: Final = 0x0022
_UDT: Final = 0x0030
_TUPLE: Final = 0x0031
_MAX_DEPTH: Final = 64


def _custom(class_name: str) -> CqlType:
    try:
        return parse_marshal_type(class_name)
    except TypeStringError:
        # An exotic class string this driver cannot parse: keep it whole; values stay raw bytes.
        return CustomType(class_name)


def _nested(t: CqlType) -> CqlType:
    # Collections, tuples and UDTs nested in another type are frozen in Cassandra.
    if isinstance(t, (ListType, SetType, MapType, UdtType)) and not t.frozen:
        return dataclasses.replace(t, frozen=True)
    return t


def read_option(buf: memoryview, pos: int) -> tuple[CqlType, int]:
    """Read one [option] type spec at ``pos``; return the type and the position after it.

    Raises :class:`~aiocql.errors.ProtocolError` on truncated input, an unknown id or absurd
    nesting; never ``IndexError`` or ``struct.error``.

    Example:
        >>> read_option(memoryview(bytes.fromhex("00200009")), 0)
        (ListType(elem=NativeType(name='int'), frozen=False), 4)
    """
    return _read(buf, pos, 0)


def _read(buf: memoryview, pos: int, _depth: int) -> tuple[CqlType, int]:
    if _depth > _MAX_DEPTH:
        raise ProtocolError(f"type option at offset {pos} is nested deeper than {_MAX_DEPTH} levels")
    type_id, pos = read_short(buf, pos, "type option id")
    native = _BY_ID.get(type_id)
    if native is not None:
        return native, pos
    depth = _depth + 1
    if type_id in (_LIST, _SET):
        elem, pos = _read(buf, pos, depth)
        return (ListType if type_id == _LIST else SetType)(_nested(elem)), pos
    if type_id == _MAP:
        key, pos = _read(buf, pos, depth)
        value, pos = _read(buf, pos, depth)
        return MapType(_nested(key), _nested(value)), pos
    if type_id == _CUSTOM:
        class_name, pos = read_string(buf, pos, "type option custom class name")
        return _custom(class_name), pos
    if type_id == _UDT:
        keyspace, pos = read_string(buf, pos, "type option UDT keyspace")
        name, pos = read_string(buf, pos, "type option UDT name")
        count, pos = read_short(buf, pos, "type option UDT field count")
        names: list[str] = []
        types: list[CqlType] = []
        for _ in range(count):
            field, pos = read_string(buf, pos, "type option UDT field name")
            ftype, pos = _read(buf, pos, depth)
            names.append(field)
            types.append(_nested(ftype))
        return UdtType(keyspace, name, tuple(names), tuple(types)), pos
    if type_id == _TUPLE:
        count, pos = read_short(buf, pos, "type option tuple size")
        elems: list[CqlType] = []
        for _ in range(count):
            elem, pos = _read(buf, pos, depth)
            elems.append(_nested(elem))
        return TupleType(tuple(elems)), pos
    raise ProtocolError(f"unknown type option id 0x{type_id:04x} at offset {pos - 2}")


def write_option(t: CqlType, *, protocol_version: int = 5) -> bytes:
    """Encode a type as an [option] (used by the fake server and tests).

    Vectors are written as custom types; ``duration`` is a custom type before protocol v5.

    Example:
        >>> from aiocql.protocol.cqltypes import DURATION
        >>> write_option(DURATION).hex(), write_option(DURATION, protocol_version=4)[:2].hex()
        ('0015', '0000')
    """
    if isinstance(t, NativeType):
        if t.name == "duration" and protocol_version < 5:
            return write_short(_CUSTOM) + write_string(marshal_name(t))
        return write_short(OPTION_IDS[t.name])
    if isinstance(t, ListType):
        return write_short(_LIST) + write_option(t.elem, protocol_version=protocol_version)
    if isinstance(t, SetType):
        return write_short(_SET) + write_option(t.elem, protocol_version=protocol_version)
    if isinstance(t, MapType):
        return (
            write_short(_MAP)
            + write_option(t.key, protocol_version=protocol_version)
            + write_option(t.value, protocol_version=protocol_version)
        )
    if isinstance(t, TupleType):
        parts = [write_short(_TUPLE), write_short(len(t.elems))]
        parts.extend(write_option(e, protocol_version=protocol_version) for e in t.elems)
        return b"".join(parts)
    if isinstance(t, UdtType):
        parts = [
            write_short(_UDT),
            write_string(t.keyspace),
            write_string(t.name),
            write_short(len(t.field_names)),
        ]
        for name, ftype in zip(t.field_names, t.field_types, strict=True):
            parts.append(write_string(name))
            parts.append(write_option(ftype, protocol_version=protocol_version))
        return b"".join(parts)
    if isinstance(t, (VectorType, CustomType)):
        return write_short(_CUSTOM) + write_string(marshal_name(t))
    raise InvalidValueError(f"cannot encode {t!r} as a type option")
