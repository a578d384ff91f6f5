/*
 * module.c - the _ipcd module: its types, ipcd's stat maps as Python
 * objects, ipcd's admin view (status, list, clients) and unlink.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ipcdpy.h"

static PyObject *unpack_object(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		Py_RETURN_NONE;
	case MSGPACK_OBJECT_BOOLEAN:
		return PyBool_FromLong(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return PyLong_FromUnsignedLongLong(o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return PyLong_FromLongLong(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return PyFloat_FromDouble(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return PyUnicode_DecodeUTF8(o->via.str.ptr, o->via.str.size, "replace");
	case MSGPACK_OBJECT_BIN:
		return PyBytes_FromStringAndSize(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY: {
		PyObject *l = PyList_New(o->via.array.size);

		for (uint32_t i = 0; l && i < o->via.array.size; i++) {
			PyObject *v = unpack_object(&o->via.array.ptr[i]);

			if (!v) {
				Py_CLEAR(l);
				break;
			}
			PyList_SET_ITEM(l, i, v);
		}
		return l;
	}
	case MSGPACK_OBJECT_MAP: {
		PyObject *d = PyDict_New();

		for (uint32_t i = 0; d && i < o->via.map.size; i++) {
			PyObject *k = unpack_object(&o->via.map.ptr[i].key);
			PyObject *v = k ? unpack_object(&o->via.map.ptr[i].val) : NULL;

			if (!v || PyDict_SetItem(d, k, v) < 0)
				Py_CLEAR(d);
			Py_XDECREF(k);
			Py_XDECREF(v);
		}
		return d;
	}
	default:
		PyErr_SetString(PyExc_ValueError, "ipcd sent a value of an unknown msgpack type");
		return NULL;
	}
}

PyObject *ipcdpy_unpack(void *data, size_t len)
{
	msgpack_unpacked u;
	PyObject *r = NULL;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS)
		r = unpack_object(&u.data);
	else
		PyErr_SetString(PyExc_ValueError, "ipcd sent malformed msgpack");
	msgpack_unpacked_destroy(&u);
	free(data);
	return r;
}

/* A one-off connection for a module-level call. */
static int connect_once(PyObject *path, ipc_client **c)
{
	const char *p = ipcdpy_path(path);
	int rc;

	if (path && path != Py_None && !p)
		return -1;
	Py_BEGIN_ALLOW_THREADS
	rc = ipc_connect(p, c);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		ipcdpy_error(rc, NULL);
		return -1;
	}
	return 0;
}

static PyObject *mod_unlink(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "kind", "name", "path", NULL };
	const char *kind, *name;
	PyObject *path = Py_None;
	ipc_client *c;
	char msg[256];
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|O", kwlist, &kind, &name, &path))
		return NULL;
	if (strcmp(kind, "queue") && strcmp(kind, "pipe") && strcmp(kind, "array")) {
		PyErr_Format(PyExc_ValueError, "no kind of object is called '%s'", kind);
		return NULL;
	}
	if (connect_once(path, &c) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = kind[0] == 'q' ? ipc_queue_unlink(c, name) :
	     kind[0] == 'p' ? ipc_pipe_unlink(c, name) : ipc_array_unlink(c, name);
	snprintf(msg, sizeof msg, "%s", ipc_last_error(c));
	ipc_disconnect(c);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return ipcdpy_error(rc, msg);
	Py_RETURN_NONE;
}

/* status, list and clients: one introspection call, its answer as Python objects. */
static PyObject *server_query(PyObject *args, PyObject *kw,
			      int (*fn)(ipc_client *, void **, size_t *))
{
	static char *kwlist[] = { "path", NULL };
	PyObject *path = Py_None;
	ipc_client *c;
	void *mp = NULL;
	size_t len = 0;
	char msg[256];
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &path))
		return NULL;
	if (connect_once(path, &c) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = fn(c, &mp, &len);
	snprintf(msg, sizeof msg, "%s", ipc_last_error(c));
	ipc_disconnect(c);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return ipcdpy_error(rc, msg);
	return ipcdpy_unpack(mp, len);
}

static PyObject *mod_status(PyObject *self, PyObject *args, PyObject *kw)
{
	return server_query(args, kw, ipc_server_status);
}

static PyObject *mod_list(PyObject *self, PyObject *args, PyObject *kw)
{
	return server_query(args, kw, ipc_server_list);
}

static PyObject *mod_clients(PyObject *self, PyObject *args, PyObject *kw)
{
	return server_query(args, kw, ipc_server_clients);
}

static PyMethodDef mod_methods[] = {
	{ "unlink", (PyCFunction)(void (*)(void))mod_unlink, METH_VARARGS | METH_KEYWORDS,
	  "unlink(kind, name, path=None): remove the queue, pipe or array name." },
	{ "status", (PyCFunction)(void (*)(void))mod_status, METH_VARARGS | METH_KEYWORDS,
	  "status(path=None): the daemon's status map." },
	{ "list", (PyCFunction)(void (*)(void))mod_list, METH_VARARGS | METH_KEYWORDS,
	  "list(path=None): a stat map per object the daemon holds." },
	{ "clients", (PyCFunction)(void (*)(void))mod_clients, METH_VARARGS | METH_KEYWORDS,
	  "clients(path=None): a map per connected client." },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef ipcd_module = {
	PyModuleDef_HEAD_INIT, "_ipcd",
	"libipcclient for Python: queues, pipes and shared arrays served by ipcd.",
	-1, mod_methods, NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__ipcd(void);

PyMODINIT_FUNC PyInit__ipcd(void)
{
	PyTypeObject *types[] = { &ipcdpy_queue_type, &ipcdpy_pipe_type, &ipcdpy_array_type };
	const char *names[] = { "Queue", "PipeEnd", "Array" };
	PyObject *m;

	for (size_t i = 0; i < 3; i++)
		if (PyType_Ready(types[i]) < 0)
			return NULL;
	m = PyModule_Create(&ipcd_module);
	if (!m)
		return NULL;
	for (size_t i = 0; i < 3; i++) {
		Py_INCREF(types[i]);
		if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
			Py_DECREF(types[i]);
			Py_DECREF(m);
			return NULL;
		}
	}
	if (PyModule_AddStringConstant(m, "CLIENT_VERSION", IPC_CLIENT_VERSION) < 0 ||
	    PyModule_AddIntConstant(m, "MSG_REDELIVERED", IPC_MSG_REDELIVERED) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
