/*
 * Rate limiting of repeated log lines (see ratelim.h). The interval runs
 * from the last line logged, not from the last one held back, so a source
 * that never stops still gets one line a second.
 */
#include "ratelim.h"

bool ratelim_pass(struct ratelim *rl, uint64_t now, uint32_t *unlogged)
{
	if (now < rl->next_ms) {
		/* saturates: a count that wrapped would under-report */
		if (rl->unlogged < UINT32_MAX)
			rl->unlogged++;
		return false;
	}
	rl->next_ms = now + RATELIM_INTERVAL_MS;
	if (unlogged)
		*unlogged = rl->unlogged;
	rl->unlogged = 0;
	return true;
}

uint32_t ratelim_take(struct ratelim *rl)
{
	uint32_t n = rl->unlogged;

	rl->unlogged = 0;
	return n;
}
