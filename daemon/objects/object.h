/*
 * object.h - the daemon's one namespace of named objects (queues, arrays,
 * pipes): lookup, creation, reference counting and unlinking.
 */
#ifndef IPCD_OBJECT_H
#define IPCD_OBJECT_H

#include <msgpack.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "ipc_protocol.h"

struct server;
struct object;
struct conn;
struct req;
struct handle;

/* Room for a kind's parsed open arguments; each kind asserts that its own fit. */
#define OBJECT_OPEN_ARGS_MAX 64

/*
 * How a kind is opened by name (queue.open, array.open, pipe.open).  The gate
 * (cmd.c) owns the open: it checks the flags against flags, the name, the
 * kind of what the name holds, IPC_CREATE and IPC_EXCLUSIVE, the caller's
 * rights and the limits, reserves the handle slot, replies, and destroys an
 * object this open created if a later step fails.  The kind only reads its
 * own arguments and makes the object.  Hooks that fail return a negative
 * errno with a message for the client in err; the gate replies.
 */
struct object_open {
	unsigned flags;              /* IPC_OPEN_* bits the open accepts */
	/*
	 * Read and check r's arguments after name and flags into args
	 * (OBJECT_OPEN_ARGS_MAX bytes, zeroed), whether or not the object
	 * exists.
	 */
	int (*parse)(const struct req *r, void *args, char *err, size_t errlen);
	/*
	 * Optional: the name is not found here; may another place hold it (a
	 * cluster queue)?  0: go on here; 1: the kind took the request over and
	 * will answer it, or dispatch its frame again once the object is here
	 * (see server.open_made); or an error with its message in err.
	 */
	int (*lookup)(struct req *r, const char *name, size_t len, uint64_t flags,
		      const void *args, char *err, size_t errlen);
	/* Optional: do args agree with obj, the existing object opened? */
	int (*match)(const struct object *obj, const void *args, char *err, size_t errlen);
	/*
	 * Make the object called name for r's caller and link it (the name is
	 * valid and free): 0 with *out, or an error with nothing left behind.
	 */
	int (*create)(struct req *r, const char *name, size_t len, const void *args,
		      struct object **out, char *err, size_t errlen);
	/*
	 * Optional: the steps that follow once handle h holds the object (created
	 * says whether this open made it): what a new object keeps on disk, what
	 * rides with the reply.  On failure the gate drops h and, if created,
	 * the object.
	 */
	int (*finish)(struct req *r, struct handle *h, bool created, const void *args,
		      char *err, size_t errlen);
	/* Results after handle and created, packed by pack (optional). */
	unsigned nresults;
	void (*pack)(const struct handle *h, msgpack_packer *pk);
};

struct object_kind {
	enum ipc_kind kind;
	const char *name;
	struct object_open open;
	/* The name was removed: answer waiters, drop contents. */
	void (*unlinked)(struct object *obj);
	/* The last reference is gone: free the object. */
	void (*destroy)(struct object *obj);
	/*
	 * Optional: a reference other than the last went (a handle closed, a
	 * hold released).  May unlink obj; must not touch it after that.
	 */
	void (*unreferenced)(struct object *obj);
	/* Optional: uid, gid or mode changed (a durable kind records it). */
	void (*owner_changed)(struct object *obj);
	/* Kind-specific stat keys: how many pairs stat() packs. */
	unsigned (*nstat)(const struct object *obj);
	void (*stat)(const struct object *obj, msgpack_packer *pk);
};

struct object {
	const struct object_kind *kind;
	struct server *srv;
	char *name;                  /* owned */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	time_t ctime;
	unsigned refs;               /* handles, plus one while linked */
	bool linked;                 /* still reachable by name */
	struct object *hnext;        /* hash chain */
	TAILQ_ENTRY(object) link;    /* srv->objects, creation order */
};

/*
 * 0 if name is a valid name for a client to create or open, else -EINVAL or
 * -ENAMETOOLONG.  Names starting with IPC_NAME_RESERVED are the daemon's own
 * and fail here; the gate lets an open find one but never create one.
 */
int object_name_check(const char *name, size_t len);

/* The linked object called name, or NULL.  Borrowed. */
struct object *object_find(struct server *srv, const char *name, size_t len);

/*
 * Initialise obj (embedded in its kind's struct) with a copy of name and link
 * it into the namespace; the namespace holds one reference.  -ENOMEM.
 */
int object_link(struct server *srv, struct object *obj, const struct object_kind *kind,
		const char *name, size_t len, uid_t uid, gid_t gid, mode_t mode);

/*
 * The rights (IPC_PERM_READ | IPC_PERM_WRITE) c has on obj, as System V's
 * ipc_perm grants them: root has all; the owner gets the owner bits of the
 * mode, a member of the object's group the group bits, anyone else the
 * others' bits.  This is the one permission check of the daemon: the gate
 * calls it when an object is opened and records the result in the handle.
 */
unsigned object_rights(const struct conn *c, const struct object *obj);

/* May c change obj's mode and owner, or remove it?  root and the owner may. */
bool object_owned_by(const struct object *obj, const struct conn *c);

/*
 * Set obj's owner and mode (the caller checked object_owned_by).  Open
 * handles keep the rights they were granted, as file descriptors do.
 */
void object_set_owner(struct object *obj, uid_t uid, gid_t gid, mode_t mode);

/* Remove obj's name; it lives on while handles reference it. */
void object_unlink(struct object *obj);

void object_ref(struct object *obj);
void object_unref(struct object *obj);

/*
 * Remove obj when connection c goes (IPC_OPEN_AUTOREMOVE): a hold on c that
 * keeps a reference and, when released, unlinks obj if it is still linked.
 * 0 or -ENOMEM.
 */
int object_autoremove(struct conn *c, struct object *obj);

/* Pack obj's stat map (common keys, then the kind's). */
void object_pack_stat(const struct object *obj, msgpack_packer *pk);

/* Unlink and free every object (shutdown). */
void object_destroy_all(struct server *srv);

#endif
