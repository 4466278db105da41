/*
 * Framing and frame building for protocol v1 (see wire.h, docs/protocol.md),
 * and the reading back of the msg layout the builder writes.
 *
 * Frames are built straight into a wire_buf whose headroom belongs to the
 * caller; sizes are reserved up front where a payload is large, so that a
 * published message is copied exactly once on its way out.
 */
#include "wire.h"

#include "jstr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wire_next_frame(const char *buf, size_t len, struct wire_cursor *cur, size_t max_frame,
		    const char **line, size_t *line_len)
{
	for (;;) {
		size_t start = cur->pos;
		size_t from = cur->scanned > start ? cur->scanned : start;
		const char *nl = from < len ? memchr(buf + from, '\n', len - from) : NULL;
		size_t end, n, i;

		if (!nl) {
			cur->scanned = len;
			/* max_frame bytes plus a CR may wait for their LF; more cannot fit */
			if (len - start > max_frame + 1)
				return WIRE_E_TOO_LARGE;
			return WIRE_E_MORE;
		}
		end = (size_t)(nl - buf);
		cur->pos = cur->scanned = end + 1;
		n = end - start;
		if (n && buf[end - 1] == '\r')
			n--;
		/* checked before the blank test, so the outcome does not depend
		 * on how the line arrived (a partial line is judged by length) */
		if (n > max_frame)
			return WIRE_E_TOO_LARGE;
		for (i = 0; i < n; i++) {
			char c = buf[start + i];
			if (c != ' ' && c != '\t' && c != '\r')
				break;
		}
		if (i == n)
			continue; /* blank line */
		*line = buf + start;
		*line_len = n;
		return 0;
	}
}

void wire_buf_init(struct wire_buf *b, size_t headroom)
{
	b->p = NULL;
	b->len = headroom;
	b->cap = 0;
	b->failed = false;
}

void wire_buf_free(struct wire_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

bool wire_buf_reserve(struct wire_buf *b, size_t more)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return false;
	if (more > SIZE_MAX - b->len)
		goto oom;
	want = b->len + more;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 128;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		goto oom;
	b->p = p;
	b->cap = cap;
	return true;
oom:
	b->failed = true;
	return false;
}

void wire_buf_put(struct wire_buf *b, const void *p, size_t n)
{
	if (!wire_buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void wire_buf_puts(struct wire_buf *b, const char *s)
{
	wire_buf_put(b, s, strlen(s));
}

void wire_buf_put_u64(struct wire_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	wire_buf_put(b, tmp + i, sizeof(tmp) - i);
}

/* 0: copy as is; otherwise the character after the backslash ('u': \u00XX). */
static const char esc_table[256] = {
	[0x00 ... 0x07] = 'u', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', [0x0b] = 'u',
	['\f'] = 'f', ['\r'] = 'r', [0x0e ... 0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
};

size_t wire_jstr_len(const char *s, size_t n)
{
	const char *end = s + n;
	size_t len = n + 2;

	/* from one byte to escape to the next, skipping the runs between */
	for (s = jstr_skip(s, end, false); s < end; s = jstr_skip(s + 1, end, false))
		len += esc_table[(unsigned char)*s] == 'u' ? 5 : 1;
	return len;
}

/* Writes s[0..n) as a JSON string of encoded length len (wire_jstr_len) at o; returns the end. */
static char *put_jstr_at(char *o, const char *s, size_t n, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *end = s + n, *q;

	*o++ = '"';
	if (len == n + 2) {
		/* nothing to escape: the common case, one copy */
		memcpy(o, s, n);
		o += n;
		*o++ = '"';
		return o;
	}
	for (q = jstr_skip(s, end, false); q < end; q = jstr_skip(s, end, false)) {
		unsigned char c = (unsigned char)*q;
		char e = esc_table[c];

		memcpy(o, s, (size_t)(q - s));
		o += q - s;
		s = q + 1;
		*o++ = '\\';
		*o++ = e;
		if (e == 'u') {
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	memcpy(o, s, (size_t)(end - s));
	o += end - s;
	*o++ = '"';
	return o;
}

void wire_buf_put_jstr(struct wire_buf *b, const char *s, size_t n)
{
	size_t len = wire_jstr_len(s, n);

	if (!wire_buf_reserve(b, len))
		return;
	b->len = (size_t)(put_jstr_at(b->p + b->len, s, n, len) - b->p);
}

static void put_id(struct wire_buf *b, struct wire_raw id)
{
	if (!id.len)
		return;
	wire_buf_puts(b, ",\"id\":");
	wire_buf_put(b, id.p, id.len);
}

/* member is the literal ',"key":' text; the value is escaped here */
static void put_str_member(struct wire_buf *b, const char *member, const char *s, size_t n)
{
	wire_buf_puts(b, member);
	wire_buf_put_jstr(b, s, n);
}

/* ,"data":<raw>, null when absent: a delivered data member is never missing */
static void put_data(struct wire_buf *b, struct wire_raw data)
{
	wire_buf_puts(b, ",\"data\":");
	if (data.len)
		wire_buf_put(b, data.p, data.len);
	else
		wire_buf_puts(b, "null");
}

void wire_build_ok(struct wire_buf *b, struct wire_raw id, const uint64_t *delivered)
{
	wire_buf_puts(b, "{\"op\":\"ok\"");
	put_id(b, id);
	if (delivered) {
		wire_buf_puts(b, ",\"delivered\":");
		wire_buf_put_u64(b, *delivered);
	}
	wire_buf_puts(b, "}\n");
}

void wire_build_error(struct wire_buf *b, struct wire_raw id, const char *code, const char *msg,
		      const char *extra)
{
	wire_buf_puts(b, "{\"op\":\"error\"");
	put_id(b, id);
	put_str_member(b, ",\"code\":", code, strlen(code));
	put_str_member(b, ",\"message\":", msg, strlen(msg));
	if (extra) {
		wire_buf_puts(b, ",");
		wire_buf_puts(b, extra);
	}
	wire_buf_puts(b, "}\n");
}

void wire_build_pong(struct wire_buf *b, struct wire_raw id)
{
	wire_buf_puts(b, "{\"op\":\"pong\"");
	put_id(b, id);
	wire_buf_puts(b, "}\n");
}

void wire_build_welcome(struct wire_buf *b, struct wire_raw id, const char *name, size_t name_len,
			const char *broker, uint64_t max_frame, uint64_t idle_timeout_ms)
{
	wire_buf_puts(b, "{\"op\":\"welcome\"");
	put_id(b, id);
	wire_buf_puts(b, ",\"proto\":1,\"name\":");
	wire_buf_put_jstr(b, name, name_len);
	put_str_member(b, ",\"broker\":", broker, strlen(broker));
	wire_buf_puts(b, ",\"max_frame\":");
	wire_buf_put_u64(b, max_frame);
	if (idle_timeout_ms) {
		wire_buf_puts(b, ",\"idle_timeout_ms\":");
		wire_buf_put_u64(b, idle_timeout_ms);
	}
	wire_buf_puts(b, "}\n");
}

static void build_msg(struct wire_buf *b, const char *topic, size_t topic_len, const char *from,
		      size_t from_len, const char *to, size_t to_len, struct wire_raw data,
		      const char *end);

void wire_build_msg(struct wire_buf *b, const char *topic, size_t topic_len, const char *from,
		    size_t from_len, const char *to, size_t to_len, struct wire_raw data)
{
	build_msg(b, topic, topic_len, from, from_len, to, to_len, data, "}\n");
}

void wire_build_msg_retained(struct wire_buf *b, const char *topic, size_t topic_len,
			     const char *from, size_t from_len, struct wire_raw data)
{
	build_msg(b, topic, topic_len, from, from_len, NULL, 0, data, WIRE_RETAINED_SUFFIX);
}

static char *put_lit_at(char *o, const char *lit, size_t n)
{
	memcpy(o, lit, n);
	return o + n;
}

#define PUT_LIT(o, lit) put_lit_at(o, lit, sizeof(lit) - 1)

/*
 * The frame every delivery shares: measured once, reserved once, written
 * with plain copies (the routing path builds one per published message).
 */
static void build_msg(struct wire_buf *b, const char *topic, size_t topic_len, const char *from,
		      size_t from_len, const char *to, size_t to_len, struct wire_raw data,
		      const char *end)
{
	static const char head[] = "{\"op\":\"msg\"";
	size_t tl = topic ? wire_jstr_len(topic, topic_len) : 0;
	size_t fl = wire_jstr_len(from, from_len), tol = to ? wire_jstr_len(to, to_len) : 0;
	size_t el = strlen(end);
	size_t need = sizeof(head) - 1 + (topic ? 9 + tl : 0) + 8 + fl + (to ? 6 + tol : 0) + 8 +
		      (data.len ? data.len : 4) + el;
	char *o;

	if (!wire_buf_reserve(b, need))
		return;
	o = PUT_LIT(b->p + b->len, head);
	if (topic) {
		o = PUT_LIT(o, ",\"topic\":");
		o = put_jstr_at(o, topic, topic_len, tl);
	}
	o = PUT_LIT(o, ",\"from\":");
	o = put_jstr_at(o, from, from_len, fl);
	if (to) {
		o = PUT_LIT(o, ",\"to\":");
		o = put_jstr_at(o, to, to_len, tol);
	}
	o = PUT_LIT(o, ",\"data\":");
	o = data.len ? put_lit_at(o, data.p, data.len) : PUT_LIT(o, "null");
	o = put_lit_at(o, end, el);
	b->len = (size_t)(o - b->p);
}

/* p is just past an opening quote: the closing quote of a plain string, or NULL. */
static const char *plain_string_end(const char *p, const char *end)
{
	const char *q = jstr_skip(p, end, true);

	return q < end && *q == '"' ? q : NULL;
}

#define LIT_LEN(lit) (sizeof(lit) - 1)

bool wire_msg_parse(const char *p, size_t n, struct wire_msg *m)
{
	static const char head[] = "{\"op\":\"msg\",\"topic\":\"", from[] = "\",\"from\":\"",
			  data[] = "\",\"data\":";
	/* the suffix of a replayed retained message, without its '\n' */
	const size_t rn = LIT_LEN(WIRE_RETAINED_SUFFIX) - 1;
	const char *end = p + n, *q;

	if (n < LIT_LEN(head) || memcmp(p, head, LIT_LEN(head)) != 0 || end[-1] != '}')
		return false;
	m->topic = p + LIT_LEN(head);
	q = plain_string_end(m->topic, end);
	if (!q || (size_t)(end - q) < LIT_LEN(from) || memcmp(q, from, LIT_LEN(from)) != 0)
		return false;
	m->topic_len = (size_t)(q - m->topic);
	m->from = q + LIT_LEN(from);
	q = plain_string_end(m->from, end);
	/* data and the closing brace: at least two bytes after the member name */
	if (!q || (size_t)(end - q) < LIT_LEN(data) + 2 || memcmp(q, data, LIT_LEN(data)) != 0)
		return false;
	m->from_len = (size_t)(q - m->from);
	m->data = q + LIT_LEN(data);
	m->data_len = (size_t)(end - 1 - m->data);
	/* no JSON value ends in ',"retained":true', so this suffix is the member */
	return m->data_len < rn || memcmp(end - rn, WIRE_RETAINED_SUFFIX, rn) != 0;
}

void wire_build_hello(struct wire_buf *b, const char *name, size_t name_len, struct wire_raw will)
{
	wire_buf_puts(b, "{\"op\":\"hello\",\"proto\":1");
	if (name) {
		put_str_member(b, ",\"name\":", name, name_len);
	}
	if (will.len) {
		wire_buf_puts(b, ",\"will\":");
		wire_buf_put(b, will.p, will.len);
	}
	wire_buf_puts(b, "}\n");
}

void wire_build_will(struct wire_buf *b, const char *topic, size_t topic_len, struct wire_raw data,
		     bool retain)
{
	wire_buf_puts(b, "{\"topic\":");
	wire_buf_put_jstr(b, topic, topic_len);
	if (data.len) {
		wire_buf_puts(b, ",\"data\":");
		wire_buf_put(b, data.p, data.len);
	}
	if (retain)
		wire_buf_puts(b, ",\"retain\":true");
	wire_buf_puts(b, "}");
}

void wire_build_topic_op(struct wire_buf *b, const char *op, const char *topic, size_t topic_len,
			 const char *on_full, struct wire_raw id)
{
	wire_buf_puts(b, "{\"op\":\"");
	wire_buf_puts(b, op);
	wire_buf_puts(b, "\"");
	put_id(b, id);
	put_str_member(b, ",\"topic\":", topic, topic_len);
	if (on_full)
		put_str_member(b, ",\"on_full\":", on_full, strlen(on_full));
	wire_buf_puts(b, "}\n");
}

void wire_build_dropped(struct wire_buf *b, const char *pattern, size_t len, uint64_t count)
{
	put_str_member(b, "{\"op\":\"dropped\",\"topic\":", pattern, len);
	wire_buf_puts(b, ",\"count\":");
	wire_buf_put_u64(b, count);
	wire_buf_puts(b, "}\n");
}

/*
 * pub, send and req differ in the op, the name of their target member and
 * one optional trailing member (extra: raw text such as ',"retain":true').
 * A publisher's hot path: measured once, reserved once, plain copies.
 */
static void build_data_op(struct wire_buf *b, const char *head, const char *key, const char *s,
			  size_t n, struct wire_raw data, struct wire_raw id, const char *extra)
{
	size_t hl = strlen(head), kl = strlen(key), sl = wire_jstr_len(s, n);
	size_t xl = extra ? strlen(extra) : 0;
	size_t need = hl + (id.len ? 6 + id.len : 0) + kl + sl + (data.len ? 8 + data.len : 0) +
		      xl + 2;
	char *o;

	if (!wire_buf_reserve(b, need))
		return;
	o = put_lit_at(b->p + b->len, head, hl);
	if (id.len) {
		o = PUT_LIT(o, ",\"id\":");
		o = put_lit_at(o, id.p, id.len);
	}
	o = put_lit_at(o, key, kl);
	o = put_jstr_at(o, s, n, sl);
	if (data.len) {
		o = PUT_LIT(o, ",\"data\":");
		o = put_lit_at(o, data.p, data.len);
	}
	if (extra)
		o = put_lit_at(o, extra, xl);
	o = PUT_LIT(o, "}\n");
	b->len = (size_t)(o - b->p);
}

void wire_build_pub(struct wire_buf *b, const char *topic, size_t topic_len, struct wire_raw data,
		    bool retain, struct wire_raw id)
{
	build_data_op(b, "{\"op\":\"pub\"", ",\"topic\":", topic, topic_len, data, id,
		      retain ? ",\"retain\":true" : NULL);
}

void wire_build_send(struct wire_buf *b, const char *to, size_t to_len, struct wire_raw data,
		     struct wire_raw id)
{
	build_data_op(b, "{\"op\":\"send\"", ",\"to\":", to, to_len, data, id, NULL);
}

void wire_build_req(struct wire_buf *b, const char *to, size_t to_len, struct wire_raw data,
		    uint64_t timeout_ms, struct wire_raw id)
{
	char extra[40] = "";

	if (timeout_ms)
		snprintf(extra, sizeof(extra), ",\"timeout_ms\":%llu",
			 (unsigned long long)timeout_ms);
	build_data_op(b, "{\"op\":\"req\"", ",\"to\":", to, to_len, data, id,
		      timeout_ms ? extra : NULL);
}

void wire_build_req_in(struct wire_buf *b, const char *from, size_t from_len, uint64_t tid,
		       struct wire_raw data)
{
	if (!wire_buf_reserve(b, 64 + wire_jstr_len(from, from_len) + data.len))
		return;
	wire_buf_puts(b, "{\"op\":\"req\",\"from\":");
	wire_buf_put_jstr(b, from, from_len);
	wire_buf_puts(b, ",\"id\":");
	wire_buf_put_u64(b, tid);
	put_data(b, data);
	wire_buf_puts(b, "}\n");
}

void wire_build_reply(struct wire_buf *b, struct wire_raw id, const char *from, size_t from_len,
		      struct wire_raw data, const char *code, const char *message,
		      struct wire_raw error_raw)
{
	if (!wire_buf_reserve(b, 64 + id.len + from_len + data.len + error_raw.len))
		return;
	wire_buf_puts(b, "{\"op\":\"reply\"");
	put_id(b, id);
	if (from)
		put_str_member(b, ",\"from\":", from, from_len);
	if (error_raw.len) {
		wire_buf_puts(b, ",\"error\":");
		wire_buf_put(b, error_raw.p, error_raw.len);
	} else if (code) {
		wire_buf_puts(b, ",\"error\":{\"code\":");
		wire_buf_put_jstr(b, code, strlen(code));
		if (!message)
			message = "";
		put_str_member(b, ",\"message\":", message, strlen(message));
		wire_buf_puts(b, "}");
	} else {
		put_data(b, data);
	}
	wire_buf_puts(b, "}\n");
}

void wire_build_simple(struct wire_buf *b, const char *op, struct wire_raw id)
{
	wire_buf_puts(b, "{\"op\":\"");
	wire_buf_puts(b, op);
	wire_buf_puts(b, "\"");
	put_id(b, id);
	wire_buf_puts(b, "}\n");
}

bool wire_name_valid(const char *s, size_t n)
{
	if (n < 1 || n > WIRE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
