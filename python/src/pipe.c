/*
 * pipe.c - _ipcd.PipeEnd: one end of an ipcd pipe, on a connection of its
 * own, so that the two ends of a pair can block in two threads of one
 * process, and an end left to a child is re-opened there by name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipcdpy.h"

typedef struct {
	PyObject_HEAD
	struct pyconn pc;
	ipc_pipe *p;
} PipeObject;

/* Open end of name on a new connection into o. */
static int pipe_open_end(PipeObject *o, PyObject *path, const char *name, int end, int flags)
{
	int rc;

	PYCONN_OPEN(&o->pc, path, rc, ipc_pipe_open(o->pc.c, name, end, flags, &o->p));
	return rc < 0 ? -1 : 0;
}

static int pipe_init(PipeObject *o, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "end", "create", "exclusive", "oneway", "path", NULL };
	const char *name;
	int end, create = 0, exclusive = 0, oneway = 0;
	PyObject *path = Py_None;

	if (o->pc.c) {
		PyErr_SetString(PyExc_RuntimeError, "the pipe end is open already");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "si|pppO", kwlist, &name, &end, &create,
					 &exclusive, &oneway, &path))
		return -1;
	return pipe_open_end(o, path, name, end, (create ? IPC_CREATE : 0) |
			     (exclusive ? IPC_EXCLUSIVE : 0) | (oneway ? IPC_ONEWAY : 0));
}

static void pipe_free_handle(PipeObject *o)
{
	if (!o->p)
		return;
	Py_BEGIN_ALLOW_THREADS
	ipc_pipe_close(o->p);
	Py_END_ALLOW_THREADS
	o->p = NULL;
	pyconn_close(&o->pc);
}

static void pipe_dealloc(PipeObject *o)
{
	pipe_free_handle(o);
	Py_TYPE(o)->tp_free((PyObject *)o);
}

/*
 * pair(oneway=False, path=None): a new anonymous pipe's two ends.  ipcd
 * makes both on one connection; end 1 is opened again on a connection of its
 * own, and the first handle, never used, dropped (the end stays free).
 */
static PyObject *pipe_pair(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "oneway", "path", NULL };
	int oneway = 0, rc;
	PyObject *path = Py_None;
	PipeObject *e0, *e1;
	ipc_pipe *first1 = NULL;
	char msg[256], name[256];

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|pO", kwlist, &oneway, &path))
		return NULL;
	e0 = (PipeObject *)type->tp_alloc(type, 0);
	e1 = (PipeObject *)type->tp_alloc(type, 0);
	if (!e0 || !e1)
		goto fail;
	if (pyconn_open(&e0->pc, path) < 0)
		goto fail;
	Py_BEGIN_ALLOW_THREADS
	rc = ipc_pipe_pair(e0->pc.c, oneway ? IPC_ONEWAY : 0, &e0->p, &first1);
	snprintf(msg, sizeof msg, "%s", ipc_last_error(e0->pc.c));
	if (rc == 0)
		snprintf(name, sizeof name, "%s", ipc_pipe_name(e0->p));
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		ipcdpy_error(rc, msg);
		goto fail;
	}
	rc = pipe_open_end(e1, path, name, 1, 0);
	Py_BEGIN_ALLOW_THREADS
	ipc_pipe_close(first1);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		goto fail;
	return Py_BuildValue("(NN)", e0, e1);
fail:
	Py_XDECREF(e0);
	Py_XDECREF(e1);
	return NULL;
}

static int check_open(PipeObject *o)
{
	if (o->p)
		return 0;
	PyErr_SetString(PyExc_OSError, "handle is closed");
	return -1;
}

static PyObject *pipe_send(PipeObject *o, PyObject *args)
{
	Py_buffer b;
	int ms, rc;

	if (check_open(o) < 0 || ipcdpy_data_args(args, &b, &ms) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_pipe_send(o->p, b.buf, (size_t)b.len, ms));
	PyBuffer_Release(&b);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *pipe_recv(PipeObject *o, PyObject *args)
{
	PyObject *r;
	void *data = NULL;
	size_t len = 0;
	int ms, rc;

	if (check_open(o) < 0 || ipcdpy_timeout_args(args, &ms) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_pipe_recv(o->p, &data, &len, ms));
	if (rc < 0)
		return NULL;
	r = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
	free(data);
	return r;
}

static PyObject *pipe_close(PipeObject *o, PyObject *unused)
{
	pipe_free_handle(o);
	Py_RETURN_NONE;
}

static PyObject *pipe_fileno(PipeObject *o, PyObject *unused)
{
	return check_open(o) < 0 ? NULL : pyconn_fileno(&o->pc);
}

static PyObject *pipe_get_name(PipeObject *o, void *unused)
{
	if (check_open(o) < 0)
		return NULL;
	return PyUnicode_FromString(ipc_pipe_name(o->p));
}

static PyObject *pipe_get_end(PipeObject *o, void *unused)
{
	if (check_open(o) < 0)
		return NULL;
	return PyLong_FromLong(ipc_pipe_end(o->p));
}

static PyObject *pipe_get_closed(PipeObject *o, void *unused)
{
	return PyBool_FromLong(o->p == NULL);
}

static PyMethodDef pipe_methods[] = {
	{ "pair", (PyCFunction)(void (*)(void))pipe_pair, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	  "pair(oneway=False, path=None): the two ends of a new anonymous pipe." },
	{ "send", (PyCFunction)pipe_send, METH_VARARGS,
	  "send(data, timeout=None): send a message from this end." },
	{ "recv", (PyCFunction)pipe_recv, METH_VARARGS,
	  "recv(timeout=None): the oldest message sent to this end (bytes)." },
	{ "fileno", (PyCFunction)pipe_fileno, METH_NOARGS,
	  "fileno(): the descriptor of this end's connection to ipcd." },
	{ "close", (PyCFunction)pipe_close, METH_NOARGS,
	  "close(): close this end if this process used it, and free the handle." },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef pipe_getset[] = {
	{ "name", (getter)pipe_get_name, NULL, "the pipe's name", NULL },
	{ "end", (getter)pipe_get_end, NULL, "this handle's end, 0 or 1", NULL },
	{ "closed", (getter)pipe_get_closed, NULL, "whether close() was called", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject ipcdpy_pipe_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ipcd._ipcd.PipeEnd",
	.tp_basicsize = sizeof(PipeObject),
	.tp_dealloc = (destructor)pipe_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "PipeEnd(name, end, create=False, exclusive=False, oneway=False, path=None): "
		  "end 0 or 1 of ipcd's pipe name, on a connection of its own.",
	.tp_methods = pipe_methods,
	.tp_getset = pipe_getset,
	.tp_init = (initproc)pipe_init,
	.tp_new = PyType_GenericNew,
};
