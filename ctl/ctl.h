/*
 * ctl.h - what ipcctl's command handlers share: the parsed command line,
 * the exit statuses, and the helpers that connect, report a failure and
 * print.  The helpers are in ctl.c; main() and the command table in
 * ipcctl.c; the handlers of server-wide commands in ctl_server.c, of queue
 * commands in ctl_queue.c, of array commands in ctl_array.c.
 */
#ifndef CTL_H
#define CTL_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>
#include <msgpack.h>

#include "ipcclient.h"
#include "ctl_print.h"

/* Exit statuses: one per kind of outcome, whatever the command (ipcctl(1)). */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,      /* ipcd refused or could not do the request */
	CTL_EXIT_USAGE = 2,     /* bad command line or operand; nothing was sent */
	CTL_EXIT_EMPTY = 3,     /* get, peek or recv found no message in time; join timed out */
	CTL_EXIT_CONNECT = 4,   /* ipcd could not be reached, or went away */
};

/*
 * One run of ipcctl.  The gate in ipcctl.c fills it from the command line
 * and checks it against the command's entry before the handler runs, so a
 * handler finds exactly the operands and options its command allows.
 */
struct ctl {
	const char *socket;     /* -s PATH, or NULL for the library's default */
	int json;               /* --json: print JSON instead of text */
	const char *what;       /* the command words, "queue put", for messages */
	char **args;            /* the operands after the command words */
	int nargs;
	int timeout_ms;         /* --timeout, else the command's default */
	int create;             /* --create */
	int raw;                /* --raw: messages are the bytes as typed, printed as they are */
	int hex;                /* --hex: messages are hex digits, printed as hex */
	ipc_queue_attr attr;    /* --maxsize, --maxbytes, --mode, --ack, --durable,
				   --replicas; 0 when not given */
	int interval_ms;        /* --interval of stat and top (ms); 1000 when not given */
	unsigned long count;    /* --count of stat: lines to print; 0 for no end */
	ipc_client *client;     /* set by ctl_connect(); main() disconnects it */
};

/*
 * The connection to ipcd, made on first use.  On failure reports "cannot
 * connect" naming every socket tried and why each failed, and returns NULL:
 * the handler should then return CTL_EXIT_CONNECT.
 */
ipc_client *ctl_connect(struct ctl *ctl);

/*
 * Report that an operation failed with err (a negative errno): one line on
 * stderr, "ipcctl: <fmt...>: <ipc_strerror(err)> (<daemon's message>)",
 * the bracket only when the daemon said something; under --json the same
 * as one JSON object {"error", "exit", "errno", "reason", "detail"}.
 * Returns the exit status for err: CTL_EXIT_CONNECT when ipcd went away,
 * else CTL_EXIT_FAIL.
 */
int ctl_fail(struct ctl *ctl, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Report a failure of kind code (an exit status) found by ipcctl itself,
 * err a negative errno or 0, as ctl_fail does.  Returns code.  ctl may be NULL.
 */
int ctl_report(struct ctl *ctl, int code, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The same with a va_list and the daemon's words (detail, may be NULL). */
int ctl_vreport(int code, int err, const char *detail, const char *fmt, va_list ap);

/* Report failures as JSON objects (--json). */
void ctl_report_json(int on);

/*
 * Print introspection bytes mp (len bytes, from malloc; freed here), which
 * must be one msgpack value of type want: as JSON with --json, else as a
 * table of the ncols columns cols when there are any, else as "key: value"
 * lines.  Returns an exit status; a reply of another shape is a failure.
 */
int ctl_show(struct ctl *ctl, void *mp, size_t len, msgpack_object_type want,
	     const struct ctl_column *cols, size_t ncols);

/* An introspection call of libipcclient (ipc_server_list, ...). */
typedef int (*ctl_fetch_fn)(ipc_client *c, void **mp, size_t *len);

/*
 * Connect, fetch with fn and ctl_show() the reply; a failure is reported
 * with ctl->what.  Returns an exit status.
 */
int ctl_fetch_show(struct ctl *ctl, ctl_fetch_fn fn, msgpack_object_type want,
		   const struct ctl_column *cols, size_t ncols);

/*
 * Print v (any JSON value) compactly on its own line of stdout, and drop
 * the caller's reference to it.  v NULL means memory ran out.  Returns an
 * exit status.
 */
int ctl_emit_json(json_t *v);

/*
 * The message operand text as bytes to send: JSON encoded as msgpack (the
 * convention), or with --raw the text's own bytes, with --hex the bytes its
 * hex digits spell.  *data is from malloc.  Returns 0, or an exit status
 * after reporting why (a usage error for text that does not parse).
 */
int ctl_message_in(struct ctl *ctl, const char *text, void **data, size_t *len);

/*
 * Print a message got (data, len bytes; freed here): as JSON (the value it
 * encodes, or its bytes as a string when it is not msgpack), with --raw its
 * bytes as they are and no newline, with --hex as hex digits.  Returns an
 * exit status.
 */
int ctl_message_out(struct ctl *ctl, void *data, size_t len);

/* Command handlers, each returning an exit status (ctl_server.c). */
int ctl_server_status(struct ctl *ctl);
int ctl_server_ls(struct ctl *ctl);
int ctl_server_clients(struct ctl *ctl);
/* args[0] is the mode or USER[:GROUP], args[1] the object's name. */
int ctl_server_chmod(struct ctl *ctl);
int ctl_server_chown(struct ctl *ctl);

/* Watching the daemon: one line per interval, or the full-screen view (ctl_watch.c, ctl_top.c). */
int ctl_stat(struct ctl *ctl);
int ctl_top(struct ctl *ctl);

/* Queue command handlers; args[0] is the queue's name (ctl_queue.c). */
int ctl_queue_create(struct ctl *ctl);
int ctl_queue_put(struct ctl *ctl);
int ctl_queue_get(struct ctl *ctl);
int ctl_queue_join(struct ctl *ctl);
int ctl_queue_peek(struct ctl *ctl);
int ctl_queue_stat(struct ctl *ctl);
int ctl_queue_purge(struct ctl *ctl);
int ctl_queue_rm(struct ctl *ctl);

/* Pipe command handlers; args[0] is the pipe's name (ctl_pipe.c). */
int ctl_pipe_send(struct ctl *ctl);
int ctl_pipe_recv(struct ctl *ctl);
int ctl_pipe_stat(struct ctl *ctl);
int ctl_pipe_rm(struct ctl *ctl);

/* Administration (ctl_admin.c). */
int ctl_admin_config(struct ctl *ctl);
int ctl_admin_config_set(struct ctl *ctl);
int ctl_admin_client_kill(struct ctl *ctl);
int ctl_admin_monitor(struct ctl *ctl);

/* Array command handlers; args[0] is the array's name (ctl_array.c). */
int ctl_array_create(struct ctl *ctl);
int ctl_array_get(struct ctl *ctl);
int ctl_array_set(struct ctl *ctl);
int ctl_array_stat(struct ctl *ctl);
int ctl_array_rm(struct ctl *ctl);

#endif
