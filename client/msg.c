/*
 * msg.c - the message encoding convention, for C programs that share
 * queues and pipes with ipcctl and other bindings: a message is one
 * msgpack value.  ipcd itself never looks inside a message; these helpers
 * write and read the scalar values by hand, so the public API carries no
 * msgpack type and no program needs msgpack-c to use them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ipcclient.h"

/* Big-endian stores and loads of n bytes. */
static void put_be(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A header (hlen bytes in hdr) then len bytes of data into buf, if it fits. */
static ssize_t emit(void *buf, size_t cap, const unsigned char *hdr, size_t hlen,
		    const void *data, size_t len)
{
	size_t need = hlen + len;

	if (need <= cap && buf) {
		memcpy(buf, hdr, hlen);
		if (len)
			memcpy((unsigned char *)buf + hlen, data, len);
	}
	return (ssize_t)need;
}

/* The header of a str (bin false) or bin of len bytes: its size. */
static size_t bytes_header(unsigned char *h, size_t len, bool bin)
{
	if (!bin && len < 32) {
		h[0] = (unsigned char)(0xa0 | len);
		return 1;
	}
	if (len <= 0xff) {
		h[0] = bin ? 0xc4 : 0xd9;
		h[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		h[0] = bin ? 0xc5 : 0xda;
		put_be(h + 1, len, 2);
		return 3;
	}
	h[0] = bin ? 0xc6 : 0xdb;
	put_be(h + 1, len, 4);
	return 5;
}

ssize_t ipc_msg_pack_str(void *buf, size_t cap, const char *s, size_t len)
{
	unsigned char h[5];

	if ((!s && len) || len > UINT32_MAX)
		return -EINVAL;
	return emit(buf, cap, h, bytes_header(h, len, false), s, len);
}

ssize_t ipc_msg_pack_bin(void *buf, size_t cap, const void *data, size_t len)
{
	unsigned char h[5];

	if ((!data && len) || len > UINT32_MAX)
		return -EINVAL;
	return emit(buf, cap, h, bytes_header(h, len, true), data, len);
}

ssize_t ipc_msg_pack_int(void *buf, size_t cap, int64_t v)
{
	unsigned char h[9];
	size_t n;

	/* The shortest form, as msgpack-c and Python's msgpack write it. */
	if (v >= 0 && v < 128) {
		h[0] = (unsigned char)v;
		n = 1;
	} else if (v < 0 && v >= -32) {
		h[0] = (unsigned char)(int8_t)v;
		n = 1;
	} else if (v >= 0) {
		uint64_t u = (uint64_t)v;
		unsigned w = u <= 0xff ? 1 : u <= 0xffff ? 2 : u <= 0xffffffffu ? 4 : 8;

		h[0] = w == 1 ? 0xcc : w == 2 ? 0xcd : w == 4 ? 0xce : 0xcf;
		put_be(h + 1, u, w);
		n = 1 + w;
	} else {
		unsigned w = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 4 : 8;

		h[0] = w == 1 ? 0xd0 : w == 2 ? 0xd1 : w == 4 ? 0xd2 : 0xd3;
		put_be(h + 1, (uint64_t)v, w);
		n = 1 + w;
	}
	return emit(buf, cap, h, n, NULL, 0);
}

ssize_t ipc_msg_pack_double(void *buf, size_t cap, double v)
{
	unsigned char h[9];
	uint64_t bits;

	memcpy(&bits, &v, sizeof bits);
	h[0] = 0xcb;
	put_be(h + 1, bits, 8);
	return emit(buf, cap, h, sizeof h, NULL, 0);
}

int ipc_msg_unpack_str(const void *msg, size_t len, const char **s, size_t *slen)
{
	const unsigned char *p = msg;
	size_t hl, n;

	if (!msg || !s || !slen || len < 1)
		return -EBADMSG;
	if ((p[0] & 0xe0) == 0xa0) {
		hl = 1;
		n = p[0] & 0x1f;
	} else if (p[0] == 0xd9 || p[0] == 0xc4) {
		hl = 2;
	} else if (p[0] == 0xda || p[0] == 0xc5) {
		hl = 3;
	} else if (p[0] == 0xdb || p[0] == 0xc6) {
		hl = 5;
	} else {
		return -EBADMSG;
	}
	if (len < hl)
		return -EBADMSG;
	if (hl > 1)
		n = (size_t)get_be(p + 1, (unsigned)hl - 1);
	/* Exactly one value: nothing before or after it. */
	if (len - hl != n)
		return -EBADMSG;
	*s = (const char *)p + hl;
	*slen = n;
	return 0;
}

int ipc_msg_unpack_int(const void *msg, size_t len, int64_t *v)
{
	const unsigned char *p = msg;
	unsigned w;

	if (!msg || !v || len < 1)
		return -EBADMSG;
	if (p[0] < 0x80 || p[0] >= 0xe0) {
		if (len != 1)
			return -EBADMSG;
		*v = (int8_t)p[0];
		return 0;
	}
	switch (p[0]) {
	case 0xcc: case 0xd0: w = 1; break;
	case 0xcd: case 0xd1: w = 2; break;
	case 0xce: case 0xd2: w = 4; break;
	case 0xcf: case 0xd3: w = 8; break;
	default: return -EBADMSG;
	}
	if (len != 1 + w)
		return -EBADMSG;
	if (p[0] <= 0xcf) {
		uint64_t u = get_be(p + 1, w);

		if (u > INT64_MAX)
			return -ERANGE;
		*v = (int64_t)u;
	} else {
		uint64_t u = get_be(p + 1, w);

		/* Sign-extend the w-byte two's complement value. */
		if (w < 8 && (u >> (8 * w - 1)))
			u |= ~0ull << (8 * w);
		*v = (int64_t)u;
	}
	return 0;
}

int ipc_msg_unpack_double(const void *msg, size_t len, double *v)
{
	const unsigned char *p = msg;
	int64_t i;

	if (!msg || !v || len < 1)
		return -EBADMSG;
	if (p[0] == 0xcb && len == 9) {
		uint64_t bits = get_be(p + 1, 8);

		memcpy(v, &bits, sizeof *v);
		return 0;
	}
	if (p[0] == 0xca && len == 5) {
		uint32_t bits = (uint32_t)get_be(p + 1, 4);
		float f;

		memcpy(&f, &bits, sizeof f);
		*v = f;
		return 0;
	}
	/* An integer reads as a number too: JSON's 2 and 2.0 are one value. */
	if (ipc_msg_unpack_int(msg, len, &i) == 0) {
		*v = (double)i;
		return 0;
	}
	return -EBADMSG;
}
