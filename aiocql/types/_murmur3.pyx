# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The Murmur3Partitioner token of a routing key in C (optional; :mod:`aiocql.types.token` uses it when built).

Token-aware routing hashes every request's partition key: in Python the hash is several microseconds, here a
few nanoseconds. The algorithm is Cassandra's MurmurHash3 x64 128 (``MurmurHash.hash3_x64_128``), upper 64 bits,
including Java's quirks: tail bytes are sign-extended before they are shifted, and ``Long.MIN_VALUE`` maps to
``Long.MAX_VALUE``. :func:`murmur3_token` takes exactly ``bytes`` and returns ``None`` for anything else (the
pure-Python implementation, the reference, handles those); the unit tests compare the two on random keys.

This module never imports asyncio, socket or ssl.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.stdint cimport int8_t, int64_t, uint64_t

cdef uint64_t C1 = 0x87C37B91114253D5ULL
cdef uint64_t C2 = 0x4CF5AD432745937FULL


cdef inline uint64_t rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t fmix(uint64_t k) noexcept nogil:
    k ^= k >> 33
    k *= 0xFF51AFD7ED558CCDULL
    k ^= k >> 33
    k *= 0xC4CEB9FE1A85EC53ULL
    k ^= k >> 33
    return k


cdef inline uint64_t block(const unsigned char *p) noexcept nogil:
    # 8 bytes, little-endian (Java's getLong on a little-endian block)
    return ((<uint64_t>p[0]) | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16) | (<uint64_t>p[3] << 24)
            | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40) | (<uint64_t>p[6] << 48) | (<uint64_t>p[7] << 56))


cdef inline uint64_t tail_word(const unsigned char *p, Py_ssize_t n) noexcept nogil:
    # Java: k ^= ((long) key[i]) << (8 * i) with key[i] a signed byte, so a byte >= 0x80 sets every bit above it.
    cdef uint64_t word = 0
    cdef Py_ssize_t i
    for i in range(n):
        word ^= (<uint64_t>(<int64_t>(<int8_t>p[i]))) << (8 * i)
    return word


def murmur3_token(key):
    """The token of ``key`` (a signed 64-bit int) when it is exactly ``bytes``; ``None`` otherwise."""
    if not PyBytes_CheckExact(key):
        return None
    cdef const unsigned char *data = <const unsigned char *>PyBytes_AS_STRING(key)
    cdef Py_ssize_t length = PyBytes_GET_SIZE(key)
    cdef Py_ssize_t body_end = length - (length & 15)
    cdef Py_ssize_t offset, tail_len
    cdef uint64_t h1 = 0, h2 = 0, k1, k2
    cdef int64_t token
    for offset in range(0, body_end, 16):
        k1 = block(data + offset)
        k2 = block(data + offset + 8)
        k1 *= C1
        k1 = rotl(k1, 31)
        k1 *= C2
        h1 ^= k1
        h1 = rotl(h1, 27)
        h1 += h2
        h1 = h1 * 5 + 0x52DCE729
        k2 *= C2
        k2 = rotl(k2, 33)
        k2 *= C1
        h2 ^= k2
        h2 = rotl(h2, 31)
        h2 += h1
        h2 = h2 * 5 + 0x38495AB5
    tail_len = length - body_end
    if tail_len > 8:
        k2 = tail_word(data + body_end + 8, tail_len - 8)
        k2 *= C2
        k2 = rotl(k2, 33)
        k2 *= C1
        h2 ^= k2
    if tail_len:
        k1 = tail_word(data + body_end, 8 if tail_len > 8 else tail_len)
        k1 *= C1
        k1 = rotl(k1, 31)
        k1 *= C2
        h1 ^= k1
    h1 ^= <uint64_t>length
    h2 ^= <uint64_t>length
    h1 += h2
    h2 += h1
    h1 = fmix(h1)
    h2 = fmix(h2)
    h1 += h2
    token = <int64_t>h1
    if h1 == 0x8000000000000000ULL:  # Long.MIN_VALUE is not a token: Cassandra makes it Long.MAX_VALUE
        return 0x7FFFFFFFFFFFFFFF
    return token


# -- the build's record of its sources --------------------------------------------------------------------------
# setup.py defines both macros (the names of the .pyx and .h compiled, and their SHA-256); at import,
# aiocql.extensions compares them with the sources beside this module and does not use a build older than them.
cdef extern from *:
    """
    #ifndef AIOCQL_SOURCE_DIGEST
    #define AIOCQL_SOURCE_DIGEST ""
    #endif
    #ifndef AIOCQL_SOURCE_FILES
    #define AIOCQL_SOURCE_FILES ""
    #endif
    """
    const char *AIOCQL_SOURCE_DIGEST
    const char *AIOCQL_SOURCE_FILES

SOURCE_DIGEST = AIOCQL_SOURCE_DIGEST.decode("ascii")
SOURCE_FILES = AIOCQL_SOURCE_FILES.decode("ascii")
