/*
 * cluster_env.h - the world the cluster-queue tests share: a real
 * three-node nats-server cluster with JetStream on loopback (natsc.c) and
 * two ipcds on it, A (the harness's daemon, on h.sock) and B (on sock_b),
 * with their own state directories, standing for two hosts.
 *
 * Check runs each test in its own process (fork mode), so these globals are
 * that one test's, set by cluster_setup before it and released by
 * cluster_teardown after it.
 */
#ifndef IPCD_TEST_CLUSTER_ENV_H
#define IPCD_TEST_CLUSTER_ENV_H

#include <sys/types.h>
#include <sys/un.h>

#include "clients.h"
#include "natsc.h"

/* Instrumented ipcds and clients run several times slower: Check's limits follow. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 4
#else
#define SLOWDOWN 1
#endif

extern struct harness h;         /* A: h.sock */
extern struct natsc nc;
extern char sock_b[sizeof(((struct sockaddr_un *)0)->sun_path)];
extern pid_t pid_b;              /* B's daemon, 0 once it is gone */

extern const ipc_queue_attr r3;  /* a cluster queue of 3 replicas */
extern const ipc_queue_attr r1;  /* a cluster queue of 1 replica */

/*
 * The test case's setup: the cluster started, A and B started on it and
 * connected, and the cluster able to make a stream of 3 replicas.
 * Teardown stops B, A and the cluster.
 */
void cluster_setup(void);

/*
 * Until q's size (the engine's count of the consumer's pending messages,
 * which follows an acknowledged put or a purge a moment later on a loaded
 * machine) is want, within HARNESS_HANG_MS.
 */
void cluster_wait_size(ipc_queue *q, long want);
void cluster_teardown(void);

/* The cluster map's key of ipcd's status (an integer), or -ENOENT; -EIO if status fails. */
long cluster_key(ipc_client *c, const char *key);

/* Wait until ipcd at sock says it is (want 1) or is not (0) connected; fail the test if not. */
void cluster_wait_connected(const char *sock, long want);

#endif
