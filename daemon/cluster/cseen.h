/*
 * cseen.h - which stream sequences this ipcd fetched lately, and which of
 * them it acknowledged: to recognise the engine delivering again a message
 * this ipcd still holds or already finished (its ack wait ran out while the
 * message, or its acknowledgement, was on its way under load).
 *
 * A window of the newest CSEEN_WINDOW sequences, two bits each; older ones
 * are unknown, as is everything before the first fetch.
 */
#ifndef IPCD_CSEEN_H
#define IPCD_CSEEN_H

#include <stdbool.h>
#include <stdint.h>

#define CSEEN_WINDOW (1u << 18)

struct cseen {
	uint64_t *here;   /* fetched, and neither given back nor forgotten */
	uint64_t *acked;  /* and acknowledged */
	uint64_t base;    /* the oldest sequence in the window */
};

enum cseen_state {
	CSEEN_UNKNOWN,    /* not here: a delivery to take */
	CSEEN_HELD,       /* held here: the new delivery is the same message */
	CSEEN_DONE,       /* acknowledged here: the engine has not heard yet */
};

/* Mark seq fetched (its window made, or moved on).  0 or -ENOMEM. */
int cseen_fetched(struct cseen *s, uint64_t seq);

/* Mark seq acknowledged (ack true) or given back (false). */
void cseen_finished(struct cseen *s, uint64_t seq, bool ack);

enum cseen_state cseen_state(const struct cseen *s, uint64_t seq);

void cseen_free(struct cseen *s);

#endif
