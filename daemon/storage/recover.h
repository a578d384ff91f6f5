/*
 * recover.h - reading a queue log back: the records of one file decoded
 * into the queue's attributes and live messages, damage skipped.
 */
#ifndef IPCD_RECOVER_H
#define IPCD_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qlog.h"

struct recover_entry {
	uint64_t id;
	const unsigned char *data;   /* into the file's bytes */
	uint32_t len;
	unsigned flags;              /* MSG_REDELIVERED once taken */
	bool dead;                   /* finished */
};

/* One log read back.  Zero it, set where, then recover_parse. */
struct recover_log {
	const char *where;           /* the file, for warnings */
	unsigned version;            /* of the file; 0: not a log */
	struct qlog_meta meta;       /* the newest META, if have_meta */
	char *name;                  /* owned: meta.name */
	bool have_meta;
	struct recover_entry *v;     /* PUTs in id order */
	size_t n, cap;
	uint64_t max_id;
	unsigned damaged;            /* damaged stretches skipped (each logged) */
	off_t good;                  /* the end of the last good record */
};

/*
 * Decode the log of size bytes at p into r (which borrows p).  Each damaged
 * stretch is logged with its offsets.  0, or -ENOMEM.
 */
int recover_parse(struct recover_log *r, const unsigned char *p, off_t size);

/* Free what recover_parse allocated. */
void recover_log_free(struct recover_log *r);

#endif
