/* Routing of published messages (see publish.h). */
#include "publish.h"

#include <string.h>

#include "broker.h"
#include "client.h"
#include "monitor.h"
#include "outq.h"

struct route {
	struct broker *b;
	struct frame *f;
	uint64_t seq;
	uint64_t delivered;
};

static void deliver(void *owner, void *ud)
{
	struct client *c = owner;
	struct route *p = ud;

	/* one delivery per client, however many of its patterns match */
	if (c->seq == p->seq || !client_active(c))
		return;
	c->seq = p->seq;
	if (client_queue(c, p->f)) {
		p->delivered++;
		monitor_note_recipient(p->b, c);
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

	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_msg(&wb, topic, topic_len, from.name, from.len, NULL, 0, data);
	p.f = frame_from_buf(&wb);
	if (!p.f)
		return -ENOMEM;
	p.seq = ++b->publish_seq;
	monitor_reset_recipients(b);
	router_match(&b->router, topic, topic_len, deliver, &p);
	frame_unref(p.f);
	b->stats.deliveries += p.delivered;
	monitor_routed(b, kind, from, b->mon_to, b->mon_to_len, topic, topic_len, data,
		       (struct wire_raw){ 0 });
	return (int64_t)p.delivered;
}
