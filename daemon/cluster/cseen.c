/*
 * cseen.c - the window of recently fetched stream sequences (see cseen.h):
 * two ring bitmaps indexed by seq modulo the window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cseen.h"

#define WORDS (CSEEN_WINDOW / 64)

static inline bool in_window(const struct cseen *s, uint64_t seq)
{
	return s->here && seq >= s->base && seq < s->base + CSEEN_WINDOW;
}

static inline void bit_set(uint64_t *map, uint64_t seq, bool on)
{
	uint64_t i = seq & (CSEEN_WINDOW - 1), m = 1ull << (i & 63);

	if (on)
		map[i / 64] |= m;
	else
		map[i / 64] &= ~m;
}

static inline bool bit(const uint64_t *map, uint64_t seq)
{
	uint64_t i = seq & (CSEEN_WINDOW - 1);

	return map[i / 64] >> (i & 63) & 1;
}

/* Move the window on so that seq is its newest: what falls out is forgotten. */
static void slide(struct cseen *s, uint64_t seq)
{
	uint64_t base = seq + 1 - CSEEN_WINDOW;

	if (base - s->base >= CSEEN_WINDOW) {
		memset(s->here, 0, WORDS * sizeof *s->here);
		memset(s->acked, 0, WORDS * sizeof *s->acked);
	} else {
		for (uint64_t q = s->base; q < base; q++) {
			bit_set(s->here, q, false);
			bit_set(s->acked, q, false);
		}
	}
	s->base = base;
}

int cseen_fetched(struct cseen *s, uint64_t seq)
{
	if (!seq)
		return 0;
	if (!s->here) {
		s->here = calloc(WORDS, sizeof *s->here);
		s->acked = calloc(WORDS, sizeof *s->acked);
		if (!s->here || !s->acked) {
			cseen_free(s);
			return -ENOMEM;
		}
		s->base = seq > CSEEN_WINDOW / 2 ? seq - CSEEN_WINDOW / 2 : 1;
	}
	if (seq < s->base)
		return 0;
	if (seq >= s->base + CSEEN_WINDOW)
		slide(s, seq);
	bit_set(s->here, seq, true);
	bit_set(s->acked, seq, false);
	return 0;
}

void cseen_finished(struct cseen *s, uint64_t seq, bool ack)
{
	if (!in_window(s, seq))
		return;
	if (ack)
		bit_set(s->acked, seq, true);
	else
		bit_set(s->here, seq, false);
}

enum cseen_state cseen_state(const struct cseen *s, uint64_t seq)
{
	if (!in_window(s, seq) || !bit(s->here, seq))
		return CSEEN_UNKNOWN;
	return bit(s->acked, seq) ? CSEEN_DONE : CSEEN_HELD;
}

void cseen_free(struct cseen *s)
{
	free(s->here);
	free(s->acked);
	memset(s, 0, sizeof *s);
}
