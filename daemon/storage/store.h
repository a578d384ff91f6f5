/*
 * store.h - what the files of the durable store share, inside the store
 * only: a queue's log, the state directory with its policy and the replies
 * waiting for an fsync, and the calls one file makes into another.
 */
#ifndef IPCD_STORE_H
#define IPCD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qlog.h"
#include "statedir.h"

struct event;
struct server;

/* The log of one durable queue: q-N.log. */
struct qlog {
	struct qlog_dir *dir;
	struct queue *q;             /* NULL once the queue was removed */
	unsigned num;                /* the N of q-N.log */
	int fd;                      /* open for appending; -1 once closed */
	off_t size;                  /* bytes written to the file, all good records */
	off_t live;                  /* bytes a rewrite would keep */
	off_t meta;                  /* bytes of the newest META record */
	unsigned char *buf;          /* TAKE, DONE and META records not yet written */
	size_t len, cap;
	size_t put_mark;             /* buf's length when the put being built began */
	off_t put_live;              /* live bytes of that put's records */
	bool unsynced;               /* written since the last fsync */
	bool dirty;                  /* on dir->dirty */
	bool warned;                 /* a failed write of buffered records was logged */
	/*
	 * A negative errno while the file may not hold what was written to it
	 * (an fsync or a truncation failed, or it is of an older format): puts
	 * are refused until a rewrite from memory succeeds (qlog_repair).
	 */
	int broken;
	struct qlog *next_dirty;
};

/* A put's reply that waits for the fsync of its log (policy always). */
struct qlog_ack {
	struct conn *c;
	struct qlog *l;
	uint32_t id;                 /* the request's */
	bool many;                   /* put_many: the reply carries count */
	uint32_t count;
};

struct qlog_dir {
	struct server *srv;
	struct statedir sd;
	enum qlog_fsync policy;
	unsigned next_num;           /* the N of the next q-N.log */
	unsigned next_anum;          /* the N of the next a-N.arr */
	unsigned arrays_changed;     /* durable arrays with brokered writes not yet saved */
	struct qlog *dirty;          /* logs with work for the end of this turn */
	struct qlog_ack *acks;       /* replies waiting for this turn's fsync */
	size_t nacks, ackcap;
	struct conn **held;          /* connections with a reply in acks */
	size_t nheld, heldcap;
	struct event *turn_ev;       /* the end of the loop turn */
	struct event *tick_ev;       /* once a second: everysec's fsync, repairs, arrays */
	bool stopping;
};

/* A log for queue q (NULL while restoring) on file num, open as fd, size bytes. */
struct qlog *qlog_new(struct qlog_dir *d, struct queue *q, unsigned num, int fd, off_t size);

/* The bytes of l's newest META record, as a rewrite would write it. */
off_t qlog_meta_size(const struct qlog_meta *m);

/* "q-N.log" followed by suffix, into out. */
void qlog_file_name(unsigned num, const char *suffix, char *out, size_t outlen);

/* The name of l's queue for messages ("?" once the queue was removed). */
const char *qlog_queue_name(const struct qlog *l);

/* Put l on the list of logs the end of this turn looks at. */
void qlog_mark_dirty(struct qlog *l);

/* Room for need more bytes in *buf of *cap, len used.  0 or -ENOMEM. */
int qlog_reserve(unsigned char **buf, size_t *cap, size_t len, size_t need);

/* Encode m as a META record into *buf (at *len).  Its size, or 0 without memory. */
size_t qlog_encode_meta(unsigned char **buf, size_t *cap, size_t *len, const struct qlog_meta *m);

/* fdatasync(fd) through the I/O table, timed for /metrics' fsync histogram. */
int qlog_fdatasync(struct server *srv, int fd);

/*
 * fsync what was written to l.  A failure breaks it (the kernel may have
 * dropped the pages it could not write), and the rewrite is tried at once.
 */
void qlog_sync(struct qlog *l);

/* Answer the puts whose replies waited for this turn's fsync (qlog_reply.c);
 * their logs were synced, or broke. */
void qlog_reply_answer(struct qlog_dir *d);

/* Let the connections held for those replies write and read again. */
void qlog_reply_release(struct qlog_dir *d);

/*
 * Rewrite l from its queue's memory: q-N.log.tmp written, fsynced, renamed
 * over the log, the directory fsynced.  On success l is clean (not broken,
 * nothing buffered, synced).  0 or a negative errno; the old log is kept
 * on failure.
 */
int qlog_rewrite(struct qlog *l);

/* If l grew past twice its live data (and 1 MiB), rewrite it. */
void qlog_maybe_compact(struct qlog *l);

/* Make the state directory ready for a first durable object: 0 or -errno, why in err. */
int qlog_dir_ready(struct qlog_dir *d, char *err, size_t errlen);

/* Rebuild every durable queue and array of d (recover.c).  0 or a negative errno. */
int recover_all(struct qlog_dir *d);

/* Durable arrays (asnap.c): save every one (all) or the changed and mapped ones. */
void asnap_save_all(struct qlog_dir *d, bool all, bool mapped_too);

/* Make the array saved in a-num.arr again; a file that cannot be used is set aside. */
void asnap_recover(struct qlog_dir *d, unsigned num);

#endif
