/*
 * qlog_rewrite.c - rewriting a durable queue's log from the queue's memory.
 *
 * A rewrite keeps only the live records (messages queued or in flight, and
 * the newest META) in a temporary file, fsyncs it, renames it over the log
 * and fsyncs the directory.  It is both compaction (a log grown past twice
 * its live data) and repair (a log whose write or fsync failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consumer.h"
#include "log.h"
#include "queue.h"
#include "record.h"
#include "sio.h"
#include "store.h"

#define COMPACT_MIN ((off_t)1 << 20)     /* rewrite only logs past 1 MiB... */
#define COMPACT_RATIO 2                  /* ...and twice their live data */
#define REWRITE_CHUNK (1u << 20)         /* a rewrite writes this much at a time */

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

/* Write the live records of l's queue to fd; *size and *live, *meta get the totals. */
static int rewrite_to(struct qlog *l, int fd, off_t *size, off_t *live, off_t *meta)
{
	unsigned char *buf = NULL, idb[RECORD_ID];
	size_t len = RECORD_FILE_HEADER, cap = 0;
	struct qlog_meta m;
	struct msgrec *recs;
	size_t n = collect(l->q, &recs);
	int rc = 0;

	if (n == (size_t)-1 || qlog_reserve(&buf, &cap, 0, REWRITE_CHUNK) < 0) {
		free(n == (size_t)-1 ? NULL : recs);
		free(buf);
		return -ENOMEM;
	}
	qsort(recs, n, sizeof *recs, by_id);
	record_file_header(buf);
	queue_meta(l->q, &m);
	*meta = (off_t)qlog_encode_meta(&buf, &cap, &len, &m);
	*size = 0;
	*live = RECORD_FILE_HEADER + *meta;
	if (!*meta)
		rc = -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t need = 2 * RECORD_HEAD + 2 * RECORD_ID + recs[i].len;

		if (len && len + need > REWRITE_CHUNK) {
			rc = sio_write_all(fd, buf, len);
			*size += (off_t)len;
			len = 0;
		}
		if (rc == 0)
			rc = qlog_reserve(&buf, &cap, len, need);
		if (rc < 0)
			break;
		record_put_le64(idb, recs[i].id);
		len += record_encode(buf + len, RECORD_PUT, idb, sizeof idb, recs[i].data,
				     recs[i].len);
		*live += (off_t)(RECORD_HEAD + RECORD_ID + recs[i].len);
		if (recs[i].flags & MSG_REDELIVERED)
			len += record_encode(buf + len, RECORD_TAKE, idb, sizeof idb, NULL, 0);
	}
	if (rc == 0 && len)
		rc = sio_write_all(fd, buf, len);
	*size += (off_t)len;
	free(recs);
	free(buf);
	return rc;
}

int qlog_rewrite(struct qlog *l)
{
	struct qlog_dir *d = l->dir;
	char tmp[32], name[32];
	off_t size, live, meta;
	int fd, rc;

	qlog_file_name(l->num, ".tmp", tmp, sizeof tmp);
	qlog_file_name(l->num, "", name, sizeof name);
	fd = statedir_create_tmp(&d->sd, tmp, O_APPEND);
	if (fd < 0)
		return fd;
	rc = rewrite_to(l, fd, &size, &live, &meta);
	if (rc == 0 && qlog_fdatasync(d->srv, fd) < 0)
		rc = -errno;
	if (rc == 0)
		rc = statedir_rename(&d->sd, tmp, name);
	if (rc < 0) {
		close(fd);
		statedir_unlink(&d->sd, tmp);
		return rc;
	}
	/* The name is the new file's now, whatever follows. */
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->size = size;
	l->live = live;
	l->meta = meta;
	l->len = 0;
	l->unsynced = false;
	l->warned = false;
	rc = statedir_sync(&d->sd);
	/* Its name may not be on disk: still broken, tried again. */
	l->broken = rc < 0 ? -EIO : 0;
	return rc;
}

void qlog_maybe_compact(struct qlog *l)
{
	off_t old = l->size;
	int rc;

	if (l->broken || l->size < COMPACT_MIN || l->size < COMPACT_RATIO * l->live)
		return;
	rc = qlog_rewrite(l);
	if (rc < 0)
		log_warn("queue '%s': cannot rewrite its log q-%u.log: %s; it goes on as it is",
			 qlog_queue_name(l), l->num, strerror(-rc));
	else
		log_info("queue '%s': log q-%u.log rewritten, %lld bytes to %lld", qlog_queue_name(l),
			 l->num, (long long)old, (long long)l->size);
}
