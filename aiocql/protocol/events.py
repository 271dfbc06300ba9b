"""EVENT messages (spec 4.2.6) and the schema change description shared with RESULT.

Example:
    >>> body = bytes.fromhex("000d5354415455535f4348414e4745" "0002" "5550" "04" "7f000001" "00002352")
    >>> decode_event(memoryview(body), 0, {})
    StatusChangeEvent(tracing_id=None, warnings=(), custom_payload=None, change=<StatusChangeType.UP: 'UP'>, \
address=(IPv4Address('127.0.0.1'), 9042))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from aiocql.errors.base import ProtocolError
from aiocql.protocol.constants import (
    EventType,
    SchemaChangeTarget,
    SchemaChangeType,
    StatusChangeType,
    TopologyChangeType,
)
from aiocql.protocol.message import Response
from aiocql.protocol.primitives import Buffer, InetAddress, read_inet, read_short, read_string, truncated

__all__ = [
    "Event",
    "SchemaChangeEvent",
    "StatusChangeEvent",
    "TopologyChangeEvent",
    "decode_event",
    "read_schema_change",
]

_E = TypeVar("_E", bound=StrEnum)


def _read_enum(enum: type[_E], buf: Buffer, pos: int, what: str) -> tuple[_E, int]:
    raw, end = read_string(buf, pos, what)
    try:
        return enum(raw), end
    except ValueError:
        raise ProtocolError(f"{what} at offset {pos}: unknown value {raw!r}") from None


def _read_name(buf: Buffer, pos: int, what: str) -> tuple[str, int]:
    """Read a [string] naming a schema object, leniently.

    Cassandra 5.0.9 writes SCHEMA_CHANGE names with ``ByteBufUtil.writeAscii``: one byte per UTF-16
    unit, the low byte of each, after a length that counts those units. ``"y5³"`` arrives as
    ``79 35 b3``, which is not UTF-8. Such a name is decoded as Latin-1, which gives the exact name
    for characters up to U+00FF and a stand-in (the low byte) beyond; the framing stays right since
    the length counts bytes written. Valid UTF-8 (what the spec says) is decoded as UTF-8.
    """
    n, start = read_short(buf, pos, what)
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 2 + n, buf)
    raw = buf[start:end]
    try:
        return str(raw, "utf-8"), end
    except UnicodeDecodeError:
        return str(raw, "latin-1"), end


def _read_names(buf: Buffer, pos: int, what: str) -> tuple[list[str], int]:
    n, p = read_short(buf, pos, what)
    out: list[str] = []
    for _ in range(n):
        name, p = _read_name(buf, p, what)
        out.append(name)
    return out, p


SchemaChangeFields = tuple[SchemaChangeType, SchemaChangeTarget, str, str | None, tuple[str, ...] | None]


def read_schema_change(buf: Buffer, pos: int) -> tuple[SchemaChangeFields, int]:
    """Read <change_type><target><options> (spec 4.2.6), shared by SCHEMA_CHANGE events and results.

    Returns (change_type, target, keyspace, name, argument_types): ``name`` is None for a keyspace;
    ``argument_types`` is set only for functions and aggregates. Names that are not valid UTF-8 (as
    Cassandra 5.0.9 writes non-ASCII names) are read as Latin-1 rather than refused (``_read_name``).

    Example:
        >>> data = bytes.fromhex("0007" "43524541544544" "0008" "4b45595350414345" "0002" "6b73")
        >>> read_schema_change(data, 0)[0]
        (<SchemaChangeType.CREATED: 'CREATED'>, <SchemaChangeTarget.KEYSPACE: 'KEYSPACE'>, 'ks', None, None)
    """
    change, pos = _read_enum(SchemaChangeType, buf, pos, "schema change type")
    target, pos = _read_enum(SchemaChangeTarget, buf, pos, "schema change target")
    keyspace, pos = _read_name(buf, pos, "schema change keyspace")
    name: str | None = None
    args: tuple[str, ...] | None = None
    if target is not SchemaChangeTarget.KEYSPACE:
        name, pos = _read_name(buf, pos, "schema change name")
        if target in (SchemaChangeTarget.FUNCTION, SchemaChangeTarget.AGGREGATE):
            arg_list, pos = _read_names(buf, pos, "schema change argument types")
            args = tuple(arg_list)
    return (change, target, keyspace, name, args), pos


@dataclass(slots=True, unsafe_hash=True)
class Event(Response):
    """Base of the EVENT messages (always on stream -1)."""


@dataclass(slots=True, unsafe_hash=True)
class TopologyChangeEvent(Event):
    """TOPOLOGY_CHANGE: a node joined or left (``address`` is its native-protocol (ip, port))."""

    change: TopologyChangeType
    address: InetAddress


@dataclass(slots=True, unsafe_hash=True)
class StatusChangeEvent(Event):
    """STATUS_CHANGE: a node went UP or DOWN."""

    change: StatusChangeType
    address: InetAddress


@dataclass(slots=True, unsafe_hash=True)
class SchemaChangeEvent(Event):
    """SCHEMA_CHANGE: a keyspace, table, type, function or aggregate was created/updated/dropped."""

    change_type: SchemaChangeType
    target: SchemaChangeTarget
    keyspace: str
    name: str | None = None
    argument_types: tuple[str, ...] | None = None


def _topology(buf: Buffer, pos: int, extras: dict[str, Any]) -> Event:
    change, pos = _read_enum(TopologyChangeType, buf, pos, "topology change")
    address, pos = read_inet(buf, pos, "topology change address")
    return TopologyChangeEvent(change, address, **extras)


def _status(buf: Buffer, pos: int, extras: dict[str, Any]) -> Event:
    change, pos = _read_enum(StatusChangeType, buf, pos, "status change")
    address, pos = read_inet(buf, pos, "status change address")
    return StatusChangeEvent(change, address, **extras)


def _schema(buf: Buffer, pos: int, extras: dict[str, Any]) -> Event:
    fields, pos = read_schema_change(buf, pos)
    return SchemaChangeEvent(*fields, **extras)


_DECODERS: dict[EventType, Callable[[Buffer, int, dict[str, Any]], Event]] = {
    EventType.TOPOLOGY_CHANGE: _topology,
    EventType.STATUS_CHANGE: _status,
    EventType.SCHEMA_CHANGE: _schema,
}


def decode_event(buf: Buffer, pos: int, extras: dict[str, Any]) -> Event:
    """Decode an EVENT body starting at ``pos``; ``extras`` are the prefix fields (tracing id...).

    Example:
        >>> body = bytes.fromhex("000d534348454d415f4348414e4745" "0007" "44524f50504544" "0005" "5441424c45"
        ...                      "0002" "6b73" "0001" "74")
        >>> e = decode_event(body, 0, {})
        >>> (e.change_type.value, e.target.value, e.keyspace, e.name)
        ('DROPPED', 'TABLE', 'ks', 't')
    """
    kind, pos = _read_enum(EventType, buf, pos, "event type")
    return _DECODERS[kind](buf, pos, extras)
