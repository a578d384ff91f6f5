/*
 * config.c - the settings table, parsing of values and of the configuration
 * file, and the merge of defaults, file and command line (see config.h).
 *
 * The table below is the only list of settings: main.c derives its long
 * options and --help from it, the file parser its keys, SIGHUP what may
 * change live.  A new limit is one line here plus its field in struct limits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grp.h>

#include "config.h"
#include "ipc_protocol.h"
#include "metrics.h"
#include "qlog.h"

#define KEY(field) offsetof(struct config, field)

const struct config_key config_keys[] = {
	{ "socket", 's', CONFIG_PATH, KEY(socket), 0, 0, false, "PATH",
	  "Unix socket to serve unless the service manager\n"
	  "passes one (default: $IPCD_SOCKET, else\n"
	  "/run/ipcd/ipcd.sock for root, else\n"
	  "$XDG_RUNTIME_DIR/ipcd.sock)" },
	{ "max-message", 0, CONFIG_BYTES, KEY(lim.max_message),
	  1, IPC_FRAME_HARD_MAX - IPC_FRAME_OVERHEAD, true, "BYTES",
	  "largest message accepted" },
	{ "max-clients", 0, CONFIG_UINT, KEY(lim.max_clients), 1, 1000000, true, "N",
	  "clients served at once; the last 4 (at most a\nquarter) are kept for root and ipcd's user" },
	{ "max-clients-per-user", 0, CONFIG_UINT, KEY(lim.max_clients_per_user), 1, 1000000, true,
	  "N", "connections one uid may have at once (root and\nipcd's own user: no limit)" },
	{ "idle-timeout", 0, CONFIG_UINT, KEY(lim.idle_timeout), 0, 1000000, true, "SECONDS",
	  "close a connection that holds nothing and sends\nnothing for this long; 0: never" },
	{ "queue-maxsize", 0, CONFIG_COUNT, KEY(lim.queue_maxsize), 0, SIZE_MAX, true, "N",
	  "messages held by a queue created without a\nlimit; 0: unbounded" },
	{ "queue-maxbytes", 0, CONFIG_BYTES, KEY(lim.queue_maxbytes), 0, SIZE_MAX, true, "BYTES",
	  "payload bytes held by such a queue; 0: unbounded" },
	{ "max-memory", 0, CONFIG_BYTES, KEY(lim.max_memory), 0, SIZE_MAX, true, "BYTES",
	  "payload bytes held by all queues and pipes plus\nthe clients' unsent and unserved bytes; 0: no limit" },
	{ "max-output", 0, CONFIG_BYTES, KEY(lim.max_output), 1, SIZE_MAX, true, "BYTES",
	  "unread reply bytes before a client is cut off" },
	{ "pipe-bytes", 0, CONFIG_BYTES, KEY(lim.pipe_maxbytes), 1, SIZE_MAX, true, "BYTES",
	  "bytes buffered in each direction of a pipe created\nafterwards; a send waits while they are full" },
	{ "max-array-bytes", 0, CONFIG_BYTES, KEY(lim.max_array_bytes), 1, SIZE_MAX, true, "BYTES",
	  "size of one shared array created afterwards" },
	{ "max-shm", 0, CONFIG_BYTES, KEY(lim.max_shm), 1, SIZE_MAX, true, "BYTES",
	  "bytes of all shared arrays (and consumers'\npages, queues' rings) together; arrays over\nit are refused, existing ones stay" },
	{ "ring-slots", 0, CONFIG_COUNT, KEY(lim.ring_slots), 0, 1u << 24, true, "N",
	  "slots of the shared-memory ring of a local queue\ncreated afterwards (fewer if its maxsize is\nsmaller); 0: no rings, every queue by the socket" },
	{ "ring-slot-bytes", 0, CONFIG_BYTES, KEY(lim.ring_slot_bytes), 32, 65536, true, "BYTES",
	  "bytes of one ring slot, 16 of them its header;\nlarger messages go by the socket, in order" },
	{ "max-objects", 0, CONFIG_COUNT, KEY(lim.max_objects), 1, SIZE_MAX, true, "N",
	  "named objects (queues, arrays, pipes) at once" },
	{ "log-level", 0, CONFIG_LEVEL, KEY(log_level), 0, 0, true, "LEVEL",
	  "error, warn, info or debug" },
	{ "socket-mode", 0, CONFIG_MODE, KEY(socket_mode), 0, 0777, false, "OCTAL",
	  "permissions of the socket ipcd binds: who may\nconnect (each object's mode decides the rest)" },
	{ "socket-group", 0, CONFIG_GROUP, KEY(socket_group), 0, 0, false, "GROUP",
	  "group of the socket ipcd binds (a name or number;\n- for ipcd's own)" },
	{ "state-dir", 0, CONFIG_PATH, KEY(state_dir), 0, 0, false, "DIR",
	  "where durable queues keep their logs (default:\n"
	  "$STATE_DIRECTORY, else /var/lib/ipcd for root, else\n"
	  "$XDG_STATE_HOME/ipcd or ~/.local/state/ipcd; made,\n"
	  "mode 0700, when the first durable queue is)" },
	{ "fsync", 0, CONFIG_FSYNC, KEY(fsync), 0, 0, false, "POLICY",
	  "when durable queues' logs reach the disk: always\n"
	  "(before a put is answered), everysec or no" },
	{ "metrics", 0, CONFIG_ADDR, KEY(metrics), 0, 0, true, "ADDR:PORT",
	  "serve Prometheus metrics over HTTP at\n"
	  "http://ADDR:PORT/metrics, e.g. 127.0.0.1:9464\n"
	  "(anyone who reaches it sees the objects' names)" },
	{ "cluster", 0, CONFIG_TEXT, KEY(cluster), 0, 0, true, "URL[,URL...]",
	  "the NATS JetStream cluster that holds cluster\n"
	  "queues, e.g. nats://h1:4222,nats://h2:4222; off: none" },
	{ "cluster-queues", 0, CONFIG_TEXT, KEY(cluster_queues), 0, 0, true, "GLOB",
	  "queues created with a matching name are cluster\nqueues (fnmatch pattern); off: none" },
	{ "cluster-replicas", 0, CONFIG_UINT, KEY(lim.cluster_replicas), 1, 5, true, "N",
	  "replicas of a queue cluster-queues sends there" },
	{ "cluster-ack-wait", 0, CONFIG_UINT, KEY(lim.cluster_ack_wait), 1, 86400, true, "SECONDS",
	  "how long the cluster waits for the ack of a\n"
	  "message whose ipcd vanished before delivering it\nagain (cluster queues created afterwards)" },
};

const size_t config_nkeys = sizeof config_keys / sizeof config_keys[0];

_Static_assert(sizeof config_keys / sizeof config_keys[0] <= 32,
	       "struct config's set mask has 32 bits");

void config_init(struct config *cfg)
{
	static const struct limits defaults = LIMITS_DEFAULT;

	memset(cfg, 0, sizeof *cfg);
	cfg->lim = defaults;
	cfg->log_level = LOG_LVL_WARN;
	cfg->socket_mode = SERVER_SOCKET_MODE;
	cfg->socket_group = (gid_t)-1;
	cfg->fsync = QLOG_FSYNC_ALWAYS;
}

void config_free(struct config *cfg)
{
	free(cfg->socket);
	cfg->socket = NULL;
	free(cfg->state_dir);
	cfg->state_dir = NULL;
	free(cfg->metrics);
	cfg->metrics = NULL;
	free(cfg->cluster);
	cfg->cluster = NULL;
	free(cfg->cluster_queues);
	cfg->cluster_queues = NULL;
}

const struct config_key *config_find(const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

bool config_is_set(const struct config *cfg, const char *name)
{
	const struct config_key *k = config_find(name);

	return k && (cfg->set & (1u << (k - config_keys)));
}

static void *value_of(const struct config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

static size_t value_size(const struct config_key *k)
{
	switch (k->type) {
	case CONFIG_PATH: case CONFIG_ADDR: case CONFIG_TEXT: return sizeof(char *);
	case CONFIG_BYTES: case CONFIG_COUNT: return sizeof(size_t);
	case CONFIG_UINT: return sizeof(unsigned);
	case CONFIG_LEVEL: return sizeof(enum log_level);
	case CONFIG_MODE: return sizeof(unsigned);
	case CONFIG_GROUP: return sizeof(gid_t);
	case CONFIG_FSYNC: return sizeof(int);
	}
	return 0;
}

/* Digits with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > SIZE_MAX)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || (shift && v > (SIZE_MAX >> shift)))
		return -EINVAL;
	*out = (size_t)v << shift;
	return 0;
}

static void format_size(size_t v, bool bytes, char *buf, size_t len)
{
	static const char suffix[] = "GMK";

	for (unsigned i = 0, shift = 30; bytes && v && i < 3; i++, shift -= 10)
		if ((v & (((size_t)1 << shift) - 1)) == 0) {
			snprintf(buf, len, "%zu%c", v >> shift, suffix[i]);
			return;
		}
	snprintf(buf, len, "%zu", v);
}

/* Replace the string setting at p by a copy of value (NULL: unset).  0 or -ENOMEM. */
static int set_string(void *p, const char *value, char *err, size_t errlen)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(*(char **)p);
	*(char **)p = copy;
	return 0;
}

int config_set(struct config *cfg, const struct config_key *k, const char *value,
	       char *err, size_t errlen)
{
	void *p = value_of(cfg, k);
	size_t v;
	int level;

	switch (k->type) {
	case CONFIG_PATH:
		if (!*value) {
			snprintf(err, errlen, "empty path");
			return -EINVAL;
		}
		if (set_string(p, value, err, errlen) < 0)
			return -ENOMEM;
		break;
	case CONFIG_BYTES:
	case CONFIG_COUNT:
	case CONFIG_UINT:
		if (parse_size(value, &v) < 0) {
			snprintf(err, errlen, "'%s' is not a %s", value,
				 k->type == CONFIG_BYTES ? "size (digits, then K, M or G if you like)"
							 : "number");
			return -EINVAL;
		}
		if (v < k->min || v > k->max) {
			snprintf(err, errlen, "'%s' is not between %zu and %zu", value, k->min, k->max);
			return -EINVAL;
		}
		if (k->type == CONFIG_UINT)
			*(unsigned *)p = (unsigned)v;
		else
			*(size_t *)p = v;
		break;
	case CONFIG_LEVEL:
		level = log_level_parse(value);
		if (level < 0) {
			snprintf(err, errlen, "'%s' is not error, warn, info or debug", value);
			return -EINVAL;
		}
		*(enum log_level *)p = (enum log_level)level;
		break;
	case CONFIG_MODE: {
		unsigned long m;
		char *end;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (*value < '0' || *value > '7' || errno || *end || m > k->max) {
			snprintf(err, errlen, "'%s' is not an octal mode up to %03zo", value, k->max);
			return -EINVAL;
		}
		*(unsigned *)p = (unsigned)m;
		break;
	}
	case CONFIG_GROUP: {
		struct group *gr = getgrnam(value);

		if (strcmp(value, "-") == 0) {
			*(gid_t *)p = (gid_t)-1;
		} else if (gr) {
			*(gid_t *)p = gr->gr_gid;
		} else if (parse_size(value, &v) == 0 && v < (gid_t)-1 && !strpbrk(value, "KkMmGg")) {
			*(gid_t *)p = (gid_t)v;
		} else {
			snprintf(err, errlen, "no group '%s'", value);
			return -EINVAL;
		}
		break;
	}
	case CONFIG_ADDR:
		if (strcmp(value, "off") == 0)
			value = NULL;
		else if (metrics_addr_check(value, err, errlen) < 0)
			return -EINVAL;
		if (set_string(p, value, err, errlen) < 0)
			return -ENOMEM;
		break;
	case CONFIG_TEXT:
		/* Empty or "off" unsets it. */
		if (set_string(p, *value && strcmp(value, "off") != 0 ? value : NULL, err,
			       errlen) < 0)
			return -ENOMEM;
		break;
	case CONFIG_FSYNC:
		level = qlog_fsync_parse(value);
		if (level < 0) {
			snprintf(err, errlen, "'%s' is not always, everysec or no", value);
			return -EINVAL;
		}
		*(int *)p = level;
		break;
	}
	cfg->set |= 1u << (k - config_keys);
	return 0;
}

/* Copy k's value from src to dst. */
static int copy_value(struct config *dst, const struct config *src, const struct config_key *k)
{
	if (k->type == CONFIG_PATH || k->type == CONFIG_ADDR || k->type == CONFIG_TEXT) {
		const char *s = *(char **)value_of(src, k);
		char *copy = s ? strdup(s) : NULL;

		if (s && !copy)
			return -ENOMEM;
		free(*(char **)value_of(dst, k));
		*(char **)value_of(dst, k) = copy;
	} else {
		memcpy(value_of(dst, k), value_of(src, k), value_size(k));
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* Apply one line; 0, or -EINVAL with the reason in err. */
static int load_line(struct config *cfg, char *line, size_t n, unsigned lineno,
		     unsigned *seen_at, char *err, size_t errlen)
{
	const struct config_key *k;
	char *key, *value, *eq;
	char why[160];
	size_t i;

	if (strlen(line) != n) {
		snprintf(err, errlen, "a NUL byte in the line");
		return -EINVAL;
	}
	key = trim(line);
	if (!*key || *key == '#')
		return 0;
	eq = strchr(key, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value'");
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(key);
	value = trim(eq + 1);
	k = config_find(key);
	if (!k) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -EINVAL;
	}
	i = (size_t)(k - config_keys);
	if (seen_at[i]) {
		snprintf(err, errlen, "%s is already set on line %u", k->name, seen_at[i]);
		return -EINVAL;
	}
	seen_at[i] = lineno;
	if (config_set(cfg, k, value, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", k->name, why);
		return -EINVAL;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	unsigned seen_at[sizeof config_keys / sizeof config_keys[0]] = { 0 };
	char *line = NULL, why[256];
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	int r = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		r = load_line(cfg, line, (size_t)n, lineno, seen_at, why, sizeof why);
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
	free(line);
	fclose(f);
	return r;
}

static char *default_socket_path(void)
{
	const char *env = getenv("IPCD_SOCKET"), *xdg;
	char *path;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/run/ipcd/ipcd.sock");
	xdg = getenv("XDG_RUNTIME_DIR");
	if (!xdg || !*xdg)
		return NULL;
	if (asprintf(&path, "%s/ipcd.sock", xdg) < 0)
		return NULL;
	return path;
}

int config_build(const struct config_source *src, struct config *cfg, char *err, size_t errlen)
{
	int r = 0;

	config_init(cfg);
	if (src->file) {
		r = config_load(cfg, src->file, err, errlen);
		if (r == -ENOENT && !src->file_required)
			r = 0;
	}
	for (size_t i = 0; r == 0 && i < config_nkeys; i++)
		if (src->cli.set & (1u << i)) {
			r = copy_value(cfg, &src->cli, &config_keys[i]);
			cfg->set |= 1u << i;
			if (r < 0)
				snprintf(err, errlen, "out of memory");
		}
	if (r < 0) {
		config_free(cfg);
		return r;
	}
	if (cfg->log_level + src->verbose > LOG_LVL_DEBUG)
		cfg->log_level = LOG_LVL_DEBUG;
	else
		cfg->log_level += src->verbose;
	if (!cfg->socket)
		cfg->socket = default_socket_path();
	return 0;
}

void config_format(const struct config *cfg, const struct config_key *k, char *buf, size_t len)
{
	const void *p = value_of(cfg, k);

	switch (k->type) {
	case CONFIG_PATH:
		snprintf(buf, len, "%s", *(char *const *)p ? *(char *const *)p : "default");
		break;
	case CONFIG_BYTES:
		format_size(*(const size_t *)p, true, buf, len);
		break;
	case CONFIG_COUNT:
		format_size(*(const size_t *)p, false, buf, len);
		break;
	case CONFIG_UINT:
		snprintf(buf, len, "%u", *(const unsigned *)p);
		break;
	case CONFIG_LEVEL:
		snprintf(buf, len, "%s", log_level_name(*(const enum log_level *)p));
		break;
	case CONFIG_MODE:
		snprintf(buf, len, "%04o", *(const unsigned *)p);
		break;
	case CONFIG_GROUP:
		if (*(const gid_t *)p == (gid_t)-1)
			snprintf(buf, len, "-");
		else
			snprintf(buf, len, "%u", (unsigned)*(const gid_t *)p);
		break;
	case CONFIG_FSYNC:
		snprintf(buf, len, "%s", qlog_fsync_name((enum qlog_fsync)*(const int *)p));
		break;
	case CONFIG_ADDR:
	case CONFIG_TEXT:
		snprintf(buf, len, "%s", *(char *const *)p ? *(char *const *)p : "off");
		break;
	}
}

static bool value_equal(const struct config *a, const struct config *b, const struct config_key *k)
{
	if (k->type == CONFIG_PATH || k->type == CONFIG_ADDR || k->type == CONFIG_TEXT) {
		const char *x = *(char **)value_of(a, k), *y = *(char **)value_of(b, k);

		return x == y || (x && y && strcmp(x, y) == 0);
	}
	return memcmp(value_of(a, k), value_of(b, k), value_size(k)) == 0;
}

int config_apply_live(struct config *cur, const struct config *next)
{
	char was[512], now[512];
	int changed = 0;

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		/* The server applies an address itself: it must bind it first. */
		if (k->type == CONFIG_ADDR || k->type == CONFIG_TEXT || value_equal(cur, next, k))
			continue;
		config_format(cur, k, was, sizeof was);
		config_format(next, k, now, sizeof now);
		/* Paths are never live: cur may borrow its strings. */
		if (!k->live || k->type == CONFIG_PATH) {
			log_warn("%s: the configuration says %s, but a change needs a restart; "
				 "keeping %s", k->name, now, was);
			continue;
		}
		memcpy(value_of(cur, k), value_of(next, k), value_size(k));
		log_info("%s: %s -> %s", k->name, was, now);
		changed++;
	}
	return changed;
}
