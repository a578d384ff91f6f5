/*
 * ctl_pipe.c - ipcctl's pipe commands: send, recv, stat, rm.
 *
 * A named pipe that a crashed program leaked is seen in ls and removed with
 * rm.  send and recv use an end as any process does: the first process to
 * use an end holds it, and ipcctl closes it when it exits, after which the
 * other end reads end of file.  They suit a pipe whose end nobody holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_json.h"
#include "ctl_parse.h"

/* Open end args[1] of the pipe args[0], or report why not (*rc). */
static ipc_pipe *open_end(struct ctl *ctl, int *rc)
{
	ipc_client *c;
	ipc_pipe *p = NULL;
	uint64_t end;
	int r;

	if (ctl_parse_u64(ctl->args[1], &end) < 0 || end > 1) {
		*rc = ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: the end is 0 or 1, not '%s'",
				 ctl->what, ctl->args[0], ctl->args[1]);
		return NULL;
	}
	c = ctl_connect(ctl);
	*rc = CTL_EXIT_CONNECT;
	if (!c)
		return NULL;
	r = ipc_pipe_open(c, ctl->args[0], (int)end, 0, &p);
	*rc = r < 0 ? ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]) : CTL_EXIT_OK;
	return r < 0 ? NULL : p;
}

int ctl_pipe_send(struct ctl *ctl)
{
	void *data;
	size_t len;
	ipc_pipe *p;
	int r, rc;

	rc = ctl_message_in(ctl, ctl->args[2], &data, &len);
	if (rc != CTL_EXIT_OK)
		return rc;
	p = open_end(ctl, &rc);
	if (p) {
		r = ipc_pipe_send(p, data, len, ctl->timeout_ms);
		if (r == -ETIMEDOUT || r == -EAGAIN)
			rc = ctl_report(ctl, CTL_EXIT_EMPTY, r, "%s %s", ctl->what, ctl->args[0]);
		else if (r < 0)
			rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
		ipc_pipe_close(p);
	}
	free(data);
	return rc;
}

int ctl_pipe_recv(struct ctl *ctl)
{
	void *data = NULL;
	size_t len = 0;
	ipc_pipe *p;
	int r, rc;

	p = open_end(ctl, &rc);
	if (!p)
		return rc;
	r = ipc_pipe_recv(p, &data, &len, ctl->timeout_ms);
	if (r == -ETIMEDOUT || r == -EAGAIN)
		rc = ctl_report(ctl, CTL_EXIT_EMPTY, 0, "%s %s: no message within %d ms", ctl->what,
				ctl->args[0], ctl->timeout_ms > 0 ? ctl->timeout_ms : 0);
	else if (r < 0)
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	else
		rc = ctl_message_out(ctl, data, len);
	ipc_pipe_close(p);
	return rc;
}

/* Is o the str s? */
static int is_str(const msgpack_object *o, const char *s)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
		if (is_str(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

int ctl_pipe_stat(struct ctl *ctl)
{
	ipc_client *c = ctl_connect(ctl);
	const msgpack_object *found = NULL;
	msgpack_unpacked u;
	void *mp = NULL;
	size_t len = 0;
	int r, rc;

	if (!c)
		return CTL_EXIT_CONNECT;
	/* A pipe has no handle to ask through: its entry in the list is its stat. */
	r = ipc_server_list(c, &mp, &len);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	msgpack_unpacked_init(&u);
	if (ctl_json_unpack(mp, len, &u) == 0 && u.data.type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; !found && i < u.data.via.array.size; i++) {
			const msgpack_object *o = &u.data.via.array.ptr[i];

			if (is_str(map_get(o, "name"), ctl->args[0]))
				found = o;
		}
	if (!found) {
		rc = ctl_report(ctl, CTL_EXIT_FAIL, 0, "%s %s: no pipe named '%s'", ctl->what,
				ctl->args[0], ctl->args[0]);
	} else if (!is_str(map_get(found, "kind"), "pipe")) {
		char kind[16] = "?";
		const msgpack_object *k = map_get(found, "kind");

		if (k && k->type == MSGPACK_OBJECT_STR && k->via.str.size < sizeof kind)
			snprintf(kind, sizeof kind, "%.*s", (int)k->via.str.size, k->via.str.ptr);
		rc = ctl_report(ctl, CTL_EXIT_FAIL, 0, "%s %s: '%s' is %s %s, not a pipe",
				ctl->what, ctl->args[0], ctl->args[0], kind[0] == 'a' ? "an" : "a",
				kind);
	} else if (ctl->json) {
		rc = ctl_emit_json(ctl_json_from_msgpack(found));
	} else {
		ctl_print_map(stdout, found);
		rc = CTL_EXIT_OK;
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return rc;
}

int ctl_pipe_rm(struct ctl *ctl)
{
	ipc_client *c = ctl_connect(ctl);
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_pipe_unlink(c, ctl->args[0]);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	return CTL_EXIT_OK;
}
