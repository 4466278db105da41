/*
 * Ops of protocol v1 (docs/protocol.md is the contract; keep them in step).
 *
 * Checks run in a fixed order so every client sees the same error for the
 * same frame: JSON validity, object, id type, op, then the op's fields.
 * Errors echo the id once it is known to be valid. Payloads (data) are
 * never parsed further than the scanner's validation: their byte span is
 * copied into the outgoing msg frame, built once per publish and shared.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "client.h"
#include "log.h"
#include "topic.h"

struct publish {
	struct broker *b;
	struct frame *f;
	uint64_t seq;
	uint64_t delivered;
};

static struct wire_raw raw_of(const struct wire_value *v)
{
	struct wire_raw r = { 0 };

	if (v && v->type != WIRE_T_ABSENT) {
		r.p = v->p;
		r.len = v->len;
	}
	return r;
}

/* Printable excerpt of a (short) string for an error message. */
static const char *excerpt(const char *s, size_t n, char *buf, size_t cap)
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
 * too long / not decodable: code_bad, when given).
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

static void send_ok(struct client *c, const struct wire_value *id, const uint64_t *delivered)
{
	struct wire_buf b;

	if (id->type == WIRE_T_ABSENT)
		return;
	wire_buf_init(&b, FRAME_HEADROOM);
	wire_build_ok(&b, raw_of(id), delivered);
	client_queue_buf(c, &b);
}

static void handshake_fail(struct client *c, const struct wire_value *id, const char *code,
			   const char *extra, const char *msg)
{
	c->b->stats.handshake_fail++;
	client_error_extra(c, id, code, extra, "%s", msg);
	client_linger(c, true);
}

static bool proto_supported(const struct wire_value *v)
{
	char num[64];

	if (v->type != WIRE_T_NUMBER || v->len >= sizeof(num))
		return false;
	memcpy(num, v->p, v->len);
	num[v->len] = '\0';
	return strtod(num, NULL) == WIRE_PROTO;
}

static void do_hello(struct client *c, int scan, const struct wire_env *env,
		     const struct wire_err *err)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *name = &env->f[WF_NAME];
	char msg[160], nbuf[WIRE_NAME_MAX];
	const char *s;
	size_t n;
	struct wire_buf wb;
	int r;

	if (scan == WIRE_E_JSON) {
		snprintf(msg, sizeof(msg), "expected a hello first; invalid JSON at byte %zu: %s",
			 err->offset, err->reason);
		handshake_fail(c, NULL, "handshake_required", NULL, msg);
		return;
	}
	if (scan != 0) {
		handshake_fail(c, NULL, "handshake_required", NULL,
			       "expected {\"op\":\"hello\",\"proto\":1} as the first frame");
		return;
	}
	if (id->type != WIRE_T_ABSENT && id->type != WIRE_T_NUMBER && id->type != WIRE_T_STRING) {
		handshake_fail(c, NULL, "handshake_required", NULL,
			       "field 'id' must be a number or a string");
		return;
	}
	if (!wire_value_is(&env->f[WF_OP], "hello")) {
		/* a well-formed frame with a valid id gets it echoed, as every error does */
		handshake_fail(c, id, "handshake_required", NULL,
			       "expected {\"op\":\"hello\",\"proto\":1} as the first frame");
		return;
	}
	if (!proto_supported(&env->f[WF_PROTO])) {
		handshake_fail(c, id, "unsupported_proto", "\"supported\":[1]",
			       env->f[WF_PROTO].type == WIRE_T_ABSENT
				       ? "missing field 'proto'; supported versions: [1]"
				       : "unsupported protocol version; supported versions: [1]");
		return;
	}
	if (name->type != WIRE_T_ABSENT) {
		if (name->type != WIRE_T_STRING || wire_string(name, nbuf, sizeof(nbuf), &s, &n) ||
		    !wire_name_valid(s, n)) {
			handshake_fail(c, id, "bad_name", NULL,
				       "name must be a string matching [A-Za-z0-9._-]{1,64}");
			return;
		}
		r = registry_add(&b->registry, &c->name, s, n);
		if (r == REGISTRY_E_TAKEN) {
			char ex[80];
			snprintf(msg, sizeof(msg), "name '%s' is already connected",
				 excerpt(s, n, ex, sizeof(ex)));
			handshake_fail(c, id, "name_taken", NULL, msg);
			return;
		}
	} else {
		r = registry_add_anon(&b->registry, &c->name);
	}
	if (r < 0) {
		client_close(c, "out of memory");
		return;
	}
	c->state = CLIENT_ACTIVE;
	loop_timer_cancel(&c->timer);
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_welcome(&wb, raw_of(id), c->name.name, c->name.len, b->version,
			   b->cfg.max_frame);
	client_queue_buf(c, &wb);
	log_debug("hello conn=%llu client=%s pid=%d uid=%u", (unsigned long long)c->serial,
		  c->name.name, (int)c->pid, (unsigned)c->uid);
}

static void deliver(void *owner, void *ud)
{
	struct client *c = owner;
	struct publish *p = ud;

	/* one delivery per client, however many of its patterns match */
	if (c->seq == p->seq || !client_active(c))
		return;
	c->seq = p->seq;
	if (client_queue(c, p->f))
		p->delivered++;
}

static void do_pub(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID];
	char tbuf[TOPIC_MAX];
	const char *t, *why;
	size_t tn;
	struct wire_buf wb;
	struct publish p = { .b = b };

	if (string_field(c, env, WF_TOPIC, tbuf, sizeof(tbuf), &t, &tn, "bad_topic") < 0)
		return;
	why = topic_check_name(t, tn);
	if (why) {
		client_error(c, id, "bad_topic", "%s", why);
		return;
	}
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_msg(&wb, t, tn, c->name.name, c->name.len, NULL, 0, raw_of(&env->f[WF_DATA]));
	p.f = frame_from_buf(&wb);
	if (!p.f) {
		client_close(c, "out of memory");
		return;
	}
	p.seq = ++b->publish_seq;
	router_match(&b->router, t, tn, deliver, &p);
	frame_unref(p.f);
	b->stats.published++;
	b->stats.delivered += p.delivered;
	/* the publisher may have been dropped as a slow consumer of its own message */
	if (client_active(c))
		send_ok(c, id, &p.delivered);
}

static void do_sub(struct client *c, const struct wire_env *env, bool sub)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID];
	char tbuf[TOPIC_MAX];
	const char *t, *why;
	size_t tn;
	int r;

	if (string_field(c, env, WF_TOPIC, tbuf, sizeof(tbuf), &t, &tn, "bad_topic") < 0)
		return;
	why = topic_check_pattern(t, tn);
	if (why) {
		client_error(c, id, "bad_topic", "%s", why);
		return;
	}
	if (sub)
		r = router_subscribe(&b->router, &c->subs, c, t, tn);
	else
		r = router_unsubscribe(&b->router, &c->subs, t, tn);
	if (r < 0) {
		client_close(c, "out of memory");
		return;
	}
	/* subscriptions are a set: repeating a sub or unsub is not an error */
	send_ok(c, id, NULL);
}

static void do_send(struct client *c, const struct wire_env *env)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *to = &env->f[WF_TO];
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
	if (wire_string(to, nbuf, sizeof(nbuf), &s, &n) == 0)
		ne = registry_find(&b->registry, s, n);
	if (!ne) {
		if (!s) {
			s = to->p + 1;
			n = to->len - 2;
		}
		client_error(c, id, "no_such_client", "no client named '%s' is connected",
			     excerpt(s, n, ex, sizeof(ex)));
		return;
	}
	target = container_of(ne, struct client, name);
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_msg(&wb, NULL, 0, c->name.name, c->name.len, target->name.name,
		       target->name.len, raw_of(&env->f[WF_DATA]));
	f = frame_from_buf(&wb);
	if (!f) {
		client_close(c, "out of memory");
		return;
	}
	if (client_queue(target, f))
		b->stats.delivered++;
	frame_unref(f);
	b->stats.sent++;
	if (client_active(c))
		send_ok(c, id, NULL);
}

static void do_pong(struct client *c, const struct wire_value *id)
{
	struct wire_buf wb;

	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_pong(&wb, raw_of(id));
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
		do_hello(c, r, &env, &err);
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
		do_sub(c, &env, true);
	else if (wire_value_is(op, "unsub"))
		do_sub(c, &env, false);
	else if (wire_value_is(op, "send"))
		do_send(c, &env);
	else if (wire_value_is(op, "ping"))
		do_pong(c, id);
	else if (wire_value_is(op, "bye"))
		client_linger(c, true);
	else if (wire_value_is(op, "hello"))
		client_error(c, id, "bad_frame", "the handshake is already complete");
	else
		client_error(c, id, "unknown_op", "unknown op '%s'",
			     excerpt(op->p + 1, op->len - 2, ex, sizeof(ex)));
}
