/*
 * Rate limiting of repeated log lines (see ratelim.h). The interval runs
 * from the last line logged, not from the last one held back, so a source
 * that never stops still gets one line a second.
 */
#include "ratelim.h"

#include <stdio.h>

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

bool ratelim_window_pass(struct ratelim_window *w, uint32_t max, uint64_t now,
			 uint32_t *unlogged)
{
	if (now - w->start_ms >= RATELIM_INTERVAL_MS) {
		w->start_ms = now;
		w->lines = 0;
	}
	if (w->lines >= max) {
		if (w->unlogged < UINT32_MAX)
			w->unlogged++;
		return false;
	}
	w->lines++;
	if (unlogged)
		*unlogged = w->unlogged;
	w->unlogged = 0;
	return true;
}

const char *ratelim_unlogged_text(char *buf, size_t cap, uint32_t n)
{
	if (!n)
		return "";
	snprintf(buf, cap, " unlogged=%u", (unsigned)n);
	return buf;
}
