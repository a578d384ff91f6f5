/*
 * ipcdpy.h - the _ipcd extension module: Python objects over libipcclient.
 *
 * Every object owns its own ipc_client (one connection per object and
 * process), so that a call blocked in one object never holds up another;
 * calls on one object are serialised by its mutex, taken with the GIL
 * released.  After fork() the child's copy re-initialises its locks on its
 * first call (made with the GIL held) and libipcclient re-opens the handle
 * on the child's own connection.
 */
#ifndef IPCDPY_H
#define IPCDPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>

#include "call.h"

/*
 * msgpack bytes (a stat map) as Python objects, or NULL with an exception;
 * data, from malloc, is freed.
 */
PyObject *ipcdpy_unpack(void *data, size_t len);

extern PyTypeObject ipcdpy_queue_type;
extern PyTypeObject ipcdpy_pipe_type;
extern PyTypeObject ipcdpy_array_type;

#endif
