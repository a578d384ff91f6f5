/*
 * qlog.c - durable queues' logs (see qlog.h): the state directory's life,
 * appending, writing and fsync.  The replies that wait for an fsync are in
 * qlog_reply.c, rewriting a log from memory in qlog_rewrite.c.
 *
 * A log file is "q-N.log" in the state directory, framed as record.h says.
 * A put's records are encoded at the end of the log's buffer, behind the
 * TAKE, DONE and META records not yet written, and the whole buffer goes out
 * in one write; a failed or short write is cut back off the file
 * (ftruncate to the last good size), so the file only ever holds whole
 * records and the queue can take puts again when space returns.  If even
 * the cut fails, or an fsync fails (after which the kernel may have dropped
 * what it had), the log is "broken": rewritten from the queue's memory at
 * once, and every second until that works, refusing puts with -EIO
 * meanwhile.
 *
 * Under the policy always, the end of the loop turn (an event made active
 * by the first put) fsyncs the logs written in the turn, then answers the
 * puts that waited (struct qlog_ack) and lets their connections read again.
 * A log grown past twice its live data (and 1 MiB) is rewritten there too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "array.h"
#include "asnap.h"
#include "codec.h"
#include "conn.h"
#include "consumer.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "record.h"
#include "reply.h"
#include "server.h"
#include "sio.h"
#include "store.h"


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

void qlog_file_name(unsigned num, const char *suffix, char *out, size_t outlen)
{
	snprintf(out, outlen, "q-%u.log%s", num, suffix);
}

const char *qlog_queue_name(const struct qlog *l)
{
	return l->q ? l->q->obj.name : "?";
}

/* ------------------------------------------------------------------------ */
/* The buffer */

static void turn_end_cb(evutil_socket_t fd, short what, void *arg);

void qlog_mark_dirty(struct qlog *l)
{
	if (l->dirty)
		return;
	l->dirty = true;
	l->next_dirty = l->dir->dirty;
	l->dir->dirty = l;
	/* Runs after the callbacks already due in this turn. */
	event_active(l->dir->turn_ev, EV_TIMEOUT, 0);
}

int qlog_reserve(unsigned char **buf, size_t *cap, size_t len, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	unsigned char *nb;

	if (*cap - len >= need)
		return 0;
	while (ncap - len < need)
		ncap *= 2;
	nb = realloc(*buf, ncap);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* Append one record to l's buffer: its size, or 0 without memory. */
static size_t append(struct qlog *l, unsigned type, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	size_t n;

	if (l->fd < 0)
		return 0;
	if (qlog_reserve(&l->buf, &l->cap, l->len, RECORD_HEAD + alen + blen) < 0)
		return 0;
	n = record_encode(l->buf + l->len, type, a, alen, b, blen);
	l->len += n;
	return n;
}

static size_t append_id(struct qlog *l, unsigned type, uint64_t id, const void *data, size_t len)
{
	unsigned char idb[RECORD_ID];

	record_put_le64(idb, id);
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

off_t qlog_meta_size(const struct qlog_meta *m)
{
	msgpack_sbuffer sb;
	off_t n;

	pack_meta(&sb, m);
	n = (off_t)(RECORD_HEAD + sb.size);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

size_t qlog_encode_meta(unsigned char **buf, size_t *cap, size_t *len, const struct qlog_meta *m)
{
	msgpack_sbuffer sb;
	size_t n = 0;

	pack_meta(&sb, m);
	if (qlog_reserve(buf, cap, *len, RECORD_HEAD + sb.size) == 0) {
		n = record_encode(*buf + *len, RECORD_META, sb.data, sb.size, NULL, 0);
		*len += n;
	}
	msgpack_sbuffer_destroy(&sb);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Writing and syncing */

/*
 * Write l's buffer.  On failure the file is cut back to its last good size
 * (if that fails too, l is broken) and the buffer kept.  0 or a negative errno.
 */
static int write_buf(struct qlog *l)
{
	int rc;

	if (!l->len || l->fd < 0)
		return 0;
	rc = sio_write_all(l->fd, l->buf, l->len);
	if (rc == 0) {
		l->size += (off_t)l->len;
		l->len = 0;
		l->unsynced = true;
		l->warned = false;
		return 0;
	}
	if (sio->ftruncate(l->fd, l->size) < 0 && !l->broken) {
		log_error("queue '%s': cannot cut its log q-%u.log back after a failed write: %s; "
			  "it takes no puts until it is rewritten", qlog_queue_name(l), l->num,
			  strerror(errno));
		l->broken = -EIO;
	}
	return rc;
}

/* Buffered TAKE/DONE/META records: written now, or kept for the next try. */
static void flush_buf(struct qlog *l)
{
	int rc = write_buf(l);

	if (rc < 0 && !l->warned) {
		log_warn("queue '%s': cannot write its log q-%u.log: %s; retrying", qlog_queue_name(l),
			 l->num, strerror(-rc));
		l->warned = true;
	}
}

/* Rewrite a broken log from memory.  0 when l is sound now. */
static int repair(struct qlog *l)
{
	int rc;

	if (!l->broken || !l->q)
		return 0;
	rc = qlog_rewrite(l);
	if (rc == 0)
		log_warn("queue '%s': log q-%u.log rewritten from memory; it takes puts again",
			 qlog_queue_name(l), l->num);
	return rc;
}

int qlog_fdatasync(struct server *srv, int fd)
{
	struct timespec a, b;
	int rc, err;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = sio->fdatasync(fd);
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &b);
	metrics_fsync_observe(srv, (double)(b.tv_sec - a.tv_sec) +
			      (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	errno = err;
	return rc;
}

void qlog_sync(struct qlog *l)
{
	if (!l->unsynced || l->fd < 0 || l->broken)
		return;
	if (qlog_fdatasync(l->dir->srv, l->fd) == 0) {
		l->unsynced = false;
		return;
	}
	log_error("queue '%s': cannot fsync its log q-%u.log: %s; rewriting it from memory",
		  qlog_queue_name(l), l->num, strerror(errno));
	l->broken = -EIO;
	repair(l);
}

int qlog_error(const struct queue *q)
{
	return q->log && q->log->broken ? -EIO : 0;
}

void qlog_put_begin(struct queue *q)
{
	q->log->put_mark = q->log->len;
	q->log->put_live = 0;
}

int qlog_put_add(struct queue *q, uint64_t id, const void *data, size_t len)
{
	struct qlog *l = q->log;
	size_t n = append_id(l, RECORD_PUT, id, data, len);

	if (!n) {
		l->len = l->put_mark;
		return -ENOMEM;
	}
	l->put_live += (off_t)n;
	return 0;
}

int qlog_put_commit(struct queue *q)
{
	struct qlog *l = q->log;
	int rc = l->broken ? -EIO : write_buf(l);

	if (rc < 0) {
		/* Nothing of this put stays; what was buffered before it does. */
		l->len = l->put_mark;
		return rc;
	}
	l->live += l->put_live;
	/* The end of the turn fsyncs (always) and looks at the size. */
	qlog_mark_dirty(l);
	return 0;
}

/*
 * A record the queue in memory already reflects could not be kept: the log
 * is wrong until rewritten from memory.
 */
static void lost_record(struct qlog *l)
{
	if (!l->broken)
		log_error("queue '%s': out of memory for a record of its log q-%u.log; it takes "
			  "no puts until it is rewritten", qlog_queue_name(l), l->num);
	l->broken = -ENOMEM;
}

void qlog_take(struct queue *q, uint64_t id)
{
	if (append_id(q->log, RECORD_TAKE, id, NULL, 0))
		qlog_mark_dirty(q->log);
	else if (q->log->fd >= 0)
		lost_record(q->log);
}

void qlog_done(struct queue *q, uint64_t id, size_t len)
{
	struct qlog *l = q->log;

	if (append_id(l, RECORD_DONE, id, NULL, 0))
		qlog_mark_dirty(l);
	else if (l->fd >= 0)
		lost_record(l);
	l->live -= (off_t)(RECORD_HEAD + RECORD_ID + len);
}

void qlog_set_meta(struct queue *q, const struct qlog_meta *meta)
{
	struct qlog *l = q->log;
	size_t n = qlog_encode_meta(&l->buf, &l->cap, &l->len, meta);

	if (!n) {
		lost_record(l);
		return;
	}
	/* A rewrite keeps only the newest META. */
	l->live += (off_t)n - l->meta;
	l->meta = (off_t)n;
	qlog_mark_dirty(l);
}

/* ------------------------------------------------------------------------ */
/* The end of the turn, and the tick */

static void free_log(struct qlog *l)
{
	free(l->buf);
	free(l);
}

static void turn_end(struct qlog_dir *d)
{
	struct qlog *l;

	for (l = d->dirty; l; l = l->next_dirty) {
		if (!l->q)
			continue;
		flush_buf(l);
		if (d->policy == QLOG_FSYNC_ALWAYS)
			qlog_sync(l);
	}
	qlog_reply_answer(d);
	while ((l = d->dirty)) {
		d->dirty = l->next_dirty;
		l->dirty = false;
		if (!l->q)
			free_log(l);        /* its queue was removed during the turn */
		else
			qlog_maybe_compact(l);
	}
	qlog_reply_release(d);
	if (d->arrays_changed && d->policy == QLOG_FSYNC_ALWAYS)
		asnap_save_all(d, false, false);
}

static void turn_end_cb(evutil_socket_t fd, short what, void *arg)
{
	turn_end(arg);
}

void qlog_sync_now(struct server *srv)
{
	if (srv->qlogs)
		turn_end(srv->qlogs);
}

void qlog_write(struct server *srv)
{
	struct qlog *l;

	if (!srv->qlogs)
		return;
	for (l = srv->qlogs->dirty; l; l = l->next_dirty)
		if (l->q)
			flush_buf(l);
}

/*
 * Once a second: retry buffered records that could not be written, repair
 * broken logs, fsync (everysec), save durable arrays that changed or are
 * mapped writable.
 */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qlog_dir *d = arg;
	struct object *o;

	TAILQ_FOREACH(o, &d->srv->objects, link) {
		struct qlog *l;

		if (o->kind != &queue_kind || !(l = container_of(o, struct queue, obj)->log))
			continue;
		if (l->broken) {
			repair(l);
			continue;
		}
		flush_buf(l);
		if (d->policy == QLOG_FSYNC_EVERYSEC)
			qlog_sync(l);
	}
	asnap_save_all(d, false, true);
}

/* ------------------------------------------------------------------------ */
/* Logs made and removed */

struct qlog *qlog_new(struct qlog_dir *d, struct queue *q, unsigned num, int fd, off_t size)
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

int qlog_dir_ready(struct qlog_dir *d, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "ipcd runs without a state directory");
		return -ENOTSUP;
	}
	return d->sd.lock_fd < 0 ? statedir_take(&d->sd, err, errlen) : 0;
}

int qlog_create(struct server *srv, struct queue *q, const struct qlog_meta *meta,
		char *err, size_t errlen)
{
	struct qlog_dir *d = srv->qlogs;
	unsigned char *buf = NULL;
	size_t len = RECORD_FILE_HEADER, cap = 0;
	char name[32];
	struct qlog *l;
	off_t mlen;
	int fd, rc;

	rc = qlog_dir_ready(d, err, errlen);
	if (rc < 0)
		return rc;
	qlog_file_name(d->next_num, "", name, sizeof name);
	fd = statedir_open(&d->sd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s/%s: %s", d->sd.path, name, strerror(-fd));
		return fd;
	}
	d->next_num++;
	/* Header and META in one write, synced: the queue exists on disk before
	 * anyone is told it does.  Nothing of it is shared until then. */
	rc = qlog_reserve(&buf, &cap, 0, RECORD_FILE_HEADER) < 0 ? -ENOMEM : 0;
	if (rc == 0) {
		record_file_header(buf);
		mlen = (off_t)qlog_encode_meta(&buf, &cap, &len, meta);
		rc = mlen ? sio_write_all(fd, buf, len) : -ENOMEM;
	}
	if (rc == 0 && sio->fdatasync(fd) < 0)
		rc = -errno;
	if (rc == 0)
		rc = statedir_sync(&d->sd);
	free(buf);
	l = rc == 0 ? qlog_new(d, q, d->next_num - 1, fd, (off_t)len) : NULL;
	if (!l) {
		rc = rc < 0 ? rc : -ENOMEM;
		snprintf(err, errlen, "cannot write %s/%s: %s", d->sd.path, name, strerror(-rc));
		close(fd);
		statedir_unlink(&d->sd, name);
		return rc;
	}
	l->meta = mlen;
	l->live = RECORD_FILE_HEADER + mlen;
	q->log = l;
	return 0;
}

void qlog_remove(struct queue *q)
{
	struct qlog *l = q->log;
	struct qlog_dir *d = l->dir;
	char name[32];
	int rc;

	q->log = NULL;
	l->q = NULL;
	if (!d->stopping) {
		qlog_file_name(l->num, "", name, sizeof name);
		rc = statedir_unlink(&d->sd, name);
		if (rc < 0)
			log_warn("cannot remove the log %s/%s of queue '%s': %s", d->sd.path, name,
				 q->obj.name, strerror(-rc));
		statedir_sync(&d->sd);
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Still on the dirty list (acks may point at it): freed when the turn ends. */
	if (!l->dirty)
		free_log(l);
}

/* ------------------------------------------------------------------------ */
/* The directory's life */

int qlog_start(struct server *srv, const char *path, enum qlog_fsync policy, bool create)
{
	struct qlog_dir *d = calloc(1, sizeof *d);
	struct timeval sec = { 1, 0 };
	struct stat st;
	char err[PATH_MAX + 160];
	int rc;

	if (!d || !(d->sd.path = strdup(path))) {
		free(d);
		fprintf(stderr, "ipcd: out of memory\n");
		return -ENOMEM;
	}
	d->srv = srv;
	d->sd.fd = -1;
	d->sd.lock_fd = -1;
	d->policy = policy;
	d->next_num = 1;
	d->next_anum = 1;
	d->turn_ev = event_new(srv->base, -1, 0, turn_end_cb, d);
	d->tick_ev = event_new(srv->base, -1, EV_PERSIST, tick_cb, d);
	srv->qlogs = d;
	if (!d->turn_ev || !d->tick_ev || event_add(d->tick_ev, &sec) < 0) {
		fprintf(stderr, "ipcd: cannot set up the event loop\n");
		return -ENOMEM;
	}
	if (!create && lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	rc = statedir_take(&d->sd, err, sizeof err);
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
	turn_end(d);
	/* Every durable array, as it is now: mapped writes included. */
	asnap_save_all(d, true, true);
	d->stopping = true;
	TAILQ_FOREACH(o, &srv->objects, link) {
		struct queue *q;

		if (o->kind != &queue_kind)
			continue;
		q = container_of(o, struct queue, obj);
		if (!q->log)
			continue;
		flush_buf(q->log);
		if (q->log->broken)
			repair(q->log);
		else
			qlog_sync(q->log);
		qlog_remove(q);
	}
	TAILQ_FOREACH(o, &srv->objects, link)
		if (o->kind == &array_kind && container_of(o, struct array, obj)->snapshot)
			asnap_remove(container_of(o, struct array, obj));
}

void qlog_free(struct server *srv)
{
	struct qlog_dir *d = srv->qlogs;
	struct qlog *l;

	if (!d)
		return;
	while ((l = d->dirty)) {
		d->dirty = l->next_dirty;
		l->dirty = false;
		if (!l->q)
			free_log(l);
	}
	if (d->turn_ev)
		event_free(d->turn_ev);
	if (d->tick_ev)
		event_free(d->tick_ev);
	statedir_release(&d->sd);
	free(d->acks);
	free(d->held);
	free(d->sd.path);
	free(d);
	srv->qlogs = NULL;
}

const char *qlog_dir(const struct server *srv)
{
	return srv->qlogs ? srv->qlogs->sd.path : NULL;
}

enum qlog_fsync qlog_policy(const struct server *srv)
{
	return srv->qlogs ? srv->qlogs->policy : QLOG_FSYNC_NO;
}

uint64_t qlog_size(const struct queue *q)
{
	return q->log ? (uint64_t)q->log->size : 0;
}
