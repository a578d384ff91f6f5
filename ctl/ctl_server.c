/*
 * ctl_server.c - ipcctl's server-wide commands: status, ls, clients, and
 * chmod and chown, which apply to an object of any kind.
 *
 * The introspection commands fetch one reply and print it: as JSON with
 * every key the daemon sent, or as text, lists as tables of their known
 * columns and the status as "key: value" lines.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_parse.h"


static const struct ctl_column object_cols[] = {
	{ "KIND",  "kind",  CTL_COL_TEXT },
	{ "NAME",  "name",  CTL_COL_TEXT },
	{ "OWNER", NULL,    CTL_COL_OWNER },
	{ "MODE",  "mode",  CTL_COL_MODE },
	{ "CREATED", "ctime", CTL_COL_TIME },
	{ "DEPTH", "depth", CTL_COL_NUMBER },
	{ "BYTES", "bytes", CTL_COL_NUMBER },
	{ "WHERE", NULL,    CTL_COL_WHERE },
	{ "TYPE",  "typecode", CTL_COL_TEXT },
	{ "LENGTH", "length", CTL_COL_NUMBER },
	{ "MAPPED", "mapped", CTL_COL_NUMBER },
	{ "LOCKER", "lock_pid", CTL_COL_NUMBER },
	{ "END0",  "end0",  CTL_COL_PIPE_END },
	{ "END1",  "end1",  CTL_COL_PIPE_END },
};

static const struct ctl_column client_cols[] = {
	{ "ID",      "id",      CTL_COL_NUMBER },
	{ "PID",     "pid",     CTL_COL_NUMBER },
	{ "OWNER",   NULL,      CTL_COL_OWNER },
	{ "HANDLES", "handles", CTL_COL_NUMBER },
	{ "WAITING", "waiting", CTL_COL_NUMBER },
	{ "AGE",     "age_ms",  CTL_COL_AGE_MS },
	{ "IDLE",    "idle_ms", CTL_COL_AGE_MS },
	{ "REQS",    "requests", CTL_COL_NUMBER },
	{ "IN",      "bytes_in", CTL_COL_NUMBER },
	{ "OUT",     "bytes_out", CTL_COL_NUMBER },
	{ "NAME",    "name",    CTL_COL_TEXT },
	{ "OPEN",    "open",    CTL_COL_LIST },
	{ "HELD",    "held",    CTL_COL_LIST },
};

/* An unsigned key of a status map, or -1. */
static long long status_u64(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0 &&
		    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= LLONG_MAX)
			return (long long)v->via.u64;
	}
	return -1;
}

/* "used of max (n%)" for the budgets below the status, or "used (no limit)". */
static void print_budget(const char *what, long long used, long long max, const char *unit)
{
	if (used < 0)
		return;
	if (max > 0)
		printf("  %-8s %lld of %lld%s (%.1f%%)\n", what, used, max, unit,
		       100.0 * (double)used / (double)max);
	else
		printf("  %-8s %lld%s (no limit)\n", what, used, unit);
}

int ctl_server_status(struct ctl *ctl)
{
	long long v[7] = { -1, -1, -1, -1, -1, -1, -1 };
	static const char *const keys[7] = { "memory", "max_memory", "clients", "max_clients",
					     "objects", "max_objects", "buffers" };
	ipc_client *c = ctl_connect(ctl);
	msgpack_unpacked u;
	void *mp = NULL;
	size_t len = 0, off = 0;
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_server_status(c, &mp, &len);
	if (r < 0)
		return ctl_fail(ctl, r, "%s", ctl->what);
	/* The budgets and their use, read before ctl_show takes the reply. */
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS)
		for (int i = 0; i < 7; i++)
			v[i] = status_u64(&u.data, keys[i]);
	msgpack_unpacked_destroy(&u);
	r = ctl_show(ctl, mp, len, MSGPACK_OBJECT_MAP, NULL, 0);
	if (r == CTL_EXIT_OK && !ctl->json) {
		printf("budgets:\n");
		/* The budget counts queued payload and the clients' buffers alike. */
		print_budget("memory", v[0] >= 0 && v[6] > 0 ? v[0] + v[6] : v[0], v[1], " bytes");
		print_budget("clients", v[2], v[3], "");
		print_budget("objects", v[4], v[5], "");
	}
	return r;
}

int ctl_server_ls(struct ctl *ctl)
{
	return ctl_fetch_show(ctl, ipc_server_list, MSGPACK_OBJECT_ARRAY,
			      object_cols, sizeof(object_cols) / sizeof(object_cols[0]));
}

int ctl_server_clients(struct ctl *ctl)
{
	return ctl_fetch_show(ctl, ipc_server_clients, MSGPACK_OBJECT_ARRAY,
			      client_cols, sizeof(client_cols) / sizeof(client_cols[0]));
}

int ctl_server_chmod(struct ctl *ctl)
{
	unsigned mode;
	ipc_client *c;
	int r = ctl_parse_mode(ctl->args[0], &mode);

	if (r < 0 || mode > 0777) {
		return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s: '%s' is not an octal mode up to 0777",
				  ctl->what, ctl->args[0]);
	}
	c = ctl_connect(ctl);
	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_chmod(c, ctl->args[1], mode);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[1]);
	return CTL_EXIT_OK;
}

/* A user or group id given by name or number; -1 if there is none. */
static int parse_id(const char *s, int group, unsigned *out)
{
	uint64_t v;

	if (group) {
		struct group *gr = getgrnam(s);

		if (gr) {
			*out = gr->gr_gid;
			return 0;
		}
	} else {
		struct passwd *pw = getpwnam(s);

		if (pw) {
			*out = pw->pw_uid;
			return 0;
		}
	}
	if (ctl_parse_u64(s, &v) < 0 || v >= 0xffffffffu)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int ctl_server_chown(struct ctl *ctl)
{
	char *spec = strdup(ctl->args[0]), *colon;
	unsigned uid = (unsigned)-1, gid = (unsigned)-1;
	ipc_client *c;
	int r;

	if (!spec) {
		return ctl_report(ctl, CTL_EXIT_FAIL, -ENOMEM, "%s", ctl->what);
	}
	colon = strchr(spec, ':');
	if (colon)
		*colon++ = '\0';
	if ((spec[0] && parse_id(spec, 0, &uid) < 0) || (colon && parse_id(colon, 1, &gid) < 0) ||
	    (!spec[0] && !colon)) {
		free(spec);
		return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s: '%s' is not USER[:GROUP] or :GROUP "
				  "(names or numbers)", ctl->what, ctl->args[0]);
	}
	free(spec);
	c = ctl_connect(ctl);
	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_chown(c, ctl->args[1], (uid_t)uid, (gid_t)gid);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[1]);
	return CTL_EXIT_OK;
}
