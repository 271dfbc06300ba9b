# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled wire fast paths (optional; :mod:`aiocql.protocol.wire` selects them, else none are used).

Each function here does, in C, the common case of one step of the request path and returns ``None`` for
anything else (an unusual type, a value out of range, a malformed byte, a rare flag): the caller then runs
the pure-Python implementation of that step, which gives the same bytes or raises the same error. So the
compiled and the pure paths cannot differ in behaviour, only in speed; the unit tests compare them.

* :func:`execute_body` / :func:`query_body`: the body of an EXECUTE / QUERY (``Execute.encode``).

This module never imports asyncio, socket or ssl.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_CheckExact
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint32_t
from libc.string cimport memcpy

from aiocql.protocol.unset import UNSET as _UNSET_OBJ

cdef object UNSET = _UNSET_OBJ

# <flags> bits of <query_parameters> (aiocql.protocol.constants.QueryFlag)
cdef enum:
    F_VALUES = 0x01
    F_SKIP_METADATA = 0x02
    F_PAGE_SIZE = 0x04
    F_PAGING_STATE = 0x08
    F_SERIAL = 0x10
    F_TIMESTAMP = 0x20
    F_KEYSPACE = 0x80
    F_NOW = 0x100


cdef inline void put16(char *p, unsigned int v) noexcept nogil:
    p[0] = <char>((v >> 8) & 0xFF)
    p[1] = <char>(v & 0xFF)


cdef inline void put32(char *p, uint32_t v) noexcept nogil:
    p[0] = <char>((v >> 24) & 0xFF)
    p[1] = <char>((v >> 16) & 0xFF)
    p[2] = <char>((v >> 8) & 0xFF)
    p[3] = <char>(v & 0xFF)


cdef inline void put64(char *p, int64_t v) noexcept nogil:
    cdef unsigned long long u = <unsigned long long>v
    cdef int i
    for i in range(8):
        p[i] = <char>((u >> (56 - 8 * i)) & 0xFF)


cdef inline bint as_int(object v, int64_t lo, int64_t hi, int64_t *out) except -1:
    """``v`` as a C integer when it is a Python int (or IntEnum) in lo..hi; False otherwise (the pure path)."""
    cdef int overflow = 0
    cdef long long x
    if not PyLong_Check(v):
        return False
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow != 0 or x < lo or x > hi:
        return False
    out[0] = x
    return True


cdef class _Params:
    """The fields of one QueryParameters read once, checked, with the size they encode to."""
    cdef object values
    cdef Py_ssize_t n_values
    cdef bint is_list
    cdef object paging_state
    cdef const char *keyspace
    cdef Py_ssize_t keyspace_len
    cdef int64_t consistency, page_size, serial, timestamp, now
    cdef uint32_t flags
    cdef Py_ssize_t size


cdef bint read_params(object params, int version, _Params p) except -1:
    """Fill ``p`` from ``params``; False when the pure path must encode them (or raise)."""
    cdef object v
    cdef object item
    cdef Py_ssize_t i, n, size
    cdef uint32_t flags = 0
    if params.names is not None:
        return False
    if not as_int(params.consistency, 0, 0xFFFF, &p.consistency):
        return False
    size = 2 + (4 if version >= 5 else 1)
    v = params.values
    if PyList_CheckExact(v):
        p.is_list = True
        n = PyList_GET_SIZE(v)
    elif PyTuple_CheckExact(v):
        p.is_list = False
        n = PyTuple_GET_SIZE(v)
    else:
        return False
    if n > 0xFFFF:
        return False
    p.values = v
    p.n_values = n
    if n:
        flags |= F_VALUES
        size += 2
        for i in range(n):
            item = <object>(PyList_GET_ITEM(v, i) if p.is_list else PyTuple_GET_ITEM(v, i))
            if PyBytes_CheckExact(item):
                if PyBytes_GET_SIZE(item) > 0x7FFFFFFF:
                    return False
                size += 4 + PyBytes_GET_SIZE(item)
            elif item is None or item is UNSET:
                size += 4
            else:
                return False
    if params.skip_metadata:
        flags |= F_SKIP_METADATA
    v = params.page_size
    if v is not None:
        if not as_int(v, -0x80000000, 0x7FFFFFFF, &p.page_size):
            return False
        flags |= F_PAGE_SIZE
        size += 4
    v = params.paging_state
    p.paging_state = v
    if v is not None:
        if not PyBytes_CheckExact(v) or PyBytes_GET_SIZE(v) > 0x7FFFFFFF:
            return False
        flags |= F_PAGING_STATE
        size += 4 + PyBytes_GET_SIZE(v)
    v = params.serial_consistency
    if v is not None:
        if not as_int(v, 0, 0xFFFF, &p.serial):
            return False
        flags |= F_SERIAL
        size += 2
    v = params.timestamp
    if v is not None:
        if not as_int(v, INT64_MIN, INT64_MAX, &p.timestamp):
            return False
        flags |= F_TIMESTAMP
        size += 8
    v = params.keyspace
    p.keyspace = NULL
    if v is not None:
        if version < 5 or not PyUnicode_CheckExact(v):
            return False
        try:
            p.keyspace = PyUnicode_AsUTF8AndSize(v, &p.keyspace_len)
        except UnicodeError:  # a lone surrogate: the pure path raises its own error
            return False
        if p.keyspace_len > 0xFFFF:
            return False
        flags |= F_KEYSPACE
        size += 2 + p.keyspace_len
    v = params.now_in_seconds
    if v is not None:
        if version < 5 or not as_int(v, -0x80000000, 0x7FFFFFFF, &p.now):
            return False
        flags |= F_NOW
        size += 4
    p.flags = flags
    p.size = size
    return True


cdef char *write_params(char *out, _Params p, int version) except NULL:
    cdef Py_ssize_t i, n
    cdef object item
    put16(out, <unsigned int>p.consistency)
    out += 2
    if version >= 5:
        put32(out, p.flags)
        out += 4
    else:
        out[0] = <char>p.flags
        out += 1
    n = p.n_values
    if n:
        put16(out, <unsigned int>n)
        out += 2
        for i in range(n):
            item = <object>(PyList_GET_ITEM(p.values, i) if p.is_list else PyTuple_GET_ITEM(p.values, i))
            if item is None:
                put32(out, 0xFFFFFFFF)
                out += 4
            elif item is UNSET:
                put32(out, 0xFFFFFFFE)
                out += 4
            else:
                n_item = PyBytes_GET_SIZE(item)
                put32(out, <uint32_t>n_item)
                memcpy(out + 4, PyBytes_AS_STRING(item), n_item)
                out += 4 + n_item
    if p.flags & F_PAGE_SIZE:
        put32(out, <uint32_t>p.page_size)
        out += 4
    if p.flags & F_PAGING_STATE:
        n = PyBytes_GET_SIZE(p.paging_state)
        put32(out, <uint32_t>n)
        memcpy(out + 4, PyBytes_AS_STRING(p.paging_state), n)
        out += 4 + n
    if p.flags & F_SERIAL:
        put16(out, <unsigned int>p.serial)
        out += 2
    if p.flags & F_TIMESTAMP:
        put64(out, p.timestamp)
        out += 8
    if p.flags & F_KEYSPACE:
        put16(out, <unsigned int>p.keyspace_len)
        memcpy(out + 2, p.keyspace, p.keyspace_len)
        out += 2 + p.keyspace_len
    if p.flags & F_NOW:
        put32(out, <uint32_t>p.now)
        out += 4
    return out


def execute_body(object query_id, object metadata_id, object params, int version):
    """The body of an EXECUTE (``Execute.encode``), or None when the pure path must encode it."""
    cdef _Params p = _Params.__new__(_Params)
    cdef Py_ssize_t id_len, meta_len = 0, head
    cdef object body
    cdef char *out
    if not PyBytes_CheckExact(query_id):
        return None
    id_len = PyBytes_GET_SIZE(query_id)
    if id_len > 0xFFFF:
        return None
    head = 2 + id_len
    if version >= 5:
        if not PyBytes_CheckExact(metadata_id):
            return None
        meta_len = PyBytes_GET_SIZE(metadata_id)
        if meta_len > 0xFFFF:
            return None
        head += 2 + meta_len
    if not read_params(params, version, p):
        return None
    body = PyBytes_FromStringAndSize(NULL, head + p.size)
    out = PyBytes_AS_STRING(body)
    put16(out, <unsigned int>id_len)
    memcpy(out + 2, PyBytes_AS_STRING(query_id), id_len)
    out += 2 + id_len
    if version >= 5:
        put16(out, <unsigned int>meta_len)
        memcpy(out + 2, PyBytes_AS_STRING(metadata_id), meta_len)
        out += 2 + meta_len
    write_params(out, p, version)
    return body


def query_body(object query, object params, int version):
    """The body of a QUERY (``Query.encode``), or None when the pure path must encode it."""
    cdef _Params p = _Params.__new__(_Params)
    cdef Py_ssize_t q_len
    cdef const char *q
    cdef object body
    cdef char *out
    if not PyUnicode_CheckExact(query):
        return None
    try:
        q = PyUnicode_AsUTF8AndSize(query, &q_len)
    except UnicodeError:  # a lone surrogate: the pure path raises its own error
        return None
    if q_len > 0x7FFFFFFF:
        return None
    if not read_params(params, version, p):
        return None
    body = PyBytes_FromStringAndSize(NULL, 4 + q_len + p.size)
    out = PyBytes_AS_STRING(body)
    put32(out, <uint32_t>q_len)
    memcpy(out + 4, q, q_len)
    write_params(out + 4 + q_len, p, version)
    return body
