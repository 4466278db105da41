/*
 * Frames from the broker, once conn.c has cut them out of the input: what
 * each op does (msg to the subscriptions, ok/pong/error to the pending
 * synchronous call, welcome to the state, dropped to its callback; req,
 * reply and mon go on to request.c), and the jbus_msg a callback receives.
 *
 * A published message in the exact layout the broker builds is read by
 * wire_msg_parse() without a second scan of its data, which the broker
 * validated; every other frame goes through wire_scan() whole.
 *
 * Retained messages replayed after a sub belong to that sub alone: every
 * sub the library sends carries an id, its ok names the pattern, and the
 * retained msg frames right after that ok run that pattern's callback
 * only, though other patterns of the connection may match them too.
 */
#include "conn.h"

#include <stdio.h>
#include <string.h>

#include "topic.h"

static void deliver(jbus_conn *c, struct jbus_msg *m)
{
	bool matched = false;
	unsigned gen = c->gen;
	struct lsub *s;

	if (m->topic) {
		size_t tn = m->topic_len;
		list_for_each_entry(s, &c->subs, link) {
			if (s->dead)
				continue;
			if (s->literal ? s->len != tn || memcmp(s->pattern, m->topic, tn) != 0
				       : !topic_match(s->pattern, s->len, m->topic, tn))
				continue;
			/* a replay answers one sub: the other patterns had theirs */
			if (m->retained && c->replay_to && s != c->replay_to)
				continue;
			matched = true;
			s->fn(c, m, s->ud);
			if (c->free_pending || c->gen != gen)
				break;
		}
	}
	if (!matched && c->on_msg && !c->free_pending && c->gen == gen)
		c->on_msg(c, m, c->msg_ud);
}

int frame_copy_string(const struct wire_value *v, char *buf, size_t cap, const char **out)
{
	const char *s;
	size_t n;

	if (v->type != WIRE_T_STRING || wire_string(v, buf, cap - 1, &s, &n) != 0)
		return JBUS_E_PROTOCOL;
	if (s != buf)
		memcpy(buf, s, n);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int frame_msg_init(jbus_conn *c, struct jbus_msg *m, const struct wire_env *env, const char *line,
		   size_t n)
{
	const struct wire_value *d = &env->f[WF_DATA];

	*m = (struct jbus_msg){ .c = c, .frame = line, .frame_len = n };
	m->retained = env->f[WF_RETAINED].type == WIRE_T_TRUE;
	if (env->f[WF_FROM].type != WIRE_T_ABSENT &&
	    frame_copy_string(&env->f[WF_FROM], c->from_buf, sizeof(c->from_buf), &m->from) < 0)
		return JBUS_E_PROTOCOL;
	if (env->f[WF_TOPIC].type != WIRE_T_ABSENT) {
		if (frame_copy_string(&env->f[WF_TOPIC], c->topic_buf, sizeof(c->topic_buf),
				      &m->topic) < 0)
			return JBUS_E_PROTOCOL;
		m->topic_len = strlen(m->topic);
	}
	if (env->f[WF_TO].type == WIRE_T_STRING &&
	    frame_copy_string(&env->f[WF_TO], c->to_buf, sizeof(c->to_buf), &m->to) < 0)
		return JBUS_E_PROTOCOL;
	if (d->type == WIRE_T_ABSENT) {
		m->data_raw = "null";
		m->data_len = 4;
	} else {
		m->data_raw = d->p;
		m->data_len = d->len;
	}
	return 0;
}

void frame_msg_done(struct jbus_msg *m)
{
	if (m->json)
		json_object_put(m->json);
}

static int on_msg_frame(jbus_conn *c, const struct wire_env *env, const char *line, size_t n,
			struct lsub *replay)
{
	struct jbus_msg m;

	if (!env->f[WF_FROM].type || frame_msg_init(c, &m, env, line, n) < 0)
		return JBUS_E_PROTOCOL;
	if (m.retained)
		c->replay_to = replay; /* more replays for the same sub may follow */
	deliver(c, &m);
	frame_msg_done(&m);
	return 0;
}

/* Copies s[0..n) with a NUL into buf (cap bytes): false when it does not fit. */
static bool copy_plain(char *buf, size_t cap, const char *s, size_t n, const char **out)
{
	if (n >= cap)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = buf;
	return true;
}

/*
 * A msg frame in the broker's own layout (wire_msg_parse): its strings
 * are plain, so the copies are the decoding; the data stays unscanned.
 */
static int on_plain_msg(jbus_conn *c, const struct wire_msg *w, const char *line, size_t n)
{
	struct jbus_msg m = { .c = c, .frame = line, .frame_len = n, .topic_len = w->topic_len,
			      .data_raw = w->data, .data_len = w->data_len };

	if (!copy_plain(c->topic_buf, sizeof(c->topic_buf), w->topic, w->topic_len, &m.topic) ||
	    !copy_plain(c->from_buf, sizeof(c->from_buf), w->from, w->from_len, &m.from))
		return JBUS_E_PROTOCOL;
	deliver(c, &m);
	frame_msg_done(&m);
	return 0;
}

/* Does the frame's id answer the pending synchronous call? */
static bool is_sync_reply(const jbus_conn *c, const struct wire_value *id)
{
	size_t n = strlen(c->sync.id);

	return c->sync.active && !c->sync.done && id->type == WIRE_T_NUMBER && id->len == n &&
	       memcmp(id->p, c->sync.id, n) == 0;
}

static void record_error(jbus_conn *c, const struct wire_env *env)
{
	const char *s;

	if (frame_copy_string(&env->f[WF_CODE], c->err_code, sizeof(c->err_code), &s) < 0)
		snprintf(c->err_code, sizeof(c->err_code), "unknown");
	if (frame_copy_string(&env->f[WF_MESSAGE], c->err_msg, sizeof(c->err_msg), &s) < 0)
		c->err_msg[0] = '\0';
	c->has_err = true;
}

static int handshake_result(const char *code)
{
	if (!strcmp(code, "name_taken"))
		return JBUS_E_NAME_TAKEN;
	if (!strcmp(code, "bad_name"))
		return JBUS_E_BAD_NAME;
	if (!strcmp(code, "limit_reached"))
		return JBUS_E_LIMIT;
	return JBUS_E_HANDSHAKE;
}

static int on_error_frame(jbus_conn *c, const struct wire_env *env, const char *line, size_t n)
{
	const struct wire_value *id = &env->f[WF_ID];

	if (is_sync_reply(c, id)) {
		record_error(c, env);
		c->sync.done = true;
		c->sync.result = JBUS_E_BROKER;
		return 0;
	}
	if (req_error(c, env, line, n))
		return 0;
	if (c->state == JBUS_STATE_CONNECTING) {
		/* the broker closes after this; the EOF reports it */
		record_error(c, env);
		c->hs_result = handshake_result(c->err_code);
		return 0;
	}
	/* a policy reload took a subscription back: a reconnect must not ask for it again */
	if (id->type == WIRE_T_ABSENT && wire_value_is(&env->f[WF_CODE], "forbidden") &&
	    env->f[WF_TOPIC].type == WIRE_T_STRING) {
		const char *pat;

		if (frame_copy_string(&env->f[WF_TOPIC], c->topic_buf, sizeof(c->topic_buf),
				      &pat) == 0)
			ops_forget_sub(c, pat, strlen(pat));
	}
	if (c->on_error) {
		char code[64], msg[512], idbuf[128];
		const char *pc, *pm, *pid = NULL;
		if (frame_copy_string(&env->f[WF_CODE], code, sizeof(code), &pc) < 0)
			pc = "unknown";
		if (frame_copy_string(&env->f[WF_MESSAGE], msg, sizeof(msg), &pm) < 0)
			pm = "";
		if (id->type != WIRE_T_ABSENT && id->len < sizeof(idbuf)) {
			memcpy(idbuf, id->p, id->len);
			idbuf[id->len] = '\0';
			pid = idbuf;
		}
		c->on_error(c, pc, pm, pid, c->error_ud);
	}
	return 0;
}

static int on_welcome(jbus_conn *c, const struct wire_env *env)
{
	const struct wire_value *mf = &env->f[WF_MAX_FRAME];
	const char *s;

	if (frame_copy_string(&env->f[WF_NAME], c->name, sizeof(c->name), &s) < 0)
		return JBUS_E_PROTOCOL;
	c->max_frame = mf->type == WIRE_T_NUMBER ? strtoull(mf->p, NULL, 10) : 0;
	if (!wire_uint(&env->f[WF_IDLE_TIMEOUT_MS], &c->idle_ms))
		c->idle_ms = 0;
	c->last_out_ms = conn_now_ms();
	c->backoff_ms = CONN_BACKOFF_MIN_MS;
	/* conn_new returns after the welcome: what came with it waits for the
	 * caller's callbacks instead of being dispatched to none */
	if (c->pause_after_welcome) {
		c->pause_after_welcome = false;
		c->backlog = true;
	}
	conn_set_state(c, JBUS_STATE_CONNECTED);
	return 0;
}

/* The pattern whose sub this ok answers, if any: its retained messages follow. */
static struct lsub *sub_answered(jbus_conn *c, const struct wire_value *id)
{
	struct lsub *s;

	if (id->type != WIRE_T_NUMBER)
		return NULL;
	list_for_each_entry(s, &c->subs, link) {
		if (!s->dead && strlen(s->ok_id) == id->len && !memcmp(s->ok_id, id->p, id->len)) {
			s->ok_id[0] = '\0';
			return s;
		}
	}
	return NULL;
}

/*
 * {"op":"dropped","topic":<pattern>,"count":N}: a drop/latest subscription lost N
 * messages while the client was behind. Nothing is lost silently: without a dropped
 * callback the error callback hears of it, as an error with the code "dropped".
 */
static int on_dropped_frame(jbus_conn *c, const struct wire_env *env)
{
	uint64_t count;
	const char *pattern;

	if (frame_copy_string(&env->f[WF_TOPIC], c->topic_buf, sizeof(c->topic_buf), &pattern) ||
	    !wire_uint(&env->f[WF_COUNT], &count))
		return JBUS_E_PROTOCOL;
	if (c->on_dropped) {
		c->on_dropped(c, pattern, count, c->dropped_ud);
	} else if (c->on_error) {
		char msg[WIRE_TOPIC_MAX + 64];

		snprintf(msg, sizeof(msg), "dropped %llu message%s on '%s'", (unsigned long long)count,
			 count == 1 ? "" : "s", pattern);
		c->on_error(c, "dropped", msg, NULL, c->error_ud);
	}
	return 0;
}

/* ok and pong, and the answers of stats and clients, which carry data of their own */
static int on_answer(jbus_conn *c, const struct wire_env *env, const char *line, size_t n,
		     bool keep)
{
	const struct wire_value *d = &env->f[WF_DELIVERED];

	c->replay_to = sub_answered(c, &env->f[WF_ID]);
	if (!is_sync_reply(c, &env->f[WF_ID]))
		return 0;
	c->sync.delivered = d->type == WIRE_T_NUMBER ? strtoull(d->p, NULL, 10) : 0;
	c->sync.done = true;
	c->sync.result = 0;
	if (keep) {
		free(c->sync.answer);
		c->sync.answer = strndup(line, n);
		if (!c->sync.answer)
			c->sync.result = -ENOMEM;
	}
	return 0;
}

int frame_handle(jbus_conn *c, char *line, size_t n)
{
	struct lsub *replay = c->replay_to;
	struct wire_env env;
	struct wire_msg w;
	const struct wire_value *op;

	/* most frames are published messages: the broker's layout is read directly */
	if (wire_msg_parse(line, n, &w)) {
		line[n] = '\0';
		c->replay_to = NULL;
		return on_plain_msg(c, &w, line, n);
	}
	if (wire_scan(line, n, &env, NULL) != 0)
		return JBUS_E_PROTOCOL;
	op = &env.f[WF_OP];
	line[n] = '\0'; /* the '\n' (or '\r') is consumed: frames are handed out as C strings */
	c->replay_to = NULL; /* replays end with the first frame that is not one */
	if (wire_value_is(op, "msg"))
		return on_msg_frame(c, &env, line, n, replay);
	if (wire_value_is(op, "ok") || wire_value_is(op, "pong"))
		return on_answer(c, &env, line, n, false);
	if (wire_value_is(op, "stats") || wire_value_is(op, "clients"))
		return on_answer(c, &env, line, n, true);
	if (wire_value_is(op, "error"))
		return on_error_frame(c, &env, line, n);
	if (wire_value_is(op, "welcome"))
		return on_welcome(c, &env);
	if (wire_value_is(op, "dropped"))
		return on_dropped_frame(c, &env);
	return req_frame(c, op, &env, line, n);
}

/* section: messages */

JBUS_EXPORT const char *jbus_msg_topic(const jbus_msg *m)
{
	return m->topic;
}

JBUS_EXPORT const char *jbus_msg_from(const jbus_msg *m)
{
	return m->from;
}

JBUS_EXPORT const char *jbus_msg_to(const jbus_msg *m)
{
	return m->to;
}

JBUS_EXPORT const char *jbus_msg_data(const jbus_msg *m, size_t *len)
{
	struct jbus_msg *mm = (struct jbus_msg *)m;
	jbus_conn *c = m->c;

	if (!mm->data) {
		/* a copy: the span sits inside the frame, which stays whole for jbus_msg_frame */
		if (c->data_cap < m->data_len + 1) {
			char *p = realloc(c->data_buf, m->data_len + 1);
			if (!p)
				return NULL;
			c->data_buf = p;
			c->data_cap = m->data_len + 1;
		}
		memcpy(c->data_buf, m->data_raw, m->data_len);
		c->data_buf[m->data_len] = '\0';
		mm->data = c->data_buf;
	}
	if (len)
		*len = m->data_len;
	return m->data;
}

JBUS_EXPORT json_object *jbus_msg_json(const jbus_msg *m)
{
	struct jbus_msg *mm = (struct jbus_msg *)m;

	if (!mm->json) {
		size_t n;
		const char *d = jbus_msg_data(m, &n);
		json_tokener *tok = d ? json_tokener_new_ex(WIRE_MAX_DEPTH + 1) : NULL;
		if (!tok)
			return NULL;
		/* the NUL is part of the input: it ends a top-level number */
		mm->json = json_tokener_parse_ex(tok, d, (int)n + 1);
		json_tokener_free(tok);
	}
	return mm->json;
}

JBUS_EXPORT const char *jbus_msg_frame(const jbus_msg *m, size_t *len)
{
	if (len)
		*len = m->frame_len;
	return m->frame;
}

JBUS_EXPORT bool jbus_msg_retained(const jbus_msg *m)
{
	return m->retained;
}

JBUS_EXPORT unsigned long long jbus_msg_request_id(const jbus_msg *m)
{
	return m->request_id;
}

JBUS_EXPORT bool jbus_msg_error(const jbus_msg *m, const char **code, const char **message)
{
	return m && m->err_code && conn_error_out(m->err_code, m->err_msg, code, message);
}
