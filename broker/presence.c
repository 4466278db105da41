/*
 * Wills and presence events (see presence.h). Ends are collected during
 * the turn (b->ending, filled by the client close path, which may run in
 * the middle of routing) and published here, from the end-of-turn hook,
 * will first, then the disconnected event.
 */
#include "presence.h"

#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "client.h"
#include "log.h"
#include "publish.h"
#include "retain.h"
#include "router.h"

#define TOPIC_CONNECTED "$SYS/client/connected"
#define TOPIC_DISCONNECTED "$SYS/client/disconnected"

static void heard(struct sub *s, void *ud)
{
	(void)s;
	*(bool *)ud = true;
}

static void publish_event(struct client *c, const char *topic, const char *reason)
{
	struct broker *b = c->b;
	struct wire_buf wb;
	bool audience = b->nmonitors > 0;
	char ids[96];

	/* most connections come and go with nobody watching: build nothing then */
	if (!audience)
		router_match(&b->router, topic, strlen(topic), heard, &audience);
	if (!audience)
		return;
	wire_buf_init(&wb, 0);
	wire_buf_puts(&wb, "{\"name\":");
	wire_buf_put_jstr(&wb, c->name.name, c->name.len);
	snprintf(ids, sizeof(ids), ",\"pid\":%d,\"uid\":%u,\"gid\":%u", (int)c->pid,
		 (unsigned)c->uid, (unsigned)c->gid);
	wire_buf_puts(&wb, ids);
	if (reason) {
		wire_buf_puts(&wb, ",\"reason\":");
		wire_buf_puts(&wb, "\"");
		wire_buf_puts(&wb, reason);
		wire_buf_puts(&wb, "\"");
	}
	wire_buf_puts(&wb, "}");
	if (!wire_buf_failed(&wb))
		publish_route(b, ORIGIN_SYS, topic, strlen(topic), (struct wire_raw){ wb.p, wb.len },
			      "sys");
	wire_buf_free(&wb);
}

void presence_connected(struct client *c)
{
	if (!c->b->stopping)
		publish_event(c, TOPIC_CONNECTED, NULL);
}

static void publish_will(struct client *c)
{
	struct broker *b = c->b;
	struct wire_raw data = { c->will.data, c->will.data_len };

	int r = c->will.retain ? retain_set(&b->retained, c->will.topic, c->will.topic_len,
					    c->name.name, c->name.len, c->uid, data)
			       : 0;

	if (r > 0) {
		b->stats.limit_reached++;
		log_warn("will not retained: %s reached client=%s uid=%u topic=%s",
			 retain_limit_name(r), c->name.name, (unsigned)c->uid, c->will.topic);
	} else if (r < 0) {
		log_error("will not retained: out of memory client=%s topic=%s", c->name.name,
			  c->will.topic);
	}
	publish_route(b, origin_of(c), c->will.topic, c->will.topic_len, data, "will");
	b->stats.msgs_routed++;
}

void presence_flush(struct broker *b)
{
	while (!list_empty(&b->ending)) {
		struct client *c = list_first_entry(&b->ending, struct client, end_link);

		list_del(&c->end_link);
		if (b->stopping)
			continue;
		if (c->will.topic && c->end != END_BYE)
			publish_will(c);
		publish_event(c, TOPIC_DISCONNECTED, client_end_name((enum client_end)c->end));
	}
}
