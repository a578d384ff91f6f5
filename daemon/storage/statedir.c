/*
 * statedir.c - taking, checking and locking the state directory, and the
 * calls that open, rename and remove files relative to its descriptor
 * (see statedir.h).  Everything goes through the sio table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sio.h"
#include "statedir.h"

const char *statedir_unsafe(const struct stat *st, bool sticky_ok)
{
	if (!S_ISDIR(st->st_mode))
		return "it is not a directory";
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return "it is owned by another user (it must be ipcd's own, or root's)";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (st->st_mode & S_ISVTX)))
		return sticky_ok ? "others can write to it and it is not sticky" :
		       "others can write to it (it must not be group- or world-writable)";
	return NULL;
}

/* mkdir -p with mode 0700 for what is made.  0 or a negative errno. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (sio->mkdirat(AT_FDCWD, buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (sio->mkdirat(AT_FDCWD, buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int statedir_take(struct statedir *sd, char *err, size_t errlen)
{
	const char *why;
	struct stat st;
	int rc = make_dirs(sd->path);

	if (rc < 0) {
		snprintf(err, errlen, "cannot create the state directory %s: %s", sd->path,
			 strerror(-rc));
		return rc;
	}
	/* The directory itself is checked through the descriptor used from now on
	 * (a path that is a link to it is fine: what it leads to is checked), so
	 * what was checked is what is used, wherever the path leads later. */
	sd->fd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->fd < 0 || fstat(sd->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the state directory %s: %s", sd->path,
			 strerror(-rc));
	} else if ((why = statedir_unsafe(&st, false))) {
		snprintf(err, errlen, "refusing the state directory %s: %s", sd->path, why);
		rc = -EPERM;
	} else if ((sd->lock_fd = statedir_open(sd, "lock", O_RDWR | O_CREAT, 0600)) < 0) {
		rc = sd->lock_fd;
		snprintf(err, errlen, "cannot open the lock file %s/lock: %s", sd->path,
			 rc == -ELOOP ? "it is a symbolic link" : strerror(-rc));
	} else if (flock(sd->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "the state directory %s is used by another ipcd", sd->path);
		rc = -EBUSY;
	}
	if (rc < 0)
		statedir_release(sd);
	return rc;
}

void statedir_release(struct statedir *sd)
{
	if (sd->fd >= 0)
		close(sd->fd);
	if (sd->lock_fd >= 0)
		close(sd->lock_fd);
	sd->fd = sd->lock_fd = -1;
}

int statedir_open(const struct statedir *sd, const char *name, int flags, mode_t mode)
{
	int fd = sio->openat(sd->fd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

int statedir_create_tmp(const struct statedir *sd, const char *name, int flags)
{
	if (sio->unlinkat(sd->fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return statedir_open(sd, name, O_WRONLY | O_CREAT | O_EXCL | flags, 0600);
}

int statedir_rename(const struct statedir *sd, const char *from, const char *to)
{
	return sio->renameat(sd->fd, from, sd->fd, to) < 0 ? -errno : 0;
}

int statedir_unlink(const struct statedir *sd, const char *name)
{
	return sio->unlinkat(sd->fd, name, 0) < 0 ? -errno : 0;
}

int statedir_sync(const struct statedir *sd)
{
	return sio->fsync(sd->fd) < 0 ? -errno : 0;
}
