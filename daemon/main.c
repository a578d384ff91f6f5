/*
 * main.c - ipcd's entry point: parse options, build the server, run the loop.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ipc_protocol.h"
#include "log.h"
#include "qlog.h"
#include "server.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ipcd [OPTION]...\n"
		"The ipcd IPC broker: named queues for local processes, served in the foreground.\n\n"
		"  -s, --socket PATH         Unix socket to serve (default: $IPCD_SOCKET, else\n"
		"                            /run/ipcd/ipcd.sock for root, $XDG_RUNTIME_DIR/ipcd.sock)\n"
		"      --max-message BYTES   largest message accepted (default 4M)\n"
		"      --max-clients N       clients served at once (default 1024)\n"
		"      --queue-maxsize N     messages a queue holds when created without a limit\n"
		"                            (default 0: unbounded)\n"
		"      --queue-maxbytes BYTES  payload bytes likewise (default 0: unbounded)\n"
		"      --max-memory BYTES    payload bytes held by all queues (default 1G; 0: no limit)\n"
		"      --max-output BYTES    unread reply bytes before a client is cut off (default 64M)\n"
		"      --max-objects N       named objects at once (default 65536)\n"
		"      --socket-mode OCTAL   permissions of the socket file (default 0666: anyone may\n"
		"                            connect; each object's own mode decides what they reach)\n"
		"      --socket-group GROUP  group of the socket file (a name or a number)\n"
		"      --state-dir DIR       where durable queues keep their logs (default:\n"
		"                            /var/lib/ipcd for root, else $XDG_STATE_HOME/ipcd or\n"
		"                            ~/.local/state/ipcd; made, mode 0700, when first needed)\n"
		"      --fsync POLICY        when durable queues' logs reach the disk: always (before\n"
		"                            a put is answered; default), everysec, or no\n"
		"      --log-level LEVEL     error, warn (default), info or debug\n"
		"  -v, --verbose             one log level more per use\n"
		"  -h, --help                show this help and exit\n"
		"  -V, --version             show the version and exit\n\n"
		"BYTES take an optional K, M or G suffix (powers of 1024).\n");
}

/* Parse a count or size with an optional K/M/G suffix. */
static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || (shift && v > (SIZE_MAX >> shift)))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
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

/* A group name or number; -1 if there is no such group. */
static int parse_group(const char *s, gid_t *out)
{
	struct group *gr = getgrnam(s);
	size_t v;

	if (gr) {
		*out = gr->gr_gid;
		return 0;
	}
	if (parse_size(s, &v) < 0 || v >= (gid_t)-1 || strpbrk(s, "KkMmGg"))
		return -1;
	*out = (gid_t)v;
	return 0;
}

/* Permission bits in octal, at most 0777; -1 if malformed. */
static int parse_mode(const char *s, mode_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || end == s || *end || *s == '-' || v > 0777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

static char *default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *path;

	if (geteuid() == 0)
		return strdup("/var/lib/ipcd");
	if (xdg && *xdg)
		return asprintf(&path, "%s/ipcd", xdg) < 0 ? NULL : path;
	if (home && *home)
		return asprintf(&path, "%s/.local/state/ipcd", home) < 0 ? NULL : path;
	return NULL;
}

/* Allow as many descriptors as the hard limit permits; warn if too few. */
static void raise_fd_limit(unsigned max_clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_clients + 32)
		log_warn("the descriptor limit (%llu) is below --max-clients (%u) plus a margin",
			 (unsigned long long)rl.rlim_cur, max_clients);
}

enum { OPT_MAX_MESSAGE = 256, OPT_MAX_CLIENTS, OPT_QUEUE_MAXSIZE, OPT_QUEUE_MAXBYTES,
       OPT_MAX_MEMORY, OPT_MAX_OUTPUT, OPT_MAX_OBJECTS, OPT_LOG_LEVEL, OPT_SOCKET_MODE,
       OPT_SOCKET_GROUP, OPT_STATE_DIR, OPT_FSYNC };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ "queue-maxsize", required_argument, NULL, OPT_QUEUE_MAXSIZE },
		{ "queue-maxbytes", required_argument, NULL, OPT_QUEUE_MAXBYTES },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
		{ "max-objects", required_argument, NULL, OPT_MAX_OBJECTS },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "fsync", required_argument, NULL, OPT_FSYNC },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct limits lim = LIMITS_DEFAULT;
	char *path = NULL;
	mode_t socket_mode = SERVER_SOCKET_MODE;
	gid_t socket_group = (gid_t)-1;
	char *state_dir = NULL;
	int fsync_policy = QLOG_FSYNC_ALWAYS;
	struct server *srv;
	size_t v;
	int opt, level, rc;

	while ((opt = getopt_long(argc, argv, "s:vhV", opts, NULL)) != -1) {
		const char *name = NULL;

		switch (opt) {
		case 's':
			free(path);
			path = strdup(optarg);
			continue;
		case 'v':
			if (log_get_level() < LOG_LVL_DEBUG)
				log_set_level(log_get_level() + 1);
			continue;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("ipcd %s (protocol %d)\n", IPCD_VERSION, IPC_PROTO_VERSION);
			rc = 0;
			goto out;
		case OPT_LOG_LEVEL:
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "ipcd: --log-level: '%s' is not error, warn, info or debug\n",
					optarg);
				goto bad;
			}
			log_set_level((enum log_level)level);
			continue;
		case OPT_SOCKET_MODE:
			if (parse_mode(optarg, &socket_mode) < 0) {
				fprintf(stderr, "ipcd: --socket-mode: '%s' is not an octal mode up to 0777\n",
					optarg);
				goto bad;
			}
			continue;
		case OPT_SOCKET_GROUP:
			if (parse_group(optarg, &socket_group) < 0) {
				fprintf(stderr, "ipcd: --socket-group: no group '%s'\n", optarg);
				goto bad;
			}
			continue;
		case OPT_STATE_DIR:
			free(state_dir);
			state_dir = strdup(optarg);
			continue;
		case OPT_FSYNC:
			fsync_policy = qlog_fsync_parse(optarg);
			if (fsync_policy < 0) {
				fprintf(stderr, "ipcd: --fsync: '%s' is not always, everysec or no\n",
					optarg);
				goto bad;
			}
			continue;
		case '?':
			fprintf(stderr, "Try 'ipcd --help'.\n");
			goto bad;
		}
		/* The size and count options. */
		for (const struct option *o = opts; o->name; o++)
			if (o->val == opt)
				name = o->name;
		if (parse_size(optarg, &v) < 0) {
			fprintf(stderr, "ipcd: --%s: '%s' is not a size\n", name, optarg);
			goto bad;
		}
		switch (opt) {
		case OPT_MAX_MESSAGE:
			if (v == 0 || v > IPC_FRAME_HARD_MAX - IPC_FRAME_OVERHEAD) {
				fprintf(stderr, "ipcd: --max-message must be between 1 and %u\n",
					IPC_FRAME_HARD_MAX - IPC_FRAME_OVERHEAD);
				goto bad;
			}
			lim.max_message = v;
			break;
		case OPT_MAX_CLIENTS:
			if (v == 0 || v > 1000000) {
				fprintf(stderr, "ipcd: --max-clients must be between 1 and 1000000\n");
				goto bad;
			}
			lim.max_clients = (unsigned)v;
			break;
		case OPT_QUEUE_MAXSIZE: lim.queue_maxsize = v; break;
		case OPT_QUEUE_MAXBYTES: lim.queue_maxbytes = v; break;
		case OPT_MAX_MEMORY: lim.max_memory = v; break;
		case OPT_MAX_OUTPUT: lim.max_output = v; break;
		case OPT_MAX_OBJECTS:
			if (v == 0) {
				fprintf(stderr, "ipcd: --max-objects must be at least 1\n");
				goto bad;
			}
			lim.max_objects = v;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcd: unexpected argument '%s'\nTry 'ipcd --help'.\n", argv[optind]);
		goto bad;
	}
	if (!path)
		path = default_socket_path();
	if (!path) {
		fprintf(stderr, "ipcd: no socket path: give -s PATH, or set IPCD_SOCKET or XDG_RUNTIME_DIR\n");
		return 1;
	}
	raise_fd_limit(lim.max_clients);
	srv = server_create(path, &lim);
	free(path);
	if (!srv) {
		free(state_dir);
		return 1;
	}
	if (server_set_socket_access(srv, socket_mode, socket_group) < 0) {
		server_destroy(srv);
		free(state_dir);
		return 1;
	}
	/* A state directory given is made now; the default one when first needed. */
	rc = 0;
	if (state_dir)
		rc = qlog_start(srv, state_dir, (enum qlog_fsync)fsync_policy, true);
	else if ((state_dir = default_state_dir()))
		rc = qlog_start(srv, state_dir, (enum qlog_fsync)fsync_policy, false);
	else
		log_warn("no state directory (no HOME): durable queues are off");
	free(state_dir);
	if (rc < 0) {
		server_destroy(srv);
		return 1;
	}
	rc = server_run(srv);
	server_destroy(srv);
	return rc;
bad:
	rc = 2;
out:
	free(path);
	free(state_dir);
	return rc;
}
