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
#include <stddef.h>
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

/*
 * A bound over all sources together, for a line that many short-lived
 * sources can each cause once (a process per datagram, a client that
 * reconnects in a loop): at most max lines in each window of
 * RATELIM_INTERVAL_MS. A zeroed struct has logged nothing yet.
 */
struct ratelim_window {
	uint64_t start_ms; /* when the current window began */
	uint32_t lines;    /* logged in it */
	uint32_t unlogged; /* held back since the last line logged */
};

/* As ratelim_pass, for a window that lets max lines through. */
bool ratelim_window_pass(struct ratelim_window *w, uint32_t max, uint64_t now,
			 uint32_t *unlogged);
/* " unlogged=N" in buf (cap bytes), or "" for 0: the end of a line that reports it. */
const char *ratelim_unlogged_text(char *buf, size_t cap, uint32_t n);
