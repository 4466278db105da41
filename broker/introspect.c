/*
 * stats and clients (see introspect.h, docs/protocol.md "Introspection").
 * Slow path: built with the codec's buffer primitives; the field names and
 * meanings are part of the protocol and may only be added to.
 */
#include "introspect.h"

#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "client.h"
#include "outq.h"
#include "router.h"
#include "topic.h"

static void put_field(struct wire_buf *b, const char *name, uint64_t v)
{
	wire_buf_puts(b, ",\"");
	wire_buf_puts(b, name);
	wire_buf_puts(b, "\":");
	wire_buf_put_u64(b, v);
}

static void begin(struct wire_buf *b, const char *op, const struct wire_value *id)
{
	wire_buf_puts(b, "{\"op\":\"");
	wire_buf_puts(b, op);
	wire_buf_puts(b, "\"");
	if (id->type != WIRE_T_ABSENT) {
		wire_buf_puts(b, ",\"id\":");
		wire_buf_put(b, id->p, id->len);
	}
}

/* The configured bounds, so a client can see what it runs into. */
static void put_limits(struct wire_buf *wb, const struct broker_config *cfg)
{
	wire_buf_puts(wb, ",\"limits\":{\"max_frame\":");
	wire_buf_put_u64(wb, cfg->max_frame);
	put_field(wb, "max_clients", cfg->max_clients);
	put_field(wb, "max_clients_per_uid", cfg->max_clients_per_uid);
	put_field(wb, "max_subs", cfg->max_subs);
	put_field(wb, "queue_limit", cfg->queue_limit);
	put_field(wb, "max_pending", cfg->max_pending);
	put_field(wb, "max_retained", cfg->max_retained);
	put_field(wb, "max_retained_bytes", cfg->max_retained_bytes);
	put_field(wb, "max_retained_bytes_per_uid", cfg->max_retained_bytes_per_uid);
	put_field(wb, "handshake_timeout_ms", cfg->handshake_timeout_ms);
	put_field(wb, "idle_timeout_ms", cfg->idle_timeout_ms);
	put_field(wb, "request_timeout_ms", cfg->request_timeout_ms);
	put_field(wb, "max_request_timeout_ms", cfg->max_request_timeout_ms);
	wire_buf_puts(wb, "}");
}

void introspect_build_stats(struct broker *b, struct wire_buf *wb, const struct wire_value *id)
{
	const struct broker_stats *s = &b->stats;

	begin(wb, "stats", id);
	put_field(wb, "uptime_ms", loop_now(b->loop) - b->start_ms);
	put_field(wb, "clients", broker_active_clients(b));
	put_field(wb, "subscriptions", b->router.nsubs);
	put_field(wb, "retained", b->retained.count);
	put_field(wb, "retained_bytes", b->retained.bytes);
	put_field(wb, "frames_in", s->frames_in);
	put_field(wb, "msgs_routed", s->msgs_routed);
	put_field(wb, "deliveries", s->deliveries);
	put_field(wb, "bytes_in", s->bytes_in);
	put_field(wb, "bytes_out", s->bytes_out);
	put_field(wb, "slow_consumer_disconnects", s->slow_consumers);
	put_field(wb, "requests_pending", b->requests_pending);
	put_field(wb, "requests_timed_out", s->requests_timed_out);
	put_field(wb, "replies_dropped", s->replies_dropped);
	put_field(wb, "errors_sent", s->errors);
	put_field(wb, "connections", s->connections);
	put_field(wb, "connections_refused", s->rejected);
	put_field(wb, "handshake_failures", s->handshake_fail);
	put_field(wb, "dgram_in", s->dgram_in);
	put_field(wb, "dgram_dropped", s->dgram_bad + s->dgram_too_large);
	put_field(wb, "http_requests", s->http_requests);
	put_field(wb, "dropped", s->dropped);
	put_field(wb, "forbidden", s->forbidden);
	put_field(wb, "limit_reached", s->limit_reached);
	put_field(wb, "idle_timeouts", s->idle_timeouts);
	put_limits(wb, &b->cfg);
	wire_buf_puts(wb, "}\n");
}

void introspect_stats(struct client *c, const struct wire_value *id)
{
	struct wire_buf wb;

	wire_buf_init(&wb, FRAME_HEADROOM);
	introspect_build_stats(c->b, &wb, id);
	client_queue_buf(c, &wb);
}

static void put_client(struct wire_buf *wb, const struct client *x, bool first)
{
	char pattern[TOPIC_MAX];
	char ids[96];
	struct sub *s;
	bool f = true;

	wire_buf_puts(wb, first ? "{\"name\":" : ",{\"name\":");
	wire_buf_put_jstr(wb, x->name.name, x->name.len);
	snprintf(ids, sizeof(ids), ",\"pid\":%d,\"uid\":%u,\"gid\":%u", (int)x->pid,
		 (unsigned)x->uid, (unsigned)x->gid);
	wire_buf_puts(wb, ids);
	put_field(wb, "since_ms", x->since_ms);
	wire_buf_puts(wb, ",\"subs\":[");
	list_for_each_entry(s, &x->subs.subs, owner_link) {
		size_t n = router_sub_pattern(s, pattern, sizeof(pattern));
		if (!f)
			wire_buf_puts(wb, ",");
		wire_buf_put_jstr(wb, pattern, n);
		f = false;
	}
	wire_buf_puts(wb, "]");
	put_field(wb, "queued_bytes", x->out.bytes);
	put_field(wb, "frames_in", x->frames_in);
	put_field(wb, "frames_out", x->frames_out);
	put_field(wb, "dropped", x->dropped);
	wire_buf_puts(wb, x->behind ? ",\"behind\":true" : ",\"behind\":false");
	wire_buf_puts(wb, x->monitor ? ",\"monitor\":true}" : ",\"monitor\":false}");
}

void introspect_build_clients(struct broker *b, struct wire_buf *wb, const struct wire_value *id)
{
	struct client *x;
	bool first = true;

	begin(wb, "clients", id);
	wire_buf_puts(wb, ",\"clients\":[");
	list_for_each_entry(x, &b->clients, link) {
		if (!client_active(x))
			continue;
		put_client(wb, x, first);
		first = false;
	}
	wire_buf_puts(wb, "]}\n");
}

void introspect_clients(struct client *c, const struct wire_value *id)
{
	struct wire_buf wb;

	wire_buf_init(&wb, FRAME_HEADROOM);
	introspect_build_clients(c->b, &wb, id);
	client_queue_buf(c, &wb);
}
