/*
 * fuzz_qlog.c - libFuzzer target for reading a durable queue's log back:
 * the input is a log file's bytes, given to recover_parse as recovery does
 * at start (framing, checksums, resynchronisation after damage, the
 * records' bodies), then every message it kept is touched.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "recover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recover_log r = { .where = "fuzz" };
	volatile unsigned sink = 0;

	/* Damage is reported at warn: quiet, it would drown the fuzzer's output. */
	log_set_level(LOG_LVL_ERROR);
	if (recover_parse(&r, data, (off_t)size) == 0) {
		for (size_t i = 0; i < r.n; i++)
			if (r.v[i].len)
				sink += r.v[i].data[0] + r.v[i].data[r.v[i].len - 1];
		if (r.have_meta)
			sink += (unsigned)r.meta.mode;
	}
	recover_log_free(&r);
	(void)sink;
	return 0;
}
