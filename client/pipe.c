/*
 * pipe.c - the pipe half of libipcclient: ends, send, recv, close.
 *
 * An ipc_pipe is one end of a pipe, remembered by name and end number, so
 * that in a forked child (or after a lost connection) it is opened again on
 * its next use: this is how a parent makes a pair, forks, and leaves an end
 * to the child.  The daemon gives an end to the first process that uses it;
 * this file only remembers whether this process did, so that closing an end
 * the process never used, after a fork, asks the daemon to keep it for the
 * child until the child claims it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

struct ipc_pipe {
	ipc_client *c;
	char *name;
	int end;
	int flags;           /* as opened: IPC_CREATE, IPC_EXCLUSIVE, IPC_ONEWAY */
	uint32_t num;        /* the daemon's handle on connection gen */
	unsigned gen;
	pid_t used_by;       /* the process that sent or received on it, or 0 */
	unsigned forks;      /* client_forks() when it was opened */
};

static ipc_pipe *pipe_new(ipc_client *c, const char *name, int end, int flags)
{
	ipc_pipe *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->c = c;
	p->end = end;
	p->flags = flags;
	p->forks = client_forks();
	p->name = strdup(name);
	if (!p->name) {
		free(p);
		return NULL;
	}
	return p;
}

static void pipe_free(ipc_pipe *p)
{
	free(p->name);
	free(p);
}

/* Send P_OPEN for p on c's current connection. */
static int pipe_open_remote(ipc_pipe *p, int flags)
{
	ipc_client *c = p->c;
	msgpack_packer *pk;
	uint64_t num;
	int rc;

	pk = client_req(c, IPC_OP_P_OPEN, 3);
	proto_pack_cstr(pk, p->name);
	msgpack_pack_uint32(pk, (uint32_t)flags);
	msgpack_pack_uint32(pk, (uint32_t)p->end);
	rc = client_call_u64(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &num);
	if (rc < 0)
		return rc;
	p->num = (uint32_t)num;
	p->gen = c->gen;
	return 0;
}

/* Make p usable on this process's connection. */
static int pipe_ready(ipc_pipe *p)
{
	int rc = client_ready(p->c);

	if (rc < 0)
		return rc;
	if (p->gen == p->c->gen)
		return 0;
	return pipe_open_remote(p, p->flags & ~IPC_EXCLUSIVE);
}

int ipc_pipe_open(ipc_client *c, const char *name, int end, int flags, ipc_pipe **out)
{
	ipc_pipe *p;
	int rc;

	if (!c || !name || !out || (end != 0 && end != 1) ||
	    (flags & ~(IPC_CREATE | IPC_EXCLUSIVE | IPC_ONEWAY | IPC_AUTOREMOVE)))
		return -EINVAL;
	*out = NULL;
	if (strlen(name) > IPC_NAME_MAX)
		return -ENAMETOOLONG;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	p = pipe_new(c, name, end, flags);
	if (!p)
		return -ENOMEM;
	rc = pipe_open_remote(p, flags);
	if (rc < 0) {
		pipe_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int ipc_pipe_pair(ipc_client *c, int flags, ipc_pipe **end0, ipc_pipe **end1)
{
	struct proto_reply rep;
	ipc_pipe *p[2] = { NULL, NULL };
	char name[IPC_NAME_MAX + 1];
	uint32_t nlen;
	const char *n;
	int rc;

	if (!c || !end0 || !end1 || (flags & ~IPC_ONEWAY))
		return -EINVAL;
	*end0 = *end1 = NULL;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	msgpack_pack_uint32(client_req(c, IPC_OP_P_PAIR, 1), (uint32_t)flags);
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc < 0)
		return rc;
	n = rep.nres >= 3 && rep.res[0].type == MSGPACK_OBJECT_STR ? proto_bytes(&rep.res[0], &nlen) : NULL;
	if (!n || nlen == 0 || nlen > IPC_NAME_MAX ||
	    rep.res[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    rep.res[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		client_done(c);
		return -EPROTO;
	}
	memcpy(name, n, nlen);
	name[nlen] = '\0';
	for (int e = 0; e < 2; e++) {
		p[e] = pipe_new(c, name, e, flags);
		if (p[e]) {
			p[e]->num = (uint32_t)rep.res[1 + e].via.u64;
			p[e]->gen = c->gen;
		}
	}
	client_done(c);
	if (!p[0] || !p[1]) {
		/* The daemon's handles go with the connection; the pipe with them. */
		ipc_pipe_close(p[0]);
		ipc_pipe_close(p[1]);
		return -ENOMEM;
	}
	*end0 = p[0];
	*end1 = p[1];
	return 0;
}

int ipc_pipe_send(ipc_pipe *p, const void *data, size_t len, int timeout_ms)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!p || (!data && len))
		return -EINVAL;
	rc = pipe_ready(p);
	if (rc < 0)
		return rc;
	if (p->c->max_message && len > p->c->max_message)
		return -EMSGSIZE;
	p->used_by = getpid();
	pk = client_req(p->c, IPC_OP_P_SEND, 4);
	msgpack_pack_uint32(pk, p->num);
	msgpack_pack_uint32(pk, (uint32_t)p->end);
	msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	msgpack_pack_bin(pk, len);
	rc = client_call(p->c, data, len, client_wait_ms(timeout_ms), &rep);
	if (rc == 0)
		client_done(p->c);
	return rc;
}

int ipc_pipe_recv(ipc_pipe *p, void **data, size_t *len, int timeout_ms)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!p || !data || !len)
		return -EINVAL;
	rc = pipe_ready(p);
	if (rc < 0)
		return rc;
	p->used_by = getpid();
	pk = client_req(p->c, IPC_OP_P_RECV, 3);
	msgpack_pack_uint32(pk, p->num);
	msgpack_pack_uint32(pk, (uint32_t)p->end);
	msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	rc = client_call(p->c, NULL, 0, client_wait_ms(timeout_ms), &rep);
	if (rc < 0)
		return rc;
	rc = rep.nres < 1 ? -EPROTO : client_copy_bytes(&rep.res[0], data, len);
	client_done(p->c);
	return rc;
}

void ipc_pipe_close(ipc_pipe *p)
{
	ipc_client *c;
	struct proto_reply rep;

	if (!p)
		return;
	c = p->c;
	/*
	 * Tell the daemon only on this process's own live connection.  An end
	 * this process never used, with a child forked since, may be about to
	 * be claimed by that child: the daemon keeps it for its claimer.
	 */
	if (client_handle_live(c, p->gen)) {
		bool keep = p->used_by != getpid() && p->forks != client_forks();
		msgpack_packer *pk = client_req(c, IPC_OP_P_CLOSE, 2 + keep);

		msgpack_pack_uint32(pk, p->num);
		msgpack_pack_uint32(pk, (uint32_t)p->end);
		if (keep)
			msgpack_pack_uint32(pk, 1);
		if (client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep) == 0)
			client_done(c);
	}
	pipe_free(p);
}

int ipc_pipe_unlink(ipc_client *c, const char *name)
{
	return client_unlink(c, name, IPC_KIND_PIPE);
}

const char *ipc_pipe_name(const ipc_pipe *p)
{
	return p ? p->name : NULL;
}

int ipc_pipe_end(const ipc_pipe *p)
{
	return p ? p->end : -EINVAL;
}
