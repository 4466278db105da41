/*
 * Lossy subscriptions while a client is behind (see lag.h).
 *
 * Each episode that lost messages is logged when it ends, at most once a
 * second per client (a subscriber hovering at its limit can have many a
 * second): the next line logged says how many were not (unlogged=), and a
 * client that goes with some not logged, or behind, gets a last line, so
 * every episode and every lost message is in the log.
 */
#include "lag.h"

#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "client.h"
#include "htable.h"
#include "log.h"
#include "outq.h"
#include "ratelim.h"
#include "router.h"
#include "topic.h"

/* A kept message: the newest of its topic for one latest subscription. */
struct held {
	struct hnode hn;       /* in sub_lag.held, keyed by topic */
	struct list_head link; /* sub_lag.order: in order of first keeping */
	struct frame *f;
	size_t len;
	char topic[];
};

/* A client's episodes, from its first on: most clients never fall behind. */
struct client_lag {
	uint64_t since;    /* loop time the episode began */
	uint64_t dropped;  /* lost in this episode */
	struct ratelim rl; /* its "behind" lines */
};

struct sub_lag {
	struct list_head link; /* c->lagging, in order of first set-aside */
	struct sub *sub;
	uint64_t dropped;      /* lost since the last notice */
	struct htable held;
	struct list_head order;
};

static void held_key(const struct hnode *n, const char **k, size_t *len)
{
	const struct held *h = container_of(n, struct held, hn);
	*k = h->topic;
	*len = h->len;
}

static struct sub_lag *lag_of(struct client *c, struct sub *s)
{
	struct sub_lag *l = s->lag;

	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->sub = s;
	htable_init(&l->held, held_key);
	list_init(&l->order);
	list_add_tail(&l->link, &c->lagging);
	s->lag = l;
	return l;
}

static void lag_free(struct client *c, struct sub_lag *l)
{
	struct held *h, *tmp;

	list_for_each_entry_safe(h, tmp, &l->order, link) {
		c->held_bytes -= h->f->len;
		frame_unref(h->f);
		free(h);
	}
	htable_fini(&l->held);
	list_del(&l->link);
	l->sub->lag = NULL;
	free(l);
}

static void count_loss(struct client *c, struct sub_lag *l)
{
	l->dropped++;
	c->dropped++;
	c->lag->dropped++;
	c->b->stats.dropped++;
}

/* False without memory for the client's episode record. */
static bool begin_episode(struct client *c)
{
	struct client_lag *cl = c->lag;

	if (c->behind)
		return true;
	if (!cl && !(cl = c->lag = calloc(1, sizeof(*cl))))
		return false;
	c->behind = true;
	cl->since = loop_now(c->b->loop);
	cl->dropped = 0;
	return true;
}

/*
 * A "behind" line: who, then (episode) how many the open episode lost and
 * for how long, how it ended, the episodes not logged since the previous
 * line, and in the client's last line how many it lost in all.
 */
static void log_behind(struct client *c, bool episode, uint32_t unlogged, bool last)
{
	struct client_lag *cl = c->lag;
	char ep[64] = "", un[24] = "", all[40] = "";

	if (episode)
		snprintf(ep, sizeof(ep), " dropped=%llu ms=%llu", (unsigned long long)cl->dropped,
			 (unsigned long long)(loop_now(c->b->loop) - cl->since));
	if (unlogged)
		snprintf(un, sizeof(un), " unlogged=%u", unlogged);
	if (last)
		snprintf(all, sizeof(all), " dropped_total=%llu", (unsigned long long)c->dropped);
	log_warn("behind client=%s pid=%d uid=%u%s end=%s%s%s", c->name.name, (int)c->pid,
		 (unsigned)c->uid, ep, last ? "disconnected" : "caught_up", un, all);
}

bool lag_overflow(struct client *c, struct sub *gov, const char *topic, size_t topic_len,
		  struct frame *f)
{
	struct sub_lag *l;
	struct held *h;
	struct hnode *hn;
	uint32_t hash;

	if (!begin_episode(c) || !(l = lag_of(c, gov))) {
		/* no memory to remember the loss: the client must not miss it silently */
		client_close(c, "out of memory", END_ERROR);
		return false;
	}
	if (gov->on_full == SUB_DROP) {
		count_loss(c, l);
		return false;
	}
	hash = htable_hash(topic, topic_len);
	hn = htable_find(&l->held, topic, topic_len, hash);
	if (hn) {
		h = container_of(hn, struct held, hn);
		/* the kept one is superseded: that one is what the client loses */
		count_loss(c, l);
		c->held_bytes = c->held_bytes - h->f->len + f->len;
		frame_unref(h->f);
		h->f = frame_ref(f);
		return true;
	}
	/* kept messages are bounded too: half the queue limit per client */
	if (c->held_bytes + f->len > c->b->cfg.queue_limit / 2 ||
	    !(h = malloc(sizeof(*h) + topic_len))) {
		count_loss(c, l);
		return false;
	}
	memcpy(h->topic, topic, topic_len);
	h->len = topic_len;
	if (htable_insert(&l->held, &h->hn, hash) < 0) {
		free(h);
		count_loss(c, l);
		return false;
	}
	h->f = frame_ref(f);
	list_add_tail(&h->link, &l->order);
	c->held_bytes += f->len;
	return true;
}

/* Queues l's notice and kept messages and frees l; false if c was closed meanwhile. */
static bool settle(struct client *c, struct sub_lag *l)
{
	struct held *h;
	char pat[TOPIC_MAX];
	struct wire_buf wb;

	if (l->dropped) {
		size_t n = router_sub_pattern(l->sub, pat, sizeof(pat));
		wire_buf_init(&wb, FRAME_HEADROOM);
		wire_build_dropped(&wb, pat, n, l->dropped);
		l->dropped = 0;
		/* owed, like the messages already accepted for it: not limited */
		if (!client_queue_owed(c, frame_from_buf(&wb)))
			return false;
	}
	while (!list_empty(&l->order)) {
		h = list_first_entry(&l->order, struct held, link);
		list_del(&h->link);
		htable_remove(&l->held, &h->hn);
		c->held_bytes -= h->f->len;
		if (!client_queue_owed(c, h->f)) {
			free(h);
			return false;
		}
		c->b->stats.deliveries++;
		free(h);
	}
	lag_free(c, l);
	return true;
}

void lag_catch_up(struct client *c)
{
	uint32_t unlogged;

	if (c->lag->dropped && ratelim_pass(&c->lag->rl, loop_now(c->b->loop), &unlogged))
		log_behind(c, true, unlogged, false);
	c->behind = false;
	while (!list_empty(&c->lagging) && c->state == CLIENT_ACTIVE)
		if (!settle(c, list_first_entry(&c->lagging, struct sub_lag, link)))
			return;
}

void lag_sub_settle(struct client *c, struct sub *s)
{
	if (s->lag)
		settle(c, s->lag);
}

void lag_sub_gone(struct client *c, struct sub *s)
{
	if (s->lag)
		lag_free(c, s->lag);
}

void lag_client_gone(struct client *c)
{
	struct client_lag *cl = c->lag;

	if (cl) {
		bool open = c->behind && cl->dropped;
		uint32_t unlogged = ratelim_take(&cl->rl);

		/* once per client, so not limited: nothing may go unaccounted */
		if (open || unlogged)
			log_behind(c, open, unlogged, true);
		free(cl);
		c->lag = NULL;
	}
	c->behind = false;
	while (!list_empty(&c->lagging))
		lag_free(c, list_first_entry(&c->lagging, struct sub_lag, link));
}
