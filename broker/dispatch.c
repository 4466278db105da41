/*
 * Ops of protocol v1 (docs/protocol.md is the contract; keep them in step).
 *
 * Checks run in a fixed order so every client sees the same error for the
 * same frame: JSON validity, object, id type, op, then the op's fields.
 * Errors echo the id once it is known to be valid. Payloads (data) are
 * never parsed further than the scanner's validation: their byte span is
 * copied into the outgoing frame, built once per message and shared.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "client.h"
#include "access.h"
#include "introspect.h"
#include "lag.h"
#include "log.h"
#include "monitor.h"
#include "publish.h"
#include "request.h"
#include "retain.h"
#include "topic.h"

const char *dispatch_excerpt(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < cap; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (o + 4 >= cap && n > o) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * A required string field: 0 with s and n set (decoded, possibly into buf),
 * or -1 after sending the error (missing / not a string: bad_frame;
 * too long / not decodable: code_bad).
 */
static int string_field(struct client *c, const struct wire_env *env, enum wire_field f,
			char *buf, size_t cap, const char **s, size_t *n, const char *code_bad)
{
	const struct wire_value *v = &env->f[f];
	const struct wire_value *id = &env->f[WF_ID];
	int r;

	if (v->type == WIRE_T_ABSENT) {
		client_error(c, id, "bad_frame", "missing field '%s'", wire_field_name(f));
		return -1;
	}
	if (v->type != WIRE_T_STRING) {
		client_error(c, id, "bad_frame", "field '%s' must be a string", wire_field_name(f));
		return -1;
	}
	r = wire_string(v, buf, cap, s, n);
	if (r == WIRE_E_LENGTH) {
		client_error(c, id, code_bad, "field '%s' is longer than %zu bytes",
			     wire_field_name(f), cap);
		return -1;
	}
	if (r != 0) {
		client_error(c, id, code_bad,
			     "field '%s' contains \\u0000 or an unpaired surrogate escape",
			     wire_field_name(f));
		return -1;
	}
	return 0;
}

const char *dispatch_what(char *buf, size_t cap, const char *op, const char *s, size_t n)
{
	char ex[80];

	snprintf(buf, cap, "%s '%s'", op, dispatch_excerpt(s, n, ex, sizeof(ex)));
	return buf;
}

void dispatch_ok(struct client *c, const struct wire_value *id, const uint64_t *delivered)
{
	struct wire_buf b;

	if (id->type == WIRE_T_ABSENT)
		return;
	wire_buf_init(&b, FRAME_HEADROOM);
	wire_build_ok(&b, wire_raw_of(id), delivered);
	client_queue_buf(c, &b);
}

/* limit_reached for a pub delivered live but not retained (code: RETAIN_E_*). */
static void not_retained(struct client *c, const struct wire_value *id, int code,
			 int64_t delivered)
{
	const struct retain_store *rs = &c->b->retained;
	const char *limit = retain_limit_name(code);
	char extra[64];
	size_t bound = code == RETAIN_E_MAX_COUNT ? rs->max_count
		       : code == RETAIN_E_MAX_BYTES ? rs->max_bytes
						    : rs->max_bytes_per_uid;

	c->b->stats.limit_reached++;
	snprintf(extra, sizeof(extra), "\"limit\":\"%s\"", limit);
	client_error_extra(c, id, "limit_reached", extra,
			   "delivered to %lld clients but not retained: %s (%zu) reached%s",
			   (long long)delivered, limit, bound,
			   code == RETAIN_E_MAX_UID_BYTES ? " for this uid" : "");
}

static void do_pub(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *retain = &env->f[WF_RETAIN];
	struct wire_raw data = wire_raw_of(&env->f[WF_DATA]);
	char tbuf[TOPIC_MAX];
	const char *t, *why;
	size_t tn;
	int64_t delivered;
	int stored = 0;

	if (string_field(c, env, WF_TOPIC, tbuf, sizeof(tbuf), &t, &tn, "bad_topic") < 0)
		return;
	why = topic_check_name(t, tn);
	if (why) {
		client_error(c, id, "bad_topic", "%s", why);
		return;
	}
	if (retain->type != WIRE_T_ABSENT && retain->type != WIRE_T_TRUE &&
	    retain->type != WIRE_T_FALSE) {
		client_error(c, id, "bad_frame", "field 'retain' must be a boolean");
		return;
	}
	if (!access_client(c, id, POLICY_PUBLISH, t, tn, "pub to"))
		return;
	if (retain->type == WIRE_T_TRUE)
		stored = retain_set(&b->retained, t, tn, c->name.name, c->name.len, c->uid, data);
	if (stored < 0) {
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	/* a refused store is still delivered live; only the answer differs */
	delivered = publish_route(b, origin_of(c), t, tn, data, "pub");
	if (delivered < 0) {
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	b->stats.msgs_routed++;
	/* the publisher may have been dropped as a slow consumer of its own message */
	if (!client_active(c))
		return;
	if (stored > 0)
		not_retained(c, id, stored, delivered);
	else
		dispatch_ok(c, id, &(uint64_t){ (uint64_t)delivered });
}

/* The pattern of a sub or unsub: 0, or -1 after sending the error. */
static int pattern_field(struct client *c, const struct wire_env *env, char *tbuf,
			 const char **t, size_t *tn)
{
	const char *why;

	if (string_field(c, env, WF_TOPIC, tbuf, TOPIC_MAX, t, tn, "bad_topic") < 0)
		return -1;
	why = topic_check_pattern(*t, *tn);
	if (why) {
		client_error(c, &env->f[WF_ID], "bad_topic", "%s", why);
		return -1;
	}
	return 0;
}

/* on_full of a sub: absent is disconnect; -1 after sending the error. */
static int on_full_field(struct client *c, const struct wire_env *env)
{
	const struct wire_value *v = &env->f[WF_ON_FULL];

	if (v->type == WIRE_T_ABSENT || wire_value_is(v, "disconnect"))
		return SUB_DISCONNECT;
	if (wire_value_is(v, "drop"))
		return SUB_DROP;
	if (wire_value_is(v, "latest"))
		return SUB_LATEST;
	client_error(c, &env->f[WF_ID], "bad_frame",
		     "field 'on_full' must be \"disconnect\", \"drop\" or \"latest\"");
	return -1;
}

static void set_on_full(struct client *c, struct sub *s, int on_full)
{
	c->nlossy -= s->on_full != SUB_DISCONNECT;
	s->on_full = (uint8_t)on_full;
	c->nlossy += s->on_full != SUB_DISCONNECT;
}

static void do_sub(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID];
	char tbuf[TOPIC_MAX];
	const char *t;
	struct sub *s;
	size_t tn;
	int r, on_full;

	if (pattern_field(c, env, tbuf, &t, &tn) < 0)
		return;
	on_full = on_full_field(c, env);
	if (on_full < 0)
		return;
	if (!access_client(c, id, POLICY_SUBSCRIBE, t, tn, "sub to"))
		return;
	if (c->subs.count >= b->cfg.max_subs && !router_find(&b->router, &c->subs, t, tn)) {
		b->stats.limit_reached++;
		client_error_extra(c, id, "limit_reached", "\"limit\":\"max_subs\"",
				   "this client has max_subs (%u) subscriptions", b->cfg.max_subs);
		return;
	}
	r = router_subscribe(&b->router, &c->subs, c, t, tn, &s);
	if (r < 0) {
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	/* subscriptions are a set: repeating a sub is not an error; it sets on_full */
	if (s->on_full != on_full) {
		lag_sub_settle(c, s);
		if (!client_active(c))
			return;
		set_on_full(c, s, on_full);
	}
	dispatch_ok(c, id, NULL);
	/* a new pattern learns the current state right after its ok */
	if (r == 0)
		b->stats.deliveries += retain_replay(&b->retained, c, t, tn);
}

void dispatch_drop_sub(struct client *c, struct sub *s)
{
	/* what it lost or kept goes with it: no dropped notice follows */
	lag_sub_gone(c, s);
	set_on_full(c, s, SUB_DISCONNECT);
	router_remove(&c->b->router, &c->subs, s);
}

static void do_unsub(struct client *c, const struct wire_env *env)
{
	const struct wire_value *id = &env->f[WF_ID];
	char tbuf[TOPIC_MAX];
	const char *t;
	struct sub *s;
	size_t tn;

	if (pattern_field(c, env, tbuf, &t, &tn) < 0)
		return;
	s = router_find(&c->b->router, &c->subs, t, tn);
	if (s)
		dispatch_drop_sub(c, s);
	/* unsubscribing what is not subscribed is not an error either */
	dispatch_ok(c, id, NULL);
}

static void do_send(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *to = &env->f[WF_TO];
	struct wire_raw data = wire_raw_of(&env->f[WF_DATA]);
	struct name_entry *ne = NULL;
	char nbuf[WIRE_NAME_MAX], ex[80];
	const char *s = NULL;
	size_t n = 0;
	struct wire_buf wb;
	struct frame *f;
	struct client *target;

	if (to->type == WIRE_T_ABSENT) {
		client_error(c, id, "bad_frame", "missing field 'to'");
		return;
	}
	if (to->type != WIRE_T_STRING) {
		client_error(c, id, "bad_frame", "field 'to' must be a string");
		return;
	}
	/* a string that is no valid name cannot name a client either */
	if (wire_string(to, nbuf, sizeof(nbuf), &s, &n) == 0) {
		if (!access_client(c, id, POLICY_SEND, s, n, "send to"))
			return;
		ne = registry_find(&b->registry, s, n);
	}
	if (!ne) {
		if (!s) {
			s = to->p + 1;
			n = to->len - 2;
		}
		client_error(c, id, "no_such_client", "no client named '%s' is connected",
			     dispatch_excerpt(s, n, ex, sizeof(ex)));
		return;
	}
	target = container_of(ne, struct client, name);
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_msg(&wb, NULL, 0, c->name.name, c->name.len, target->name.name,
		       target->name.len, data);
	f = frame_from_buf(&wb);
	if (!f) {
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	bool queued = client_queue(target, f);
	if (queued)
		b->stats.deliveries++;
	/* "to" lists who it was queued to: not a target it just made a slow consumer */
	monitor_routed(b, "send", origin_of(c), &target, queued, NULL, 0, data, (struct wire_raw){ 0 });
	frame_unref(f);
	b->stats.msgs_routed++;
	if (client_active(c))
		dispatch_ok(c, id, NULL);
}

static void do_pong(struct client *c, const struct wire_value *id)
{
	struct wire_buf wb;

	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_pong(&wb, wire_raw_of(id));
	client_queue_buf(c, &wb);
}

void dispatch_frame(struct client *c, const char *p, size_t n)
{
	struct wire_env env;
	struct wire_err err;
	const struct wire_value *id, *op;
	int r = wire_scan(p, n, &env, &err);
	char ex[80];

	if (c->state == CLIENT_HANDSHAKE) {
		handshake_frame(c, r, &env, &err);
		return;
	}
	if (r == WIRE_E_JSON) {
		client_error(c, NULL, "bad_json", "invalid JSON at byte %zu: %s", err.offset,
			     err.reason);
		return;
	}
	if (r != 0) {
		client_error(c, NULL, "bad_frame", "frame must be a JSON object");
		return;
	}
	id = &env.f[WF_ID];
	if (id->type != WIRE_T_ABSENT && id->type != WIRE_T_NUMBER && id->type != WIRE_T_STRING) {
		client_error(c, NULL, "bad_frame", "field 'id' must be a number or a string");
		return;
	}
	op = &env.f[WF_OP];
	if (op->type == WIRE_T_ABSENT) {
		client_error(c, id, "bad_frame", "missing field 'op'");
		return;
	}
	if (op->type != WIRE_T_STRING) {
		client_error(c, id, "bad_frame", "field 'op' must be a string");
		return;
	}
	if (wire_value_is(op, "pub"))
		do_pub(c, &env);
	else if (wire_value_is(op, "sub"))
		do_sub(c, &env);
	else if (wire_value_is(op, "unsub"))
		do_unsub(c, &env);
	else if (wire_value_is(op, "send"))
		do_send(c, &env);
	else if (wire_value_is(op, "req"))
		request_handle_req(c, &env);
	else if (wire_value_is(op, "reply"))
		request_handle_reply(c, &env);
	else if (wire_value_is(op, "ping"))
		do_pong(c, id);
	else if (wire_value_is(op, "bye"))
		client_linger(c, true, END_BYE);
	else if (wire_value_is(op, "stats")) {
		if (access_client(c, id, POLICY_INTROSPECT, NULL, 0, "stats"))
			introspect_stats(c, id);
	} else if (wire_value_is(op, "clients")) {
		if (access_client(c, id, POLICY_INTROSPECT, NULL, 0, "clients"))
			introspect_clients(c, id);
	}
	else if (wire_value_is(op, "monitor"))
		monitor_handle(c, id);
	else if (wire_value_is(op, "hello"))
		client_error(c, id, "bad_frame", "the handshake is already complete");
	else
		client_error(c, id, "unknown_op", "unknown op '%s'",
			     dispatch_excerpt(op->p + 1, op->len - 2, ex, sizeof(ex)));
}
