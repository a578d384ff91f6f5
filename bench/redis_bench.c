/*
 * redis_bench.c - the queue scenarios of ipcbench against Redis used as a
 * queue (a list), through hiredis over a Unix socket, so that bench/run.sh
 * can compare the two in one run:
 *
 *   rt         LPUSH / BRPOP, one round trip per message
 *   pipelined  LPUSH pipelined in batches / RPOP key COUNT (BRPOP when empty)
 *   memory     used_memory and RSS growth over COUNT queued messages
 *
 * Messages carry the same stamp as ipcbench's and are checked the same way
 * (each exactly once, in order per producer and consumer).
 * Output: one line of key=value pairs (see bench.h).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

#define POP_WAIT "0.2"           /* seconds a BRPOP waits before rechecking the run */
#define STALL_NS 30000000000ull  /* no message for this long fails the run */
#define RUN_LIMIT_MS (15 * 60 * 1000)

struct opts {
	const char *sock;
	const char *mode;
	const char *key;
	unsigned producers, consumers, batch;
	unsigned long count;
	size_t size;
	bool pipelined;
};

static redisContext *connect_redis(const char *sock)
{
	redisContext *c = redisConnectUnix(sock);

	if (!c || c->err) {
		fprintf(stderr, "redis_bench: connect %s: %s\n", sock, c ? c->errstr : "no memory");
		exit(1);
	}
	return c;
}

/* Run one command; exit unless the reply has the type want. */
static redisReply *command(redisContext *c, int want, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!r) {
		fprintf(stderr, "redis_bench: %s: %s\n", fmt, c->errstr);
		exit(1);
	}
	if (r->type != want) {
		fprintf(stderr, "redis_bench: %s: reply type %d%s%s\n", fmt, r->type,
			r->type == REDIS_REPLY_ERROR ? ": " : "",
			r->type == REDIS_REPLY_ERROR ? r->str : "");
		exit(1);
	}
	return r;
}

/* Read the replies of n pipelined LPUSHes. */
static int push_replies(redisContext *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		redisReply *r;

		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			fprintf(stderr, "redis_bench: LPUSH: %s\n", c->errstr);
			return -1;
		}
		if (r->type != REDIS_REPLY_INTEGER) {
			fprintf(stderr, "redis_bench: LPUSH: %s\n",
				r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* LPUSH count messages stamped as producer p, batch at a time. */
static int produce(redisContext *c, const struct opts *o, unsigned p, unsigned long count,
		   unsigned batch)
{
	char *buf = malloc(o->size);
	int rc = 0;

	if (!buf)
		return -1;
	memset(buf, 'x', o->size);
	for (unsigned long seq = 0; seq < count && rc == 0; ) {
		unsigned k = count - seq < batch ? (unsigned)(count - seq) : batch;

		for (unsigned i = 0; i < k; i++) {
			bench_stamp_write(buf, p, (uint32_t)(seq + i));
			redisAppendCommand(c, "LPUSH %s %b", o->key, buf, o->size);
		}
		rc = push_replies(c, k);
		seq += k;
	}
	free(buf);
	return rc;
}

static int producer_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct opts *o = w->opts;
	redisContext *c = connect_redis(o->sock);
	int rc;

	if (bench_gate_pass(w->gate) < 0)
		return 1;
	rc = produce(c, o, w->id, bench_layout_count(w->lay, w->id), o->pipelined ? o->batch : 1);
	if (rc < 0)
		bench_run_fail(w->run);
	redisFree(c);
	return rc < 0;
}

/* Take the messages of one RPOP/BRPOP reply: how many, or -1. */
static int take_reply(struct bench_taken *t, redisReply *r, uint64_t now)
{
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "redis_bench: pop: %s\n",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		return -1;
	}
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    bench_take(t, r->element[i]->str, r->element[i]->len, now) < 0)
			return -1;
	return (int)r->elements;
}

static int consumer_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct opts *o = w->opts;
	redisContext *c = connect_redis(o->sock);
	uint64_t last = bench_now_ns();
	struct bench_taken t;
	int n = 0;

	bench_taken_init(&t, w->lay, o->size, w->seen, w->hist, w->id);
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	while (!bench_run_over(w->run, o->count)) {
		redisReply *r = NULL;
		uint64_t now;

		if (o->pipelined) {
			r = redisCommand(c, "RPOP %s %u", o->key, o->batch);
			if (r && r->type == REDIS_REPLY_NIL) {
				/* Empty: wait for one message rather than spin. */
				freeReplyObject(r);
				r = redisCommand(c, "BRPOP %s " POP_WAIT, o->key);
			} else if (r) {
				now = bench_now_ns();
				n = take_reply(&t, r, now);
				goto took;
			}
		} else {
			r = redisCommand(c, "BRPOP %s " POP_WAIT, o->key);
		}
		if (!r) {
			fprintf(stderr, "redis_bench: pop: %s\n", c->errstr);
			n = -1;
			break;
		}
		now = bench_now_ns();
		/* BRPOP answers [key, value]: take the value. */
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
			n = bench_take(&t, r->element[1]->str, r->element[1]->len, now) < 0 ? -1 : 1;
		} else {
			n = take_reply(&t, r, now);
			if (n > 0) {
				fprintf(stderr, "redis_bench: BRPOP: %d elements\n", n);
				n = -1;
			}
		}
took:
		freeReplyObject(r);
		if (n < 0)
			break;
		if (n == 0) {
			if (now - last > STALL_NS) {
				fprintf(stderr, "redis_bench: consumer %u: no message for 30 s\n", w->id);
				n = -1;
				break;
			}
			continue;
		}
		last = now;
		w->run->last_ns[w->id] = now;
		__atomic_fetch_add(&w->run->consumed, (uint64_t)n, __ATOMIC_RELAXED);
	}
	if (n < 0)
		bench_run_fail(w->run);
	redisFree(c);
	return n < 0;
}

static long long llen(redisContext *c, const char *key)
{
	redisReply *r = command(c, REDIS_REPLY_INTEGER, "LLEN %s", key);
	long long n = r->integer;

	freeReplyObject(r);
	return n;
}

static void del(redisContext *c, const char *key)
{
	freeReplyObject(command(c, REDIS_REPLY_INTEGER, "DEL %s", key));
}

static int run_throughput(const struct opts *o)
{
	redisContext *c = connect_redis(o->sock);
	struct bench_fleet f;
	int failed;

	bench_fleet_init(&f, o->producers, o->consumers, o->count, 0);
	del(c, o->key);
	failed = bench_fleet_run(&f, o, producer_main, consumer_main, RUN_LIMIT_MS) < 0;
	if (!failed && llen(c, o->key) != 0) {
		fprintf(stderr, "redis_bench: %lld messages left in the list\n", llen(c, o->key));
		failed = 1;
	}
	if (!failed) {
		bench_result_begin("redis", o->mode);
		bench_result_u("p", o->producers);
		bench_result_u("c", o->consumers);
		bench_result_u("size", o->size);
		bench_result_u("count", o->count);
		if (o->pipelined)
			bench_result_u("batch", o->batch);
		bench_result_u("received", f.received);
		bench_result_rate(f.received, o->size, f.t1 - f.t0);
		bench_result_hist(&f.total);
		bench_result_end();
	}
	del(c, o->key);
	redisFree(c);
	bench_fleet_free(&f);
	return failed;
}

/* The number after "field:" in an INFO reply, or -1. */
static long long info_field(redisContext *c, const char *section, const char *field)
{
	redisReply *r = command(c, REDIS_REPLY_STRING, "INFO %s", section);
	size_t flen = strlen(field);
	long long v = -1;

	for (const char *p = r->str; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
			v = strtoll(p + flen + 1, NULL, 10);
			break;
		}
	freeReplyObject(r);
	return v;
}

static int run_memory(const struct opts *o)
{
	redisContext *c = connect_redis(o->sock);
	long long pid = info_field(c, "server", "process_id");
	long long used0, used1, rss0, rss1;
	uint64_t t0;

	del(c, o->key);
	used0 = info_field(c, "memory", "used_memory");
	rss0 = bench_rss((pid_t)pid);
	if (pid <= 0 || used0 < 0 || rss0 < 0) {
		fprintf(stderr, "redis_bench: cannot read the server's memory\n");
		return 1;
	}
	t0 = bench_now_ns();
	if (produce(c, o, 0, o->count, 1000) < 0)
		return 1;
	t0 = bench_now_ns() - t0;
	used1 = info_field(c, "memory", "used_memory");
	rss1 = bench_rss((pid_t)pid);
	if (llen(c, o->key) != (long long)o->count) {
		fprintf(stderr, "redis_bench: the list holds %lld, not %lu\n", llen(c, o->key),
			o->count);
		return 1;
	}
	del(c, o->key);
	redisFree(c);
	bench_result_begin("redis", "memory");
	bench_result_u("size", o->size);
	bench_result_u("count", o->count);
	bench_result_f("fill_secs", (double)t0 / 1e9);
	bench_result_u("used_before", (unsigned long long)used0);
	bench_result_u("used_full", (unsigned long long)used1);
	bench_result_f("bytes_per_msg", (double)(used1 - used0) / (double)o->count);
	bench_result_f("rss_bytes_per_msg", (double)(rss1 - rss0) / (double)o->count);
	bench_result_end();
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: redis_bench -s SOCKET [OPTION]...\n"
		"Redis as a queue (a list) over its Unix socket; prints one line of results.\n\n"
		"  -s, --socket PATH     redis-server's Unix socket\n"
		"  -m, --mode MODE       rt (LPUSH / BRPOP, the default), pipelined\n"
		"                        (LPUSH pipelined / RPOP COUNT), memory\n"
		"  -p, --producers N     producer processes (default 1)\n"
		"  -c, --consumers N     consumer processes (default 1)\n"
		"  -n, --count N         messages (default 100k; k and m suffixes)\n"
		"  -z, --size BYTES      bytes per message (default 64)\n"
		"  -b, --batch N         pipelined: LPUSHes per pipeline and RPOP count (default 32)\n"
		"  -k, --key NAME        list key (default bench.PID; it is deleted)\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "producers", required_argument, NULL, 'p' },
		{ "consumers", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },
		{ "batch", required_argument, NULL, 'b' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct opts o = { .mode = "rt", .producers = 1, .consumers = 1, .batch = 32,
			  .count = 100000, .size = 64 };
	char key[64];
	int opt;

	while ((opt = getopt_long(argc, argv, "s:m:p:c:n:z:b:k:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 's': o.sock = optarg; break;
		case 'm': o.mode = optarg; break;
		case 'p': o.producers = (unsigned)bench_parse_count("--producers", optarg); break;
		case 'c': o.consumers = (unsigned)bench_parse_count("--consumers", optarg); break;
		case 'n': o.count = bench_parse_count("--count", optarg); break;
		case 'z': o.size = bench_parse_count("--size", optarg); break;
		case 'b': o.batch = (unsigned)bench_parse_count("--batch", optarg); break;
		case 'k': o.key = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.sock || optind < argc || o.producers < 1 || o.producers > BENCH_MAX_WORKERS ||
	    o.consumers < 1 || o.consumers > BENCH_MAX_WORKERS || o.count < 1 ||
	    o.size < BENCH_STAMP_SIZE || o.batch < 1) {
		usage(stderr);
		return 2;
	}
	if (!o.key) {
		snprintf(key, sizeof key, "bench.%d", (int)getpid());
		o.key = key;
	}
	o.pipelined = strcmp(o.mode, "pipelined") == 0;
	if (strcmp(o.mode, "rt") == 0 || o.pipelined)
		return run_throughput(&o);
	if (strcmp(o.mode, "memory") == 0)
		return run_memory(&o);
	fprintf(stderr, "redis_bench: unknown mode '%s' (rt, pipelined, memory)\n", o.mode);
	return 2;
}
