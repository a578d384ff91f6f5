/*
 * array.c - _ipcd.Array: a shared array of ipcd, mapped into this process
 * and exposed through the buffer protocol, so memoryview, ctypes'
 * from_buffer and numpy read and write ipcd's memory itself, with no copy;
 * and the array's lock, held by ipcd for this process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcdpy.h"

typedef struct {
	PyObject_HEAD
	struct pyconn pc;
	ipc_array *a;
	PyObject *weakrefs;
	void *data;                /* the mapping, or NULL (opened with nomap) */
	Py_ssize_t length, itemsize;
	char format[2];            /* the buffer's struct format: the typecode */
	bool readonly;             /* mapped read-only: this process may not write */
	Py_ssize_t exports;        /* buffers handed out and not yet released */
} ArrayObject;

/* Is the mapping at addr writable?  (libipcclient maps read-only when the
 * array's mode lets this process read only; /proc/self/maps tells which.) */
static bool mapping_writable(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool w = true;

	if (!f)
		return true;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
		    (unsigned long)addr >= lo && (unsigned long)addr < hi) {
			w = perms[1] == 'w';
			break;
		}
	}
	fclose(f);
	return w;
}

static Py_ssize_t typecode_size(char tc)
{
	switch (tc) {
	case 'b': case 'B': return 1;
	case 'h': case 'H': return 2;
	case 'i': case 'I': case 'f': return 4;
	case 'l': case 'L': case 'q': case 'Q': case 'd': return 8;
	default: return 0;
	}
}

static int array_init(ArrayObject *o, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "typecode", "length", "create", "exclusive", "nomap",
				  "durable", "path", NULL };
	const char *name, *tcs = "";
	Py_ssize_t length = 0;
	int create = 0, exclusive = 0, nomap = 0, durable = 0, rc, flags;
	PyObject *path = Py_None;
	char tc;

	if (o->pc.c) {
		PyErr_SetString(PyExc_RuntimeError, "the array is open already");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|snppppO", kwlist, &name, &tcs, &length,
					 &create, &exclusive, &nomap, &durable, &path))
		return -1;
	if (strlen(tcs) > 1 || (tcs[0] && !typecode_size(tcs[0]))) {
		PyErr_Format(PyExc_ValueError, "ipcd has no typecode '%s'", tcs);
		return -1;
	}
	if (length < 0) {
		PyErr_SetString(PyExc_ValueError, "negative length");
		return -1;
	}
	flags = (create ? IPC_CREATE : 0) | (exclusive ? IPC_EXCLUSIVE : 0) |
		(nomap ? IPC_NOMAP : 0) | (durable ? IPC_DURABLE : 0);
	PYCONN_OPEN(&o->pc, path, rc,
		    ipc_array_open(o->pc.c, name, flags, tcs[0], (size_t)length, &o->a));
	if (rc < 0)
		return -1;
	tc = ipc_array_typecode(o->a);
	o->format[0] = tc;
	o->format[1] = '\0';
	o->itemsize = typecode_size(tc);
	o->length = (Py_ssize_t)ipc_array_length(o->a);
	o->data = ipc_array_data(o->a);
	o->readonly = o->data && !mapping_writable(o->data);
	return 0;
}

static void array_free_handle(ArrayObject *o)
{
	if (!o->a)
		return;
	Py_BEGIN_ALLOW_THREADS
	ipc_array_close(o->a);
	Py_END_ALLOW_THREADS
	o->a = NULL;
	o->data = NULL;
	pyconn_close(&o->pc);
}

static void array_dealloc(ArrayObject *o)
{
	if (o->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)o);
	array_free_handle(o);
	Py_TYPE(o)->tp_free((PyObject *)o);
}

static int check_open(ArrayObject *o)
{
	if (o->a)
		return 0;
	PyErr_SetString(PyExc_ValueError, "the array handle is closed");
	return -1;
}

static int array_getbuffer(ArrayObject *o, Py_buffer *view, int flags)
{
	if (check_open(o) < 0)
		return -1;
	if (!o->data) {
		PyErr_SetString(PyExc_BufferError,
				"the array is not mapped in this process (nomap, or no right to read it)");
		return -1;
	}
	if ((flags & PyBUF_WRITABLE) && o->readonly) {
		PyErr_SetString(PyExc_BufferError, "the array is mapped read-only here");
		return -1;
	}
	view->obj = (PyObject *)o;
	Py_INCREF(o);
	view->buf = o->data;
	view->len = o->length * o->itemsize;
	view->readonly = o->readonly;
	view->itemsize = o->itemsize;
	view->format = (flags & PyBUF_FORMAT) ? o->format : NULL;
	view->ndim = 1;
	view->shape = (flags & PyBUF_ND) ? &o->length : NULL;
	view->strides = (flags & PyBUF_STRIDES) ? &o->itemsize : NULL;
	view->suboffsets = NULL;
	view->internal = NULL;
	o->exports++;
	return 0;
}

static void array_releasebuffer(ArrayObject *o, Py_buffer *view)
{
	o->exports--;
}

static PyBufferProcs array_as_buffer = {
	(getbufferproc)array_getbuffer, (releasebufferproc)array_releasebuffer
};

static PyObject *array_close(ArrayObject *o, PyObject *unused)
{
	if (o->exports) {
		PyErr_SetString(PyExc_BufferError,
				"cannot close the array: buffers over its memory are in use");
		return NULL;
	}
	array_free_handle(o);
	Py_RETURN_NONE;
}

/* lock(timeout=None): True once this process holds the lock, False on timeout. */
static PyObject *array_lock(ArrayObject *o, PyObject *args)
{
	int ms, rc;

	if (check_open(o) < 0 || ipcdpy_timeout_args(args, &ms) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_array_lock(o->a, ms));
	if (rc == -EAGAIN || rc == -ETIMEDOUT) {
		PyErr_Clear();         /* not an error here: the lock was not free */
		Py_RETURN_FALSE;
	}
	if (rc < 0)
		return NULL;
	Py_RETURN_TRUE;
}

static PyObject *array_unlock(ArrayObject *o, PyObject *unused)
{
	int rc;

	if (check_open(o) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_array_unlock(o->a));
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* add(index, delta): ipcd's atomic fetch-and-add; returns the old value. */
static PyObject *array_add(ArrayObject *o, PyObject *args)
{
	Py_ssize_t index;
	PyObject *delta;
	bool fl;
	int64_t iold = 0, idelta = 0;
	double fold = 0, fdelta = 0;
	int rc;

	if (!PyArg_ParseTuple(args, "nO", &index, &delta) || check_open(o) < 0)
		return NULL;
	if (index < 0) {
		PyErr_SetString(PyExc_IndexError, "negative index");
		return NULL;
	}
	fl = o->format[0] == 'f' || o->format[0] == 'd';
	if (fl)
		fdelta = PyFloat_AsDouble(delta);
	else
		idelta = PyLong_AsLongLong(delta);
	if (PyErr_Occurred())
		return NULL;
	PYCONN_CALL(&o->pc, rc, fl ? ipc_array_add_f64(o->a, (size_t)index, fdelta, &fold) :
				     ipc_array_add_i64(o->a, (size_t)index, idelta, &iold));
	if (rc == -ERANGE) {
		/* Python's error for it (replacing the OSError). */
		PyErr_SetString(PyExc_IndexError, "array index out of range");
		return NULL;
	}
	if (rc < 0)
		return NULL;
	return fl ? PyFloat_FromDouble(fold) : PyLong_FromLongLong(iold);
}

static PyObject *array_stat(ArrayObject *o, PyObject *unused)
{
	void *mp = NULL;
	size_t len = 0;
	int rc;

	if (check_open(o) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_array_stat(o->a, &mp, &len));
	return rc < 0 ? NULL : ipcdpy_unpack(mp, len);
}

static PyObject *array_get_name(ArrayObject *o, void *unused)
{
	if (check_open(o) < 0)
		return NULL;
	return PyUnicode_FromString(ipc_array_name(o->a));
}

static PyObject *array_get_typecode(ArrayObject *o, void *unused)
{
	return PyUnicode_FromString(o->format);
}

static PyObject *array_get_length(ArrayObject *o, void *unused)
{
	return PyLong_FromSsize_t(o->length);
}

static PyObject *array_get_itemsize(ArrayObject *o, void *unused)
{
	return PyLong_FromSsize_t(o->itemsize);
}

static PyObject *array_get_readonly(ArrayObject *o, void *unused)
{
	return PyBool_FromLong(o->readonly);
}

static PyObject *array_get_closed(ArrayObject *o, void *unused)
{
	return PyBool_FromLong(o->a == NULL);
}

static Py_ssize_t array_len(ArrayObject *o)
{
	return o->length;
}

static PySequenceMethods array_as_sequence = {
	.sq_length = (lenfunc)array_len,
};

static PyMethodDef array_methods[] = {
	{ "lock", (PyCFunction)array_lock, METH_VARARGS,
	  "lock(timeout=None): take the array's lock for this process; False on timeout." },
	{ "unlock", (PyCFunction)array_unlock, METH_NOARGS, "unlock(): release the lock." },
	{ "add", (PyCFunction)array_add, METH_VARARGS,
	  "add(index, delta): atomic fetch-and-add done by ipcd; the old value." },
	{ "stat", (PyCFunction)array_stat, METH_NOARGS, "stat(): the array's stat map." },
	{ "close", (PyCFunction)array_close, METH_NOARGS,
	  "close(): unmap (no buffer may be in use) and free the handle." },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef array_getset[] = {
	{ "name", (getter)array_get_name, NULL, "the array's name", NULL },
	{ "typecode", (getter)array_get_typecode, NULL, "the elements' typecode", NULL },
	{ "length", (getter)array_get_length, NULL, "the number of elements", NULL },
	{ "itemsize", (getter)array_get_itemsize, NULL, "bytes per element", NULL },
	{ "readonly", (getter)array_get_readonly, NULL, "mapped read-only here", NULL },
	{ "closed", (getter)array_get_closed, NULL, "whether close() was called", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject ipcdpy_array_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ipcd._ipcd.Array",
	.tp_basicsize = sizeof(ArrayObject),
	.tp_dealloc = (destructor)array_dealloc,
	.tp_as_sequence = &array_as_sequence,
	.tp_as_buffer = &array_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Array(name, typecode='', length=0, create=False, exclusive=False, "
		  "nomap=False, durable=False, path=None): ipcd's shared array name, mapped.",
	.tp_weaklistoffset = offsetof(ArrayObject, weakrefs),
	.tp_methods = array_methods,
	.tp_getset = array_getset,
	.tp_init = (initproc)array_init,
	.tp_new = PyType_GenericNew,
};
