/*
 * ctl_print.h - ipcctl's human output: "key: value" lines and tables.
 *
 * Both read msgpack maps as the daemon sent them and never fail on their
 * shape: a missing key prints as '-', an unknown one in its plain form.
 * Known keys are shown in their best form beside the exact number
 * ("memory: 1536 (1.5 KiB)", "mode: 0600", "uid: 1000 (alice)").  Strings
 * from the daemon have their control characters replaced by '?'.
 */
#ifndef CTL_PRINT_H
#define CTL_PRINT_H

#include <stdio.h>
#include <msgpack.h>

/* How a table column shows its cell. */
enum ctl_col_kind {
	CTL_COL_TEXT,     /* the value of key, left-aligned */
	CTL_COL_NUMBER,   /* the value of key, right-aligned */
	CTL_COL_MODE,     /* the value of key in octal, as 0600 */
	CTL_COL_OWNER,    /* "uid" and "gid" as user:group names (key unused) */
	CTL_COL_LIST,     /* the array of strings at key, joined by ", " */
	CTL_COL_PIPE_END, /* the pipe end map at key: its holder's pid, or its state */
	CTL_COL_WHERE,    /* a queue's "where" with its "replicas": local, or cluster R3 */
	CTL_COL_TIME,     /* unix seconds at key as local "YYYY-MM-DD HH:MM:SS" */
	CTL_COL_AGE_MS,   /* milliseconds at key as a duration: "850ms", "3m 12s" */
};

struct ctl_column {
	const char *title;
	const char *key;
	enum ctl_col_kind kind;
};

/* Print each entry of map on its own "key: value" line, in the map's order. */
void ctl_print_map(FILE *out, const msgpack_object *map);

/*
 * Print rows (an array of maps) as a table with a title line, columns
 * padded to their widest cell.
 */
void ctl_print_table(FILE *out, const struct ctl_column *cols, size_t ncols,
		     const msgpack_object *rows);

#endif
