/*
 * test_cluster.c - cluster queues (cluster_env.h: a real three-node
 * nats-server cluster and two ipcds, A and B, standing for two hosts): the
 * same client calls as on a local queue, across the two; queues mapped to
 * the cluster by name, their view in ipcctl; a reload that connects and
 * disconnects, and a daemon with no cluster.  The engine's and the
 * clients' failures are in test_cluster_faults.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cluster_env.h"
#include "codec.h"

/* A stat key of q that is a string, copied to buf ("" if missing). */
static void stat_str(ipc_queue *q, const char *key, char *buf, size_t len)
{
	msgpack_unpacked u;
	size_t mlen, off = 0;
	void *mp;

	buf[0] = '\0';
	ck_assert_ipc(ipc_queue_stat(q, &mp, &mlen), 0);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, mlen, &off) == MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *v = proto_map_get(&u.data, key);

		if (v && v->type == MSGPACK_OBJECT_STR)
			snprintf(buf, len, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
}

/* Until a call on q reaches the engine and learns its stream is gone (-EIDRM). */
static void wait_removed(ipc_queue *q)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	int n;

	/* -ETIMEDOUT: the engine did not answer in time (a loaded machine): ask again. */
	while (((n = ipc_queue_size(q)) >= 0 || n == -ETIMEDOUT) && harness_now_ms() < end)
		harness_sleep_ms(20);
	ck_assert_ipc(n, -EIDRM);
}

START_TEST(test_put_on_a_get_on_b)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "jobs", IPC_CREATE | IPC_EXCLUSIVE, &r3), *qb;
	char where[32];
	void *data;
	size_t len;

	stat_str(qa, "where", where, sizeof where);
	ck_assert_str_eq(where, "cluster");
	ck_assert_int_eq(stat_key(qa, "replicas"), 3);
	/* B opens it by name alone; a second exclusive create is refused. */
	ck_assert_ipc(ipc_queue_open(b, "jobs", IPC_CREATE | IPC_EXCLUSIVE, &r3, &qb), -EEXIST);
	qb = open_ok(b, "jobs", 0, NULL);
	stat_str(qb, "where", where, sizeof where);
	ck_assert_str_eq(where, "cluster");
	ck_assert_int_eq(stat_key(qb, "replicas"), 3);
	/* A cluster queue's messages are the stream's: no shared-memory ring. */
	stat_str(qb, "path", where, sizeof where);
	ck_assert_str_eq(where, "socket");
	ck_assert_ipc(put_str(qa, "one", HARNESS_HANG_MS), 0);
	ck_assert_ipc(put_str(qa, "two", HARNESS_HANG_MS), 0);
	cluster_wait_size(qb, 2);
	ck_assert_ipc(ipc_queue_peek(qb, &data, &len), 0);
	ck_assert_msg(len == 3 && memcmp(data, "one", 3) == 0, "peek saw '%.*s'", (int)len,
		      (char *)data);
	free(data);
	get_expect(qb, "one", HARNESS_HANG_MS);
	get_expect(qb, "two", HARNESS_HANG_MS);
	/* Empty: a get waits out its timeout; a put on the other side wakes one. */
	ck_assert_ipc(ipc_queue_get(qb, &data, &len, 200), -ETIMEDOUT);
	ck_assert_ipc(ipc_queue_get(qb, &data, &len, 0), -EAGAIN);
	ck_assert_ipc(put_str(qa, "three", HARNESS_HANG_MS), 0);
	get_expect(qb, "three", HARNESS_HANG_MS);
	cluster_wait_size(qa, 0);
	/* Purge on B empties it for A too. */
	for (int i = 0; i < 5; i++)
		ck_assert_ipc(put_str(qa, "p", HARNESS_HANG_MS), 0);
	ck_assert_int_eq(ipc_queue_purge(qb), 5);
	/* The consumer's count follows the stream's purge a moment later (the
	 * consumer's leader may be another server). */
	cluster_wait_size(qa, 0);
	/* Unlink on A removes the stream: B learns it at a call after that. */
	ck_assert_ipc(ipc_queue_unlink(a, "jobs"), 0);
	wait_removed(qb);
	ck_assert_ipc(put_str(qb, "late", HARNESS_HANG_MS), -EIDRM);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ck_assert_ipc(ipc_queue_open(a, "jobs", 0, NULL, &qa), -ENOENT);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

/* B removes by name a queue only A ever opened: the stream goes, A learns it. */
START_TEST(test_unlink_on_a_host_that_never_opened_it)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "elsewhere", IPC_CREATE | IPC_EXCLUSIVE, &r1);

	ck_assert_ipc(put_str(qa, "x", HARNESS_HANG_MS), 0);
	ck_assert_ipc(ipc_queue_unlink(b, "elsewhere"), 0);
	wait_removed(qa);
	/* Neither here nor in the cluster. */
	ck_assert_ipc(ipc_queue_unlink(b, "elsewhere"), -ENOENT);
	ck_assert_ipc(ipc_queue_unlink(b, "nowhere"), -ENOENT);
	ipc_queue_close(qa);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

/* Puts waiting for the engine count in ipcd's memory budget, and leave it when answered. */
START_TEST(test_cluster_puts_count_in_the_memory_budget)
{
	ipc_client *a = connect_ok(h.sock);
	ipc_queue *qa = open_ok(a, "budget", IPC_CREATE | IPC_EXCLUSIVE, &r1);
	char big[8192];
	long before = status_key(a, "memory");

	memset(big, 'b', sizeof big);
	ck_assert_ipc(ipc_queue_put(qa, big, sizeof big, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(status_key(a, "memory"), before);
	ck_assert_ipc(ipc_config_set(a, "max-memory", "4096"), 0);
	ck_assert_ipc(ipc_queue_put(qa, big, sizeof big, HARNESS_HANG_MS), -ENOBUFS);
	ck_assert_ipc(ipc_config_set(a, "max-memory", "1G"), 0);
	ck_assert_ipc(ipc_queue_put(qa, big, sizeof big, HARNESS_HANG_MS), 0);
	cluster_wait_size(qa, 2);
	ck_assert_ipc(ipc_queue_unlink(a, "budget"), 0);
	ipc_queue_close(qa);
	ipc_disconnect(a);
}
END_TEST

START_TEST(test_batches_across_hosts)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "batch", IPC_CREATE, &r3), *qb = open_ok(b, "batch", 0, NULL);
	struct iovec in[100], out[100];
	char bufs[100][16];
	int got = 0, n;

	for (int i = 0; i < 100; i++) {
		in[i].iov_base = bufs[i];
		in[i].iov_len = (size_t)snprintf(bufs[i], sizeof bufs[i], "m%d", i);
	}
	ck_assert_int_eq(ipc_queue_put_many(qa, in, 100, HARNESS_HANG_MS), 100);
	for (int i = 0; i < 50; i++)
		ck_assert_ipc(ipc_queue_put_async(qa, "async", 5), 0);
	ck_assert_ipc(ipc_queue_flush(qa, HARNESS_HANG_MS), 0);
	while (got < 100) {
		n = ipc_queue_get_many(qb, out, 100 - (size_t)got, HARNESS_HANG_MS);
		ck_assert_msg(n > 0, "get_many: %s", ipc_strerror(n));
		for (int i = 0; i < n; i++) {
			char want[16];

			snprintf(want, sizeof want, "m%d", got + i);
			ck_assert_msg(out[i].iov_len == strlen(want) &&
				      memcmp(out[i].iov_base, want, out[i].iov_len) == 0,
				      "message %d is '%.*s'", got + i, (int)out[i].iov_len,
				      (char *)out[i].iov_base);
			free(out[i].iov_base);
		}
		got += n;
	}
	cluster_wait_size(qb, 50);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

START_TEST(test_maxsize_is_exact_and_puts_wait)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	const ipc_queue_attr attr = { .maxsize = 3, .replicas = 3 };
	ipc_queue *qa = open_ok(a, "bounded", IPC_CREATE, &attr), *qb = open_ok(b, "bounded", 0, NULL);
	int64_t t0;

	ck_assert_int_eq(stat_key(qb, "maxsize"), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_ipc(put_str(qa, "x", HARNESS_HANG_MS), 0);
	ck_assert_ipc(put_str(qa, "full", 0), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(put_str(qb, "full", 300), -ETIMEDOUT);
	ck_assert_msg(harness_now_ms() - t0 >= 250, "the put did not wait for its timeout");
	cluster_wait_size(qa, 3);
	/* A get on A frees room: B's waiting put goes in. */
	get_expect(qa, "x", HARNESS_HANG_MS);
	ck_assert_ipc(put_str(qb, "in", HARNESS_HANG_MS), 0);
	cluster_wait_size(qa, 3);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

START_TEST(test_cluster_queues_maps_names)
{
	ipc_client *a = connect_ok(h.sock);
	ipc_queue *mapped = open_ok(a, "x.orders", IPC_CREATE, NULL);
	ipc_queue *local = open_ok(a, "y.orders", IPC_CREATE, NULL);
	char where[32];

	stat_str(mapped, "where", where, sizeof where);
	ck_assert_str_eq(where, "cluster");
	ck_assert_int_eq(stat_key(mapped, "replicas"), 1);
	stat_str(local, "where", where, sizeof where);
	ck_assert_str_eq(where, "local");
	ck_assert_int_eq(stat_key(local, "replicas"), 0);
	/* Both opened with the same (no) attributes: only the local one has a ring. */
	stat_str(mapped, "path", where, sizeof where);
	ck_assert_str_eq(where, "socket");
	ck_assert_int_eq(stat_key(mapped, "ring_slots"), -ENOENT);
	stat_str(local, "path", where, sizeof where);
	ck_assert_str_eq(where, "ring");
	ipc_queue_close(mapped);
	ipc_queue_close(local);
	ipc_disconnect(a);
}
END_TEST

static char *ctl_out(const char *const *args)
{
	const char *argv[16] = { IPCCTL_BIN, "-s", h.sock };
	size_t n = 3;
	char *out = NULL;
	int status;

	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	status = harness_run(NULL, argv, &out, HARNESS_HANG_MS);
	ck_assert_msg(status == 0, "ipcctl %s: status 0x%x, output: %s", argv[3], status,
		      out ? out : "");
	return out;
}

START_TEST(test_ipcctl_shows_where_queues_live)
{
	const char *create[] = { "queue", "create", "viactl", "--replicas", "1", NULL };
	const char *local[] = { "queue", "create", "here", NULL };
	const char *ls[] = { "ls", NULL };
	const char *stat[] = { "--json", "queue", "stat", "viactl", NULL };
	const char *status[] = { "status", NULL };
	char *out;

	free(ctl_out(create));
	free(ctl_out(local));
	out = ctl_out(ls);
	ck_assert_msg(strstr(out, "WHERE") && strstr(out, "cluster R1") && strstr(out, "local"),
		      "ls: %s", out);
	free(out);
	out = ctl_out(stat);
	ck_assert_msg(strstr(out, "\"where\":\"cluster\"") && strstr(out, "\"replicas\":1"),
		      "stat --json: %s", out);
	free(out);
	out = ctl_out(status);
	ck_assert_msg(strstr(out, nc.urls) && strstr(out, "\"connected\":1"), "status: %s", out);
	free(out);
}
END_TEST

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* SIGHUP connects to a cluster the file now names, and disconnects from it. */
START_TEST(test_reload_connects_and_disconnects)
{
	char conf[300], text[400];
	const char *args[] = { "-c", conf, NULL };
	ipc_client *c;
	ipc_queue *q;
	int64_t end;

	harness_setup(&h);
	natsc_start(&nc, h.dir);
	/* JetStream answers once its cluster has a leader: the open below needs it. */
	ck_assert_int_eq(natsc_wait_ready(&nc, HARNESS_HANG_MS), 0);
	snprintf(conf, sizeof conf, "%s/ipcd.conf", h.dir);
	write_conf(conf, "log-level = warn\n");
	harness_start(&h, args);
	c = connect_ok(h.sock);
	ck_assert_int_eq(cluster_key(c, "connected"), -ENOENT);
	ck_assert_ipc(ipc_queue_open(c, "later", IPC_CREATE, &r3, &q), -EOPNOTSUPP);
	snprintf(text, sizeof text, "cluster = %s\n", nc.urls);
	write_conf(conf, text);
	kill(h.pid, SIGHUP);
	cluster_wait_connected(h.sock, 1);
	q = open_ok(c, "later", IPC_CREATE, &r3);
	ck_assert_int_eq(stat_key(q, "replicas"), 3);
	ipc_queue_close(q);
	write_conf(conf, "cluster = off\n");
	kill(h.pid, SIGHUP);
	end = harness_now_ms() + HARNESS_HANG_MS;
	while (cluster_key(c, "connected") != -ENOENT && harness_now_ms() < end)
		harness_sleep_ms(20);
	ck_assert_int_eq(cluster_key(c, "connected"), -ENOENT);
	ck_assert_ipc(ipc_queue_open(c, "other", IPC_CREATE, &r3, &q), -EOPNOTSUPP);
	ipc_disconnect(c);
	harness_cleanup(&h);
	natsc_stop(&nc);
}
END_TEST

/* No cluster configured: replicas is refused, local queues are as before. */
START_TEST(test_replicas_without_cluster_is_eopnotsupp)
{
	ipc_client *c;
	ipc_queue *q;

	harness_setup(&h);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_queue_open(c, "r", IPC_CREATE, &r3, &q), -EOPNOTSUPP);
	q = open_ok(c, "r", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(q, "replicas"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_cleanup(&h);
}
END_TEST

static Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc;

	tc = harness_tcase(s, "basic", 240 * SLOWDOWN, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_put_on_a_get_on_b);
	tcase_add_test(tc, test_unlink_on_a_host_that_never_opened_it);
	tcase_add_test(tc, test_cluster_puts_count_in_the_memory_budget);
	tcase_add_test(tc, test_batches_across_hosts);
	tcase_add_test(tc, test_maxsize_is_exact_and_puts_wait);
	tcase_add_test(tc, test_cluster_queues_maps_names);
	tcase_add_test(tc, test_ipcctl_shows_where_queues_live);
	tc = harness_tcase(s, "nocluster", 60 * SLOWDOWN, NULL, NULL);
	tcase_add_test(tc, test_replicas_without_cluster_is_eopnotsupp);
	tcase_add_test(tc, test_reload_connects_and_disconnects);
	return s;
}

int main(void)
{
	return harness_main(cluster_suite());
}
