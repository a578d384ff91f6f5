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
	OPT_ATTR    = 1u << 2,   /* --maxsize, --maxbytes, --mode, --ack, --durable, --replicas,
				    --noring */
	OPT_INTERVAL = 1u << 3,
	OPT_COUNT   = 1u << 4,
	OPT_BYTES   = 1u << 5,   /* --raw, --hex: commands that put or print messages */
};
#define NOPT_BITS 6

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
	{ NULL, "help", 0, 2, 0, 0, NULL, "[COMMAND]",
	  "this list, or how to use COMMAND" },
	{ "config", "show", 0, 0, 0, 0, ctl_admin_config, "",
	  "the settings in force, whether each can change live, and where it came from" },
	{ "config", "set", 2, 2, 0, 0, ctl_admin_config_set, "SETTING VALUE",
	  "change a live setting now (log-level, the limits); root and ipcd's user" },
	{ "client", "kill", 1, 1, 0, 0, ctl_admin_client_kill, "ID",
	  "end a client's connection; what it held is given back as if it died" },
	{ NULL, "monitor", 0, 0, OPT_TIMEOUT, IPC_FOREVER, ctl_admin_monitor, "[--timeout MS]",
	  "print every request other clients make, as it happens; root and ipcd's user" },
	{ "queue", "create", 1, 1, OPT_ATTR, 0, ctl_queue_create,
	  "NAME [--maxsize N] [--maxbytes SIZE] [--mode OCTAL] [--ack] [--durable] [--replicas N]"
	  " [--noring]",
	  "create a queue; fails if it exists" },
	{ "queue", "put", 2, 2, OPT_TIMEOUT | OPT_CREATE | OPT_ATTR | OPT_BYTES, IPC_FOREVER,
	  ctl_queue_put,
	  "NAME MESSAGE [--raw|--hex] [--timeout MS] [--create [--maxsize N] [--maxbytes SIZE] "
	  "[--mode OCTAL]]",
	  "put a JSON value, as msgpack (or bytes: --raw, --hex); waits while the queue is full" },
	{ "queue", "get", 1, 1, OPT_TIMEOUT | OPT_BYTES, IPC_NOWAIT, ctl_queue_get,
	  "NAME [--raw|--hex] [--timeout MS]",
	  "take the oldest message and print it as JSON (on an ack queue, then task_done)" },
	{ "queue", "join", 1, 1, OPT_TIMEOUT, IPC_FOREVER, ctl_queue_join,
	  "NAME [--timeout MS]",
	  "wait until every message put was got (and, with ack, acknowledged)" },
	{ "queue", "peek", 1, 1, OPT_BYTES, 0, ctl_queue_peek, "NAME [--raw|--hex]",
	  "print the oldest message without taking it" },
	{ "queue", "stat", 1, 1, 0, 0, ctl_queue_stat, "NAME",
	  "the queue's attributes and counters" },
	{ "queue", "purge", 1, 1, 0, 0, ctl_queue_purge, "NAME",
	  "drop every message" },
	{ "queue", "rm", 1, 1, 0, 0, ctl_queue_rm, "NAME",
	  "remove the queue and its messages" },
	{ "pipe", "send", 3, 3, OPT_TIMEOUT | OPT_BYTES, IPC_FOREVER, ctl_pipe_send,
	  "NAME END MESSAGE [--raw|--hex] [--timeout MS]",
	  "send from end 0 or 1 (ipcctl then holds that end, and closes it at exit)" },
	{ "pipe", "recv", 2, 2, OPT_TIMEOUT | OPT_BYTES, IPC_NOWAIT, ctl_pipe_recv,
	  "NAME END [--raw|--hex] [--timeout MS]",
	  "receive at end 0 or 1 and print the message (holding and closing the end likewise)" },
	{ "pipe", "stat", 1, 1, 0, 0, ctl_pipe_stat, "NAME",
	  "the pipe's ends: who holds each, what waits in it" },
	{ "pipe", "rm", 1, 1, 0, 0, ctl_pipe_rm, "NAME",
	  "remove a named pipe (a leaked one too); its holders read end of file" },
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
	      O_MAXSIZE, O_MAXBYTES, O_MODE, O_ACK, O_DURABLE, O_REPLICAS, O_NORING, O_INTERVAL,
	      O_COUNT, O_RAW, O_HEX };

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
	{ O_REPLICAS, "replicas", 0,   1, OPT_ATTR },
	{ O_NORING,   "noring",   0,   0, OPT_ATTR },
	{ O_INTERVAL, "interval", 'i', 1, OPT_INTERVAL },
	{ O_COUNT,    "count",    'n', 1, OPT_COUNT },
	{ O_RAW,      "raw",      0,   0, OPT_BYTES },
	{ O_HEX,      "hex",      0,   0, OPT_BYTES },
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
	      "  -s, --socket PATH  ipcd's socket (default: $IPCD_SOCKET alone when set, else\n"
	      "                     $XDG_RUNTIME_DIR/ipcd.sock (not for root), then the\n"
	      "                     system's /run/ipcd/ipcd.sock)\n"
	      "  -j, --json         print JSON, one value per line; failures too (on stderr)\n"
	      "  -t, --timeout MS   how long put, get, send and recv wait (-1: no limit)\n"
	      "      --raw, --hex   messages as bytes: as typed and printed, or in hex\n"
	      "  -i, --interval S   seconds between two lines of stat, two screens of top\n"
	      "  -n, --count N      lines stat prints (default: until interrupted)\n"
	      "  -h, --help         this help;  -V, --version  the version\n\n"
	      "Sizes take a K, M or G suffix (1K = 1024).  A message is one msgpack value:\n"
	      "put stores the JSON given as msgpack ('\"hi\"' is the bytes a2 68 69), get prints\n"
	      "it as JSON; bytes that are not one msgpack value print as a string, byte by\n"
	      "byte (Latin-1).  --raw and --hex put and print the bytes themselves.\n\n"
	      "Exit status: 0 done; 1 ipcd refused or could not do it; 2 usage error (nothing\n"
	      "was sent); 3 get, peek or recv found no message in time, or join timed out;\n"
	      "4 ipcd could not be reached.\n",
	      out);
}

static void print_command_usage(FILE *out, const struct command *cmd)
{
	char words[64];

	command_words(words, sizeof(words), cmd);
	fprintf(out, "usage: ipcctl [-s SOCKET] [--json] %s%s%s\n", words,
		cmd->usage[0] ? " " : "", cmd->usage);
}

/* --json was given: usage errors are reported as JSON, without the usage text. */
static int json_errors;

static int usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct command *cmd, const char *fmt, ...)
{
	char words[64], what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (cmd)
		command_words(words, sizeof(words), cmd);
	ctl_report(NULL, CTL_EXIT_USAGE, 0, "%s%s%s", cmd ? words : "", cmd ? ": " : "", what);
	if (json_errors)
		return CTL_EXIT_USAGE;
	if (cmd)
		print_command_usage(stderr, cmd);
	else
		fputs("Try 'ipcctl help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

/* Edits (insert, delete, replace, swap two neighbours) from a to b, up to 9. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[24][24];

	if (la > 22 || lb > 22)
		return 9;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/*
 * The command words closest to what was typed (word, in group, or among
 * single words and groups when group is NULL), into buf; "" when nothing
 * is close (more than a third of the word's letters, at least 1, away).
 */
static void suggest(const char *group, const char *word, char *buf, size_t len)
{
	int best = (int)strlen(word) / 3 + 1;

	buf[0] = '\0';
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *cmd = &commands[i];
		const char *cand;
		int d;

		if (group)
			cand = cmd->group && strcmp(cmd->group, group) == 0 ? cmd->name : NULL;
		else
			cand = cmd->group ? cmd->group : cmd->name;
		if (!cand || (d = distance(word, cand)) > best || (d == best && buf[0]))
			continue;
		best = d;
		snprintf(buf, len, "%s%s%s", group ? group : "", group ? " " : "", cand);
	}
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
	case O_REPLICAS:
		r = ctl_parse_u64(value, &v);
		if (r == 0 && v > 5)
			r = -ERANGE;
		ctl->attr.replicas = (unsigned)v;
		break;
	case O_NORING:
		ctl->attr.noring = 1;
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
	case O_RAW:
		ctl->raw = 1;
		break;
	case O_HEX:
		ctl->hex = 1;
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
	const struct command *show = NULL;
	char hint[96], near[64];
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
			if (strcmp(cmd->name, "show") == 0)
				show = cmd;
		}
	}
	/* A group alone shows ("ipcctl config"), when it can. */
	if (is_group && show && nwords == 1) {
		*used = 1;
		return show;
	}
	if (quiet)
		return NULL;
	suggest(is_group ? words[0] : NULL, is_group && nwords > 1 ? words[1] : words[0],
		near, sizeof near);
	hint[0] = '\0';
	if (near[0])
		snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
	if (!is_group)
		usage_error(NULL, "unknown command '%s'%s", words[0], hint);
	else if (nwords == 1)
		usage_error(NULL, "%s: missing subcommand (ipcctl help lists them)", words[0]);
	else
		usage_error(NULL, "unknown command '%s %s'%s", words[0], words[1], hint);
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
	char **words = calloc((size_t)argc + 1, sizeof(*words));

	if (!words) {
		fputs("ipcctl: out of memory\n", stderr);
		return CTL_EXIT_FAIL;
	}
	cl.words = words;
	/* --json anywhere makes every failure JSON, those found while reading options too. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json_errors = 1;
	ctl_report_json(json_errors);
	rc = read_cmdline(argc, argv, &ctl, &cl);
	if (rc != 0)
		goto out;
	if (cl.version && !cl.help) {
		printf("ipcctl %s\n", IPC_CLIENT_VERSION);
		goto out;
	}
	/* "ipcctl help [COMMAND]" is "ipcctl [COMMAND] --help". */
	if (cl.nwords > 0 && strcmp(cl.words[0], "help") == 0) {
		cl.help = 1;
		cl.words++;
		cl.nwords--;
	}
	cmd = find_command(cl.words, cl.nwords, cl.help, &used);
	if (cl.help) {
		if (!cmd && cl.nwords > 0) {
			cmd = find_command(cl.words, cl.nwords, 0, &used);
			rc = CTL_EXIT_USAGE;
			if (!cmd)
				goto out;
			rc = 0;
		}
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
	if (ctl.raw && ctl.hex) {
		rc = usage_error(cmd, "--raw and --hex exclude each other");
		goto out;
	}
	rc = cmd->run(&ctl);
	if (ctl.client)
		ipc_disconnect(ctl.client);
out:
	free(words);
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
