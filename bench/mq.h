/*
 * mq.h - the few socket calls mq_bench needs, over one brokerless messaging
 * library: ZeroMQ (mq_zmq.c) or nng (mq_nng.c).  mq_bench.c is built once
 * with each, as zmq_bench and nng_bench.
 *
 * Every call returns 0 or a negative errno.  Sockets are made after fork,
 * in the worker that uses them: neither library survives a fork.
 */
#ifndef IPCD_BENCH_MQ_H
#define IPCD_BENCH_MQ_H

#include <stddef.h>

enum mq_kind { MQ_PUSH, MQ_PULL, MQ_REQ, MQ_REP };

struct mq_sock;

/* One received message: data and len are valid until mq_msg_free. */
struct mq_msg {
	void *data;
	size_t len;
	_Alignas(16) unsigned char impl[64];   /* the library's own message */
};

/* "zmq 4.3.4", "nng 1.5.2". */
const char *mq_library(void);

int mq_open(enum mq_kind kind, struct mq_sock **out);
int mq_bind(struct mq_sock *s, const char *url);
int mq_connect(struct mq_sock *s, const char *url);
/* Send a copy of len bytes; blocks while the library's queues are full. */
int mq_send(struct mq_sock *s, const void *data, size_t len);
/* Receive one message within timeout_ms: 0, -EAGAIN when none came. */
int mq_recv(struct mq_sock *s, struct mq_msg *m, int timeout_ms);
void mq_msg_free(struct mq_msg *m);
/* Close s; what it sent and was not received yet may be dropped. */
void mq_close(struct mq_sock *s);

#endif
