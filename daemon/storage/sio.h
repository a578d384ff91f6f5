/*
 * sio.h - the storage's system calls, through one replaceable table.
 *
 * Every call the durable store makes that can fail on a full or failing
 * disk goes through sio: writes, syncs, opens, renames, truncations,
 * unlinks and mkdirs.  The daemon uses the system's; a test build installs
 * its own table (sio_set) to inject ENOSPC or EIO at any of these steps, as
 * beanstalkd's tests replace its file calls.  Each function returns what the
 * system call would, with errno set on failure.
 */
#ifndef IPCD_SIO_H
#define IPCD_SIO_H

#include <sys/types.h>

struct sio_ops {
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	int (*renameat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
	int (*ftruncate)(int fd, off_t len);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
};

/* The table in use; never NULL. */
extern const struct sio_ops *sio;

/* The system's calls. */
extern const struct sio_ops sio_system;

/* Use ops from now on (NULL: the system's again).  ops must outlive its use. */
void sio_set(const struct sio_ops *ops);

/* Write all of buf to fd, retrying short writes and EINTR: 0 or a negative errno. */
int sio_write_all(int fd, const void *buf, size_t len);

#endif
