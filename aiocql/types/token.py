"""Partition tokens of Cassandra's Murmur3Partitioner and routing keys of composite partition keys.

Cassandra hashes with its own variant of MurmurHash3 x64_128 (seed 0) and keeps the first 64 bits
as a signed long: the up to 15 tail bytes are read as *signed* Java bytes, so a byte >= 0x80 is
sign-extended before being shifted in (reference MurmurHash3 reads them unsigned). The token
-2**63 is reserved as the partitioner's minimum, so a hash of -2**63 becomes 2**63 - 1.

Example:
    >>> murmur3_token(b"")
    0
    >>> murmur3_token(b"\\xff\\xff\\xff")
    -9154616442117352147
    >>> composite_routing_key([b"a", b"bc"]).hex()
    '000161000002626300'
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Final

from aiocql import extensions
from aiocql.errors.base import InvalidValueError

__all__ = ["composite_routing_key", "murmur3_token", "routing_key"]

_M: Final = 0xFFFFFFFFFFFFFFFF
_C1: Final = 0x87C37B91114253D5
_C2: Final = 0x4CF5AD432745937F
_BLOCK: Final = struct.Struct("<QQ")
# For a tail byte >= 0x80 at index j of its 8-byte word, Java's sign extension sets every bit
# above that byte; XOR-ing this mask in reproduces it on the unsigned little-endian word.
_SIGN_MASKS: Final = tuple(_M ^ ((1 << (8 * j + 8)) - 1) for j in range(8))


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M
    return k ^ (k >> 33)


def _tail_word(tail: bytes) -> int:
    word = int.from_bytes(tail, "little")
    for j, byte in enumerate(tail):
        if byte & 0x80:
            word ^= _SIGN_MASKS[j]
    return word


def _compiled() -> Callable[[object], int | None] | None:
    # The compiled hash (aiocql/types/_murmur3.pyx), selected by the same variables as the compiled core (and
    # not used when stale: see aiocql.extensions).
    module = extensions.load("aiocql.types._murmur3", "the compiled murmur3 hash")
    return None if module is None else module.murmur3_token


#: The compiled :func:`murmur3_token` for ``bytes`` keys (None when not built or turned off).
_fast: Final = _compiled()


def murmur3_token(key: bytes | bytearray | memoryview) -> int:
    """The Murmur3Partitioner token of a routing key (a signed 64-bit int).

    Example:
        >>> murmur3_token(b"\\x00\\x00\\x00\\x01")
        -4069959284402364209
    """
    if _fast is not None:
        token = _fast(key)
        if token is not None:
            return token
    return _murmur3_python(key)


def _murmur3_python(key: bytes | bytearray | memoryview) -> int:
    """:func:`murmur3_token` in Python (the reference; used for keys that are not ``bytes`` or without the build)."""
    data = bytes(key)
    length = len(data)
    h1 = h2 = 0
    body_end = length - (length & 15)
    unpack_from = _BLOCK.unpack_from
    for offset in range(0, body_end, 16):
        k1, k2 = unpack_from(data, offset)
        k1 = (k1 * _C1) & _M
        k1 = ((k1 << 31) | (k1 >> 33)) & _M
        h1 ^= (k1 * _C2) & _M
        h1 = ((h1 << 27) | (h1 >> 37)) & _M
        h1 = (((h1 + h2) * 5) + 0x52DCE729) & _M
        k2 = (k2 * _C2) & _M
        k2 = ((k2 << 33) | (k2 >> 31)) & _M
        h2 ^= (k2 * _C1) & _M
        h2 = ((h2 << 31) | (h2 >> 33)) & _M
        h2 = (((h2 + h1) * 5) + 0x38495AB5) & _M
    tail_len = length - body_end
    if tail_len > 8:
        k2 = _tail_word(data[body_end + 8 :])
        k2 = (k2 * _C2) & _M
        k2 = ((k2 << 33) | (k2 >> 31)) & _M
        h2 ^= (k2 * _C1) & _M
    if tail_len:
        k1 = _tail_word(data[body_end : body_end + 8])
        k1 = (k1 * _C1) & _M
        k1 = ((k1 << 31) | (k1 >> 33)) & _M
        h1 ^= (k1 * _C2) & _M
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _M
    h2 = (h2 + h1) & _M
    h1 = (_fmix(h1) + _fmix(h2)) & _M
    if h1 >= 0x8000000000000000:
        h1 -= 0x10000000000000000
        if h1 == -0x8000000000000000:
            return 0x7FFFFFFFFFFFFFFF
    return h1


def composite_routing_key(parts: Sequence[bytes | bytearray | memoryview]) -> bytes:
    """The routing key of a composite partition key: per component, in partition-key order, a 2-byte
    big-endian length, the serialized value, and a 0x00 byte.

    Example:
        >>> composite_routing_key([b"\\x00\\x00\\x00\\x01", b"x"]).hex()
        '0004000000010000017800'
    """
    out = bytearray()
    for i, part in enumerate(parts):
        n = len(part)
        if n > 0xFFFF:
            raise InvalidValueError(f"partition key component {i} is {n} bytes; at most 65535 can be routed")
        out += n.to_bytes(2, "big")
        out += part
        out.append(0)
    return bytes(out)


def routing_key(parts: Sequence[bytes | bytearray | memoryview]) -> bytes:
    """The routing key of a partition key given its serialized components (one or more).

    A single-component key routes on its bytes as they are; more components use
    :func:`composite_routing_key`.

    Example:
        >>> routing_key([b"abc"]), routing_key([b"a", b"b"]).hex()
        (b'abc', '0001610000016200')
    """
    if len(parts) == 1:
        return bytes(parts[0])
    return composite_routing_key(parts)
