/*
 * natsc.c - three nats-server processes with JetStream, clustered on
 * loopback (see natsc.h).  Readiness is a state, not a delay: JetStream's
 * $JS.API.INFO answers without an error only once the cluster has elected
 * its metadata leader.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <nats/nats.h>

#include "harness.h"
#include "natsc.h"

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind: %s", strerror(errno));
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

void natsc_start_one(struct natsc *nc, int i)
{
	char port[16], cport[40], store[300], name[16], routes[256], log[300];
	size_t o = 0;
	pid_t pid;

	ck_assert_msg(nc->pid[i] == 0, "nats-server %d runs already", i);
	snprintf(port, sizeof port, "%d", nc->port[i]);
	snprintf(cport, sizeof cport, "nats://127.0.0.1:%d", nc->cport[i]);
	snprintf(store, sizeof store, "%s/n%d", nc->dir, i);
	snprintf(log, sizeof log, "%s/n%d.log", nc->dir, i);
	snprintf(name, sizeof name, "n%d", i);
	for (int j = 0; j < NATSC_SERVERS; j++)
		o += (size_t)snprintf(routes + o, sizeof routes - o, "%snats://127.0.0.1:%d",
				      j ? "," : "", nc->cport[j]);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Its own process group: a SIGKILL of the test's does not race our stop. */
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", port, "-js", "-sd", store,
		       "-n", name, "--cluster_name", "ipcdtest", "--cluster", cport, "--routes",
		       routes, "-l", log, (char *)NULL);
		fprintf(stderr, "exec nats-server: %s\n", strerror(errno));
		_exit(127);
	}
	nc->pid[i] = pid;
}

void natsc_start(struct natsc *nc, const char *dir)
{
	size_t o = 0;

	memset(nc, 0, sizeof *nc);
	snprintf(nc->dir, sizeof nc->dir, "%s/nats", dir);
	ck_assert_msg(mkdir(nc->dir, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", nc->dir,
		      strerror(errno));
	for (int i = 0; i < NATSC_SERVERS; i++) {
		nc->port[i] = free_port();
		nc->cport[i] = free_port();
		o += (size_t)snprintf(nc->urls + o, sizeof nc->urls - o, "%snats://127.0.0.1:%d",
				      i ? "," : "", nc->port[i]);
	}
	for (int i = 0; i < NATSC_SERVERS; i++)
		natsc_start_one(nc, i);
	ck_assert_msg(natsc_wait_ready(nc, HARNESS_HANG_MS) == 0,
		      "the nats-server cluster was not ready within %d s", HARNESS_HANG_MS / 1000);
}

void natsc_kill(struct natsc *nc, int i, int sig)
{
	if (!nc->pid[i])
		return;
	kill(nc->pid[i], sig);
	if (harness_wait_child(nc->pid[i], HARNESS_HANG_MS) < 0) {
		kill(nc->pid[i], SIGKILL);
		harness_wait_child(nc->pid[i], HARNESS_HANG_MS);
	}
	nc->pid[i] = 0;
}

void natsc_stop(struct natsc *nc)
{
	for (int i = 0; i < NATSC_SERVERS; i++)
		natsc_kill(nc, i, SIGTERM);
}

int natsc_wait_ready(struct natsc *nc, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	int rc = -ETIMEDOUT;

	while (harness_now_ms() < end && rc < 0) {
		natsConnection *conn = NULL;
		natsMsg *reply = NULL;

		if (natsConnection_ConnectTo(&conn, nc->urls) == NATS_OK &&
		    natsConnection_RequestString(&reply, conn, "$JS.API.INFO", "", 2000) == NATS_OK &&
		    natsMsg_GetDataLength(reply) > 0 && !strstr(natsMsg_GetData(reply), "\"error\""))
			rc = 0;
		natsMsg_Destroy(reply);
		natsConnection_Destroy(conn);
		if (rc < 0)
			harness_sleep_ms(100);
	}
	nats_CloseAndWait(0);
	return rc;
}
