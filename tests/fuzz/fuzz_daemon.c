/*
 * fuzz_daemon.c - libFuzzer target for everything a client's bytes reach in
 * ipcd: the input is what one client sends on its connection.  The real
 * server runs in this process; each input arrives on a fresh connection
 * (one end of a socketpair handed to conn_create, as accept would), the
 * loop runs until the daemon has read it all, answered and seen the end of
 * the stream, and then every object is removed so the next input starts
 * from an empty daemon.  Frame splitting, decoding, the gate, the handlers,
 * parking, durable queues' logs (in a temporary state directory, without
 * fsync) and the release of what the connection held all run as in ipcd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "object.h"
#include "qlog.h"
#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static struct limits start_limits;   /* config.set may change them: each input starts here */
static char dir[64];

static void remove_dir(void)
{
	char path[128];

	server_destroy(srv);
	snprintf(path, sizeof path, "%s/ipcd.sock.lock", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/state/lock", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/state", dir);
	rmdir(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct config_source src;   /* SIGHUP never comes: nothing to re-read */
	struct config cfg;
	char path[128], state[128];

	config_init(&cfg);
	/* Small limits, so the fuzzer reaches them. */
	cfg.lim.max_message = 64 * 1024;
	cfg.lim.max_memory = 1024 * 1024;
	cfg.lim.max_output = 256 * 1024;
	cfg.lim.max_objects = 16;
	cfg.fsync = QLOG_FSYNC_NO;
	log_set_level(LOG_LVL_ERROR);
	snprintf(dir, sizeof dir, "/tmp/ipcd-fuzz.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/ipcd.sock", dir);
	snprintf(state, sizeof state, "%s/state", dir);
	cfg.socket = strdup(path);
	cfg.state_dir = strdup(state);
	srv = cfg.socket && cfg.state_dir ? server_create(&cfg, &src) : NULL;
	config_free(&cfg);
	if (!srv)
		exit(1);
	start_limits = srv->lim;
	atexit(remove_dir);
	return 0;
}

/* Read and drop what the daemon answered. */
static void drain(int fd)
{
	char buf[65536];

	while (read(fd, buf, sizeof buf) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	size_t off = 0;
	struct conn *c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	c = conn_create(srv, sv[0]);
	if (!c)
		abort();
	/* Feed the input, serving as the socket fills; then end the stream. */
	for (int turns = 0; off < size && turns < 1000; turns++) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break;
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
		drain(sv[1]);
	}
	shutdown(sv[1], SHUT_WR);
	for (int turns = 0; (srv->nconns || !TAILQ_EMPTY(&srv->closing)) && turns < 1000; turns++) {
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
		drain(sv[1]);
	}
	if (srv->nconns)
		conn_close(TAILQ_FIRST(&srv->conns), "fuzz input done");
	if (!TAILQ_EMPTY(&srv->closing))
		conn_close(TAILQ_FIRST(&srv->closing), "fuzz input done");
	/* Run the deferred free of the connection, then forget every object. */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	close(sv[1]);
	object_destroy_all(srv);
	/* Logs of removed queues are freed at the end of the turn. */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	/* The fuzzer's connection is an administrator's: undo what config.set did. */
	srv->lim = start_limits;
	srv->live_set = 0;
	log_set_level(LOG_LVL_ERROR);
	return 0;
}
