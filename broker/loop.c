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
	struct timer **heap; /* min-heap by (deadline, order) */
	uint32_t nheap, heap_cap;
	uint64_t order;
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
	l->now = mono_ms();
	*lp = l;
	return 0;
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	safe_close(l->epfd);
	for (uint32_t i = 0; i < l->nheap; i++)
		l->heap[i]->slot = 0;
	free(l->heap);
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

void loop_forget(struct loop *l, struct watch *w)
{
	(void)l;
	w->events = 0;
}

void timer_init(struct timer *t, timer_fn fn)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
}

static bool before(const struct timer *a, const struct timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->order < b->order);
}

static void place(struct loop *l, struct timer *t, uint32_t i)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct loop *l, uint32_t i)
{
	struct timer *t = l->heap[i];

	while (i) {
		uint32_t p = (i - 1) / 2;
		if (!before(t, l->heap[p]))
			break;
		place(l, l->heap[p], i);
		i = p;
	}
	place(l, t, i);
}

static void sift_down(struct loop *l, uint32_t i)
{
	struct timer *t = l->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!before(l->heap[c], t))
			break;
		place(l, l->heap[c], i);
		i = c;
	}
	place(l, t, i);
}

static void heap_remove(struct loop *l, struct timer *t)
{
	uint32_t i = t->slot - 1;
	struct timer *last = l->heap[--l->nheap];

	t->slot = 0;
	t->loop = NULL;
	if (last == t)
		return;
	place(l, last, i);
	if (i && before(last, l->heap[(i - 1) / 2]))
		sift_up(l, i);
	else
		sift_down(l, i);
}

void loop_timer_arm(struct loop *l, struct timer *t, uint64_t ms)
{
	if (t->slot)
		heap_remove(t->loop, t);
	if (l->nheap == l->heap_cap) {
		uint32_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			abort(); /* a timer that silently never fires is worse */
		l->heap = h;
		l->heap_cap = cap;
	}
	t->deadline = l->now + ms;
	t->order = ++l->order;
	t->loop = l;
	l->heap[l->nheap++] = t;
	sift_up(l, l->nheap - 1);
}

void loop_timer_cancel(struct timer *t)
{
	if (t->slot)
		heap_remove(t->loop, t);
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

static int next_timeout(struct loop *l, int cap)
{
	uint64_t d;

	if (!l->nheap)
		return cap;
	if (l->heap[0]->deadline <= l->now)
		return 0;
	/* +1: epoll rounds down, and waking early would just spin once more */
	d = l->heap[0]->deadline - l->now + 1;
	if (d > INT32_MAX)
		d = INT32_MAX;
	return cap >= 0 && (uint64_t)cap < d ? cap : (int)d;
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[0]->deadline <= l->now) {
		struct timer *t = l->heap[0];
		heap_remove(l, t);
		t->fn(t);
	}
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, next_timeout(l, timeout_ms));

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
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
	return 0;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		int r = loop_run_once(l, -1);
		if (r < 0)
			return r;
	}
	return 0;
}
