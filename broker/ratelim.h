/*
 * Rate limiting of repeated log lines: at most one line of a kind per
 * RATELIM_INTERVAL_MS for one source (a client, a datagram sender, the
 * broker), the lines held back meanwhile counted so that the next line can
 * say how many there were. Times are the loop's (loop_now), so the broker
 * and its tests see the same clock. A zeroed struct ratelim has logged
 * nothing yet: its first line always passes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define RATELIM_INTERVAL_MS 1000

struct ratelim {
	uint64_t next_ms;  /* earliest time of the next line */
	uint32_t unlogged; /* lines held back since the last one logged */
};

/*
 * Whether a line may be logged at now (ms). If so, *unlogged (may be NULL)
 * gets the number held back since the previous line and the count starts
 * again; if not, this line is counted as held back.
 */
bool ratelim_pass(struct ratelim *rl, uint64_t now, uint32_t *unlogged);
/* The lines held back since the last one logged, and the count starts again (a final report). */
uint32_t ratelim_take(struct ratelim *rl);
