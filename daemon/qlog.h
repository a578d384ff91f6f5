/*
 * qlog.h - the append-only logs that make durable queues survive a restart.
 *
 * Each durable queue has one log file in the state directory.  The queue
 * reports what happens to it (a message put, taken by a consumer, finished;
 * its owner or mode changed) and the log appends a checksummed record for
 * each.  Records are buffered and written (one write per log) before the
 * replies to the requests that made them leave; the fsync policy decides
 * when they reach the disk:
 *   always    fsync at the end of every turn that wrote; the replies to the
 *             puts of that turn are held back until it is done, so a put
 *             that returned 0 is on disk;
 *   everysec  fsync once a second;
 *   no        never (the kernel decides).
 * At start the logs are read back, a torn or corrupt tail is cut off, and
 * the queues are rebuilt with their messages in put order.  Durable arrays
 * are saved whole (see qlog_array_create) and made again at start.  A log grown far
 * past its live data is rewritten (to a temporary file, fsynced, renamed).
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
struct array;

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
 * is set or it exists, lock it against other ipcds, and rebuild every
 * durable queue from its log (queue_restore).  Without create, a missing
 * directory is created when the first durable queue is.  On failure prints
 * why on stderr and returns a negative errno.
 */
int qlog_start(struct server *srv, const char *dir, enum qlog_fsync policy, bool create);

/* Write and fsync everything, close every log (shutdown).  Files stay. */
void qlog_stop(struct server *srv);

/* Free what qlog_start made, once no queue has a log. */
void qlog_free(struct server *srv);

/*
 * Create the log of a new durable queue q.  0, or a negative errno with a
 * message in err (no state directory, disk full...).
 */
int qlog_create(struct server *srv, struct queue *q, const struct qlog_meta *meta,
		char *err, size_t errlen);

/*
 * Records.  qlog_put holds back c's replies, under the policy always, until
 * the record is on disk.  A log that could not be written refuses puts:
 * qlog_error() is then its errno.
 */
void qlog_put(struct queue *q, uint64_t id, const void *data, size_t len, struct conn *c);
void qlog_take(struct queue *q, uint64_t id);
void qlog_done(struct queue *q, uint64_t id, size_t len);
void qlog_set_meta(struct queue *q, const struct qlog_meta *meta);
int qlog_error(const struct queue *q);

/* The queue was removed: delete its log (kept when ipcd is stopping). */
void qlog_remove(struct queue *q);

/*
 * Durable arrays.  qlog_array_create saves the new array a (its first
 * snapshot) and makes it durable: 0, or a negative errno with a message in
 * err.  qlog_array_changed: a brokered write or add, an owner or mode
 * changed: saved at the end of the turn (always) or within a second.  An
 * array mapped writable is saved every second; every durable array when ipcd
 * stops.  qlog_array_remove: the array was removed (its file goes, unless
 * ipcd is stopping).
 */
int qlog_array_create(struct server *srv, struct array *a, char *err, size_t errlen);
void qlog_array_changed(struct array *a);
void qlog_array_remove(struct array *a);

/* The state directory and policy, for status; NULL without durability. */
const char *qlog_dir(const struct server *srv);
enum qlog_fsync qlog_policy(const struct server *srv);

/* Bytes in q's log (written or buffered); 0 for a queue that is not durable. */
uint64_t qlog_size(const struct queue *q);

/* Write what the logs have buffered, before replies are sent (no fsync). */
void qlog_write(struct server *srv);

/*
 * Write and fsync now, and let the connections whose replies waited for the
 * fsync (conn->held) go.  conn_close of a held connection calls it first, so
 * no reply leaves early.
 */
void qlog_sync_now(struct server *srv);

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (0 to start). */
uint32_t qlog_crc32c(uint32_t crc, const void *data, size_t len);

#endif
