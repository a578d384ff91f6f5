/*
 * pyprint.c - Python's repr() and print() for msgpack values (see
 * pyprint.h): enough of Python's rules for the examples' values.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pyprint.h"

/* A quoted string or bytes literal, quoted as Python chooses. */
static void repr_bytes(FILE *out, const char *s, size_t len, int is_bytes)
{
	char quote = memchr(s, '\'', len) && !memchr(s, '"', len) ? '"' : '\'';

	if (is_bytes)
		fputc('b', out);
	fputc(quote, out);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\\' || ch == (unsigned char)quote)
			fprintf(out, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", out);
		else if (ch == '\t')
			fputs("\\t", out);
		else if (ch == '\r')
			fputs("\\r", out);
		else if (ch < 0x20 || ch == 0x7f || (is_bytes && ch >= 0x80))
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
	fputc(quote, out);
}

/* The shortest decimal that reads back as d, laid out as Python's float repr. */
static void repr_float(FILE *out, double d)
{
	char buf[64];
	int prec, exp;

	if (isnan(d)) {
		fputs("nan", out);
		return;
	}
	if (isinf(d)) {
		fputs(d < 0 ? "-inf" : "inf", out);
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
	exp = atoi(strchr(buf, 'e') + 1);
	if (exp >= -4 && exp < 16) {
		snprintf(buf, sizeof buf, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
		if (!strchr(buf, '.'))
			strcat(buf, ".0");
	}
	fputs(buf, out);
}

void py_repr(FILE *out, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("None", out);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "True" : "False", out);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(out, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(out, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		repr_float(out, o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		repr_bytes(out, o->via.str.ptr, o->via.str.size, 0);
		break;
	case MSGPACK_OBJECT_BIN:
		repr_bytes(out, o->via.bin.ptr, o->via.bin.size, 1);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', out);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputs(", ", out);
			py_repr(out, &o->via.array.ptr[i]);
		}
		fputc(']', out);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', out);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (i)
				fputs(", ", out);
			py_repr(out, &o->via.map.ptr[i].key);
			fputs(": ", out);
			py_repr(out, &o->via.map.ptr[i].val);
		}
		fputc('}', out);
		break;
	default:
		fputs("<ext>", out);
		break;
	}
}

int py_print(FILE *out, const void *data, size_t len)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -1;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
		if (u.data.type == MSGPACK_OBJECT_STR)
			fwrite(u.data.via.str.ptr, 1, u.data.via.str.size, out);
		else
			py_repr(out, &u.data);
		fputc('\n', out);
		rc = 0;
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}
