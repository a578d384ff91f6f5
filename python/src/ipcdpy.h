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
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include <ipcclient.h>

/* One connection to ipcd and the lock that serialises its calls. */
struct pyconn {
	ipc_client *c;
	pthread_mutex_t mu;
	pid_t pid;                 /* the process mu belongs to */
};

/*
 * Connect pc to the socket path (None: libipcclient's default).  0, or -1
 * with a Python exception set.  The GIL is released while connecting.
 */
int pyconn_open(struct pyconn *pc, PyObject *path);

/* Disconnect (a forked child's copy only forgets the parent's socket). */
void pyconn_close(struct pyconn *pc);

/*
 * Take pc's lock; called with the GIL held, which is released only if the
 * lock is busy.  In a forked child the lock inherited is made anew first.
 */
void pyconn_enter(struct pyconn *pc);
void pyconn_leave(struct pyconn *pc);

/*
 * Set OSError(errno, message) for the negative errno rc; msg is the
 * daemon's explanation (may be "" or NULL).  Returns NULL.
 */
PyObject *ipcdpy_error(int rc, const char *msg);

/* A copy of ipc_last_error(c), taken while c's lock is held. */
void ipcdpy_last_error(const struct pyconn *pc, char *buf, size_t len);

/*
 * A timeout argument in seconds (None: wait forever) as milliseconds for
 * libipcclient: IPC_FOREVER, 0 for a value <= 0, else rounded up.  0 or -1
 * with TypeError set.
 */
int ipcdpy_timeout(PyObject *o, int *ms);

/* The socket path argument: None or str (checked by the caller's format). */
const char *ipcdpy_path(PyObject *path);

/* msgpack bytes (a stat map) as Python objects, or NULL with an exception. */
PyObject *ipcdpy_unpack(const void *data, size_t len);

extern PyTypeObject ipcdpy_queue_type;
extern PyTypeObject ipcdpy_pipe_type;
extern PyTypeObject ipcdpy_array_type;

#endif
