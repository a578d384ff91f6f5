/*
 * test_codec_garbage.c - the request and reply decoders fed random bytes
 * and mutated valid requests: every result is a documented one (a request
 * accepted, refused with its id, or -EPROTO without one; a reply decoded or
 * -EPROTO), never a crash.  A fixed generator makes a failure reproduce.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "codec.h"
#include "request_gen.h"

/* A small deterministic generator, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void check_any_result(const unsigned char *buf, size_t len, const char *what, int i)
{
	struct decoded d = decode(buf, len);

	switch (d.r) {
	case 0:
		ck_assert_msg(proto_op_name(d.op) != NULL, "%s %d: accepted op %u", what, i, d.op);
		ck_assert_msg(d.id != 0, "%s %d: accepted id 0", what, i);
		break;
	case -EOPNOTSUPP:
	case -EINVAL:
		ck_assert_msg(d.id != 0, "%s %d: error %d without an id", what, i, d.r);
		break;
	case -EPROTO:
		ck_assert_msg(d.id == 0, "%s %d: -EPROTO with id %u", what, i, d.id);
		break;
	default:
		ck_abort_msg("%s %d: unexpected result %d", what, i, d.r);
	}
}

START_TEST(test_random_garbage_never_crashes)
{
	unsigned char buf[64];
	int i;
	size_t j;

	/* Pure noise, then noise behind a plausible array header. */
	for (i = 0; i < 20000; i++) {
		size_t len = rng() % sizeof buf;

		for (j = 0; j < len; j++)
			buf[j] = (unsigned char)rng();
		if (i % 2 && len > 0)
			buf[0] = (unsigned char)(0x92 + rng() % 5);
		if (i % 4 == 1 && len > 1)
			buf[1] = (unsigned char)(rng() % 0x20);
		check_any_result(buf, len, "noise", i);
	}

	/* Valid requests with a few bytes changed. */
	for (i = 0; i < 20000; i++) {
		unsigned op = all_ops[rng() % NOPS];
		char letters[PROTO_MAX_ARGS * 2];
		size_t nreq, nmax, len, flips;
		msgpack_sbuffer sb;

		spec_letters(op, letters, &nreq, &nmax);
		pack_request(&sb, op, 1 + rng() % 1000, nreq + rng() % (nmax - nreq + 2),
			     rng() % 4, (enum val)(rng() % V_COUNT));
		len = sb.size < sizeof buf ? sb.size : sizeof buf;
		memcpy(buf, sb.data, len);
		msgpack_sbuffer_destroy(&sb);
		for (flips = 1 + rng() % 3; flips > 0; flips--)
			buf[rng() % len] = (unsigned char)rng();
		check_any_result(buf, len, "mutation", i);
	}
}
END_TEST

START_TEST(test_random_reply_garbage_never_crashes)
{
	unsigned char buf[48];
	int i;
	size_t j;

	for (i = 0; i < 20000; i++) {
		struct proto_reply rep;
		msgpack_unpacked u;
		size_t len = rng() % sizeof buf;
		int r;

		for (j = 0; j < len; j++)
			buf[j] = (unsigned char)rng();
		if (i % 2 && len > 0)
			buf[0] = (unsigned char)(0x92 + rng() % 3);
		msgpack_unpacked_init(&u);
		r = proto_decode_reply((const char *)buf, len, &u, &rep);
		ck_assert_msg(r == 0 || r == -EPROTO, "reply noise %d: %d", i, r);
		if (r == 0) {
			ck_assert(rep.status <= 0 && rep.status >= -4095);
			ck_assert(rep.id != IPC_PUSH_ID || rep.event != NULL);
		}
		msgpack_unpacked_destroy(&u);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *codec_garbage_suite(void)
{
	Suite *s = suite_create("codec_garbage");
	TCase *tc = tcase_create("garbage");

	tcase_add_test(tc, test_random_garbage_never_crashes);
	tcase_add_test(tc, test_random_reply_garbage_never_crashes);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_main(codec_garbage_suite());
}
