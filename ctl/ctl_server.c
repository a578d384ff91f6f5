/*
 * ctl_server.c - ipcctl's server-wide commands: status, ls, clients.
 *
 * Each fetches one introspection reply and prints it: as JSON with every
 * key the daemon sent, or as text, lists as tables of their known columns
 * and the status as "key: value" lines.
 */
#include "ctl.h"

typedef int (*fetch_fn)(ipc_client *c, void **mp, size_t *len);

static const struct ctl_column object_cols[] = {
	{ "KIND",  "kind",  CTL_COL_TEXT },
	{ "NAME",  "name",  CTL_COL_TEXT },
	{ "OWNER", NULL,    CTL_COL_OWNER },
	{ "MODE",  "mode",  CTL_COL_MODE },
	{ "DEPTH", "depth", CTL_COL_NUMBER },
	{ "BYTES", "bytes", CTL_COL_NUMBER },
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
	{ "NAME",    "name",    CTL_COL_TEXT },
	{ "OPEN",    "open",    CTL_COL_LIST },
	{ "HELD",    "held",    CTL_COL_LIST },
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
