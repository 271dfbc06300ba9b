"""ERROR bodies <-> :class:`~aiocql.errors.server.ServerError` instances, driven by one table.

Each error class lists its fields as ``wire_fields`` = ((attribute, wire kind), ...); this module
maps each wire kind to a reader and a writer. Kinds whose layout changes with the version:

* ``failures``: v4 sends an [int] count; v5 sends a reason map: [int] n, then n times
  <endpoint [inetaddr]><failure code [short]>. Fills ``num_failures``/``reason_map``.
* ``cas_contentions``: v5 only, a [short] present when the write type is "CAS".

Example:
    >>> body = bytes.fromhex("00002500" "0003" "6f6f70" "0002cafe")  # Unprepared, id cafe
    >>> exc = decode_error(memoryview(body), 0, 4)
    >>> type(exc).__name__, exc.message, exc.statement_id
    ('Unprepared', 'oop', b'\\xca\\xfe')
    >>> encode_error(exc, 4) == body
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiocql.errors.base import ProtocolError
from aiocql.errors.server import ServerError, error_class_for
from aiocql.protocol.primitives import (
    Buffer,
    IpAddress,
    read_byte,
    read_consistency,
    read_inetaddr,
    read_int,
    read_short,
    read_short_bytes,
    read_string,
    read_string_list,
    write_byte,
    write_consistency,
    write_inetaddr,
    write_int,
    write_short,
    write_short_bytes,
    write_string,
    write_string_list,
)

__all__ = ["decode_error", "encode_error"]

# A field reader: (buffer, position, version, fields read so far) -> new position; it stores what
# it read into the fields dict (a kind may fill more than one attribute).
_Reader = Callable[[Buffer, int, int, str, dict[str, Any]], int]
# A field writer: (error, attribute, version) -> bytes.
_Writer = Callable[[ServerError, str, int], bytes]


def _simple(read: Callable[..., tuple[Any, int]], what: str) -> _Reader:
    def reader(buf: Buffer, pos: int, version: int, name: str, out: dict[str, Any]) -> int:
        out[name], pos = read(buf, pos, f"{what} {name}")
        return pos

    return reader


def _read_bool(buf: Buffer, pos: int, version: int, name: str, out: dict[str, Any]) -> int:
    value, pos = read_byte(buf, pos, f"error field {name}")
    out[name] = value != 0
    return pos


def _read_string_list(buf: Buffer, pos: int, version: int, name: str, out: dict[str, Any]) -> int:
    values, pos = read_string_list(buf, pos, f"error field {name}")
    out[name] = tuple(values)
    return pos


def _read_failures(buf: Buffer, pos: int, version: int, name: str, out: dict[str, Any]) -> int:
    count, pos = read_int(buf, pos, "error field num_failures")
    if version < 5:
        out["num_failures"] = count
        return pos
    if count < 0:
        raise ProtocolError(f"error reason map at offset {pos - 4} has a negative size {count}")
    reasons: dict[IpAddress, int] = {}
    for _ in range(count):
        endpoint, pos = read_inetaddr(buf, pos, "error reason map endpoint")
        reasons[endpoint], pos = read_short(buf, pos, "error reason map failure code")
    out["reason_map"] = reasons
    out["num_failures"] = count
    return pos


def _read_contentions(buf: Buffer, pos: int, version: int, name: str, out: dict[str, Any]) -> int:
    # Cassandra writes it only for v5 CAS timeouts; tolerate its absence.
    if version >= 5 and out.get("write_type") == "CAS" and len(buf) - pos >= 2:
        out[name], pos = read_short(buf, pos, "error field contentions")
    return pos


def _write_failures(exc: ServerError, name: str, version: int) -> bytes:
    reasons: dict[IpAddress, int] = getattr(exc, "reason_map", {})
    if version < 5:
        return write_int(getattr(exc, "num_failures", len(reasons)))
    parts = [write_int(len(reasons))]
    for endpoint, code in reasons.items():
        parts.append(write_inetaddr(endpoint))
        parts.append(write_short(code))
    return b"".join(parts)


def _write_contentions(exc: ServerError, name: str, version: int) -> bytes:
    value = getattr(exc, name, None)
    if version >= 5 and value is not None and getattr(exc, "write_type", None) == "CAS":
        return write_short(value)
    return b""


_KINDS: dict[str, tuple[_Reader, _Writer]] = {
    "consistency": (
        _simple(read_consistency, "error field"),
        lambda e, n, v: write_consistency(getattr(e, n)),
    ),
    "int": (_simple(read_int, "error field"), lambda e, n, v: write_int(getattr(e, n))),
    "string": (_simple(read_string, "error field"), lambda e, n, v: write_string(getattr(e, n))),
    "short_bytes": (
        _simple(read_short_bytes, "error field"),
        lambda e, n, v: write_short_bytes(getattr(e, n)),
    ),
    "bool": (_read_bool, lambda e, n, v: write_byte(1 if getattr(e, n) else 0)),
    "string_list": (_read_string_list, lambda e, n, v: write_string_list(getattr(e, n))),
    "failures": (_read_failures, _write_failures),
    "cas_contentions": (_read_contentions, _write_contentions),
}


def decode_error(buf: Buffer, pos: int, version: int) -> ServerError:
    """Decode an ERROR body starting at ``pos`` into the matching exception instance.

    Unknown codes give a plain :class:`ServerError` with that ``code``. Trailing bytes are ignored.

    Example:
        >>> exc = decode_error(bytes.fromhex("00002200" "0003" "626164"), 0, 5)
        >>> type(exc).__name__, str(exc)
        ('InvalidRequest', 'bad')
    """
    code, pos = read_int(buf, pos, "error code")
    message, pos = read_string(buf, pos, "error message")
    cls = error_class_for(code)
    if cls is ServerError:
        return ServerError(message, code=code)
    fields: dict[str, Any] = {}
    for name, kind in cls.wire_fields:
        pos = _KINDS[kind][0](buf, pos, version, name, fields)
    return cls(message, **fields)


def encode_error(exc: ServerError, version: int) -> bytes:
    """Encode an exception as an ERROR body (for fake servers and tests).

    Example:
        >>> from aiocql.errors.server import Overloaded
        >>> encode_error(Overloaded("busy"), 4).hex()
        '00001001000462757379'
    """
    parts = [write_int(exc.code), write_string(exc.message)]
    for name, kind in exc.wire_fields:
        parts.append(_KINDS[kind][1](exc, name, version))
    return b"".join(parts)
