/*
 * natsc.h - a real NATS JetStream cluster for the tests: three nats-server
 * processes on free loopback ports, each with its store in the test's
 * directory, started and waited for until JetStream answers (a metadata
 * leader is elected), killed and restarted one by one or all together.
 */
#ifndef IPCD_TEST_NATSC_H
#define IPCD_TEST_NATSC_H

#include <sys/types.h>

#define NATSC_SERVERS 3

struct natsc {
	char dir[256];                 /* the servers' stores and logs live here */
	int port[NATSC_SERVERS];       /* client ports */
	int cport[NATSC_SERVERS];      /* cluster (route) ports */
	pid_t pid[NATSC_SERVERS];      /* 0: not running */
	char urls[256];                /* nats://127.0.0.1:P1,... for ipcd --cluster */
};

/* Pick ports, start every server under dir and wait until JetStream answers. */
void natsc_start(struct natsc *nc, const char *dir);

/* Start server i again, on its ports and store. */
void natsc_start_one(struct natsc *nc, int i);

/* Send sig to server i and reap it (SIGKILL or SIGTERM). */
void natsc_kill(struct natsc *nc, int i, int sig);

/* Stop every server that runs (SIGTERM, then SIGKILL after a bound). */
void natsc_stop(struct natsc *nc);

/* Wait up to timeout_ms until JetStream answers through any server: 0 or -ETIMEDOUT. */
int natsc_wait_ready(struct natsc *nc, int timeout_ms);

#endif
