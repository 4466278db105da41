/* Routing of published messages (see publish.h). */
#include "publish.h"

#include <string.h>

#include "broker.h"
#include "client.h"
#include "lag.h"
#include "monitor.h"
#include "outq.h"

struct route {
	struct broker *b;
	struct frame *f;
	uint64_t seq;
	uint64_t delivered;
	uint32_t nover; /* clients in b->over */
};

static void queued(struct route *p, struct client *c)
{
	p->delivered++;
	monitor_note_recipient(p->b, c);
}

/* Strictness of on_full: disconnect, then latest, then drop. */
static bool stricter(const struct sub *a, const struct sub *b)
{
	static const uint8_t rank[] = { [SUB_DISCONNECT] = 0, [SUB_LATEST] = 1, [SUB_DROP] = 2 };

	if (rank[a->on_full] != rank[b->on_full])
		return rank[a->on_full] < rank[b->on_full];
	return a->serial < b->serial;
}

/*
 * The fast path queues a message once per client, however many of its
 * patterns match. A client whose queue is full (or that is behind) and
 * has lossy subscriptions is set aside with the strictest subscription
 * that matched, decided once every match is known (settle_over).
 */
static void deliver(struct sub *s, void *ud)
{
	struct client *c = s->owner;
	struct route *p = ud;
	struct broker *b = p->b;

	if (!client_active(c))
		return;
	if (c->seq == p->seq) {
		if (c->over && stricter(s, c->over_sub))
			c->over_sub = s;
		return;
	}
	c->seq = p->seq;
	if (!c->nlossy || (!c->behind && client_fits(c, p->f->len, b->cfg.queue_limit))) {
		if (client_queue(c, p->f))
			queued(p, c);
		return;
	}
	if (p->nover == b->over_cap) {
		uint32_t cap = b->over_cap ? b->over_cap * 2 : 64;
		struct client **o = realloc(b->over, cap * sizeof(*o));
		if (!o) {
			client_close(c, "out of memory", END_ERROR);
			return;
		}
		b->over = o;
		b->over_cap = cap;
	}
	b->over[p->nover++] = c;
	c->over = true;
	c->over_sub = s;
}

static void settle_over(struct route *p, const char *topic, size_t topic_len)
{
	for (uint32_t i = 0; i < p->nover; i++) {
		struct client *c = p->b->over[i];
		struct sub *gov = c->over_sub;

		c->over = false;
		c->over_sub = NULL;
		if (!client_active(c))
			continue;
		/* disconnect is honoured even while behind: queued if it fits */
		if (gov->on_full == SUB_DISCONNECT) {
			if (client_queue(c, p->f))
				queued(p, c);
		} else {
			lag_overflow(c, gov, topic, topic_len, p->f);
		}
	}
}

struct origin origin_of(const struct client *c)
{
	return (struct origin){ c->name.name, c->name.len };
}

int64_t publish_route(struct broker *b, struct origin from, const char *topic, size_t topic_len,
		      struct wire_raw data, const char *kind)
{
	struct route p = { .b = b };
	struct wire_buf wb;

	/* the frame's size, near enough for the pool: the members' names and punctuation */
	frame_buf_init(&wb, topic_len + from.len + data.len + 48);
	wire_build_msg(&wb, topic, topic_len, from.name, from.len, NULL, 0, data);
	p.f = frame_from_buf(&wb);
	if (!p.f)
		return -ENOMEM;
	p.seq = ++b->publish_seq;
	monitor_reset_recipients(b);
	router_match(&b->router, topic, topic_len, deliver, &p);
	if (p.nover)
		settle_over(&p, topic, topic_len);
	frame_unref(p.f);
	b->stats.deliveries += p.delivered;
	monitor_routed(b, kind, from, b->mon_to, b->mon_to_len, topic, topic_len, data,
		       (struct wire_raw){ 0 });
	return (int64_t)p.delivered;
}
