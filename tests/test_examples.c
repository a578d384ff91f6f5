/*
 * test_examples.c - the example programs, each run against a real ipcd in
 * a temporary directory, their output compared with what the tutorial's
 * Python printed (pids and times matched by shape), and the daemon left
 * with no object they made.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "ipcclient.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
	harness_start(&h, NULL);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

#define MAX_CAPTURES 4

/*
 * Does text match pattern exactly?  In pattern, "<PID>" stands for a
 * decimal number (captured in pids[], at most MAX_CAPTURES) and "<TIME>"
 * for a decimal fraction; everything else is literal.
 */
static int matches(const char *pattern, const char *text, long pids[MAX_CAPTURES], int *npids)
{
	*npids = 0;
	while (*pattern) {
		if (strncmp(pattern, "<PID>", 5) == 0) {
			char *end;
			long v;

			if (!isdigit((unsigned char)*text) || *npids == MAX_CAPTURES)
				return 0;
			v = strtol(text, &end, 10);
			pids[(*npids)++] = v;
			text = end;
			pattern += 5;
		} else if (strncmp(pattern, "<TIME>", 6) == 0) {
			const char *start = text;

			while (isdigit((unsigned char)*text) || *text == '.' || *text == 'e' ||
			       *text == '-')
				text++;
			if (text == start)
				return 0;
			pattern += 6;
		} else if (*pattern++ != *text++) {
			return 0;
		}
	}
	return *text == '\0';
}

/* The number of objects ipcd lists. */
static long count_objects(void)
{
	ipc_client *c = NULL;
	msgpack_unpacked u;
	void *mp;
	size_t len, off = 0;
	long n = -1;

	ck_assert_int_eq(ipc_connect(h.sock, &c), 0);
	ck_assert_int_eq(ipc_server_list(c, &mp, &len), 0);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY)
		n = (long)u.data.via.array.size;
	msgpack_unpacked_destroy(&u);
	free(mp);
	ipc_disconnect(c);
	return n;
}

/*
 * Run the example name and check its output against pattern (see matches)
 * and its exit status; the pids captured are returned in pids.
 */
static void run_example(const char *name, const char *pattern, long pids[MAX_CAPTURES],
			int *npids)
{
	char path[512];
	const char *argv[] = { path, NULL };
	char *out;
	int status;

	snprintf(path, sizeof path, "%s/%s", EXAMPLES_DIR, name);
	status = harness_run(h.sock, argv, &out, HARNESS_HANG_MS);
	ck_assert_msg(status != -1, "%s did not finish in 20 s; printed:\n%s", name, out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s failed (status 0x%x); printed:\n%s", name, status, out);
	ck_assert_msg(matches(pattern, out, pids, npids), "%s printed:\n%s\nwant:\n%s", name, out,
		      pattern);
	free(out);
	/* Queues unlinked, anonymous pipes gone with their ends. */
	ck_assert_msg(count_objects() == 0, "%s left objects in ipcd", name);
}

START_TEST(test_process_object_prints_both_pids)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("process_object", "Main process PID: <PID>\nChild process PID: <PID>\n", pids,
		    &n);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(pids[0] > 0 && pids[1] > 0 && pids[0] != pids[1],
		      "main pid %ld, child pid %ld", pids[0], pids[1]);
}
END_TEST

START_TEST(test_squares_global_parent_sees_nothing)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("squares_global",
		    "cuadrado:  0\ncuadrado:  1\ncuadrado:  4\ncuadrado:  9\ncuadrado:  16\n"
		    "cuadrado:  25\ncuadrado:  36\ncuadrado:  49\ncuadrado:  64\ncuadrado:  81\n"
		    "Tiempo de ejecución:  <TIME>\n"
		    "Resultado operación:  []\n"
		    "Finaliza ejecución\n", pids, &n);
}
END_TEST

START_TEST(test_array_squares_shared_with_parent)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("array_squares",
		    "Resultado del proceso:  [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n"
		    "Resultado fuera del proceso [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n"
		    "Leído a través de ipcd [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n"
		    "Tiempo de ejecución:  <TIME>\n"
		    "Finaliza la ejecución\n", pids, &n);
}
END_TEST

START_TEST(test_value_double_set_by_child)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("value_double",
		    "Resultado del proceso:  [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n"
		    "Resultado fuera del proceso [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n"
		    "Resultado fuera del proceso 5.35\n"
		    "Tiempo de ejecución:  <TIME>\n"
		    "Finaliza la ejecución\n", pids, &n);
}
END_TEST

START_TEST(test_pipe_hello_prints_list)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("pipe_hello", "['hello world']\n", pids, &n);
}
END_TEST

START_TEST(test_pipe_duplex_exchange)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("pipe_duplex", "Sent from the main process\nSent from the child process\n",
		    pids, &n);
}
END_TEST

START_TEST(test_pipe_names_until_end)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("pipe_names", "Carlos\nRenata\nRebeca\nSandra\n", pids, &n);
}
END_TEST

START_TEST(test_queue_hello_prints_list)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("queue_hello", "[42, None, 'hello']\n", pids, &n);
}
END_TEST

START_TEST(test_queue_squares_drained)
{
	long pids[MAX_CAPTURES];
	int n;

	run_example("queue_squares", "0\n1\n4\n9\n16\n25\n36\n49\n64\n81\n", pids, &n);
}
END_TEST

static Suite *examples_suite(void)
{
	Suite *s = suite_create("examples");
	TCase *tc = harness_tcase(s, "tutorial", 60, setup, teardown);

	tcase_add_test(tc, test_process_object_prints_both_pids);
	tcase_add_test(tc, test_squares_global_parent_sees_nothing);
	tcase_add_test(tc, test_array_squares_shared_with_parent);
	tcase_add_test(tc, test_value_double_set_by_child);
	tcase_add_test(tc, test_pipe_hello_prints_list);
	tcase_add_test(tc, test_pipe_duplex_exchange);
	tcase_add_test(tc, test_pipe_names_until_end);
	tcase_add_test(tc, test_queue_hello_prints_list);
	tcase_add_test(tc, test_queue_squares_drained);
	return s;
}

int main(void)
{
	return harness_main(examples_suite());
}
