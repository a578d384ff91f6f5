/*
 * call.h - calls into libipcclient on an object's own connection: the
 * connection and the lock that serialises its calls, the GIL released around
 * a call that can wait, and ipcd's errors raised as OSError.
 */
#ifndef IPCDPY_CALL_H
#define IPCDPY_CALL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

#include <ipcclient.h>

/* One connection to ipcd and the lock that serialises its calls. */
struct pyconn {
	ipc_client *c;
	pthread_mutex_t mu;
	unsigned forks;            /* ipcdpy_forks() of the process mu belongs to */
};

/*
 * How many forks led to this process since the module was loaded: an
 * object that recorded another count was inherited through fork().  It
 * costs no system call, where getpid() is one at every call.
 */
unsigned ipcdpy_forks(void);

/* Room for ipcd's explanation of a failed call. */
#define IPCDPY_MSG_MAX 256

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

/* fileno(): the descriptor of pc's connection, or NULL with OSError set. */
PyObject *pyconn_fileno(struct pyconn *pc);

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

/*
 * A method's arguments (timeout=None) as milliseconds, and (data,
 * timeout=None) for a put or a send: 0, or -1 with an exception set and no
 * buffer held.  A buffer got is the caller's to release.
 */
int ipcdpy_timeout_args(PyObject *args, int *ms);
int ipcdpy_data_args(PyObject *args, Py_buffer *b, int *ms);

/* The socket path argument: None or str (checked by the caller's format). */
const char *ipcdpy_path(PyObject *path);

/*
 * rc = call, made on pc with its lock held and the GIL released (a macro:
 * the GIL's release is a block of its own).  call returns a count, or a
 * negative errno, which is raised as OSError with ipcd's explanation.
 */
#define PYCONN_CALL(pc, rc, call)                                          \
	do {                                                               \
		char pyconn_msg_[IPCDPY_MSG_MAX] = "";                     \
		pyconn_enter(pc);                                          \
		Py_BEGIN_ALLOW_THREADS                                     \
		(rc) = (call);                                             \
		if ((rc) < 0)                                              \
			ipcdpy_last_error((pc), pyconn_msg_, sizeof pyconn_msg_); \
		Py_END_ALLOW_THREADS                                       \
		pyconn_leave(pc);                                          \
		if ((rc) < 0)                                              \
			ipcdpy_error((int)(rc), pyconn_msg_);              \
	} while (0)

/*
 * An object's open: connect pc to path, then rc = call (the open of a
 * handle on it).  On failure rc is negative, pc closed, and an exception set.
 */
#define PYCONN_OPEN(pc, path, rc, call)                                    \
	do {                                                               \
		(rc) = pyconn_open((pc), (path));                          \
		if ((rc) == 0) {                                           \
			PYCONN_CALL(pc, rc, call);                         \
			if ((rc) < 0)                                      \
				pyconn_close(pc);                          \
		}                                                          \
	} while (0)

#endif
