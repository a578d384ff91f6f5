/*
 * sio.c - the storage's system calls (see sio.h): the system's table, the
 * pointer to the table in use, and the one loop every writer shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sio.h"

static ssize_t sys_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

const struct sio_ops sio_system = {
	.write = sys_write,
	.fsync = fsync,
	.fdatasync = fdatasync,
	.openat = sys_openat,
	.renameat = renameat,
	.ftruncate = ftruncate,
	.unlinkat = unlinkat,
	.mkdirat = mkdirat,
};

const struct sio_ops *sio = &sio_system;

void sio_set(const struct sio_ops *ops)
{
	sio = ops ? ops : &sio_system;
}

int sio_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t w = sio->write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		/* A write that makes no progress would loop for ever: call it a full disk. */
		if (w == 0)
			return -ENOSPC;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
