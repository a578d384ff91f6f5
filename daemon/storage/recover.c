/*
 * recover.c - reading durable queues' logs back at start (see recover.h).
 *
 * Each q-N.log is mapped and its records applied in order: the newest META
 * names the queue, PUTs add messages (ids grow, so a message is found by
 * binary search), TAKEs mark them redelivered, DONEs drop them.  A damaged
 * record costs itself: the scan resumes at the next record that checks out
 * (record.c) and the damaged stretch is logged with its offsets; a torn tail
 * is cut off the file.  A log of the older format, or one with damage in
 * it, is rewritten at once in the current format; if that fails, an old
 * format log takes no puts until a later rewrite works (appending to it
 * would mix formats).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "msgstore.h"
#include "object.h"
#include "queue.h"
#include "record.h"
#include "recover.h"
#include "server.h"
#include "sio.h"
#include "store.h"

static struct recover_entry *find_entry(struct recover_log *r, uint64_t id)
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

static int replay_meta(struct recover_log *r, const unsigned char *body, size_t len)
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
		char *name = strndup(v->via.str.ptr, v->via.str.size);

		rc = -ENOMEM;
		if (name) {
			free(r->name);
			r->name = name;
			r->meta.name = r->name;
			r->meta.uid = (uid_t)map_u64(&u.data, "uid");
			r->meta.gid = (gid_t)map_u64(&u.data, "gid");
			r->meta.mode = (mode_t)map_u64(&u.data, "mode") & 0777;
			r->meta.maxsize = map_u64(&u.data, "maxsize");
			r->meta.maxbytes = map_u64(&u.data, "maxbytes");
			r->meta.ack = map_u64(&u.data, "ack") != 0;
			v = proto_map_get(&u.data, "ctime");
			r->meta.ctime = v ? (time_t)proto_i64(v) : time(NULL);
			r->have_meta = true;
			rc = 0;
		}
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Apply one record; -EBADMSG (having changed nothing) if ipcd cannot have written it. */
static int replay_record(void *arg, unsigned type, const unsigned char *body, size_t len,
			 off_t off)
{
	struct recover_log *r = arg;
	struct recover_entry *e;
	uint64_t id;

	if (type == RECORD_META)
		return replay_meta(r, body, len);
	if (!r->have_meta || len < RECORD_ID || (type != RECORD_PUT && len != RECORD_ID))
		return -EBADMSG;
	id = record_get_le64(body);
	switch (type) {
	case RECORD_PUT:
		if (r->n && id <= r->v[r->n - 1].id)
			return -EBADMSG;
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 1024;
			struct recover_entry *v = realloc(r->v, cap * sizeof *v);

			if (!v)
				return -ENOMEM;
			r->v = v;
			r->cap = cap;
		}
		r->v[r->n++] = (struct recover_entry){ id, body + RECORD_ID,
						       (uint32_t)(len - RECORD_ID), 0, false };
		break;
	case RECORD_TAKE:
	case RECORD_DONE:
		e = find_entry(r, id);
		if (e && type == RECORD_TAKE)
			e->flags |= MSG_REDELIVERED;
		else if (e)
			e->dead = true;
		break;
	default:
		return -EBADMSG;
	}
	if (id > r->max_id)
		r->max_id = id;
	return 0;
}

static void replay_damage(void *arg, off_t from, off_t to)
{
	struct recover_log *r = arg;

	r->damaged++;
	log_warn("queue log %s: damaged record at offset %lld: %lld bytes skipped, up to the "
		 "next good record at offset %lld", r->where, (long long)from,
		 (long long)(to - from), (long long)to);
}

int recover_parse(struct recover_log *r, const unsigned char *p, off_t size)
{
	const struct record_reader rd = { replay_record, replay_damage, r };
	off_t good;

	r->version = record_file_version(p, (size_t)size);
	if (!r->version)
		return 0;
	good = record_scan(p, size, r->version, &rd);
	if (good < 0)
		return (int)good;
	r->good = good;
	return 0;
}

void recover_log_free(struct recover_log *r)
{
	free(r->v);
	free(r->name);
	r->v = NULL;
	r->name = NULL;
}

/* Move a log ipcd cannot use aside, as q-N.log.bad. */
static void set_aside(struct qlog_dir *d, const char *name, const char *why)
{
	char aside[48];

	snprintf(aside, sizeof aside, "%s.bad", name);
	log_warn("queue log %s/%s: %s; moved to %s", d->sd.path, name, why, aside);
	statedir_rename(&d->sd, name, aside);
}

/* Make the queue of q-num.log and its messages from r; the log becomes its. */
static void restore(struct qlog_dir *d, struct recover_log *r, unsigned num, int fd)
{
	struct queue *q;
	struct qlog *l = qlog_new(d, NULL, num, fd, r->good);

	q = l ? queue_restore(d->srv, &r->meta, r->max_id + 1) : NULL;
	if (!q) {
		log_error("cannot restore queue '%s' from %s: out of memory", r->meta.name, r->where);
		free(l);
		close(fd);
		return;
	}
	l->q = q;
	q->log = l;
	l->meta = qlog_meta_size(&r->meta);
	l->live = RECORD_FILE_HEADER + l->meta;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].dead)
			continue;
		if (queue_restore_msg(q, r->v[i].id, r->v[i].data, r->v[i].len, r->v[i].flags) < 0) {
			log_error("queue '%s': out of memory restoring its messages", q->obj.name);
			break;
		}
		l->live += (off_t)(RECORD_HEAD + RECORD_ID + r->v[i].len);
	}
	log_info("queue '%s' restored from %s: %zu messages", q->obj.name, r->where,
		 q->store.count);
	if (r->version == RECORD_VERSION && !r->damaged) {
		/* Start clean: a log mostly made of finished messages is rewritten now. */
		qlog_maybe_compact(l);
		return;
	}
	/* An older format, or damage: rewritten now, in the current format. */
	if (qlog_rewrite(l) == 0) {
		log_info("queue '%s': log %s rewritten in format %u", q->obj.name, r->where,
			 RECORD_VERSION);
	} else if (r->version != RECORD_VERSION) {
		log_error("queue '%s': cannot rewrite its log %s in format %u; it takes no puts "
			  "until that works", q->obj.name, r->where, RECORD_VERSION);
		l->broken = -EIO;
	}
}

/* Rebuild the queue of log file num; a log that cannot be used is set aside. */
static void recover_one(struct qlog_dir *d, unsigned num)
{
	char name[32], where[4096 + 40];
	struct recover_log r = { .where = where };
	unsigned char *p = MAP_FAILED;
	struct stat st;
	int fd, rc;

	snprintf(name, sizeof name, "q-%u.log", num);
	snprintf(where, sizeof where, "%s/%s", d->sd.path, name);
	fd = statedir_open(&d->sd, name, O_RDWR | O_APPEND, 0);
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("cannot open the queue log %s: %s", where, strerror(fd < 0 ? -fd : errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_aside(d, name, "not a regular file");
		goto out;
	}
	if (st.st_size > 0)
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (st.st_size > 0 && p == MAP_FAILED) {
		log_error("cannot read the queue log %s: %s", where, strerror(errno));
		goto out;
	}
	rc = st.st_size > 0 ? recover_parse(&r, p, st.st_size) : 0;
	if (rc < 0) {
		log_error("cannot read the queue log %s: %s", where, strerror(-rc));
		goto out;
	}
	if (!r.have_meta || object_find(d->srv, r.meta.name, strlen(r.meta.name))) {
		/* Not a log ipcd can use (no header, or a name already taken). */
		set_aside(d, name, r.have_meta ? "a second log of the same queue" : "no valid header");
		goto out;
	}
	if (r.good < st.st_size) {
		log_warn("queue log %s: torn or corrupt record at offset %lld; keeping the %lld "
			 "bytes before it, dropping %lld", where, (long long)r.good,
			 (long long)r.good, (long long)(st.st_size - r.good));
		if (sio->ftruncate(fd, r.good) < 0 || sio->fdatasync(fd) < 0)
			log_error("cannot truncate %s: %s", where, strerror(errno));
	}
	restore(d, &r, num, fd);
	fd = -1;
out:
	if (p != MAP_FAILED)
		munmap(p, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	recover_log_free(&r);
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int recover_all(struct qlog_dir *d)
{
	int dfd = dup(d->sd.fd);
	DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *de;
	unsigned *nums = NULL;
	size_t n = 0, cap = 0;

	if (!dir) {
		int err = errno;

		if (dfd >= 0)
			close(dfd);
		return -err;
	}
	while ((de = readdir(dir))) {
		unsigned num;
		char tail[16];

		if ((sscanf(de->d_name, "q-%u.log%15s", &num, tail) == 2 ||
		     sscanf(de->d_name, "a-%u.arr%15s", &num, tail) == 2) && strcmp(tail, ".tmp") == 0) {
			/* A rewrite that did not finish: the file it was replacing is whole. */
			statedir_unlink(&d->sd, de->d_name);
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
	for (unsigned num = 1; num < d->next_anum; num++)
		asnap_recover(d, num);
	return 0;
}
