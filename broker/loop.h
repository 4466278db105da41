/*
 * Event loop: epoll plus timers, single-threaded.
 *
 * Owners embed a struct watch (fd, callback) and a struct timer in their
 * own objects and get back to themselves with container_of: the loop never
 * allocates per fd or per timer (the timer heap's array grows to the most
 * timers ever armed at once). Timers live in a binary min-heap ordered by
 * deadline, then by arming order, so arming and cancelling are O(log n)
 * whatever durations clients choose, and timers due together fire in the
 * order they were armed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct loop;
struct watch;
struct timer;

typedef void (*watch_fn)(struct watch *w, uint32_t events);
typedef void (*timer_fn)(struct timer *t);
typedef void (*loop_hook_fn)(void *userdata);

struct watch {
	int fd;
	uint32_t events; /* what epoll currently has for this fd */
	watch_fn fn;
};

struct timer {
	uint64_t deadline; /* loop_now() time, ms */
	uint64_t order;    /* arming sequence: ties fire first-armed first */
	struct loop *loop; /* set while armed */
	uint32_t slot;     /* heap index + 1; 0 while not armed */
	timer_fn fn;
};

int loop_new(struct loop **lp);
struct loop *loop_free(struct loop *l);

/* Register / change / remove w->fd. Return 0 or a negative errno. */
int loop_add(struct loop *l, struct watch *w, uint32_t events);
int loop_mod(struct loop *l, struct watch *w, uint32_t events);
void loop_del(struct loop *l, struct watch *w);
/*
 * w->fd is about to be closed and nothing else holds its file (no dup, no
 * fork): close() takes it out of the epoll set, so this only forgets it,
 * without the system call of loop_del.
 */
void loop_forget(struct loop *l, struct watch *w);

void timer_init(struct timer *t, timer_fn fn);
/* (Re)arm t to fire ms milliseconds from now. */
void loop_timer_arm(struct loop *l, struct timer *t, uint64_t ms);
/* Disarm t; a no-op if it is not armed. */
void loop_timer_cancel(struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
	return t->slot != 0;
}

/* Monotonic milliseconds, cached per iteration. */
uint64_t loop_now(struct loop *l);

/* Called once per iteration after events and timers (flushes, frees). */
void loop_set_hook(struct loop *l, loop_hook_fn fn, void *userdata);

/* Run until loop_quit(); returns 0 or a negative errno from epoll_wait. */
int loop_run(struct loop *l);
/*
 * One iteration: wait at most timeout_ms (-1: until an event or the next
 * timer; the next timer's deadline always bounds the wait), run what is
 * ready and due, then the hook. For tests and fuzzers that drive the loop
 * themselves. Returns 0 or a negative errno.
 */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_quit(struct loop *l);
