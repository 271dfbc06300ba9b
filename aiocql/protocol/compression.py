"""LZ4 compression as used by the native protocol.

* v4 compresses each envelope *body* (when the COMPRESSION header flag is set): a 4-byte
  **big-endian** uncompressed length, then a raw LZ4 block.
* v5 compresses whole *frame payloads* as raw LZ4 blocks with no prefix; the uncompressed length
  travels in the frame header, where 0 means "payload stored raw". When compression does not
  shrink a payload, it is sent raw.

The ``lz4`` package is optional and imported lazily, on first use.

Example:
    >>> from aiocql.protocol.compression import Lz4Compressor
    >>> lz4c = Lz4Compressor()
    >>> body = lz4c.compress_body(b"x" * 100)
    >>> body[:4], lz4c.decompress_body(body) == b"x" * 100
    (b'\\x00\\x00\\x00d', True)
"""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Protocol, runtime_checkable

from aiocql.errors.base import DriverError, ProtocolError
from aiocql.protocol.constants import MAX_ENVELOPE_BODY

__all__ = ["Compressor", "Lz4Compressor", "lz4_available"]

_BE_INT = struct.Struct(">I")
_lz4_block: ModuleType | None = None


def _lz4() -> ModuleType:
    global _lz4_block
    if _lz4_block is None:
        try:
            import lz4.block
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DriverError("LZ4 compression needs the 'lz4' package (pip install aiocql[lz4])") from exc
        _lz4_block = lz4.block
    return _lz4_block


def lz4_available() -> bool:
    """True if the optional ``lz4`` package can be imported.

    Example:
        >>> isinstance(lz4_available(), bool)
        True
    """
    try:
        _lz4()
    except DriverError:
        return False
    return True


@runtime_checkable
class Compressor(Protocol):
    """What the framing layer needs from a compression algorithm.

    ``name`` is the value sent as STARTUP's ``COMPRESSION`` option. Block methods serve v5 frames;
    body methods serve v4 envelopes. Decompression raises ProtocolError on corrupt input.
    """

    name: str

    def compress_block(self, data: bytes | bytearray | memoryview) -> bytes:
        """Compress a v5 frame payload (no length prefix)."""
        ...

    def decompress_block(self, data: bytes | bytearray | memoryview, uncompressed_size: int) -> bytes:
        """Decompress a v5 frame payload whose uncompressed size the frame header gave."""
        ...

    def compress_body(self, data: bytes | bytearray | memoryview) -> bytes:
        """Compress a v4 envelope body (with the algorithm's own framing, e.g. a length prefix)."""
        ...

    def decompress_body(self, data: bytes | bytearray | memoryview, max_size: int = MAX_ENVELOPE_BODY) -> bytes:
        """Decompress a v4 envelope body; refuse to produce more than ``max_size`` bytes."""
        ...


class Lz4Compressor:
    """LZ4 block compression for v4 envelope bodies and v5 frame payloads.

    Example:
        >>> c = Lz4Compressor()
        >>> c.decompress_block(c.compress_block(b"ab" * 64), 128) == b"ab" * 64
        True
    """

    __slots__ = ("_block",)
    name = "lz4"

    def __init__(self) -> None:
        self._block = _lz4()

    def compress_block(self, data: bytes | bytearray | memoryview) -> bytes:
        """Compress ``data`` to a raw LZ4 block (no size prefix).

        Example:
            >>> len(Lz4Compressor().compress_block(bytes(1000))) < 1000
            True
        """
        out: bytes = self._block.compress(data, store_size=False)
        return out

    def decompress_block(self, data: bytes | bytearray | memoryview, uncompressed_size: int) -> bytes:
        """Decompress a raw LZ4 block that must expand to exactly ``uncompressed_size`` bytes.

        Example:
            >>> c = Lz4Compressor()
            >>> c.decompress_block(c.compress_block(b"abc"), 3)
            b'abc'
        """
        if uncompressed_size == 0:
            return b""
        try:
            out: bytes = self._block.decompress(data, uncompressed_size=uncompressed_size)
        except Exception as exc:  # lz4 raises LZ4BlockError (and ValueError for odd sizes)
            raise ProtocolError(f"corrupt LZ4 data: {exc}") from None
        if len(out) != uncompressed_size:
            raise ProtocolError(f"LZ4 data expanded to {len(out)} bytes, the header announced {uncompressed_size}")
        return out

    def compress_body(self, data: bytes | bytearray | memoryview) -> bytes:
        """Compress a v4 envelope body: 4-byte big-endian length + LZ4 block.

        Example:
            >>> Lz4Compressor().compress_body(b"")
            b'\\x00\\x00\\x00\\x00\\x00'
        """
        return _BE_INT.pack(len(data)) + self.compress_block(data)

    def decompress_body(self, data: bytes | bytearray | memoryview, max_size: int = MAX_ENVELOPE_BODY) -> bytes:
        """Decompress a v4 envelope body (4-byte big-endian length + LZ4 block).

        Example:
            >>> c = Lz4Compressor()
            >>> c.decompress_body(c.compress_body(b"hello"))
            b'hello'
        """
        if len(data) < 4:
            raise ProtocolError(f"compressed envelope body of {len(data)} bytes has no length prefix")
        (size,) = _BE_INT.unpack_from(data, 0)
        if size > max_size:
            raise ProtocolError(f"compressed envelope body announces {size} bytes (limit {max_size})")
        return self.decompress_block(memoryview(data)[4:], size)
