/*
 * main.c - ipcd's entry point: read the command line and the configuration
 * file, build the server, run the loop.  The settings' options come from
 * config.c's table; only the options that are not settings live here.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipc_protocol.h"
#include "log.h"
#include "server.h"

/* Options that are not settings; getopt values below 256 are their letters. */
static const struct option cli_only[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "check-config", no_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
};
#define NCLI_ONLY (sizeof cli_only / sizeof cli_only[0])
#define OPT_KEY 256                  /* getopt value of config_keys[i]: OPT_KEY + i */

/* One option's line(s) of --help: the name at column 2, the help at column 28. */
static void usage_option(FILE *f, char short_name, const char *name, const char *arg,
			 const char *help, const char *dflt)
{
	char head[64];
	int n;

	if (short_name)
		n = snprintf(head, sizeof head, "  -%c, --%s%s%s", short_name, name,
			     arg ? " " : "", arg ? arg : "");
	else
		n = snprintf(head, sizeof head, "      --%s%s%s", name, arg ? " " : "",
			     arg ? arg : "");
	fprintf(f, "%-*s", 28, head);
	if (n >= 28)
		fprintf(f, "\n%28s", "");
	for (const char *p = help; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%28s", "");
	}
	if (dflt) {
		const char *last = strrchr(help, '\n');
		size_t col = 28 + strlen(last ? last + 1 : help);

		if (col + strlen(" (default )") + strlen(dflt) > 79)
			fprintf(f, "\n%27s", "");
		fprintf(f, " (default %s)", dflt);
	}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	struct config defaults;
	char dflt[64];

	config_init(&defaults);
	fprintf(f, "Usage: ipcd [OPTION]...\n"
		"The ipcd IPC broker: queues and pipes for local processes, served in the\n"
		"foreground.\n\n");
	usage_option(f, 'c', "config", "FILE", "read settings from FILE; a missing default file\n"
		     "is fine", IPCD_CONFIG_FILE);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		config_format(&defaults, k, dflt, sizeof dflt);
		usage_option(f, k->short_name, k->name, k->arg, k->help,
			     k->type == CONFIG_PATH ? NULL : dflt);
	}
	usage_option(f, 'v', "verbose", NULL, "one log level more per use", NULL);
	usage_option(f, 0, "check-config", NULL, "read the configuration (the file and the\n"
		     "options given), say what is wrong with it and\nexit 1, or exit 0; serve nothing", NULL);
	usage_option(f, 'h', "help", NULL, "show this help and exit", NULL);
	usage_option(f, 'V', "version", NULL, "show the version and exit", NULL);
	fprintf(f, "\nBYTES and N take an optional K, M or G suffix (powers of 1024).  Every\n"
		"setting can also be given in the configuration file as 'name = value'; the\n"
		"command line wins.  SIGHUP re-reads the file.  See ipcd(8), ipcd.conf(5).\n");
}

int main(int argc, char **argv)
{
	struct option opts[32 + NCLI_ONLY + 1];
	char shorts[2 * 32 + 16] = "c:vhV";
	struct config_source src = { .file = IPCD_CONFIG_FILE };
	struct config cfg;
	struct server *srv;
	char err[512];
	size_t nopts = 0, ns = strlen(shorts);
	bool check_only = false;
	int opt, rc;

	/*
	 * Queued messages live in mapped chunks (msgstore.c); the heap holds
	 * buffers that come and go with every batch.  Keep 1 MiB above its top
	 * when glibc trims it, or it shrinks and grows again (brk, page faults)
	 * many times a second under streaming load.
	 */
#ifdef M_TOP_PAD
	mallopt(M_TOP_PAD, 1 << 20);
#endif

	/* The option table: the settings, then the rest. */
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		opts[nopts++] = (struct option){ k->name, required_argument, NULL, OPT_KEY + (int)i };
		if (k->short_name) {
			shorts[ns++] = k->short_name;
			shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	for (size_t i = 0; i < NCLI_ONLY; i++)
		opts[nopts++] = cli_only[i];
	opts[nopts] = (struct option){ 0 };

	config_init(&src.cli);
	while ((opt = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		const struct config_key *k = NULL;

		switch (opt) {
		case 'c':
			src.file = optarg;
			src.file_required = true;
			continue;
		case 'v':
			src.verbose++;
			continue;
		case 'C':
			check_only = true;
			continue;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("ipcd %s (protocol %d)\n", IPCD_VERSION, IPC_PROTO_VERSION);
			rc = 0;
			goto out;
		case '?':
			fprintf(stderr, "Try 'ipcd --help'.\n");
			rc = 2;
			goto out;
		}
		if (opt >= OPT_KEY)
			k = &config_keys[opt - OPT_KEY];
		for (size_t i = 0; !k && i < config_nkeys; i++)
			if (config_keys[i].short_name == opt)
				k = &config_keys[i];
		if (config_set(&src.cli, k, optarg, err, sizeof err) < 0) {
			fprintf(stderr, "ipcd: --%s: %s\n", k->name, err);
			rc = 2;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcd: unexpected argument '%s'\nTry 'ipcd --help'.\n", argv[optind]);
		rc = 2;
		goto out;
	}
	if (config_build(&src, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "ipcd: %s\n", err);
		rc = 1;
		goto out;
	}
	if (check_only) {
		/* ExecReload runs this first: a bad file fails the reload, with its reason. */
		if (access(src.file, F_OK) == 0)
			printf("ipcd: %s: the configuration is valid\n", src.file);
		else
			printf("ipcd: no file %s: the defaults and the options are valid\n",
			       src.file);
		config_free(&cfg);
		rc = 0;
		goto out;
	}
	log_set_level(cfg.log_level);
	srv = server_create(&cfg, &src);
	config_free(&cfg);
	rc = srv ? server_run(srv) : 1;
	server_destroy(srv);
out:
	config_free(&src.cli);
	return rc;
}
