/*
 * queue.c - _ipcd.Queue: one queue handle on its own connection, with the
 * two kinds of batching that make Python's queues fast without changing
 * what a put or a get means.
 *
 * Feeding, as multiprocessing's feeder thread: feed() copies a message into
 * the object's list and returns; a thread of this object (started by the
 * first feed in a process) sends what accumulated with put_async and a flush,
 * so one round trip carries every message put meanwhile.  flush() waits
 * until ipcd has everything fed before it.  An error sending is kept and
 * raised by the next feed or flush.
 *
 * Prefetch: the first get turns on ipcd's pushes (window messages ahead), so
 * later gets cost no round trip.  Messages pushed and not taken stay ipcd's:
 * they return to the queue if the process dies or closes the queue, and a
 * thread of this object gives them back once no get has come for
 * IDLE_RELEASE_MS, so a process that stops getting holds nothing for long.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipcdpy.h"

/* After this long without a get, prefetched messages go back to the queue;
 * the releaser checks as often (a sleeping thread while a process consumes). */
#define IDLE_RELEASE_MS 50
/* Messages pushed ahead of a consumer's gets. */
#define DEFAULT_PREFETCH 256

struct blob {
	void *p;
	size_t n;
};

typedef struct {
	PyObject_HEAD
	struct pyconn pc;
	ipc_queue *q;
	PyObject *weakrefs;
	unsigned window;           /* prefetch asked at the first get; 0: never */
	bool prefetching;          /* pushes are on (under pc.mu) */
	bool redelivered;          /* the last get's message had been delivered before */
	int64_t last_get_ms;       /* when the last get returned (under pc.mu) */
	/* The feeder and the releaser, under tmu; both exit when stopping. */
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	unsigned tforks;           /* ipcdpy_forks() of the process tmu, tcv and the threads belong to */
	struct blob *feed;         /* fed, not yet taken by the feeder */
	size_t nfeed, capfeed;
	bool sending;              /* the feeder sends a batch taken from feed */
	bool feeder_on, releaser_on, stopping;
	pthread_t feeder, releaser;
	int feed_err;              /* the first error sending, until reported */
	char feed_msg[256];
} QueueObject;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void feed_free(QueueObject *o)
{
	for (size_t i = 0; i < o->nfeed; i++)
		free(o->feed[i].p);
	free(o->feed);
	o->feed = NULL;
	o->nfeed = o->capfeed = 0;
}

/*
 * With the GIL held: in a forked child, forget the parent's threads and
 * what it had fed (the parent sends that), and make the locks anew.
 */
static void threads_fork_check(QueueObject *o)
{
	unsigned forks = ipcdpy_forks();

	if (o->tforks == forks)
		return;
	pthread_mutex_init(&o->tmu, NULL);
	pthread_cond_init(&o->tcv, NULL);
	o->tforks = forks;
	feed_free(o);
	o->sending = o->feeder_on = o->releaser_on = o->stopping = false;
	o->feed_err = 0;
}

static void *feeder_main(void *arg)
{
	QueueObject *o = arg;

	pthread_mutex_lock(&o->tmu);
	for (;;) {
		struct blob *batch;
		size_t n;
		char msg[256] = "";
		int rc = 0;

		while (!o->nfeed && !o->stopping)
			pthread_cond_wait(&o->tcv, &o->tmu);
		if (!o->nfeed)
			break;
		batch = o->feed;
		n = o->nfeed;
		o->feed = NULL;
		o->nfeed = o->capfeed = 0;
		o->sending = true;
		pthread_mutex_unlock(&o->tmu);

		pthread_mutex_lock(&o->pc.mu);
		for (size_t i = 0; i < n; i++) {
			if (rc == 0)
				rc = ipc_queue_put_async(o->q, batch[i].p, batch[i].n);
			free(batch[i].p);
		}
		if (rc == 0)
			rc = ipc_queue_flush(o->q, IPC_FOREVER);
		if (rc < 0)
			snprintf(msg, sizeof msg, "%s", ipc_last_error(o->pc.c));
		pthread_mutex_unlock(&o->pc.mu);
		free(batch);

		pthread_mutex_lock(&o->tmu);
		o->sending = false;
		if (rc < 0 && !o->feed_err) {
			o->feed_err = rc;
			memcpy(o->feed_msg, msg, sizeof msg);
		}
		pthread_cond_broadcast(&o->tcv);
	}
	o->feeder_on = false;
	pthread_cond_broadcast(&o->tcv);
	pthread_mutex_unlock(&o->tmu);
	return NULL;
}

/* Under pc.mu: pushes off, what was pushed ahead back to the queue. */
static int prefetch_off(QueueObject *o)
{
	if (!o->prefetching)
		return 0;
	o->prefetching = false;
	return ipc_queue_set_prefetch(o->q, 0);
}

static void *releaser_main(void *arg)
{
	QueueObject *o = arg;

	pthread_mutex_lock(&o->tmu);
	while (!o->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += IDLE_RELEASE_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&o->tcv, &o->tmu, &ts);
		if (o->stopping)
			break;
		pthread_mutex_unlock(&o->tmu);
		/* A get in progress (the lock busy) is not idle. */
		if (pthread_mutex_trylock(&o->pc.mu) == 0) {
			if (now_ms() - o->last_get_ms >= IDLE_RELEASE_MS)
				prefetch_off(o);
			pthread_mutex_unlock(&o->pc.mu);
		}
		pthread_mutex_lock(&o->tmu);
	}
	pthread_mutex_unlock(&o->tmu);
	return NULL;
}

/* Stop this process's threads of o; the feeder sends what was fed first. */
static void threads_stop(QueueObject *o)
{
	if (o->tforks != ipcdpy_forks())
		return;
	Py_BEGIN_ALLOW_THREADS
	pthread_mutex_lock(&o->tmu);
	bool feeder = o->feeder_on, releaser = o->releaser_on;
	o->stopping = true;
	pthread_cond_broadcast(&o->tcv);
	pthread_mutex_unlock(&o->tmu);
	if (feeder)
		pthread_join(o->feeder, NULL);
	if (releaser)
		pthread_join(o->releaser, NULL);
	pthread_mutex_lock(&o->tmu);
	o->feeder_on = o->releaser_on = false;
	pthread_mutex_unlock(&o->tmu);
	Py_END_ALLOW_THREADS
}

static int queue_init(QueueObject *o, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "create", "exclusive", "maxsize", "ack", "durable",
				  "mode", "prefetch", "path", NULL };
	const char *name;
	int create = 0, exclusive = 0, ack = 0, durable = 0;
	unsigned mode = 0, window = DEFAULT_PREFETCH;
	Py_ssize_t maxsize = 0;
	PyObject *path = Py_None;
	ipc_queue_attr attr;
	int rc, flags;

	if (o->pc.c) {
		PyErr_SetString(PyExc_RuntimeError, "the queue is open already");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ppnppIIO", kwlist, &name, &create,
					 &exclusive, &maxsize, &ack, &durable, &mode, &window,
					 &path))
		return -1;
	if (maxsize < 0)
		maxsize = 0;
	memset(&attr, 0, sizeof attr);
	attr.maxsize = (size_t)maxsize;
	attr.mode = mode;
	attr.ack = ack;
	attr.durable = durable;
	flags = (create ? IPC_CREATE : 0) | (exclusive ? IPC_EXCLUSIVE : 0);
	PYCONN_OPEN(&o->pc, path, rc, ipc_queue_open(o->pc.c, name, flags, &attr, &o->q));
	if (rc < 0)
		return -1;
	o->window = window;
	pthread_mutex_init(&o->tmu, NULL);
	pthread_cond_init(&o->tcv, NULL);
	o->tforks = ipcdpy_forks();
	return 0;
}

static void queue_free_handle(QueueObject *o)
{
	if (!o->q)
		return;
	threads_stop(o);
	Py_BEGIN_ALLOW_THREADS
	ipc_queue_close(o->q);
	Py_END_ALLOW_THREADS
	o->q = NULL;
	if (o->tforks == ipcdpy_forks())
		feed_free(o);
	pyconn_close(&o->pc);
}

static void queue_dealloc(QueueObject *o)
{
	if (o->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)o);
	queue_free_handle(o);
	Py_TYPE(o)->tp_free((PyObject *)o);
}

static int check_open(QueueObject *o)
{
	if (o->q)
		return 0;
	PyErr_SetString(PyExc_ValueError, "the queue handle is closed");
	return -1;
}

static PyObject *queue_close(QueueObject *o, PyObject *unused)
{
	queue_free_handle(o);
	Py_RETURN_NONE;
}

static PyObject *queue_put(QueueObject *o, PyObject *args)
{
	Py_buffer b;
	int ms, rc;

	if (check_open(o) < 0 || ipcdpy_data_args(args, &b, &ms) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_queue_put(o->q, b.buf, (size_t)b.len, ms));
	PyBuffer_Release(&b);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* Raise the error the feeder met, once. */
static PyObject *feed_report(QueueObject *o)
{
	int rc = o->feed_err;
	char msg[256];

	memcpy(msg, o->feed_msg, sizeof msg);
	o->feed_err = 0;
	return ipcdpy_error(rc, msg);
}

static PyObject *queue_feed(QueueObject *o, PyObject *arg)
{
	Py_buffer b;
	void *copy;
	bool started = false;
	int rc = 0;

	if (check_open(o) < 0 || PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
		return NULL;
	copy = malloc(b.len ? (size_t)b.len : 1);
	if (!copy) {
		PyBuffer_Release(&b);
		return PyErr_NoMemory();
	}
	memcpy(copy, b.buf, (size_t)b.len);
	threads_fork_check(o);
	pthread_mutex_lock(&o->tmu);   /* held only for a moment by the feeder */
	if (o->feed_err) {
		pthread_mutex_unlock(&o->tmu);
		free(copy);
		PyBuffer_Release(&b);
		return feed_report(o);
	}
	if (o->nfeed == o->capfeed) {
		size_t cap = o->capfeed ? o->capfeed * 2 : 64;
		struct blob *f = realloc(o->feed, cap * sizeof *f);

		if (!f) {
			pthread_mutex_unlock(&o->tmu);
			free(copy);
			PyBuffer_Release(&b);
			return PyErr_NoMemory();
		}
		o->feed = f;
		o->capfeed = cap;
	}
	o->feed[o->nfeed++] = (struct blob){ copy, (size_t)b.len };
	PyBuffer_Release(&b);
	o->stopping = false;
	if (!o->feeder_on) {
		rc = pthread_create(&o->feeder, NULL, feeder_main, o);
		if (rc == 0)
			o->feeder_on = started = true;
		else
			free(o->feed[--o->nfeed].p);
	}
	pthread_cond_broadcast(&o->tcv);
	pthread_mutex_unlock(&o->tmu);
	if (rc != 0)
		return ipcdpy_error(-rc, "starting the feeder thread");
	return PyBool_FromLong(started);
}

static PyObject *queue_flush(QueueObject *o, PyObject *args)
{
	int ms, timed_out = 0;

	if (ipcdpy_timeout_args(args, &ms) < 0)
		return NULL;
	threads_fork_check(o);
	Py_BEGIN_ALLOW_THREADS
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ms > 0) {
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
	}
	pthread_mutex_lock(&o->tmu);
	while ((o->nfeed || o->sending) && o->feeder_on && !timed_out) {
		if (ms < 0)
			pthread_cond_wait(&o->tcv, &o->tmu);
		else
			timed_out = ms == 0 ||
				    pthread_cond_timedwait(&o->tcv, &o->tmu, &ts) == ETIMEDOUT;
	}
	timed_out = timed_out && (o->nfeed || o->sending);
	pthread_mutex_unlock(&o->tmu);
	Py_END_ALLOW_THREADS
	if (o->feed_err)
		return feed_report(o);
	if (timed_out)
		return ipcdpy_error(-ETIMEDOUT, "messages put are still being sent");
	Py_RETURN_NONE;
}

static PyObject *queue_stop_feeder(QueueObject *o, PyObject *unused)
{
	threads_fork_check(o);
	threads_stop(o);
	if (o->feed_err)
		return feed_report(o);
	Py_RETURN_NONE;
}

static PyObject *queue_pending(QueueObject *o, PyObject *unused)
{
	size_t n;

	threads_fork_check(o);
	pthread_mutex_lock(&o->tmu);
	n = o->nfeed + (o->sending ? 1 : 0);
	pthread_mutex_unlock(&o->tmu);
	return PyLong_FromSize_t(n);
}

/* Under pc.mu: pushes on at the first get, and the releaser watching them. */
static int prefetch_on(QueueObject *o)
{
	int rc;

	if (!o->window)
		return 0;
	if (!o->prefetching) {
		rc = ipc_queue_set_prefetch(o->q, o->window);
		if (rc < 0)
			return rc;
		o->prefetching = true;
	}
	/* Inherited by fork(), pushes are asked again on the child's connection,
	 * but the releaser is this process's own to start. */
	if (o->releaser_on)
		return 0;
	pthread_mutex_lock(&o->tmu);
	if (!o->releaser_on && !o->stopping &&
	    pthread_create(&o->releaser, NULL, releaser_main, o) == 0)
		o->releaser_on = true;
	pthread_mutex_unlock(&o->tmu);
	return 0;
}

/* Under pc.mu: one message, from what ipcd pushed ahead once prefetching. */
static int get_one(QueueObject *o, void **data, size_t *len, int ms, unsigned *flags)
{
	int rc = prefetch_on(o);

	if (rc == 0)
		rc = ipc_queue_get_info(o->q, data, len, ms, flags);
	if (rc == -EAGAIN && o->prefetching) {
		/* A push may be on its way: a round trip brings what ipcd sent before. */
		long n = ipc_queue_size(o->q);

		rc = n < 0 ? (int)n : ipc_queue_get_info(o->q, data, len, 0, flags);
	}
	o->last_get_ms = now_ms();
	return rc;
}

static PyObject *queue_get(QueueObject *o, PyObject *args)
{
	PyObject *r;
	void *data = NULL;
	size_t len = 0;
	unsigned flags = 0;
	int ms, rc;

	if (check_open(o) < 0 || ipcdpy_timeout_args(args, &ms) < 0)
		return NULL;
	threads_fork_check(o);
	PYCONN_CALL(&o->pc, rc, get_one(o, &data, &len, ms, &flags));
	if (rc < 0)
		return NULL;
	o->redelivered = (flags & IPC_MSG_REDELIVERED) != 0;
	r = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
	free(data);
	return r;
}

/* Give prefetched messages back to the queue now (the next get asks again). */
static PyObject *queue_release(QueueObject *o, PyObject *unused)
{
	int rc;

	if (check_open(o) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, prefetch_off(o));
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *queue_stat(QueueObject *o, PyObject *unused)
{
	void *mp = NULL;
	size_t len = 0;
	int rc;

	if (check_open(o) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_queue_stat(o->q, &mp, &len));
	return rc < 0 ? NULL : ipcdpy_unpack(mp, len);
}

/* One call that returns a count or 0 / a negative errno. */
static PyObject *queue_simple(QueueObject *o, long (*fn)(ipc_queue *))
{
	long n;

	if (check_open(o) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, n, fn(o->q));
	return n < 0 ? NULL : PyLong_FromLong(n);
}

static long task_done_fn(ipc_queue *q)
{
	return ipc_queue_task_done(q);
}

static PyObject *queue_size(QueueObject *o, PyObject *unused)
{
	return queue_simple(o, ipc_queue_size);
}

static PyObject *queue_purge(QueueObject *o, PyObject *unused)
{
	return queue_simple(o, ipc_queue_purge);
}

static PyObject *queue_task_done(QueueObject *o, PyObject *unused)
{
	return queue_simple(o, task_done_fn);
}

static PyObject *queue_join(QueueObject *o, PyObject *args)
{
	int ms, rc;

	if (check_open(o) < 0 || ipcdpy_timeout_args(args, &ms) < 0)
		return NULL;
	PYCONN_CALL(&o->pc, rc, ipc_queue_join(o->q, ms));
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *queue_fileno(QueueObject *o, PyObject *unused)
{
	return check_open(o) < 0 ? NULL : pyconn_fileno(&o->pc);
}

static PyObject *queue_get_name(QueueObject *o, void *unused)
{
	if (check_open(o) < 0)
		return NULL;
	return PyUnicode_FromString(ipc_queue_name(o->q));
}

static PyObject *queue_get_redelivered(QueueObject *o, void *unused)
{
	return PyBool_FromLong(o->redelivered);
}

static PyObject *queue_get_closed(QueueObject *o, void *unused)
{
	return PyBool_FromLong(o->q == NULL);
}

static PyMethodDef queue_methods[] = {
	{ "put", (PyCFunction)queue_put, METH_VARARGS,
	  "put(data, timeout=None): append a message, waiting while the queue is full." },
	{ "feed", (PyCFunction)queue_feed, METH_O,
	  "feed(data): hand a message to this object's feeder thread and return; True when\n"
	  "this feed started the thread (the first in a process, or after stop_feeder)." },
	{ "flush", (PyCFunction)queue_flush, METH_VARARGS,
	  "flush(timeout=None): wait until ipcd has every message fed before." },
	{ "stop_feeder", (PyCFunction)queue_stop_feeder, METH_NOARGS,
	  "stop_feeder(): send what was fed, then end this process's threads of the object." },
	{ "pending", (PyCFunction)queue_pending, METH_NOARGS,
	  "pending(): messages fed and not yet accepted by ipcd (a batch being sent counts 1)." },
	{ "get", (PyCFunction)queue_get, METH_VARARGS,
	  "get(timeout=None): take the oldest message (bytes)." },
	{ "release", (PyCFunction)queue_release, METH_NOARGS,
	  "release(): return messages pushed ahead and not taken to the queue." },
	{ "size", (PyCFunction)queue_size, METH_NOARGS,
	  "size(): messages in the queue, not counting those pushed ahead to consumers." },
	{ "stat", (PyCFunction)queue_stat, METH_NOARGS, "stat(): the queue's stat map." },
	{ "purge", (PyCFunction)queue_purge, METH_NOARGS, "purge(): drop every message." },
	{ "task_done", (PyCFunction)queue_task_done, METH_NOARGS,
	  "task_done(): acknowledge this handle's oldest unacknowledged get." },
	{ "join", (PyCFunction)queue_join, METH_VARARGS,
	  "join(timeout=None): wait until every message put was got and acknowledged." },
	{ "fileno", (PyCFunction)queue_fileno, METH_NOARGS,
	  "fileno(): the descriptor of this object's connection to ipcd." },
	{ "close", (PyCFunction)queue_close, METH_NOARGS,
	  "close(): send what was fed, close the handle (pushed messages go back)." },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef queue_getset[] = {
	{ "name", (getter)queue_get_name, NULL, "the queue's name", NULL },
	{ "redelivered", (getter)queue_get_redelivered, NULL,
	  "whether the last message got had been delivered before", NULL },
	{ "closed", (getter)queue_get_closed, NULL, "whether close() was called", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject ipcdpy_queue_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ipcd._ipcd.Queue",
	.tp_basicsize = sizeof(QueueObject),
	.tp_dealloc = (destructor)queue_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Queue(name, create=False, exclusive=False, maxsize=0, ack=False, "
		  "durable=False, mode=0, prefetch=256, path=None): a handle on ipcd's queue "
		  "name, on a connection of its own.",
	.tp_weaklistoffset = offsetof(QueueObject, weakrefs),
	.tp_methods = queue_methods,
	.tp_getset = queue_getset,
	.tp_init = (initproc)queue_init,
	.tp_new = PyType_GenericNew,
};
