"""Decoding response envelopes (spec 4.2) into messages: :func:`decode_response`.

The body is read in this order: tracing id if flag 0x02, warnings if 0x08, custom
payload if 0x04, then the message. Trailing bytes after a message are ignored (spec 1: future
extensions). Malformed bodies raise :class:`~aiocql.errors.ProtocolError`. An ERROR body is *not*
raised: it decodes to :class:`ErrorResponse` whose ``error`` is the matching
:class:`~aiocql.errors.server.ServerError` instance, for the caller to raise.

Example:
    >>> from aiocql.protocol.constants import Opcode
    >>> from aiocql.protocol.envelope import Envelope
    >>> env = Envelope(4, 0x08, 1, Opcode.READY, bytes.fromhex("0001" "0004" "736c6f77"))
    >>> decode_response(env)
    Ready(tracing_id=None, warnings=('slow',), custom_payload=None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiocql.errors.base import ProtocolError
from aiocql.errors.server import ServerError
from aiocql.protocol.constants import HeaderFlag, Opcode
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.error_codec import decode_error
from aiocql.protocol.events import (
    Event,
    SchemaChangeEvent,
    StatusChangeEvent,
    TopologyChangeEvent,
    decode_event,
)
from aiocql.protocol.message import Response
from aiocql.protocol.primitives import (
    read_bytes,
    read_bytes_map,
    read_string,
    read_string_list,
    read_string_multimap,
    read_uuid,
)
from aiocql.protocol.results import (
    ColumnSpec,
    PreparedMetadata,
    PreparedResult,
    Result,
    RowsMetadata,
    RowsResult,
    SchemaChangeResult,
    SetKeyspaceResult,
    VoidResult,
    decode_result,
)
from aiocql.protocol.wire import fast as _fast

__all__ = [
    "AuthChallenge",
    "AuthSuccess",
    "Authenticate",
    "ColumnSpec",
    "ErrorResponse",
    "Event",
    "PreparedMetadata",
    "PreparedResult",
    "Ready",
    "Response",
    "Result",
    "RowsMetadata",
    "RowsResult",
    "SchemaChangeEvent",
    "SchemaChangeResult",
    "SetKeyspaceResult",
    "StatusChangeEvent",
    "Supported",
    "TopologyChangeEvent",
    "VoidResult",
    "decode_response",
]

_TRACING = int(HeaderFlag.TRACING)
_WARNING = int(HeaderFlag.WARNING)
_CUSTOM_PAYLOAD = int(HeaderFlag.CUSTOM_PAYLOAD)
_PREFIXES = _TRACING | _WARNING | _CUSTOM_PAYLOAD
_RESULT = Opcode.RESULT
# The compiled decoder of the commonest RESULTs (Void, a page without metadata); None: not built.
_fast_result = _fast.decode_result if _fast is not None else None


@dataclass(slots=True, unsafe_hash=True)
class ErrorResponse(Response):
    """ERROR (spec 4.2.1): ``error`` is the decoded exception, not raised."""

    error: ServerError


@dataclass(slots=True, unsafe_hash=True)
class Ready(Response):
    """READY (spec 4.2.2): the connection is ready (also the reply to REGISTER)."""


@dataclass(slots=True, unsafe_hash=True)
class Authenticate(Response):
    """AUTHENTICATE (spec 4.2.3): the server requires authentication with ``authenticator``."""

    authenticator: str


@dataclass(slots=True, unsafe_hash=True)
class Supported(Response):
    """SUPPORTED (spec 4.2.4): STARTUP options the server supports, each with its values."""

    options: dict[str, list[str]]


@dataclass(slots=True, unsafe_hash=True)
class AuthChallenge(Response):
    """AUTH_CHALLENGE (spec 4.2.7): a SASL challenge token."""

    token: bytes | None


@dataclass(slots=True, unsafe_hash=True)
class AuthSuccess(Response):
    """AUTH_SUCCESS (spec 4.2.8): authentication succeeded; a final token (maybe null)."""

    token: bytes | None


def _error(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return ErrorResponse(decode_error(buf, pos, version), **extras)


def _ready(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return Ready(**extras)


def _authenticate(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return Authenticate(read_string(buf, pos, "authenticator")[0], **extras)


def _supported(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return Supported(read_string_multimap(buf, pos, "supported options")[0], **extras)


def _auth_challenge(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return AuthChallenge(read_bytes(buf, pos, "auth challenge token")[0], **extras)


def _auth_success(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return AuthSuccess(read_bytes(buf, pos, "auth success token")[0], **extras)


def _event(buf: memoryview, pos: int, version: int, extras: dict[str, Any]) -> Response:
    return decode_event(buf, pos, extras)


_DECODERS: dict[Opcode, Callable[[memoryview, int, int, dict[str, Any]], Response]] = {
    Opcode.ERROR: _error,
    Opcode.READY: _ready,
    Opcode.AUTHENTICATE: _authenticate,
    Opcode.SUPPORTED: _supported,
    Opcode.RESULT: decode_result,
    Opcode.EVENT: _event,
    Opcode.AUTH_CHALLENGE: _auth_challenge,
    Opcode.AUTH_SUCCESS: _auth_success,
}


def decode_response(envelope: Envelope, version: int | None = None) -> Response:
    """Decode a response envelope into its message (``version`` defaults to the envelope's).

    Example:
        >>> env = Envelope(5, 0, 2, Opcode.RESULT, bytes.fromhex("00000001"))
        >>> decode_response(env)
        VoidResult(tracing_id=None, warnings=(), custom_payload=None)
    """
    opcode = envelope.opcode
    if opcode is _RESULT and _fast_result is not None and not envelope.flags & _PREFIXES:
        result: Response | None = _fast_result(envelope.body, envelope.version if version is None else version)
        if result is not None:
            return result  # else a RESULT of another kind, or malformed: the pure decoder reads it (or raises)
    decoder = _DECODERS.get(opcode)
    if decoder is None:
        raise ProtocolError(f"opcode {envelope.opcode.name} is not a response (stream {envelope.stream})")
    body = envelope.body
    buf = body if isinstance(body, memoryview) else memoryview(body)
    flags = envelope.flags
    pos = 0
    extras: dict[str, Any] = {}
    if flags & (_TRACING | _WARNING | _CUSTOM_PAYLOAD):
        if flags & _TRACING:
            extras["tracing_id"], pos = read_uuid(buf, pos, "tracing id")
        if flags & _WARNING:
            warnings, pos = read_string_list(buf, pos, "warnings")
            extras["warnings"] = tuple(warnings)
        if flags & _CUSTOM_PAYLOAD:
            extras["custom_payload"], pos = read_bytes_map(buf, pos, "custom payload")
    return decoder(buf, pos, envelope.version if version is None else version, extras)
