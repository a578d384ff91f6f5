/*
 * metrics.c - the /metrics endpoint: an evhttp server on ipcd's own event
 * loop (no thread), the body shared by the scrapes that come close together,
 * and the fsync latency histogram.
 *
 * A scrape must never stall the daemon's clients.  The body is built in
 * memory in one pass over the objects (metrics_text.c), at most once per
 * METRICS_REUSE_MS and at most once per ten times the previous build's
 * duration: scrapes in between get the same bytes, so a flood of scrapes
 * costs one build per interval and building never takes more than a tenth
 * of the loop's time.  evhttp writes it asynchronously
 * by reference, without copying; at most METRICS_MAX_PENDING responses are
 * being written at once (more get 503), so the memory a slow scraper pins is
 * bounded too.  A client that sends nothing, or stops reading, is dropped by
 * evhttp's timeout (METRICS_TIMEOUT_S), releasing its share of the body.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "metrics.h"
#include "server.h"

#define METRICS_REUSE_MS 1000     /* scrapes within this share one body */
#define METRICS_MAX_PENDING 16    /* responses being written at once */
#define METRICS_TIMEOUT_S 10      /* a connection idle, or not reading, this long is dropped */

/* One rendering of the figures, shared by the responses that carry it. */
struct body {
	struct metrics *m;
	unsigned refs;               /* the cache's, plus one per response being written */
	size_t len;
	char text[];
};

struct metrics {
	struct server *srv;
	struct evhttp *http;         /* NULL while off */
	struct evhttp_bound_socket *bound;
	char *addr;                  /* what was configured (owned), NULL while off */
	char address[64];            /* what is served, port resolved */
	struct sockaddr_storage bound_sa;  /* the same as a socket address */
	socklen_t bound_len;
	struct body *cache;          /* the latest body, or NULL */
	int64_t cache_ms;            /* when it was built, monotonic */
	unsigned pending;            /* responses being written */
	size_t last_len;             /* the previous body's length: the next one's first guess */
	uint64_t last_build_ns;      /* how long building the previous body took */
	struct metrics_histogram fsync;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void metrics_histogram_observe(struct metrics_histogram *h, double seconds)
{
	static const double bounds[] = METRICS_HIST_BOUNDS;
	int i = 0;

	while (i < METRICS_HIST_NBOUNDS && seconds > bounds[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += seconds;
}

void metrics_fsync_observe(struct server *srv, double seconds)
{
	if (srv && srv->metrics)
		metrics_histogram_observe(&srv->metrics->fsync, seconds);
}

const struct metrics_histogram *metrics_fsync_histogram(const struct metrics *m)
{
	return &m->fsync;
}

unsigned metrics_pending(const struct metrics *m)
{
	return m->pending;
}

double metrics_last_build(const struct metrics *m)
{
	return (double)m->last_build_ns / 1e9;
}

const char *metrics_address(const struct metrics *m)
{
	return m && m->http ? m->address : NULL;
}

/* ------------------------------------------------------------------------ */
/* Addresses */

/*
 * Parse addr into sa: "IPv4:PORT", "[IPv6]:PORT" or "localhost:PORT".  The
 * port must be given (0 for any).  0, or -EINVAL with the reason in err.
 */
static int parse_addr(const char *addr, struct sockaddr_storage *sa, int *salen,
		      char *err, size_t errlen)
{
	const char *colon = strrchr(addr, ':');
	char buf[80];
	char *end;
	unsigned long port;

	if (!colon || colon == addr || !colon[1] || (addr[0] != '[' && strchr(addr, ':') != colon) ||
	    (addr[0] == '[' && colon[-1] != ']')) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT (an IPv4 address, [IPv6] or localhost, "
			 "then a port)", addr);
		return -EINVAL;
	}
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] < '0' || colon[1] > '9' || port > 65535) {
		snprintf(err, errlen, "'%s' is not a port number", colon + 1);
		return -EINVAL;
	}
	/* evutil takes no port 0: parse the host alone, then set the port. */
	if (strncmp(addr, "localhost:", 10) == 0)
		snprintf(buf, sizeof buf, "127.0.0.1");
	else
		snprintf(buf, sizeof buf, "%.*s", (int)(colon - addr), addr);
	*salen = (int)sizeof *sa;
	memset(sa, 0, sizeof *sa);
	if ((size_t)(colon - addr) >= sizeof buf ||
	    evutil_parse_sockaddr_port(buf, (struct sockaddr *)sa, salen) < 0) {
		snprintf(err, errlen, "'%.*s' is not an IPv4 address, [IPv6] or localhost",
			 (int)(colon - addr), addr);
		return -EINVAL;
	}
	if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	return 0;
}

int metrics_addr_check(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	int salen;

	return parse_addr(addr, &sa, &salen, err, errlen);
}

/* "a.b.c.d:port" or "[v6]:port" of a bound socket. */
static void format_bound(int fd, char *out, size_t len)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	char host[64] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
		snprintf(out, len, "?");
		return;
	}
	if (sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa;

		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa;

		evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	}
}

/* Does addr name the address m serves now (its port resolved)? */
static bool same_address(const struct metrics *m, const char *addr)
{
	struct sockaddr_storage sa;
	char err[128];
	int salen;

	if (parse_addr(addr, &sa, &salen, err, sizeof err) < 0 || (socklen_t)salen != m->bound_len)
		return false;
	/* Port 0 asks for a new port: never the one served. */
	return memcmp(&sa, &m->bound_sa, m->bound_len) == 0;
}

/* A listening TCP socket on addr, or a negative errno with err. */
static int listen_on(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	int salen, fd, one = 1;

	if (parse_addr(addr, &sa, &salen, err, errlen) < 0)
		return -EINVAL;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, (socklen_t)salen) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

/* ------------------------------------------------------------------------ */
/* Bodies */

static void body_unref(struct body *b)
{
	if (--b->refs == 0)
		free(b);
}

/* evbuffer's cleanup of a response's reference: written, or its connection gone. */
static void body_sent_cb(const void *data, size_t len, void *arg)
{
	struct body *b = arg;

	b->m->pending--;
	body_unref(b);
}

/* The body for a scrape now: the cached one if recent, else a new one.  NULL: no memory. */
static struct body *body_get(struct metrics *m)
{
	int64_t start = now_ns(), now = start / 1000000;
	size_t cap = m->last_len + m->last_len / 4 + 4096, len = offsetof(struct body, text);
	char *buf;
	struct body *b;

	/* At most one build a second, and building takes at most a tenth of the time. */
	if (m->cache && now - m->cache_ms < METRICS_REUSE_MS)
		return m->cache;
	if (m->cache && (uint64_t)(now - m->cache_ms) * 1000000 < 10 * m->last_build_ns)
		return m->cache;
	buf = malloc(cap);
	if (!buf)
		return NULL;
	/* The text is rendered after the header, so the one block becomes the body. */
	if (metrics_render(m->srv, &buf, &len, &cap) < 0) {
		free(buf);
		return NULL;
	}
	m->last_build_ns = (uint64_t)(now_ns() - start);
	b = (struct body *)buf;
	b->m = m;
	b->refs = 1;
	b->len = len - offsetof(struct body, text);
	m->last_len = b->len;
	if (m->cache)
		body_unref(m->cache);
	m->cache = b;
	m->cache_ms = now;
	return b;
}

/* ------------------------------------------------------------------------ */
/* Requests */

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct body *b;

	if (path && strcmp(path, "/") == 0) {
		evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
		evbuffer_add_printf(out, "ipcd %s: the figures are at /metrics\n", IPCD_VERSION);
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
		return;
	}
	if (!path || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found: the figures are at /metrics");
		return;
	}
	if (m->pending >= METRICS_MAX_PENDING) {
		evhttp_add_header(headers, "Retry-After", "1");
		evhttp_send_error(req, HTTP_SERVUNAVAIL, "Too many scrapes in progress");
		return;
	}
	b = body_get(m);
	if (!b || evbuffer_add_reference(out, b->text, b->len, body_sent_cb, b) < 0) {
		evhttp_send_error(req, HTTP_INTERNAL, "Out of memory");
		return;
	}
	b->refs++;
	m->pending++;
	evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

/* ------------------------------------------------------------------------ */
/* The endpoint */

struct metrics *metrics_create(struct server *srv)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (m)
		m->srv = srv;
	return m;
}

/* Stop serving: close the listener and every connection (their references go). */
static void metrics_off(struct metrics *m)
{
	if (m->http)
		evhttp_free(m->http);
	m->http = NULL;
	m->bound = NULL;
	free(m->addr);
	m->addr = NULL;
}

int metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen)
{
	struct timeval tv = { METRICS_TIMEOUT_S, 0 };
	struct evhttp *http;
	char *copy;
	int fd = -ENOMEM;

	if (!addr && !m->addr)
		return 0;
	if (addr && m->addr && strcmp(addr, m->addr) == 0)
		return 0;
	if (!addr) {
		metrics_off(m);
		return 1;
	}
	copy = strdup(addr);
	http = evhttp_new(m->srv->base);
	if (!copy || !http) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/*
	 * The address served under another spelling ("localhost:9464" for
	 * "127.0.0.1:9464"): free it first, or the new bind finds it in use.
	 */
	if (m->http && same_address(m, addr)) {
		evhttp_free(m->http);
		m->http = NULL;
	}
	fd = listen_on(addr, err, errlen);
	if (fd < 0)
		goto fail;
	evhttp_set_timeout_tv(http, &tv);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(http, 16384);
	evhttp_set_max_body_size(http, 4096);
	evhttp_set_gencb(http, request_cb, m);
	m->bound = evhttp_accept_socket_with_handle(http, fd);
	if (!m->bound) {
		snprintf(err, errlen, "cannot serve %s", addr);
		close(fd);
		fd = -ENOMEM;
		goto fail;
	}
	format_bound(fd, m->address, sizeof m->address);
	m->bound_len = sizeof m->bound_sa;
	if (getsockname(fd, (struct sockaddr *)&m->bound_sa, &m->bound_len) < 0)
		m->bound_len = 0;
	if (m->http)
		evhttp_free(m->http);
	free(m->addr);
	m->http = http;
	m->addr = copy;
	return 1;
fail:
	if (http)
		evhttp_free(http);
	free(copy);
	if (!m->http) {
		/* The old endpoint went to free its port and could not come back. */
		free(m->addr);
		m->addr = NULL;
	}
	return fd;
}

void metrics_destroy(struct metrics *m)
{
	if (!m)
		return;
	metrics_off(m);
	/* Every response's reference went with its connection. */
	if (m->cache)
		body_unref(m->cache);
	free(m);
}
