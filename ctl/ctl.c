/*
 * ctl.c - the helpers ipcctl's command handlers share (see ctl.h): the
 * lazy connection, the one-line failure report, and printing of replies.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "ctl_json.h"

/* Why connecting to a socket failed, in words about sockets. */
static const char *connect_why(int err)
{
	switch (-err) {
	case ENOENT: return "no such socket";
	case ECONNREFUSED: return "nothing listening (is ipcd running?)";
	case EACCES: return "permission denied (the system socket admits the group ipcd)";
	}
	return ipc_strerror(err);
}

ipc_client *ctl_connect(struct ctl *ctl)
{
	char path[PATH_MAX], tried[4096];
	size_t at = 0;
	ipc_client *probe;
	int r;

	if (ctl->client)
		return ctl->client;
	r = ipc_connect(ctl->socket, &ctl->client);
	if (r == 0)
		return ctl->client;
	ctl->client = NULL;
	if (ctl->socket) {
		snprintf(tried, sizeof tried, "%s (%s)", ctl->socket, connect_why(r));
	} else {
		/* Each default socket in turn, with what connecting to it gave. */
		tried[0] = '\0';
		for (unsigned i = 0; ipc_default_socket(i, path, sizeof path) == 0; i++) {
			int e = ipc_connect(path, &probe);

			if (e == 0)
				ipc_disconnect(probe);
			at += (size_t)snprintf(tried + at, sizeof tried - at, "%s%s (%s)",
					       i ? ", " : "", path,
					       e == 0 ? "serving now" : connect_why(e));
			if (at >= sizeof tried)
				break;
		}
		if (!tried[0])
			snprintf(tried, sizeof tried, "no socket: set IPCD_SOCKET or use -s");
	}
	ctl_report(ctl, CTL_EXIT_CONNECT, 0, "cannot connect to ipcd: tried %s", tried);
	return NULL;
}

/* --json: failures are reported as JSON too (set before any can happen). */
static int report_json;

void ctl_report_json(int on)
{
	report_json = on;
}

/* Replace control characters: a report stays one line, whoever wrote its words. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

int ctl_vreport(int code, int err, const char *detail, const char *fmt, va_list ap)
{
	char what[1024];
	const char *why = err ? ipc_strerror(err) : "";

	vsnprintf(what, sizeof what, fmt, ap);
	one_line(what);
	/* ipc_strerror() covers connecting too; once connected, ENOENT is an object. */
	if (err == -ENOENT && code != CTL_EXIT_CONNECT)
		why = "No such object";
	if (detail && strcasecmp(detail, why) == 0)
		detail = NULL;
	if (report_json) {
		json_t *e = json_pack("{s:s, s:i}", "error", what, "exit", code);
		char *text;

		if (e && err) {
			const char *name = strerrorname_np(err < 0 ? -err : err);

			json_object_set_new(e, "errno", json_string(name ? name : "unknown"));
			json_object_set_new(e, "reason", json_string(why));
		}
		if (e && detail && detail[0])
			json_object_set_new(e, "detail", json_string(detail));
		text = e ? json_dumps(e, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		json_decref(e);
		fprintf(stderr, "%s\n", text ? text : "{\"error\":\"out of memory\"}");
		free(text);
		return code;
	}
	fprintf(stderr, "ipcctl: %s", what);
	if (err)
		fprintf(stderr, ": %s", why);
	if (detail && detail[0]) {
		char d[1024];

		snprintf(d, sizeof d, "%s", detail);
		one_line(d);
		fprintf(stderr, " (%s)", d);
	}
	fputc('\n', stderr);
	return code;
}

int ctl_report(struct ctl *ctl, int code, int err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	(void)ctl;
	va_start(ap, fmt);
	rc = ctl_vreport(code, err, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...)
{
	const char *msg = ctl->client ? ipc_last_error(ctl->client) : "";
	va_list ap;
	int rc, code = CTL_EXIT_FAIL;

	/* ipcd went away under the request: the same kind of failure as not reaching it. */
	if (err == -ECONNRESET || err == -ENOTCONN || err == -ESHUTDOWN ||
	    err == -ECONNREFUSED)
		code = CTL_EXIT_CONNECT;
	va_start(ap, fmt);
	rc = ctl_vreport(code, err, msg, fmt, ap);
	va_end(ap);
	return rc;
}

int ctl_show(struct ctl *ctl, void *mp, size_t len, msgpack_object_type want,
	     const struct ctl_column *cols, size_t ncols)
{
	msgpack_unpacked u;
	int rc = CTL_EXIT_OK;

	msgpack_unpacked_init(&u);
	if (ctl_json_unpack(mp, len, &u) < 0 || u.data.type != want) {
		rc = ctl_report(ctl, CTL_EXIT_FAIL, -EPROTO, "%s: unexpected reply from ipcd",
				ctl->what);
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

int ctl_fetch_show(struct ctl *ctl, ctl_fetch_fn fn, msgpack_object_type want,
		   const struct ctl_column *cols, size_t ncols)
{
	ipc_client *c = ctl_connect(ctl);
	void *mp = NULL;
	size_t len = 0;
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = fn(c, &mp, &len);
	if (r < 0)
		return ctl_fail(ctl, r, "%s", ctl->what);
	return ctl_show(ctl, mp, len, want, cols, ncols);
}

int ctl_emit_json(json_t *v)
{
	char *text = v ? ctl_json_dumps(v) : NULL;

	json_decref(v);
	if (!text)
		return ctl_report(NULL, CTL_EXIT_FAIL, -ENOMEM, "printing the reply");
	puts(text);
	free(text);
	return CTL_EXIT_OK;
}

/* The value of hex digit ch, or -1. */
static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

int ctl_message_in(struct ctl *ctl, const char *text, void **data, size_t *len)
{
	size_t n = strlen(text);

	*data = NULL;
	*len = 0;
	if (ctl->raw) {
		*data = malloc(n ? n : 1);
		if (!*data)
			return ctl_report(ctl, CTL_EXIT_FAIL, -ENOMEM, "%s", ctl->what);
		memcpy(*data, text, n);
		*len = n;
		return 0;
	}
	if (ctl->hex) {
		unsigned char *b = malloc(n / 2 + 1);
		size_t k = 0;

		if (!b)
			return ctl_report(ctl, CTL_EXIT_FAIL, -ENOMEM, "%s", ctl->what);
		/* Pairs of digits; spaces between bytes are allowed ("68 69"). */
		for (size_t i = 0; i < n; i++) {
			if (text[i] == ' ')
				continue;
			if (i + 1 >= n || hexval(text[i]) < 0 || hexval(text[i + 1]) < 0) {
				free(b);
				return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: '%s' is not bytes in "
						  "hex (pairs of digits)", ctl->what, ctl->args[0],
						  text);
			}
			b[k++] = (unsigned char)(hexval(text[i]) << 4 | hexval(text[i + 1]));
			i++;
		}
		*data = b;
		*len = k;
		return 0;
	}
	{
		msgpack_sbuffer buf;
		msgpack_packer pk;
		json_error_t jerr;
		json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		int r;

		if (!v)
			return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: invalid JSON value: %s "
					  "(a string is quoted: '\"text\"'; --raw sends bytes as "
					  "they are)", ctl->what, ctl->args[0], jerr.text);
		msgpack_sbuffer_init(&buf);
		msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
		r = ctl_json_to_msgpack(v, &pk);
		json_decref(v);
		if (r < 0) {
			msgpack_sbuffer_destroy(&buf);
			return ctl_report(ctl, CTL_EXIT_FAIL, r, "%s %s", ctl->what, ctl->args[0]);
		}
		*len = buf.size;
		*data = msgpack_sbuffer_release(&buf);
		if (!*data)
			*data = malloc(1);
		if (!*data)
			return ctl_report(ctl, CTL_EXIT_FAIL, -ENOMEM, "%s", ctl->what);
		return 0;
	}
}

int ctl_message_out(struct ctl *ctl, void *data, size_t len)
{
	int rc = CTL_EXIT_OK;

	if (ctl->raw) {
		if (len && fwrite(data, 1, len, stdout) != len)
			rc = CTL_EXIT_FAIL;
	} else if (ctl->hex) {
		for (size_t i = 0; i < len; i++)
			printf("%02x", ((unsigned char *)data)[i]);
		putchar('\n');
	} else {
		rc = ctl_emit_json(ctl_json_from_message(data, len, NULL));
	}
	free(data);
	return rc;
}
