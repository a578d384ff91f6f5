/*
 * config.h - ipcd's settings: the one table of them that both the command
 * line and the configuration file read, and how a configuration is built
 * (defaults, then the file, then the command line) and re-read on SIGHUP.
 */
#ifndef IPCD_CONFIG_H
#define IPCD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "server.h"

/* A configuration: what the daemon is told to do. */
struct config {
	char *socket;               /* owned; NULL: no path known (socket activation may give one) */
	struct limits lim;
	enum log_level log_level;
	unsigned socket_mode;       /* permissions of the socket ipcd binds */
	gid_t socket_group;         /* its group; (gid_t)-1: ipcd's own */
	char *state_dir;            /* owned; NULL: the default (qlog_default_dir) */
	int fsync;                  /* enum qlog_fsync */
	char *metrics;              /* owned; ADDR:PORT of /metrics, NULL: off */
	char *cluster;              /* owned; the cluster's URLs, NULL: none */
	char *cluster_queues;       /* owned; the glob of names made cluster queues, NULL: none */
	uint32_t set;               /* bit i: config_keys[i] was given explicitly */
};

/* Sizes and counts are written as digits with an optional K, M or G suffix. */
enum config_type {
	CONFIG_PATH,                /* a file system path (char *) */
	CONFIG_BYTES,               /* a size in bytes (size_t) */
	CONFIG_COUNT,               /* a count (size_t) */
	CONFIG_UINT,                /* a count (unsigned) */
	CONFIG_LEVEL,               /* error, warn, info or debug (enum log_level) */
	CONFIG_MODE,                /* permission bits in octal, at most 0777 (unsigned) */
	CONFIG_GROUP,               /* a group name or number (gid_t) */
	CONFIG_FSYNC,               /* always, everysec or no (int, enum qlog_fsync) */
	CONFIG_ADDR,                /* ADDR:PORT, or off (char *, NULL for off) */
	CONFIG_TEXT,                /* a string, or off (char *, NULL for off); the server
				       applies a change itself, like an address */
};

/*
 * One setting.  Its name is both the long option (--name VALUE) and the
 * configuration file's key (name = VALUE).
 */
struct config_key {
	const char *name;
	char short_name;            /* -x on the command line; 0: none */
	enum config_type type;
	size_t offset;              /* of the value in struct config */
	size_t min, max;            /* accepted range of sizes and counts */
	bool live;                  /* SIGHUP applies a change without a restart */
	const char *arg;            /* the value's name in --help */
	const char *help;           /* one line for --help */
};

/* Every setting; config_nkeys of them. */
extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/* Where a configuration comes from; built once by main, read again on SIGHUP. */
struct config_source {
	const char *file;           /* the configuration file (borrowed) */
	bool file_required;         /* given with -c: a missing file is an error */
	struct config cli;          /* the command line's settings (cli.set says which) */
	unsigned verbose;           /* -v: log levels above the configured one */
};

/* Fill cfg with the defaults; cfg->socket is NULL and nothing is set. */
void config_init(struct config *cfg);

/* Free what cfg owns. */
void config_free(struct config *cfg);

/* The setting named name, or NULL. */
const struct config_key *config_find(const char *name);

/* Was the setting named name given explicitly (not a default)? */
bool config_is_set(const struct config *cfg, const char *name);

/*
 * Parse value for k into cfg and mark it set.  0, or -EINVAL (-ENOMEM) with
 * the reason in err, without the setting's name ("'x' is not a size").
 */
int config_set(struct config *cfg, const struct config_key *k, const char *value,
	       char *err, size_t errlen);

/*
 * Read the configuration file path into cfg: lines of "key = value", blank
 * lines and lines starting with '#' ignored.  A key may appear once.  0, or
 * a negative errno with err "path:line: reason" (or "path: reason" when the
 * file cannot be read; -ENOENT when it does not exist).
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/*
 * Build cfg from src: the defaults, then src->file (a missing file is fine
 * unless src->file_required), then the command line, then -v.  The socket
 * path left unset falls back to $IPCD_SOCKET, /run/ipcd/ipcd.sock for root,
 * $XDG_RUNTIME_DIR/ipcd.sock otherwise (NULL when none applies).  0, or a
 * negative errno with err (config_load's message).  cfg must be freed.
 */
int config_build(const struct config_source *src, struct config *cfg, char *err, size_t errlen);

/* k's value in cfg as text ("4M", "debug", a path, "default"). */
void config_format(const struct config *cfg, const struct config_key *k, char *buf, size_t len);

/*
 * Take next's live settings into cur, logging each change, and log the
 * changes that need a restart as ignored.  Returns how many settings changed.
 */
int config_apply_live(struct config *cur, const struct config *next);

#endif
