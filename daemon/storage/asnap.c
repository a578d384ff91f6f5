/*
 * asnap.c - durable arrays' snapshots (see asnap.h).
 *
 * A durable array is saved whole as "a-N.arr": magic, meta length, CRC-32C
 * of meta and data, data length, a msgpack map of its name and attributes,
 * its bytes; written to a temporary file, fsynced (unless the policy is
 * no), renamed over the last one, the directory fsynced.  A save that fails
 * leaves the last one whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "array.h"
#include "asnap.h"
#include "codec.h"
#include "log.h"
#include "record.h"
#include "server.h"
#include "sio.h"
#include "store.h"

#define ARR_MAGIC "IPCDARR1"
#define ARR_HEADER 24u                   /* magic, meta length, crc, data length */

static void asnap_name(unsigned num, const char *suffix, char *out, size_t outlen)
{
	snprintf(out, outlen, "a-%u.arr%s", num, suffix);
}

/* Write a's snapshot over a-N.arr, atomically.  0 or a negative errno. */
static int asnap_save(struct qlog_dir *d, struct array *a)
{
	char tmp[32], name[32], tc[1] = { a->typecode };
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
	crc = record_crc32c(record_crc32c(0, sb.data, sb.size), a->mem, a->bytes);
	record_put_le32(head + 8, (uint32_t)sb.size);
	record_put_le32(head + 12, crc);
	record_put_le64(head + 16, a->bytes);
	asnap_name(a->snapshot, ".tmp", tmp, sizeof tmp);
	asnap_name(a->snapshot, "", name, sizeof name);
	fd = statedir_create_tmp(&d->sd, tmp, 0);
	rc = fd < 0 ? fd : sio_write_all(fd, head, sizeof head);
	if (rc == 0)
		rc = sio_write_all(fd, sb.data, sb.size);
	if (rc == 0)
		rc = sio_write_all(fd, a->mem, a->bytes);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0 && d->policy != QLOG_FSYNC_NO && sio->fdatasync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = statedir_rename(&d->sd, tmp, name);
	if (rc == 0 && d->policy != QLOG_FSYNC_NO)
		rc = statedir_sync(&d->sd);
	if (rc < 0) {
		if (fd >= 0)
			statedir_unlink(&d->sd, tmp);
		log_error("durable array '%s': cannot save it to %s/%s: %s", a->obj.name,
			  d->sd.path, name, strerror(-rc));
	}
	return rc;
}

void asnap_save_all(struct qlog_dir *d, bool all, bool mapped_too)
{
	struct object *o;

	if (!all && !d->arrays_changed && !mapped_too)
		return;
	TAILQ_FOREACH(o, &d->srv->objects, link) {
		struct array *a;

		if (o->kind != &array_kind)
			continue;
		a = container_of(o, struct array, obj);
		if (!a->snapshot ||
		    !(all || a->changed || (mapped_too && array_mapped_writable(a))))
			continue;
		/* A failed save stays changed: the tick tries again. */
		if (asnap_save(d, a) == 0 && a->changed) {
			a->changed = false;
			d->arrays_changed--;
		}
	}
}

int asnap_create(struct server *srv, struct array *a, char *err, size_t errlen)
{
	struct qlog_dir *d = srv->qlogs;
	int rc = qlog_dir_ready(d, err, errlen);

	if (rc < 0)
		return rc;
	a->snapshot = d->next_anum++;
	rc = asnap_save(d, a);
	if (rc < 0) {
		snprintf(err, errlen, "cannot save it in %s: %s", d->sd.path, strerror(-rc));
		/* The number is free again (nothing of it was left). */
		if (a->snapshot == d->next_anum - 1)
			d->next_anum--;
		a->snapshot = 0;
	}
	return rc;
}

void asnap_changed(struct array *a)
{
	struct qlog_dir *d = a->obj.srv->qlogs;

	if (a->changed)
		return;
	a->changed = true;
	d->arrays_changed++;
	if (d->policy == QLOG_FSYNC_ALWAYS)
		event_active(d->turn_ev, EV_TIMEOUT, 0);
}

void asnap_remove(struct array *a)
{
	struct qlog_dir *d = a->obj.srv->qlogs;
	char name[32];
	int rc;

	if (a->changed)
		d->arrays_changed--;
	a->changed = false;
	if (!d->stopping) {
		asnap_name(a->snapshot, "", name, sizeof name);
		rc = statedir_unlink(&d->sd, name);
		if (rc < 0)
			log_warn("cannot remove %s/%s of array '%s': %s", d->sd.path, name,
				 a->obj.name, strerror(-rc));
		statedir_sync(&d->sd);
	}
	a->snapshot = 0;
}

/* An unsigned key of a map; 0 when missing. */
static uint64_t map_u64(const msgpack_object *map, const char *key)
{
	const msgpack_object *v = proto_map_get(map, key);

	return v ? proto_u64(v) : 0;
}

void asnap_recover(struct qlog_dir *d, unsigned num)
{
	char name[32], aside[32];
	const unsigned char *p = MAP_FAILED;
	const msgpack_object *nm, *tcv;
	msgpack_unpacked u;
	const char *why = NULL;
	struct stat st;
	int fd;

	msgpack_unpacked_init(&u);
	asnap_name(num, "", name, sizeof name);
	fd = statedir_open(&d->sd, name, O_RDONLY, 0);
	if (fd == -ENOENT)
		goto out;
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("cannot open the array %s/%s: %s", d->sd.path, name,
			  strerror(fd < 0 ? -fd : errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
	} else if (st.st_size < (off_t)ARR_HEADER ||
		   (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		why = "too short to be one";
	} else {
		uint32_t mlen = record_get_le32(p + 8), crc = record_get_le32(p + 12);
		uint64_t dlen = record_get_le64(p + 16);
		size_t off = 0;

		if (memcmp(p, ARR_MAGIC, 8) != 0 || (uint64_t)st.st_size != ARR_HEADER + mlen + dlen)
			why = "not an array ipcd saved, or cut short";
		else if (record_crc32c(record_crc32c(0, p + ARR_HEADER, mlen), p + ARR_HEADER + mlen,
				       dlen) != crc)
			why = "its checksum does not match";
		else if (!proto_is_one_value(p + ARR_HEADER, mlen) ||
			 msgpack_unpack_next(&u, (const char *)p + ARR_HEADER, mlen, &off) !=
			 MSGPACK_UNPACK_SUCCESS ||
			 !(nm = proto_map_get(&u.data, "name")) || nm->type != MSGPACK_OBJECT_STR ||
			 object_name_check(nm->via.str.ptr, nm->via.str.size) < 0 ||
			 !(tcv = proto_map_get(&u.data, "typecode")) || tcv->type != MSGPACK_OBJECT_STR ||
			 tcv->via.str.size != 1 ||
			 !ipc_typecode_size((unsigned char)tcv->via.str.ptr[0]) ||
			 map_u64(&u.data, "length") == 0 ||
			 map_u64(&u.data, "length") * ipc_typecode_size((unsigned char)tcv->via.str.ptr[0])
			 != dlen)
			why = "its description is malformed";
		else if (object_find(d->srv, nm->via.str.ptr, nm->via.str.size))
			why = "its name is taken";
		if (!why) {
			char *n = strndup(nm->via.str.ptr, nm->via.str.size);
			const msgpack_object *ct = proto_map_get(&u.data, "ctime");
			struct array *a = n ? array_restore(d->srv, n, (uid_t)map_u64(&u.data, "uid"),
							    (gid_t)map_u64(&u.data, "gid"),
							    (mode_t)map_u64(&u.data, "mode") & 0777,
							    ct ? (time_t)proto_i64(ct) : time(NULL),
							    tcv->via.str.ptr[0], map_u64(&u.data, "length"),
							    p + ARR_HEADER + mlen, num) : NULL;

			if (a) {
				log_info("array '%s' restored from %s/%s", a->obj.name, d->sd.path, name);
			} else {
				log_error("cannot restore array '%s' from %s/%s: %s", n ? n : "?",
					  d->sd.path, name, strerror(errno));
			}
			free(n);
		}
	}
	if (why) {
		asnap_name(num, ".bad", aside, sizeof aside);
		log_warn("array file %s/%s: %s; moved to %s", d->sd.path, name, why, aside);
		statedir_rename(&d->sd, name, aside);
	}
out:
	if (p != MAP_FAILED)
		munmap((void *)p, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	msgpack_unpacked_destroy(&u);
}
