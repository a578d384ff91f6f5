/*
 * object.c - the namespace (see object.h).  Names hash into a chained table
 * that doubles when it fills; srv->objects keeps creation order for listing.
 * The table holds one reference to each linked object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "conn.h"
#include "log.h"
#include "object.h"
#include "server.h"
#include "service.h"

int object_name_check(const char *name, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > IPC_NAME_MAX)
		return -ENAMETOOLONG;
	if (name[0] == IPC_NAME_RESERVED)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f)
			return -EINVAL;
	return 0;
}

static size_t name_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull;             /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	return (size_t)h;
}

struct object *object_find(struct server *srv, const char *name, size_t len)
{
	struct object *o;

	if (!srv->nbuckets)
		return NULL;
	for (o = srv->buckets[name_hash(name, len) & (srv->nbuckets - 1)]; o; o = o->hnext)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static int table_grow(struct server *srv)
{
	size_t n = srv->nbuckets ? srv->nbuckets * 2 : 64;
	struct object **b = calloc(n, sizeof *b);
	struct object *o;

	if (!b)
		return -ENOMEM;
	TAILQ_FOREACH(o, &srv->objects, link) {
		size_t i = name_hash(o->name, strlen(o->name)) & (n - 1);

		o->hnext = b[i];
		b[i] = o;
	}
	free(srv->buckets);
	srv->buckets = b;
	srv->nbuckets = n;
	return 0;
}

int object_link(struct server *srv, struct object *obj, const struct object_kind *kind,
		const char *name, size_t len, uid_t uid, gid_t gid, mode_t mode)
{
	size_t i;

	if (srv->nobjects >= srv->nbuckets && table_grow(srv) < 0)
		return -ENOMEM;
	obj->name = strndup(name, len);
	if (!obj->name)
		return -ENOMEM;
	obj->kind = kind;
	obj->srv = srv;
	obj->uid = uid;
	obj->gid = gid;
	obj->mode = mode;
	obj->ctime = time(NULL);
	obj->refs = 1;
	obj->linked = true;
	i = name_hash(name, len) & (srv->nbuckets - 1);
	obj->hnext = srv->buckets[i];
	srv->buckets[i] = obj;
	TAILQ_INSERT_TAIL(&srv->objects, obj, link);
	srv->nobjects++;
	service_changed(srv->service);
	return 0;
}

unsigned object_rights(const struct conn *c, const struct object *obj)
{
	unsigned bits;

	if (c->uid == 0)
		return IPC_PERM_READ | IPC_PERM_WRITE;
	if (c->uid == obj->uid)
		bits = obj->mode >> 6;
	else if (conn_in_group(c, obj->gid))
		bits = obj->mode >> 3;
	else
		bits = obj->mode;
	return bits & (IPC_PERM_READ | IPC_PERM_WRITE);
}

bool object_owned_by(const struct object *obj, const struct conn *c)
{
	return c->uid == 0 || c->uid == obj->uid;
}

void object_set_owner(struct object *obj, uid_t uid, gid_t gid, mode_t mode)
{
	obj->uid = uid;
	obj->gid = gid;
	obj->mode = mode;
	if (obj->kind->owner_changed)
		obj->kind->owner_changed(obj);
}

void object_unlink(struct object *obj)
{
	struct server *srv = obj->srv;
	struct object **pp;

	if (!obj->linked)
		return;
	pp = &srv->buckets[name_hash(obj->name, strlen(obj->name)) & (srv->nbuckets - 1)];
	while (*pp != obj)
		pp = &(*pp)->hnext;
	*pp = obj->hnext;
	TAILQ_REMOVE(&srv->objects, obj, link);
	srv->nobjects--;
	service_changed(srv->service);
	obj->linked = false;
	obj->kind->unlinked(obj);
	object_unref(obj);
}

void object_ref(struct object *obj)
{
	obj->refs++;
}

void object_unref(struct object *obj)
{
	if (--obj->refs) {
		if (obj->kind->unreferenced)
			obj->kind->unreferenced(obj);
		return;
	}
	free(obj->name);
	obj->kind->destroy(obj);
}

void object_pack_stat(const struct object *obj, msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6 + obj->kind->nstat(obj));
	proto_pack_kv_str(pk, "kind", obj->kind->name);
	proto_pack_kv_str(pk, "name", obj->name);
	proto_pack_kv_u64(pk, "uid", obj->uid);
	proto_pack_kv_u64(pk, "gid", obj->gid);
	proto_pack_kv_u64(pk, "mode", obj->mode);
	proto_pack_kv_u64(pk, "ctime", (uint64_t)obj->ctime);
	obj->kind->stat(obj, pk);
}

void object_destroy_all(struct server *srv)
{
	struct object *o;

	while ((o = TAILQ_FIRST(&srv->objects)))
		object_unlink(o);
	free(srv->buckets);
	srv->buckets = NULL;
	srv->nbuckets = 0;
}

/* An object that goes with the connection that created it (IPC_OPEN_AUTOREMOVE). */
struct autoremove {
	struct hold hold;
	struct object *obj;          /* one reference */
};

static void autoremove_release(struct hold *h)
{
	struct autoremove *a = container_of(h, struct autoremove, hold);
	struct object *obj = a->obj;

	/* Removed already, the name may be another object's now: leave that alone. */
	if (obj->linked) {
		log_info("%s '%s' removed: its creator's connection closed", obj->kind->name,
			 obj->name);
		object_unlink(obj);
	}
	free(a);
	object_unref(obj);
}

static int autoremove_describe(const struct hold *h, char *buf, size_t len)
{
	const struct autoremove *a = container_of(h, const struct autoremove, hold);

	return snprintf(buf, len, "%s %s (removed at exit)", a->obj->kind->name, a->obj->name);
}

static const struct hold_ops autoremove_ops = {
	"auto-removed object", autoremove_release, autoremove_describe
};

int object_autoremove(struct conn *c, struct object *obj)
{
	struct autoremove *a = calloc(1, sizeof *a);

	if (!a)
		return -ENOMEM;
	a->hold.ops = &autoremove_ops;
	a->obj = obj;
	object_ref(obj);
	TAILQ_INSERT_TAIL(&c->holds, &a->hold, link);
	return 0;
}
