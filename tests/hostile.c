/*
 * hostile.c - the fixture of the hostile-client suites (see hostile.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "codec.h"
#include "hostile.h"

#define RSS_SLACK_KIB 2048

struct harness h;
ipc_client *normal;     /* the well-behaved client */
ipc_queue *normal_q;
static long rss_base;

void hostile_setup(void)
{
	harness_setup(&h);
}

void hostile_teardown(void)
{
	harness_cleanup(&h);
}

/* Start ipcd, connect the normal client, and take the memory baseline. */
void hostile_start(void)
{
	harness_start(&h, NULL);
	normal = connect_ok(h.sock);
	normal_q = open_ok(normal, "normal", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(normal_q, "warm", 0), 0);
	get_expect(normal_q, "warm", 0);
	rss_base = rss_kib(h.pid);
	ck_assert_int_gt(rss_base, 0);
}

/*
 * After an attack: the attacker's connections are gone and the normal
 * client gets correct answers.
 */
void hostile_served(const char *after)
{
	char msg[64];

	wait_clients(normal, 1, HARNESS_HANG_MS);
	snprintf(msg, sizeof msg, "after %s", after);
	ck_assert_ipc(put_str(normal_q, msg, 0), 0);
	ck_assert_int_eq(ipc_queue_size(normal_q), 1);
	get_expect(normal_q, msg, 0);
	ck_assert_int_eq(status_key(normal, "memory"), 0);
}

/* hostile_served(), and memory is back to its level. */
void hostile_still_serving(const char *after)
{
	long rss;

	hostile_served(after);
	if (UNDER_ASAN)
		return;
	rss = rss_kib(h.pid);
	ck_assert_msg(rss >= 0 && rss <= rss_base + RSS_SLACK_KIB,
		      "after %s ipcd's VmRSS is %ld KiB, it was %ld KiB", after, rss, rss_base);
}

/* Stop the daemon and insist it exits cleanly (under ASan: without leaks). */
void hostile_stop(void)
{
	int status;

	ipc_queue_close(normal_q);
	ipc_disconnect(normal);
	status = harness_stop(&h);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "ipcd did not exit cleanly (status 0x%x)", status);
}

/* Expect an error push with status want, then the daemon closing fd. */
void hostile_expect_close(int fd, int want, const char *what)
{
	struct proto_reply rep;
	msgpack_unpacked u;
	char *body = NULL;

	ck_assert_msg(raw_recv_reply(fd, &u, &rep, &body, 5000) == 0, "%s: no error push", what);
	ck_assert_msg(rep.id == IPC_PUSH_ID && rep.nres >= 1 &&
		      rep.res[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
		      rep.res[0].via.i64 == want, "%s: not an error push of %d", what, want);
	msgpack_unpacked_destroy(&u);
	free(body);
	ck_assert_msg(raw_wait_closed(fd, HARNESS_HANG_MS) == 0, "%s: connection left open", what);
}

/* Expect a reply to id with status want on fd, which stays open. */
void hostile_expect_reply(int fd, uint32_t id, int want, const char *what)
{
	struct proto_reply rep;
	msgpack_unpacked u;
	char *body = NULL;

	ck_assert_msg(raw_recv_reply(fd, &u, &rep, &body, 5000) == 0, "%s: no reply", what);
	ck_assert_msg(rep.id == id && rep.status == want, "%s: reply to %u with %d, want %u with %d",
		      what, rep.id, rep.status, id, want);
	msgpack_unpacked_destroy(&u);
	free(body);
}

/* Append a complete frame of [op, id, args packed by the caller into pk] to out. */
void hostile_frame_into(msgpack_sbuffer *out, const msgpack_sbuffer *body)
{
	unsigned char hdr[IPC_FRAME_HEADER];

	ipc_frame_put_len(hdr, (uint32_t)body->size);
	msgpack_sbuffer_write(out, (const char *)hdr, sizeof hdr);
	msgpack_sbuffer_write(out, body->data, body->size);
}
