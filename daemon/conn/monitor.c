/*
 * monitor.c - the live trace of requests (see monitor.h).  A monitoring
 * connection holds a struct monitor on its hold list, so the trace stops
 * when it goes, whatever way it goes; the server keeps the list of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "monitor.h"
#include "object.h"
#include "reply.h"
#include "server.h"

struct monitor {
	struct hold hold;
	struct conn *conn;
	TAILQ_ENTRY(monitor) link;   /* srv->monitors */
	uint64_t dropped;            /* events not sent since the last one that was */
};

static void monitor_release(struct hold *h)
{
	struct monitor *m = container_of(h, struct monitor, hold);
	struct server *srv = m->conn->srv;

	TAILQ_REMOVE(&srv->monitors, m, link);
	srv->nmonitors--;
	free(m);
}

static int monitor_describe(const struct hold *h, char *buf, size_t len)
{
	(void)h;
	return snprintf(buf, len, "monitor");
}

static const struct hold_ops monitor_ops = { "monitor", monitor_release, monitor_describe };

void cmd_monitor(struct req *r)
{
	struct conn *c = r->conn;
	struct monitor *m;
	struct hold *h;

	/* The trace shows every user's requests and object names. */
	if (!server_is_admin(r->srv, c)) {
		reply_error(c, r->id, -EPERM, "only root and ipcd's own user may trace requests");
		return;
	}
	TAILQ_FOREACH(h, &c->holds, link)
		if (h->ops == &monitor_ops) {
			reply_ok(c, r->id);
			return;
		}
	m = calloc(1, sizeof *m);
	if (!m) {
		reply_error(c, r->id, -ENOMEM, "out of memory");
		return;
	}
	m->hold.ops = &monitor_ops;
	m->conn = c;
	TAILQ_INSERT_TAIL(&c->holds, &m->hold, link);
	TAILQ_INSERT_TAIL(&r->srv->monitors, m, link);
	r->srv->nmonitors++;
	log_info("client %llu (pid %d) is tracing requests", (unsigned long long)c->id, (int)c->pid);
	reply_ok(c, r->id);
}

/* What the request names: the object of its handle, or its first string (a name). */
static void pack_target(msgpack_packer *pk, struct conn *c, const struct proto_req *pr)
{
	const char *spec = proto_op_args(pr->op);
	const char *s = "";
	uint32_t len = 0;

	if (pr->argc > 0 && spec && spec[0] == 'h' &&
	    pr->argv[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		struct handle *h = conn_handle_find(c, pr->argv[0].via.u64);

		if (h) {
			s = h->obj->name;
			len = (uint32_t)strlen(s);
		}
	} else if (pr->argc > 0 && spec && spec[0] == 's') {
		s = proto_bytes(&pr->argv[0], &len);
		if (len > IPC_NAME_MAX)
			len = IPC_NAME_MAX;
	}
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void monitor_feed(struct conn *c, const struct proto_req *pr)
{
	struct server *srv = c->srv;
	size_t limit = srv->lim.max_output / 2;
	struct monitor *m;
	struct timeval now;

	if (limit > MONITOR_MAX_PENDING)
		limit = MONITOR_MAX_PENDING;
	gettimeofday(&now, NULL);
	TAILQ_FOREACH(m, &srv->monitors, link) {
		struct conn *mc = m->conn;
		msgpack_packer *pk;

		if (mc == c || mc->dead || mc->cutoff || mc->hungup)
			continue;
		if (evbuffer_get_length(mc->out) > limit) {
			m->dropped++;
			continue;
		}
		pk = push_begin(mc, IPC_PUSH_MONITOR, 1);
		msgpack_pack_map(pk, 8);
		proto_pack_kv_u64(pk, "time_us", (uint64_t)now.tv_sec * 1000000u +
				  (uint64_t)now.tv_usec);
		proto_pack_kv_u64(pk, "client", c->id);
		proto_pack_kv_i64(pk, "pid", c->pid);
		proto_pack_kv_u64(pk, "uid", c->uid);
		proto_pack_kv_str(pk, "name", c->name);
		proto_pack_kv_str(pk, "op", proto_op_name(pr->op));
		proto_pack_cstr(pk, "object");
		pack_target(pk, c, pr);
		proto_pack_kv_u64(pk, "dropped", m->dropped);
		reply_end(mc);
		m->dropped = 0;
	}
}
