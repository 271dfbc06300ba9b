# cython: language_level=3, annotation_typing=False, binding=False
include "fast.py"

# The lean path of ``session.execute(prepared, values)`` compiled: its source is aiocql/session/fast.py itself,
# included above (one source, two builds; the pure module is the twin, and the tests run both). The include comes
# first: fast.py's docstring opens the module. aiocql.session.fast uses this build where it is built, switched on
# and built from the fast.py beside it (aiocql.extensions).

# -- Template.body in C ------------------------------------------------------------------------------------------
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy


cdef inline char *_put(char *out, bytes data):
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    memcpy(out, PyBytes_AS_STRING(data), n)
    return out + n


cdef inline char *_put32(char *out, uint32_t v):
    out[0] = <char>(v >> 24)
    out[1] = <char>(v >> 16)
    out[2] = <char>(v >> 8)
    out[3] = <char>v
    return out + 4


def _body_c(bytes head, list values, bytes tail, object timestamp, bytes keyspace):
    """The EXECUTE body of ``Template.body`` in one allocation; None when a value is not bytes, None or UNSET
    (or there are more than 65535, or the timestamp does not fit 64 bits): the Python code then encodes it."""
    cdef Py_ssize_t n = PyList_GET_SIZE(values), i, size, length
    cdef object v
    cdef int64_t stamp = 0
    cdef uint64_t u
    cdef char *out
    size = PyBytes_GET_SIZE(head) + PyBytes_GET_SIZE(tail) + PyBytes_GET_SIZE(keyspace)
    if n:
        if n > 0xFFFF:
            return None
        size += 2
        for i in range(n):
            v = <object>PyList_GET_ITEM(values, i)
            if v is None or v is UNSET:
                size += 4
            elif PyBytes_CheckExact(v) and PyBytes_GET_SIZE(v) <= 0x7FFFFFFF:
                size += 4 + PyBytes_GET_SIZE(v)
            else:
                return None
    if timestamp is not None:
        try:
            stamp = timestamp
        except (OverflowError, TypeError):
            return None
        size += 8
    body = PyBytes_FromStringAndSize(NULL, size)
    out = _put(PyBytes_AS_STRING(body), head)
    if n:
        out[0] = <char>(n >> 8)
        out[1] = <char>n
        out += 2
        for i in range(n):
            v = <object>PyList_GET_ITEM(values, i)
            if v is None:
                out = _put32(out, 0xFFFFFFFF)
            elif v is UNSET:
                out = _put32(out, 0xFFFFFFFE)
            else:
                length = PyBytes_GET_SIZE(v)
                out = _put32(out, <uint32_t>length)
                memcpy(out, PyBytes_AS_STRING(v), length)
                out += length
    out = _put(out, tail)
    if timestamp is not None:
        u = <uint64_t>stamp
        out = _put32(out, <uint32_t>(u >> 32))
        out = _put32(out, <uint32_t>u)
    _put(out, keyspace)
    return body


_native_body = _body_c

# -- the build's record of its sources (see aiocql/types/_murmur3.pyx) -----------------------------------------
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
