/*
 * ctl_watch.c - samples of the daemon (status and the list of objects, two
 * requests), rates between samples, and ipcctl stat: one line per interval,
 * like redis-cli --stat, whether stdout is a terminal or not.
 *
 * Rates come from the queues' put, get and redelivered totals: a sample
 * keeps its queues sorted by name, so the previous figures of each are
 * found by a binary search.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_watch.h"

int64_t watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void watch_clear(struct watch_sample *s)
{
	for (size_t i = 0; i < s->nqueues; i++)
		free(s->queues[i].name);
	free(s->queues);
	memset(s, 0, sizeof *s);
}

static int key_is(const msgpack_object *k, const char *key)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
	       memcmp(k->via.str.ptr, key, k->via.str.size) == 0;
}

/* The map's value for key, or NULL. */
static const msgpack_object *map_find(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (key_is(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

static uint64_t map_u64(const msgpack_object *map, const char *key)
{
	const msgpack_object *v = map_find(map, key);

	return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
}

/* Unpack len bytes of mp (which u's strings point into) into u; 0 or -EPROTO unless of type want. */
static int unpack(msgpack_unpacked *u, const void *mp, size_t len, msgpack_object_type want)
{
	size_t off = 0;

	return msgpack_unpack_next(u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	       u->data.type == want ? 0 : -EPROTO;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct watch_queue *)a)->name, ((const struct watch_queue *)b)->name);
}

static int take_status(ipc_client *c, struct watch_sample *s)
{
	const msgpack_object *v;
	msgpack_unpacked u;
	void *mp;
	size_t len;
	int r = ipc_server_status(c, &mp, &len);

	if (r < 0)
		return r;
	msgpack_unpacked_init(&u);
	r = unpack(&u, mp, len, MSGPACK_OBJECT_MAP);
	if (r == 0) {
		s->clients = map_u64(&u.data, "clients");
		s->memory = map_u64(&u.data, "memory");
		s->max_memory = map_u64(&u.data, "max_memory");
		s->objects = map_u64(&u.data, "objects");
		s->uptime = map_u64(&u.data, "uptime");
		v = map_find(&u.data, "version");
		if (v && v->type == MSGPACK_OBJECT_STR)
			snprintf(s->version, sizeof s->version, "%.*s", (int)v->via.str.size,
				 v->via.str.ptr);
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return r;
}

static int take_queues(ipc_client *c, struct watch_sample *s)
{
	msgpack_unpacked u;
	void *mp;
	size_t len;
	int r = ipc_server_list(c, &mp, &len);

	if (r < 0)
		return r;
	msgpack_unpacked_init(&u);
	r = unpack(&u, mp, len, MSGPACK_OBJECT_ARRAY);
	if (r == 0 && u.data.via.array.size) {
		s->queues = calloc(u.data.via.array.size, sizeof *s->queues);
		if (!s->queues)
			r = -ENOMEM;
	}
	for (uint32_t i = 0; r == 0 && i < u.data.via.array.size; i++) {
		const msgpack_object *o = &u.data.via.array.ptr[i], *kind, *name;
		struct watch_queue *q;

		if (o->type != MSGPACK_OBJECT_MAP) {
			r = -EPROTO;
			break;
		}
		kind = map_find(o, "kind");
		name = map_find(o, "name");
		if (!kind || !key_is(kind, "queue"))
			continue;
		if (!name || name->type != MSGPACK_OBJECT_STR) {
			r = -EPROTO;
			break;
		}
		q = &s->queues[s->nqueues];
		q->name = strndup(name->via.str.ptr, name->via.str.size);
		if (!q->name) {
			r = -ENOMEM;
			break;
		}
		s->nqueues++;
		q->depth = map_u64(o, "depth");
		q->inflight = map_u64(o, "inflight");
		q->consumers = map_u64(o, "consumers");
		q->puts = map_u64(o, "puts");
		q->gets = map_u64(o, "gets");
		q->redelivered = map_u64(o, "redelivered");
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	if (s->nqueues)
		qsort(s->queues, s->nqueues, sizeof *s->queues, by_name);
	return r;
}

int watch_take(ipc_client *c, struct watch_sample *s)
{
	int r;

	watch_clear(s);
	s->at_ms = watch_now_ms();
	r = take_status(c, s);
	if (r == 0)
		r = take_queues(c, s);
	if (r < 0)
		watch_clear(s);
	return r;
}

/* The growth of a total: from zero if it went down (the queue was made again). */
static uint64_t growth(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

void watch_rate(struct watch_sample *now, const struct watch_sample *prev)
{
	double secs = (double)(now->at_ms - prev->at_ms) / 1000.0;

	now->in_rate = now->out_rate = now->redelivered_rate = 0;
	now->rated = prev->at_ms != 0 && secs > 0;
	if (!now->rated)
		return;
	for (size_t i = 0; i < now->nqueues; i++) {
		struct watch_queue *q = &now->queues[i];
		const struct watch_queue *p = prev->nqueues ?
			bsearch(q, prev->queues, prev->nqueues, sizeof *q, by_name) : NULL;
		struct watch_queue zero = { 0 };

		if (!p)
			p = &zero;
		q->in_rate = (double)growth(q->puts, p->puts) / secs;
		q->out_rate = (double)growth(q->gets, p->gets) / secs;
		q->redelivered_rate = (double)growth(q->redelivered, p->redelivered) / secs;
		now->in_rate += q->in_rate;
		now->out_rate += q->out_rate;
		now->redelivered_rate += q->redelivered_rate;
	}
}

void watch_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else
		snprintf(buf, len, v < 10 ? "%.2f%c" : v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void watch_format_rate(double rate, char *buf, size_t len)
{
	if (rate < 10000)
		snprintf(buf, len, rate > 0 && rate < 10 ? "%.1f" : "%.0f", rate);
	else if (rate < 1e6)
		snprintf(buf, len, "%.1fk", rate / 1e3);
	else
		snprintf(buf, len, "%.2fM", rate / 1e6);
}

/* ------------------------------------------------------------------------ */
/* ipcctl stat */

static volatile sig_atomic_t stat_stop;

static void stat_signal(int sig)
{
	stat_stop = 1;
}

static void stat_header(void)
{
	printf("%-8s %-8s %-8s %-8s %-10s %-10s %-10s %-10s %-10s\n", "clients", "memory",
	       "objects", "queues", "messages", "in flight", "in/s", "out/s", "redeliv/s");
}

static void stat_line(struct ctl *ctl, const struct watch_sample *s)
{
	uint64_t depth = 0, inflight = 0;
	char mem[16], in[16] = "-", out[16] = "-", redo[16] = "-";

	for (size_t i = 0; i < s->nqueues; i++) {
		depth += s->queues[i].depth;
		inflight += s->queues[i].inflight;
	}
	if (ctl->json) {
		json_t *v = json_pack("{sIsIsIsIsIsIsI}", "clients", (json_int_t)s->clients,
				      "memory", (json_int_t)s->memory, "objects",
				      (json_int_t)s->objects, "queues", (json_int_t)s->nqueues,
				      "messages", (json_int_t)depth, "inflight", (json_int_t)inflight,
				      "uptime", (json_int_t)s->uptime);

		if (v && s->rated) {
			json_object_set_new(v, "in_per_s", json_real(s->in_rate));
			json_object_set_new(v, "out_per_s", json_real(s->out_rate));
			json_object_set_new(v, "redelivered_per_s", json_real(s->redelivered_rate));
		}
		ctl_emit_json(v);
		return;
	}
	watch_format_bytes(s->memory, mem, sizeof mem);
	if (s->rated) {
		watch_format_rate(s->in_rate, in, sizeof in);
		watch_format_rate(s->out_rate, out, sizeof out);
		watch_format_rate(s->redelivered_rate, redo, sizeof redo);
	}
	printf("%-8" PRIu64 " %-8s %-8" PRIu64 " %-8zu %-10" PRIu64 " %-10" PRIu64
	       " %-10s %-10s %-10s\n", s->clients, mem, s->objects, s->nqueues, depth, inflight,
	       in, out, redo);
}

int ctl_stat(struct ctl *ctl)
{
	struct sigaction sa = { .sa_handler = stat_signal };
	struct watch_sample prev = { 0 }, now = { 0 };
	ipc_client *c = ctl_connect(ctl);
	unsigned long lines = 0;
	int64_t next;
	int r = 0;

	if (!c)
		return CTL_EXIT_FAIL;
	/* Interrupted, it ends its line and exits 0, as redis-cli --stat does. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	next = watch_now_ms();
	while (!stat_stop && (ctl->count == 0 || lines < ctl->count)) {
		int64_t wait = next - watch_now_ms();

		if (wait > 0) {
			struct timespec ts = { wait / 1000, (long)(wait % 1000) * 1000000 };

			nanosleep(&ts, NULL);   /* a signal ends it early */
			continue;
		}
		next += ctl->interval_ms;
		r = watch_take(c, &now);
		if (r < 0)
			break;
		watch_rate(&now, &prev);
		if (!ctl->json && lines % 20 == 0)
			stat_header();
		stat_line(ctl, &now);
		fflush(stdout);
		lines++;
		watch_clear(&prev);
		prev = now;
		memset(&now, 0, sizeof now);
	}
	watch_clear(&prev);
	watch_clear(&now);
	if (r < 0)
		return ctl_fail(ctl, r, "stat");
	return CTL_EXIT_OK;
}
