/*
 * metrics_text.c - the daemon's figures in Prometheus's text exposition
 * format (version 0.0.4): the daemon's own, then one family at a time for
 * every queue, pipe and array, read straight from the objects.
 *
 * The format wants every sample of a family together after its HELP and
 * TYPE lines, so each per-object family walks the namespace once: families
 * times objects, no copy of the figures.  Label values are object names,
 * escaped as the format says (backslash, double quote, newline).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "metrics.h"
#include "object.h"
#include "pipe.h"
#include "qlog.h"
#include "queue.h"
#include "server.h"

struct text {
	char *p;
	size_t len, cap;
	int err;                 /* -ENOMEM once an append failed */
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->err)
		return;
	if (t->cap - t->len < n) {
		size_t cap = t->cap ? t->cap : 4096;
		char *p;

		while (cap - t->len < n)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p) {
			t->err = -ENOMEM;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

static void text_u64(struct text *t, uint64_t v)
{
	char buf[24], *e = buf + sizeof buf, *s = e;

	do
		*--s = (char)('0' + v % 10);
	while ((v /= 10));
	text_add(t, s, (size_t)(e - s));
}

static void text_double(struct text *t, double v)
{
	char buf[40];

	text_add(t, buf, (size_t)snprintf(buf, sizeof buf, "%.9g", v));
}

/* A label value: \ " and newline escaped. */
static void text_label_value(struct text *t, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;

		if (!esc)
			continue;
		text_add(t, run, (size_t)(s - run));
		text_add(t, esc, 2);
		run = s + 1;
	}
	text_add(t, run, (size_t)(s - run));
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	text_str(t, "# HELP ");
	text_str(t, name);
	text_str(t, " ");
	text_str(t, help);
	text_str(t, "\n# TYPE ");
	text_str(t, name);
	text_str(t, " ");
	text_str(t, type);
	text_str(t, "\n");
}

/* name{label="value"[,end="N"]} v; label NULL for none; end < 0 for no end label. */
static void sample(struct text *t, const char *name, const char *label, const char *value,
		   int end, uint64_t v)
{
	text_str(t, name);
	if (label) {
		text_str(t, "{");
		text_str(t, label);
		text_str(t, "=\"");
		text_label_value(t, value);
		text_str(t, "\"");
		if (end >= 0)
			text_str(t, end ? ",end=\"1\"" : ",end=\"0\"");
		text_str(t, "}");
	}
	text_str(t, " ");
	text_u64(t, v);
	text_str(t, "\n");
}

/* A family of one unlabelled sample. */
static void single(struct text *t, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(t, name, type, help);
	sample(t, name, NULL, NULL, -1, v);
}

/* ------------------------------------------------------------------------ */
/* The daemon */

/* Resident memory from /proc/self/statm, or 0 when it cannot be read. */
static uint64_t resident_bytes(void)
{
	unsigned long size, rss;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &rss);
	fclose(f);
	return n == 2 ? (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void render_histogram(struct text *t, const char *name, const char *help,
			     const struct metrics_histogram *h)
{
	static const double bounds[] = METRICS_HIST_BOUNDS;
	char bucket[96], le[40];
	uint64_t cum = 0;

	family(t, name, "histogram", help);
	snprintf(bucket, sizeof bucket, "%s_bucket", name);
	for (int i = 0; i <= METRICS_HIST_NBOUNDS; i++) {
		cum += h->bucket[i];
		if (i < METRICS_HIST_NBOUNDS)
			snprintf(le, sizeof le, "%g", bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		sample(t, bucket, "le", le, -1, cum);
	}
	text_str(t, name);
	text_str(t, "_sum ");
	text_double(t, h->sum);
	text_str(t, "\n");
	text_str(t, name);
	text_str(t, "_count ");
	text_u64(t, h->count);
	text_str(t, "\n");
}

static void render_daemon(struct text *t, struct server *srv, const struct metrics *m)
{
	static const struct { enum ipc_kind kind; const char *name; } kinds[] = {
		{ IPC_KIND_QUEUE, "queue" }, { IPC_KIND_ARRAY, "array" }, { IPC_KIND_PIPE, "pipe" },
	};
	size_t count[3] = { 0 };
	uint64_t log_bytes = 0;
	struct object *o;

	TAILQ_FOREACH(o, &srv->objects, link) {
		for (size_t i = 0; i < 3; i++)
			count[i] += o->kind->kind == kinds[i].kind;
		if (o->kind->kind == IPC_KIND_QUEUE)
			log_bytes += qlog_size(container_of(o, struct queue, obj));
	}
	family(t, "ipcd_build_info", "gauge", "The version of ipcd serving, as a label; always 1.");
	text_str(t, "ipcd_build_info{version=\"" IPCD_VERSION "\"} 1\n");
	single(t, "ipcd_start_time_seconds", "gauge",
	       "When ipcd started, in seconds since the Unix epoch.", (uint64_t)srv->started);
	single(t, "ipcd_uptime_seconds", "gauge", "Seconds since ipcd started.",
	       (uint64_t)(time(NULL) - srv->started));
	single(t, "ipcd_clients", "gauge", "Clients connected.", srv->nconns);
	single(t, "ipcd_max_clients", "gauge", "Clients served at once (max-clients).",
	       srv->lim.max_clients);
	single(t, "ipcd_connections_refused_total", "counter",
	       "Connections refused because max-clients were connected.", srv->refused);
	single(t, "ipcd_clients_cut_off_total", "counter",
	       "Clients disconnected for leaving too much unread (max-output or descriptors).",
	       srv->cutoffs);
	single(t, "ipcd_memory_bytes", "gauge",
	       "Payload bytes held by queues, pipes and parked puts (what max-memory bounds).",
	       srv->mem_used);
	single(t, "ipcd_max_memory_bytes", "gauge", "The max-memory budget; 0: no limit.",
	       srv->lim.max_memory);
	single(t, "ipcd_resident_memory_bytes", "gauge", "ipcd's resident set size.",
	       resident_bytes());
	single(t, "ipcd_shm_bytes", "gauge", "Bytes of shared arrays, consumers' pages and queues' rings.", srv->shm_used);
	single(t, "ipcd_max_shm_bytes", "gauge", "The max-shm budget of shared arrays.",
	       srv->lim.max_shm);
	family(t, "ipcd_objects", "gauge", "Named objects, by kind.");
	for (size_t i = 0; i < 3; i++)
		sample(t, "ipcd_objects", "kind", kinds[i].name, -1, count[i]);
	single(t, "ipcd_max_objects", "gauge", "Named objects allowed at once (max-objects).",
	       srv->lim.max_objects);
	single(t, "ipcd_durable_log_bytes", "gauge", "Bytes in the logs of durable queues.",
	       log_bytes);
	render_histogram(t, "ipcd_fsync_duration_seconds",
			 "Time each fsync of a durable queue's log took.", metrics_fsync_histogram(m));
	single(t, "ipcd_metrics_responses_pending", "gauge",
	       "Responses to /metrics still being written, this one not counted.",
	       metrics_pending(m));
	family(t, "ipcd_metrics_build_seconds", "gauge",
	       "How long the previous /metrics body took to build (clients waited meanwhile).");
	text_str(t, "ipcd_metrics_build_seconds ");
	text_double(t, metrics_last_build(m));
	text_str(t, "\n");
}

/* ------------------------------------------------------------------------ */
/* Queues */

enum queue_fig {
	QF_MESSAGES, QF_BYTES, QF_MAX_MESSAGES, QF_MAX_BYTES, QF_IN_FLIGHT, QF_UNACKED,
	QF_GETTERS, QF_PUTTERS, QF_JOINERS, QF_CONSUMERS, QF_PUTS, QF_GETS, QF_ACKED,
	QF_REDELIVERED, QF_LOG_BYTES,
};

static const struct fam {
	const char *name, *type, *help;
} queue_fams[] = {
	[QF_MESSAGES] = { "ipcd_queue_messages", "gauge",
			  "Messages queued, not yet handed to a consumer." },
	[QF_BYTES] = { "ipcd_queue_bytes", "gauge", "Payload bytes of the queued messages." },
	[QF_MAX_MESSAGES] = { "ipcd_queue_max_messages", "gauge",
			      "Messages the queue holds at most; 0: unbounded." },
	[QF_MAX_BYTES] = { "ipcd_queue_max_bytes", "gauge",
			   "Payload bytes the queue holds at most; 0: unbounded." },
	[QF_IN_FLIGHT] = { "ipcd_queue_in_flight_messages", "gauge",
			   "Messages pushed ahead to consumers or got and not acknowledged." },
	[QF_UNACKED] = { "ipcd_queue_unacknowledged_messages", "gauge",
			 "Messages got from an ack queue and not acknowledged." },
	[QF_GETTERS] = { "ipcd_queue_waiting_getters", "gauge", "Gets parked until a message comes." },
	[QF_PUTTERS] = { "ipcd_queue_waiting_putters", "gauge", "Puts parked until there is room." },
	[QF_JOINERS] = { "ipcd_queue_waiting_joiners", "gauge",
			 "Joins parked until every message is finished." },
	[QF_CONSUMERS] = { "ipcd_queue_consumers", "gauge",
			   "Handles that prefetch, or on an ack queue have got, from the queue." },
	[QF_PUTS] = { "ipcd_queue_puts_total", "counter", "Messages put since the queue was created." },
	[QF_GETS] = { "ipcd_queue_gets_total", "counter", "Messages got since the queue was created." },
	[QF_ACKED] = { "ipcd_queue_acknowledged_total", "counter",
		       "Messages acknowledged (task_done) since the queue was created." },
	[QF_REDELIVERED] = { "ipcd_queue_redelivered_total", "counter",
			     "Messages returned to the queue by a consumer that went away." },
	[QF_LOG_BYTES] = { "ipcd_queue_durable_log_bytes", "gauge",
			   "Bytes in a durable queue's log (durable queues only)." },
};

static uint64_t queue_fig(const struct queue *q, enum queue_fig f)
{
	struct queue_flight fl;

	if (f == QF_IN_FLIGHT || f == QF_UNACKED || f == QF_CONSUMERS || f == QF_ACKED)
		queue_flight(q, &fl);
	switch (f) {
	case QF_MESSAGES: return queue_depth(q);
	case QF_BYTES: return queue_bytes(q);
	case QF_MAX_MESSAGES: return q->maxsize;
	case QF_MAX_BYTES: return q->maxbytes;
	case QF_IN_FLIGHT: return fl.pushed + fl.unacked;
	case QF_UNACKED: return fl.unacked;
	case QF_GETTERS: return waiter_count(&q->getters);
	case QF_PUTTERS: return waiter_count(&q->putters);
	case QF_JOINERS: return waiter_count(&q->joiners);
	case QF_CONSUMERS: return fl.consumers;
	case QF_PUTS: return queue_puts(q);
	case QF_GETS: return queue_gets(q);
	case QF_ACKED: return fl.acked;
	case QF_REDELIVERED: return q->redelivered;
	case QF_LOG_BYTES: return qlog_size(q);
	}
	return 0;
}

static void render_queues(struct text *t, struct server *srv)
{
	struct object *o;

	for (size_t f = 0; f < sizeof queue_fams / sizeof queue_fams[0]; f++) {
		family(t, queue_fams[f].name, queue_fams[f].type, queue_fams[f].help);
		TAILQ_FOREACH(o, &srv->objects, link) {
			const struct queue *q;

			if (o->kind->kind != IPC_KIND_QUEUE)
				continue;
			q = container_of(o, const struct queue, obj);
			if (f == QF_LOG_BYTES && !q->log)
				continue;
			sample(t, queue_fams[f].name, "queue", o->name, -1,
			       queue_fig(q, (enum queue_fig)f));
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Pipes: per end, what was sent to it and waits to be received there. */

enum pipe_fig {
	PF_MESSAGES, PF_BYTES, PF_MAX_BYTES, PF_READERS, PF_SENDERS, PF_SENT, PF_RECEIVED,
};

static const struct fam pipe_fams[] = {
	[PF_MESSAGES] = { "ipcd_pipe_messages", "gauge",
			  "Messages sent to this end, waiting to be received there." },
	[PF_BYTES] = { "ipcd_pipe_bytes", "gauge", "Payload bytes waiting at this end." },
	[PF_MAX_BYTES] = { "ipcd_pipe_max_bytes", "gauge",
			   "Payload bytes buffered at most in each direction." },
	[PF_READERS] = { "ipcd_pipe_waiting_receivers", "gauge",
			 "Receives parked on this end until a message comes." },
	[PF_SENDERS] = { "ipcd_pipe_waiting_senders", "gauge",
			 "Sends from this end parked until there is room." },
	[PF_SENT] = { "ipcd_pipe_sent_total", "counter", "Messages sent from this end." },
	[PF_RECEIVED] = { "ipcd_pipe_received_total", "counter", "Messages received at this end." },
};

static uint64_t pipe_fig(const struct pipe_end *e, enum pipe_fig f)
{
	switch (f) {
	case PF_MESSAGES: return e->inbox.count;
	case PF_BYTES: return e->inbox.bytes;
	case PF_READERS: return waiter_count(&e->readers);
	case PF_SENDERS: return waiter_count(&e->senders);
	case PF_SENT: return e->sent;
	case PF_RECEIVED: return e->received;
	case PF_MAX_BYTES: break;
	}
	return 0;
}

static void render_pipes(struct text *t, struct server *srv)
{
	struct object *o;

	for (size_t f = 0; f < sizeof pipe_fams / sizeof pipe_fams[0]; f++) {
		family(t, pipe_fams[f].name, pipe_fams[f].type, pipe_fams[f].help);
		TAILQ_FOREACH(o, &srv->objects, link) {
			const struct pipe *p;

			if (o->kind->kind != IPC_KIND_PIPE)
				continue;
			p = container_of(o, const struct pipe, obj);
			if (f == PF_MAX_BYTES) {
				sample(t, pipe_fams[f].name, "pipe", o->name, -1, p->maxbytes);
				continue;
			}
			for (int end = 0; end < 2; end++)
				sample(t, pipe_fams[f].name, "pipe", o->name, end,
				       pipe_fig(&p->end[end], (enum pipe_fig)f));
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Arrays */

enum array_fig { AF_BYTES, AF_LENGTH, AF_LOCKED, AF_WAITING, AF_READS, AF_WRITES, AF_ADDS, AF_LOCKS };

static const struct fam array_fams[] = {
	[AF_BYTES] = { "ipcd_array_bytes", "gauge", "Bytes of the shared array." },
	[AF_LENGTH] = { "ipcd_array_length", "gauge", "Elements of the shared array." },
	[AF_LOCKED] = { "ipcd_array_locked", "gauge", "1 while a client holds the array's lock." },
	[AF_WAITING] = { "ipcd_array_waiting_requests", "gauge",
			 "Lock requests and brokered accesses parked behind the lock." },
	[AF_READS] = { "ipcd_array_reads_total", "counter", "Brokered reads." },
	[AF_WRITES] = { "ipcd_array_writes_total", "counter", "Brokered writes." },
	[AF_ADDS] = { "ipcd_array_adds_total", "counter", "Brokered atomic adds." },
	[AF_LOCKS] = { "ipcd_array_locks_total", "counter", "Times the lock was granted." },
};

static uint64_t array_fig(const struct array *a, enum array_fig f)
{
	switch (f) {
	case AF_BYTES: return a->bytes;
	case AF_LENGTH: return a->length;
	case AF_LOCKED: return a->holder != NULL;
	case AF_WAITING: return waiter_count(&a->waiters);
	case AF_READS: return a->reads;
	case AF_WRITES: return a->writes;
	case AF_ADDS: return a->adds;
	case AF_LOCKS: return a->locks;
	}
	return 0;
}

static void render_arrays(struct text *t, struct server *srv)
{
	struct object *o;

	for (size_t f = 0; f < sizeof array_fams / sizeof array_fams[0]; f++) {
		family(t, array_fams[f].name, array_fams[f].type, array_fams[f].help);
		TAILQ_FOREACH(o, &srv->objects, link)
			if (o->kind->kind == IPC_KIND_ARRAY)
				sample(t, array_fams[f].name, "array", o->name, -1,
				       array_fig(container_of(o, const struct array, obj),
						 (enum array_fig)f));
	}
}

int metrics_render(struct server *srv, char **buf, size_t *len, size_t *cap)
{
	struct text t = { *buf, *len, *cap, 0 };

	render_daemon(&t, srv, srv->metrics);
	render_queues(&t, srv);
	render_pipes(&t, srv);
	render_arrays(&t, srv);
	*buf = t.p;
	*len = t.len;
	*cap = t.cap;
	return t.err;
}
