/*
 * epoll loop (see loop.h). Each iteration: wait (timeout = earliest timer),
 * run the ready watches, run expired timers, then the post-iteration hook,
 * where the broker writes batched output and frees closed clients, so no
 * callback ever sees an object freed earlier in the same batch.
 */
#include "loop.h"

#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define LOOP_MAX_EVENTS 256

struct loop {
	int epfd;
	bool quit;
	uint64_t now;
	struct list_head timers;
	loop_hook_fn hook;
	void *hook_data;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_new(struct loop **lp)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	list_init(&l->timers);
	l->now = mono_ms();
	*lp = l;
	return 0;
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	safe_close(l->epfd);
	free(l);
	return NULL;
}

static int ctl(struct loop *l, int op, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(l->epfd, op, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

int loop_add(struct loop *l, struct watch *w, uint32_t events)
{
	return ctl(l, EPOLL_CTL_ADD, w, events);
}

int loop_mod(struct loop *l, struct watch *w, uint32_t events)
{
	if (w->events == events)
		return 0;
	return ctl(l, EPOLL_CTL_MOD, w, events);
}

void loop_del(struct loop *l, struct watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->events = 0;
}

void timer_init(struct timer *t, timer_fn fn)
{
	list_init(&t->link);
	t->deadline = 0;
	t->fn = fn;
}

void loop_timer_arm(struct loop *l, struct timer *t, uint64_t ms)
{
	struct list_head *pos;

	list_del(&t->link);
	t->deadline = l->now + ms;
	for (pos = l->timers.prev; pos != &l->timers; pos = pos->prev)
		if (list_entry(pos, struct timer, link)->deadline <= t->deadline)
			break;
	list_add(&t->link, pos);
}

void loop_timer_cancel(struct timer *t)
{
	list_del(&t->link);
}

uint64_t loop_now(struct loop *l)
{
	return l->now;
}

void loop_set_hook(struct loop *l, loop_hook_fn fn, void *userdata)
{
	l->hook = fn;
	l->hook_data = userdata;
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}

static int next_timeout(struct loop *l)
{
	struct timer *t;

	if (list_empty(&l->timers))
		return -1;
	t = list_first_entry(&l->timers, struct timer, link);
	if (t->deadline <= l->now)
		return 0;
	/* +1: epoll rounds down, and waking early would just spin once more */
	return (int)(t->deadline - l->now) + 1;
}

static void run_timers(struct loop *l)
{
	while (!list_empty(&l->timers)) {
		struct timer *t = list_first_entry(&l->timers, struct timer, link);
		if (t->deadline > l->now)
			break;
		list_del(&t->link);
		t->fn(t);
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	while (!l->quit) {
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, next_timeout(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = mono_ms();
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			/* a watch removed earlier in this batch has fd -1 or no events */
			if (w->fd >= 0 && w->events)
				w->fn(w, evs[i].events);
		}
		run_timers(l);
		if (l->hook)
			l->hook(l->hook_data);
	}
	return 0;
}
