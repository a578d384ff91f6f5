/*
 * client.c - the ipc_client: connecting, the handshake, fork detection, and
 * the request/reply call every operation is built on.  Also the server-wide
 * operations (introspection, naming the client).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define SYSTEM_SOCKET "/run/ipcd/ipcd.sock"   /* the system broker (ipcd.socket) */

int ipc_default_socket(unsigned i, char *buf, size_t len)
{
	const char *env = getenv("IPCD_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
	const char *paths[2];
	unsigned n = 0;
	int w;

	if (!buf || len == 0)
		return -EINVAL;
	/* A socket named outright is the only one: falling back would reach another broker. */
	if (env && *env) {
		paths[n++] = env;
	} else {
		/* root's own broker is the system's; another user's runs in its session. */
		if (geteuid() != 0 && xdg && *xdg)
			paths[n++] = NULL;   /* $XDG_RUNTIME_DIR/ipcd.sock */
		paths[n++] = SYSTEM_SOCKET;
	}
	if (i >= n)
		return -ENOENT;
	if (paths[i])
		w = snprintf(buf, len, "%s", paths[i]);
	else
		w = snprintf(buf, len, "%s/ipcd.sock", xdg);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/* Is err what connecting where no ipcd serves gives, so the next socket may be tried? */
static bool nobody_there(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED || err == -ENOTDIR;
}

/* The name of the process this library runs in, when it was given one. */
static char process_name[IPC_CLIENT_NAME_MAX + 1];
static pid_t process_name_pid;

/*
 * Forks counted since the library started watching them, and this process's
 * pid for the one check too frequent for a getpid() system call each time:
 * whether an asynchronous put's buffer is this process's (stream.c).  The
 * connection's owner is always checked with getpid(), which no way of
 * forking can fool.  The watch starts when the library is loaded, so its
 * child handler runs before those an application registers later.
 */
static unsigned fork_count;
static pid_t self_pid;
static pthread_once_t fork_watch_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
	__atomic_add_fetch(&fork_count, 1, __ATOMIC_RELAXED);
}

static void refresh_pid(void)
{
	__atomic_store_n(&self_pid, getpid(), __ATOMIC_RELAXED);
}

static void start_watching_forks(void)
{
	refresh_pid();
	pthread_atfork(NULL, count_fork, refresh_pid);
}

__attribute__((constructor)) static void watch_forks_from_load(void)
{
	pthread_once(&fork_watch_once, start_watching_forks);
}

unsigned client_forks(void)
{
	pthread_once(&fork_watch_once, start_watching_forks);
	return __atomic_load_n(&fork_count, __ATOMIC_RELAXED);
}

pid_t client_pid(void)
{
	pthread_once(&fork_watch_once, start_watching_forks);
	return __atomic_load_n(&self_pid, __ATOMIC_RELAXED);
}

void client_set_process_name(const char *name)
{
	process_name_pid = name ? getpid() : 0;
	snprintf(process_name, sizeof process_name, "%s", name ? name : "");
}

int client_wait_ms(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	if (timeout_ms > INT32_MAX - CLIENT_REPLY_GRACE_MS)
		return INT32_MAX;
	return timeout_ms + CLIENT_REPLY_GRACE_MS;
}

void client_drop(ipc_client *c)
{
	/* Only this process's descriptor: a forked parent's socket is untouched. */
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->in.start = c->in.end = 0;
	c->reply_frame = 0;
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
}

/* Connect and shake hands; c->fd is -1 on entry. */
static int client_open(ipc_client *c)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc = io_connect(c->path, &c->fd);

	if (rc < 0) {
		snprintf(c->errmsg, sizeof c->errmsg, "cannot connect to %s", c->path);
		c->fd = -1;
		return rc;
	}
	c->pid = getpid();
	c->gen++;
	if (process_name_pid == c->pid && c->named_by != c->pid)
		snprintf(c->name, sizeof c->name, "%s", process_name);
	if (c->handles)
		memset(c->handles, 0, c->handles_cap * sizeof *c->handles);
	pk = client_req(c, IPC_OP_HELLO, 3);
	msgpack_pack_uint32(pk, IPC_PROTO_VERSION);
	msgpack_pack_uint64(pk, (uint64_t)c->pid);
	proto_pack_cstr(pk, c->name);
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc < 0) {
		client_drop(c);
		return rc;
	}
	if (rep.nres >= 4 && rep.res[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		c->max_message = rep.res[3].via.u64;
	client_done(c);
	return 0;
}

int client_ready(ipc_client *c)
{
	if (c->fd >= 0 && c->pid != getpid())
		client_drop(c);
	if (c->fd >= 0)
		return 0;
	return client_open(c);
}

msgpack_packer *client_req(ipc_client *c, unsigned op, unsigned nargs)
{
	static const char zero[IPC_FRAME_HEADER];

	c->req.size = 0;
	msgpack_sbuffer_write(&c->req, zero, sizeof zero);
	if (++c->next_id == 0)
		c->next_id = 1;
	c->req_id = c->next_id;
	msgpack_pack_array(&c->pk, 2 + nargs);
	msgpack_pack_uint32(&c->pk, op);
	msgpack_pack_uint32(&c->pk, c->req_id);
	return &c->pk;
}

static void set_errmsg(ipc_client *c, const char *msg, size_t len)
{
	if (len >= sizeof c->errmsg)
		len = sizeof c->errmsg - 1;
	memcpy(c->errmsg, msg, len);
	c->errmsg[len] = '\0';
}

void client_done(ipc_client *c)
{
	c->in.start += c->reply_frame;
	c->reply_frame = 0;
}

int client_read(ipc_client *c, int64_t deadline, struct proto_reply *rep)
{
	for (;;) {
		bool msgs;
		const char *frame;
		uint32_t len;
		int rc = io_read_frame(c, deadline, &frame, &len);

		if (rc < 0)
			return rc;
		c->reply_frame = IPC_FRAME_HEADER + len;
		if (proto_decode_reply(frame, len, &c->reply, rep) < 0)
			return -EPROTO;
		if (rep->id != IPC_PUSH_ID)
			return 0;
		if (rep->eventlen == strlen(IPC_PUSH_ERROR) &&
		    memcmp(rep->event, IPC_PUSH_ERROR, rep->eventlen) == 0) {
			/* [0, "error", status, message]: the daemon closes this connection. */
			rc = -EPROTO;
			if (rep->nres >= 1 && rep->res[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
				rc = (int)rep->res[0].via.i64;
			if (rep->nres >= 2 && rep->res[1].type == MSGPACK_OBJECT_STR)
				set_errmsg(c, rep->res[1].via.str.ptr, rep->res[1].via.str.size);
			return rc;
		}
		msgs = rep->eventlen == strlen(IPC_PUSH_MSGS) &&
		       memcmp(rep->event, IPC_PUSH_MSGS, rep->eventlen) == 0;
		if (msgs)
			stream_deliver(c, rep);
		else if (rep->eventlen == strlen(IPC_PUSH_REMOVED) &&
			 memcmp(rep->event, IPC_PUSH_REMOVED, rep->eventlen) == 0) {
			stream_removed(c, rep);
			msgs = true;   /* a waiting get must look again */
		}
		else if (rep->eventlen == strlen(IPC_PUSH_MONITOR) &&
			 memcmp(rep->event, IPC_PUSH_MONITOR, rep->eventlen) == 0) {
			client_event_push(c, rep);
			msgs = true;   /* ipc_monitor_next looks again */
		}
		client_done(c);
		if (msgs)
			return 1;
	}
}

int client_call(ipc_client *c, const void *tail, size_t tlen, int wait_ms,
		struct proto_reply *rep)
{
	size_t body = c->req.size - IPC_FRAME_HEADER + tlen;
	int64_t deadline = io_deadline(wait_ms);
	int rc;

	c->errmsg[0] = '\0';
	if (c->fd < 0)
		return -ENOTCONN;
	if (body > IPC_FRAME_HARD_MAX)
		return -EMSGSIZE;
	ipc_frame_put_len((unsigned char *)c->req.data, (uint32_t)body);
	rc = io_send(c->fd, c->req.data, c->req.size, tail, tlen, wait_ms);
	if (rc == -ECONNRESET) {
		/* The daemon may have said why before closing (too many clients). */
		int why = client_read(c, io_deadline(0), rep);

		if (why < 0 && why != -ETIMEDOUT && why != -ECONNRESET)
			rc = why;
	}
	while (rc == 0) {
		rc = client_read(c, deadline, rep);
		if (rc < 0)
			break;
		if (rc > 0) {
			rc = 0;
			continue;
		}
		if (rep->id == c->req_id) {
			if (rep->status < 0) {
				set_errmsg(c, rep->msg, rep->msglen);
				client_done(c);
			}
			return rep->status;
		}
		/* A reply to a request this client gave up on: skip it. */
		client_done(c);
	}
	client_drop(c);
	if (rc == -ETIMEDOUT && !c->errmsg[0])
		snprintf(c->errmsg, sizeof c->errmsg, "ipcd did not answer in time");
	return rc;
}

int client_call_u64(ipc_client *c, const void *tail, size_t tlen, int wait_ms, uint64_t *v)
{
	struct proto_reply rep;
	int rc = client_call(c, tail, tlen, wait_ms, &rep);

	if (rc < 0)
		return rc;
	if (rep.nres < 1 || rep.res[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		rc = -EPROTO;
	else
		*v = rep.res[0].via.u64;
	client_done(c);
	return rc;
}

int client_send(ipc_client *c)
{
	int rc;

	ipc_frame_put_len((unsigned char *)c->req.data, (uint32_t)(c->req.size - IPC_FRAME_HEADER));
	rc = io_send(c->fd, c->req.data, c->req.size, NULL, 0, CLIENT_CALL_TIMEOUT_MS);
	if (rc < 0)
		client_drop(c);
	return rc;
}

int client_take_fd(ipc_client *c)
{
	int fd;

	if (!c->nfds)
		return -EPROTO;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, --c->nfds * sizeof *c->fds);
	return fd;
}

bool client_handle_live(const ipc_client *c, unsigned gen)
{
	return c->fd >= 0 && c->pid == getpid() && gen == c->gen;
}

void client_close_handle(ipc_client *c, uint32_t num)
{
	struct proto_reply rep;

	msgpack_pack_uint32(client_req(c, IPC_OP_CLOSE, 1), num);
	if (client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep) == 0)
		client_done(c);
}

int client_register(ipc_client *c, ipc_queue *q)
{
	if (q->num > c->handles_cap) {
		uint32_t cap = c->handles_cap ? c->handles_cap : 8;
		ipc_queue **v;

		while (cap < q->num)
			cap *= 2;
		v = realloc(c->handles, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		memset(v + c->handles_cap, 0, (cap - c->handles_cap) * sizeof *v);
		c->handles = v;
		c->handles_cap = cap;
	}
	c->handles[q->num - 1] = q;
	return 0;
}

void client_unregister(ipc_client *c, ipc_queue *q)
{
	if (q->gen == c->gen && q->num && q->num <= c->handles_cap && c->handles[q->num - 1] == q)
		c->handles[q->num - 1] = NULL;
}

int client_copy_bytes(const msgpack_object *o, void **data, size_t *len)
{
	uint32_t n;
	const char *p = proto_bytes(o, &n);

	if (!p && o->type != MSGPACK_OBJECT_BIN && o->type != MSGPACK_OBJECT_STR)
		return -EPROTO;
	*data = malloc(n ? n : 1);
	if (!*data)
		return -ENOMEM;
	if (n)
		memcpy(*data, p, n);
	*len = n;
	return 0;
}

/* Connect to the socket at path. */
static int connect_path(const char *path, ipc_client **out)
{
	ipc_client *c;
	int rc;

	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->path = strdup(path);
	msgpack_sbuffer_init(&c->req);
	msgpack_packer_init(&c->pk, &c->req, msgpack_sbuffer_write);
	msgpack_unpacked_init(&c->reply);
	snprintf(c->name, sizeof c->name, "%s", program_invocation_short_name);
	if (!c->path) {
		ipc_disconnect(c);
		return -ENOMEM;
	}
	rc = client_open(c);
	if (rc < 0) {
		ipc_disconnect(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ipc_connect(const char *path, ipc_client **out)
{
	char buf[PATH_MAX];
	int rc = -ENOENT;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (path)
		return connect_path(path, out);
	/*
	 * The default sockets in turn, while nothing serves there.  A broker
	 * that is there but refuses (permissions, its client limit) answers.
	 */
	for (unsigned i = 0; ipc_default_socket(i, buf, sizeof buf) == 0; i++) {
		rc = connect_path(buf, out);
		if (!nobody_there(rc))
			return rc;
	}
	return rc;
}

void ipc_disconnect(ipc_client *c)
{
	if (!c)
		return;
	client_drop(c);
	free(c->in.data);
	free(c->fds);
	free(c->handles);
	client_events_free(c);
	msgpack_sbuffer_destroy(&c->req);
	msgpack_unpacked_destroy(&c->reply);
	free(c->path);
	free(c);
}

const char *ipc_last_error(const ipc_client *c)
{
	return c ? c->errmsg : "";
}

int client_take_result(ipc_client *c, const struct proto_reply *rep, void **mp, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (rep->nres < 1) {
		client_done(c);
		return -EPROTO;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, rep->res[0]);
	client_done(c);
	*len = sb.size;
	*mp = msgpack_sbuffer_release(&sb);
	return *mp ? 0 : -ENOMEM;
}

/* A server-wide query whose one result is returned as msgpack bytes. */
static int server_query(ipc_client *c, unsigned op, void **mp, size_t *len)
{
	struct proto_reply rep;
	int rc;

	if (!c || !mp || !len)
		return -EINVAL;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	client_req(c, op, 0);
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc < 0)
		return rc;
	return client_take_result(c, &rep, mp, len);
}

int ipc_client_set_name(ipc_client *c, const char *name)
{
	struct proto_reply rep;
	int rc;

	if (!c || !name)
		return -EINVAL;
	snprintf(c->name, sizeof c->name, "%s", name);
	c->named_by = getpid();
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	proto_pack_cstr(client_req(c, IPC_OP_SETNAME, 1), c->name);
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc == 0)
		client_done(c);
	return rc;
}

int ipc_client_fd(ipc_client *c)
{
	int rc;

	if (!c)
		return -EINVAL;
	rc = client_ready(c);
	return rc < 0 ? rc : c->fd;
}

int ipc_server_status(ipc_client *c, void **mp, size_t *len)
{
	return server_query(c, IPC_OP_STATUS, mp, len);
}

int ipc_server_list(ipc_client *c, void **mp, size_t *len)
{
	return server_query(c, IPC_OP_LIST, mp, len);
}

int ipc_server_clients(ipc_client *c, void **mp, size_t *len)
{
	return server_query(c, IPC_OP_CLIENTS, mp, len);
}

int ipc_server_config(ipc_client *c, void **mp, size_t *len)
{
	return server_query(c, IPC_OP_CONFIG, mp, len);
}

/* A request on an object by name with unsigned arguments, answered by a status. */
static int name_call(ipc_client *c, unsigned op, const char *name, unsigned n, const uint64_t *v)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!c || !name)
		return -EINVAL;
	if (strlen(name) > IPC_NAME_MAX)
		return -ENAMETOOLONG;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	pk = client_req(c, op, 1 + n);
	proto_pack_cstr(pk, name);
	for (unsigned i = 0; i < n; i++)
		msgpack_pack_uint64(pk, v[i]);
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc == 0)
		client_done(c);
	return rc;
}

int client_unlink(ipc_client *c, const char *name, unsigned kind)
{
	uint64_t v = kind;

	return name_call(c, IPC_OP_UNLINK, name, 1, &v);
}

int ipc_chmod(ipc_client *c, const char *name, unsigned mode)
{
	uint64_t v = mode;

	if (mode > 0777)
		return -EINVAL;
	return name_call(c, IPC_OP_CHMOD, name, 1, &v);
}

int ipc_chown(ipc_client *c, const char *name, uid_t uid, gid_t gid)
{
	uint64_t v[2] = { uid == (uid_t)-1 ? IPC_ID_KEEP : uid, gid == (gid_t)-1 ? IPC_ID_KEEP : gid };

	return name_call(c, IPC_OP_CHOWN, name, 2, v);
}
