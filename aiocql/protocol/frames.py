"""v5 outer frames: the frame header codec and frame encoding (the incremental decoder, which reads
headers with :func:`decode_frame_header`, lives in :mod:`aiocql.protocol.decoder`).

A frame is a little-endian header protected by a CRC24, a payload of at most 128 KiB - 1 bytes and
a CRC32 trailer (little-endian) of the payload as sent:

* uncompressed header, 3 bytes: payload length (bits 0-16) | self-contained (bit 17); + CRC24;
* LZ4 header, 5 bytes: compressed length (bits 0-16) | uncompressed length (bits 17-33) |
  self-contained (bit 34); + CRC24. Uncompressed length 0 = payload stored raw.

A self-contained frame holds one or more whole envelopes; an envelope larger than one payload is
split over consecutive non-self-contained frames.

Example:
    >>> frame = encode_frame(b"b" * 50, self_contained=True)
    >>> frame[:6].hex(), frame[-4:].hex()
    ('320002a5ffee', '7aaeeb7c')
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from aiocql.errors.base import ProtocolError
from aiocql.protocol.compression import Compressor
from aiocql.protocol.constants import MAX_V5_PAYLOAD
from aiocql.protocol.crc import CRC24_INIT, CRC24_TABLE, crc24, crc32
from aiocql.protocol.wire import fast as _fast

__all__ = [
    "LZ4_HEADER_SIZE",
    "TRAILER_SIZE",
    "UNCOMPRESSED_HEADER_SIZE",
    "V5FrameEncoder",
    "decode_frame_header",
    "encode_frame",
    "encode_frame_header",
    "encode_v5_frames",
]

UNCOMPRESSED_HEADER_SIZE = 6
LZ4_HEADER_SIZE = 8
TRAILER_SIZE = 4

_LE_U32 = struct.Struct("<I")
# The compiled framer of uncompressed frames (None: not built, or an input it leaves to the code below).
_encode_frames = _fast.encode_frames if _fast is not None else None


_UNCOMPRESSED_HEADER = struct.Struct("<6B")
_LZ4_HEADER = struct.Struct("<8B")
# CRC24 state after the first header byte, by that byte (the initial value is a constant).
_CRC24_FIRST = tuple(((CRC24_INIT << 8) & 0xFFFFFF) ^ CRC24_TABLE[(CRC24_INIT >> 16) ^ b] for b in range(256))


def encode_frame_header(payload_len: int, uncompressed_len: int | None, self_contained: bool) -> bytes:
    """The header of a v5 frame, CRC24 included: 6 bytes, or 8 for the LZ4 format
    (``uncompressed_len`` not None; 0 means the payload is stored raw).

    Example:
        >>> encode_frame_header(50, None, True).hex(), encode_frame_header(23, 33, True).hex()
        ('320002a5ffee', '17004200048bbf3c')
    """
    if uncompressed_len is None:
        value = payload_len | (int(self_contained) << 17)
        if not 0 <= value < 1 << 24:
            raise ProtocolError(f"v5 frame payload length {payload_len} does not fit a frame header")
        table = CRC24_TABLE
        crc = _CRC24_FIRST[value & 0xFF]
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ ((value >> 8) & 0xFF)]
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ (value >> 16)]
        return (value | crc << 24).to_bytes(6, "little")
    raw = (payload_len | (uncompressed_len << 17) | (int(self_contained) << 34)).to_bytes(5, "little")
    return raw + crc24(raw).to_bytes(3, "little")


def decode_frame_header(buf: bytes | bytearray | memoryview, pos: int, lz4: bool) -> tuple[int, int, bool]:
    """Read the v5 frame header at ``pos`` (6 bytes; 8 with ``lz4``) and check its CRC24.

    Returns (payload length, uncompressed length, self-contained); the uncompressed length is 0 for
    the uncompressed format and for an LZ4 frame stored raw. Raises
    :class:`~aiocql.errors.ProtocolError` on a CRC24 mismatch or a truncated header.

    Example:
        >>> decode_frame_header(bytes.fromhex("320002a5ffee"), 0, False)
        (50, 0, True)
        >>> decode_frame_header(encode_frame_header(23, 33, False), 0, True)
        (23, 33, False)
    """
    table = CRC24_TABLE
    try:
        if not lz4:
            b0, b1, b2, c0, c1, c2 = _UNCOMPRESSED_HEADER.unpack_from(buf, pos)
            crc = _CRC24_FIRST[b0]
            crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ b1]
            crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ b2]
            if crc != c0 | c1 << 8 | c2 << 16:
                raise ProtocolError(f"v5 frame header CRC24 mismatch at offset {pos}")
            return b0 | b1 << 8 | (b2 & 1) << 16, 0, bool(b2 & 2)
        b0, b1, b2, b3, b4, c0, c1, c2 = _LZ4_HEADER.unpack_from(buf, pos)
    except struct.error:
        need = UNCOMPRESSED_HEADER_SIZE if not lz4 else LZ4_HEADER_SIZE
        raise ProtocolError(
            f"truncated v5 frame header at offset {pos}: needs {need} bytes, {max(len(buf) - pos, 0)} available"
        ) from None
    crc = _CRC24_FIRST[b0]
    for b in (b1, b2, b3, b4):
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ b]
    if crc != c0 | c1 << 8 | c2 << 16:
        raise ProtocolError(f"v5 frame header CRC24 mismatch at offset {pos}")
    raw = b0 | b1 << 8 | b2 << 16 | b3 << 24 | b4 << 32
    return raw & 0x1FFFF, (raw >> 17) & 0x1FFFF, bool(raw & (1 << 34))


def encode_frame(
    payload: bytes | bytearray | memoryview,
    self_contained: bool,
    compressor: Compressor | None = None,
) -> bytes:
    """Encode one v5 frame around ``payload`` (at most 128 KiB - 1 bytes).

    With a ``compressor`` the LZ4 frame format is used; the payload is compressed unless that does
    not make it smaller, in which case it is stored raw (uncompressed length 0).

    Example:
        >>> encode_frame(b"", True).hex()
        '0000026a36c4d37e7744'
    """
    n = len(payload)
    if n > MAX_V5_PAYLOAD:
        raise ProtocolError(f"v5 frame payload of {n} bytes exceeds {MAX_V5_PAYLOAD}")
    if compressor is None:
        header = encode_frame_header(n, None, self_contained)
        data: bytes | bytearray | memoryview = payload
    else:
        packed = compressor.compress_block(payload) if n else b""
        if n and len(packed) < n:
            header = encode_frame_header(len(packed), n, self_contained)
            data = packed
        else:
            header = encode_frame_header(n, 0, self_contained)
            data = payload
    return b"".join((header, data, _LE_U32.pack(crc32(data))))


def encode_v5_frames(
    envelopes: Iterable[bytes | bytearray | memoryview],
    compressor: Compressor | None = None,
    *,
    max_payload: int = MAX_V5_PAYLOAD,
) -> bytes:
    """Wrap encoded envelopes into v5 frames, ready for one ``transport.write``.

    Consecutive envelopes are packed into self-contained frames of at most ``max_payload`` bytes;
    an envelope larger than that is sent alone, split over non-self-contained frames. Envelopes
    keep their order. ``max_payload`` can be lowered (tests, fake servers), never raised.

    Example:
        >>> from aiocql.protocol.envelope import encode_envelope
        >>> two = [encode_envelope(5, 0, s, 0x05, b"") for s in (1, 2)]
        >>> frames = encode_v5_frames(two)
        >>> len(frames) == 6 + 18 + 4  # one frame holding both envelopes
        True
    """
    if not 0 < max_payload <= MAX_V5_PAYLOAD:
        raise ProtocolError(f"max_payload must be in 1..{MAX_V5_PAYLOAD}, got {max_payload}")
    if compressor is None and _encode_frames is not None and type(envelopes) is list:
        framed: bytes | None = _encode_frames(envelopes, max_payload)
        if framed is not None:
            return framed
    out: list[bytes] = []
    pending = bytearray()
    for env in envelopes:
        n = len(env)
        if n > max_payload:
            if pending:
                out.append(encode_frame(pending, True, compressor))
                pending = bytearray()
            view = memoryview(env)
            for start in range(0, n, max_payload):
                out.append(encode_frame(view[start : start + max_payload], False, compressor))
            continue
        if len(pending) + n > max_payload:
            out.append(encode_frame(pending, True, compressor))
            pending = bytearray()
        pending += env
    if pending:
        out.append(encode_frame(pending, True, compressor))
    return b"".join(out)


class V5FrameEncoder:
    """Remembers the negotiated compression; ``encode(envelopes)`` wraps them into frames.

    Example:
        >>> enc = V5FrameEncoder()
        >>> enc.encode([b"\\x05\\x00\\x00\\x01\\x05\\x00\\x00\\x00\\x00"])[:3].hex()
        '090002'
    """

    __slots__ = ("compressor", "max_payload")

    def __init__(self, compressor: Compressor | None = None, *, max_payload: int = MAX_V5_PAYLOAD) -> None:
        self.compressor = compressor
        self.max_payload = max_payload

    def encode(self, envelopes: Iterable[bytes | bytearray | memoryview]) -> bytes:
        """Wrap ``envelopes`` into frames (see :func:`encode_v5_frames`)."""
        return encode_v5_frames(envelopes, self.compressor, max_payload=self.max_payload)
