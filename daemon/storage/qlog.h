/*
 * qlog.h - the durable store's face to the rest of ipcd: the state
 * directory's life, and the append-only logs that make durable queues
 * survive a restart.
 *
 * Each durable queue has one log file in the state directory.  A put's
 * records are written (one write per request) before its messages enter the
 * queue, and a put whose write fails is refused with its errno and leaves
 * nothing behind, in the log or in the queue.  Records of messages taken and
 * finished, and of attribute changes, are buffered and written before the
 * replies of the turn leave.  The fsync policy decides when records reach
 * the disk:
 *   always    fsync at the end of every turn that wrote; the reply to a put
 *             waits for it (and is -EIO if the log could not be made
 *             durable), so a put answered 0 is on disk;
 *   everysec  fsync once a second;
 *   no        never (the kernel decides).
 * A log that may have lost what was written (a failed fsync) is rewritten
 * from memory; until that works its queue refuses puts with -EIO.  At start
 * the logs are read back (recover.c), damaged records skipped and reported,
 * a torn tail cut off.  A log grown far past its live data is rewritten too.
 */
#ifndef IPCD_QLOG_H
#define IPCD_QLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct server;
struct queue;
struct conn;

enum qlog_fsync { QLOG_FSYNC_ALWAYS, QLOG_FSYNC_EVERYSEC, QLOG_FSYNC_NO };

/* What a log records about its queue besides the messages. */
struct qlog_meta {
	const char *name;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	size_t maxsize, maxbytes;
	bool ack;
	time_t ctime;
};

/*
 * The default state directory: $STATE_DIRECTORY (systemd's StateDirectory=),
 * else /var/lib/ipcd for root, else $XDG_STATE_HOME/ipcd or
 * ~/.local/state/ipcd; malloc'd, NULL if none applies.
 */
char *qlog_default_dir(void);

/* "always", "everysec", "no" -> policy; -1 for anything else. */
int qlog_fsync_parse(const char *s);
const char *qlog_fsync_name(enum qlog_fsync policy);

/*
 * Take the state directory dir for srv: create it (mode 0700) when create
 * is set or it exists, check that it is ipcd's own and that no one else can
 * write to it, lock it against other ipcds, and rebuild every durable queue
 * and array.  Without create, a missing directory is taken when the first
 * durable object is made.  On failure prints why (naming the path) on
 * stderr and returns a negative errno.
 */
int qlog_start(struct server *srv, const char *dir, enum qlog_fsync policy, bool create);

/* Write and fsync everything, close every log (shutdown).  Files stay. */
void qlog_stop(struct server *srv);

/* Free what qlog_start made, once no queue has a log. */
void qlog_free(struct server *srv);

/*
 * Create the log of a new durable queue q, on disk before this returns.
 * 0, or a negative errno with a message in err (no state directory, disk
 * full...); then nothing of it is left.
 */
int qlog_create(struct server *srv, struct queue *q, const struct qlog_meta *meta,
		char *err, size_t errlen);

/*
 * Whether q's log takes puts now: 0, or -EIO while it waits for a rewrite
 * after a failed fsync.
 */
int qlog_error(const struct queue *q);

/*
 * A put's records: begin, add each message with its id, then commit, which
 * writes them in one write.  0, or a negative errno (-ENOSPC, -EIO,
 * -ENOMEM); on failure nothing of this put is in the log and the ids may be
 * used again.  The caller stores the messages only after a commit returned 0.
 */
void qlog_put_begin(struct queue *q);
int qlog_put_add(struct queue *q, uint64_t id, const void *data, size_t len);
int qlog_put_commit(struct queue *q);

/*
 * Answer put request id of c (put_many: with count) whose records were
 * committed: now, or under the policy always once they are fsynced (-EIO if
 * that failed and rewriting the log from memory failed too).  Meanwhile c
 * is held: its later requests wait, so its replies keep their order.
 */
void qlog_reply_put(struct queue *q, struct conn *c, uint32_t id, bool many, uint32_t count);

/* Records of a message handed to a consumer, finished, or of new attributes. */
void qlog_take(struct queue *q, uint64_t id);
void qlog_done(struct queue *q, uint64_t id, size_t len);
void qlog_set_meta(struct queue *q, const struct qlog_meta *meta);

/* The queue was removed: delete its log (kept when ipcd is stopping). */
void qlog_remove(struct queue *q);

/* The state directory and policy, for status; NULL without durability. */
const char *qlog_dir(const struct server *srv);
enum qlog_fsync qlog_policy(const struct server *srv);

/* Bytes in q's log; 0 for a queue that is not durable. */
uint64_t qlog_size(const struct queue *q);

/* Write what the logs have buffered, before replies are sent (no fsync). */
void qlog_write(struct server *srv);

/*
 * Do the end of the turn now: write, fsync, answer the puts that waited and
 * let their connections go.  conn_close of a held connection calls it.
 */
void qlog_sync_now(struct server *srv);

#endif
