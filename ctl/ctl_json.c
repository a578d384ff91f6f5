/*
 * ctl_json.c - conversion between msgpack and JSON for ipcctl (see
 * ctl_json.h for the mapping).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ctl_json.h"

static json_t *latin1_string(const unsigned char *p, size_t len)
{
	char *buf = malloc(len * 2 + 1), *w = buf;
	json_t *s;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x80) {
			*w++ = (char)p[i];
		} else {
			*w++ = (char)(0xc0 | p[i] >> 6);
			*w++ = (char)(0x80 | (p[i] & 0x3f));
		}
	}
	s = json_stringn_nocheck(buf, (size_t)(w - buf));
	free(buf);
	return s;
}

json_t *ctl_json_from_bytes(const void *data, size_t len)
{
	/* json_stringn() checks the UTF-8 and refuses what is not. */
	json_t *s = json_stringn(len ? data : "", len);

	return s ? s : latin1_string(data, len);
}

/* The double of the fewest decimal digits that still reads back as f. */
static double float32_shortest(float f)
{
	char buf[32];

	for (int prec = 1; prec < 9; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
		if (strtof(buf, NULL) == f)
			return strtod(buf, NULL);
	}
	return (double)f;
}

static json_t *real_or_null(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

static int set_member(json_t *obj, const msgpack_object_kv *kv)
{
	json_t *key, *val;
	char *text = NULL;
	const char *k;
	size_t klen;
	int r = -1;

	if (kv->key.type == MSGPACK_OBJECT_STR || kv->key.type == MSGPACK_OBJECT_BIN)
		key = ctl_json_from_msgpack(&kv->key);
	else {
		json_t *j = ctl_json_from_msgpack(&kv->key);

		text = j ? ctl_json_dumps(j) : NULL;
		json_decref(j);
		key = text ? json_string_nocheck(text) : NULL;
	}
	val = ctl_json_from_msgpack(&kv->val);
	if (key && val) {
		k = json_string_value(key);
		klen = json_string_length(key);
		r = json_object_setn_new_nocheck(obj, k, klen, val);
		val = NULL;
	}
	json_decref(key);
	json_decref(val);
	free(text);
	return r;
}

json_t *ctl_json_from_msgpack(const msgpack_object *o)
{
	json_t *j;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
		return real_or_null(float32_shortest((float)o->via.f64));
	case MSGPACK_OBJECT_FLOAT64:
		return real_or_null(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return ctl_json_from_bytes(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return ctl_json_from_bytes(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; j && i < o->via.array.size; i++) {
			if (json_array_append_new(j, ctl_json_from_msgpack(&o->via.array.ptr[i])) < 0) {
				json_decref(j);
				j = NULL;
			}
		}
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; j && i < o->via.map.size; i++) {
			if (set_member(j, &o->via.map.ptr[i]) < 0) {
				json_decref(j);
				j = NULL;
			}
		}
		return j;
	case MSGPACK_OBJECT_EXT:
		return json_pack("{s:i, s:o}", "ext", (json_int_t)o->via.ext.type,
				 "data", ctl_json_from_bytes(o->via.ext.ptr, o->via.ext.size));
	}
	return json_null();
}

/* The big-endian unsigned integer of n bytes at p. */
int ctl_json_unpack(const void *data, size_t len, msgpack_unpacked *u)
{
	size_t off = 0;

	if (!proto_is_one_value(data, len) ||
	    msgpack_unpack_next(u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
		return -EBADMSG;
	return 0;
}

json_t *ctl_json_from_message(const void *data, size_t len, int *was_msgpack)
{
	msgpack_unpacked u;
	json_t *j = NULL;
	int whole;

	msgpack_unpacked_init(&u);
	whole = ctl_json_unpack(data, len, &u) == 0;
	if (whole)
		j = ctl_json_from_msgpack(&u.data);
	msgpack_unpacked_destroy(&u);
	if (was_msgpack)
		*was_msgpack = whole;
	return whole ? j : ctl_json_from_bytes(data, len);
}

int ctl_json_to_msgpack(json_t *v, msgpack_packer *pk)
{
	const char *key;
	size_t klen, i;
	json_t *item;
	int r = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		r = msgpack_pack_map(pk, json_object_size(v));
		json_object_keylen_foreach(v, key, klen, item) {
			if (r == 0)
				r = msgpack_pack_str_with_body(pk, key, klen);
			if (r == 0)
				r = ctl_json_to_msgpack(item, pk);
		}
		break;
	case JSON_ARRAY:
		r = msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, item) {
			if (r == 0)
				r = ctl_json_to_msgpack(item, pk);
		}
		break;
	case JSON_STRING:
		r = msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		r = msgpack_pack_int64(pk, json_integer_value(v));
		break;
	case JSON_REAL:
		r = msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_TRUE:
		r = msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		r = msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		r = msgpack_pack_nil(pk);
		break;
	}
	return r == 0 ? 0 : -ENOMEM;
}

/* The fewest significant digits (1 to 17) that print d so it reads back. */
static int real_digits(double d)
{
	char buf[40];

	for (int prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return prec;
	}
	return 17;
}

/* The most digits any real inside v needs; jansson takes one precision. */
static int max_real_digits(const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	int most = 1, d;

	switch (json_typeof(v)) {
	case JSON_REAL:
		return real_digits(json_real_value(v));
	case JSON_ARRAY:
		json_array_foreach((json_t *)v, i, item) {
			d = max_real_digits(item);
			most = d > most ? d : most;
		}
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item) {
			d = max_real_digits(item);
			most = d > most ? d : most;
		}
		break;
	default:
		break;
	}
	return most;
}

char *ctl_json_dumps(const json_t *v)
{
	size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII;

	return json_dumps(v, flags | JSON_REAL_PRECISION(max_real_digits(v)));
}
