/*
 * Strict single-pass JSON scanner for frames.
 *
 * Validates RFC 8259 grammar and UTF-8 (no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), limits nesting to WIRE_MAX_DEPTH
 * (the frame's object is level 1) and rejects trailing bytes. While doing so
 * it records the raw span of every known top-level member, which is all the
 * broker needs to route a frame: no tree is built and nothing is copied.
 * Recursion is bounded by the depth limit.
 */
#include "wire.h"

#include <string.h>

#include "jstr.h"

struct scanner {
	const char *p, *start, *end;
	const char *reason;
	bool line_break; /* whitespace held a '\n' or '\r' */
};

/* Byte classes inside a string: 0 plain ASCII, 1 quote, 2 backslash,
 * 3 control character, 4 start of a multi-byte sequence (or invalid). */
static const uint8_t str_class[256] = {
	[0x00 ... 0x1f] = 3, ['"'] = 1, ['\\'] = 2, [0x80 ... 0xff] = 4,
};

static int fail(struct scanner *s, const char *reason)
{
	s->reason = reason;
	return -1;
}

static void skip_ws_run(struct scanner *s)
{
	for (; s->p < s->end; s->p++) {
		if (*s->p == '\n' || *s->p == '\r')
			s->line_break = true;
		else if (*s->p != ' ' && *s->p != '\t')
			break;
	}
}

static inline void skip_ws(struct scanner *s)
{
	/* whitespace is at most ' ', and frames mostly have none: one test, inlined */
	if (s->p < s->end && (unsigned char)*s->p <= ' ')
		skip_ws_run(s);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Validate one UTF-8 sequence starting at s->p (a byte >= 0x80). */
static int scan_utf8(struct scanner *s)
{
	const unsigned char *q = (const unsigned char *)s->p;
	size_t avail = (size_t)(s->end - s->p);
	unsigned char c = q[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return fail(s, "invalid UTF-8");
	}
	if (avail < need + 1)
		return fail(s, "invalid UTF-8");
	if (q[1] < lo || q[1] > hi)
		return fail(s, "invalid UTF-8");
	for (size_t i = 2; i <= need; i++)
		if (q[i] < 0x80 || q[i] > 0xbf)
			return fail(s, "invalid UTF-8");
	s->p += need + 1;
	return 0;
}

static int scan_string(struct scanner *s, bool *escaped)
{
	s->p++; /* opening quote */
	for (;;) {
		/* plain ASCII runs many bytes a step, up to the next byte to look at */
		s->p = jstr_skip(s->p, s->end, true);
		if (s->p >= s->end)
			return fail(s, "unterminated string");
		switch (str_class[(unsigned char)*s->p]) {
		case 1:
			s->p++;
			return 0;
		case 2:
			*escaped = true;
			if (s->end - s->p < 2)
				return fail(s, "unterminated string");
			switch (s->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				s->p += 2;
				break;
			case 'u':
				if (s->end - s->p < 6)
					return fail(s, "invalid \\u escape");
				for (int i = 2; i < 6; i++)
					if (hexval((unsigned char)s->p[i]) < 0)
						return fail(s, "invalid \\u escape");
				s->p += 6;
				break;
			default:
				return fail(s, "invalid escape in string");
			}
			break;
		case 3:
			return fail(s, "control character in string");
		default:
			if (scan_utf8(s) < 0)
				return -1;
		}
	}
}

static bool is_digit(const struct scanner *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int scan_number(struct scanner *s)
{
	if (*s->p == '-')
		s->p++;
	if (!is_digit(s))
		return fail(s, "invalid number");
	if (*s->p == '0') {
		s->p++;
	} else {
		while (is_digit(s))
			s->p++;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!is_digit(s))
			return fail(s, "invalid number");
		while (is_digit(s))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!is_digit(s))
			return fail(s, "invalid number");
		while (is_digit(s))
			s->p++;
	}
	return 0;
}

static int scan_literal(struct scanner *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return fail(s, "invalid literal");
	s->p += n;
	return 0;
}

static int scan_value(struct scanner *s, int depth, struct wire_value *v);

/* Object or array at s->p; depth is the level of this container. */
static int scan_container(struct scanner *s, int depth, bool object)
{
	char close = object ? '}' : ']';
	bool esc = false;

	if (depth > WIRE_MAX_DEPTH)
		return fail(s, "nesting deeper than 64 levels");
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p != '"')
				return fail(s, "expected a member name");
			if (scan_string(s, &esc) < 0)
				return -1;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return fail(s, "expected ':'");
			s->p++;
			skip_ws(s);
		}
		if (scan_value(s, depth, NULL) < 0)
			return -1;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		return fail(s, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* depth: level of the container holding this value (0 at top). */
static int scan_value(struct scanner *s, int depth, struct wire_value *v)
{
	const char *begin = s->p;
	bool esc = false;
	uint8_t type;
	int r;

	if (s->p >= s->end)
		return fail(s, "expected a value");
	switch (*s->p) {
	case '{':
		type = WIRE_T_OBJECT;
		r = scan_container(s, depth + 1, true);
		break;
	case '[':
		type = WIRE_T_ARRAY;
		r = scan_container(s, depth + 1, false);
		break;
	case '"':
		type = WIRE_T_STRING;
		r = scan_string(s, &esc);
		break;
	case 't':
		type = WIRE_T_TRUE;
		r = scan_literal(s, "true", 4);
		break;
	case 'f':
		type = WIRE_T_FALSE;
		r = scan_literal(s, "false", 5);
		break;
	case 'n':
		type = WIRE_T_NULL;
		r = scan_literal(s, "null", 4);
		break;
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
			type = WIRE_T_NUMBER;
			r = scan_number(s);
		} else {
			return fail(s, "expected a value");
		}
	}
	if (r < 0)
		return r;
	if (v) {
		v->p = begin;
		v->len = (uint32_t)(s->p - begin);
		v->type = type;
		v->escaped = esc;
	}
	return 0;
}

static const struct {
	const char *name;
	uint8_t len;
} fields[WF__COUNT] = {
#define FIELD(id, s) [id] = { s, sizeof(s) - 1 }
	FIELD(WF_OP, "op"),
	FIELD(WF_ID, "id"),
	FIELD(WF_TOPIC, "topic"),
	FIELD(WF_TO, "to"),
	FIELD(WF_FROM, "from"),
	FIELD(WF_DATA, "data"),
	FIELD(WF_NAME, "name"),
	FIELD(WF_PROTO, "proto"),
	FIELD(WF_CODE, "code"),
	FIELD(WF_MESSAGE, "message"),
	FIELD(WF_DELIVERED, "delivered"),
	FIELD(WF_BROKER, "broker"),
	FIELD(WF_MAX_FRAME, "max_frame"),
	FIELD(WF_SUPPORTED, "supported"),
	FIELD(WF_ERROR, "error"),
	FIELD(WF_RETAIN, "retain"),
	FIELD(WF_RETAINED, "retained"),
	FIELD(WF_WILL, "will"),
	FIELD(WF_TIMEOUT_MS, "timeout_ms"),
	FIELD(WF_KIND, "kind"),
	FIELD(WF_CLIENTS, "clients"),
	FIELD(WF_ON_FULL, "on_full"),
	FIELD(WF_COUNT, "count"),
	FIELD(WF_UID, "uid"),
	FIELD(WF_IDLE_TIMEOUT_MS, "idle_timeout_ms"),
#undef FIELD
};

const char *wire_field_name(enum wire_field f)
{
	return (unsigned)f < WF__COUNT ? fields[f].name : "?";
}

static int field_lookup(const char *k, size_t n)
{
	/* few short names: the length and first byte settle most before memcmp */
	for (int f = 0; f < WF__COUNT; f++)
		if (fields[f].len == n && fields[f].name[0] == k[0] && memcmp(fields[f].name, k, n) == 0)
			return f;
	return -1;
}

static int member_field(const struct wire_value *key)
{
	char buf[16];
	const char *k;
	size_t n;

	if (key->len < 3) /* "" */
		return -1;
	if (!key->escaped)
		return field_lookup(key->p + 1, key->len - 2);
	if (wire_string(key, buf, sizeof(buf), &k, &n) != 0 || n == 0)
		return -1;
	return field_lookup(k, n);
}

static int scan_top_object(struct scanner *s, struct wire_env *env)
{
	struct wire_value key, val;

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (s->p >= s->end || *s->p != '"')
			return fail(s, "expected a member name");
		key.p = s->p;
		key.escaped = false;
		if (scan_string(s, &key.escaped) < 0)
			return -1;
		key.len = (uint32_t)(s->p - key.p);
		key.type = WIRE_T_STRING;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return fail(s, "expected ':'");
		s->p++;
		skip_ws(s);
		if (scan_value(s, 1, &val) < 0)
			return -1;
		int f = member_field(&key);
		if (f >= 0)
			env->f[f] = val; /* a repeated member: the last one wins */
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return fail(s, "expected ',' or '}'");
	}
}

/* After the value: only whitespace may follow. Fills err on failure. */
static int scan_end(struct scanner *s, int r, struct wire_err *err)
{
	if (r == 0) {
		skip_ws(s);
		if (s->p != s->end)
			r = fail(s, "unexpected bytes after the JSON value");
	}
	if (r < 0) {
		if (err) {
			err->offset = (size_t)(s->p - s->start);
			err->reason = s->reason;
		}
		return WIRE_E_JSON;
	}
	return 0;
}

int wire_scan(const char *p, size_t n, struct wire_env *env, struct wire_err *err)
{
	struct scanner s = { .p = p, .start = p, .end = p + n };
	bool object;

	memset(env, 0, sizeof(*env));
	skip_ws(&s);
	object = s.p < s.end && *s.p == '{';
	if (scan_end(&s, object ? scan_top_object(&s, env) : scan_value(&s, 0, NULL), err)) {
		memset(env, 0, sizeof(*env));
		return WIRE_E_JSON;
	}
	if (!object) {
		if (err) {
			err->offset = 0;
			err->reason = "frame is not a JSON object";
		}
		return WIRE_E_NOT_OBJECT;
	}
	return 0;
}

int wire_scan_value(const char *p, size_t n, struct wire_err *err)
{
	return wire_scan_data(p, n, NULL, err);
}

int wire_scan_data(const char *p, size_t n, bool *line_break, struct wire_err *err)
{
	struct scanner s = { .p = p, .start = p, .end = p + n };
	int r;

	skip_ws(&s);
	/* depth 1: the value sits inside the frame's object */
	r = scan_end(&s, scan_value(&s, 1, NULL), err);
	if (line_break)
		*line_break = s.line_break;
	return r;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 4 | (uint32_t)hexval((unsigned char)p[i]);
	return v;
}

/* Only called on spans wire_scan validated, so escapes are well formed. */
int wire_string(const struct wire_value *v, char *buf, size_t cap, const char **out,
		size_t *out_len)
{
	const char *p = v->p + 1, *end = v->p + v->len - 1;
	size_t o = 0;

	if (!v->escaped) {
		*out = p;
		*out_len = (size_t)(end - p);
		return 0;
	}
	while (p < end) {
		char tmp[4];
		size_t n;
		if (*p != '\\') {
			if (o >= cap)
				return WIRE_E_LENGTH;
			buf[o++] = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b': tmp[0] = '\b'; n = 1; break;
		case 'f': tmp[0] = '\f'; n = 1; break;
		case 'n': tmp[0] = '\n'; n = 1; break;
		case 'r': tmp[0] = '\r'; n = 1; break;
		case 't': tmp[0] = '\t'; n = 1; break;
		case 'u': {
			uint32_t cp = hex4(p + 2);
			if (cp == 0)
				return WIRE_E_STRING;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return WIRE_E_STRING;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;
				if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
					return WIRE_E_STRING;
				lo = hex4(p + 8);
				if (lo < 0xdc00 || lo > 0xdfff)
					return WIRE_E_STRING;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n = put_utf8(tmp, cp);
			p += 4; /* plus the 2 below */
			break;
		}
		default: /* '"', '\\', '/' */
			tmp[0] = p[1];
			n = 1;
		}
		p += 2;
		if (cap - o < n || o > cap)
			return WIRE_E_LENGTH;
		memcpy(buf + o, tmp, n);
		o += n;
	}
	*out = buf;
	*out_len = o;
	return 0;
}

bool wire_uint(const struct wire_value *v, uint64_t *out)
{
	uint64_t x = 0;

	/* the scanner already rejected leading zeros */
	if (v->type != WIRE_T_NUMBER || v->len == 0)
		return false;
	for (uint32_t i = 0; i < v->len; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return false;
		if (x > (UINT64_MAX - 9) / 10)
			x = UINT64_MAX; /* saturate: callers clamp or compare */
		else
			x = x * 10 + (uint64_t)(v->p[i] - '0');
	}
	*out = x;
	return true;
}

bool wire_value_is(const struct wire_value *v, const char *s)
{
	size_t n = strlen(s), len;
	const char *str;
	char buf[64];

	if (v->type != WIRE_T_STRING)
		return false;
	if (wire_string(v, buf, sizeof(buf), &str, &len) != 0)
		return false;
	return len == n && memcmp(str, s, n) == 0;
}
