/*
 * libjbus operations: subscribe, unsubscribe, publish, send, and the
 * frames of requests and replies. Each checks its arguments locally (so a
 * bad topic is an error value here, not a round trip), appends one frame
 * to the output buffer and returns.
 */
#include "conn.h"

#include <stdio.h>
#include <string.h>

#include "topic.h"

static struct lsub *lsub_find(jbus_conn *c, const char *pattern, size_t n)
{
	struct lsub *s;

	list_for_each_entry(s, &c->subs, link)
		if (!s->dead && s->len == n && memcmp(s->pattern, pattern, n) == 0)
			return s;
	return NULL;
}

/* Queue sub/unsub unless disconnected (the table is restored on reconnect). */
static int queue_topic_op(jbus_conn *c, const char *op, const char *pattern, size_t n,
			  enum jbus_on_full on_full, struct wire_raw id)
{
	size_t mark;
	int r;

	if (c->state == JBUS_STATE_DISCONNECTED)
		return c->reconnect ? 0 : -ENOTCONN;
	r = conn_queue_begin(c, &mark);
	if (r < 0)
		return r;
	wire_build_topic_op(&c->out, op, pattern, n, ops_on_full_name(on_full), id);
	return conn_queue_end(c, mark);
}

const char *ops_on_full_name(enum jbus_on_full on_full)
{
	/* disconnect is left out: the broker's default, and the frame every release sent */
	return on_full == JBUS_ON_FULL_DROP ? "drop" : on_full == JBUS_ON_FULL_LATEST ? "latest"
										       : NULL;
}

int ops_subscribe(jbus_conn *c, const char *pattern, enum jbus_on_full on_full, jbus_msg_fn fn,
		  void *userdata, struct wire_raw id)
{
	struct lsub *s;
	size_t n;
	int r;

	if (!c || !pattern || !fn || (unsigned)on_full > JBUS_ON_FULL_LATEST)
		return -EINVAL;
	n = strlen(pattern);
	if (topic_check_pattern(pattern, n))
		return JBUS_E_BAD_TOPIC;
	if (c->state == JBUS_STATE_DISCONNECTED && !c->reconnect)
		return -ENOTCONN;
	s = lsub_find(c, pattern, n);
	if (s) {
		s->fn = fn;
		s->ud = userdata;
		/* already known to the broker: it needs a sub again for a new on_full (the
		 * broker sets it on a repeated sub), a synchronous caller for its ok */
		if (!id.len && on_full == s->on_full)
			return 0;
		if (id.len) {
			memcpy(s->ok_id, id.p, id.len);
			s->ok_id[id.len] = '\0';
		}
		r = queue_topic_op(c, "sub", pattern, n, on_full, id);
		if (r == 0)
			s->on_full = on_full;
		return r;
	}
	s = malloc(sizeof(*s) + n + 1);
	if (!s)
		return -ENOMEM;
	s->fn = fn;
	s->ud = userdata;
	s->on_full = on_full;
	s->dead = false;
	s->literal = !memchr(pattern, '+', n) && !memchr(pattern, '#', n);
	s->len = n;
	memcpy(s->pattern, pattern, n + 1);
	/* always an id: its ok tells which retained messages are this pattern's */
	if (id.len) {
		memcpy(s->ok_id, id.p, id.len);
		s->ok_id[id.len] = '\0';
	} else {
		id = conn_next_id(c, s->ok_id);
	}
	r = queue_topic_op(c, "sub", pattern, n, on_full, id);
	if (r < 0) {
		free(s);
		return r;
	}
	list_add_tail(&s->link, &c->subs);
	return 0;
}

JBUS_EXPORT int jbus_subscribe(jbus_conn *c, const char *pattern, jbus_msg_fn fn, void *userdata)
{
	return jbus_subscribe_full(c, pattern, JBUS_ON_FULL_DISCONNECT, fn, userdata);
}

JBUS_EXPORT int jbus_subscribe_full(jbus_conn *c, const char *pattern, enum jbus_on_full on_full,
				    jbus_msg_fn fn, void *userdata)
{
	struct wire_raw none = { 0 };

	return ops_subscribe(c, pattern, on_full, fn, userdata, none);
}

JBUS_EXPORT int jbus_unsubscribe(jbus_conn *c, const char *pattern)
{
	struct wire_raw none = { 0 };
	size_t n;

	if (!c || !pattern)
		return -EINVAL;
	n = strlen(pattern);
	if (topic_check_pattern(pattern, n))
		return JBUS_E_BAD_TOPIC;
	if (!ops_forget_sub(c, pattern, n))
		return 0; /* a set: removing what is not there is no error */
	return queue_topic_op(c, "unsub", pattern, n, JBUS_ON_FULL_DISCONNECT, none);
}

bool ops_forget_sub(jbus_conn *c, const char *pattern, size_t n)
{
	struct lsub *s = lsub_find(c, pattern, n);

	if (!s)
		return false;
	if (c->depth) {
		s->dead = true; /* dispatch may be iterating the table */
	} else {
		if (c->replay_to == s)
			c->replay_to = NULL;
		list_del(&s->link);
		free(s);
	}
	return true;
}

/*
 * Line breaks can only be whitespace outside strings in valid JSON; they
 * are turned into spaces so the frame stays one line (*copy then holds the
 * text to free).
 */
int ops_data_raw(json_object *obj, const char *text, ssize_t len, struct wire_raw *out,
		 char **copy)
{
	bool line_break;

	*copy = NULL;
	if (obj) {
		size_t n;
		out->p = json_object_to_json_string_length(
			obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		if (!out->p)
			return -ENOMEM;
		out->len = n;
		return 0;
	}
	if (!text) {
		out->p = NULL;
		out->len = 0;
		return 0;
	}
	out->p = text;
	out->len = len < 0 ? strlen(text) : (size_t)len;
	if (wire_scan_data(out->p, out->len, &line_break, NULL) != 0)
		return JBUS_E_BAD_JSON;
	if (line_break) {
		char *p = malloc(out->len);
		if (!p)
			return -ENOMEM;
		for (size_t i = 0; i < out->len; i++)
			p[i] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
		out->p = *copy = p;
	}
	return 0;
}

int ops_pub_args(const char *topic, json_object *obj, const char *text, ssize_t len, size_t *tn,
		 struct wire_raw *data, char **copy)
{
	*copy = NULL;
	if (!topic)
		return -EINVAL;
	*tn = strlen(topic);
	if (topic_check_name(topic, *tn))
		return JBUS_E_BAD_TOPIC;
	return ops_data_raw(obj, text, len, data, copy);
}

int ops_publish(jbus_conn *c, const char *topic, json_object *obj, const char *text, ssize_t len,
		bool retain, struct wire_raw id)
{
	struct wire_raw data;
	char *copy;
	size_t mark, tn;
	int r;

	if (!c)
		return -EINVAL;
	r = ops_pub_args(topic, obj, text, len, &tn, &data, &copy);
	if (r < 0)
		return r;
	r = conn_queue_begin(c, &mark);
	if (r == 0) {
		wire_build_pub(&c->out, topic, tn, data, retain, id);
		r = conn_queue_end(c, mark);
	}
	free(copy);
	return r;
}

/* send, or req when timeout_ms is not NULL (*timeout_ms 0: the broker's default) */
static int queue_direct(jbus_conn *c, const char *to, json_object *obj, const char *text,
			ssize_t len, const uint64_t *timeout_ms, struct wire_raw id)
{
	struct wire_raw data;
	char *copy;
	size_t mark, n;
	int r;

	if (!c || !to)
		return -EINVAL;
	n = strlen(to);
	if (!wire_name_valid(to, n))
		return JBUS_E_BAD_NAME;
	r = ops_data_raw(obj, text, len, &data, &copy);
	if (r < 0)
		return r;
	r = conn_queue_begin(c, &mark);
	if (r == 0) {
		if (timeout_ms)
			wire_build_req(&c->out, to, n, data, *timeout_ms, id);
		else
			wire_build_send(&c->out, to, n, data, id);
		r = conn_queue_end(c, mark);
	}
	free(copy);
	return r;
}

int ops_send(jbus_conn *c, const char *to, json_object *obj, const char *text, ssize_t len,
	     struct wire_raw id)
{
	return queue_direct(c, to, obj, text, len, NULL, id);
}

int ops_req(jbus_conn *c, const char *to, const char *text, ssize_t len, uint64_t timeout_ms,
	    struct wire_raw id)
{
	return queue_direct(c, to, NULL, text, len, &timeout_ms, id);
}

int ops_reply(jbus_conn *c, unsigned long long request_id, const char *text, ssize_t len,
	      const char *code, const char *message)
{
	struct wire_raw data = { 0 }, none = { 0 }, id;
	struct wire_env env;
	char *copy = NULL, idbuf[24];
	size_t mark;
	int r;

	if (!c || !request_id || (code && !*code))
		return -EINVAL;
	if (!code && (r = ops_data_raw(NULL, text, len, &data, &copy)) < 0)
		return r;
	r = conn_queue_begin(c, &mark);
	if (r == 0) {
		id.p = idbuf;
		id.len = (size_t)snprintf(idbuf, sizeof(idbuf), "%llu", request_id);
		wire_build_reply(&c->out, id, NULL, 0, data, code, message, none);
		/* the strings are the caller's: the broker would refuse the frame as bad_json */
		if (code && !wire_buf_failed(&c->out) &&
		    wire_scan(c->out.p + mark, c->out.len - mark - 1, &env, NULL) != 0) {
			c->out.len = mark;
			r = JBUS_E_BAD_JSON;
		} else {
			r = conn_queue_end(c, mark);
		}
	}
	free(copy);
	return r;
}

JBUS_EXPORT int jbus_publish(jbus_conn *c, const char *topic, json_object *data)
{
	struct wire_raw none = { 0 };

	return ops_publish(c, topic, data, NULL, 0, false, none);
}

JBUS_EXPORT int jbus_publish_text(jbus_conn *c, const char *topic, const char *json, ssize_t len)
{
	struct wire_raw none = { 0 };

	return ops_publish(c, topic, NULL, json, len, false, none);
}

JBUS_EXPORT int jbus_publish_text_ex(jbus_conn *c, const char *topic, const char *json,
				     ssize_t len, unsigned flags)
{
	struct wire_raw none = { 0 };

	if (flags & ~JBUS_PUB_RETAIN)
		return -EINVAL;
	return ops_publish(c, topic, NULL, json, len, flags & JBUS_PUB_RETAIN, none);
}

JBUS_EXPORT int jbus_send(jbus_conn *c, const char *to, json_object *data)
{
	struct wire_raw none = { 0 };

	return ops_send(c, to, data, NULL, 0, none);
}

JBUS_EXPORT int jbus_send_text(jbus_conn *c, const char *to, const char *json, ssize_t len)
{
	struct wire_raw none = { 0 };

	return ops_send(c, to, NULL, json, len, none);
}

int ops_simple(jbus_conn *c, const char *op, struct wire_raw id)
{
	size_t mark;
	int r = conn_queue_begin(c, &mark);

	if (r < 0)
		return r;
	wire_build_simple(&c->out, op, id);
	return conn_queue_end(c, mark);
}

JBUS_EXPORT int jbus_json_check(const char *text, ssize_t len, size_t *offset, const char **reason)
{
	struct wire_err err = { 0, NULL };

	if (!text)
		return -EINVAL;
	if (wire_scan_value(text, len < 0 ? strlen(text) : (size_t)len, &err) == 0)
		return 0;
	if (offset)
		*offset = err.offset;
	if (reason)
		*reason = err.reason;
	return JBUS_E_BAD_JSON;
}
