# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled per-row core (optional; :mod:`aiocql.types.speedups` selects it, else the pure-Python one).

* :class:`RowCodec` decodes the ``<rows_content>`` of a RESULT page straight from the page bytes: the common
  native types (int, bigint, counter, smallint, tinyint, double, float, boolean, timestamp, uuid, timeuuid,
  text, ascii, blob) in C, any other column (and any value whose size is not its type's) through the column's
  Python decoder, so every value and every error is the pure path's (``aiocql.types.rowplan``).
* ``RowBase``: the base of :class:`aiocql.Row`, a tuple whose subscript also takes a column name.
* :class:`RowIter`: ``async for row in result`` with no coroutine per row; it awaits only at page boundaries.

This module never imports asyncio: the page fetch is the Python ``more`` callable it is given.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.datetime cimport datetime_new, import_datetime
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLong, PyLong_FromLongLong
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.stdint cimport int8_t, int64_t

import struct as _struct

from aiocql.errors import InvalidValueError

cdef extern from "_core_helpers.h":
    int aiocql_i32(const unsigned char *p) nogil
    int aiocql_i16(const unsigned char *p) nogil
    int64_t aiocql_i64(const unsigned char *p) nogil
    double aiocql_f64(const unsigned char *p) nogil
    double aiocql_f32(const unsigned char *p) nogil
    object aiocql_uint128(const unsigned char *p)
    object aiocql_text(const unsigned char *p, Py_ssize_t size, int ascii_column)
    Py_ssize_t aiocql_fast_values(object row, Py_ssize_t c, Py_ssize_t n, const unsigned char *kinds,
                                  const unsigned char *data, Py_ssize_t length, Py_ssize_t *at) except -1
    void aiocql_civil(int64_t days, int *year, int *month, int *day) nogil
    Py_ssize_t aiocql_member_offset(object descr) except? -2
    object aiocql_new_uuid(PyTypeObject *t, object value, object safe, Py_ssize_t off_int, Py_ssize_t off_safe)
    object aiocql_new_row(object cls, Py_ssize_t n)
    Py_ssize_t aiocql_row_free_clear()
    Py_ssize_t aiocql_row_free_count[65]
    Py_ssize_t aiocql_row_free_bytes
    Py_ssize_t AIOCQL_ROW_FREE_BUDGET
    bint aiocql_plain_row_type(object cls)
    bint aiocql_row_needs_gc(object row, Py_ssize_t n, PyTypeObject *uuid_type)
    void PyObject_GC_UnTrack(object)
    void PyObject_GC_Track(object)
    int PyGC_Disable()
    int PyGC_Enable()
    object aiocql_rowbase_type()
    int aiocql_lean_row_type(object cls) except -1
    void aiocql_raise_stop(PyObject *stop, PyObject *value)
    ctypedef PyObject *(*iternextfunc)(PyObject *)
    ctypedef PyObject *(*aiocql_ready_take)(PyObject *, int *)
    void aiocql_set_iternext(object type, iternextfunc next, aiocql_ready_take take)

import_datetime()

#: The base class of aiocql.Row (a tuple whose subscript also takes a column name).
RowBase = aiocql_rowbase_type()


def lean_row_type(cls):
    """Give the row class ``cls`` (built by :func:`aiocql.types.record.row_class`) the lean deallocator of
    rows; False if the class does not qualify (it has a finalizer, weak references, a __dict__, ...)."""
    return aiocql_lean_row_type(cls) == 1


def free_rows():
    """(rows, bytes) kept for reuse by the row free list (rows of the lean row classes, freed and not yet
    reused: see _core_helpers.h), and its byte budget as a third item."""
    cdef Py_ssize_t n, total = 0
    for n in range(1, 65):
        total += aiocql_row_free_count[n]
    return total, aiocql_row_free_bytes, AIOCQL_ROW_FREE_BUDGET


def clear_free_rows():
    """Give the memory of the rows kept for reuse back to the allocator; how many rows that was."""
    return aiocql_row_free_clear()


# Column kinds (aiocql.types.rows._KINDS gives them from the types); 0: the column's Python decoder.
cdef enum:
    K_INT = 1
    K_BIGINT = 2
    K_SMALLINT = 3
    K_TINYINT = 4
    K_DOUBLE = 5
    K_FLOAT = 6
    K_BOOLEAN = 7
    K_TIMESTAMP = 8
    K_UUID = 9
    K_TEXT = 10
    K_ASCII = 11
    K_BLOB = 12
    K_DECIMAL = 13
    K_LIST = 14  # list<e> of a kind e above (its element kind in RowCodec.elems)

# The value size of each fixed kind (-1: variable, or a Python decoder's column).
cdef Py_ssize_t _SIZES[15]
_SIZES[:] = [-1, 4, 8, 2, 1, 8, 4, 1, 8, 16, -1, -1, -1, -1, -1]
cdef object _FALLBACK = object()  # a value the fast path leaves to the column's Python decoder

cdef object _StructError = _struct.error
cdef int64_t _MS_PER_DAY = 86400000


cdef class RowCodec:
    """Decodes the rows of one result metadata (one instance per tuple of column types).

    Built from :func:`aiocql.types.rows.codec_spec`: a kind code per column, every column's Python decoder,
    and the helpers (the ProtocolError class, ``timestamp_from_ms``, the fast timestamp limit, ``uuid.UUID``,
    ``SafeUUID.unknown``, whether UUIDs may be built slot by slot).
    """

    cdef Py_ssize_t ncols
    cdef bytes kinds
    cdef bytes elems
    cdef tuple decoders
    cdef object decimal_type
    cdef object decimal_context
    cdef object decimal_limit_of
    cdef object protocol_error
    cdef object timestamp_from_ms
    cdef int64_t timestamp_limit
    cdef object utc
    cdef object uuid_type
    cdef object safe_unknown
    cdef Py_ssize_t off_int
    cdef Py_ssize_t off_safe

    def __init__(self, bytes kinds, bytes elems, tuple decoders, tuple helpers):
        if not len(kinds) == len(elems) == len(decoders):
            raise InvalidValueError("one kind, element kind and decoder per column")  # a ValueError too
        self.ncols = len(kinds)
        self.kinds = kinds
        self.elems = elems
        self.decoders = decoders
        (self.protocol_error, self.timestamp_from_ms, self.timestamp_limit, self.uuid_type, self.safe_unknown,
         slots, self.decimal_type, self.decimal_context, self.decimal_limit_of) = helpers
        import datetime
        self.utc = datetime.timezone.utc
        self.off_int = self.off_safe = -1
        if slots:
            self.off_int = aiocql_member_offset(self.uuid_type.__dict__["int"])
            self.off_safe = aiocql_member_offset(self.uuid_type.__dict__["is_safe"])
            if self.off_int < 0 or self.off_safe < 0:
                self.off_int = self.off_safe = -1

    def decode(self, buf, Py_ssize_t pos, Py_ssize_t count, cls=None):
        """(rows, position after the last row) of ``count`` rows of ``buf`` from ``pos``: tuples, or
        instances of the tuple subclass ``cls``."""
        cdef Py_buffer view
        cdef int collecting
        if cls is not None and not aiocql_plain_row_type(cls):
            # not a tuple's layout (a __dict__, or no tuple at all): rows built as the pure decoder builds them
            rows, end = self.decode(buf, pos, count)
            return [tuple.__new__(cls, row) for row in rows], end
        PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        # No collection while a page is decoded: the allocations of its rows would trigger several, each walking
        # what is young, for rows that mostly need no collector at all (see aiocql_row_needs_gc). Afterwards, one.
        collecting = PyGC_Disable()
        try:
            # Every value takes at least its 4-byte length: refuse absurd counts before allocating (the pure
            # decoder's check and message, RowDecoder.decode_rows_end; count < 2**31 and ncols < 2**16 from the
            # wire, so the product fits).
            if count < 0 or count * 4 * self.ncols > view.len - pos or (self.ncols == 0 and count > 65536):
                raise self.protocol_error(
                    f"{count} rows of {self.ncols} columns cannot fit in {view.len - pos} bytes")
            if pos < 0 or pos > view.len:
                raise self.protocol_error(f"rows start at {pos}, past the body ({view.len} bytes)")
            return self._decode(<const unsigned char *>view.buf, view.len, pos, count, cls)
        finally:
            if collecting:
                PyGC_Enable()
            PyBuffer_Release(&view)

    def page(self, cls=None):
        """``RowDecoder.page_decoder``'s callable here: ``(buf, pos, count) -> rows`` (tuples, or instances of
        ``cls``) in one C call."""
        return PageDecoder(self, cls).read

    cdef _truncated(self, Py_ssize_t row, Py_ssize_t count):
        return self.protocol_error(f"truncated rows: row {row} of {count} ends past the body")

    cdef tuple _decode(self, const unsigned char *data, Py_ssize_t length, Py_ssize_t at, Py_ssize_t count,
                       object cls):
        cdef Py_ssize_t n = self.ncols, i = 0, c, size
        cdef const unsigned char *kinds = self.kinds
        cdef const unsigned char *elems = self.elems
        cdef const unsigned char *p
        cdef unsigned char kind
        cdef object row, value
        cdef bint shaped = cls is not None
        cdef bint check_gc
        cdef list rows = PyList_New(count)
        # Out of the collector's lists while it fills: the collections its own allocations trigger would walk
        # every row decoded so far (tracked again below, as every list is).
        PyObject_GC_UnTrack(rows)
        try:
            for i in range(count):
                row = aiocql_new_row(cls, n) if shaped else PyTuple_New(n)
                check_gc = False  # set by any value not built in C from a fixed, collector-free type
                c = 0
                while True:
                    # nulls and the common kinds in one C loop; it stops at any other value (left to the code below)
                    c = aiocql_fast_values(row, c, n, kinds, data, length, &at)
                    if c == n:
                        break
                    if c < 0:  # -2 (-1 raised already)
                        raise self._truncated(i, count)
                    size = aiocql_i32(data + at)  # fast_values checked that the length and the value are there
                    at += 4
                    p = data + at
                    kind = kinds[c]
                    check_gc = True
                    if size != _SIZES[kind] and kind < K_TEXT:
                        value = self.decoders[c](PyBytes_FromStringAndSize(<const char *>p, size))
                    elif kind == K_TIMESTAMP:
                        value = self._timestamp(aiocql_i64(p))
                    elif kind == K_UUID:
                        value = self._uuid(p, c)
                    else:
                        value = _FALLBACK
                        if kind == K_LIST:
                            value = self._list(p, size, elems[c])
                        elif kind == K_DECIMAL:
                            value = self._decimal(p, size)
                        if value is _FALLBACK:
                            value = self.decoders[c](PyBytes_FromStringAndSize(<const char *>p, size))
                    at += size
                    Py_INCREF(value)
                    PyTuple_SET_ITEM(row, c, value)
                    c += 1
                if shaped:  # built untracked: tracked only if a value needs the collector
                    if check_gc and aiocql_row_needs_gc(row, n, <PyTypeObject *>self.uuid_type):
                        PyObject_GC_Track(row)
                elif not check_gc or not aiocql_row_needs_gc(row, n, <PyTypeObject *>self.uuid_type):
                    PyObject_GC_UnTrack(row)  # PyTuple_New tracks every tuple
                Py_INCREF(row)
                PyList_SET_ITEM(rows, i, row)
        except (_StructError, IndexError):
            raise self._truncated(i, count) from None
        except UnicodeDecodeError as exc:
            raise self.protocol_error(f"row {i}: invalid text value: {exc}") from None
        PyObject_GC_Track(rows)
        return rows, at

    cdef object _native(self, unsigned char kind, const unsigned char *p, Py_ssize_t size):
        # one well-sized value of a native kind (the caller checked fixed sizes)
        if kind == K_INT:
            return PyLong_FromLong(aiocql_i32(p))
        if kind == K_BIGINT:
            return PyLong_FromLongLong(aiocql_i64(p))
        if kind == K_TEXT:
            return aiocql_text(p, size, 0)
        if kind == K_BLOB:
            return PyBytes_FromStringAndSize(<const char *>p, size)
        if kind == K_DOUBLE:
            return PyFloat_FromDouble(aiocql_f64(p))
        if kind == K_BOOLEAN:
            return p[0] != 0
        if kind == K_TIMESTAMP:
            return self._timestamp(aiocql_i64(p))
        if kind == K_UUID:
            if self.off_int < 0:
                return _FALLBACK
            return aiocql_new_uuid(<PyTypeObject *>self.uuid_type, aiocql_uint128(p), self.safe_unknown,
                                   self.off_int, self.off_safe)
        if kind == K_SMALLINT:
            return PyLong_FromLong(aiocql_i16(p))
        if kind == K_TINYINT:
            return PyLong_FromLong(<int8_t>p[0])
        if kind == K_FLOAT:
            return PyFloat_FromDouble(aiocql_f32(p))
        if kind == K_ASCII:
            return aiocql_text(p, size, 1)
        return _FALLBACK

    cdef object _list(self, const unsigned char *p, Py_ssize_t size, unsigned char kind):
        # A well-formed list<native> (no null or wrongly sized element, no trailing byte, valid text), else
        # _FALLBACK: the column's Python decoder then gives the value or the error, exactly.
        cdef Py_ssize_t n, i, at = 4, item
        cdef list out
        cdef object v
        if size < 4:
            return _FALLBACK
        n = aiocql_i32(p)
        if n < 0 or n > (size - 4) // 4:
            return _FALLBACK
        out = PyList_New(n)
        for i in range(n):
            if size - at < 4:
                return _FALLBACK
            item = aiocql_i32(p + at)
            at += 4
            if item < 0 or item > size - at or (_SIZES[kind] >= 0 and item != _SIZES[kind]):
                return _FALLBACK
            try:
                v = self._native(kind, p + at, item)
            except UnicodeDecodeError:
                return _FALLBACK
            if v is _FALLBACK:
                return _FALLBACK
            at += item
            Py_INCREF(v)
            PyList_SET_ITEM(out, i, v)
        if at != size:
            return _FALLBACK
        return out

    cdef object _decimal(self, const unsigned char *p, Py_ssize_t size):
        # decoders.decimal_from for an unscaled part of 1..8 bytes (the same two operations), else _FALLBACK
        cdef Py_ssize_t n = size - 4
        cdef int64_t unscaled
        cdef Py_ssize_t k
        if n < 1 or n > 8:
            return _FALLBACK
        limit = self.decimal_limit_of()
        if limit is not None and n > limit:
            return _FALLBACK
        unscaled = <int8_t>p[4]  # sign-extended first byte, then the rest
        for k in range(5, size):
            unscaled = unscaled * 256 + p[k]
        return self.decimal_type(PyLong_FromLongLong(unscaled)).scaleb(-<int64_t>aiocql_i32(p), self.decimal_context)

    cdef object _timestamp(self, int64_t ms):
        # decoders.timestamp_from_ms, exactly: the aware UTC datetime in the fast range, else the Python path
        cdef int year, month, day
        cdef int64_t days, rest
        if ms < 0 or ms >= self.timestamp_limit:
            return self.timestamp_from_ms(ms)
        days = ms // _MS_PER_DAY
        rest = ms - days * _MS_PER_DAY
        aiocql_civil(days, &year, &month, &day)
        return datetime_new(year, month, day, <int>(rest // 3600000), <int>(rest // 60000 % 60),
                            <int>(rest // 1000 % 60), <int>(rest % 1000) * 1000, self.utc)

    cdef object _uuid(self, const unsigned char *p, Py_ssize_t column):
        if self.off_int < 0:
            return self.decoders[column](PyBytes_FromStringAndSize(<const char *>p, 16))
        return aiocql_new_uuid(<PyTypeObject *>self.uuid_type, aiocql_uint128(p), self.safe_unknown,
                               self.off_int, self.off_safe)


@cython.auto_pickle(False)
cdef class PageDecoder:
    """The rows of one page of a result metadata, shaped as one row type (see RowCodec.page)."""
    cdef RowCodec codec
    cdef object cls

    def __cinit__(self, RowCodec codec, cls):
        self.codec = codec
        self.cls = cls

    def read(self, buf, Py_ssize_t pos, Py_ssize_t count):
        """The ``count`` rows of ``buf`` from ``pos`` (RowCodec.decode's rows, its checks and errors)."""
        return self.codec.decode(buf, pos, count, self.cls)[0]


cdef class RowIter:
    """``async for row in result`` over pages of rows: ``__anext__`` returns the iterator itself as an awaitable
    already complete with the next row, and only at the end of a page the coroutine ``more(self)`` (which
    awaits the next page, hands it over with :meth:`_next_page` and returns its first row, or raises
    StopAsyncIteration). With ``hold``, the first ``__anext__`` calls ``more(self)`` too (which reads the page
    it holds with :meth:`_take`)."""

    cdef list _rows
    cdef Py_ssize_t _index
    cdef object _ready
    cdef bint _has_ready
    cdef bint _hold
    cdef object _stop
    cdef object _more
    cdef object __weakref__

    def __init__(self, list rows, more, bint hold=False):
        self._rows = rows
        self._index = 0
        self._more = more
        self._stop = StopIteration()
        self._has_ready = False
        self._hold = hold  # the next __anext__ goes through more(self) even if rows are left (until _take)

    def __aiter__(self):
        return self

    def __anext__(self):
        cdef Py_ssize_t i = self._index
        if i < len(self._rows) and not self._hold:
            self._index = i + 1
            if self._has_ready:  # an earlier __anext__() not awaited yet: it keeps its own row
                return _Ready(self._rows[i])
            self._ready = self._rows[i]
            self._has_ready = True
            return self
        return self._more(self)

    def _next_page(self, list rows):
        """Continue with ``rows`` (a new page, at least one row); returns its first row."""
        self._rows = rows
        self._index = 1
        self._hold = False
        return rows[0]

    def _take(self, default):
        """The next row of the current page (``default`` if none is left); ends a hold."""
        cdef Py_ssize_t i = self._index
        self._hold = False
        if i < len(self._rows):
            self._index = i + 1
            return self._rows[i]
        return default

    def __await__(self):
        return self

    def __next__(self):  # replaced by _ready_next (below) once the type is ready
        return _ready_next_slow(self)

    def send(self, value):
        return _ready_next_slow(self)

    def throw(self, typ, val=None, tb=None):
        self._has_ready = False
        self._ready = None
        if val is None:
            raise typ
        raise val

    def close(self):
        self._has_ready = False
        self._ready = None


cdef object _ready_next_slow(RowIter it):
    if not it._has_ready:
        raise StopIteration
    value = it._ready
    it._ready = None
    it._has_ready = False
    raise StopIteration(value)


cdef PyObject *_ready_next(PyObject *self) noexcept:
    # tp_iternext of RowIter as an awaitable: "return" the ready row through the reused StopIteration
    cdef RowIter it = <RowIter>self
    cdef object value
    if not it._has_ready:
        aiocql_raise_stop(<PyObject *>it._stop, NULL)
        return NULL
    value = it._ready
    it._ready = None
    it._has_ready = False
    Py_INCREF(value)
    aiocql_raise_stop(<PyObject *>it._stop, <PyObject *>value)
    return NULL


cdef PyObject *_ready_take(PyObject *self, int *done) noexcept:
    # am_send of RowIter (Python 3.11): the ready row as a new reference; NULL with *done set when none
    cdef RowIter it = <RowIter>self
    cdef object value
    if not it._has_ready:
        done[0] = 1
        return NULL
    value = it._ready
    it._ready = None
    it._has_ready = False
    Py_INCREF(value)
    return <PyObject *>value


aiocql_set_iternext(RowIter, _ready_next, _ready_take)


cdef class _Ready:
    """An awaitable already complete with one row (when two __anext__() calls are awaited out of order)."""

    cdef object _value
    cdef bint _done

    def __init__(self, value):
        self._value = value

    def __await__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        self._done = True
        value, self._value = self._value, None
        raise StopIteration(value)

    def send(self, value):
        return self.__next__()


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
