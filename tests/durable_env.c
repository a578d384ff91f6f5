/*
 * durable_env.c - the world of a durable-state test (see durable_env.h).
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable_env.h"

struct harness h;
char state[DURABLE_PATH_MAX];     /* the state directory */
char errlog[DURABLE_PATH_MAX];    /* the daemon's stderr */
const ipc_queue_attr durable = { .durable = 1 };

void durable_setup(void)
{
	harness_setup(&h);
	harness_path(&h, "state", state, sizeof state);
	harness_path(&h, "ipcd.err", errlog, sizeof errlog);
}

void durable_teardown(void)
{
	harness_cleanup(&h);
}

void durable_start(const char *policy)
{
	const char *argv[] = { harness_ipcd_bin(), "-s", h.sock, "--state-dir", state,
			       "--fsync", policy, "--log-level", "info", NULL };

	h.pid = spawn_logged(argv, errlog, NULL);
	if (harness_wait_socket(h.sock, HARNESS_HANG_MS) < 0) {
		harness_kill(&h);
		ck_abort_msg("ipcd did not start on %s", state);
	}
}

bool durable_logged(const char *s)
{
	return harness_file_has(errlog, s);
}

void durable_log_path(char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/q-1.log", state);
	ck_assert_msg(access(out, F_OK) == 0, "no log %s", out);
}

off_t durable_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}
