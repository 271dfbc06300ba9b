/* C helpers of aiocql/protocol/_wire.pyx: building slotted Python objects without running their __init__. */
#ifndef AIOCQL_WIRE_HELPERS_H
#define AIOCQL_WIRE_HELPERS_H

#include <Python.h>
#include <structmember.h>

/* The offset of a writable object slot (a __slots__ member), or -1 when ``descr`` is something else. */
static Py_ssize_t aiocql_wire_slot_offset(PyObject *descr) {
    if (!PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member == NULL || member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        return -1;
    }
    return member->offset;
}

/* A new instance of ``type`` with its ``n`` slots at ``offsets`` set to ``values`` (new references taken). */
static PyObject *aiocql_wire_new(PyTypeObject *type, Py_ssize_t n, const Py_ssize_t *offsets, PyObject *const *values) {
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(values[i]);
        *(PyObject **)((char *)obj + offsets[i]) = values[i];
    }
    return obj;
}

#endif
