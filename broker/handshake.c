/*
 * The handshake: the first frame must be a valid hello (docs/protocol.md,
 * "Handshake"). Every refusal sends one error frame and closes. A will is
 * part of the hello: an invalid one refuses the handshake too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "log.h"
#include "presence.h"
#include "topic.h"

static void handshake_fail(struct client *c, const struct wire_value *id, const char *code,
			   const char *extra, const char *msg)
{
	c->b->stats.handshake_fail++;
	client_error_extra(c, id, code, extra, "%s", msg);
	client_linger(c, true, END_ERROR);
}

/* A policy check during the handshake: a denial ends the connection too. */
static bool handshake_allowed(struct client *c, const struct wire_value *id, enum policy_op op,
			      const char *s, size_t n, const char *op_text)
{
	if (access_client(c, id, op, s, n, op_text))
		return true;
	c->b->stats.handshake_fail++;
	client_linger(c, true, END_ERROR);
	return false;
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

/* Validates the hello's will into w (allocated). NULL, or the reason. */
static const char *parse_will(const struct wire_value *v, struct will *w)
{
	struct wire_env env;
	char tbuf[TOPIC_MAX];
	const char *t;
	size_t tn;

	if (v->type != WIRE_T_OBJECT || wire_scan(v->p, v->len, &env, NULL) != 0)
		return "field 'will' must be an object";
	if (env.f[WF_TOPIC].type != WIRE_T_STRING ||
	    wire_string(&env.f[WF_TOPIC], tbuf, sizeof(tbuf), &t, &tn) != 0 ||
	    topic_check_name(t, tn))
		return "field 'will.topic' must be a valid topic to publish to";
	if (env.f[WF_RETAIN].type != WIRE_T_ABSENT && env.f[WF_RETAIN].type != WIRE_T_TRUE &&
	    env.f[WF_RETAIN].type != WIRE_T_FALSE)
		return "field 'will.retain' must be a boolean";
	w->retain = env.f[WF_RETAIN].type == WIRE_T_TRUE;
	w->topic = malloc(tn + 1);
	if (env.f[WF_DATA].type != WIRE_T_ABSENT)
		w->data = malloc(env.f[WF_DATA].len);
	if (!w->topic || (env.f[WF_DATA].type != WIRE_T_ABSENT && !w->data))
		return "out of memory";
	memcpy(w->topic, t, tn);
	w->topic[tn] = '\0';
	w->topic_len = tn;
	if (w->data) {
		memcpy(w->data, env.f[WF_DATA].p, env.f[WF_DATA].len);
		w->data_len = env.f[WF_DATA].len;
	}
	return NULL;
}

void handshake_frame(struct client *c, int scan, const struct wire_env *env,
		     const struct wire_err *err)
{
	struct broker *b = c->b;
	const struct wire_value *id = &env->f[WF_ID], *name = &env->f[WF_NAME];
	char msg[160], nbuf[WIRE_NAME_MAX];
	const char *s, *why;
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
	if (name->type != WIRE_T_ABSENT &&
	    (name->type != WIRE_T_STRING || wire_string(name, nbuf, sizeof(nbuf), &s, &n) ||
	     !wire_name_valid(s, n))) {
		handshake_fail(c, id, "bad_name", NULL,
			       "name must be a string matching [A-Za-z0-9._-]{1,64}");
		return;
	}
	if (env->f[WF_WILL].type != WIRE_T_ABSENT &&
	    (why = parse_will(&env->f[WF_WILL], &c->will))) {
		handshake_fail(c, id, "bad_frame", NULL, why);
		return;
	}
	if (name->type != WIRE_T_ABSENT &&
	    !handshake_allowed(c, id, POLICY_OWN, s, n, "taking the name"))
		return;
	if (c->will.topic && !handshake_allowed(c, id, POLICY_PUBLISH, c->will.topic,
						c->will.topic_len, "a will on"))
		return;
	if (name->type != WIRE_T_ABSENT) {
		r = registry_add(&b->registry, &c->name, s, n);
		if (r == REGISTRY_E_TAKEN) {
			char ex[80];
			snprintf(msg, sizeof(msg), "name '%s' is already connected",
				 dispatch_excerpt(s, n, ex, sizeof(ex)));
			handshake_fail(c, id, "name_taken", NULL, msg);
			return;
		}
	} else {
		r = registry_add_anon(&b->registry, &c->name);
	}
	if (r < 0) {
		client_close(c, "out of memory", END_ERROR);
		return;
	}
	c->state = CLIENT_ACTIVE;
	loop_timer_cancel(&c->timer);
	/* kept per session: a reload must not shorten what the welcome promised */
	c->idle_ms = (uint32_t)b->cfg.idle_timeout_ms;
	if (c->idle_ms)
		loop_timer_arm(b->loop, &c->timer, c->idle_ms);
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_build_welcome(&wb, wire_raw_of(id), c->name.name, c->name.len, b->version,
			   b->cfg.max_frame, c->idle_ms);
	client_queue_buf(c, &wb);
	log_debug("hello conn=%llu client=%s pid=%d uid=%u", (unsigned long long)c->serial,
		  c->name.name, (int)c->pid, (unsigned)c->uid);
	presence_connected(c);
}
