/* C helpers of aiocql/types/_core.pyx: big-endian reads, the row base type, uuid.UUID and datetime
 * construction, and the reused StopIteration of the row iterator. Included by the Cython module only. */
#ifndef AIOCQL_CORE_HELPERS_H
#define AIOCQL_CORE_HELPERS_H

#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* ---- big-endian reads (the caller has checked the bounds) ---- */

static inline uint32_t aiocql_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline int32_t aiocql_i32(const unsigned char *p) { return (int32_t)aiocql_u32(p); }
static inline int16_t aiocql_i16(const unsigned char *p) { return (int16_t)(((uint16_t)p[0] << 8) | p[1]); }
static inline uint64_t aiocql_u64(const unsigned char *p) {
    return ((uint64_t)aiocql_u32(p) << 32) | (uint64_t)aiocql_u32(p + 4);
}
static inline int64_t aiocql_i64(const unsigned char *p) { return (int64_t)aiocql_u64(p); }
static inline double aiocql_f64(const unsigned char *p) {
    uint64_t bits = aiocql_u64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}
static inline double aiocql_f32(const unsigned char *p) {
    uint32_t bits = aiocql_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

/* The str of size bytes of text: ASCII (the common case) copied straight into a new compact str, anything else
 * through CPython's strict decoder (UTF-8, or ASCII for an ascii column), which gives the same str or raises
 * UnicodeDecodeError. Sizes 0 and 1 also go to the decoder, which returns its cached strings. */
static inline PyObject *aiocql_text(const unsigned char *p, Py_ssize_t size, int ascii_column) {
    if (size > 1) {
        uint64_t seen = 0, word;
        Py_ssize_t i = 0;
        for (; i + 8 <= size; i += 8) {
            memcpy(&word, p + i, 8);
            seen |= word;
        }
        for (; i < size; i++) {
            seen |= p[i];
        }
        if (!(seen & 0x8080808080808080ULL)) {
            PyObject *s = PyUnicode_New(size, 127);
            if (s != NULL) {
                memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)size);
            }
            return s;
        }
    }
    return ascii_column ? PyUnicode_DecodeASCII((const char *)p, size, NULL)
                        : PyUnicode_DecodeUTF8((const char *)p, size, NULL);
}

/* ---- the common values of a row, in one C loop (RowCodec._decode handles every other one) ----
 *
 * Kind codes as in _core.pyx (1 int, 2 bigint, 3 smallint, 4 tinyint, 5 double, 6 float, 7 boolean, 10 text,
 * 11 ascii, 12 blob). From column c on, each value that is null or of one of these kinds with its exact size is
 * built and stored in row; the loop stops at the first other value, returning its column with *at still on its
 * [bytes] length (the caller decodes it), or n when the row is done. -2: the body ends before the value
 * (truncated); -1: a constructor failed (exception set: MemoryError, or UnicodeDecodeError for bad text). */
static inline Py_ssize_t aiocql_fast_values(PyObject *row, Py_ssize_t c, Py_ssize_t n, const unsigned char *kinds,
                                            const unsigned char *data, Py_ssize_t length, Py_ssize_t *at) {
    Py_ssize_t pos = *at;
    for (; c < n; c++) {
        if (length - pos < 4) {
            *at = pos;
            return -2;
        }
        Py_ssize_t size = aiocql_i32(data + pos);
        PyObject *v;
        if (size < 0) {
            v = Py_NewRef(Py_None);
        } else {
            if (size > length - pos - 4) {
                *at = pos;
                return -2;
            }
            const unsigned char *p = data + pos + 4;
            switch (kinds[c]) {
            case 1: v = size == 4 ? PyLong_FromLong(aiocql_i32(p)) : NULL; break;
            case 2: v = size == 8 ? PyLong_FromLongLong(aiocql_i64(p)) : NULL; break;
            case 3: v = size == 2 ? PyLong_FromLong(aiocql_i16(p)) : NULL; break;
            case 4: v = size == 1 ? PyLong_FromLong((int8_t)p[0]) : NULL; break;
            case 5: v = size == 8 ? PyFloat_FromDouble(aiocql_f64(p)) : NULL; break;
            case 6: v = size == 4 ? PyFloat_FromDouble(aiocql_f32(p)) : NULL; break;
            case 7: v = size == 1 ? Py_NewRef(p[0] ? Py_True : Py_False) : NULL; break;
            case 10: v = aiocql_text(p, size, 0); if (v == NULL) { *at = pos; return -1; } break;
            case 11: v = aiocql_text(p, size, 1); if (v == NULL) { *at = pos; return -1; } break;
            case 12: v = PyBytes_FromStringAndSize((const char *)p, size); break;
            default: v = NULL;
            }
            if (v == NULL) {
                *at = pos;
                return PyErr_Occurred() ? -1 : c; /* a failed constructor, or a value for the caller */
            }
            pos += size;
        }
        pos += 4;
        PyTuple_SET_ITEM(row, c, v);
    }
    *at = pos;
    return n;
}

/* The 128-bit unsigned integer of 16 big-endian bytes (a UUID's int). */
static inline PyObject *aiocql_uint128(const unsigned char *p) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(p, 16, Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
#else
    return _PyLong_FromByteArray(p, 16, 0, 0);
#endif
}

/* ---- dates: days since 1970-01-01 to (year, month, day), proleptic Gregorian (days >= 0) ---- */

static inline void aiocql_civil(int64_t days, int *year, int *month, int *day) {
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

/* ---- uuid.UUID built as object.__new__(UUID) plus its two slots, as decoders.uuid_from_int does ---- */

/* The offset of an object slot from its member descriptor (UUID.__dict__["int"]), or -1. */
static Py_ssize_t aiocql_member_offset(PyObject *descr) {
    if (!PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member == NULL || member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        return -1;
    }
    return member->offset;
}

static inline PyObject *aiocql_new_uuid(PyTypeObject *type, PyObject *value, PyObject *safe, Py_ssize_t off_int,
                                        Py_ssize_t off_safe) {
    PyObject *u = type->tp_alloc(type, 0);
    if (u == NULL) {
        return NULL;
    }
    Py_INCREF(value);
    *(PyObject **)((char *)u + off_int) = value;
    Py_INCREF(safe);
    *(PyObject **)((char *)u + off_safe) = safe;
    /* Its slots hold an int and an enum member (UUID refuses attribute assignment): it can be in no cycle,
     * so the garbage collector need not visit it (nor the rows holding it, see aiocql_untrack_row). */
    PyObject_GC_UnTrack(u);
    return u;
}

/* Whether a filled row must be tracked by the garbage collector: only if one of its values could be part
 * of a reference cycle. Not for values that are not GC objects (int, str, bytes, float, bool, None, datetime,
 * Decimal, ...) nor for untracked plain tuples and UUIDs; a list, set, dict or other container: yes. CPython
 * does the same lazily for plain tuples, never for tuple subclasses: without this, every collection walks
 * every live row of the pages being read. */
static inline int aiocql_row_needs_gc(PyObject *row, Py_ssize_t n, PyTypeObject *uuid_type) {
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(row, i);
        if (PyObject_IS_GC(v)) {
            if (PyObject_GC_IsTracked(v) || !(PyTuple_CheckExact(v) || Py_TYPE(v) == uuid_type)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Whether aiocql_new_row may build instances of cls: a tuple subclass with exactly a tuple's layout (no __dict__,
 * no weak references), freed by the collector's free. Any other class (a tuple subclass with a __dict__, whose
 * dict pointer _PyObject_GC_NewVar leaves uninitialised, or no tuple at all) is built by tuple.__new__(cls, row)
 * instead, as the pure decoder does (the same rows, or its TypeError). */
static inline int aiocql_plain_row_type(PyObject *cls) {
    if (!PyType_Check(cls)) {
        return 0;
    }
    PyTypeObject *t = (PyTypeObject *)cls;
    return PyType_IsSubtype(t, &PyTuple_Type) && t->tp_basicsize == PyTuple_Type.tp_basicsize &&
           t->tp_itemsize == PyTuple_Type.tp_itemsize && t->tp_dictoffset == 0 && t->tp_weaklistoffset == 0 &&
           (t->tp_flags & Py_TPFLAGS_HAVE_GC) && t->tp_free == PyObject_GC_Del;
}

/* ---- a free list of rows (what CPython keeps for its tuples, for the rows of the lean row classes) ----
 *
 * Every allocation of a GC object counts towards the collector's next young collection, untracked or not: a
 * streamed page of 5,000 rows triggered 7 of them, each promoting the page's other objects (its list, result,
 * task, futures) a generation, until one in so many became a full collection, which walks every object of the
 * process (a stall of 10-40 ms). A row freed by aiocql_row_dealloc is kept here instead (its items and class
 * released, memory only) and the next page's rows reuse it: no allocation, no count, as for a plain tuple from
 * CPython's own free list. Bounded: rows of 1 to AIOCQL_ROW_FREE_SIZES columns, AIOCQL_ROW_FREE_BUDGET bytes in
 * all (about one page of rows of a few columns). A freed row that does not fit makes room by freeing rows of
 * other widths (kept from earlier results: the width being freed now is the one being streamed), else it is
 * freed as before. The rows of a free list are linked through their first item. */
#define AIOCQL_ROW_FREE_SIZES 64
#define AIOCQL_ROW_FREE_BUDGET ((Py_ssize_t)1 << 20)
static PyObject *aiocql_row_free[AIOCQL_ROW_FREE_SIZES + 1];
static Py_ssize_t aiocql_row_free_count[AIOCQL_ROW_FREE_SIZES + 1];
static Py_ssize_t aiocql_row_free_bytes;

/* The memory one row of n items takes (its GC header included: what the budget counts). */
static inline Py_ssize_t aiocql_row_bytes(Py_ssize_t n) {
    return (Py_ssize_t)(sizeof(PyTupleObject) + (size_t)(n - 1) * sizeof(PyObject *) + 2 * sizeof(void *));
}

/* Make room for a row of n columns by freeing kept rows of other widths, one width after another; 1 when the
 * row then fits the budget, 0 when only rows of its own width (or none) fill it. Each row freed here was kept
 * once: amortized, no more than one eviction per row kept. */
static Py_ssize_t aiocql_row_free_victim = 1; /* the width evicted last: the next eviction starts there */

static int aiocql_row_free_make_room(Py_ssize_t n) {
    Py_ssize_t need = aiocql_row_bytes(n);
    while (aiocql_row_free_bytes + need > AIOCQL_ROW_FREE_BUDGET) {
        if (aiocql_row_free_bytes - aiocql_row_free_count[n] * need <= 0) {
            return 0; /* nothing of another width to give back */
        }
        Py_ssize_t m = aiocql_row_free_victim;
        while (m == n || aiocql_row_free[m] == NULL) { /* ends: another width holds bytes */
            m = m % AIOCQL_ROW_FREE_SIZES + 1;
        }
        PyObject *op = aiocql_row_free[m];
        aiocql_row_free[m] = ((PyTupleObject *)op)->ob_item[0];
        aiocql_row_free_count[m]--;
        aiocql_row_free_bytes -= aiocql_row_bytes(m);
        PyObject_GC_Del(op);
        aiocql_row_free_victim = m;
    }
    return 1;
}

/* Empty every free list (the memory goes back to the allocator); the number of rows released. */
static Py_ssize_t aiocql_row_free_clear(void) {
    Py_ssize_t released = 0;
    for (Py_ssize_t n = 1; n <= AIOCQL_ROW_FREE_SIZES; n++) {
        PyObject *op = aiocql_row_free[n];
        while (op != NULL) {
            PyObject *next = ((PyTupleObject *)op)->ob_item[0];
            PyObject_GC_Del(op);
            op = next;
            released++;
        }
        aiocql_row_free[n] = NULL;
        aiocql_row_free_count[n] = 0;
    }
    aiocql_row_free_bytes = 0;
    return released;
}

/* An instance of the tuple subclass cls (aiocql_plain_row_type) with n NULL items, NOT tracked by the garbage
 * collector (the caller fills it, then tracks it only if a value needs it: aiocql_row_needs_gc). */
static inline PyObject *aiocql_new_row(PyObject *cls, Py_ssize_t n) {
    PyVarObject *row;
    if (n >= 1 && n <= AIOCQL_ROW_FREE_SIZES && aiocql_row_free[n] != NULL) {
        row = (PyVarObject *)aiocql_row_free[n];
        aiocql_row_free[n] = ((PyTupleObject *)row)->ob_item[0];
        aiocql_row_free_count[n]--;
        aiocql_row_free_bytes -= aiocql_row_bytes(n);
        (void)PyObject_InitVar(row, (PyTypeObject *)cls, n); /* its class (a reference), size, refcount 1 */
    } else {
        row = _PyObject_GC_NewVar((PyTypeObject *)cls, n);
        if (row == NULL) {
            return NULL;
        }
    }
    PyObject **items = ((PyTupleObject *)row)->ob_item;
    for (Py_ssize_t i = 0; i < n; i++) { /* NULLs until filled: a row left half-built frees what it holds */
        items[i] = NULL;
    }
    return (PyObject *)row;
}

/* ---- the row base type: a tuple whose subscript also takes a column name ---- */

static PyObject *aiocql_str_index;   /* "_index" */
static PyObject *aiocql_str_missing; /* "_missing" */

/* The value of an int of one digit (|v| < 2**30: any index of a row), read in place; 0 with *ok 0 otherwise. */
static inline Py_ssize_t aiocql_small_index(PyObject *key, int *ok) {
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)key)) {
        *ok = 1;
        return PyUnstable_Long_CompactValue((PyLongObject *)key);
    }
#else
    Py_ssize_t size = Py_SIZE(key); /* -1, 0 or 1 digits of 30 bits, the sign in the size */
    if (size >= -1 && size <= 1) {
        *ok = 1;
        return size * (Py_ssize_t)((PyLongObject *)key)->ob_digit[0];
    }
#endif
    *ok = 0;
    return 0;
}

static PyObject *aiocql_row_subscript(PyObject *self, PyObject *key) {
    if (PyLong_CheckExact(key)) {
        int small;
        Py_ssize_t i = aiocql_small_index(key, &small);
        if (!small) {
            i = PyLong_AsSsize_t(key);
            if (i == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                return PyTuple_Type.tp_as_mapping->mp_subscript(self, key);
            }
        }
        Py_ssize_t n = Py_SIZE(self);
        if (i < 0) {
            i += n;
        }
        if (i < 0 || i >= n) {
            PyErr_SetString(PyExc_IndexError, "tuple index out of range");
            return NULL;
        }
        PyObject *item = PyTuple_GET_ITEM(self, i);
        Py_INCREF(item);
        return item;
    }
    if (PyUnicode_Check(key)) {
        PyObject *index = PyObject_GetAttr((PyObject *)Py_TYPE(self), aiocql_str_index);
        if (index == NULL) {
            return NULL;
        }
        PyObject *position = PyDict_Check(index) ? PyDict_GetItemWithError(index, key) : NULL;
        Py_DECREF(index); /* the class keeps the dict (and so the position) alive */
        if (position == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            PyObject *error = PyObject_CallMethodOneArg(self, aiocql_str_missing, key);
            if (error != NULL) {
                PyErr_SetObject((PyObject *)Py_TYPE(error), error);
                Py_DECREF(error);
            }
            return NULL;
        }
        return aiocql_row_subscript(self, position);
    }
    return PyTuple_Type.tp_as_mapping->mp_subscript(self, key);
}

static PyMappingMethods aiocql_row_as_mapping = {0, aiocql_row_subscript, 0};

static PyTypeObject aiocql_RowBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiocql.types._core.RowBase",
    .tp_basicsize = sizeof(PyTupleObject) - sizeof(PyObject *),
    .tp_itemsize = sizeof(PyObject *),
    .tp_as_mapping = &aiocql_row_as_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The compiled row base: a tuple whose subscript also takes a column name (row[\"k\"]).",
};

/* The ready RowBase type (a new reference), or NULL with an exception. */
static PyObject *aiocql_rowbase_type(void) {
    if (aiocql_str_index == NULL) {
        aiocql_str_index = PyUnicode_InternFromString("_index");
        aiocql_str_missing = PyUnicode_InternFromString("_missing");
        if (aiocql_str_index == NULL || aiocql_str_missing == NULL) {
            return NULL;
        }
    }
    if (aiocql_RowBase_Type.tp_base == NULL) {
        aiocql_RowBase_Type.tp_base = &PyTuple_Type;
    }
    if (PyType_Ready(&aiocql_RowBase_Type) < 0) {
        return NULL;
    }
    Py_INCREF(&aiocql_RowBase_Type);
    return (PyObject *)&aiocql_RowBase_Type;
}

/* ---- a lean deallocator for the row classes (one per set of column names, built by record.row_class) ----
 *
 * A class built with type() gets subtype_dealloc, which handles what a row class never has: __del__, weak
 * references, a __dict__, __slots__ members, and a base other than tuple to find. A row class made only of
 * empty __slots__ over RowBase frees a row as a tuple subclass: untrack, release the items, free, release
 * the class. aiocql_lean_row_type installs it only on a class that has none of those (checked), so any
 * other class, a user's subclass of a row class included (type() gives it subtype_dealloc again), keeps the
 * generic path. */
/* Release the values and the class of a row, and keep its memory for the next row of as many columns. */
static inline void aiocql_row_release(PyObject *op) {
    PyTypeObject *type = Py_TYPE(op);
    PyObject **items = ((PyTupleObject *)op)->ob_item;
    Py_ssize_t n = Py_SIZE(op);
    for (Py_ssize_t i = n; --i >= 0;) {
        Py_XDECREF(items[i]);
    }
    if (n >= 1 && n <= AIOCQL_ROW_FREE_SIZES &&
        (aiocql_row_free_bytes + aiocql_row_bytes(n) <= AIOCQL_ROW_FREE_BUDGET || aiocql_row_free_make_room(n))) {
        items[0] = aiocql_row_free[n]; /* kept for the next row of n columns (aiocql_new_row) */
        aiocql_row_free[n] = op;
        aiocql_row_free_count[n]++;
        aiocql_row_free_bytes += aiocql_row_bytes(n);
    } else {
        type->tp_free(op);
    }
    Py_DECREF(type);
}

static void aiocql_row_dealloc(PyObject *op) {
    if (!PyObject_GC_IsTracked(op)) {
        /* A row the decoder left untracked holds only values that are no GC object, untracked plain tuples and
         * UUIDs (aiocql_row_needs_gc): freeing it recurses into no row, so it needs no trashcan (the tuples
         * have their own), which is most of the cost of freeing a row of a few numbers. */
        aiocql_row_release(op);
        return;
    }
    PyObject_GC_UnTrack(op);
    Py_TRASHCAN_BEGIN(op, aiocql_row_dealloc)
    aiocql_row_release(op); /* inside: a dealloc the trashcan defers (deep nesting) runs this later, once */
    Py_TRASHCAN_END
}

/* Install aiocql_row_dealloc on the row class cls; 1 if installed, 0 if cls does not qualify. */
static int aiocql_lean_row_type(PyObject *cls) {
    PyTypeObject *t = (PyTypeObject *)cls;
    if (!PyType_Check(cls) || !(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || !PyType_IsSubtype(t, &aiocql_RowBase_Type)) {
        return 0;
    }
    if (t->tp_basicsize != aiocql_RowBase_Type.tp_basicsize || t->tp_itemsize != aiocql_RowBase_Type.tp_itemsize ||
        t->tp_dictoffset != 0 || t->tp_weaklistoffset != 0 || t->tp_finalize != NULL || t->tp_del != NULL ||
        t->tp_free != PyObject_GC_Del || !(t->tp_flags & Py_TPFLAGS_HAVE_GC)) {
        return 0;
    }
    /* every class between cls and RowBase must be as plain (no finalizer, nothing to clear) */
    for (PyTypeObject *b = t->tp_base; b != NULL && b != &aiocql_RowBase_Type; b = b->tp_base) {
        if (b->tp_dictoffset != 0 || b->tp_weaklistoffset != 0 || b->tp_finalize != NULL || b->tp_del != NULL ||
            b->tp_basicsize != aiocql_RowBase_Type.tp_basicsize) {
            return 0;
        }
    }
    if (t->tp_dealloc != aiocql_row_dealloc) {
        t->tp_dealloc = aiocql_row_dealloc;
        PyType_Modified(t);
    }
    return 1;
}

/* ---- the row iterator's awaitable: complete with a value without a new StopIteration per row ---- */

/* Raise the reused StopIteration ``stop`` carrying ``value`` (stolen), as a completed await returns it. */
static inline void aiocql_raise_stop(PyObject *stop, PyObject *value) {
    PyStopIterationObject *s = (PyStopIterationObject *)stop;
    Py_XSETREF(s->value, value);
    Py_CLEAR(s->traceback); /* if Python code caught it last time, do not let tracebacks pile up */
    Py_INCREF(stop);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(stop);
#else
    Py_INCREF(PyExc_StopIteration);
    PyErr_Restore(PyExc_StopIteration, stop, NULL);
#endif
}

/* Python 3.11's SEND (await) asks am_send first: the ready row is returned with no exception at all. From 3.12
 * SEND calls tp_iternext only, hence the reused StopIteration. */
typedef PyObject *(*aiocql_ready_take)(PyObject *self, int *done);
static aiocql_ready_take aiocql_take;

#if PY_VERSION_HEX < 0x030C0000
static PySendResult aiocql_ready_send(PyObject *self, PyObject *arg, PyObject **result) {
    int done = 0;
    PyObject *value = aiocql_take(self, &done);
    if (value == NULL && !done) {
        return PYGEN_ERROR;
    }
    *result = value != NULL ? value : Py_NewRef(Py_None);
    return PYGEN_RETURN;
}
#endif

static inline void aiocql_set_iternext(PyObject *type, iternextfunc next, aiocql_ready_take take) {
    PyTypeObject *t = (PyTypeObject *)type;
    t->tp_iternext = next;
    aiocql_take = take;
#if PY_VERSION_HEX < 0x030C0000
    if (t->tp_as_async != NULL) {
        t->tp_as_async->am_send = aiocql_ready_send;
    }
#endif
    PyType_Modified(t);
}

#endif
