/*
 * test_process.c - the process object: start, join (exit codes, signals,
 * timeouts), terminate, is_alive, stdio and atexit hygiene in the child,
 * and the child's own named connection as ipcctl clients shows it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

static int return_arg(void *arg)
{
	return (int)(long)arg;
}

static int sleep_long(void *arg)
{
	/* Check's runner handles SIGTERM by killing its process group; forks inherit that. */
	signal(SIGTERM, SIG_DFL);
	sleep(30);
	return 0;
}

static int raise_signal(void *arg)
{
	raise((int)(long)arg);
	return 0;
}

START_TEST(test_join_gives_exit_code)
{
	ipc_process p = { .target = return_arg, .arg = (void *)7L };

	ck_assert_ipc(ipc_process_start(&p), 0);
	ck_assert_int_gt(p.pid, 0);
	ck_assert_int_ne(p.pid, getpid());
	ck_assert_int_eq(p.exitcode, IPC_EXITCODE_NONE);
	ck_assert_ipc(ipc_process_join(&p, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(p.exitcode, 7);
	/* Joining again changes nothing. */
	ck_assert_ipc(ipc_process_join(&p, 0), 0);
	ck_assert_int_eq(p.exitcode, 7);
	ck_assert_ipc(ipc_process_is_alive(&p), 0);
}
END_TEST

/* A "subclass": run gets the embedding struct. */
struct counter_process {
	ipc_process base;
	int start;
};

static int counter_run(ipc_process *self)
{
	struct counter_process *cp = (struct counter_process *)self;

	/* In the child, pid is the child's own. */
	return self->pid == getpid() ? cp->start + 1 : 100;
}

START_TEST(test_run_gets_embedding_struct)
{
	struct counter_process cp = { .base = { .run = counter_run, .target = return_arg },
				      .start = 41 };

	ck_assert_ipc(ipc_process_start(&cp.base), 0);
	ck_assert_ipc(ipc_process_join(&cp.base, IPC_FOREVER), 0);
	ck_assert_int_eq(cp.base.exitcode, 42);
}
END_TEST

START_TEST(test_killed_child_exitcode_is_minus_signal)
{
	ipc_process p = { .target = raise_signal, .arg = (void *)(long)SIGKILL };
	ipc_process q = { .target = raise_signal, .arg = (void *)(long)SIGUSR1 };

	ck_assert_ipc(ipc_process_start(&p), 0);
	ck_assert_ipc(ipc_process_start(&q), 0);
	ck_assert_ipc(ipc_process_join(&p, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(p.exitcode, -SIGKILL);
	ck_assert_ipc(ipc_process_join(&q, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(q.exitcode, -SIGUSR1);
}
END_TEST

START_TEST(test_join_times_out_on_sleeping_child)
{
	ipc_process p = { .target = sleep_long };
	int64_t t0;

	ck_assert_ipc(ipc_process_start(&p), 0);
	ck_assert_ipc(ipc_process_join(&p, 0), -ETIMEDOUT);
	t0 = harness_now_ms();
	ck_assert_ipc(ipc_process_join(&p, 300), -ETIMEDOUT);
	ck_assert_int_ge(harness_now_ms() - t0, 290);
	ck_assert_int_lt(harness_now_ms() - t0, HARNESS_HANG_MS);
	ck_assert_int_eq(p.exitcode, IPC_EXITCODE_NONE);
	ck_assert_ipc(ipc_process_is_alive(&p), 1);
	/* Starting it again while it runs is refused. */
	ck_assert_ipc(ipc_process_start(&p), -EBUSY);

	ck_assert_ipc(ipc_process_terminate(&p), 0);
	ck_assert_ipc(ipc_process_join(&p, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(p.exitcode, -SIGTERM);
	ck_assert_ipc(ipc_process_is_alive(&p), 0);
	/* Once it ended, terminate never signals the (maybe reused) pid. */
	ck_assert_ipc(ipc_process_terminate(&p), 0);
}
END_TEST

START_TEST(test_bad_arguments)
{
	ipc_process none = { 0 };

	ck_assert_ipc(ipc_process_start(NULL), -EINVAL);
	ck_assert_ipc(ipc_process_start(&none), -EINVAL);
	ck_assert_ipc(ipc_process_join(&none, 0), -EINVAL);
	ck_assert_ipc(ipc_process_terminate(&none), -EINVAL);
	ck_assert_ipc(ipc_process_is_alive(&none), 0);
	ck_assert_ipc(ipc_process_is_alive(NULL), -EINVAL);
}
END_TEST

/* stdio: what the parent buffered before start is written once, by it. */
static int print_child(void *arg)
{
	printf("child\n");
	return 0;
}

static char atexit_path[512];

static void atexit_mark(void)
{
	int fd = open(atexit_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

	if (fd >= 0) {
		dprintf(fd, "%d\n", (int)getpid());
		close(fd);
	}
}

START_TEST(test_child_flushes_nothing_twice_nor_runs_atexit)
{
	ipc_process p = { .target = print_child };
	char path[512], buf[256];
	struct stat st;
	ssize_t n;
	int fd, saved;

	harness_path(&h, "out", path, sizeof path);
	harness_path(&h, "atexit", atexit_path, sizeof atexit_path);
	atexit(atexit_mark);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	/* A file is fully buffered: "parent" waits in the buffer at the fork. */
	setvbuf(stdout, NULL, _IOFBF, 4096);
	printf("parent\n");
	ck_assert_ipc(ipc_process_start(&p), 0);
	ck_assert_ipc(ipc_process_join(&p, HARNESS_HANG_MS), 0);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	ck_assert_int_eq(p.exitcode, 0);

	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "parent\nchild\n");
	ck_assert_msg(stat(atexit_path, &st) < 0 && errno == ENOENT,
		      "the parent's atexit handler ran in the child");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The child's own connection, by pid and name */

struct worker {
	ipc_process base;
	ipc_queue *ready, *go;
};

static int worker_run(ipc_process *self)
{
	struct worker *w = (struct worker *)self;
	void *msg;
	size_t len;

	/* The parent's handles: the library opens the child's own connection. */
	if (ipc_queue_put(w->ready, "up", 2, HARNESS_HANG_MS) < 0)
		return 1;
	if (ipc_queue_get(w->go, &msg, &len, HARNESS_HANG_MS) < 0)
		return 2;
	free(msg);
	return 0;
}

/* Does ipcctl clients list a client with pid and name (in its text table)? */
static int ipcctl_lists(pid_t pid, const char *name)
{
	const char *argv[] = { IPCCTL_BIN, "-s", h.sock, "clients", NULL };
	char *out, *line, *save = NULL, spid[32];
	int status, found = 0;

	status = harness_run(NULL, argv, &out, HARNESS_HANG_MS);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "ipcctl clients failed:\n%s", out);
	snprintf(spid, sizeof spid, " %d ", (int)pid);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, spid) && strstr(line, name))
			found = 1;
	free(out);
	return found;
}

START_TEST(test_ipcctl_clients_shows_child_by_pid_and_name)
{
	struct worker w = { .base = { .run = worker_run, .name = "worker-7" } };
	ipc_client *c = NULL;
	void *msg;
	size_t len;
	int64_t end;

	harness_start(&h, NULL);
	ck_assert_ipc(ipc_connect(h.sock, &c), 0);
	ck_assert_ipc(ipc_queue_open(c, "ready", IPC_CREATE, NULL, &w.ready), 0);
	ck_assert_ipc(ipc_queue_open(c, "go", IPC_CREATE, NULL, &w.go), 0);
	ck_assert_ipc(ipc_process_start(&w.base), 0);
	ck_assert_ipc(ipc_queue_get(w.ready, &msg, &len, HARNESS_HANG_MS), 0);
	free(msg);

	ck_assert_msg(ipcctl_lists(w.base.pid, "worker-7"),
		      "ipcctl clients does not list pid %d as worker-7", (int)w.base.pid);
	/* The parent keeps its own name. */
	ck_assert_msg(!ipcctl_lists(getpid(), "worker-7"), "the parent took the child's name");

	ck_assert_ipc(ipc_queue_put(w.go, "go", 2, HARNESS_HANG_MS), 0);
	ck_assert_ipc(ipc_process_join(&w.base, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(w.base.exitcode, 0);
	end = harness_now_ms() + HARNESS_HANG_MS;
	while (ipcctl_lists(w.base.pid, "worker-7") && harness_now_ms() < end)
		harness_sleep_ms(20);
	ck_assert_msg(!ipcctl_lists(w.base.pid, "worker-7"),
		      "ipcctl clients still lists the child after it exited");

	/* A client may rename itself at any time. */
	ck_assert_ipc(ipc_client_set_name(c, "parent-renamed"), 0);
	ck_assert_msg(ipcctl_lists(getpid(), "parent-renamed"), "the new name is not listed");
	ipc_queue_close(w.ready);
	ipc_queue_close(w.go);
	ipc_disconnect(c);
}
END_TEST

static Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc = harness_tcase(s, "process", 60, setup, teardown);

	tcase_add_test(tc, test_join_gives_exit_code);
	tcase_add_test(tc, test_run_gets_embedding_struct);
	tcase_add_test(tc, test_killed_child_exitcode_is_minus_signal);
	tcase_add_test(tc, test_join_times_out_on_sleeping_child);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_child_flushes_nothing_twice_nor_runs_atexit);
	tcase_add_test(tc, test_ipcctl_clients_shows_child_by_pid_and_name);
	return s;
}

int main(void)
{
	return harness_main(process_suite());
}
