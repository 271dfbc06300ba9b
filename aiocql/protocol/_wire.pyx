# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled wire fast paths (optional; :mod:`aiocql.protocol.wire` selects them, else none are used).

Each function here does, in C, the common case of one step of the request path and returns ``None`` for
anything else (an unusual type, a value out of range, a malformed byte, a rare flag): the caller then runs
the pure-Python implementation of that step, which gives the same bytes or raises the same error. So the
compiled and the pure paths cannot differ in behaviour, only in speed; the unit tests compare them.

* :func:`execute_body` / :func:`query_body`: the body of an EXECUTE / QUERY (``Execute.encode``).

This module never imports asyncio, socket or ssl.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check
from cpython.object cimport PyObject, PyTypeObject
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_CheckExact
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint32_t
from libc.string cimport memcpy

from aiocql.errors import InvalidValueError
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


# -- objects built per reply ---------------------------------------------------------------------------

cdef extern from "_wire_helpers.h":
    Py_ssize_t aiocql_wire_slot_offset(object descr) except? -2
    object aiocql_wire_new(PyTypeObject *type, Py_ssize_t n, const Py_ssize_t *offsets, PyObject **values)

cdef enum:
    MAX_SLOTS = 8


cdef class Slots:
    """Builds instances of a slotted class (every slot set) without running its ``__init__``: the per-reply
    envelopes and results are plain value holders whose ``__init__`` only stores its arguments. Where the
    class is not such a holder (a slot is not a plain writable member), ``make`` sets the attributes
    through ``object.__new__`` and ``setattr`` instead: the same object, slower."""

    cdef object cls
    cdef tuple names
    cdef Py_ssize_t n
    cdef Py_ssize_t offsets[MAX_SLOTS]
    cdef readonly bint direct

    def __init__(self, cls, names):
        cdef Py_ssize_t i, off
        self.cls = cls
        self.names = tuple(names)
        self.n = len(self.names)
        self.direct = self.n <= MAX_SLOTS and type(cls) is type and getattr(cls, "__new__") is object.__new__
        # every slot of the class is one of the names (none left NULL)
        slots = set()
        for klass in cls.__mro__:
            slots.update(klass.__dict__.get("__slots__", ()))
        if slots != set(self.names):
            self.direct = False
        for i in range(min(self.n, MAX_SLOTS)):
            off = aiocql_wire_slot_offset(getattr(cls, self.names[i]))
            if off < 0:
                self.direct = False
            self.offsets[i] = off

    cdef object make(self, PyObject **values):
        cdef Py_ssize_t i
        if self.direct:
            return aiocql_wire_new(<PyTypeObject *>self.cls, self.n, self.offsets, values)
        obj = object.__new__(self.cls)
        for i in range(self.n):
            setattr(obj, self.names[i], <object>values[i])
        return obj

    def __call__(self, *values):
        """``cls(*values)`` with the names' order (for tests)."""
        cdef PyObject *vals[MAX_SLOTS]
        cdef Py_ssize_t i
        if len(values) != self.n or self.n > MAX_SLOTS:
            raise InvalidValueError(f"{self.n} values expected")
        for i in range(self.n):
            vals[i] = <PyObject *>values[i]
        return self.make(vals)


# -- replies ------------------------------------------------------------------------------------------

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.memoryview cimport PyMemoryView_Check

from aiocql.protocol.results import RowsMetadata as _RowsMetadata
from aiocql.protocol.results import RowsResult as _RowsResult
from aiocql.protocol.results import VoidResult as _VoidResult

cdef Slots RowsMetadata = Slots(_RowsMetadata, ("flags", "column_count", "columns", "paging_state", "new_metadata_id"))
cdef Slots RowsResult = Slots(
    _RowsResult, ("metadata", "rows_count", "buffer", "offset", "tracing_id", "warnings", "custom_payload")
)
cdef Slots VoidResult = Slots(_VoidResult, ("tracing_id", "warnings", "custom_payload"))
cdef tuple NO_WARNINGS = ()

cdef enum:
    KIND_VOID = 1
    KIND_ROWS = 2
    R_HAS_MORE_PAGES = 0x02
    R_NO_METADATA = 0x04
    R_METADATA_CHANGED = 0x08


cdef inline int get32(const unsigned char *p) noexcept nogil:
    return <int>((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3])


cdef enum:
    R_GLOBAL_TABLES_SPEC = 0x01
    MAX_OPTION_DEPTH = 64
    METADATA_CACHE_SIZE = 512

from aiocql.errors.base import ProtocolError as _ProtocolError
from aiocql.protocol.results import read_rows_metadata as _read_rows_metadata

#: The column specs of the result metadata seen, by their bytes (with the column count and the global-table-spec
#: flag in front): a page with metadata whose bytes are known costs one lookup. Entries are put in only after the
#: pure reader read the same bytes to the same end, so a hit gives what the pure reader gives.
cdef dict METADATA_CACHE = {}


cdef inline Py_ssize_t skip_string(const unsigned char *p, Py_ssize_t n, Py_ssize_t pos) noexcept nogil:
    cdef Py_ssize_t length
    if n - pos < 2:
        return -1
    length = (<Py_ssize_t>p[pos] << 8) | p[pos + 1]
    if n - pos - 2 < length:
        return -1
    return pos + 2 + length


cdef Py_ssize_t skip_option(const unsigned char *p, Py_ssize_t n, Py_ssize_t pos, int depth) noexcept nogil:
    """Where the [option] at ``pos`` ends, or -1 (the pure reader then reads it, or raises)."""
    cdef unsigned int kind
    cdef Py_ssize_t i, fields
    if depth > MAX_OPTION_DEPTH or n - pos < 2:
        return -1
    kind = (<unsigned int>p[pos] << 8) | p[pos + 1]
    pos += 2
    if kind == 0x0000:  # custom: its class name
        return skip_string(p, n, pos)
    if kind == 0x0020 or kind == 0x0022:  # list, set
        return skip_option(p, n, pos, depth + 1)
    if kind == 0x0021:  # map
        pos = skip_option(p, n, pos, depth + 1)
        return -1 if pos < 0 else skip_option(p, n, pos, depth + 1)
    if kind == 0x0030 or kind == 0x0031:  # UDT (keyspace, name, then named fields), tuple
        if kind == 0x0030:
            pos = skip_string(p, n, pos)
            if pos >= 0:
                pos = skip_string(p, n, pos)
            if pos < 0:
                return -1
        if n - pos < 2:
            return -1
        fields = (<Py_ssize_t>p[pos] << 8) | p[pos + 1]
        pos += 2
        for i in range(fields):
            if kind == 0x0030:
                pos = skip_string(p, n, pos)
                if pos < 0:
                    return -1
            pos = skip_option(p, n, pos, depth + 1)
            if pos < 0:
                return -1
        return pos
    return pos  # a native type (an unknown id too: the pure reader says what it makes of it)


cdef Py_ssize_t skip_column_specs(const unsigned char *p, Py_ssize_t n, Py_ssize_t pos, int flags,
                                  Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t i
    if flags & R_GLOBAL_TABLES_SPEC:
        pos = skip_string(p, n, pos)
        if pos >= 0:
            pos = skip_string(p, n, pos)
    for i in range(count):
        if pos < 0:
            return -1
        if not flags & R_GLOBAL_TABLES_SPEC:
            pos = skip_string(p, n, pos)
            if pos >= 0:
                pos = skip_string(p, n, pos)
            if pos < 0:
                return -1
        pos = skip_string(p, n, pos)
        if pos < 0:
            return -1
        pos = skip_option(p, n, pos, 0)
    return pos


cdef object cached_columns(object body, const unsigned char *p, Py_ssize_t n, Py_ssize_t start, int flags,
                           int count, int version, Py_ssize_t *end):
    """The column specs at ``p[start:]`` from the cache (``end`` set), or None: a miss reads them with the pure
    reader (and caches them when it ends where the scan did), then the pure path decodes the result as usual."""
    cdef Py_ssize_t stop = skip_column_specs(p, n, start, flags, count)
    cdef object key, columns, buf
    cdef char *w
    if stop < 0:
        return None
    key = PyBytes_FromStringAndSize(NULL, 5 + stop - start)
    w = PyBytes_AS_STRING(key)
    w[0] = <char>(flags & R_GLOBAL_TABLES_SPEC)
    put32(w + 1, <uint32_t>count)
    memcpy(w + 5, p + start, stop - start)
    columns = METADATA_CACHE.get(key)
    if columns is not None:
        end[0] = stop
        return columns
    buf = body if PyMemoryView_Check(body) else memoryview(body)
    try:
        metadata, pure_end = _read_rows_metadata(buf, 4, version)
    except _ProtocolError:
        return None
    if pure_end == stop and type(metadata.columns) is tuple:
        if len(METADATA_CACHE) >= METADATA_CACHE_SIZE:
            METADATA_CACHE.clear()
        METADATA_CACHE[key] = metadata.columns
    return None


def decode_result(object body, int version):
    """The RESULT in ``body`` (an envelope body with no tracing id, warnings or custom payload) when it is a
    Void, a Rows page without metadata (a prepared statement's page) or a page whose metadata bytes were read
    before (:data:`METADATA_CACHE`); None for anything else (the pure ``decode_result`` reads it, or raises),
    malformed bytes included."""
    cdef Py_buffer view
    cdef const unsigned char *p
    cdef Py_ssize_t n, pos, end = 0
    cdef int kind, flags, count, length, rows_count
    cdef object paging_state = None, new_id = None, columns = None
    cdef object buf, metadata, py_flags, py_count, py_rows, py_pos
    cdef PyObject *vals[7]
    PyObject_GetBuffer(body, &view, PyBUF_SIMPLE)
    try:
        p = <const unsigned char *>view.buf
        n = view.len
        if n < 4:
            return None
        kind = get32(p)
        if kind == KIND_VOID:
            vals[0] = <PyObject *>None
            vals[1] = <PyObject *>NO_WARNINGS
            vals[2] = <PyObject *>None
            return VoidResult.make(vals)
        if kind != KIND_ROWS or n < 12:
            return None
        flags = get32(p + 4)
        count = get32(p + 8)
        if count < 0:
            return None
        pos = 12
        if flags & R_HAS_MORE_PAGES:
            if n - pos < 4:
                return None
            length = get32(p + pos)
            pos += 4
            if length >= 0:
                if n - pos < length:
                    return None
                paging_state = PyBytes_FromStringAndSize(<const char *>(p + pos), length)
                pos += length
        if version >= 5 and flags & R_METADATA_CHANGED:
            if flags & R_NO_METADATA or n - pos < 2:
                return None
            length = (p[pos] << 8) | p[pos + 1]
            pos += 2
            if n - pos < length:
                return None
            new_id = PyBytes_FromStringAndSize(<const char *>(p + pos), length)
            pos += length
        if not flags & R_NO_METADATA:
            columns = cached_columns(body, p, n, pos, flags, count, version, &end)
            if columns is None:
                return None
            pos = end
        if n - pos < 4:
            return None
        rows_count = get32(p + pos)
        if rows_count < 0:
            return None
        pos += 4
    finally:
        PyBuffer_Release(&view)
    buf = body if PyMemoryView_Check(body) else memoryview(body)
    py_flags, py_count, py_rows, py_pos = flags, count, rows_count, pos
    vals[0] = <PyObject *>py_flags
    vals[1] = <PyObject *>py_count
    vals[2] = <PyObject *>columns
    vals[3] = <PyObject *>paging_state
    vals[4] = <PyObject *>new_id
    metadata = RowsMetadata.make(vals)
    vals[0] = <PyObject *>metadata
    vals[1] = <PyObject *>py_rows
    vals[2] = <PyObject *>buf
    vals[3] = <PyObject *>py_pos
    vals[4] = <PyObject *>None
    vals[5] = <PyObject *>NO_WARNINGS
    vals[6] = <PyObject *>None
    return RowsResult.make(vals)


# -- envelopes ----------------------------------------------------------------------------------------

from aiocql.protocol.envelope import Envelope as _Envelope

cdef Slots Envelope = Slots(_Envelope, ("version", "flags", "stream", "opcode", "body", "is_response"))
cdef object TRUE = True
cdef object FALSE = False


def split_envelopes(object data, Py_ssize_t pos, Py_ssize_t end, list out, tuple opcodes, int direction,
                    Py_ssize_t max_size, bint compressed_ok):
    """Append to ``out`` the whole envelopes of ``data[pos:end]`` whose 9-byte header is valid; stop at the
    first header that is not (or an envelope that is not complete) and return its offset, where the pure
    decoder carries on (and raises, or waits for more bytes).

    ``opcodes`` has 256 entries: the :class:`Opcode` of each opcode byte accepted, None for the others;
    ``direction`` 1 accepts replies only, 0 requests only, -1 both; ``compressed_ok`` False stops at an
    envelope flagged COMPRESSION (a v4 body the pure decoder decompresses). The body is a copy (``bytes``).
    """
    cdef Py_buffer view
    cdef const unsigned char *p
    cdef unsigned char vbyte, flags, version
    cdef int stream
    cdef Py_ssize_t length
    cdef object op, body, py_version, py_flags, py_stream
    cdef PyObject *vals[6]
    if len(opcodes) != 256:
        return pos  # not the table this function reads: the pure decoder does everything
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if end > view.len:
            end = view.len
        p = <const unsigned char *>view.buf
        while end - pos >= 9:
            vbyte = p[pos]
            version = vbyte & 0x7F
            flags = p[pos + 1]
            if version < 3 or version > 5:
                break
            if direction >= 0 and (vbyte >> 7) != direction:
                break
            if not compressed_ok and flags & 0x01:
                break
            op = <object>PyTuple_GET_ITEM(opcodes, p[pos + 4])
            if op is None:
                break
            length = get32(p + pos + 5)
            if length < 0 or length > max_size or end - pos - 9 < length:
                break
            stream = <short>((p[pos + 2] << 8) | p[pos + 3])
            body = PyBytes_FromStringAndSize(<const char *>(p + pos + 9), length)
            py_version, py_flags, py_stream = version, flags, stream
            vals[0] = <PyObject *>py_version
            vals[1] = <PyObject *>py_flags
            vals[2] = <PyObject *>py_stream
            vals[3] = <PyObject *>op
            vals[4] = <PyObject *>body
            vals[5] = <PyObject *>(TRUE if vbyte & 0x80 else FALSE)
            out.append(Envelope.make(vals))
            pos += 9 + length
    finally:
        PyBuffer_Release(&view)
    return pos


# -- v5 frames ----------------------------------------------------------------------------------------

from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.buffer cimport PyBUF_READ

import zlib as _zlib

cdef object zlib_crc32 = _zlib.crc32
cdef object CRC32_SEED = _zlib.crc32(b"\xfa\x2d\x55\xca")
cdef uint32_t CRC24_TABLE[256]


cdef void make_crc24_table() noexcept:
    cdef uint32_t crc
    cdef int byte, bit
    for byte in range(256):
        crc = byte << 16
        for bit in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1974F0B
        CRC24_TABLE[byte] = crc & 0xFFFFFF


make_crc24_table()


cdef inline uint32_t crc24(const unsigned char *p, int n) noexcept nogil:
    cdef uint32_t crc = 0x875060
    cdef int i
    for i in range(n):
        crc = ((crc << 8) & 0xFFFFFF) ^ CRC24_TABLE[((crc >> 16) ^ p[i]) & 0xFF]
    return crc


cdef extern from "_wire_helpers.h":
    void aiocql_crc32_setup()
    int aiocql_crc32_fast
    uint32_t aiocql_crc32(uint32_t crc, const unsigned char *p, size_t n) nogil

aiocql_crc32_setup()
cdef uint32_t CRC32_SEED_VALUE = <uint32_t>CRC32_SEED

#: Whether the payload CRC32 runs in C (carry-less multiplication); else through zlib.crc32.
CRC32_IN_C = aiocql_crc32_fast != 0


cdef inline uint32_t payload_crc32(const unsigned char *p, Py_ssize_t n) except? 0xFFFFFFFF:
    if aiocql_crc32_fast:
        return aiocql_crc32(CRC32_SEED_VALUE, p, <size_t>n)
    view = PyMemoryView_FromMemory(<char *>p, n, PyBUF_READ)
    return <uint32_t>zlib_crc32(view, CRC32_SEED)


cdef inline Py_ssize_t checked_frame(const unsigned char *p, Py_ssize_t pos, Py_ssize_t end) except -2:
    """Where the payload ends of the uncompressed v5 frame at ``p[pos:end]`` when it is whole, self-contained and
    both its CRCs check out; -1 when it is not all of that (incomplete, part of a large envelope, a bad CRC): the
    pure decoder carries on there, and raises or waits."""
    cdef uint32_t raw, expected
    cdef Py_ssize_t stop
    if end - pos < 6:
        return -1
    raw = <uint32_t>p[pos] | (<uint32_t>p[pos + 1] << 8) | (<uint32_t>p[pos + 2] << 16)
    if crc24(p + pos, 3) != (<uint32_t>p[pos + 3] | (<uint32_t>p[pos + 4] << 8) | (<uint32_t>p[pos + 5] << 16)):
        return -1
    if not raw & 0x20000:  # not self-contained: a large envelope, reassembled by the pure decoder
        return -1
    stop = pos + 6 + (raw & 0x1FFFF)
    if stop + 4 > end:
        return -1
    expected = (<uint32_t>p[stop] | (<uint32_t>p[stop + 1] << 8) | (<uint32_t>p[stop + 2] << 16)
                | (<uint32_t>p[stop + 3] << 24))
    if payload_crc32(p + pos + 6, stop - pos - 6) != expected:
        return -1
    return stop


def crc32(object data, uint32_t value=0):
    """``zlib.crc32(data, value)`` for any buffer (for the v5 payload CRC, ``value`` is the seeded start:
    :func:`aiocql.protocol.crc.crc32`); folded with carry-less multiplication where the CPU has it
    (:data:`CRC32_IN_C`), else zlib's."""
    cdef Py_buffer view
    if not aiocql_crc32_fast:
        return zlib_crc32(data, value)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return aiocql_crc32(value, <const unsigned char *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)


def decode_frames(object data, Py_ssize_t pos, Py_ssize_t end, list out, tuple opcodes, int direction,
                  Py_ssize_t max_size):
    """Append to ``out`` the envelopes of the whole, valid, uncompressed self-contained v5 frames of
    ``data[pos:end]``; stop at the first frame that is not all of that (incomplete, LZ4, part of a large
    envelope, a CRC or an envelope header that does not check out) and return its offset: the pure decoder
    carries on there, and raises or waits. A frame's envelopes are appended only once all of them are valid.
    """
    cdef Py_buffer view
    cdef const unsigned char *p
    cdef Py_ssize_t start, stop
    cdef list frame
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if end > view.len:
            end = view.len
        p = <const unsigned char *>view.buf
        while True:
            stop = checked_frame(p, pos, end)
            if stop < 0:
                break
            start = pos + 6
            frame = []
            if split_envelopes(data, start, stop, frame, opcodes, direction, max_size, True) != stop:
                break
            out.extend(frame)
            pos = stop + 4
    finally:
        PyBuffer_Release(&view)
    return pos


def encode_frames(list envelopes, Py_ssize_t max_payload):
    """Uncompressed v5 frames around ``envelopes`` (each ``bytes``), packed like the pure
    ``encode_v5_frames``; None when one is not ``bytes`` or is larger than a frame (the pure code splits it)."""
    cdef Py_ssize_t i, n = len(envelopes), size, total = 0, frames = 0, fill = 0
    cdef object env, out
    cdef char *w
    cdef char *frame_start
    cdef uint32_t header, crc
    if n == 0 or max_payload <= 0 or max_payload > 0x1FFFF:
        return None
    for i in range(n):
        env = <object>PyList_GET_ITEM(envelopes, i)
        if not PyBytes_CheckExact(env):
            return None
        size = PyBytes_GET_SIZE(env)
        if size > max_payload:
            return None
        if frames == 0 or fill + size > max_payload:
            frames += 1
            fill = 0
        fill += size
        total += size
    if total == 0:
        return None  # only empty items: the pure code sends no frame at all
    out = PyBytes_FromStringAndSize(NULL, total + 10 * frames)
    w = PyBytes_AS_STRING(out)
    i = 0
    while i < n:
        frame_start = w
        w += 6
        fill = 0
        while i < n:
            env = <object>PyList_GET_ITEM(envelopes, i)
            size = PyBytes_GET_SIZE(env)
            if fill + size > max_payload:
                break
            memcpy(w, PyBytes_AS_STRING(env), size)
            w += size
            fill += size
            i += 1
        header = <uint32_t>fill | 0x20000
        frame_start[0] = <char>(header & 0xFF)
        frame_start[1] = <char>((header >> 8) & 0xFF)
        frame_start[2] = <char>((header >> 16) & 0xFF)
        crc = crc24(<const unsigned char *>frame_start, 3)
        frame_start[3] = <char>(crc & 0xFF)
        frame_start[4] = <char>((crc >> 8) & 0xFF)
        frame_start[5] = <char>((crc >> 16) & 0xFF)
        crc = payload_crc32(<const unsigned char *>(frame_start + 6), fill)
        w[0] = <char>(crc & 0xFF)
        w[1] = <char>((crc >> 8) & 0xFF)
        w[2] = <char>((crc >> 16) & 0xFF)
        w[3] = <char>((crc >> 24) & 0xFF)
        w += 4
    return out


# -- replies delivered straight to their waiters ----------------------------------------------------------------

from cpython.dict cimport PyDict_DelItem, PyDict_GetItem

cdef Py_ssize_t STREAM_IN_FLIGHT = 1  # aiocql.protocol.streams: FREE 0, IN_FLIGHT 1, ORPHANED 2
cdef object VOID = None  # the one VoidResult of the replies without prefixes (made on first use)


cdef inline bint simple_result(const unsigned char *p, Py_ssize_t n, int version) noexcept nogil:
    """True when ``decode_result`` reads this body (a Void, or a well-formed page without metadata)."""
    cdef int kind, flags, count, length
    cdef Py_ssize_t pos
    if n < 4:
        return False
    kind = get32(p)
    if kind == KIND_VOID:
        return True
    if kind != KIND_ROWS or n < 12:
        return False
    flags = get32(p + 4)
    count = get32(p + 8)
    if count < 0 or not flags & R_NO_METADATA or (version >= 5 and flags & R_METADATA_CHANGED):
        return False
    pos = 12
    if flags & R_HAS_MORE_PAGES:
        if n - pos < 4:
            return False
        length = get32(p + pos)
        pos += 4
        if length > 0:
            if n - pos < length:
                return False
            pos += length
    if n - pos < 4:
        return False
    return get32(p + pos) >= 0


cdef class ReplyRouter:
    """Completes the waiter of each reply of the common frames itself: what ``ClientCore.receive_data`` and the
    connection's ``data_received`` do for them, without an :class:`Envelope` or an event in between.

    :meth:`frames` takes the whole, valid, uncompressed self-contained v5 frames whose every envelope is a RESULT
    reply without flags on an id of the stream table, in the connection's version, whose body ``decode_result``
    reads (a Void, a page without metadata): each id is settled as the core settles it (in flight: freed and its
    waiter, if still waiting, completed with the decoded result; orphaned: freed, the reply dropped; free: dropped)
    and counted in ``freed``, ``orphans`` and ``replies``. It stops at the first frame that is anything else and
    returns its offset: the pure decoder and core carry on there (they raise, or return the frame's events). So
    the frames it takes are delivered as the pure path would deliver them, and every other frame by the pure path.
    """

    cdef public object streams  # the core's StreamIdAllocator (its table and free queue are read per call)
    cdef public object waiting  # stream id -> waiter (done(), set_result()), None: deliver nothing
    cdef public int version
    cdef public Py_ssize_t max_size
    cdef public Py_ssize_t freed, orphans, replies
    cdef object metadata  # the RowsMetadata of the last page without a paging state, shared by the next alike
    cdef int metadata_flags, metadata_count

    def __init__(self, streams, int version, Py_ssize_t max_size):
        self.streams = streams
        self.waiting = None
        self.version = version
        self.max_size = max_size
        self.freed = self.orphans = self.replies = 0
        self.metadata = None

    cdef bint frame_is_simple(self, const unsigned char *p, Py_ssize_t n, Py_ssize_t size) noexcept:
        cdef Py_ssize_t pos = 0, length
        cdef int stream
        cdef unsigned char vbyte = <unsigned char>(0x80 | self.version)
        if n == 0:
            return False
        while pos < n:
            if n - pos < 9 or p[pos] != vbyte or p[pos + 1] != 0 or p[pos + 4] != 0x08:
                return False
            stream = <short>((p[pos + 2] << 8) | p[pos + 3])
            length = get32(p + pos + 5)
            if stream < 0 or stream >= size or length < 0 or length > self.max_size or n - pos - 9 < length:
                return False
            if not simple_result(p + pos + 9, length, self.version):
                return False
            pos += 9 + length
        return True

    cdef object result(self, const unsigned char *p, Py_ssize_t n):
        """The decoded result of a body ``simple_result`` accepted (what ``decode_result`` returns for it)."""
        global VOID
        cdef int flags, count, length, rows_count
        cdef Py_ssize_t pos = 12
        cdef object paging_state = None, body, metadata, py_flags, py_count, py_rows, py_pos
        cdef PyObject *vals[7]
        if get32(p) == KIND_VOID:
            if VOID is None:
                vals[0] = <PyObject *>None
                vals[1] = <PyObject *>NO_WARNINGS
                vals[2] = <PyObject *>None
                VOID = VoidResult.make(vals)
            return VOID
        flags = get32(p + 4)
        count = get32(p + 8)
        if flags & R_HAS_MORE_PAGES:
            length = get32(p + pos)
            pos += 4
            if length >= 0:
                paging_state = PyBytes_FromStringAndSize(<const char *>(p + pos), length)
                pos += length
        rows_count = get32(p + pos)
        pos += 4
        if paging_state is None and self.metadata is not None and flags == self.metadata_flags \
                and count == self.metadata_count:
            metadata = self.metadata
        else:
            py_flags, py_count = flags, count
            vals[0] = <PyObject *>py_flags
            vals[1] = <PyObject *>py_count
            vals[2] = <PyObject *>None
            vals[3] = <PyObject *>paging_state
            vals[4] = <PyObject *>None
            metadata = RowsMetadata.make(vals)
            if paging_state is None:
                self.metadata, self.metadata_flags, self.metadata_count = metadata, flags, count
        body = memoryview(PyBytes_FromStringAndSize(<const char *>p, n))
        py_rows, py_pos = rows_count, pos
        vals[0] = <PyObject *>metadata
        vals[1] = <PyObject *>py_rows
        vals[2] = <PyObject *>body
        vals[3] = <PyObject *>py_pos
        vals[4] = <PyObject *>None
        vals[5] = <PyObject *>NO_WARNINGS
        vals[6] = <PyObject *>None
        return RowsResult.make(vals)

    def queue(self, int opcode, object body, int flags, list outbox):
        """``ClientCore.send_request``'s common case once the handshake is done: take the next free stream id,
        mark it in flight and append the envelope (the header and ``body``, a ``bytes``) to ``outbox``; return
        the id, or -1 with nothing done when the pure code must do it (no id free, an argument out of range)."""
        cdef object streams = self.streams, free, table_obj, env
        cdef Py_ssize_t n, stream
        cdef char *w
        if not PyBytes_CheckExact(body) or opcode < 0 or opcode > 0xFF or flags < 0 or flags > 0xFF:
            return -1
        n = PyBytes_GET_SIZE(body)
        if n > 0x7FFFFFFF:
            return -1
        free = streams._free
        table_obj = streams._state
        if not free or type(table_obj) is not bytearray:
            return -1
        stream = free.popleft()
        if stream < 0 or stream >= len(table_obj):  # pragma: no cover - the allocator hands out table ids only
            free.appendleft(stream)
            return -1
        (<unsigned char *>PyByteArray_AS_STRING(table_obj))[stream] = STREAM_IN_FLIGHT
        streams.in_flight += 1
        env = PyBytes_FromStringAndSize(NULL, 9 + n)
        w = PyBytes_AS_STRING(env)
        w[0] = <char>self.version
        w[1] = <char>(flags & 0xFE)  # the COMPRESSION flag describes the body as sent: never set here
        put16(w + 2, <unsigned int>stream)
        w[4] = <char>opcode
        put32(w + 5, <uint32_t>n)
        memcpy(w + 9, PyBytes_AS_STRING(body), n)
        outbox.append(env)
        return stream

    def frames(self, object data, Py_ssize_t pos, Py_ssize_t end):
        """Deliver the replies of the frames of ``data[pos:end]`` it takes (see the class); return where it stopped."""
        cdef Py_buffer view
        cdef const unsigned char *p
        cdef unsigned char *table
        cdef Py_ssize_t start, stop, at, size, body_len
        cdef int stream
        cdef unsigned char state
        cdef PyObject *found
        cdef object fut, waiting = self.waiting, free_append, table_obj
        if waiting is None or type(waiting) is not dict:
            return pos
        table_obj = self.streams._state
        if type(table_obj) is not bytearray:
            return pos
        free_append = self.streams._free.append
        size = len(table_obj)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if end > view.len:
                end = view.len
            p = <const unsigned char *>view.buf
            while True:
                stop = checked_frame(p, pos, end)
                if stop < 0:
                    break
                start = pos + 6
                if not self.frame_is_simple(p + start, stop - start, size):
                    break
                at = start
                while at < stop:
                    stream = <short>((p[at + 2] << 8) | p[at + 3])
                    body_len = get32(p + at + 5)
                    self.replies += 1
                    table = <unsigned char *>PyByteArray_AS_STRING(table_obj)
                    state = table[stream]
                    if state != 0:
                        table[stream] = 0
                        free_append(stream)
                        self.freed += 1
                        if state != STREAM_IN_FLIGHT:
                            self.orphans += 1  # the late reply of a caller that gave up: dropped
                        else:
                            found = PyDict_GetItem(waiting, stream)
                            if found is not NULL:
                                fut = <object>found
                                PyDict_DelItem(waiting, stream)
                                if not fut.done():
                                    fut.set_result(self.result(p + at + 9, body_len))
                    at += 9 + body_len
                pos = stop + 4
        finally:
            PyBuffer_Release(&view)
        return pos


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
