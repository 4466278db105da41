/*
 * Unit tests of the strict JSON scanner (client-lib/scan.c, declared in
 * wire.h): the grammar, UTF-8 and depth rules of wire_scan, the spans it
 * records for the known top-level fields, string decoding with wire_string
 * and comparison with wire_value_is. Tables hold the inputs; loop tests
 * report each row on its own, so one wrong row does not hide the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"
#include "util.h"
#include "wire.h"

/* section: scanning */

struct scan_case {
	const char *in;
	size_t len;
	int want;
};

#define OK(s) { s, sizeof(s) - 1, 0 }
#define BAD(s) { s, sizeof(s) - 1, WIRE_E_JSON }
#define NOBJ(s) { s, sizeof(s) - 1, WIRE_E_NOT_OBJECT }

static const struct scan_case scan_cases[] = {
	/* objects and whitespace around them */
	OK("{}"),
	OK(" {} "),
	OK("\t{\r\n}\n\t "),
	OK("{ \"a\" : 1 , \"b\" : [ ] }"),
	OK("{\"\":1}"),
	OK("{\"a\":1,\"a\":2}"),
	/* numbers */
	OK("{\"a\":0}"),
	OK("{\"a\":-0}"),
	OK("{\"a\":-1}"),
	OK("{\"a\":10}"),
	OK("{\"a\":1.5}"),
	OK("{\"a\":-0.0}"),
	OK("{\"a\":0.5e10}"),
	OK("{\"a\":1e5}"),
	OK("{\"a\":1E5}"),
	OK("{\"a\":1e+5}"),
	OK("{\"a\":1e-5}"),
	OK("{\"a\":1E-05}"),
	OK("{\"a\":-1.25e-3}"),
	OK("{\"a\":1e400}"),
	OK("{\"a\":123456789012345678901234567890}"),
	OK("{\"a\":[0,-0,0.0,0e0]}"),
	/* literals */
	OK("{\"a\":true,\"b\":false,\"c\":null}"),
	OK("{\"a\":[true,false,null]}"),
	/* strings and escapes (\u0000 and lone surrogates are valid JSON) */
	OK("{\"a\":\"\"}"),
	OK("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"),
	OK("{\"a\":\"\\u0041\\uffFF\\uABCD\"}"),
	OK("{\"a\":\"\\u0000\"}"),
	OK("{\"a\":\"\\ud800\"}"),
	OK("{\"a\":\"\\udc00\\ud800\"}"),
	OK("{\"a\":\"\x7f\"}"),
	OK("{\"a\":\"'single'\"}"),
	OK("{\"a\\nb\":1}"),
	/* containers */
	OK("{\"a\":[]}"),
	OK("{\"a\":{}}"),
	OK("{\"a\":[1,[2,[3]],{\"b\":{}}]}"),
	OK("{\"a\":[ 1 , 2 ]}"),
	/* UTF-8: 2, 3 and 4 byte sequences at the edges of their ranges */
	OK("{\"a\":\"\xc2\x80\"}"),
	OK("{\"a\":\"\xdf\xbf\"}"),
	OK("{\"a\":\"\xc3\xa9\"}"),
	OK("{\"a\":\"\xe0\xa0\x80\"}"),
	OK("{\"a\":\"\xe2\x82\xac\"}"),
	OK("{\"a\":\"\xed\x9f\xbf\"}"),
	OK("{\"a\":\"\xee\x80\x80\"}"),
	OK("{\"a\":\"\xef\xbf\xbf\"}"),
	OK("{\"a\":\"\xf0\x90\x80\x80\"}"),
	OK("{\"a\":\"\xf0\x9f\x98\x80\"}"),
	OK("{\"a\":\"\xf4\x8f\xbf\xbf\"}"),
	OK("{\"\xc3\xa9\xe2\x82\xac\":\"x\xf0\x9f\x98\x80y\"}"),

	/* not a complete object */
	BAD(""),
	BAD("   "),
	BAD("{"),
	BAD("}"),
	BAD("{\"a\"}"),
	BAD("{\"a\":}"),
	BAD("{\"a\" 1}"),
	BAD("{\"a\":1"),
	BAD("{\"a\":[1}"),
	BAD("{\"a\":{]}"),
	BAD("{a:1}"),
	BAD("{1:1}"),
	BAD("{null:1}"),
	/* commas */
	BAD("{\"a\":1,}"),
	BAD("{\"a\":[1,]}"),
	BAD("{,\"a\":1}"),
	BAD("{\"a\":[,1]}"),
	BAD("{\"a\":[1,,2]}"),
	BAD("{\"a\":1 \"b\":2}"),
	BAD("{\"a\":[1 2]}"),
	BAD("{\"a\":1;\"b\":2}"),
	/* single quotes */
	BAD("{'a':1}"),
	BAD("{\"a\":'x'}"),
	/* numbers */
	BAD("{\"a\":01}"),
	BAD("{\"a\":00}"),
	BAD("{\"a\":-01}"),
	BAD("{\"a\":-}"),
	BAD("{\"a\":-a}"),
	BAD("{\"a\":1.}"),
	BAD("{\"a\":1.e5}"),
	BAD("{\"a\":.5}"),
	BAD("{\"a\":-.5}"),
	BAD("{\"a\":+1}"),
	BAD("{\"a\":1e}"),
	BAD("{\"a\":1e+}"),
	BAD("{\"a\":1E-}"),
	BAD("{\"a\":1e5.5}"),
	BAD("{\"a\":1.5.2}"),
	BAD("{\"a\":--1}"),
	BAD("{\"a\":0x10}"),
	BAD("{\"a\":NaN}"),
	BAD("{\"a\":Infinity}"),
	BAD("{\"a\":-Infinity}"),
	BAD("{\"a\":1 000}"),
	/* literals */
	BAD("{\"a\":tru}"),
	BAD("{\"a\":True}"),
	BAD("{\"a\":TRUE}"),
	BAD("{\"a\":nul}"),
	BAD("{\"a\":nulll}"),
	BAD("{\"a\":falsey}"),
	BAD("{\"a\":fals}"),
	BAD("{\"a\":undefined}"),
	BAD("{\"a\":t}"),
	/* strings */
	BAD("{\"a\":\"abc}"),
	BAD("{\"a\":\"abc"),
	BAD("{\"a\":\"abc\\"),
	BAD("{\"a\":\"\\x41\"}"),
	BAD("{\"a\":\"\\U0041\"}"),
	BAD("{\"a\":\"\\'\"}"),
	BAD("{\"a\":\"\\ \"}"),
	BAD("{\"a\":\"\\0\"}"),
	BAD("{\"a\":\"\\u\"}"),
	BAD("{\"a\":\"\\u12\"}"),
	BAD("{\"a\":\"\\u123\"}"),
	BAD("{\"a\":\"\\u12G4\"}"),
	BAD("{\"a\":\"\\u-123\"}"),
	BAD("{\"a\":\"\\u 123\"}"),
	BAD("{\"a\":\"\\u12"),
	/* control characters inside strings, keys included */
	BAD("{\"a\":\"\x01\"}"),
	BAD("{\"a\":\"\t\"}"),
	BAD("{\"a\":\"\n\"}"),
	BAD("{\"a\":\"\r\"}"),
	BAD("{\"a\":\"\x1f\"}"),
	BAD("{\"a\":\"x\0y\"}"),
	BAD("{\"a\x01\":1}"),
	/* comments */
	BAD("{\"a\":1/*c*/}"),
	BAD("{/*c*/}"),
	BAD("{\"a\":1}//c"),
	BAD("//c\n{}"),
	BAD("{\"a\":1 # c\n}"),
	/* trailing bytes after the object */
	BAD("{}x"),
	BAD("{}{}"),
	BAD("{} {}"),
	BAD("{}]"),
	BAD("{}}"),
	BAD("{} 1"),
	BAD("{}\0"),
	BAD("{} \"x\""),
	/* not JSON whitespace */
	BAD("{\f}"),
	BAD("{\v}"),
	BAD("{\0}"),
	BAD("\xc2\xa0{}"),
	BAD("{}\xc2\xa0"),
	/* UTF-8: overlong forms */
	BAD("{\"a\":\"\xc0\x80\"}"),
	BAD("{\"a\":\"\xc1\xbf\"}"),
	BAD("{\"a\":\"\xe0\x80\x80\"}"),
	BAD("{\"a\":\"\xe0\x9f\xbf\"}"),
	BAD("{\"a\":\"\xf0\x80\x80\x80\"}"),
	BAD("{\"a\":\"\xf0\x8f\xbf\xbf\"}"),
	/* UTF-8: encoded surrogates, above U+10FFFF, bytes never used */
	BAD("{\"a\":\"\xed\xa0\x80\"}"),
	BAD("{\"a\":\"\xed\xbf\xbf\"}"),
	BAD("{\"a\":\"\xed\xa0\xbd\xed\xb8\x80\"}"),
	BAD("{\"a\":\"\xf4\x90\x80\x80\"}"),
	BAD("{\"a\":\"\xf5\x80\x80\x80\"}"),
	BAD("{\"a\":\"\xf7\xbf\xbf\xbf\"}"),
	BAD("{\"a\":\"\xf8\x88\x80\x80\x80\"}"),
	BAD("{\"a\":\"\xfe\"}"),
	BAD("{\"a\":\"\xff\"}"),
	/* UTF-8: lone continuation bytes */
	BAD("{\"a\":\"\x80\"}"),
	BAD("{\"a\":\"\xbf\"}"),
	BAD("{\"a\":\"x\x80y\"}"),
	BAD("{\"a\":\"\xc3\xa9\xa9\"}"),
	/* UTF-8: truncated sequences (cut by the quote, by ASCII, by the end) */
	BAD("{\"a\":\"\xc3\"}"),
	BAD("{\"a\":\"\xe2\x82\"}"),
	BAD("{\"a\":\"\xe2\"}"),
	BAD("{\"a\":\"\xf0\x9f\x98\"}"),
	BAD("{\"a\":\"\xf0\x9f\"}"),
	BAD("{\"a\":\"\xe2" "a\"}"),
	BAD("{\"a\":\"\xc3\xc3\xa9\"}"),
	BAD("{\"a\":\"\xf0\x9f\x98"),
	BAD("{\"a\":\"\xc3"),
	/* UTF-8 in a key, and outside strings */
	BAD("{\"\xc0\xaf\":1}"),
	BAD("{\"a\":\xc3\xa9}"),
	BAD("{\"a\":1}\xc3\xa9"),
	/* invalid values that are not objects are still bad JSON */
	BAD("["),
	BAD("[1,]"),
	BAD("01"),
	BAD("-"),
	BAD("\"abc"),
	BAD("\"\x01\""),
	BAD("tru"),
	BAD("[] x"),
	BAD("1 2"),
	BAD("\"\xc0\x80\""),
	/* what json-c takes, strict as it is (docs/testing.md, known json-c deviations) */
	BAD("\"\x01\""),
	BAD("{\"a\x0d\":1}"),
	BAD("[00]"),
	BAD("5."),
	BAD("-.5"),
	BAD("NaN"),
	BAD("[-Infinity]"),
	BAD("\"\xc1\x83\""),
	BAD("\"\xf4\x90\x80\x80\""),
	BAD("{'':0}"),

	/* valid JSON, not an object */
	NOBJ("[]"),
	NOBJ("[1,{}]"),
	NOBJ("[{\"op\":\"ping\"}]"),
	NOBJ("1"),
	NOBJ(" 0 "),
	NOBJ("-1.5e3"),
	NOBJ("\"str\""),
	NOBJ("\"\""),
	NOBJ("true"),
	NOBJ("false"),
	NOBJ("null"),
	NOBJ("\t\"{}\"\r"),
};

START_TEST(test_scan_table)
{
	const struct scan_case *c = &scan_cases[_i];
	struct wire_env env;
	struct wire_err err = { 0 };
	int r = wire_scan(c->in, c->len, &env, &err);

	ck_assert_msg(r == c->want, "row %d '%s': got %d, want %d (%s at %zu)", _i,
		      jt_show(c->in, c->len), r, c->want, err.reason ? err.reason : "-",
		      err.offset);
	if (r == WIRE_E_JSON) {
		ck_assert_msg(err.reason != NULL, "row %d: no reason", _i);
		ck_assert_uint_le(err.offset, c->len);
	}
	/* the error pointer is optional */
	ck_assert_int_eq(wire_scan(c->in, c->len, &env, NULL), c->want);
}
END_TEST

START_TEST(test_scan_error_offset)
{
	struct wire_env env;
	struct wire_err err = { 0 };

	ck_assert_int_eq(wire_scan("{} x", 4, &env, &err), WIRE_E_JSON);
	ck_assert_uint_eq(err.offset, 3);
	ck_assert_ptr_nonnull(err.reason);
	ck_assert_int_eq(wire_scan("{\"a\":tru}", 9, &env, &err), WIRE_E_JSON);
	ck_assert_uint_eq(err.offset, 5);
	ck_assert_int_eq(wire_scan("[1]", 3, &env, &err), WIRE_E_NOT_OBJECT);
	ck_assert_ptr_nonnull(err.reason);
}
END_TEST

/* Depth: the frame's object is level 1; arrays count as well. */
enum nest_mode { NEST_ARRAYS, NEST_OBJECTS, NEST_MIXED, NEST_TOP_ARRAY };

struct depth_case {
	enum nest_mode mode;
	int levels; /* level of the deepest container */
	int want;
};

static const struct depth_case depth_cases[] = {
	{ NEST_ARRAYS, 2, 0 },
	{ NEST_ARRAYS, 63, 0 },
	{ NEST_ARRAYS, 64, 0 },
	{ NEST_ARRAYS, 65, WIRE_E_JSON },
	{ NEST_OBJECTS, 64, 0 },
	{ NEST_OBJECTS, 65, WIRE_E_JSON },
	{ NEST_MIXED, 64, 0 },
	{ NEST_MIXED, 65, WIRE_E_JSON },
	{ NEST_ARRAYS, 1000, WIRE_E_JSON },
	{ NEST_TOP_ARRAY, 64, WIRE_E_NOT_OBJECT },
	{ NEST_TOP_ARRAY, 65, WIRE_E_JSON },
};

/* A frame whose deepest container is at the given level, holding a 0. */
static char *nest(enum nest_mode mode, int levels)
{
	char *s = malloc((size_t)levels * 8 + 16), *o = s;
	bool obj[1100];

	ck_assert_ptr_nonnull(s);
	ck_assert_int_lt(levels, (int)ARRAY_SIZE(obj));
	for (int l = 1; l <= levels; l++) {
		if (l == 1)
			obj[l] = mode != NEST_TOP_ARRAY;
		else
			obj[l] = mode == NEST_OBJECTS || (mode == NEST_MIXED && l % 2);
		o = stpcpy(o, obj[l] ? "{\"k\":" : "[");
	}
	*o++ = '0';
	for (int l = levels; l >= 1; l--)
		*o++ = obj[l] ? '}' : ']';
	*o = '\0';
	return s;
}

START_TEST(test_scan_depth)
{
	const struct depth_case *c = &depth_cases[_i];
	char *s = nest(c->mode, c->levels);
	struct wire_env env;
	struct wire_err err = { 0 };
	int r = wire_scan(s, strlen(s), &env, &err);

	ck_assert_msg(r == c->want, "mode %d, %d levels: got %d, want %d", c->mode, c->levels,
		      r, c->want);
	if (r == WIRE_E_JSON)
		ck_assert_ptr_nonnull(err.reason);
	free(s);
}
END_TEST

/* Depth is nesting, not the number of containers. */
START_TEST(test_scan_depth_siblings)
{
	struct wire_env env;
	size_t n = 0;
	char *s = malloc(16 + 3 * 5000);

	ck_assert_ptr_nonnull(s);
	n += (size_t)sprintf(s, "{\"a\":[");
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(s + n, "%s[]", i ? "," : "");
	n += (size_t)sprintf(s + n, "]}");
	ck_assert_int_eq(wire_scan(s, n, &env, NULL), 0);
	free(s);
}
END_TEST

static void assert_span(const struct wire_value *v, enum wire_type type, const char *raw)
{
	ck_assert_int_eq(v->type, type);
	if (!raw) {
		ck_assert_ptr_null(v->p);
		ck_assert_uint_eq(v->len, 0);
		return;
	}
	ck_assert_msg(v->len == strlen(raw) && !memcmp(v->p, raw, v->len),
		      "span '%s', want '%s'", jt_show(v->p, v->len), raw);
}

START_TEST(test_scan_span_data)
{
	static const char f[] = "{\"op\":\"pub\",\"data\": [1, 2 ,{\"a\":1e400}] }";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_DATA], WIRE_T_ARRAY, "[1, 2 ,{\"a\":1e400}]");
	/* borrowed: the span points into the frame */
	ck_assert_ptr_eq(env.f[WF_DATA].p, strchr(f, '['));
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"pub\"");
	ck_assert(!env.f[WF_OP].escaped);
	assert_span(&env.f[WF_TOPIC], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_ID], WIRE_T_ABSENT, NULL);
}
END_TEST

START_TEST(test_scan_span_types)
{
	static const char f[] = "{ \"id\" : 1.50 ,\"topic\":\"a\\/b\",\"to\":null,\"from\":true,"
				"\"data\":false,\"name\":{ \"x\" : [ ] },\"proto\":-1e0,"
				"\"code\":\"c\",\"message\":[],\"delivered\":0,\"broker\":\"\","
				"\"max_frame\":{},\"supported\":[1]}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_ID], WIRE_T_NUMBER, "1.50");
	assert_span(&env.f[WF_TOPIC], WIRE_T_STRING, "\"a\\/b\"");
	ck_assert(env.f[WF_TOPIC].escaped);
	assert_span(&env.f[WF_TO], WIRE_T_NULL, "null");
	assert_span(&env.f[WF_FROM], WIRE_T_TRUE, "true");
	assert_span(&env.f[WF_DATA], WIRE_T_FALSE, "false");
	assert_span(&env.f[WF_NAME], WIRE_T_OBJECT, "{ \"x\" : [ ] }");
	assert_span(&env.f[WF_PROTO], WIRE_T_NUMBER, "-1e0");
	assert_span(&env.f[WF_CODE], WIRE_T_STRING, "\"c\"");
	ck_assert(!env.f[WF_CODE].escaped);
	assert_span(&env.f[WF_MESSAGE], WIRE_T_ARRAY, "[]");
	assert_span(&env.f[WF_DELIVERED], WIRE_T_NUMBER, "0");
	assert_span(&env.f[WF_BROKER], WIRE_T_STRING, "\"\"");
	assert_span(&env.f[WF_MAX_FRAME], WIRE_T_OBJECT, "{}");
	assert_span(&env.f[WF_SUPPORTED], WIRE_T_ARRAY, "[1]");
	assert_span(&env.f[WF_OP], WIRE_T_ABSENT, NULL);
}
END_TEST

/* Every known member is recognised under its wire name, and only that one. */
START_TEST(test_scan_field_names)
{
	for (int f = 0; f < WF__COUNT; f++) {
		char frame[64];
		struct wire_env env;
		int n = snprintf(frame, sizeof(frame), "{\"%s\":7}", wire_field_name(f));

		ck_assert_int_eq(wire_scan(frame, (size_t)n, &env, NULL), 0);
		for (int g = 0; g < WF__COUNT; g++)
			ck_assert_int_eq(env.f[g].type, g == f ? WIRE_T_NUMBER : WIRE_T_ABSENT);
	}
	ck_assert_str_eq(wire_field_name(WF_OP), "op");
	ck_assert_str_eq(wire_field_name(WF_MAX_FRAME), "max_frame");
	ck_assert_str_eq(wire_field_name(WF_SUPPORTED), "supported");
}
END_TEST

START_TEST(test_scan_repeated_last_wins)
{
	static const char f1[] = "{\"op\":\"a\",\"data\":1,\"op\":\"b\"}";
	static const char f2[] = "{\"id\":1,\"id\":\"x\",\"data\":[1],\"data\":{\"k\":2}}";
	static const char f3[] = "{\"op\":\"a\",\"\\u006fp\":\"c\"}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f1, sizeof(f1) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"b\"");
	ck_assert_int_eq(wire_scan(f2, sizeof(f2) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_ID], WIRE_T_STRING, "\"x\"");
	assert_span(&env.f[WF_DATA], WIRE_T_OBJECT, "{\"k\":2}");
	ck_assert_int_eq(wire_scan(f3, sizeof(f3) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"c\"");
}
END_TEST

struct key_case {
	const char *frame;
	bool is_op;
};

static const struct key_case key_cases[] = {
	{ "{\"\\u006fp\":\"ping\"}", true },
	{ "{\"o\\u0070\":\"ping\"}", true },
	{ "{\"\\u006F\\u0070\":\"ping\"}", true },
	{ "{\"op\":\"ping\"}", true },
	{ "{\"Op\":\"ping\"}", false },
	{ "{\"OP\":\"ping\"}", false },
	{ "{\"op \":\"ping\"}", false },
	{ "{\" op\":\"ping\"}", false },
	{ "{\"opp\":\"ping\"}", false },
	{ "{\"o\":\"ping\"}", false },
	{ "{\"\":\"ping\"}", false },
	{ "{\"op\\u0000\":\"ping\"}", false },
	{ "{\"\\u0000op\":\"ping\"}", false },
	{ "{\"o\\np\":\"ping\"}", false },
	{ "{\"\\u006fp\\u006fp\\u006fp\\u006fp\\u006fp\":\"ping\"}", false },
};

START_TEST(test_scan_escaped_key)
{
	const struct key_case *c = &key_cases[_i];
	struct wire_env env;

	ck_assert_int_eq(wire_scan(c->frame, strlen(c->frame), &env, NULL), 0);
	ck_assert_msg((env.f[WF_OP].type == WIRE_T_STRING) == c->is_op, "'%s': op %s",
		      c->frame, c->is_op ? "not recognised" : "recognised");
	if (c->is_op)
		assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"ping\"");
}
END_TEST

START_TEST(test_scan_unknown_ignored)
{
	static const char f[] = "{\"foo\":1,\"op\":\"x\",\"bar\":[1,{\"op\":2}],\"baz\":{}}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"x\"");
	for (int g = 0; g < WF__COUNT; g++)
		if (g != WF_OP)
			ck_assert_int_eq(env.f[g].type, WIRE_T_ABSENT);
}
END_TEST

START_TEST(test_scan_nested_not_top_level)
{
	static const char f1[] = "{\"data\":{\"op\":\"x\",\"id\":5,\"topic\":\"t\"}}";
	static const char f2[] = "{\"x\":[{\"op\":\"pub\"}],\"data\":[{\"id\":1}]}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f1, sizeof(f1) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_ID], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_TOPIC], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_DATA], WIRE_T_OBJECT, "{\"op\":\"x\",\"id\":5,\"topic\":\"t\"}");
	ck_assert_int_eq(wire_scan(f2, sizeof(f2) - 1, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_ABSENT, NULL);
	assert_span(&env.f[WF_ID], WIRE_T_ABSENT, NULL);
}
END_TEST

/* A failed scan leaves no half-filled envelope; each scan starts afresh. */
START_TEST(test_scan_env_reset)
{
	static const char good[] = "{\"op\":\"pub\",\"id\":1}";
	static const char bad[] = "{\"op\":\"pub\",\"data\":[}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(good, sizeof(good) - 1, &env, NULL), 0);
	ck_assert_int_eq(wire_scan(bad, sizeof(bad) - 1, &env, NULL), WIRE_E_JSON);
	for (int g = 0; g < WF__COUNT; g++)
		ck_assert_int_eq(env.f[g].type, WIRE_T_ABSENT);
	ck_assert_int_eq(wire_scan(good, sizeof(good) - 1, &env, NULL), 0);
	ck_assert_int_eq(wire_scan("{}", 2, &env, NULL), 0);
	for (int g = 0; g < WF__COUNT; g++)
		ck_assert_int_eq(env.f[g].type, WIRE_T_ABSENT);
}
END_TEST

/* The scanner reads only p[0..n): a prefix of a longer buffer is judged alone. */
START_TEST(test_scan_length_bound)
{
	static const char f[] = "{\"op\":\"a\"}{\"op\":\"b\"}";
	struct wire_env env;

	ck_assert_int_eq(wire_scan(f, 10, &env, NULL), 0);
	assert_span(&env.f[WF_OP], WIRE_T_STRING, "\"a\"");
	ck_assert_int_eq(wire_scan(f, 9, &env, NULL), WIRE_E_JSON);
	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), WIRE_E_JSON);
}
END_TEST

/* section: strings */

/* Scans {"topic":<lit>} and returns the topic's value. */
static struct wire_value topic_value(const char *lit, struct wire_env *env, char *frame,
				     size_t cap)
{
	int n = snprintf(frame, cap, "{\"topic\":%s}", lit);

	ck_assert_int_lt(n, (int)cap);
	ck_assert_msg(wire_scan(frame, (size_t)n, env, NULL) == 0, "scan of %s", lit);
	ck_assert_int_eq(env->f[WF_TOPIC].type, WIRE_T_STRING);
	return env->f[WF_TOPIC];
}

START_TEST(test_scan_string_zero_copy)
{
	char frame[64], buf[8];
	struct wire_env env;
	struct wire_value v = topic_value("\"a/b\xc3\xa9\"", &env, frame, sizeof(frame));
	const char *out = NULL;
	size_t len = 0;

	memset(buf, 'Z', sizeof(buf));
	ck_assert(!v.escaped);
	ck_assert_int_eq(wire_string(&v, buf, sizeof(buf), &out, &len), 0);
	ck_assert_ptr_eq(out, v.p + 1);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(out, "a/b\xc3\xa9", 5);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_int_eq(buf[i], 'Z');
	/* no buffer needed at all */
	ck_assert_int_eq(wire_string(&v, NULL, 0, &out, &len), 0);
	ck_assert_uint_eq(len, 5);
	/* the empty string */
	v = topic_value("\"\"", &env, frame, sizeof(frame));
	ck_assert_int_eq(wire_string(&v, NULL, 0, &out, &len), 0);
	ck_assert_uint_eq(len, 0);
}
END_TEST

struct str_case {
	const char *lit; /* JSON string literal as in the frame */
	const char *want;
	size_t want_len;
	int r;
};

#define SD(lit, want) { lit, want, sizeof(want) - 1, 0 }
#define SE(lit, r) { lit, NULL, 0, r }

static const struct str_case str_cases[] = {
	SD("\"a\\nb\"", "a\nb"),
	SD("\"a\\/b\"", "a/b"),
	SD("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"),
	SD("\"\\u0041\"", "A"),
	SD("\"\\u007f\"", "\x7f"),
	SD("\"\\u0080\"", "\xc2\x80"),
	SD("\"\\u00e9\"", "\xc3\xa9"),
	SD("\"\\u00E9\"", "\xc3\xa9"),
	SD("\"\\u07ff\"", "\xdf\xbf"),
	SD("\"\\u0800\"", "\xe0\xa0\x80"),
	SD("\"\\u20ac\"", "\xe2\x82\xac"),
	SD("\"\\ud7ff\"", "\xed\x9f\xbf"),
	SD("\"\\ue000\"", "\xee\x80\x80"),
	SD("\"\\uffff\"", "\xef\xbf\xbf"),
	SD("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"),
	SD("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80"),
	SD("\"\\ud800\\udc00\"", "\xf0\x90\x80\x80"),
	SD("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"),
	SD("\"x\\ud83d\\ude00y\"", "x\xf0\x9f\x98\x80y"),
	SD("\"\xc3\xa9\\t\xe2\x82\xac\"", "\xc3\xa9\t\xe2\x82\xac"),
	SD("\"\\u0001\"", "\x01"),
	SE("\"\\u0000\"", WIRE_E_STRING),
	SE("\"a\\u0000b\"", WIRE_E_STRING),
	SE("\"\\ud800\"", WIRE_E_STRING),
	SE("\"\\udbff\"", WIRE_E_STRING),
	SE("\"\\udc00\"", WIRE_E_STRING),
	SE("\"\\udfff\"", WIRE_E_STRING),
	SE("\"\\ud800x\"", WIRE_E_STRING),
	SE("\"\\ud800xxxxxx\"", WIRE_E_STRING),
	SE("\"\\ud800\\u0041\"", WIRE_E_STRING),
	SE("\"\\ud800\\ud800\"", WIRE_E_STRING),
	SE("\"\\ude00\\ud83d\"", WIRE_E_STRING),
	SE("\"\\ud800\\\\udc00\"", WIRE_E_STRING),
	SE("\"\\ud800\\n\"", WIRE_E_STRING),
};

START_TEST(test_scan_string_decode)
{
	const struct str_case *c = &str_cases[_i];
	char frame[128], buf[64];
	struct wire_env env;
	struct wire_value v = topic_value(c->lit, &env, frame, sizeof(frame));
	const char *out = NULL;
	size_t len = 0;
	int r;

	ck_assert(v.escaped || !strchr(c->lit, '\\'));
	r = wire_string(&v, buf, sizeof(buf), &out, &len);
	ck_assert_msg(r == c->r, "%s: got %d, want %d", c->lit, r, c->r);
	if (r)
		return;
	ck_assert_ptr_eq(out, buf);
	ck_assert_msg(len == c->want_len && !memcmp(out, c->want, len), "%s decoded to '%s'",
		      c->lit, jt_show(out, len));
}
END_TEST

struct cap_case {
	const char *lit;
	size_t need; /* decoded length: cap need fits, need - 1 does not */
};

static const struct cap_case cap_cases[] = {
	{ "\"a\\nb\"", 3 },
	{ "\"\\/\"", 1 },
	{ "\"\\u00e9\"", 2 },
	{ "\"\\u20ac\"", 3 },
	{ "\"\\ud83d\\ude00\"", 4 },
	{ "\"abc\\n\"", 4 },
	{ "\"\\nabc\"", 4 },
	{ "\"ab\\u20ac\"", 5 },
};

START_TEST(test_scan_string_too_small)
{
	const struct cap_case *c = &cap_cases[_i];
	char frame[64], buf[16];
	struct wire_env env;
	struct wire_value v = topic_value(c->lit, &env, frame, sizeof(frame));
	const char *out;
	size_t len;

	for (size_t cap = 0; cap < c->need; cap++)
		ck_assert_msg(wire_string(&v, buf, cap, &out, &len) == WIRE_E_LENGTH,
			      "%s: cap %zu accepted", c->lit, cap);
	ck_assert_int_eq(wire_string(&v, buf, c->need, &out, &len), 0);
	ck_assert_uint_eq(len, c->need);
	ck_assert_int_eq(wire_string(&v, buf, sizeof(buf), &out, &len), 0);
	ck_assert_uint_eq(len, c->need);
}
END_TEST

START_TEST(test_scan_value_is)
{
	char frame[128];
	struct wire_env env;
	struct wire_value v;
	static const char f[] = "{\"id\":1,\"data\":null,\"name\":\"ping\"}";

	v = topic_value("\"ping\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, "ping"));
	ck_assert(!wire_value_is(&v, "pin"));
	ck_assert(!wire_value_is(&v, "pingx"));
	ck_assert(!wire_value_is(&v, "PING"));
	ck_assert(!wire_value_is(&v, ""));
	v = topic_value("\"\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, ""));
	ck_assert(!wire_value_is(&v, "a"));
	/* escapes are decoded before comparing */
	v = topic_value("\"p\\u0069ng\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, "ping"));
	ck_assert(!wire_value_is(&v, "p\\u0069ng"));
	v = topic_value("\"a\\/b\"", &env, frame, sizeof(frame));
	ck_assert(wire_value_is(&v, "a/b"));
	/* a string that cannot be decoded equals nothing */
	v = topic_value("\"\\u0000\"", &env, frame, sizeof(frame));
	ck_assert(!wire_value_is(&v, ""));
	/* only strings compare equal */
	ck_assert_int_eq(wire_scan(f, sizeof(f) - 1, &env, NULL), 0);
	ck_assert(!wire_value_is(&env.f[WF_ID], "1"));
	ck_assert(!wire_value_is(&env.f[WF_DATA], "null"));
	ck_assert(!wire_value_is(&env.f[WF_OP], ""));
	ck_assert(wire_value_is(&env.f[WF_NAME], "ping"));
}
END_TEST

/* wire_scan_data: whether a valid value holds a line break, found by the scan itself. */
struct break_case {
	const char *s;
	int r;		 /* 0 or WIRE_E_JSON */
	bool line_break; /* when r is 0 */
};

static const struct break_case break_cases[] = {
	{ "{\"a\":1}", 0, false },
	{ " \t{ \"a\" : [ 1 , 2 ] }\t ", 0, false },
	{ "{\n\"a\":1}", 0, true },
	{ "{\"a\":1\r}", 0, true },
	{ "[1,\r\n2]", 0, true },
	{ "\n7", 0, true },
	{ "7\n", 0, true },
	{ "\"a\\nb\"", 0, false }, /* an escape is no line break */
	{ "\"a\nb\"", WIRE_E_JSON, false },
	{ "{\n", WIRE_E_JSON, false },
};

START_TEST(test_scan_data_line_break)
{
	const struct break_case *c = &break_cases[_i];
	bool lb = !c->line_break;
	int r = wire_scan_data(c->s, strlen(c->s), &lb, NULL);

	ck_assert_msg(r == c->r, "%s: %d", jt_show(c->s, strlen(c->s)), r);
	if (r == 0)
		ck_assert_msg(lb == c->line_break, "%s", jt_show(c->s, strlen(c->s)));
	ck_assert_int_eq(wire_scan_value(c->s, strlen(c->s), NULL), c->r);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("scan");
	const struct jt_case cases[] = {
		{ "scan_table", test_scan_table, ARRAY_SIZE(scan_cases) },
		{ "scan_error_offset", test_scan_error_offset },
		{ "scan_depth", test_scan_depth, ARRAY_SIZE(depth_cases) },
		{ "scan_depth_siblings", test_scan_depth_siblings },
		{ "scan_span_data", test_scan_span_data },
		{ "scan_span_types", test_scan_span_types },
		{ "scan_field_names", test_scan_field_names },
		{ "scan_repeated_last_wins", test_scan_repeated_last_wins },
		{ "scan_escaped_key", test_scan_escaped_key, ARRAY_SIZE(key_cases) },
		{ "scan_unknown_ignored", test_scan_unknown_ignored },
		{ "scan_nested_not_top_level", test_scan_nested_not_top_level },
		{ "scan_env_reset", test_scan_env_reset },
		{ "scan_length_bound", test_scan_length_bound },
		{ "string_zero_copy", test_scan_string_zero_copy },
		{ "string_decode", test_scan_string_decode, ARRAY_SIZE(str_cases) },
		{ "string_too_small", test_scan_string_too_small, ARRAY_SIZE(cap_cases) },
		{ "value_is", test_scan_value_is },
		{ "data_line_break", test_scan_data_line_break, ARRAY_SIZE(break_cases) },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, NULL, 0);
	return s;
}
