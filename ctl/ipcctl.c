/*
 * ipcctl.c - main() of ipcctl, the administration tool of ipcd: the
 * command table, and the gate that parses the command line and checks it
 * against the command's entry (operand count, which options apply, every
 * number) before the handler runs.  Usage errors exit 2 from here.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_parse.h"

/* Options a command accepts, besides the global ones. */
enum {
	OPT_TIMEOUT = 1u << 0,
	OPT_CREATE  = 1u << 1,
	OPT_ATTR    = 1u << 2,   /* --maxsize, --maxbytes, --mode, --ack, --durable */
	OPT_INTERVAL = 1u << 3,
	OPT_COUNT   = 1u << 4,
};

#define NOPT_BITS 5

struct command {
	const char *group;        /* "queue", or NULL for a command of one word */
	const char *name;
	int min_args, max_args;
	unsigned opts;
	int timeout_ms;           /* when --timeout is not given */
	int (*run)(struct ctl *ctl);
	const char *usage;        /* operands and options after the words */
	const char *help;
};

static const struct command commands[] = {
	{ NULL, "status", 0, 0, 0, 0, ctl_server_status, "",
	  "the daemon's version, uptime, clients, objects and memory" },
	{ NULL, "ls", 0, 0, 0, 0, ctl_server_ls, "",
	  "list every object" },
	{ NULL, "clients", 0, 0, 0, 0, ctl_server_clients, "",
	  "list the connected clients" },
	{ NULL, "stat", 0, 0, OPT_INTERVAL | OPT_COUNT, 0, ctl_stat,
	  "[-i SECONDS] [-n COUNT]",
	  "one line of the daemon's figures and queue rates per interval (default 1 s), "
	  "COUNT lines or until interrupted" },
	{ NULL, "top", 0, 0, OPT_INTERVAL, 0, ctl_top, "[-i SECONDS]",
	  "a live full-screen view of the queues by rate; keys sort, q quits" },
	{ NULL, "chmod", 2, 2, 0, 0, ctl_server_chmod, "MODE NAME",
	  "set an object's permission bits (octal); for its owner and root" },
	{ NULL, "chown", 2, 2, 0, 0, ctl_server_chown, "USER[:GROUP] NAME",
	  "give an object to another user and/or group; for its owner and root" },
	{ "queue", "create", 1, 1, OPT_ATTR, 0, ctl_queue_create,
	  "NAME [--maxsize N] [--maxbytes SIZE] [--mode OCTAL] [--ack] [--durable]",
	  "create a queue; fails if it exists" },
	{ "queue", "put", 2, 2, OPT_TIMEOUT | OPT_CREATE | OPT_ATTR, IPC_FOREVER, ctl_queue_put,
	  "NAME JSON [--timeout MS] [--create [--maxsize N] [--maxbytes SIZE] [--mode OCTAL]]",
	  "put a JSON value, as msgpack; waits while the queue is full" },
	{ "queue", "get", 1, 1, OPT_TIMEOUT, IPC_NOWAIT, ctl_queue_get,
	  "NAME [--timeout MS]",
	  "take the oldest message and print it as JSON (on an ack queue, then task_done)" },
	{ "queue", "join", 1, 1, OPT_TIMEOUT, IPC_FOREVER, ctl_queue_join,
	  "NAME [--timeout MS]",
	  "wait until every message put was got (and, with ack, acknowledged)" },
	{ "queue", "peek", 1, 1, 0, 0, ctl_queue_peek, "NAME",
	  "print the oldest message without taking it" },
	{ "queue", "stat", 1, 1, 0, 0, ctl_queue_stat, "NAME",
	  "the queue's attributes and counters" },
	{ "queue", "purge", 1, 1, 0, 0, ctl_queue_purge, "NAME",
	  "drop every message" },
	{ "queue", "rm", 1, 1, 0, 0, ctl_queue_rm, "NAME",
	  "remove the queue and its messages" },
	{ "array", "create", 3, 3, OPT_ATTR, 0, ctl_array_create,
	  "NAME TYPECODE LENGTH [--mode OCTAL] [--durable]",
	  "create a zero-filled array (typecodes b B h H i I l L q Q f d); fails if it exists" },
	{ "array", "get", 1, 3, 0, 0, ctl_array_get, "NAME [START [COUNT]]",
	  "print elements, one per line (a list with --json); waits while locked" },
	{ "array", "set", 3, 3, 0, 0, ctl_array_set, "NAME INDEX VALUE",
	  "write one element; waits while another process holds the lock" },
	{ "array", "stat", 1, 1, 0, 0, ctl_array_stat, "NAME",
	  "the array's type, size, mappings, lock holder and counters" },
	{ "array", "rm", 1, 1, 0, 0, ctl_array_rm, "NAME",
	  "remove the array name; processes that mapped it keep their mapping" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum opt_id { O_SOCKET, O_JSON, O_HELP, O_VERSION, O_TIMEOUT, O_CREATE,
	      O_MAXSIZE, O_MAXBYTES, O_MODE, O_ACK, O_DURABLE, O_INTERVAL, O_COUNT };

static const struct opt_spec {
	enum opt_id id;
	const char *name;
	char short_name;
	int has_arg;
	unsigned cmd_opt;         /* the command option bit, 0 for a global one */
} options[] = {
	{ O_SOCKET,   "socket",   's', 1, 0 },
	{ O_JSON,     "json",     'j', 0, 0 },
	{ O_HELP,     "help",     'h', 0, 0 },
	{ O_VERSION,  "version",  'V', 0, 0 },
	{ O_TIMEOUT,  "timeout",  't', 1, OPT_TIMEOUT },
	{ O_CREATE,   "create",   0,   0, OPT_CREATE },
	{ O_MAXSIZE,  "maxsize",  0,   1, OPT_ATTR },
	{ O_MAXBYTES, "maxbytes", 0,   1, OPT_ATTR },
	{ O_MODE,     "mode",     0,   1, OPT_ATTR },
	{ O_ACK,      "ack",      0,   0, OPT_ATTR },
	{ O_DURABLE,  "durable",  0,   0, OPT_ATTR },
	{ O_INTERVAL, "interval", 'i', 1, OPT_INTERVAL },
	{ O_COUNT,    "count",    'n', 1, OPT_COUNT },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* The command line, once read, before the command is known. */
struct cmdline {
	char **words;             /* operands, command words first */
	int nwords;
	unsigned opts_seen;       /* command option bits given */
	const char *first_opt[NOPT_BITS]; /* the name of an option of each bit, as typed */
	int help, version;
	int timeout_given;
};

static void command_words(char *buf, size_t len, const struct command *cmd)
{
	snprintf(buf, len, "%s%s%s", cmd->group ? cmd->group : "", cmd->group ? " " : "",
		 cmd->name);
}

static void print_usage(FILE *out)
{
	char words[64];

	fputs("usage: ipcctl [-s SOCKET] [--json] COMMAND [ARGS...]\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		command_words(words, sizeof(words), &commands[i]);
		fprintf(out, "  %s%s%s\n      %s\n", words, commands[i].usage[0] ? " " : "",
			commands[i].usage, commands[i].help);
	}
	fputs("\nOptions:\n"
	      "  -s, --socket PATH  ipcd's socket (default: $IPCD_SOCKET, else\n"
	      "                     /run/ipcd/ipcd.sock for root, $XDG_RUNTIME_DIR/ipcd.sock)\n"
	      "  -j, --json         print JSON, one value per line\n"
	      "  -t, --timeout MS   how long put and get wait (-1: no limit)\n"
	      "  -i, --interval S   seconds between two lines of stat, two screens of top\n"
	      "  -n, --count N      lines stat prints (default: until interrupted)\n"
	      "  -h, --help         this help;  -V, --version  the version\n\n"
	      "Sizes take a K, M or G suffix (1K = 1024).  Messages print as JSON; bytes\n"
	      "that are not one msgpack value print as a string, byte by byte (Latin-1).\n\n"
	      "Exit status: 0 done, 1 failed, 2 usage error, 3 get or peek found no message\n"
	      "(or join timed out).\n",
	      out);
}

static void print_command_usage(FILE *out, const struct command *cmd)
{
	char words[64];

	command_words(words, sizeof(words), cmd);
	fprintf(out, "usage: ipcctl [-s SOCKET] [--json] %s%s%s\n", words,
		cmd->usage[0] ? " " : "", cmd->usage);
}

static int usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct command *cmd, const char *fmt, ...)
{
	char words[64];
	va_list ap;

	fputs("ipcctl: ", stderr);
	if (cmd) {
		command_words(words, sizeof(words), cmd);
		fprintf(stderr, "%s: ", words);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		print_command_usage(stderr, cmd);
	else
		fputs("Try 'ipcctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

static const struct opt_spec *find_option(const char *arg, const char **value)
{
	size_t len;

	*value = NULL;
	if (arg[1] != '-') {
		for (size_t i = 0; i < NOPTIONS; i++)
			if (options[i].short_name && arg[1] == options[i].short_name) {
				if (arg[2])
					*value = arg + 2;   /* -sPATH */
				return options[i].has_arg || !arg[2] ? &options[i] : NULL;
			}
		return NULL;
	}
	arg += 2;
	len = strcspn(arg, "=");
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strlen(options[i].name) == len && strncmp(arg, options[i].name, len) == 0) {
			if (arg[len] == '=')
				*value = arg + len + 1;
			return options[i].has_arg || !*value ? &options[i] : NULL;
		}
	return NULL;
}

static int number_error(const char *opt, const char *value, int r)
{
	fprintf(stderr, "ipcctl: --%s: %s '%s'\nTry 'ipcctl --help'.\n", opt,
		r == -ERANGE ? "out of range:" : "not a valid number:", value);
	return CTL_EXIT_USAGE;
}

static int apply_option(struct ctl *ctl, struct cmdline *cl, const struct opt_spec *o,
			const char *value)
{
	uint64_t v;
	int r = 0;

	switch (o->id) {
	case O_SOCKET:
		ctl->socket = value;
		break;
	case O_JSON:
		ctl->json = 1;
		break;
	case O_HELP:
		cl->help = 1;
		break;
	case O_VERSION:
		cl->version = 1;
		break;
	case O_TIMEOUT:
		r = ctl_parse_timeout(value, &ctl->timeout_ms);
		cl->timeout_given = 1;
		break;
	case O_CREATE:
		ctl->create = 1;
		break;
	case O_MAXSIZE:
		r = ctl_parse_u64(value, &v);
		if (r == 0 && v > SIZE_MAX)
			r = -ERANGE;
		ctl->attr.maxsize = (size_t)v;
		break;
	case O_MAXBYTES:
		r = ctl_parse_size(value, &v);
		if (r == 0 && v > SIZE_MAX)
			r = -ERANGE;
		ctl->attr.maxbytes = (size_t)v;
		break;
	case O_MODE:
		r = ctl_parse_mode(value, &ctl->attr.mode);
		break;
	case O_ACK:
		ctl->attr.ack = 1;
		break;
	case O_DURABLE:
		ctl->attr.durable = 1;
		break;
	case O_INTERVAL:
		r = ctl_parse_seconds(value, &ctl->interval_ms);
		break;
	case O_COUNT:
		r = ctl_parse_u64(value, &v);
		if (r == 0 && v > ULONG_MAX)
			r = -ERANGE;
		ctl->count = (unsigned long)v;
		break;
	}
	if (r < 0)
		return number_error(o->name, value, r);
	return 0;
}

/*
 * Read argv into cl and ctl: options anywhere, operands in order.  An
 * argument is an option when it starts with '-' and a letter, so negative
 * numbers ("queue put q -5") are operands; "--" ends the options.
 */
static int read_cmdline(int argc, char **argv, struct ctl *ctl, struct cmdline *cl)
{
	int only_operands = 0;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value;
		const struct opt_spec *o;

		if (only_operands || arg[0] != '-' || arg[1] == '\0' ||
		    (arg[1] >= '0' && arg[1] <= '9')) {
			cl->words[cl->nwords++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_operands = 1;
			continue;
		}
		o = find_option(arg, &value);
		if (!o)
			return usage_error(NULL, "unknown option '%s'", arg);
		if (o->has_arg && !value) {
			if (i + 1 == argc)
				return usage_error(NULL, "option '%s' needs a value", arg);
			value = argv[++i];
		}
		for (int b = 0; b < NOPT_BITS; b++)
			if (o->cmd_opt == 1u << b && !cl->first_opt[b])
				cl->first_opt[b] = arg;
		cl->opts_seen |= o->cmd_opt;
		if (apply_option(ctl, cl, o, value) != 0)
			return CTL_EXIT_USAGE;
	}
	return 0;
}

/*
 * The entry for the command words, and how many words it took (*used).
 * NULL when there is none, after saying why unless quiet.
 */
static const struct command *find_command(char **words, int nwords, int quiet, int *used)
{
	int is_group = 0;

	if (nwords == 0) {
		if (quiet)
			return NULL;
		usage_error(NULL, "no command given");
		return NULL;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *cmd = &commands[i];

		if (!cmd->group && strcmp(cmd->name, words[0]) == 0) {
			*used = 1;
			return cmd;
		}
		if (cmd->group && strcmp(cmd->group, words[0]) == 0) {
			is_group = 1;
			if (nwords > 1 && strcmp(cmd->name, words[1]) == 0) {
				*used = 2;
				return cmd;
			}
		}
	}
	if (quiet)
		return NULL;
	if (!is_group)
		usage_error(NULL, "unknown command '%s'", words[0]);
	else if (nwords == 1)
		usage_error(NULL, "%s: missing subcommand", words[0]);
	else
		usage_error(NULL, "unknown command '%s'", words[1]);
	return NULL;
}

/* The gate: the command's operand count and options. */
static int check_command(const struct command *cmd, const struct cmdline *cl, int nargs)
{
	unsigned extra = cl->opts_seen & ~cmd->opts;

	for (int b = 0; b < NOPT_BITS; b++)
		if (extra & 1u << b)
			return usage_error(cmd, "option '%s' does not apply here", cl->first_opt[b]);
	if (nargs < cmd->min_args)
		return usage_error(cmd, "missing operand");
	if (nargs > cmd->max_args)
		return usage_error(cmd, "too many operands ('%s')", cl->words[cl->nwords - 1]);
	return 0;
}

static int run(int argc, char **argv)
{
	struct ctl ctl = { .interval_ms = 1000 };
	struct cmdline cl = { 0 };
	const struct command *cmd;
	char what[64];
	int used = 0, rc;

	cl.words = calloc((size_t)argc + 1, sizeof(*cl.words));
	if (!cl.words) {
		fputs("ipcctl: out of memory\n", stderr);
		return CTL_EXIT_FAIL;
	}
	rc = read_cmdline(argc, argv, &ctl, &cl);
	if (rc != 0)
		goto out;
	if (cl.version && !cl.help) {
		printf("ipcctl %s\n", IPC_CLIENT_VERSION);
		goto out;
	}
	cmd = find_command(cl.words, cl.nwords, cl.help, &used);
	if (cl.help) {
		if (cmd) {
			print_command_usage(stdout, cmd);
			printf("%s\n", cmd->help);
		} else {
			print_usage(stdout);
		}
		goto out;
	}
	rc = CTL_EXIT_USAGE;
	if (!cmd)
		goto out;
	rc = check_command(cmd, &cl, cl.nwords - used);
	if (rc != 0)
		goto out;
	command_words(what, sizeof(what), cmd);
	ctl.what = what;
	ctl.args = cl.words + used;
	ctl.nargs = cl.nwords - used;
	if (!cl.timeout_given)
		ctl.timeout_ms = cmd->timeout_ms;
	rc = cmd->run(&ctl);
	if (ctl.client)
		ipc_disconnect(ctl.client);
out:
	free(cl.words);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = run(argc, argv);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("ipcctl: writing the output");
		return CTL_EXIT_FAIL;
	}
	return rc;
}
