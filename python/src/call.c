/*
 * call.c - an object's connection to ipcd and the calls made on it: its
 * lock (made anew in a forked child), ipcd's errors as OSError, and the
 * arguments every call shares (the socket path, timeouts).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "call.h"

/* Bumped in the child by fork()'s handler, registered when the module loads,
 * before any object can record it. */
static unsigned fork_count;

static void count_fork(void)
{
	__atomic_add_fetch(&fork_count, 1, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, count_fork);
}

unsigned ipcdpy_forks(void)
{
	return __atomic_load_n(&fork_count, __ATOMIC_RELAXED);
}

const char *ipcdpy_path(PyObject *path)
{
	return path && path != Py_None ? PyUnicode_AsUTF8(path) : NULL;
}

int pyconn_open(struct pyconn *pc, PyObject *path)
{
	const char *p = ipcdpy_path(path);
	int rc;

	if (path && path != Py_None && !p)
		return -1;
	pc->c = NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = ipc_connect(p, &pc->c);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		ipcdpy_error(rc, NULL);
		return -1;
	}
	pthread_mutex_init(&pc->mu, NULL);
	pc->forks = ipcdpy_forks();
	return 0;
}

void pyconn_close(struct pyconn *pc)
{
	if (!pc->c)
		return;
	Py_BEGIN_ALLOW_THREADS
	ipc_disconnect(pc->c);
	Py_END_ALLOW_THREADS
	pc->c = NULL;
	if (pc->forks == ipcdpy_forks())
		pthread_mutex_destroy(&pc->mu);
}

void pyconn_enter(struct pyconn *pc)
{
	unsigned forks = ipcdpy_forks();

	if (pc->forks != forks) {
		/* A copy made by fork(): whoever held the lock is not here. */
		pthread_mutex_init(&pc->mu, NULL);
		pc->forks = forks;
	}
	if (pthread_mutex_trylock(&pc->mu) == 0)
		return;
	Py_BEGIN_ALLOW_THREADS
	pthread_mutex_lock(&pc->mu);
	Py_END_ALLOW_THREADS
}

void pyconn_leave(struct pyconn *pc)
{
	pthread_mutex_unlock(&pc->mu);
}

PyObject *pyconn_fileno(struct pyconn *pc)
{
	int fd;

	pyconn_enter(pc);
	fd = ipc_client_fd(pc->c);
	pyconn_leave(pc);
	if (fd < 0)
		return ipcdpy_error(fd, NULL);
	return PyLong_FromLong(fd);
}

void ipcdpy_last_error(const struct pyconn *pc, char *buf, size_t len)
{
	snprintf(buf, len, "%s", pc->c ? ipc_last_error(pc->c) : "");
}

PyObject *ipcdpy_error(int rc, const char *msg)
{
	PyObject *args;
	char text[512];

	if (msg && *msg)
		snprintf(text, sizeof text, "%s: %s", ipc_strerror(rc), msg);
	else
		snprintf(text, sizeof text, "%s", ipc_strerror(rc));
	/* OSError(errno, text) picks the subclass for errno (TimeoutError...). */
	args = Py_BuildValue("(is)", -rc, text);
	if (args) {
		PyErr_SetObject(PyExc_OSError, args);
		Py_DECREF(args);
	}
	return NULL;
}

int ipcdpy_timeout(PyObject *o, int *ms)
{
	double t;

	if (!o || o == Py_None) {
		*ms = IPC_FOREVER;
		return 0;
	}
	t = PyFloat_AsDouble(o);
	if (t == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(t)) {
		PyErr_SetString(PyExc_ValueError, "timeout is NaN");
		return -1;
	}
	if (t <= 0)
		*ms = 0;
	else if (t * 1000.0 >= (double)INT32_MAX)
		*ms = IPC_FOREVER;
	else
		*ms = (int)ceil(t * 1000.0);
	return 0;
}


int ipcdpy_timeout_args(PyObject *args, int *ms)
{
	PyObject *tmo = Py_None;

	if (!PyArg_ParseTuple(args, "|O", &tmo))
		return -1;
	return ipcdpy_timeout(tmo, ms);
}

int ipcdpy_data_args(PyObject *args, Py_buffer *b, int *ms)
{
	PyObject *tmo = Py_None;

	if (!PyArg_ParseTuple(args, "y*|O", b, &tmo))
		return -1;
	if (ipcdpy_timeout(tmo, ms) < 0) {
		PyBuffer_Release(b);
		return -1;
	}
	return 0;
}
