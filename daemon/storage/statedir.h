/*
 * statedir.h - the state directory: taken (made, checked, locked) once, and
 * every file in it opened, renamed and removed relative to its descriptor.
 *
 * ipcd trusts a directory only if it is its own (owned by its effective uid
 * or by root) and no one else can write to it; a directory others can write
 * to is accepted only where the sticky bit keeps them from touching ipcd's
 * files (the socket's directory, /tmp say), and never for the state
 * directory.  Names inside are never followed as symbolic links.
 */
#ifndef IPCD_STATEDIR_H
#define IPCD_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct statedir {
	char *path;                  /* owned */
	int fd;                      /* the directory, or -1 until taken */
	int lock_fd;                 /* its "lock" file, flocked; -1 until taken */
};

/*
 * Why the directory described by st may not hold ipcd's files, or NULL if
 * it may.  sticky_ok: others may write to it if it has the sticky bit.
 */
const char *statedir_unsafe(const struct stat *st, bool sticky_ok);

/*
 * Take sd->path: make it (and missing parents, mode 0700), open it, check
 * it (statedir_unsafe), lock it against other ipcds.  0, or a negative
 * errno with why (naming the path) in err: -EBUSY if another ipcd has it,
 * -EPERM if it is not safe.  Nothing stays open on failure.
 */
int statedir_take(struct statedir *sd, char *err, size_t errlen);

/* Close what statedir_take opened; the path stays. */
void statedir_release(struct statedir *sd);

/* openat name in sd, never through a symbolic link.  A descriptor or a negative errno. */
int statedir_open(const struct statedir *sd, const char *name, int flags, mode_t mode);

/*
 * Create name afresh for writing, as a temporary: a leftover of that name
 * is removed first (a link is removed, not followed), then the file is
 * created exclusively, for writing with flags added (O_APPEND...).  A
 * descriptor or a negative errno.
 */
int statedir_create_tmp(const struct statedir *sd, const char *name, int flags);

/* renameat, unlinkat and fsync of the directory: 0 or a negative errno. */
int statedir_rename(const struct statedir *sd, const char *from, const char *to);
int statedir_unlink(const struct statedir *sd, const char *name);
int statedir_sync(const struct statedir *sd);

#endif
