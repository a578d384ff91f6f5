/*
 * ctl_admin.c - ipcctl's administration commands: config (the settings in
 * force and where each came from), config set (a live setting), client
 * kill, and monitor (the live trace of requests).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_json.h"
#include "ctl_parse.h"

static const struct ctl_column config_cols[] = {
	{ "SETTING", "name",   CTL_COL_TEXT },
	{ "VALUE",   "value",  CTL_COL_TEXT },
	{ "LIVE",    "live",   CTL_COL_TEXT },
	{ "SOURCE",  "source", CTL_COL_TEXT },
};

int ctl_admin_config(struct ctl *ctl)
{
	return ctl_fetch_show(ctl, ipc_server_config, MSGPACK_OBJECT_ARRAY, config_cols,
			      sizeof config_cols / sizeof config_cols[0]);
}

int ctl_admin_config_set(struct ctl *ctl)
{
	ipc_client *c = ctl_connect(ctl);
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_config_set(c, ctl->args[0], ctl->args[1]);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	return CTL_EXIT_OK;
}

int ctl_admin_client_kill(struct ctl *ctl)
{
	ipc_client *c;
	uint64_t id;
	int r;

	if (ctl_parse_u64(ctl->args[0], &id) < 0)
		return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s: '%s' is not a client id (ipcctl "
				  "clients shows them)", ctl->what, ctl->args[0]);
	c = ctl_connect(ctl);
	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_client_kill(c, id);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	return CTL_EXIT_OK;
}

/* The unsigned key of an event map, or 0. */
static uint64_t event_u64(const msgpack_object *m, const char *key)
{
	for (uint32_t i = 0; m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
			return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 :
			       v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (uint64_t)-1 : 0;
	}
	return 0;
}

/* A string key of an event map, printable, into buf. */
static const char *event_str(const msgpack_object *m, const char *key, char *buf, size_t len)
{
	buf[0] = '\0';
	for (uint32_t i = 0; m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		size_t n;

		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != strlen(key) ||
		    memcmp(k->via.str.ptr, key, k->via.str.size) != 0 ||
		    v->type != MSGPACK_OBJECT_STR)
			continue;
		n = v->via.str.size < len - 1 ? v->via.str.size : len - 1;
		for (size_t j = 0; j < n; j++) {
			unsigned char ch = (unsigned char)v->via.str.ptr[j];

			buf[j] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		}
		buf[n] = '\0';
	}
	return buf;
}

/* One event as a line: time, who, what. */
static void print_event(const msgpack_object *m)
{
	uint64_t us = event_u64(m, "time_us"), dropped = event_u64(m, "dropped");
	char when[32], name[80], op[64], obj[300];
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (dropped)
		printf("(%" PRIu64 " request%s not shown: this monitor read too slowly)\n",
		       dropped, dropped == 1 ? "" : "s");
	if (!localtime_r(&t, &tm) || !strftime(when, sizeof when, "%H:%M:%S", &tm))
		snprintf(when, sizeof when, "?");
	printf("%s.%06u client %" PRIu64 " (pid %" PRId64 " uid %" PRIu64 " %s) %s %s\n", when,
	       (unsigned)(us % 1000000), event_u64(m, "client"), (int64_t)event_u64(m, "pid"),
	       event_u64(m, "uid"), event_str(m, "name", name, sizeof name)[0] ? name : "-",
	       event_str(m, "op", op, sizeof op), event_str(m, "object", obj, sizeof obj));
}

int ctl_admin_monitor(struct ctl *ctl)
{
	ipc_client *c = ctl_connect(ctl);
	struct timespec start, now;
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_monitor(c);
	if (r < 0)
		return ctl_fail(ctl, r, "%s", ctl->what);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int left = ctl->timeout_ms;
		msgpack_unpacked u;
		void *mp;
		size_t len;

		if (left >= 0) {
			long long spent;

			clock_gettime(CLOCK_MONOTONIC, &now);
			spent = (long long)(now.tv_sec - start.tv_sec) * 1000 +
				(now.tv_nsec - start.tv_nsec) / 1000000;
			if (spent >= left)
				return CTL_EXIT_OK;
			left -= (int)spent;
		}
		r = ipc_monitor_next(c, &mp, &len, left);
		if (r == -ETIMEDOUT)
			return CTL_EXIT_OK;
		if (r < 0)
			return ctl_fail(ctl, r, "%s", ctl->what);
		msgpack_unpacked_init(&u);
		if (ctl_json_unpack(mp, len, &u) == 0) {
			if (ctl->json)
				r = ctl_emit_json(ctl_json_from_msgpack(&u.data));
			else
				print_event(&u.data);
		}
		msgpack_unpacked_destroy(&u);
		free(mp);
		/* A trace is read as it happens, through a pipe too. */
		if (fflush(stdout) != 0)
			return CTL_EXIT_FAIL;
	}
}
