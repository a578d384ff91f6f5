/*
 * ctl_top.c - ipcctl top: a live full-screen view of the queues by rate,
 * drawn with plain ANSI escapes on the terminal's alternate screen, the
 * terminal in non-canonical mode without echo.
 *
 * The terminal is given back as it was on every way out: q, Ctrl-C
 * (SIGINT), SIGTERM, SIGHUP, an error, and around a suspension (Ctrl-Z).
 * Signals only set flags; the loop, woken from poll() by them, acts.  A
 * resize (SIGWINCH) redraws at the new size.  A daemon that stops
 * answering is shown on the status line, and the view carries on asking.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl_watch.h"

/* What the rows can be sorted by, with the key that picks it. */
enum top_sort { SORT_IN, SORT_OUT, SORT_DEPTH, SORT_INFLIGHT, SORT_CONSUMERS, SORT_REDO, SORT_NAME };

static const struct top_column {
	const char *title;
	int width;
	char key;
} columns[] = {
	[SORT_IN] = { "IN/S", 9, 'i' },
	[SORT_OUT] = { "OUT/S", 9, 'o' },
	[SORT_DEPTH] = { "DEPTH", 10, 'd' },
	[SORT_INFLIGHT] = { "IN FLIGHT", 10, 'f' },
	[SORT_CONSUMERS] = { "CONSUMERS", 10, 'c' },
	[SORT_REDO] = { "REDELIV/S", 10, 'r' },
	[SORT_NAME] = { "QUEUE", 0, 'n' },
};

#define NCOLUMNS (sizeof columns / sizeof columns[0])

static volatile sig_atomic_t got_quit, got_winch, got_tstp;

static void top_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_quit = 1;
}

struct top {
	struct termios saved;        /* the terminal as it was */
	int raw;                     /* the terminal is in our mode */
	int rows, cols;
	enum top_sort sort;
	char status[160];            /* the last error, shown at the bottom; "" when fine */
	char *frame;                 /* the screen being built */
	size_t len, cap;
};

static void put(struct top *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct top *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->frame + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < t->cap - t->len)
			break;
		{
			size_t cap = (t->cap ? t->cap * 2 : 8192) + (size_t)n;
			char *p = realloc(t->frame, cap);

			if (!p)
				return;
			t->frame = p;
			t->cap = cap;
		}
	}
	t->len += (size_t)n;
}

/* Write all of buf to the terminal. */
static void emit(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void term_size(struct top *t)
{
	struct winsize ws;

	t->rows = 24;
	t->cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	}
}

/* Non-canonical, no echo (signals stay on: Ctrl-C is SIGINT); the alternate screen. */
static int term_enter(struct top *t)
{
	struct termios raw = t->saved;
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";

	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return -errno;
	t->raw = 1;
	emit(enter, sizeof enter - 1);
	term_size(t);
	return 0;
}

/* Cursor shown, main screen back, the terminal's modes as they were. */
static void term_leave(struct top *t)
{
	static const char leave[] = "\033[0m\033[?25h\033[?1049l";

	if (!t->raw)
		return;
	emit(leave, sizeof leave - 1);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->raw = 0;
}

static double sort_value(const struct watch_queue *q, enum top_sort s)
{
	switch (s) {
	case SORT_IN: return q->in_rate;
	case SORT_OUT: return q->out_rate;
	case SORT_DEPTH: return (double)q->depth;
	case SORT_INFLIGHT: return (double)q->inflight;
	case SORT_CONSUMERS: return (double)q->consumers;
	case SORT_REDO: return q->redelivered_rate;
	case SORT_NAME: break;
	}
	return 0;
}

static enum top_sort sort_by;

/* Largest first; by name among equals (and for SORT_NAME), so rows keep still. */
static int compare_rows(const void *a, const void *b)
{
	const struct watch_queue *x = *(const struct watch_queue *const *)a;
	const struct watch_queue *y = *(const struct watch_queue *const *)b;
	double vx = sort_value(x, sort_by), vy = sort_value(y, sort_by);

	if (vx != vy)
		return vx < vy ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void format_uptime(uint64_t s, char *buf, size_t len)
{
	if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

/* One line, cut to the screen's width, erasing what was there before. */
static void line(struct top *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(struct top *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > t->cols)
		n = t->cols;
	if ((size_t)n >= sizeof buf)
		n = (int)sizeof buf - 1;
	put(t, "%.*s\033[K\r\n", n, buf);
}

/* The column titles, cut to the width, the sorted one in reverse video. */
static void header(struct top *t, int name_w)
{
	char head[512];
	int n, start = 0, end = name_w;

	n = snprintf(head, sizeof head, "%-*s", name_w, columns[SORT_NAME].title);
	for (size_t i = 0; i < SORT_NAME && n < (int)sizeof head; i++) {
		if (t->sort == (enum top_sort)i) {
			start = n + 1;
			end = start + columns[i].width;
		}
		n += snprintf(head + n, sizeof head - (size_t)n, " %*s", columns[i].width,
			      columns[i].title);
	}
	if (n > (int)sizeof head - 1)
		n = (int)sizeof head - 1;
	if (n > t->cols)
		n = t->cols;
	if (end > n)
		end = n;
	if (start > n)
		start = n;
	put(t, "%.*s\033[7m%.*s\033[27m%.*s\033[K\r\n", start, head, end - start, head + start,
	    n - end, head + end);
}

static void draw(struct top *t, const char *where, struct watch_sample *s)
{
	char mem[16], max[16], up[48], in[16], out[16], redo[16];
	const struct watch_queue **rows;
	int name_w = t->cols - 4, shown;

	for (size_t i = 0; i < NCOLUMNS; i++)
		name_w -= columns[i].width + (columns[i].width ? 1 : 0);
	if (name_w > 48)
		name_w = 48;
	if (name_w < 8)
		name_w = 8;
	t->len = 0;
	put(t, "\033[H");
	watch_format_bytes(s->memory, mem, sizeof mem);
	watch_format_bytes(s->max_memory, max, sizeof max);
	format_uptime(s->uptime, up, sizeof up);
	line(t, "ipcd %s at %s, up %s", s->version, where, up);
	line(t, "%" PRIu64 " clients, %" PRIu64 " objects, %zu queues, memory %s%s%s", s->clients,
	     s->objects, s->nqueues, mem, s->max_memory ? " of " : "", s->max_memory ? max : "");
	watch_format_rate(s->in_rate, in, sizeof in);
	watch_format_rate(s->out_rate, out, sizeof out);
	watch_format_rate(s->redelivered_rate, redo, sizeof redo);
	line(t, "all queues: %s in/s, %s out/s, %s redelivered/s", s->rated ? in : "-",
	     s->rated ? out : "-", s->rated ? redo : "-");
	line(t, "%s", "");
	header(t, name_w);
	/* Rows in the order asked for; the sample stays sorted by name for the next rates. */
	rows = s->nqueues ? malloc(s->nqueues * sizeof *rows) : NULL;
	for (size_t i = 0; rows && i < s->nqueues; i++)
		rows[i] = &s->queues[i];
	sort_by = t->sort;
	if (rows)
		qsort(rows, s->nqueues, sizeof *rows, compare_rows);
	shown = 0;
	for (size_t i = 0; rows && i < s->nqueues && shown < t->rows - 7; i++, shown++) {
		const struct watch_queue *q = rows[i];

		watch_format_rate(q->in_rate, in, sizeof in);
		watch_format_rate(q->out_rate, out, sizeof out);
		watch_format_rate(q->redelivered_rate, redo, sizeof redo);
		line(t, "%-*.*s %9s %9s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10s", name_w,
		     name_w, q->name, s->rated ? in : "-", s->rated ? out : "-", q->depth,
		     q->inflight, q->consumers, s->rated ? redo : "-");
	}
	free(rows);
	if ((size_t)shown < s->nqueues)
		line(t, "... %zu more", s->nqueues - (size_t)shown);
	put(t, "\033[J");
	/* The bottom line: keys, or what went wrong. */
	put(t, "\033[%d;1H", t->rows);
	if (t->status[0])
		put(t, "\033[7m%.*s\033[27m\033[K\r\n", t->cols, t->status);
	else
		line(t, "sort: i in/s  o out/s  d depth  f in flight  c consumers  r redelivered/s"
		     "  n name   q quit");
	/* No newline after the last line: the screen would scroll. */
	if (t->len >= 2 && t->frame[t->len - 2] == '\r')
		t->len -= 2;
	emit(t->frame, t->len);
}

/* Act on the keys typed; 1 to quit. */
static int read_keys(struct top *t)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

	/* The terminal went away (hung up: end of file, or EIO). */
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		return 1;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == 'q' || buf[i] == 'Q')
			return 1;
		for (size_t c = 0; c < NCOLUMNS; c++)
			if (buf[i] == columns[c].key)
				t->sort = (enum top_sort)c;
	}
	return 0;
}

/* Ctrl-Z: give the terminal back, stop, and take it again when continued. */
static void suspend(struct top *t)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, mine = { .sa_handler = top_signal };

	term_leave(t);
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&mine.sa_mask);
	sigaction(SIGTSTP, &dfl, NULL);
	raise(SIGTSTP);
	/* Continued. */
	sigaction(SIGTSTP, &mine, NULL);
	term_enter(t);
}

int ctl_top(struct ctl *ctl)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP };
	struct sigaction sa = { .sa_handler = top_signal };
	struct watch_sample prev = { 0 }, now = { 0 };
	struct top t = { .sort = SORT_IN };
	const char *where = ctl->socket ? ctl->socket : getenv("IPCD_SOCKET");
	ipc_client *c;
	int64_t next;
	int r;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "ipcctl: top needs a terminal; 'ipcctl stat -i SECONDS' prints lines\n");
		return CTL_EXIT_USAGE;
	}
	c = ctl_connect(ctl);
	if (!c)
		return CTL_EXIT_FAIL;
	if (!where || !where[0])
		where = "the default socket";
	if (tcgetattr(STDIN_FILENO, &t.saved) < 0) {
		perror("ipcctl: top: the terminal");
		return CTL_EXIT_FAIL;
	}
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal wakes poll() below. */
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	r = term_enter(&t);
	if (r < 0) {
		fprintf(stderr, "ipcctl: top: cannot set the terminal's mode: %s\n", strerror(-r));
		return CTL_EXIT_FAIL;
	}
	next = watch_now_ms();
	while (!got_quit) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int64_t wait = next - watch_now_ms();
		int redraw = 0;

		if (wait <= 0) {
			next = watch_now_ms() + ctl->interval_ms;
			r = watch_take(c, &now);
			if (r < 0) {
				snprintf(t.status, sizeof t.status, "ipcd does not answer: %s; asking again",
					 ipc_strerror(r));
				/* The figures shown stay the last ones taken. */
				draw(&t, where, &prev);
				continue;
			}
			t.status[0] = '\0';
			watch_rate(&now, &prev);
			watch_clear(&prev);
			prev = now;
			memset(&now, 0, sizeof now);
			redraw = 1;
			wait = ctl->interval_ms;
		}
		if (!redraw && poll(&p, 1, (int)wait) > 0) {
			if (read_keys(&t))
				break;
			redraw = 1;
		}
		if (got_tstp) {
			got_tstp = 0;
			suspend(&t);
			redraw = 1;
		}
		if (got_winch) {
			got_winch = 0;
			term_size(&t);
			emit("\033[2J", 4);
			redraw = 1;
		}
		if (redraw)
			draw(&t, where, &prev);
	}
	term_leave(&t);
	watch_clear(&prev);
	free(t.frame);
	return CTL_EXIT_OK;
}
