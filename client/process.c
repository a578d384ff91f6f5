/*
 * process.c - the process object: start (fork and run), join with a
 * timeout, terminate, is_alive.
 *
 * The child leaves with _exit, after flushing only what it wrote itself
 * (the parent flushed its stdio before the fork), so no buffer is written
 * twice and no atexit handler of the parent runs in it.  It names the
 * connections it makes to ipcd after the process.  join waits on a pidfd
 * where the kernel has them, else polls waitpid with short sleeps.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Record the end of p from its wait status. */
static void process_ended(ipc_process *p, int status)
{
	if (WIFSIGNALED(status))
		p->exitcode = -WTERMSIG(status);
	else
		p->exitcode = WEXITSTATUS(status);
}

/* waitpid without blocking: 1 reaped (*status set), 0 running, or -errno. */
static int reap(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == pid;
}

/* Wait until pid can be reaped or deadline passes: 0, -ETIMEDOUT, or -errno. */
static int wait_exit(pid_t pid, int64_t deadline)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc;

		for (;;) {
			int64_t left = deadline - io_now_ms();

			if (left <= 0) {
				rc = -ETIMEDOUT;
				break;
			}
			rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
			if (rc > 0) {
				rc = 0;
				break;
			}
			if (rc < 0 && errno != EINTR) {
				rc = -errno;
				break;
			}
		}
		close(fd);
		return rc;
	}
#endif
	/* No pidfd (an older kernel): poll waitpid, sleeping 1 ms up to 20 ms. */
	for (int nap = 1;; nap = nap < 20 ? nap * 2 : 20) {
		int64_t left = deadline - io_now_ms();
		siginfo_t si = { 0 };

		/* Peek without reaping, so that the caller's reap finds it. */
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR)
			return -errno;
		if (si.si_pid == pid)
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		sleep_ms(left < nap ? (int)left : nap);
	}
}

int ipc_process_start(ipc_process *p)
{
	pid_t pid;

	if (!p || (!p->run && !p->target))
		return -EINVAL;
	if (p->pid > 0 && p->exitcode == IPC_EXITCODE_NONE)
		return -EBUSY;
	/* What is buffered now is the parent's to write, once. */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int rc;

		p->pid = getpid();
		p->exitcode = IPC_EXITCODE_NONE;
		if (p->name)
			client_set_process_name(p->name);
		rc = p->run ? p->run(p) : p->target(p->arg);
		fflush(NULL);
		_exit(rc & 0xff);
	}
	p->pid = pid;
	p->exitcode = IPC_EXITCODE_NONE;
	return 0;
}

int ipc_process_join(ipc_process *p, int timeout_ms)
{
	int status, rc;

	if (!p || p->pid <= 0)
		return -EINVAL;
	if (p->exitcode != IPC_EXITCODE_NONE)
		return 0;
	rc = reap(p->pid, &status);
	if (rc == 0 && timeout_ms != 0) {
		if (timeout_ms < 0) {
			pid_t r;

			do
				r = waitpid(p->pid, &status, 0);
			while (r < 0 && errno == EINTR);
			rc = r < 0 ? -errno : 1;
		} else {
			rc = wait_exit(p->pid, io_now_ms() + timeout_ms);
			if (rc == 0)
				rc = reap(p->pid, &status);
		}
	}
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ETIMEDOUT;
	process_ended(p, status);
	return 0;
}

int ipc_process_terminate(ipc_process *p)
{
	if (!p || p->pid <= 0)
		return -EINVAL;
	/* Once reaped, the pid may belong to another process: leave it alone. */
	if (p->exitcode != IPC_EXITCODE_NONE)
		return 0;
	return kill(p->pid, SIGTERM) < 0 ? -errno : 0;
}

int ipc_process_is_alive(ipc_process *p)
{
	int status, rc;

	if (!p)
		return -EINVAL;
	if (p->pid <= 0 || p->exitcode != IPC_EXITCODE_NONE)
		return 0;
	rc = reap(p->pid, &status);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return 1;
	process_ended(p, status);
	return 0;
}
