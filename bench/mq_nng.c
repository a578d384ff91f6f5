/*
 * mq_nng.c - mq.h over nng, the successor of nanomsg: push0/pull0 and
 * req0/rep0 sockets, messages received into buffers nng allocates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "mq.h"

struct mq_sock {
	nng_socket s;
	int timeout_ms;              /* the receive timeout set last */
};

/* nng's errors as errno values, near enough for a message. */
static int err(int rv)
{
	switch (rv) {
	case 0: return 0;
	case NNG_ETIMEDOUT: case NNG_EAGAIN: return -EAGAIN;
	case NNG_ENOMEM: return -ENOMEM;
	case NNG_EADDRINUSE: return -EADDRINUSE;
	case NNG_ECONNREFUSED: return -ECONNREFUSED;
	case NNG_ECLOSED: return -EBADF;
	case NNG_EINVAL: return -EINVAL;
	default: return -EIO;
	}
}

const char *mq_library(void)
{
	static char v[32];

	snprintf(v, sizeof v, "nng %s", nng_version());
	return v;
}

int mq_open(enum mq_kind kind, struct mq_sock **out)
{
	struct mq_sock *m = calloc(1, sizeof *m);
	int rv;

	if (!m)
		return -ENOMEM;
	switch (kind) {
	case MQ_PUSH: rv = nng_push0_open(&m->s); break;
	case MQ_PULL: rv = nng_pull0_open(&m->s); break;
	case MQ_REQ: rv = nng_req0_open(&m->s); break;
	default: rv = nng_rep0_open(&m->s); break;
	}
	if (rv) {
		free(m);
		return err(rv);
	}
	/* Buffers of messages like ZeroMQ's high-water marks (1000), not nng's 0. */
	nng_socket_set_int(m->s, NNG_OPT_SENDBUF, 1000);
	nng_socket_set_int(m->s, NNG_OPT_RECVBUF, 1000);
	*out = m;
	return 0;
}

int mq_bind(struct mq_sock *s, const char *url)
{
	return err(nng_listen(s->s, url, NULL, 0));
}

int mq_connect(struct mq_sock *s, const char *url)
{
	return err(nng_dial(s->s, url, NULL, 0));
}

int mq_send(struct mq_sock *s, const void *data, size_t len)
{
	return err(nng_send(s->s, (void *)data, len, 0));
}

int mq_recv(struct mq_sock *s, struct mq_msg *m, int timeout_ms)
{
	int rv;

	if (timeout_ms != s->timeout_ms) {
		nng_socket_set_ms(s->s, NNG_OPT_RECVTIMEO, timeout_ms);
		s->timeout_ms = timeout_ms;
	}
	m->data = NULL;
	rv = nng_recv(s->s, &m->data, &m->len, NNG_FLAG_ALLOC);
	return err(rv);
}

void mq_msg_free(struct mq_msg *m)
{
	nng_free(m->data, m->len);
}

void mq_close(struct mq_sock *s)
{
	/* nng_close drops what is still queued: mq_bench closes once all arrived. */
	nng_close(s->s);
	free(s);
}
