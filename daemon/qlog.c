/*
 * qlog.c - durable queues' logs (see qlog.h).
 *
 * A log file is "q-N.log" in the state directory: a 16-byte header (magic,
 * version) then records
 *     u32 crc | u32 len | u8 type | body[len]        (little-endian)
 * with crc the CRC-32C of len, type and body.  Types: META (a msgpack map of
 * the queue's name and attributes; the last one counts), PUT (u64 id, then
 * the message), TAKE (u64 id: a consumer was handed it, so after a restart
 * it comes back marked redelivered) and DONE (u64 id: gone for good).  Ids
 * grow with every put, so a log's PUTs are in id order and a message is
 * found by binary search when the log is read back.
 *
 * Records are appended to a buffer per log and written before the replies
 * of the requests that made them are sent (qlog_write, from the connection's
 * read callback), so that ipcd's own death never loses what it answered; at
 * the end of the loop turn (an event made active by the first record of the
 * turn) logs are fsynced under the policy always and the connections whose
 * replies were held are let go.  The rewrite of a log that grew past twice
 * its live data (and 1 MiB) happens there too.
 *
 * A durable array is saved whole as "a-N.arr": magic, meta length, CRC-32C
 * of meta and data, data length, a msgpack map of its name and attributes,
 * its bytes; written to a temporary file, fsynced (unless the policy is
 * no), renamed over the last one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "array.h"
#include "codec.h"
#include "conn.h"
#include "consumer.h"
#include "log.h"
#include "metrics.h"
#include "qlog.h"
#include "queue.h"
#include "server.h"

#define QLOG_MAGIC "IPCDQLOG"
#define QLOG_VERSION 1u
#define QLOG_HEADER 16u
#define REC_HEAD 9u                      /* crc, len, type */
#define REC_ID 8u
#define REC_MAX_BODY ((size_t)IPC_FRAME_HARD_MAX + REC_ID)
#define COMPACT_MIN ((off_t)1 << 20)     /* rewrite only logs past 1 MiB... */
#define COMPACT_RATIO 2                  /* ...and twice their live data */

enum { REC_META = 1, REC_PUT = 2, REC_TAKE = 3, REC_DONE = 4 };

struct qlog {
	struct qlog_dir *dir;
	struct queue *q;
	unsigned num;                /* the N of q-N.log */
	int fd;                      /* open for appending; -1 once closed */
	off_t size;                  /* bytes in the file, written or not yet */
	off_t live;                  /* bytes a rewrite would keep */
	unsigned char *buf;          /* records not yet written */
	size_t len, cap;
	off_t meta;                  /* bytes of the newest META record */
	bool unsynced;               /* written since the last fsync */
	bool dirty;                  /* on dir->dirty */
	int error;                   /* a negative errno once writing failed */
	struct qlog *next_dirty;
};

struct qlog_dir {
	struct server *srv;
	char *path;
	int fd;                      /* the directory, for fsync after a rename; -1 until made */
	int lock_fd;
	enum qlog_fsync policy;
	unsigned next_num;
	unsigned next_anum;          /* the N of the next a-N.arr */
	unsigned arrays_changed;     /* durable arrays with brokered writes not yet saved */
	struct qlog *dirty;          /* logs with records to write this turn */
	struct conn **held;          /* connections whose replies wait for the fsync */
	size_t nheld, heldcap;
	struct event *turn_ev;       /* the end of the loop turn */
	struct event *tick_ev;       /* once a second: everysec's fsync, mapped arrays' saves */
	bool stopping;
};

/* ------------------------------------------------------------------------ */
/* Checksums and encoding */

static uint32_t crc_table[256];

uint32_t qlog_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			crc_table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

char *qlog_default_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	const char *unit = getenv("STATE_DIRECTORY");
	char *path;

	/* systemd's StateDirectory=: the first of its directories. */
	if (unit && *unit)
		return strndup(unit, strcspn(unit, ":"));
	if (geteuid() == 0)
		return strdup("/var/lib/ipcd");
	if (xdg && *xdg)
		return asprintf(&path, "%s/ipcd", xdg) < 0 ? NULL : path;
	if (home && *home)
		return asprintf(&path, "%s/.local/state/ipcd", home) < 0 ? NULL : path;
	return NULL;
}

int qlog_fsync_parse(const char *s)
{
	if (strcmp(s, "always") == 0)
		return QLOG_FSYNC_ALWAYS;
	if (strcmp(s, "everysec") == 0)
		return QLOG_FSYNC_EVERYSEC;
	if (strcmp(s, "no") == 0)
		return QLOG_FSYNC_NO;
	return -1;
}

const char *qlog_fsync_name(enum qlog_fsync policy)
{
	return policy == QLOG_FSYNC_ALWAYS ? "always" :
	       policy == QLOG_FSYNC_EVERYSEC ? "everysec" : "no";
}

/* ------------------------------------------------------------------------ */
/* Appending */

static void turn_end_cb(evutil_socket_t fd, short what, void *arg);

static void mark_dirty(struct qlog *l)
{
	if (l->dirty)
		return;
	l->dirty = true;
	l->next_dirty = l->dir->dirty;
	l->dir->dirty = l;
	/* Runs after the callbacks already due in this turn: one write per turn. */
	event_active(l->dir->turn_ev, EV_TIMEOUT, 0);
}

/*
 * Append one record (head: type, then body a and b) to l's buffer.
 * Returns the record's size, or 0 when l can no longer be written.
 */
static size_t append(struct qlog *l, unsigned type, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	size_t need = REC_HEAD + alen + blen;
	unsigned char *p;
	uint32_t crc;

	if (l->error || l->fd < 0)
		return 0;
	if (l->cap - l->len < need) {
		size_t cap = l->cap ? l->cap : 4096;
		unsigned char *nb;

		while (cap - l->len < need)
			cap *= 2;
		nb = realloc(l->buf, cap);
		if (!nb) {
			log_error("queue log q-%u.log: out of memory; the log stops here", l->num);
			l->error = -ENOMEM;
			return 0;
		}
		l->buf = nb;
		l->cap = cap;
	}
	p = l->buf + l->len;
	put_le32(p + 4, (uint32_t)(alen + blen));
	p[8] = (unsigned char)type;
	memcpy(p + REC_HEAD, a, alen);
	if (blen)
		memcpy(p + REC_HEAD + alen, b, blen);
	crc = qlog_crc32c(0, p + 4, need - 4);
	put_le32(p, crc);
	l->len += need;
	l->size += (off_t)need;
	mark_dirty(l);
	return need;
}

static size_t append_id(struct qlog *l, unsigned type, uint64_t id, const void *data, size_t len)
{
	unsigned char idb[REC_ID];

	put_le64(idb, id);
	return append(l, type, idb, sizeof idb, data, len);
}

static void pack_meta(msgpack_sbuffer *sb, const struct qlog_meta *m)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	proto_pack_kv_str(&pk, "name", m->name);
	proto_pack_kv_u64(&pk, "uid", m->uid);
	proto_pack_kv_u64(&pk, "gid", m->gid);
	proto_pack_kv_u64(&pk, "mode", m->mode);
	proto_pack_kv_u64(&pk, "maxsize", m->maxsize);
	proto_pack_kv_u64(&pk, "maxbytes", m->maxbytes);
	proto_pack_kv_u64(&pk, "ack", m->ack);
	proto_pack_kv_i64(&pk, "ctime", (int64_t)m->ctime);
}

static size_t append_meta(struct qlog *l, const struct qlog_meta *m)
{
	msgpack_sbuffer sb;
	size_t n;

	pack_meta(&sb, m);
	n = append(l, REC_META, sb.data, sb.size, NULL, 0);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void hold(struct qlog_dir *d, struct conn *c)
{
	if (c->held || c->dead)
		return;
	if (d->nheld == d->heldcap) {
		size_t cap = d->heldcap ? d->heldcap * 2 : 16;
		struct conn **v = realloc(d->held, cap * sizeof *v);

		/* Without room to remember it, the connection waits for nothing: flush now. */
		if (!v) {
			qlog_sync_now(d->srv);
			return;
		}
		d->held = v;
		d->heldcap = cap;
	}
	c->held = true;
	d->held[d->nheld++] = c;
}

void qlog_put(struct queue *q, uint64_t id, const void *data, size_t len, struct conn *c)
{
	struct qlog *l = q->log;
	size_t n = append_id(l, REC_PUT, id, data, len);

	l->live += (off_t)n;
	if (n && c && l->dir->policy == QLOG_FSYNC_ALWAYS)
		hold(l->dir, c);
}

void qlog_take(struct queue *q, uint64_t id)
{
	append_id(q->log, REC_TAKE, id, NULL, 0);
}

void qlog_done(struct queue *q, uint64_t id, size_t len)
{
	struct qlog *l = q->log;

	append_id(l, REC_DONE, id, NULL, 0);
	l->live -= (off_t)(REC_HEAD + REC_ID + len);
}

void qlog_set_meta(struct queue *q, const struct qlog_meta *meta)
{
	struct qlog *l = q->log;
	size_t n = append_meta(l, meta);

	/* A rewrite keeps only the newest META. */
	if (n) {
		l->live += (off_t)n - l->meta;
		l->meta = (off_t)n;
	}
}

int qlog_error(const struct queue *q)
{
	return q->log ? q->log->error : 0;
}

/* ------------------------------------------------------------------------ */
/* Writing, syncing, rewriting */

static void log_path(const struct qlog_dir *d, unsigned num, const char *suffix, char *out,
		     size_t outlen)
{
	snprintf(out, outlen, "%s/q-%u.log%s", d->path, num, suffix);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void fail(struct qlog *l, int err, const char *what)
{
	if (!l->error)
		log_error("queue '%s': cannot %s its log q-%u.log: %s; it takes no more puts",
			  l->q ? l->q->obj.name : "?", what, l->num, strerror(-err));
	l->error = err;
}

/* Write l's buffered records. */
static void flush_one(struct qlog *l)
{
	int rc;

	if (!l->len || l->fd < 0)
		return;
	rc = l->error ? l->error : write_all(l->fd, l->buf, l->len);
	if (rc < 0)
		fail(l, rc, "write");
	else
		l->unsynced = true;
	l->len = 0;
}

static void sync_one(struct qlog *l)
{
	if (!l->unsynced || l->fd < 0)
		return;
	if (metrics_fdatasync(l->dir->srv, l->fd) < 0)
		fail(l, -errno, "fsync");
	l->unsynced = false;
}

static int sync_dir(struct qlog_dir *d)
{
	return fsync(d->fd) < 0 ? -errno : 0;
}

/* Collect every live message of q: queued, and in flight with its consumers. */
static size_t collect(const struct queue *q, struct msgrec **out)
{
	const struct consumer *cs;
	struct msgrec *v;
	size_t n = q->store.count, k = 0;

	TAILQ_FOREACH(cs, &q->consumers, link)
		n += cs->inflight.count + cs->unacked.count;
	v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return (size_t)-1;
	for (struct msgcursor cur = msgstore_cursor(&q->store); msgstore_next_rec(&cur, &v[k]); k++)
		;
	TAILQ_FOREACH(cs, &q->consumers, link) {
		struct msgcursor cur = msgstore_cursor(&cs->unacked);

		/* What a consumer was handed counts as taken. */
		for (; msgstore_next_rec(&cur, &v[k]); k++)
			v[k].flags |= MSG_REDELIVERED;
		for (cur = msgstore_cursor(&cs->inflight); msgstore_next_rec(&cur, &v[k]); k++)
			;
	}
	*out = v;
	return k;
}

static int by_id(const void *a, const void *b)
{
	const struct msgrec *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int write_header(int fd)
{
	unsigned char h[QLOG_HEADER] = QLOG_MAGIC;

	put_le32(h + 8, QLOG_VERSION);
	return write_all(fd, h, sizeof h);
}

/*
 * Rewrite l with only what is live, safely: a temporary file written and
 * fsynced, renamed over the log, the directory fsynced.  A crash at any
 * point leaves either the old log or the new one, whole.
 */
static int compact(struct qlog *l)
{
	struct qlog_dir *d = l->dir;
	char tmp[PATH_MAX], path[PATH_MAX];
	struct qlog_meta meta;
	struct msgrec *recs;
	size_t n = collect(l->q, &recs);
	int fd, rc;
	off_t old = l->size;

	if (n == (size_t)-1)
		return -ENOMEM;
	qsort(recs, n, sizeof *recs, by_id);
	log_path(d, l->num, ".tmp", tmp, sizeof tmp);
	log_path(d, l->num, "", path, sizeof path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(recs);
		return -errno;
	}
	/* Build the new log in l's buffer, writing it out as it fills. */
	l->fd = fd;
	l->size = QLOG_HEADER;
	l->live = QLOG_HEADER;
	rc = write_header(fd);
	queue_meta(l->q, &meta);
	l->meta = (off_t)append_meta(l, &meta);
	l->live += l->meta;
	for (size_t i = 0; i < n && rc == 0 && !l->error; i++) {
		l->live += (off_t)append_id(l, REC_PUT, recs[i].id, recs[i].data, recs[i].len);
		if (recs[i].flags & MSG_REDELIVERED)
			append_id(l, REC_TAKE, recs[i].id, NULL, 0);
		if (l->len >= 1u << 20)
			flush_one(l);
	}
	free(recs);
	flush_one(l);
	if (rc == 0 && !l->error && metrics_fdatasync(d->srv, fd) < 0)
		rc = -errno;
	if (rc == 0 && !l->error && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0 && !l->error)
		rc = sync_dir(d);
	if (rc < 0 || l->error) {
		rc = rc < 0 ? rc : l->error;
		close(fd);
		unlink(tmp);
		return rc;
	}
	log_info("queue '%s': log q-%u.log rewritten, %lld bytes to %lld",
		 l->q->obj.name, l->num, (long long)old, (long long)l->size);
	l->unsynced = false;
	return 0;
}

/* If l grew far past its live data, rewrite it. */
static void maybe_compact(struct qlog *l)
{
	int old_fd = l->fd, rc;
	off_t size = l->size, live = l->live;

	if (l->error || l->size < COMPACT_MIN || l->size < COMPACT_RATIO * l->live)
		return;
	rc = compact(l);
	if (rc < 0) {
		/* The old log is intact and still ours: carry on with it. */
		log_warn("queue '%s': cannot rewrite its log q-%u.log: %s", l->q->obj.name,
			 l->num, strerror(-rc));
		l->fd = old_fd;
		l->size = size;
		l->live = live;
		l->len = 0;
		l->error = 0;
		return;
	}
	close(old_fd);
}

/* Let the held connections' replies go. */
static void release_held(struct qlog_dir *d)
{
	while (d->nheld) {
		struct conn *c = d->held[--d->nheld];

		c->held = false;
		conn_flush(c);
	}
}

static void flush_dirty(struct qlog_dir *d)
{
	struct qlog *l;

	while ((l = d->dirty)) {
		d->dirty = l->next_dirty;
		l->dirty = false;
		if (!l->q) {
			/* Its queue was removed during the turn (qlog_remove). */
			free(l->buf);
			free(l);
			continue;
		}
		flush_one(l);
		if (d->policy == QLOG_FSYNC_ALWAYS)
			sync_one(l);
		maybe_compact(l);
	}
}

void qlog_write(struct server *srv)
{
	struct qlog *l;

	if (!srv->qlogs)
		return;
	for (l = srv->qlogs->dirty; l; l = l->next_dirty)
		if (l->q)
			flush_one(l);
}

static void save_arrays(struct qlog_dir *d, bool mapped_too);

static void turn_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qlog_dir *d = arg;

	flush_dirty(d);
	release_held(d);
	if (d->arrays_changed && d->policy == QLOG_FSYNC_ALWAYS)
		save_arrays(d, false);
}

void qlog_sync_now(struct server *srv)
{
	if (srv->qlogs)
		turn_end_cb(-1, 0, srv->qlogs);
}

/*
 * Once a second: everysec fsyncs what was written since the last tick;
 * durable arrays changed, or mapped writable by someone, are saved.
 */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qlog_dir *d = arg;
	struct object *o;

	TAILQ_FOREACH(o, &d->srv->objects, link) {
		struct queue *q;

		if (o->kind != &queue_kind || d->policy != QLOG_FSYNC_EVERYSEC)
			continue;
		q = container_of(o, struct queue, obj);
		if (q->log)
			sync_one(q->log);
	}
	save_arrays(d, true);
}

/* ------------------------------------------------------------------------ */
/* Durable arrays */

static uint64_t map_u64(const msgpack_object *map, const char *key);
static int dir_ready(struct qlog_dir *d, char *err, size_t errlen);

#define ARR_MAGIC "IPCDARR1"
#define ARR_HEADER 24u                   /* magic, meta length, crc, data length */

static void array_path(const struct qlog_dir *d, unsigned num, const char *suffix, char *out,
		       size_t outlen)
{
	snprintf(out, outlen, "%s/a-%u.arr%s", d->path, num, suffix);
}

/* Write a's snapshot over a-N.arr, atomically.  0 or a negative errno. */
static int save_array(struct qlog_dir *d, struct array *a)
{
	char tmp[PATH_MAX], path[PATH_MAX], tc[1] = { a->typecode };
	unsigned char head[ARR_HEADER] = ARR_MAGIC;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint32_t crc;
	int fd, rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 7);
	proto_pack_kv_str(&pk, "name", a->obj.name);
	proto_pack_kv_u64(&pk, "uid", a->obj.uid);
	proto_pack_kv_u64(&pk, "gid", a->obj.gid);
	proto_pack_kv_u64(&pk, "mode", a->obj.mode);
	proto_pack_cstr(&pk, "typecode");
	msgpack_pack_str_with_body(&pk, tc, 1);
	proto_pack_kv_u64(&pk, "length", a->length);
	proto_pack_kv_i64(&pk, "ctime", (int64_t)a->obj.ctime);
	crc = qlog_crc32c(qlog_crc32c(0, sb.data, sb.size), a->mem, a->bytes);
	put_le32(head + 8, (uint32_t)sb.size);
	put_le32(head + 12, crc);
	put_le64(head + 16, a->bytes);
	array_path(d, a->snapshot, ".tmp", tmp, sizeof tmp);
	array_path(d, a->snapshot, "", path, sizeof path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = fd < 0 ? -errno : write_all(fd, head, sizeof head);
	if (rc == 0)
		rc = write_all(fd, sb.data, sb.size);
	if (rc == 0)
		rc = write_all(fd, a->mem, a->bytes);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0 && d->policy != QLOG_FSYNC_NO && fdatasync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0 && d->policy != QLOG_FSYNC_NO)
		rc = sync_dir(d);
	if (rc < 0) {
		unlink(tmp);
		log_error("durable array '%s': cannot save it to %s: %s", a->obj.name, path,
			  strerror(-rc));
	}
	return rc;
}

/* Save the changed durable arrays (and with mapped_too those mapped writable). */
static void save_arrays(struct qlog_dir *d, bool mapped_too)
{
	struct object *o;

	if (!d->arrays_changed && !mapped_too)
		return;
	TAILQ_FOREACH(o, &d->srv->objects, link) {
		struct array *a;

		if (o->kind != &array_kind)
			continue;
		a = container_of(o, struct array, obj);
		if (!a->snapshot || !(a->changed || (mapped_too && array_mapped_writable(a))))
			continue;
		if (save_array(d, a) == 0 && a->changed) {
			a->changed = false;
			d->arrays_changed--;
		}
	}
}

int qlog_array_create(struct server *srv, struct array *a, char *err, size_t errlen)
{
	struct qlog_dir *d = srv->qlogs;
	int rc;

	rc = dir_ready(d, err, errlen);
	if (rc < 0)
		return rc;
	a->snapshot = d->next_anum++;
	rc = save_array(d, a);
	if (rc < 0) {
		snprintf(err, errlen, "cannot save it in %s: %s", d->path, strerror(-rc));
		a->snapshot = 0;
	}
	return rc;
}

void qlog_array_changed(struct array *a)
{
	struct qlog_dir *d = a->obj.srv->qlogs;

	if (a->changed)
		return;
	a->changed = true;
	d->arrays_changed++;
	if (d->policy == QLOG_FSYNC_ALWAYS)
		event_active(d->turn_ev, EV_TIMEOUT, 0);
}

void qlog_array_remove(struct array *a)
{
	struct qlog_dir *d = a->obj.srv->qlogs;
	char path[PATH_MAX];

	if (a->changed)
		d->arrays_changed--;
	a->changed = false;
	if (!d->stopping) {
		array_path(d, a->snapshot, "", path, sizeof path);
		if (unlink(path) < 0)
			log_warn("cannot remove %s of array '%s': %s", path, a->obj.name,
				 strerror(errno));
		sync_dir(d);
	}
	a->snapshot = 0;
}

/* Make the array saved in a-num.arr again; a file that cannot be used is set aside. */
static void recover_array(struct qlog_dir *d, unsigned num)
{
	char path[PATH_MAX], aside[PATH_MAX];
	const unsigned char *p = MAP_FAILED;
	const msgpack_object *name, *tcv;
	msgpack_unpacked u;
	const char *why = NULL;
	struct stat st;
	int fd;

	msgpack_unpacked_init(&u);
	array_path(d, num, "", path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("cannot open the array %s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size >= (off_t)ARR_HEADER)
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		why = "too short to be one";
	} else {
		uint32_t mlen = get_le32(p + 8), crc = get_le32(p + 12);
		uint64_t dlen = get_le64(p + 16);
		size_t off = 0;

		if (memcmp(p, ARR_MAGIC, 8) != 0 || (uint64_t)st.st_size != ARR_HEADER + mlen + dlen)
			why = "not an array ipcd saved, or cut short";
		else if (qlog_crc32c(qlog_crc32c(0, p + ARR_HEADER, mlen), p + ARR_HEADER + mlen,
				     dlen) != crc)
			why = "its checksum does not match";
		else if (!proto_is_one_value(p + ARR_HEADER, mlen) ||
			 msgpack_unpack_next(&u, (const char *)p + ARR_HEADER, mlen, &off) !=
			 MSGPACK_UNPACK_SUCCESS ||
			 !(name = proto_map_get(&u.data, "name")) || name->type != MSGPACK_OBJECT_STR ||
			 object_name_check(name->via.str.ptr, name->via.str.size) < 0 ||
			 !(tcv = proto_map_get(&u.data, "typecode")) || tcv->type != MSGPACK_OBJECT_STR ||
			 tcv->via.str.size != 1 ||
			 !ipc_typecode_size((unsigned char)tcv->via.str.ptr[0]) ||
			 map_u64(&u.data, "length") == 0 ||
			 map_u64(&u.data, "length") * ipc_typecode_size((unsigned char)tcv->via.str.ptr[0])
			 != dlen)
			why = "its description is malformed";
		else if (object_find(d->srv, name->via.str.ptr, name->via.str.size))
			why = "its name is taken";
		if (!why) {
			char *n = strndup(name->via.str.ptr, name->via.str.size);
			const msgpack_object *ct = proto_map_get(&u.data, "ctime");
			struct array *a = n ? array_restore(d->srv, n, (uid_t)map_u64(&u.data, "uid"),
							    (gid_t)map_u64(&u.data, "gid"),
							    (mode_t)map_u64(&u.data, "mode") & 0777,
							    ct ? (time_t)proto_i64(ct) : time(NULL),
							    tcv->via.str.ptr[0], map_u64(&u.data, "length"),
							    p + ARR_HEADER + mlen, num) : NULL;

			if (a) {
				log_info("array '%s' restored from %s", a->obj.name, path);
			} else {
				log_error("cannot restore array '%s' from %s: %s", n ? n : "?", path,
					  strerror(errno));
			}
			free(n);
		}
	}
	if (why) {
		array_path(d, num, ".bad", aside, sizeof aside);
		log_warn("array file %s: %s; moved to %s", path, why, aside);
		rename(path, aside);
	}
out:
	if (p != MAP_FAILED)
		munmap((void *)p, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	msgpack_unpacked_destroy(&u);
}

/* ------------------------------------------------------------------------ */
/* The state directory */

static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Create (if need be), open and lock the directory.  0 or a negative errno, why in err. */
static int dir_take(struct qlog_dir *d, char *err, size_t errlen)
{
	char lockpath[PATH_MAX];
	int rc = make_dirs(d->path);

	if (rc < 0) {
		snprintf(err, errlen, "cannot create the state directory %s: %s", d->path,
			 strerror(-rc));
		return rc;
	}
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(lockpath, sizeof lockpath, "%s/lock", d->path);
	d->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->fd < 0 || d->lock_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the state directory %s: %s", d->path,
			 strerror(-rc));
	} else if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "the state directory %s is used by another ipcd", d->path);
		rc = -EBUSY;
	}
	/* Not taken: keep nothing open, since the next durable create tries again. */
	if (rc < 0) {
		if (d->fd >= 0)
			close(d->fd);
		if (d->lock_fd >= 0)
			close(d->lock_fd);
		d->fd = d->lock_fd = -1;
	}
	return rc;
}

/* The first durable object made: the directory is taken now if need be. */
static int dir_ready(struct qlog_dir *d, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "ipcd runs without a state directory");
		return -ENOTSUP;
	}
	return d->lock_fd < 0 ? dir_take(d, err, errlen) : 0;
}

static struct qlog *qlog_new(struct qlog_dir *d, struct queue *q, unsigned num, int fd,
			     off_t size)
{
	struct qlog *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->dir = d;
	l->q = q;
	l->num = num;
	l->fd = fd;
	l->size = size;
	return l;
}

int qlog_create(struct server *srv, struct queue *q, const struct qlog_meta *meta,
		char *err, size_t errlen)
{
	struct qlog_dir *d = srv->qlogs;
	char path[PATH_MAX];
	struct qlog *l;
	int fd, rc;

	rc = dir_ready(d, err, errlen);
	if (rc < 0)
		return rc;
	log_path(d, d->next_num, "", path, sizeof path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	l = qlog_new(d, q, d->next_num, fd, QLOG_HEADER);
	if (!l) {
		close(fd);
		unlink(path);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->next_num++;
	l->meta = (off_t)append_meta(l, meta);
	l->live = QLOG_HEADER + l->meta;
	/* The queue exists on disk before anyone is told it does. */
	rc = write_header(fd);
	if (rc == 0) {
		flush_one(l);
		rc = l->error;
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (rc == 0)
		rc = sync_dir(d);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		close(fd);
		unlink(path);
		free(l->buf);
		free(l);
		return rc;
	}
	q->log = l;
	return 0;
}

void qlog_remove(struct queue *q)
{
	struct qlog *l = q->log;
	struct qlog_dir *d = l->dir;
	char path[PATH_MAX];

	q->log = NULL;
	l->q = NULL;
	if (!d->stopping) {
		log_path(d, l->num, "", path, sizeof path);
		if (unlink(path) < 0)
			log_warn("cannot remove the log %s of queue '%s': %s", path, q->obj.name,
				 strerror(errno));
		sync_dir(d);
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Still on the dirty list: freed when the turn ends. */
	if (l->dirty)
		return;
	free(l->buf);
	free(l);
}

/* ------------------------------------------------------------------------ */
/* Recovery */

struct entry {
	uint64_t id;
	const unsigned char *data;
	uint32_t len;
	unsigned flags;
	bool dead;
};

struct replay {
	const char *path;
	struct qlog_meta meta;
	char *name;                  /* owned copy for meta.name */
	bool have_meta;
	struct entry *v;
	size_t n, cap;
	uint64_t max_id;
};

static struct entry *find_entry(struct replay *r, uint64_t id)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->v[mid].id == id)
			return &r->v[mid];
		if (r->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* An unsigned key of a META map; 0 when missing. */
static uint64_t map_u64(const msgpack_object *map, const char *key)
{
	const msgpack_object *v = proto_map_get(map, key);

	return v ? proto_u64(v) : 0;
}

static int replay_meta(struct replay *r, const unsigned char *body, size_t len)
{
	msgpack_unpacked u;
	const msgpack_object *v;
	size_t off = 0;
	int rc = -EBADMSG;

	if (!proto_is_one_value(body, len))
		return -EBADMSG;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    (v = proto_map_get(&u.data, "name")) && v->type == MSGPACK_OBJECT_STR &&
	    object_name_check(v->via.str.ptr, v->via.str.size) == 0) {
		free(r->name);
		r->name = strndup(v->via.str.ptr, v->via.str.size);
		r->meta.name = r->name;
		r->meta.uid = (uid_t)map_u64(&u.data, "uid");
		r->meta.gid = (gid_t)map_u64(&u.data, "gid");
		r->meta.mode = (mode_t)map_u64(&u.data, "mode") & 0777;
		r->meta.maxsize = map_u64(&u.data, "maxsize");
		r->meta.maxbytes = map_u64(&u.data, "maxbytes");
		r->meta.ack = map_u64(&u.data, "ack") != 0;
		v = proto_map_get(&u.data, "ctime");
		r->meta.ctime = v ? (time_t)proto_i64(v) : time(NULL);
		r->have_meta = r->name != NULL;
		rc = r->name ? 0 : -ENOMEM;
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Apply one record; -EBADMSG if it cannot be part of a log ipcd wrote. */
static int replay_record(struct replay *r, unsigned type, const unsigned char *body, size_t len)
{
	struct entry *e;
	uint64_t id;

	if (type == REC_META)
		return replay_meta(r, body, len);
	if (!r->have_meta || len < REC_ID || (type != REC_PUT && len != REC_ID))
		return -EBADMSG;
	id = get_le64(body);
	if (id > r->max_id)
		r->max_id = id;
	switch (type) {
	case REC_PUT:
		if (r->n && id <= r->v[r->n - 1].id)
			return -EBADMSG;
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 1024;
			struct entry *v = realloc(r->v, cap * sizeof *v);

			if (!v)
				return -ENOMEM;
			r->v = v;
			r->cap = cap;
		}
		r->v[r->n++] = (struct entry){ id, body + REC_ID, (uint32_t)(len - REC_ID), 0, false };
		return 0;
	case REC_TAKE:
	case REC_DONE:
		e = find_entry(r, id);
		if (e && type == REC_TAKE)
			e->flags |= MSG_REDELIVERED;
		else if (e)
			e->dead = true;
		return 0;
	}
	return -EBADMSG;
}

/*
 * Read the log at path (size bytes mapped at p) into r.  Returns how many
 * bytes form whole, valid records (the good prefix), or a negative errno.
 */
static off_t replay_file(struct replay *r, const unsigned char *p, off_t size)
{
	off_t off = QLOG_HEADER;

	if (size < (off_t)QLOG_HEADER || memcmp(p, QLOG_MAGIC, 8) != 0 ||
	    get_le32(p + 8) != QLOG_VERSION)
		return 0;
	while (size - off >= (off_t)REC_HEAD) {
		uint32_t crc = get_le32(p + off), len = get_le32(p + off + 4);
		int rc;

		if (len > REC_MAX_BODY || (off_t)len > size - off - (off_t)REC_HEAD ||
		    qlog_crc32c(0, p + off + 4, REC_HEAD - 4 + len) != crc)
			break;
		rc = replay_record(r, p[off + 8], p + off + REC_HEAD, len);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			break;
		off += (off_t)REC_HEAD + len;
	}
	return off;
}

/* Rebuild the queue of log file num; a log that cannot be used is set aside. */
static void recover_one(struct qlog_dir *d, unsigned num)
{
	char path[PATH_MAX], aside[PATH_MAX];
	struct replay r = { .path = path };
	struct queue *q = NULL;
	struct qlog *l = NULL;
	unsigned char *p = MAP_FAILED;
	struct stat st;
	off_t good = 0;
	int fd;

	log_path(d, num, "", path, sizeof path);
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("cannot open the queue log %s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size > 0)
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (st.st_size > 0 && p == MAP_FAILED) {
		log_error("cannot read the queue log %s: %s", path, strerror(errno));
		goto out;
	}
	good = st.st_size > 0 ? replay_file(&r, p, st.st_size) : 0;
	if (good < 0) {
		log_error("cannot read the queue log %s: %s", path, strerror((int)-good));
		goto out;
	}
	if (!r.have_meta || object_find(d->srv, r.meta.name, strlen(r.meta.name))) {
		/* Not a log ipcd can use (no header, or a name already taken): keep it aside. */
		log_path(d, num, ".bad", aside, sizeof aside);
		log_warn("queue log %s: %s; moved to %s", path,
			 r.have_meta ? "a second log of the same queue" : "no valid header", aside);
		rename(path, aside);
		goto out;
	}
	if (good < st.st_size) {
		log_warn("queue log %s: torn or corrupt record at offset %lld; keeping the %lld "
			 "bytes before it, dropping %lld", path, (long long)good, (long long)good,
			 (long long)(st.st_size - good));
		if (ftruncate(fd, good) < 0 || fdatasync(fd) < 0)
			log_error("cannot truncate %s: %s", path, strerror(errno));
	}
	l = qlog_new(d, NULL, num, fd, good);
	q = l ? queue_restore(d->srv, &r.meta, r.max_id + 1) : NULL;
	if (!q) {
		log_error("cannot restore queue '%s' from %s: out of memory", r.meta.name, path);
		goto out;
	}
	l->q = q;
	q->log = l;
	l->live = QLOG_HEADER;
	for (size_t i = 0; i < r.n; i++) {
		if (r.v[i].dead)
			continue;
		if (queue_restore_msg(q, r.v[i].id, r.v[i].data, r.v[i].len, r.v[i].flags) < 0) {
			log_error("queue '%s': out of memory restoring its messages", q->obj.name);
			break;
		}
		l->live += (off_t)(REC_HEAD + REC_ID + r.v[i].len);
	}
	/* The newest META. */
	{
		msgpack_sbuffer sb;

		pack_meta(&sb, &r.meta);
		q->log->meta = (off_t)(REC_HEAD + sb.size);
		q->log->live += q->log->meta;
		msgpack_sbuffer_destroy(&sb);
	}
	log_info("queue '%s' restored from %s: %zu messages", q->obj.name, path, q->store.count);
	fd = -1;
	l = NULL;
	/* Start clean: a log mostly made of finished messages is rewritten now. */
	maybe_compact(q->log);
out:
	if (p != MAP_FAILED)
		munmap(p, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	free(l);
	free(r.v);
	free(r.name);
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* Rebuild every queue of the directory, oldest log first. */
static int recover_all(struct qlog_dir *d)
{
	DIR *dir = fdopendir(dup(d->fd));
	struct dirent *de;
	unsigned *nums = NULL;
	size_t n = 0, cap = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		unsigned num;
		char tail[16];

		if ((sscanf(de->d_name, "q-%u.log%15s", &num, tail) == 2 ||
		     sscanf(de->d_name, "a-%u.arr%15s", &num, tail) == 2) && strcmp(tail, ".tmp") == 0) {
			/* A rewrite that did not finish: the file it was replacing is whole. */
			unlinkat(d->fd, de->d_name, 0);
			continue;
		}
		if (sscanf(de->d_name, "a-%u.arr%15s", &num, tail) == 1) {
			if (num >= d->next_anum)
				d->next_anum = num + 1;
			continue;
		}
		if (sscanf(de->d_name, "q-%u.log%15s", &num, tail) != 1)
			continue;
		if (n == cap) {
			unsigned *v = realloc(nums, (cap = cap ? cap * 2 : 64) * sizeof *v);

			if (!v) {
				free(nums);
				closedir(dir);
				return -ENOMEM;
			}
			nums = v;
		}
		nums[n++] = num;
		if (num >= d->next_num)
			d->next_num = num + 1;
	}
	closedir(dir);
	if (n)
		qsort(nums, n, sizeof *nums, cmp_unsigned);
	for (size_t i = 0; i < n; i++)
		recover_one(d, nums[i]);
	free(nums);
	/* Arrays: a-1.arr up to the last one there is. */
	for (unsigned num = 1; num < d->next_anum; num++) {
		char path[PATH_MAX];

		array_path(d, num, "", path, sizeof path);
		if (access(path, F_OK) == 0)
			recover_array(d, num);
	}
	return 0;
}

int qlog_start(struct server *srv, const char *path, enum qlog_fsync policy, bool create)
{
	struct qlog_dir *d = calloc(1, sizeof *d);
	struct stat st;
	char err[PATH_MAX + 128];
	int rc;

	if (!d || !(d->path = strdup(path))) {
		free(d);
		fprintf(stderr, "ipcd: out of memory\n");
		return -ENOMEM;
	}
	d->srv = srv;
	d->fd = -1;
	d->lock_fd = -1;
	d->policy = policy;
	d->next_num = 1;
	d->next_anum = 1;
	d->turn_ev = event_new(srv->base, -1, 0, turn_end_cb, d);
	d->tick_ev = event_new(srv->base, -1, EV_PERSIST, tick_cb, d);
	srv->qlogs = d;
	if (!d->turn_ev || !d->tick_ev) {
		fprintf(stderr, "ipcd: cannot set up the event loop\n");
		return -ENOMEM;
	}
	{
		struct timeval sec = { 1, 0 };

		event_add(d->tick_ev, &sec);
	}
	if (!create && stat(path, &st) < 0 && errno == ENOENT)
		return 0;
	rc = dir_take(d, err, sizeof err);
	if (rc == -EBUSY && !create) {
		/* The default directory is another ipcd's: this one has no durable queues. */
		log_warn("%s; durable queues are off (give --state-dir)", err);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "ipcd: %s\n", err);
		return rc;
	}
	rc = recover_all(d);
	if (rc < 0)
		fprintf(stderr, "ipcd: cannot read the state directory %s: %s\n", path, strerror(-rc));
	return rc;
}

void qlog_stop(struct server *srv)
{
	struct qlog_dir *d = srv->qlogs;
	struct object *o;

	if (!d)
		return;
	flush_dirty(d);
	release_held(d);
	/* Every durable array, as it is now: mapped writes included. */
	TAILQ_FOREACH(o, &srv->objects, link)
		if (o->kind == &array_kind && container_of(o, struct array, obj)->snapshot)
			save_array(d, container_of(o, struct array, obj));
	d->stopping = true;
	TAILQ_FOREACH(o, &srv->objects, link) {
		struct queue *q;

		if (o->kind != &queue_kind)
			continue;
		q = container_of(o, struct queue, obj);
		if (q->log) {
			sync_one(q->log);
			qlog_remove(q);
		}
	}
	TAILQ_FOREACH(o, &srv->objects, link)
		if (o->kind == &array_kind && container_of(o, struct array, obj)->snapshot)
			qlog_array_remove(container_of(o, struct array, obj));
}

/* Free what qlog_start made (after every queue let go of its log). */
void qlog_free(struct server *srv)
{
	struct qlog_dir *d = srv->qlogs;
	struct qlog *l;

	if (!d)
		return;
	while ((l = d->dirty)) {
		d->dirty = l->next_dirty;
		if (!l->q) {
			free(l->buf);
			free(l);
		}
	}
	if (d->turn_ev)
		event_free(d->turn_ev);
	if (d->tick_ev)
		event_free(d->tick_ev);
	if (d->fd >= 0)
		close(d->fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->held);
	free(d->path);
	free(d);
	srv->qlogs = NULL;
}

const char *qlog_dir(const struct server *srv)
{
	return srv->qlogs ? srv->qlogs->path : NULL;
}

enum qlog_fsync qlog_policy(const struct server *srv)
{
	return srv->qlogs ? srv->qlogs->policy : QLOG_FSYNC_NO;
}

uint64_t qlog_size(const struct queue *q)
{
	return q->log ? (uint64_t)q->log->size : 0;
}
