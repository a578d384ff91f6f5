/*
 * js.c - names, request JSON and reply parsing for the JetStream API, and
 * the base64 of the message data it returns (see js.h).  Streams are made
 * with work-queue retention and discard-new, so a message leaves the stream
 * when it is acknowledged and a full stream refuses a publish instead of
 * dropping its oldest message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js.h"

void js_stream_name(const char *name, size_t len, char *buf)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	o += (size_t)snprintf(buf, JS_NAME_MAX, "IPCQ_");
	for (size_t i = 0; i < len && o + 4 < JS_NAME_MAX; i++) {
		unsigned char ch = (unsigned char)name[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-') {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '_';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
		if (o + 4 >= JS_NAME_MAX && i + 1 < len) {
			/* Too long to spell out: FNV-1a of the whole name names it. */
			uint64_t h = 0xcbf29ce484222325ull;

			for (size_t j = 0; j < len; j++)
				h = (h ^ (unsigned char)name[j]) * 0x100000001b3ull;
			snprintf(buf, JS_NAME_MAX, "IPCQ_H%016llx", (unsigned long long)h);
			return;
		}
	}
	buf[o] = '\0';
}

void js_subject(const char *stream, char *buf, size_t len)
{
	snprintf(buf, len, "ipcq.%s", stream);
}

static int64_t limit(size_t v)
{
	return v ? (int64_t)v : -1;
}

char *js_stream_config(const char *stream, const char *name, const struct js_attrs *a)
{
	char subject[JS_SUBJECT_MAX], *desc, *out = NULL;
	json_t *d, *cfg;

	js_subject(stream, subject, sizeof subject);
	d = json_pack("{s:i, s:s, s:I, s:I, s:i, s:I, s:I, s:b, s:I}", "ipcd", 1, "name", name,
		      "maxsize", (json_int_t)a->maxsize, "maxbytes", (json_int_t)a->maxbytes,
		      "mode", (int)a->mode, "uid", (json_int_t)a->uid, "gid", (json_int_t)a->gid,
		      "ack", (int)a->ack, "ctime", (json_int_t)a->ctime);
	desc = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!desc)
		return NULL;
	cfg = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:I, s:s}",
			"name", stream, "subjects", subject, "retention", "workqueue",
			"discard", "new", "storage", "file",
			"max_msgs", (json_int_t)limit(a->maxsize),
			"max_bytes", (json_int_t)limit(a->maxbytes),
			"max_msgs_per_subject", (json_int_t)-1,
			"num_replicas", (int)a->replicas,
			/* Retried publishes carry the same id: stored once within 2 minutes. */
			"duplicate_window", (json_int_t)120000000000,
			"description", desc);
	free(desc);
	if (cfg)
		out = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	return out;
}

char *js_consumer_config(const char *stream, unsigned ack_wait_s)
{
	json_t *cfg = json_pack("{s:s, s:{s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:i}}",
				"stream_name", stream, "config", "durable_name", JS_CONSUMER,
				"deliver_policy", "all", "ack_policy", "explicit",
				"ack_wait", (json_int_t)ack_wait_s * 1000000000,
				"max_deliver", -1, "max_ack_pending", 65536,
				"replay_policy", "instant", "max_waiting", 512);
	char *out = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;

	json_decref(cfg);
	return out;
}

int js_reply(natsMsg *msg, json_t **out, char *err, size_t errlen)
{
	const char *v = NULL;
	json_t *j, *e;
	int len = natsMsg_GetDataLength(msg);

	*out = NULL;
	if (natsMsgHeader_Get(msg, "Status", &v) == NATS_OK && v && atoi(v) == 503) {
		snprintf(err, errlen, "JetStream is not available (no responders)");
		return -EHOSTUNREACH;
	}
	j = json_loadb(natsMsg_GetData(msg), len > 0 ? (size_t)len : 0, 0, NULL);
	if (!j) {
		snprintf(err, errlen, "JetStream's reply is not JSON");
		return -EIO;
	}
	e = json_object_get(j, "error");
	if (e) {
		const char *desc = json_string_value(json_object_get(e, "description"));
		int64_t code = json_integer_value(json_object_get(e, "err_code"));
		int64_t http = json_integer_value(json_object_get(e, "code"));
		int rc = -EIO;

		snprintf(err, errlen, "JetStream: %s", desc ? desc : "error");
		/* Stream (10059) or consumer (10014) not found. */
		if (code == 10059 || code == 10014)
			rc = -ENOENT;
		else if (desc && strstr(desc, "exceeded"))
			rc = -EAGAIN;
		/* Insufficient resources (10023): the servers' storage limits. */
		else if (code == 10023 || (desc && strstr(desc, "insufficient resources")))
			rc = -ENOSPC;
		/* No leader or quorum yet, a leader changing, too few servers up for
		 * the replicas (10008, 10009, 10004, 10005, any 503): for now. */
		else if (http == 503 || code == 10008 || code == 10009 || code == 10004 ||
			 code == 10005 || (desc && strstr(desc, "unavailable")))
			rc = -EHOSTUNREACH;
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

int js_attrs_of(json_t *reply, struct js_attrs *a)
{
	json_t *cfg = json_object_get(reply, "config"), *d;
	const char *desc = json_string_value(json_object_get(cfg, "description"));

	memset(a, 0, sizeof *a);
	if (!desc || !(d = json_loads(desc, 0, NULL)))
		return -EINVAL;
	if (json_integer_value(json_object_get(d, "ipcd")) != 1) {
		json_decref(d);
		return -EINVAL;
	}
	a->maxsize = (size_t)json_integer_value(json_object_get(d, "maxsize"));
	a->maxbytes = (size_t)json_integer_value(json_object_get(d, "maxbytes"));
	a->mode = (unsigned)json_integer_value(json_object_get(d, "mode")) & 0777;
	a->uid = (uid_t)json_integer_value(json_object_get(d, "uid"));
	a->gid = (gid_t)json_integer_value(json_object_get(d, "gid"));
	a->ack = json_is_true(json_object_get(d, "ack"));
	a->ctime = json_integer_value(json_object_get(d, "ctime"));
	a->replicas = (unsigned)json_integer_value(json_object_get(cfg, "num_replicas"));
	json_decref(d);
	return 0;
}

void js_ack_info(const char *s, uint64_t *delivered, uint64_t *sseq)
{
	/* $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or
	 * with <domain>.<account hash> before the stream and a token after. */
	const char *tok[16];
	unsigned n = 0, at = 0;

	*delivered = 1;
	*sseq = 0;
	if (!s || strncmp(s, "$JS.ACK.", 8) != 0)
		return;
	for (const char *p = s; p && n < 16; p = strchr(p, '.'), p = p ? p + 1 : NULL)
		tok[n++] = p;
	if (n == 9)
		at = 4;
	else if (n >= 11)
		at = 6;
	if (!at)
		return;
	*delivered = strtoull(tok[at], NULL, 10);
	*sseq = strtoull(tok[at + 1], NULL, 10);
}

int64_t js_int(json_t *v, const char *a, const char *b, int64_t dflt)
{
	json_t *x = json_object_get(v, a);

	if (b)
		x = json_object_get(x, b);
	return json_is_integer(x) ? json_integer_value(x) : dflt;
}

static const signed char b64[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

ssize_t js_base64_decode(char *s)
{
	unsigned bits = 0, nbits = 0;
	size_t o = 0;

	for (const char *p = s; *p && *p != '='; p++) {
		int v = b64[(unsigned char)*p] - 1;

		if (v < 0)
			return -1;
		bits = bits << 6 | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			s[o++] = (char)(bits >> nbits & 0xff);
		}
	}
	return (ssize_t)o;
}
