/*
 * ctl_print.c - "key: value" lines and tables for ipcctl's human output
 * (see ctl_print.h).  Each value is rendered into a small buffer first, so
 * that tables can measure their columns before printing.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_json.h"
#include "ctl_print.h"

#define CELL_MAX 256

/* How a known key's value is shown in "key: value" lines. */
enum fmt {
	FMT_PLAIN,
	FMT_SIZE,         /* bytes */
	FMT_SIZE_LIMIT,   /* bytes, 0 meaning no limit */
	FMT_COUNT_LIMIT,  /* a count, 0 meaning no limit */
	FMT_DURATION,     /* seconds */
	FMT_TIME,         /* unix seconds */
	FMT_MODE,
	FMT_UID,
	FMT_GID,
};

static const struct {
	const char *key;
	enum fmt fmt;
} key_fmts[] = {
	{ "uptime",      FMT_DURATION },
	{ "memory",      FMT_SIZE },
	{ "buffers",     FMT_SIZE },
	{ "bytes",       FMT_SIZE },
	{ "max_memory",  FMT_SIZE_LIMIT },
	{ "max_message", FMT_SIZE },
	{ "shm",         FMT_SIZE },
	{ "max_shm",     FMT_SIZE },
	{ "max_array_bytes", FMT_SIZE },
	{ "maxbytes",    FMT_SIZE_LIMIT },
	{ "maxsize",     FMT_COUNT_LIMIT },
	{ "ctime",       FMT_TIME },
	{ "bytes_in",    FMT_SIZE },
	{ "bytes_out",   FMT_SIZE },
	{ "mode",        FMT_MODE },
	{ "uid",         FMT_UID },
	{ "gid",         FMT_GID },
};

static enum fmt key_fmt(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof(key_fmts) / sizeof(key_fmts[0]); i++)
		if (strlen(key_fmts[i].key) == len && memcmp(key_fmts[i].key, key, len) == 0)
			return key_fmts[i].fmt;
	return FMT_PLAIN;
}

static const msgpack_object *find(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

/* Copy len bytes into buf (size CELL_MAX), control characters as '?'. */
static void sanitise(char *buf, const char *s, size_t len)
{
	size_t n = len < CELL_MAX - 1 ? len : CELL_MAX - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	buf[n] = '\0';
}

static int get_u64(const msgpack_object *o, uint64_t *v)
{
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return 0;
	*v = o->via.u64;
	return 1;
}

/* The value alone: numbers and strings as they are, others as JSON, '-' if absent. */
static void render_plain(char *buf, const msgpack_object *o)
{
	json_t *j;
	char *text;

	if (!o || o->type == MSGPACK_OBJECT_NIL) {
		strcpy(buf, "-");
		return;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(buf, CELL_MAX, "%" PRIu64, o->via.u64);
		return;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf, CELL_MAX, "%" PRId64, o->via.i64);
		return;
	case MSGPACK_OBJECT_STR:
		sanitise(buf, o->via.str.ptr, o->via.str.size);
		return;
	default:
		break;
	}
	j = ctl_json_from_msgpack(o);
	text = j ? ctl_json_dumps(j) : NULL;
	sanitise(buf, text ? text : "?", text ? strlen(text) : 1);
	free(text);
	json_decref(j);
}

static void human_size(char *buf, size_t len, uint64_t v)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v / 1024;
	size_t u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", d, units[u]);
}

static void human_duration(char *buf, size_t len, uint64_t s)
{
	uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (d)
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m", d, h, m);
	else if (h)
		snprintf(buf, len, "%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", h, m, s % 60);
	else if (m)
		snprintf(buf, len, "%" PRIu64 "m %" PRIu64 "s", m, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
}

static void render_mode(char *buf, const msgpack_object *o)
{
	uint64_t v;

	if (get_u64(o, &v))
		snprintf(buf, CELL_MAX, "%04" PRIo64, v);
	else
		render_plain(buf, o);
}

/* The exact value, then in brackets the best form of it for fmt. */
static void render_value(char *buf, const msgpack_object *o, enum fmt fmt)
{
	char extra[96] = "";
	struct passwd *pw;
	struct group *gr;
	struct tm tm;
	time_t t;
	uint64_t v;

	if (fmt == FMT_MODE) {
		render_mode(buf, o);
		return;
	}
	render_plain(buf, o);
	if (!get_u64(o, &v))
		return;
	switch (fmt) {
	case FMT_SIZE_LIMIT:
	case FMT_COUNT_LIMIT:
		if (v == 0) {
			strcpy(extra, "unlimited");
			break;
		}
		if (fmt == FMT_COUNT_LIMIT)
			break;
		/* fall through */
	case FMT_SIZE:
		if (v >= 1024)
			human_size(extra, sizeof(extra), v);
		break;
	case FMT_DURATION:
		if (v >= 60)
			human_duration(extra, sizeof(extra), v);
		break;
	case FMT_TIME:
		t = (time_t)v;
		if (v <= INT64_MAX && localtime_r(&t, &tm))
			strftime(extra, sizeof(extra), "%Y-%m-%d %H:%M:%S %z", &tm);
		break;
	case FMT_UID:
		if (v <= UINT32_MAX && (pw = getpwuid((uid_t)v)))
			snprintf(extra, sizeof(extra), "%s", pw->pw_name);
		break;
	case FMT_GID:
		if (v <= UINT32_MAX && (gr = getgrgid((gid_t)v)))
			snprintf(extra, sizeof(extra), "%s", gr->gr_name);
		break;
	default:
		break;
	}
	if (extra[0]) {
		size_t n = strlen(buf);

		sanitise(extra, extra, strlen(extra));
		snprintf(buf + n, CELL_MAX - n, " (%s)", extra);
	}
}

/* A time of day for a table: wide enough to tell objects apart, local time. */
static void render_time(char *buf, const msgpack_object *o)
{
	struct tm tm;
	time_t t;
	uint64_t v;

	if (get_u64(o, &v) && v <= INT64_MAX && (t = (time_t)v, localtime_r(&t, &tm)))
		strftime(buf, CELL_MAX, "%Y-%m-%d %H:%M:%S", &tm);
	else
		render_plain(buf, o);
}

static void render_age_ms(char *buf, const msgpack_object *o)
{
	uint64_t v;

	if (!get_u64(o, &v))
		render_plain(buf, o);
	else if (v < 1000)
		snprintf(buf, CELL_MAX, "%" PRIu64 "ms", v);
	else if (v < 60000)
		snprintf(buf, CELL_MAX, "%.1fs", (double)v / 1000);
	else
		human_duration(buf, CELL_MAX, v / 1000);
}

/* "user:group", each by name when it has one, else by number; '-' if unknown. */
static void render_owner(char *buf, const msgpack_object *row)
{
	char user[64], group[64];
	struct passwd *pw;
	struct group *gr;
	uint64_t uid, gid;

	if (!get_u64(find(row, "uid"), &uid)) {
		strcpy(buf, "-");
		return;
	}
	if (uid <= UINT32_MAX && (pw = getpwuid((uid_t)uid)))
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "%" PRIu64, uid);
	if (!get_u64(find(row, "gid"), &gid))
		snprintf(group, sizeof(group), "-");
	else if (gid <= UINT32_MAX && (gr = getgrgid((gid_t)gid)))
		snprintf(group, sizeof(group), "%s", gr->gr_name);
	else
		snprintf(group, sizeof(group), "%" PRIu64, gid);
	snprintf(buf, CELL_MAX, "%s:%s", user, group);
	sanitise(buf, buf, strlen(buf));
}

/* Where a queue lives: local, or cluster with its replicas (cluster R3). */
static void render_where(char *buf, const msgpack_object *row)
{
	const msgpack_object *w = find(row, "where");
	uint64_t r = 0;

	if (!w || w->type != MSGPACK_OBJECT_STR) {
		snprintf(buf, CELL_MAX, "-");
		return;
	}
	get_u64(find(row, "replicas"), &r);
	if (r)
		snprintf(buf, CELL_MAX, "%.*s R%llu", (int)w->via.str.size, w->via.str.ptr,
			 (unsigned long long)r);
	else
		snprintf(buf, CELL_MAX, "%.*s", (int)w->via.str.size, w->via.str.ptr);
}

/* The strings of an array joined by ", ", '-' when there are none. */
static void render_list(char *buf, const msgpack_object *o)
{
	char tmp[CELL_MAX];
	size_t n = 0;

	if (!o || o->type != MSGPACK_OBJECT_ARRAY) {
		render_plain(buf, o);
		return;
	}
	buf[0] = '\0';
	for (uint32_t i = 0; i < o->via.array.size && n < CELL_MAX - 1; i++) {
		render_plain(tmp, &o->via.array.ptr[i]);
		n += (size_t)snprintf(buf + n, CELL_MAX - n, "%s%s", i ? ", " : "", tmp);
	}
	if (!buf[0])
		strcpy(buf, "-");
}

/* A pipe end: "pid N" while a process holds it, else its state (free, closed). */
static void render_pipe_end(char *buf, const msgpack_object *end)
{
	const msgpack_object *pid = find(end, "pid");

	if (pid && pid->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		snprintf(buf, CELL_MAX, "pid %" PRIu64, pid->via.u64);
	else
		render_plain(buf, find(end, "state"));
}

void ctl_print_map(FILE *out, const msgpack_object *map)
{
	char key[CELL_MAX], val[CELL_MAX];

	if (map->type != MSGPACK_OBJECT_MAP)
		return;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		enum fmt fmt = FMT_PLAIN;

		render_plain(key, &kv->key);
		if (kv->key.type == MSGPACK_OBJECT_STR)
			fmt = key_fmt(kv->key.via.str.ptr, kv->key.via.str.size);
		render_value(val, &kv->val, fmt);
		fprintf(out, "%s: %s\n", key, val);
	}
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void print_cell(FILE *out, const char *s, size_t colw, int right, int last)
{
	size_t pad = colw - width(s);

	if (right)
		fprintf(out, "%*s%s", (int)pad, "", s);
	else if (last)
		fputs(s, out);
	else
		fprintf(out, "%s%*s", s, (int)pad, "");
	fputs(last ? "\n" : "  ", out);
}

void ctl_print_table(FILE *out, const struct ctl_column *cols, size_t ncols,
		     const msgpack_object *rows)
{
	uint32_t nrows = rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
	char (*cells)[CELL_MAX] = calloc((size_t)nrows * ncols + 1, CELL_MAX);
	size_t *colw = calloc(ncols, sizeof(*colw));

	if (!cells || !colw) {
		free(cells);
		free(colw);
		fputs("ipcctl: out of memory\n", stderr);
		return;
	}
	for (size_t c = 0; c < ncols; c++)
		colw[c] = width(cols[c].title);
	for (uint32_t r = 0; r < nrows; r++) {
		const msgpack_object *row = &rows->via.array.ptr[r];

		for (size_t c = 0; c < ncols; c++) {
			char *cell = cells[(size_t)r * ncols + c];

			if (cols[c].kind == CTL_COL_OWNER)
				render_owner(cell, row);
			else if (cols[c].kind == CTL_COL_LIST)
				render_list(cell, find(row, cols[c].key));
			else if (cols[c].kind == CTL_COL_PIPE_END)
				render_pipe_end(cell, find(row, cols[c].key));
			else if (cols[c].kind == CTL_COL_WHERE)
				render_where(cell, row);
			else if (cols[c].kind == CTL_COL_MODE)
				render_mode(cell, find(row, cols[c].key));
			else if (cols[c].kind == CTL_COL_TIME)
				render_time(cell, find(row, cols[c].key));
			else if (cols[c].kind == CTL_COL_AGE_MS)
				render_age_ms(cell, find(row, cols[c].key));
			else
				render_plain(cell, find(row, cols[c].key));
			if (width(cell) > colw[c])
				colw[c] = width(cell);
		}
	}
	for (size_t c = 0; c < ncols; c++)
		print_cell(out, cols[c].title, colw[c], cols[c].kind == CTL_COL_NUMBER,
			   c + 1 == ncols);
	for (uint32_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++)
			print_cell(out, cells[(size_t)r * ncols + c], colw[c],
				   cols[c].kind == CTL_COL_NUMBER, c + 1 == ncols);
	free(cells);
	free(colw);
}
