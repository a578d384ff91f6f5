/*
 * ctl_array.c - ipcctl's shared-array commands: create, get, set, stat, rm.
 *
 * ipcctl never maps an array: it opens with IPC_NOMAP and reads and writes
 * through ipcd (under the array's lock, so a get waits while another
 * process holds it).  Values print one per line, or as one JSON list with
 * --json; floats in the fewest digits that read back to the same float or
 * double, so what `set` stored, `get` prints the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_parse.h"
#include "ipc_protocol.h"

/* One element of any typecode. */
union elem {
	int8_t b;
	uint8_t B;
	int16_t h;
	uint16_t H;
	int32_t i;
	uint32_t I;
	int64_t q;
	uint64_t Q;
	float f;
	double d;
};

/* Open the array named by the first operand without mapping it, or report why not. */
static ipc_array *open_array(struct ctl *ctl, int flags, char tc, size_t length, int *rc)
{
	ipc_client *c = ctl_connect(ctl);
	ipc_array *a = NULL;
	int r;

	*rc = CTL_EXIT_CONNECT;
	if (!c)
		return NULL;
	*rc = CTL_EXIT_FAIL;
	r = ipc_array_open(c, ctl->args[0], flags | IPC_NOMAP, tc, length, &a);
	if (r < 0) {
		ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
		return NULL;
	}
	*rc = CTL_EXIT_OK;
	return a;
}

/* Parse a number operand; on failure say which and return -1. */
static int number_operand(struct ctl *ctl, const char *what, const char *s, uint64_t *out)
{
	int r = ctl_parse_u64(s, out);

	if (r == 0 && *out <= SIZE_MAX)
		return 0;
	ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: %s '%s' is not a count from 0 to %zu",
		   ctl->what, ctl->args[0], what, s, (size_t)SIZE_MAX);
	return -1;
}

int ctl_array_create(struct ctl *ctl)
{
	uint64_t length;
	ipc_array *a;
	int rc;

	if (strlen(ctl->args[1]) != 1 || !ipc_typecode_size((unsigned char)ctl->args[1][0])) {
		return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: bad typecode '%s': use one of %s",
				  ctl->what, ctl->args[0], ctl->args[1], IPC_TYPECODE_LIST);
	}
	if (number_operand(ctl, "length", ctl->args[2], &length) < 0)
		return CTL_EXIT_USAGE;
	if (ctl->attr.maxsize || ctl->attr.maxbytes || ctl->attr.ack || ctl->attr.replicas) {
		return ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: arrays take only --mode and "
				  "--durable", ctl->what, ctl->args[0]);
	}
	a = open_array(ctl, IPC_CREATE | IPC_EXCLUSIVE | (ctl->attr.durable ? IPC_DURABLE : 0),
		       ctl->args[1][0], (size_t)length, &rc);
	if (!a)
		return rc;
	/* The library creates arrays 0600; another mode is set right after. */
	if (ctl->attr.mode) {
		int r = ipc_chmod(ctl->client, ctl->args[0], ctl->attr.mode);

		if (r < 0)
			rc = ctl_fail(ctl, r, "%s %s: --mode", ctl->what, ctl->args[0]);
	}
	ipc_array_close(a);
	return rc;
}

/* Print a float in the fewest digits that read back as the same float. */
static void format_float(char *buf, size_t len, double v, int single)
{
	if (!isfinite(v)) {
		snprintf(buf, len, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
			return;
	}
}

/* The text of element e of typecode tc; NaN and infinities as null in JSON. */
static void format_elem(char *buf, size_t len, char tc, const union elem *e, int json)
{
	switch (tc) {
	case 'b': snprintf(buf, len, "%d", e->b); return;
	case 'B': snprintf(buf, len, "%u", e->B); return;
	case 'h': snprintf(buf, len, "%d", e->h); return;
	case 'H': snprintf(buf, len, "%u", e->H); return;
	case 'i': snprintf(buf, len, "%" PRId32, e->i); return;
	case 'I': snprintf(buf, len, "%" PRIu32, e->I); return;
	case 'l': case 'q': snprintf(buf, len, "%" PRId64, e->q); return;
	case 'L': case 'Q': snprintf(buf, len, "%" PRIu64, e->Q); return;
	}
	if (json && !isfinite(tc == 'f' ? e->f : e->d)) {
		snprintf(buf, len, "null");
		return;
	}
	format_float(buf, len, tc == 'f' ? e->f : e->d, tc == 'f');
}

int ctl_array_get(struct ctl *ctl)
{
	uint64_t start = 0, count;
	size_t length, itemsize;
	unsigned char *buf;
	ipc_array *a;
	char tc;
	int r, rc;

	if (ctl->nargs > 1 && number_operand(ctl, "start", ctl->args[1], &start) < 0)
		return CTL_EXIT_USAGE;
	if (ctl->nargs > 2 && number_operand(ctl, "count", ctl->args[2], &count) < 0)
		return CTL_EXIT_USAGE;
	a = open_array(ctl, 0, 0, 0, &rc);
	if (!a)
		return rc;
	length = ipc_array_length(a);
	tc = ipc_array_typecode(a);
	itemsize = ipc_typecode_size((unsigned char)tc);
	if (ctl->nargs <= 2)
		count = start <= length ? length - start : 0;
	if (start > length || count > length - start) {
		rc = ctl_report(ctl, CTL_EXIT_FAIL, -ERANGE, "%s %s: elements %" PRIu64 " to %"
				PRIu64 " are outside the array of length %zu", ctl->what,
				ctl->args[0], start, start + count - (count > 0), length);
		ipc_array_close(a);
		return rc;
	}
	buf = malloc(count ? count * itemsize : 1);
	if (!buf) {
		ipc_array_close(a);
		return ctl_report(ctl, CTL_EXIT_FAIL, -ENOMEM, "%s %s", ctl->what, ctl->args[0]);
	}
	r = ipc_array_read(a, (size_t)start, (size_t)count, buf);
	if (r < 0) {
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	} else {
		if (ctl->json)
			putchar('[');
		for (uint64_t i = 0; i < count; i++) {
			union elem e;
			char text[64];

			memcpy(&e, buf + i * itemsize, itemsize);
			format_elem(text, sizeof text, tc, &e, ctl->json);
			if (ctl->json)
				printf("%s%s", i ? "," : "", text);
			else
				puts(text);
		}
		if (ctl->json)
			puts("]");
	}
	free(buf);
	ipc_array_close(a);
	return rc;
}

/* Parse s as one element of typecode tc into *e.  0, or -1 with *range set. */
static int parse_elem(const char *s, char tc, union elem *e, const char **range)
{
	static const struct { char tc; int64_t min; uint64_t max; const char *text; } ints[] = {
		{ 'b', INT8_MIN, INT8_MAX, "-128 to 127" }, { 'B', 0, UINT8_MAX, "0 to 255" },
		{ 'h', INT16_MIN, INT16_MAX, "-32768 to 32767" }, { 'H', 0, UINT16_MAX, "0 to 65535" },
		{ 'i', INT32_MIN, INT32_MAX, "-2147483648 to 2147483647" },
		{ 'I', 0, UINT32_MAX, "0 to 4294967295" },
		{ 'l', INT64_MIN, INT64_MAX, "a signed 64-bit integer" },
		{ 'q', INT64_MIN, INT64_MAX, "a signed 64-bit integer" },
		{ 'L', 0, UINT64_MAX, "0 to 18446744073709551615" },
		{ 'Q', 0, UINT64_MAX, "0 to 18446744073709551615" },
	};
	char *end;

	if (tc == 'f' || tc == 'd') {
		double v;

		*range = tc == 'f' ? "a float" : "a double";
		errno = 0;
		v = strtod(s, &end);
		if (end == s || *end || (errno == ERANGE && fabs(v) > 1.0))
			return -1;
		/* Halfway between FLT_MAX and the next power of two rounds to infinity. */
		if (tc == 'f' && isfinite(v) && fabs(v) >= 0x1.ffffffp+127)
			return -1;
		if (tc == 'f')
			e->f = (float)v;
		else
			e->d = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		if (ints[i].tc != tc)
			continue;
		*range = ints[i].text;
		errno = 0;
		if (ints[i].min < 0) {
			long long v = strtoll(s, &end, 10);

			if (end == s || *end || errno || v < ints[i].min || v > (int64_t)ints[i].max)
				return -1;
			e->q = v;
		} else {
			unsigned long long v;

			if (strchr(s, '-'))
				return -1;
			v = strtoull(s, &end, 10);
			if (end == s || *end || errno || v > ints[i].max)
				return -1;
			e->Q = v;
		}
		/* Into the element's own member: the write sends the union's first bytes. */
		switch (tc) {
		case 'b': e->b = (int8_t)e->q; break;
		case 'B': e->B = (uint8_t)e->Q; break;
		case 'h': e->h = (int16_t)e->q; break;
		case 'H': e->H = (uint16_t)e->Q; break;
		case 'i': e->i = (int32_t)e->q; break;
		case 'I': e->I = (uint32_t)e->Q; break;
		}
		return 0;
	}
	return -1;
}

int ctl_array_set(struct ctl *ctl)
{
	const char *range = "";
	uint64_t index;
	union elem e;
	ipc_array *a;
	char tc;
	int r, rc;

	if (number_operand(ctl, "index", ctl->args[1], &index) < 0)
		return CTL_EXIT_USAGE;
	a = open_array(ctl, 0, 0, 0, &rc);
	if (!a)
		return rc;
	tc = ipc_array_typecode(a);
	if (parse_elem(ctl->args[2], tc, &e, &range) < 0) {
		rc = ctl_report(ctl, CTL_EXIT_USAGE, 0, "%s %s: '%s' is not a value of typecode "
				"'%c' (%s)", ctl->what, ctl->args[0], ctl->args[2], tc, range);
	} else if (index >= ipc_array_length(a)) {
		rc = ctl_report(ctl, CTL_EXIT_FAIL, -ERANGE, "%s %s: index %" PRIu64 " is outside "
				"the array of length %zu", ctl->what, ctl->args[0], index,
				ipc_array_length(a));
	} else {
		r = ipc_array_write(a, (size_t)index, 1, &e);
		if (r < 0)
			rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	}
	ipc_array_close(a);
	return rc;
}

int ctl_array_stat(struct ctl *ctl)
{
	void *mp = NULL;
	size_t len = 0;
	int r, rc;
	ipc_array *a = open_array(ctl, 0, 0, 0, &rc);

	if (!a)
		return rc;
	r = ipc_array_stat(a, &mp, &len);
	if (r < 0)
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	else
		rc = ctl_show(ctl, mp, len, MSGPACK_OBJECT_MAP, NULL, 0);
	ipc_array_close(a);
	return rc;
}

int ctl_array_rm(struct ctl *ctl)
{
	ipc_client *c = ctl_connect(ctl);
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_array_unlink(c, ctl->args[0]);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	return CTL_EXIT_OK;
}
