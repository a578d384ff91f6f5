/*
 * conn.c - one client connection (see conn.h).
 *
 * Input is read in large batches into an evbuffer and cut into frames, each
 * checked against the frame limit before it is buffered whole.  Output is an
 * evbuffer written with sendmsg, so that a descriptor can ride with the
 * first byte of the frame it belongs to (SCM_RIGHTS); replies from many
 * requests are coalesced into few writes.
 *
 * Fairness: one read callback serves at most FRAMES_PER_TURN frames and
 * BYTES_PER_TURN bytes of them before the other clients get a turn; a
 * connection whose unread output passes CONN_OUTPUT_HIGH is paused (its
 * requests are read, up to a bound, but not served) until it reads,
 * instead of being handed more; both
 * buffers of every connection count in the memory budget, and an unfinished
 * frame that would take ipcd past it is refused.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "object.h"
#include "qlog.h"
#include "reply.h"
#include "server.h"
#include "service.h"

#define READ_BATCH (256 * 1024)   /* most bytes per read */
#define READ_MIN (16 * 1024)      /* fewest bytes per read */
#define FRAMES_PER_TURN 4096      /* frames served before other clients get a turn */
#define BYTES_PER_TURN (1u << 20) /* frame bytes served before they get a turn */
#define IOV_BATCH 64

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void handle_release(struct hold *h);
static ssize_t conn_write_pending(struct conn *c);

static int handle_describe(const struct hold *h, char *buf, size_t len);
static void conn_resume_check(struct conn *c);

static const struct hold_ops handle_hold_ops = { "open handle", handle_release, handle_describe };

/* The peer's supplementary groups, for group permissions; none if unknown. */
static void conn_read_groups(struct conn *c)
{
	socklen_t len = 32 * sizeof(gid_t);

	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = malloc(len);

		if (!g)
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			c->groups = g;
			c->ngroups = len / sizeof(gid_t);
			return;
		}
		free(g);
		if (errno != ERANGE)
			return;
	}
}

/* Every change to a connection's buffers, counted in the budget. */
static void conn_buf_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct server *srv = arg;

	srv->buf_used += info->n_added;
	srv->buf_used -= info->n_deleted;
}

bool conn_in_group(const struct conn *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	for (unsigned i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

int64_t conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn *conn_create(struct server *srv, int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	struct ucred cred;
	socklen_t clen = sizeof cred;

	if (!c)
		goto fail;
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_conn_id;
	c->read_size = READ_MIN;
	c->since_ms = c->active_ms = conn_now_ms();
	TAILQ_INIT(&c->holds);
	c->pid = -1;
	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->gid = cred.gid;
	}
	conn_read_groups(c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(srv->base, fd, EV_WRITE, conn_write_cb, c);
	if (!c->in || !c->out || !c->rev || !c->wev ||
	    !evbuffer_add_cb(c->in, conn_buf_cb, srv) || !evbuffer_add_cb(c->out, conn_buf_cb, srv) ||
	    server_user_count(srv, c->uid, 1) < 0)
		goto fail;
	if (event_add(c->rev, NULL) < 0) {
		server_user_count(srv, c->uid, -1);
		goto fail;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;
	service_changed(srv->service);
	log_debug("client %llu connected (pid %d uid %d)", (unsigned long long)c->id,
		  (int)c->pid, (int)c->uid);
	return c;
fail:
	log_error("cannot set up a connection: out of memory");
	if (c) {
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		if (c->in)
			evbuffer_free(c->in);
		if (c->out)
			evbuffer_free(c->out);
		free(c->groups);
		free(c);
	}
	close(fd);
	return NULL;
}

void conn_release(struct conn *c)
{
	struct hold *h;

	while ((h = TAILQ_FIRST(&c->holds))) {
		TAILQ_REMOVE(&c->holds, h, link);
		h->ops->release(h);
	}
}

static void conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	evbuffer_free(c->in);
	evbuffer_free(c->out);
	for (size_t i = 0; i < c->nfdmarks; i++)
		close(c->fdmarks[i].fd);
	free(c->fdmarks);
	free(c->handles);
	free(c->groups);
	free(c);
}

/* Take c off the served connections (it no longer counts as a client). */
static void conn_unlist(struct conn *c)
{
	struct server *srv = c->srv;

	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	server_user_count(srv, c->uid, -1);
	service_changed(srv->service);
}

/* Replies go after their durable records: written, and fsynced if held. */
static void conn_sync_logs(struct conn *c)
{
	if (c->held)
		qlog_sync_now(c->srv);
	else
		qlog_write(c->srv);
}

void conn_close(struct conn *c, const char *why)
{
	struct server *srv = c->srv;

	if (c->dead)
		return;
	log_debug("client %llu (pid %d) closed: %s", (unsigned long long)c->id,
		  (int)c->pid, why);
	if (c->closing) {
		TAILQ_REMOVE(&srv->closing, c, link);
		c->dead = true;
	} else {
		conn_sync_logs(c);
		/* A last attempt to deliver what is queued. */
		conn_write_pending(c);
		c->dead = true;
		conn_release(c);
		conn_unlist(c);
	}
	event_free(c->rev);
	event_free(c->wev);
	if (c->grace)
		event_free(c->grace);
	close(c->fd);
	c->fd = -1;
	/* What is left is never sent nor served: out of the budget now. */
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	evbuffer_drain(c->out, evbuffer_get_length(c->out));
	if (event_base_once(srv->base, -1, EV_TIMEOUT, conn_free_cb, c, NULL) < 0)
		conn_free_cb(-1, 0, c);
}

static void conn_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_debug("client %llu (pid %d): its last error was not read in time",
		  (unsigned long long)c->id, (int)c->pid);
	conn_close(c, "last error unread");
}

void conn_close_flushed(struct conn *c, const char *why)
{
	struct server *srv = c->srv;
	struct timeval tv = { CONN_CLOSE_GRACE_MS / 1000, CONN_CLOSE_GRACE_MS % 1000 * 1000 };

	if (c->dead || c->closing)
		return;
	log_debug("client %llu (pid %d) closing: %s", (unsigned long long)c->id, (int)c->pid, why);
	conn_sync_logs(c);
	c->grace = evtimer_new(srv->base, conn_grace_cb, c);
	if (!c->grace || evtimer_add(c->grace, &tv) < 0) {
		conn_close(c, why);
		return;
	}
	c->closing = true;
	conn_release(c);
	conn_unlist(c);
	TAILQ_INSERT_TAIL(&srv->closing, c, link);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	/* Whatever paused or cut it off, it is read (to drop what it sends) until it goes. */
	c->paused = false;
	c->serving = false;
	c->cutoff = false;
	conn_flush(c);
}

int64_t conn_idle_for(const struct conn *c)
{
	if (c->dead || c->closing || c->paused || !TAILQ_EMPTY(&c->holds) || c->nwaiting ||
	    c->nkeeps || evbuffer_get_length(c->in) || evbuffer_get_length(c->out))
		return -1;
	return conn_now_ms() - c->active_ms;
}

/* Write up to the next descriptor mark (or with it).  >0 written, 0 would block, <0 error. */
static ssize_t conn_write_some(struct conn *c)
{
	struct iovec iov[IOV_BATCH];
	struct evbuffer_iovec eiov[IOV_BATCH];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { 0 };
	size_t avail = evbuffer_get_length(c->out);
	int fd = -1, n;
	ssize_t w;

	if (c->nfdmarks) {
		if (c->fdmarks[0].pos == c->out_sent) {
			fd = c->fdmarks[0].fd;
			if (c->nfdmarks > 1 && c->fdmarks[1].pos - c->out_sent < avail)
				avail = c->fdmarks[1].pos - c->out_sent;
		} else if (c->fdmarks[0].pos - c->out_sent < avail) {
			avail = c->fdmarks[0].pos - c->out_sent;
		}
	}
	n = evbuffer_peek(c->out, (ev_ssize_t)avail, NULL, eiov, IOV_BATCH);
	if (n > IOV_BATCH)
		n = IOV_BATCH;
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = eiov[i].iov_base;
		iov[i].iov_len = eiov[i].iov_len;
	}
	/* peek's last vector may reach past avail */
	for (size_t i = 0, total = 0; i < (size_t)n; i++) {
		if (total + iov[i].iov_len > avail)
			iov[i].iov_len = avail - total;
		total += iov[i].iov_len;
	}
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	if (fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	do
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (fd >= 0 && w > 0) {
		close(fd);
		memmove(c->fdmarks, c->fdmarks + 1, --c->nfdmarks * sizeof *c->fdmarks);
	}
	evbuffer_drain(c->out, (size_t)w);
	c->out_sent += (uint64_t)w;
	return w;
}

/* Write until done or the socket is full.  0, or a negative errno. */
static ssize_t conn_write_pending(struct conn *c)
{
	ssize_t w = 1;

	while (evbuffer_get_length(c->out) && (w = conn_write_some(c)) > 0)
		;
	return w < 0 ? w : 0;
}

void conn_flush(struct conn *c)
{
	ssize_t w;

	if (c->dead || c->held)
		return;
	w = conn_write_pending(c);
	if (w < 0) {
		log_debug("client %llu: write: %s", (unsigned long long)c->id, strerror((int)-w));
		if (c->closing) {
			conn_close(c, "hung up before its last error was sent");
			return;
		}
		/* Write no more, hand it nothing more; its reader serves what the
		 * peer sent before it went, and sees the hang-up. */
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
		if (!c->hungup) {
			c->hungup = true;
			event_active(c->rev, EV_READ, 0);
		}
		conn_resume_check(c);
		return;
	}
	if (!evbuffer_get_length(c->out)) {
		/* All sent: a closing connection's peer sees the end after its error. */
		if (c->closing && !c->wr_shut) {
			shutdown(c->fd, SHUT_WR);
			c->wr_shut = true;
		}
		conn_resume_check(c);
		return;
	}
	if (!c->closing && evbuffer_get_length(c->out) > c->srv->lim.max_output) {
		conn_cut_off(c);
		return;
	}
	conn_resume_check(c);
	event_add(c->wev, NULL);
}

/*
 * Whether c's unread output should hold its requests back: past mark, or
 * any at all while ipcd is over its memory budget.
 */
static bool conn_output_full(const struct conn *c, size_t mark)
{
	size_t out = evbuffer_get_length(c->out);

	return out > mark || (out && server_over_budget(c->srv));
}

/*
 * Pause c: its requests wait until it has read its replies.  It is still
 * read (up to conn_paused_max), so that a client writing all its requests
 * before reading any replies does not block on a full socket forever.
 */
static void conn_pause(struct conn *c)
{
	c->paused = true;
	conn_want_write(c);
}

/* Request bytes a paused connection may send: one frame of the largest size, and a read. */
static size_t conn_paused_max(const struct conn *c)
{
	return server_frame_max(c->srv) + IPC_FRAME_HEADER + READ_BATCH;
}

/*
 * Serve a paused c again once it has read enough of its output: below half
 * the mark, so that it does not flap frame by frame.
 */
static void conn_resume_check(struct conn *c)
{
	if (!c->paused || c->dead || conn_output_full(c, CONN_OUTPUT_HIGH / 2))
		return;
	c->paused = false;
	/* Frames read during the pause wait in c->in: serve them now. */
	event_active(c->rev, EV_READ, 0);
}

void conn_want_write(struct conn *c)
{
	/* A connection being served is flushed when its read callback ends. */
	if (!c->dead && !c->serving && !c->held && !event_pending(c->wev, EV_WRITE, NULL))
		event_add(c->wev, NULL);
}

void conn_cut_off(struct conn *c)
{
	if (c->dead || c->cutoff)
		return;
	c->cutoff = true;
	c->srv->cutoffs++;
	event_active(c->rev, EV_READ, 0);
}

bool conn_going(const struct conn *c)
{
	return c->dead || c->closing || c->cutoff || c->hungup;
}

bool conn_gone(struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };

	if (conn_going(c))
		return true;
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		/* Its reader serves what is left, sees the end of file and closes it. */
		c->hungup = true;
		event_active(c->rev, EV_READ, 0);
		return true;
	}
	return false;
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_flush(arg);
}

int conn_attach_fd(struct conn *c, int fd)
{
	struct fdmark *m;

	/* A client that reads nothing would otherwise run ipcd out of descriptors. */
	if (c->nfdmarks >= CONN_MAX_PENDING_FDS) {
		close(fd);
		conn_cut_off(c);
		return -EMFILE;
	}
	m = realloc(c->fdmarks, (c->nfdmarks + 1) * sizeof *m);
	if (!m) {
		close(fd);
		return -ENOMEM;
	}
	c->fdmarks = m;
	m[c->nfdmarks].pos = c->out_sent + evbuffer_get_length(c->out);
	m[c->nfdmarks].fd = fd;
	c->nfdmarks++;
	return 0;
}

/*
 * Serve the complete frames in c->in.  Returns 0 when none is left to serve
 * now, 1 when the turn's bound stopped it (it comes back), -1 when c was
 * closed or is closing.
 */
static int conn_serve_frames(struct conn *c)
{
	size_t frame_max = server_frame_max(c->srv), bytes = 0;

	for (int served = 0; served < FRAMES_PER_TURN && bytes < BYTES_PER_TURN; served++) {
		unsigned char hdr[IPC_FRAME_HEADER];
		size_t have = evbuffer_get_length(c->in);
		uint32_t len;
		unsigned char *frame;

		if (have < IPC_FRAME_HEADER)
			return 0;
		evbuffer_copyout(c->in, hdr, sizeof hdr);
		len = ipc_frame_get_len(hdr);
		if (len > frame_max) {
			log_warn("client %llu (pid %d): frame of %u bytes exceeds the limit of %zu",
				 (unsigned long long)c->id, (int)c->pid, len, frame_max);
			push_error(c, -EMSGSIZE, "frame of %u bytes exceeds the limit of %zu bytes",
				   len, frame_max);
			conn_close_flushed(c, "oversized frame");
			return -1;
		}
		if (have - IPC_FRAME_HEADER < len)
			return 0;
		/* Its replies wait to be read: it is handed nothing more meanwhile
		 * (but once it has hung up, what it sent is served to the end). */
		if (!c->eof && conn_output_full(c, CONN_OUTPUT_HIGH)) {
			conn_pause(c);
			return 0;
		}
		frame = evbuffer_pullup(c->in, IPC_FRAME_HEADER + (ev_ssize_t)len);
		if (!frame) {
			conn_close(c, "out of memory");
			return -1;
		}
		c->requests++;
		if (cmd_dispatch(c, (const char *)frame + IPC_FRAME_HEADER, len) < 0)
			return -1;
		evbuffer_drain(c->in, IPC_FRAME_HEADER + len);
		bytes += IPC_FRAME_HEADER + len;
		/* Cut off by its own replies: serve it nothing more. */
		if (c->cutoff)
			return 0;
		/* A put's reply waits for the fsync: later requests wait for it, so
		 * that replies keep their order (qlog.c lets it read again). */
		if (c->held)
			return 0;
	}
	/* More frames may be buffered: come back after the others had a turn. */
	event_active(c->rev, EV_READ, 0);
	return 1;
}

/* One read of up to READ_BATCH bytes into c->in: >0, 0 at end of file, -errno. */
static ssize_t conn_read_some(struct conn *c)
{
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	int n = evbuffer_reserve_space(c->in, (ev_ssize_t)c->read_size, v, 2);
	ssize_t got;

	if (n <= 0)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ v[i].iov_base, v[i].iov_len };
	do
		got = readv(c->fd, iov, n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		evbuffer_commit_space(c->in, v, 0);
		return -errno;
	}
	/* Commit what arrived: the first vector fills before the second. */
	for (int i = 0; i < n; i++) {
		size_t take = (size_t)got;

		if (i == 0 && take > v[0].iov_len)
			take = v[0].iov_len;
		if (i == 1)
			take = (size_t)got > v[0].iov_len ? (size_t)got - v[0].iov_len : 0;
		v[i].iov_len = take;
	}
	evbuffer_commit_space(c->in, v, n == 2 && v[1].iov_len ? 2 : 1);
	c->in_read += (uint64_t)got;
	/* Read sizes follow the traffic: a streaming client gets large reads, a
	 * request-at-a-time one does not make the buffer allocate them. */
	if ((size_t)got >= c->read_size && c->read_size < READ_BATCH)
		c->read_size *= 2;
	else if ((size_t)got < c->read_size / 8 && c->read_size > READ_MIN)
		c->read_size /= 2;
	return got;
}

/* Closing: read and drop what the peer still sends, until it hangs up. */
static void conn_drop_input(struct conn *c)
{
	ssize_t n = conn_read_some(c);

	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	if (n == 0 || (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK))
		conn_close(c, n == 0 ? "end of file" : strerror((int)-n));
}

/*
 * An unfinished frame of c past CONN_INPUT_FLOOR while ipcd is over its
 * memory budget is refused, and c closed: the budget holds whatever many
 * clients leave half-sent.  Returns -1 when c was closed.
 */
static int conn_check_budget(struct conn *c)
{
	struct server *srv = c->srv;
	size_t have = evbuffer_get_length(c->in);
	unsigned char hdr[IPC_FRAME_HEADER];

	if (have <= CONN_INPUT_FLOOR || !server_over_budget(srv))
		return 0;
	evbuffer_copyout(c->in, hdr, sizeof hdr);
	log_warn("client %llu (pid %d): a frame of %u bytes would take ipcd past its memory "
		 "budget of %zu bytes", (unsigned long long)c->id, (int)c->pid,
		 ipc_frame_get_len(hdr), srv->lim.max_memory);
	push_error(c, -ENOBUFS, "ipcd's memory budget of %zu bytes is used up: a frame of %u "
		   "bytes cannot be taken", srv->lim.max_memory, ipc_frame_get_len(hdr));
	conn_close_flushed(c, "memory budget");
	return -1;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int r;

	if (c->closing) {
		conn_drop_input(c);
		return;
	}
	if (c->cutoff) {
		log_warn("client %llu (pid %d) cut off: %zu reply bytes unread",
			 (unsigned long long)c->id, (int)c->pid, evbuffer_get_length(c->out));
		conn_close(c, "output limit");
		return;
	}
	if (!c->eof) {
		ssize_t n = conn_read_some(c);

		if (n == 0) {
			/* What it sent before is served first, then it is closed. */
			c->eof = true;
		} else if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) {
			conn_close(c, strerror((int)-n));
			return;
		} else if (n > 0) {
			c->active_ms = conn_now_ms();
		}
	}
	if (c->paused && !c->eof) {
		/* Requests sent while it reads none of its replies: bounded. */
		if (evbuffer_get_length(c->in) > conn_paused_max(c)) {
			log_warn("client %llu (pid %d) cut off: it sends requests and reads none of "
				 "%zu reply bytes", (unsigned long long)c->id, (int)c->pid,
				 evbuffer_get_length(c->out));
			conn_cut_off(c);
		}
		return;
	}
	c->serving = true;
	r = conn_serve_frames(c);
	if (r < 0)
		return;
	c->serving = false;
	if (c->eof && r == 0) {
		conn_close(c, "end of file");
		return;
	}
	if (conn_check_budget(c) < 0)
		return;
	/* Durable queues' records of these requests go to the kernel before their replies. */
	qlog_write(c->srv);
	conn_flush(c);
}

int conn_handle_reserve(struct conn *c, struct handle **out)
{
	struct handle *h;
	uint32_t i;

	/* Slots below free_hint are taken: opening stays O(1) amortised. */
	for (i = c->free_hint; i < c->handles_cap && c->handles[i]; i++)
		;
	if (i == c->handles_cap) {
		uint32_t cap = c->handles_cap ? c->handles_cap * 2 : 8;
		struct handle **v;

		if (c->handles_cap >= CONN_MAX_HANDLES)
			return -EMFILE;
		v = realloc(c->handles, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		memset(v + c->handles_cap, 0, (cap - c->handles_cap) * sizeof *v);
		c->handles = v;
		c->handles_cap = cap;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->hold.ops = &handle_hold_ops;
	h->conn = c;
	h->num = i + 1;
	c->handles[i] = h;
	c->free_hint = i + 1;
	c->nhandles++;
	*out = h;
	return 0;
}

void conn_handle_bind(struct handle *h, struct object *obj, unsigned rights)
{
	h->obj = obj;
	h->rights = rights;
	object_ref(obj);
	TAILQ_INSERT_TAIL(&h->conn->holds, &h->hold, link);
}

void conn_handle_unreserve(struct handle *h)
{
	h->conn->handles[h->num - 1] = NULL;
	if (h->num - 1 < h->conn->free_hint)
		h->conn->free_hint = h->num - 1;
	h->conn->nhandles--;
	free(h);
}

struct handle *conn_handle_find(struct conn *c, uint64_t num)
{
	struct handle *h;

	if (num == 0 || num > c->handles_cap)
		return NULL;
	h = c->handles[num - 1];
	/* A slot reserved by an open in progress names nothing yet. */
	return h && h->obj ? h : NULL;
}

/* Drop h's slot and reference; h is already off the hold list. */
static void handle_release(struct hold *hold)
{
	struct handle *h = container_of(hold, struct handle, hold);
	struct object *obj = h->obj;

	if (h->ext)
		h->ext->ops->release(h->ext);
	conn_handle_unreserve(h);
	object_unref(obj);
}

static int handle_describe(const struct hold *hold, char *buf, size_t len)
{
	const struct handle *h = container_of(hold, const struct handle, hold);

	/* The kind's state may say more ("array a (mapped)"). */
	if (h->ext && h->ext->ops->describe)
		return h->ext->ops->describe(h->ext, buf, len);
	return snprintf(buf, len, "%s %s", h->obj->kind->name, h->obj->name);
}

bool conn_hold_is_handle(const struct hold *h)
{
	return h->ops == &handle_hold_ops;
}

void conn_handle_remove(struct handle *h)
{
	TAILQ_REMOVE(&h->conn->holds, &h->hold, link);
	handle_release(&h->hold);
}
