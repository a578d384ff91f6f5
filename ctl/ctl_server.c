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
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_parse.h"

typedef int (*fetch_fn)(ipc_client *c, void **mp, size_t *len);

static const struct ctl_column object_cols[] = {
	{ "KIND",  "kind",  CTL_COL_TEXT },
	{ "NAME",  "name",  CTL_COL_TEXT },
	{ "OWNER", NULL,    CTL_COL_OWNER },
	{ "MODE",  "mode",  CTL_COL_MODE },
	{ "DEPTH", "depth", CTL_COL_NUMBER },
	{ "BYTES", "bytes", CTL_COL_NUMBER },
};

static const struct ctl_column client_cols[] = {
	{ "ID",      "id",      CTL_COL_NUMBER },
	{ "PID",     "pid",     CTL_COL_NUMBER },
	{ "OWNER",   NULL,      CTL_COL_OWNER },
	{ "HANDLES", "handles", CTL_COL_NUMBER },
	{ "WAITING", "waiting", CTL_COL_NUMBER },
	{ "NAME",    "name",    CTL_COL_TEXT },
};

static int fetch_and_show(struct ctl *ctl, fetch_fn fn, msgpack_object_type want,
			  const struct ctl_column *cols, size_t ncols)
{
	ipc_client *c = ctl_connect(ctl);
	void *mp = NULL;
	size_t len = 0;
	int r;

	if (!c)
		return CTL_EXIT_FAIL;
	r = fn(c, &mp, &len);
	if (r < 0)
		return ctl_fail(ctl, r, "%s", ctl->what);
	return ctl_show(ctl, mp, len, want, cols, ncols);
}

int ctl_server_status(struct ctl *ctl)
{
	return fetch_and_show(ctl, ipc_server_status, MSGPACK_OBJECT_MAP, NULL, 0);
}

int ctl_server_ls(struct ctl *ctl)
{
	return fetch_and_show(ctl, ipc_server_list, MSGPACK_OBJECT_ARRAY,
			      object_cols, sizeof(object_cols) / sizeof(object_cols[0]));
}

int ctl_server_clients(struct ctl *ctl)
{
	return fetch_and_show(ctl, ipc_server_clients, MSGPACK_OBJECT_ARRAY,
			      client_cols, sizeof(client_cols) / sizeof(client_cols[0]));
}

int ctl_server_chmod(struct ctl *ctl)
{
	unsigned mode;
	ipc_client *c;
	int r = ctl_parse_mode(ctl->args[0], &mode);

	if (r < 0 || mode > 0777) {
		fprintf(stderr, "ipcctl: %s: '%s' is not an octal mode up to 0777\n", ctl->what,
			ctl->args[0]);
		return CTL_EXIT_USAGE;
	}
	c = ctl_connect(ctl);
	if (!c)
		return CTL_EXIT_FAIL;
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
		fputs("ipcctl: out of memory\n", stderr);
		return CTL_EXIT_FAIL;
	}
	colon = strchr(spec, ':');
	if (colon)
		*colon++ = '\0';
	if ((spec[0] && parse_id(spec, 0, &uid) < 0) || (colon && parse_id(colon, 1, &gid) < 0) ||
	    (!spec[0] && !colon)) {
		fprintf(stderr, "ipcctl: %s: '%s' is not USER[:GROUP] or :GROUP (names or numbers)\n",
			ctl->what, ctl->args[0]);
		free(spec);
		return CTL_EXIT_USAGE;
	}
	free(spec);
	c = ctl_connect(ctl);
	if (!c)
		return CTL_EXIT_FAIL;
	r = ipc_chown(c, ctl->args[1], (uid_t)uid, (gid_t)gid);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[1]);
	return CTL_EXIT_OK;
}
