"""Envelopes: the 9-byte header + body unit of the protocol (called "frames" up to v4).

Layout (big-endian): version byte (0x80 = response), flags byte, stream [short] (signed), opcode
byte, body length [int], body. In v4 envelopes are sent as they are; in v5 they travel inside
outer frames (see :mod:`aiocql.protocol.frames`).

Example:
    >>> from aiocql.protocol.constants import Opcode
    >>> encode_envelope(4, 0, 1, Opcode.OPTIONS, b"").hex()
    '040000010500000000'
"""

from __future__ import annotations

import struct

from aiocql.errors.base import ProtocolError
from aiocql.protocol.compression import Compressor
from aiocql.protocol.constants import RESPONSE_BIT, HeaderFlag, Opcode

__all__ = ["HEADER", "HEADER_SIZE", "OPCODES", "Envelope", "encode_envelope", "opcode_of"]

HEADER = struct.Struct(">BBhBi")
"""version, flags, stream, opcode, body length."""

HEADER_SIZE = 9

OPCODES: dict[int, Opcode] = {int(op): op for op in Opcode}

_COMPRESSION = int(HeaderFlag.COMPRESSION)


def opcode_of(value: int) -> Opcode:
    """Map an opcode byte to :class:`Opcode`; unknown bytes raise ProtocolError.

    Example:
        >>> opcode_of(8)
        <Opcode.RESULT: 8>
    """
    try:
        return OPCODES[value]
    except KeyError:
        raise ProtocolError(f"unknown opcode 0x{value:02x}") from None


class Envelope:
    """One decoded envelope (a value: compare with ``==``; treat it as read-only).

    ``version`` is the protocol version without the direction bit; ``is_response`` is the
    direction bit. ``flags`` describe ``body`` as delivered: when the decoder decompressed a v4
    body it clears the COMPRESSION flag. ``body`` may be ``bytes`` or a read-only ``memoryview``.

    A plain slotted class, not a frozen dataclass: one is built per reply, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost about 4 times as much.

    Example:
        >>> env = Envelope(4, 0, 3, Opcode.READY, b"")
        >>> env.stream, env.opcode.name
        (3, 'READY')
        >>> env == Envelope(4, 0, 3, Opcode.READY, b""), env
        (True, Envelope(version=4, flags=0, stream=3, opcode=<Opcode.READY: 2>, body=b'', is_response=True))
    """

    __slots__ = ("body", "flags", "is_response", "opcode", "stream", "version")

    def __init__(
        self, version: int, flags: int, stream: int, opcode: Opcode, body: bytes | memoryview, is_response: bool = True
    ) -> None:
        self.version = version
        self.flags = flags
        self.stream = stream
        self.opcode = opcode
        self.body = body
        self.is_response = is_response

    def _key(self) -> tuple[int, int, int, Opcode, bytes | memoryview, bool]:
        return (self.version, self.flags, self.stream, self.opcode, self.body, self.is_response)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Envelope:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Envelope(version={self.version!r}, flags={self.flags!r}, stream={self.stream!r}, "
            f"opcode={self.opcode!r}, body={self.body!r}, is_response={self.is_response!r})"
        )

    def encode(self, compressor: Compressor | None = None) -> bytes:
        """Encode this envelope back to bytes (see :func:`encode_envelope`).

        Example:
            >>> Envelope(4, 0, 0, Opcode.READY, b"").encode().hex()
            '840000000200000000'
        """
        return encode_envelope(
            self.version,
            self.flags,
            self.stream,
            self.opcode,
            self.body,
            compressor,
            response=self.is_response,
        )


def encode_envelope(
    version: int,
    flags: int,
    stream: int,
    opcode: int,
    body: bytes | bytearray | memoryview,
    compressor: Compressor | None = None,
    *,
    response: bool = False,
) -> bytes:
    """Encode one envelope: header + body.

    With a ``compressor`` and ``version < 5`` the body is compressed and the COMPRESSION flag set,
    unless compression would not make it smaller (allowed: the flag is per envelope). In v5 the
    compressor is ignored: compression belongs to the outer frames. A COMPRESSION bit passed in
    ``flags`` is ignored: the flag always describes the body as sent. ``response=True`` sets the
    direction bit (for fake servers and tests).

    Example:
        >>> encode_envelope(5, 0, -1, Opcode.EVENT, b"\\x00", response=True).hex()
        '8500ffff0c0000000100'
    """
    # The COMPRESSION flag is ours to set: it must describe the body actually sent.
    flags &= ~_COMPRESSION
    if compressor is not None and version < 5 and body:
        packed = compressor.compress_body(body)
        if len(packed) < len(body):
            body = packed
            flags |= _COMPRESSION
    vbyte = version | RESPONSE_BIT if response else version
    try:
        header = HEADER.pack(vbyte, flags, stream, opcode, len(body))
    except struct.error as exc:
        raise ProtocolError(
            f"cannot encode envelope header (version={version}, flags={flags}, stream={stream}, "
            f"opcode={opcode}, length={len(body)}): {exc}"
        ) from None
    return header + body
