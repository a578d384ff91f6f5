/*
 * mq_zmq.c - mq.h over ZeroMQ (libzmq): one context per process, made on
 * first use (after fork), messages received as zmq_msg_t without a copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <zmq.h>

#include "mq.h"

_Static_assert(sizeof(zmq_msg_t) <= sizeof(((struct mq_msg *)0)->impl), "zmq_msg_t fits");

struct mq_sock {
	void *s;
	int timeout_ms;              /* the receive timeout set last */
};

static void *ctx;

const char *mq_library(void)
{
	static char v[32];
	int major, minor, patch;

	zmq_version(&major, &minor, &patch);
	snprintf(v, sizeof v, "zmq %d.%d.%d", major, minor, patch);
	return v;
}

int mq_open(enum mq_kind kind, struct mq_sock **out)
{
	static const int types[] = { [MQ_PUSH] = ZMQ_PUSH, [MQ_PULL] = ZMQ_PULL,
				     [MQ_REQ] = ZMQ_REQ, [MQ_REP] = ZMQ_REP };
	struct mq_sock *m = malloc(sizeof *m);
	int linger = 0;

	if (!m)
		return -ENOMEM;
	if (!ctx && !(ctx = zmq_ctx_new())) {
		free(m);
		return -errno;
	}
	m->s = zmq_socket(ctx, types[kind]);
	if (!m->s) {
		free(m);
		return -errno;
	}
	zmq_setsockopt(m->s, ZMQ_LINGER, &linger, sizeof linger);
	m->timeout_ms = -1;
	*out = m;
	return 0;
}

int mq_bind(struct mq_sock *s, const char *url)
{
	return zmq_bind(s->s, url) < 0 ? -errno : 0;
}

int mq_connect(struct mq_sock *s, const char *url)
{
	return zmq_connect(s->s, url) < 0 ? -errno : 0;
}

int mq_send(struct mq_sock *s, const void *data, size_t len)
{
	while (zmq_send(s->s, data, len, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int mq_recv(struct mq_sock *s, struct mq_msg *m, int timeout_ms)
{
	zmq_msg_t *zm = (zmq_msg_t *)m->impl;

	if (timeout_ms != s->timeout_ms) {
		zmq_setsockopt(s->s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
		s->timeout_ms = timeout_ms;
	}
	zmq_msg_init(zm);
	if (zmq_msg_recv(zm, s->s, 0) < 0) {
		int e = errno;

		zmq_msg_close(zm);
		return e == EAGAIN ? -EAGAIN : -e;
	}
	m->data = zmq_msg_data(zm);
	m->len = zmq_msg_size(zm);
	return 0;
}

void mq_msg_free(struct mq_msg *m)
{
	zmq_msg_close((zmq_msg_t *)m->impl);
}

void mq_close(struct mq_sock *s)
{
	zmq_close(s->s);
	free(s);
}
