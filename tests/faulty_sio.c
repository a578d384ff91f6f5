/*
 * faulty_sio.c - the storage's I/O table with faults on demand, for
 * ipcd_faulty (the daemon's main.c and this; built for the tests only).
 *
 * $IPCD_FAULTS names a control file, read again at every call, so a test
 * turns faults on and off while the daemon runs.  Each line is
 *     CALL ERRNO [SUBSTRING]
 * CALL one of write, fsync (fsync and fdatasync), open, rename, ftruncate,
 * unlink, mkdir; ERRNO one of ENOSPC, EIO, EDQUOT; SUBSTRING, if given,
 * limits the fault to files whose name (or, for a descriptor, whose path)
 * contains it (or, ending with "$", ends with it).  A faulty write first writes half of what it was given, as
 * a filling disk does, and fails when less than a byte would be left.
 * "off", an empty file or no file: no faults.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sio.h"

/* Does name contain sub (ending with "$": end with it)? */
static bool matches(const char *name, const char *sub)
{
	size_t n = strlen(sub), len;

	if (!name)
		return false;
	if (n && sub[n - 1] == '$') {
		len = strlen(name);
		return len >= n - 1 && memcmp(name + len - (n - 1), sub, n - 1) == 0;
	}
	return strstr(name, sub) != NULL;
}

/* The errno to fail call on name (NULL: unknown) with, or 0. */
static int fault_for(const char *call, const char *name)
{
	const char *ctl = getenv("IPCD_FAULTS");
	char line[256];
	FILE *f;
	int err = 0;

	if (!ctl || !(f = fopen(ctl, "re")))
		return 0;
	while (!err && fgets(line, sizeof line, f)) {
		char c[32], e[32], sub[200] = "";
		int n = sscanf(line, "%31s %31s %199s", c, e, sub);

		if (n < 2 || strcmp(c, call) != 0)
			continue;
		if (n == 3 && !matches(name, sub))
			continue;
		err = strcmp(e, "ENOSPC") == 0 ? ENOSPC : strcmp(e, "EDQUOT") == 0 ? EDQUOT :
		      strcmp(e, "EIO") == 0 ? EIO : 0;
	}
	fclose(f);
	return err;
}

/* The path fd is open on, for SUBSTRING. */
static const char *fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static ssize_t faulty_write(int fd, const void *buf, size_t len)
{
	char p[4096];
	int err = fault_for("write", fd_path(fd, p, sizeof p));

	if (!err)
		return write(fd, buf, len);
	if (len / 2)
		return write(fd, buf, len / 2);
	errno = err;
	return -1;
}

static int fail_or(int err)
{
	errno = err;
	return err ? -1 : 0;
}

static int faulty_fsync(int fd)
{
	char p[4096];
	int err = fault_for("fsync", fd_path(fd, p, sizeof p));

	return err ? fail_or(err) : fsync(fd);
}

static int faulty_fdatasync(int fd)
{
	char p[4096];
	int err = fault_for("fsync", fd_path(fd, p, sizeof p));

	return err ? fail_or(err) : fdatasync(fd);
}

static int faulty_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int err = fault_for("open", path);

	return err ? fail_or(err) : openat(dirfd, path, flags, mode);
}

static int faulty_renameat(int ofd, const char *from, int nfd, const char *to)
{
	int err = fault_for("rename", from);

	if (!err)
		err = fault_for("rename", to);
	return err ? fail_or(err) : renameat(ofd, from, nfd, to);
}

static int faulty_ftruncate(int fd, off_t len)
{
	char p[4096];
	int err = fault_for("ftruncate", fd_path(fd, p, sizeof p));

	return err ? fail_or(err) : ftruncate(fd, len);
}

static int faulty_unlinkat(int dirfd, const char *path, int flags)
{
	int err = fault_for("unlink", path);

	return err ? fail_or(err) : unlinkat(dirfd, path, flags);
}

static int faulty_mkdirat(int dirfd, const char *path, mode_t mode)
{
	int err = fault_for("mkdir", path);

	return err ? fail_or(err) : mkdirat(dirfd, path, mode);
}

static const struct sio_ops faulty_ops = {
	.write = faulty_write,
	.fsync = faulty_fsync,
	.fdatasync = faulty_fdatasync,
	.openat = faulty_openat,
	.renameat = faulty_renameat,
	.ftruncate = faulty_ftruncate,
	.unlinkat = faulty_unlinkat,
	.mkdirat = faulty_mkdirat,
};

/* Installed before main runs: the daemon never sees the system's table. */
__attribute__((constructor)) static void faulty_install(void)
{
	if (getenv("IPCD_FAULTS"))
		sio_set(&faulty_ops);
}
