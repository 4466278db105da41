/*
 * Monitors (see monitor.h). One mon frame is built per routed message and
 * shared by every monitor; nothing is built while there are none, and the
 * recipient list of a publish is collected only then.
 */
#include "monitor.h"

#include <string.h>
#include <unistd.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "outq.h"

void monitor_handle(struct client *c, const struct wire_value *id)
{
	struct broker *b = c->b;
	struct wire_buf wb;

	if (!access_client(c, id, POLICY_MONITOR, NULL, 0, "monitor"))
		return;
	if (!c->monitor) {
		c->monitor = true;
		list_add_tail(&c->mon_link, &b->monitors);
		b->nmonitors++;
	}
	if (id->type == WIRE_T_ABSENT)
		return;
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_ok(&wb, (struct wire_raw){ id->p, id->len }, NULL);
	client_queue_buf(c, &wb);
}

void monitor_client_gone(struct client *c)
{
	if (!c->monitor)
		return;
	c->monitor = false;
	list_del(&c->mon_link);
	c->b->nmonitors--;
}

void monitor_note_recipient(struct broker *b, struct client *c)
{
	if (!b->nmonitors)
		return;
	if (b->mon_to_len == b->mon_to_cap) {
		size_t cap = b->mon_to_cap ? b->mon_to_cap * 2 : 64;
		struct client **p = realloc(b->mon_to, cap * sizeof(*p));
		if (!p)
			return; /* the copy lists fewer recipients; routing itself is unaffected */
		b->mon_to = p;
		b->mon_to_cap = cap;
	}
	b->mon_to[b->mon_to_len++] = c;
}

void monitor_reset_recipients(struct broker *b)
{
	b->mon_to_len = 0;
}

void monitor_routed(struct broker *b, const char *kind, struct origin from,
		    struct client *const *to, size_t nto, const char *topic, size_t topic_len,
		    struct wire_raw data, struct wire_raw error)
{
	struct client *m, *tmp;
	struct wire_buf wb;
	struct frame *f;

	if (!b->nmonitors)
		return;
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_buf_puts(&wb, "{\"op\":\"mon\",\"kind\":");
	wire_buf_put_jstr(&wb, kind, strlen(kind));
	wire_buf_puts(&wb, ",\"from\":");
	wire_buf_put_jstr(&wb, from.name, from.len);
	wire_buf_puts(&wb, ",\"to\":[");
	for (size_t i = 0; i < nto; i++) {
		if (i)
			wire_buf_puts(&wb, ",");
		wire_buf_put_jstr(&wb, to[i]->name.name, to[i]->name.len);
	}
	wire_buf_puts(&wb, "]");
	if (topic) {
		wire_buf_puts(&wb, ",\"topic\":");
		wire_buf_put_jstr(&wb, topic, topic_len);
	}
	if (error.len) {
		wire_buf_puts(&wb, ",\"error\":");
		wire_buf_put(&wb, error.p, error.len);
	} else {
		wire_buf_puts(&wb, ",\"data\":");
		if (data.len)
			wire_buf_put(&wb, data.p, data.len);
		else
			wire_buf_puts(&wb, "null");
	}
	wire_buf_puts(&wb, "}\n");
	f = frame_from_buf(&wb);
	if (!f)
		return;
	list_for_each_entry_safe(m, tmp, &b->monitors, mon_link)
		if (client_active(m))
			client_queue(m, f);
	frame_unref(f);
}
