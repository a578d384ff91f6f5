/*
 * ring_env.c - what the ring tests share (see ring_env.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring_env.h"

const ipc_queue_attr by_socket = { .noring = 1 };

/* Put the decimal i. */
int put_num(ipc_queue *q, long i, int timeout_ms)
{
	char buf[32];

	return ipc_queue_put(q, buf, (size_t)snprintf(buf, sizeof buf, "%ld", i), timeout_ms);
}

/* The decimal number a message starts with. */
long num_of(const struct iovec *v)
{
	char buf[32];
	size_t len = v->iov_len < sizeof buf - 1 ? v->iov_len : sizeof buf - 1;

	memcpy(buf, v->iov_base, len);
	buf[len] = 0;
	return strtol(buf, NULL, 10);
}

/* Get a decimal number, or a negative errno. */
long get_num(ipc_queue *q, int timeout_ms)
{
	char buf[32];
	void *data;
	size_t len;
	int rc = ipc_queue_get(q, &data, &len, timeout_ms);

	if (rc < 0)
		return rc;
	/* A large message has its number first, then spaces. */
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, data, len);
	buf[len] = 0;
	free(data);
	return strtol(buf, NULL, 10);
}

/* A mapping of a ring in this process (a forked child's and its parent's of one queue show the same memory). */
struct ipc_ring_hdr *find_ring(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	void *found = NULL;

	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "memfd:ipcd-ring"))
			sscanf(line, "%p", &found);
	if (f)
		fclose(f);
	return found;
}
