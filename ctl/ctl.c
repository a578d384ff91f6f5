/*
 * ctl.c - the helpers ipcctl's command handlers share (see ctl.h): the
 * lazy connection, the one-line failure report, and printing of replies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "ctl_json.h"

ipc_client *ctl_connect(struct ctl *ctl)
{
	const char *env = getenv("IPCD_SOCKET");
	const char *where;
	int r;

	if (ctl->client)
		return ctl->client;
	r = ipc_connect(ctl->socket, &ctl->client);
	if (r == 0)
		return ctl->client;
	ctl->client = NULL;
	if (ctl->socket)
		where = ctl->socket;
	else if (env && env[0])
		where = env;
	else
		where = "the default socket";
	/* ipc_strerror() speaks of objects; for a socket path errno's words fit. */
	fprintf(stderr, "ipcctl: cannot connect to ipcd at %s: %s\n", where,
		r == -ENOENT ? "No such socket (is ipcd running?)" : ipc_strerror(r));
	return NULL;
}

int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...)
{
	const char *msg = ctl->client ? ipc_last_error(ctl->client) : "";
	const char *why = ipc_strerror(err);
	va_list ap;

	fputs("ipcctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s", why);
	/* The daemon's words are its own: keep the report on one line. */
	if (msg[0] && strcasecmp(msg, why) != 0) {
		fputs(" (", stderr);
		for (; *msg; msg++)
			fputc((unsigned char)*msg < 0x20 || *msg == 0x7f ? ' ' : *msg, stderr);
		fputc(')', stderr);
	}
	fputc('\n', stderr);
	return CTL_EXIT_FAIL;
}

int ctl_show(struct ctl *ctl, void *mp, size_t len, msgpack_object_type want,
	     const struct ctl_column *cols, size_t ncols)
{
	msgpack_unpacked u;
	int rc = CTL_EXIT_OK;

	msgpack_unpacked_init(&u);
	if (ctl_json_unpack(mp, len, &u) < 0 || u.data.type != want) {
		fprintf(stderr, "ipcctl: %s: unexpected reply from ipcd\n", ctl->what);
		rc = CTL_EXIT_FAIL;
	} else if (ctl->json) {
		rc = ctl_emit_json(ctl_json_from_msgpack(&u.data));
	} else if (cols) {
		ctl_print_table(stdout, cols, ncols, &u.data);
	} else {
		ctl_print_map(stdout, &u.data);
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return rc;
}

int ctl_emit_json(json_t *v)
{
	char *text = v ? ctl_json_dumps(v) : NULL;

	json_decref(v);
	if (!text) {
		fputs("ipcctl: out of memory\n", stderr);
		return CTL_EXIT_FAIL;
	}
	puts(text);
	free(text);
	return CTL_EXIT_OK;
}
