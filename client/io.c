/*
 * io.c - libipcclient's socket I/O: connect, write a frame, read frames.
 *
 * The socket is non-blocking and every wait is a poll() with a deadline, so a
 * dead or stuck daemon gives an error, never a hang.  Reads use recvmsg() so
 * that descriptors the daemon attaches (SCM_RIGHTS) are kept, in order, for
 * the replies that carry them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define READ_CHUNK (256 * 1024)
#define MAX_FDS_PER_READ 8

int io_connect(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int64_t io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll for events until deadline (< 0: none).  1 ready, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	for (;;) {
		int ms = -1;

		if (deadline >= 0) {
			int64_t left = deadline - io_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			ms = left > 1000000 ? 1000000 : (int)left;
		}
		rc = poll(&p, 1, ms);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int64_t io_deadline(int wait_ms)
{
	return wait_ms < 0 ? -1 : io_now_ms() + wait_ms;
}

int io_left_ms(int64_t deadline)
{
	int64_t ms;

	if (deadline < 0)
		return -1;
	ms = deadline - io_now_ms();
	return ms > 0 ? (int)(ms > INT32_MAX ? INT32_MAX : ms) : 0;
}

int io_send(int fd, const void *a, size_t alen, const void *b, size_t blen, int wait_ms)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = blen ? 2 : 1 };
	int64_t deadline = io_deadline(wait_ms);

	while (mh.msg_iovlen) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (w < 0) {
			int rc;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return errno == EPIPE ? -ECONNRESET : -errno;
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		while (mh.msg_iovlen && (size_t)w >= mh.msg_iov->iov_len) {
			w -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + w;
			mh.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int rbuf_reserve(struct rbuf *b, size_t n)
{
	if (b->start == b->end)
		b->start = b->end = 0;
	if (b->cap - b->end >= n)
		return 0;
	if (b->start) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
		if (b->cap - b->end >= n)
			return 0;
	}
	size_t cap = b->cap ? b->cap : READ_CHUNK;

	while (cap - b->end < n)
		cap *= 2;
	char *d = realloc(b->data, cap);

	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Keep descriptors that arrived with the bytes. */
static void take_fds(ipc_client *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *v;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		v = realloc(c->fds, (c->nfds + n) * sizeof *v);
		if (!v) {
			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof fd, sizeof fd);
				close(fd);
			}
			continue;
		}
		c->fds = v;
		memcpy(c->fds + c->nfds, CMSG_DATA(cm), n * sizeof(int));
		c->nfds += n;
	}
}

/* One recvmsg into c->in.  >0 bytes, -ECONNRESET at EOF, -EAGAIN, -errno. */
static int read_some(ipc_client *c, size_t want)
{
	char cbuf[CMSG_SPACE(MAX_FDS_PER_READ * sizeof(int))];
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t n;
	int rc = rbuf_reserve(&c->in, want);

	if (rc < 0)
		return rc;
	iov.iov_base = c->in.data + c->in.end;
	iov.iov_len = c->in.cap - c->in.end;
	do
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mh.msg_controllen)
		take_fds(c, &mh);
	if (n == 0)
		return -ECONNRESET;
	c->in.end += (size_t)n;
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

int io_read_frame(ipc_client *c, int64_t deadline, const char **body, uint32_t *len)
{
	for (;;) {
		size_t have = c->in.end - c->in.start;
		int rc;

		if (have >= IPC_FRAME_HEADER) {
			uint32_t n = ipc_frame_get_len((unsigned char *)c->in.data + c->in.start);

			if (n > IPC_FRAME_HARD_MAX)
				return -EPROTO;
			if (have - IPC_FRAME_HEADER >= n) {
				*body = c->in.data + c->in.start + IPC_FRAME_HEADER;
				*len = n;
				return 0;
			}
			rc = read_some(c, IPC_FRAME_HEADER + n - have);
		} else {
			rc = read_some(c, READ_CHUNK / 4);
		}
		if (rc == -EAGAIN)
			rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}
