/*
 * Event loop: epoll plus timers, single-threaded.
 *
 * Owners embed a struct watch (fd, callback) and a struct timer in their
 * own objects and get back to themselves with container_of: the loop never
 * allocates per fd or per timer. Timers are kept in a list sorted by
 * deadline; insertion scans from the tail, which is O(1) for the fixed
 * durations the broker uses (handshake, linger), since those arm in order.
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
	struct list_head link; /* self-linked while not armed */
	uint64_t deadline;     /* loop_now() time, ms */
	timer_fn fn;
};

int loop_new(struct loop **lp);
struct loop *loop_free(struct loop *l);

/* Register / change / remove w->fd. Return 0 or a negative errno. */
int loop_add(struct loop *l, struct watch *w, uint32_t events);
int loop_mod(struct loop *l, struct watch *w, uint32_t events);
void loop_del(struct loop *l, struct watch *w);

void timer_init(struct timer *t, timer_fn fn);
/* (Re)arm t to fire ms milliseconds from now. */
void loop_timer_arm(struct loop *l, struct timer *t, uint64_t ms);
void loop_timer_cancel(struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
	return list_linked(&t->link);
}

/* Monotonic milliseconds, cached per iteration. */
uint64_t loop_now(struct loop *l);

/* Called once per iteration after events and timers (flushes, frees). */
void loop_set_hook(struct loop *l, loop_hook_fn fn, void *userdata);

/* Run until loop_quit(); returns 0 or a negative errno from epoll_wait. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
