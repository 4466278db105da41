/*
 * Malformed and unusual frames after the handshake, against the real jbusd.
 *
 * Each bad frame must cost its sender exactly one error frame (code, id echo
 * as the contract's check order says, message naming the field) and nothing
 * else: the sender's connection answers a jt_sync right after, and a second
 * pair of clients (publisher "p", subscriber "w" on "live") keeps routing
 * messages throughout. Only frame_too_large closes the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"
#include "util.h"

/* section: fixture */

#define MIB (1024 * 1024)

static char *scratch; /* large frames under construction, freed by teardown */
static int live_seq;  /* data of the next message on "live" */
static struct jt_conn *v, *p, *w;

static void setup(void)
{
	jt_setup();
	live_seq = 0;
	v = jt_client("v");
	p = jt_client("p");
	w = jt_client("w");
	jt_send(w, "{\"op\":\"sub\",\"topic\":\"live\",\"id\":0}");
	jt_expect_line(w, "{\"op\":\"ok\",\"id\":0}");
}

static void setup_small(void)
{
	static const char *const args[] = { "--max-frame", "100", NULL };

	jt_broker_start_args(&jt_b, args);
}

static void teardown(void)
{
	v = p = w = NULL;
	free(scratch);
	scratch = NULL;
	jt_teardown();
}

/* section: helpers */

/* The other clients still route: p publishes on "live", w receives it. */
static void others_ok(void)
{
	char want[128];
	int n = ++live_seq;

	jt_send(p, "{\"op\":\"pub\",\"topic\":\"live\",\"data\":%d,\"id\":%d}", n, n);
	snprintf(want, sizeof(want), "{\"op\":\"ok\",\"id\":%d,\"delivered\":1}", n);
	jt_expect_line(p, want);
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"live\",\"from\":\"p\",\"data\":%d}", n);
	jt_expect_line(w, want);
}

struct bad_case {
	const char *frame;
	const char *code;
	const char *id;    /* raw id echoed, NULL: none */
	const char *field; /* named in the message, NULL: not checked */
};

/* Every row on connection v of one broker, with the checks of the file comment. */
static void run_bad(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		jt_send(v, "%s", cases[i].frame);
		jt_expect_error_id(v, cases[i].code, cases[i].id, cases[i].field);
		jt_sync(v);
		others_ok();
	}
}

/* section: bad frames */

static const struct bad_case json_cases[] = {
	{ "{\"op\":\"ping\"", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1", "bad_json", NULL, NULL },
	{ "{op:\"ping\",\"id\":1}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\" \"id\":1}", "bad_json", NULL, NULL },
	{ "{\"op\":'ping',\"id\":1}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":01}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1.}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":+1}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":NaN}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"data\":tru}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"data\":\"a\tb\"}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"data\":\"\\q\"}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"data\":\"\\u12\"}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"data\":[1,]}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"data\":{\"a\"}}", "bad_json", NULL, NULL },
	{ "hello", "bad_json", NULL, NULL },
	{ "}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1}}", "bad_json", NULL, NULL },
};

static const struct bad_case not_object_cases[] = {
	{ "[1]", "bad_frame", NULL, NULL },
	{ "\"x\"", "bad_frame", NULL, NULL },
	{ "3", "bad_frame", NULL, NULL },
	{ "null", "bad_frame", NULL, NULL },
	{ "true", "bad_frame", NULL, NULL },
	{ "[]", "bad_frame", NULL, NULL },
	{ "[{\"op\":\"ping\",\"id\":1}]", "bad_frame", NULL, NULL },
};

static const struct bad_case op_cases[] = {
	{ "{\"id\":1}", "bad_frame", "1", "op" },
	{ "{}", "bad_frame", NULL, "op" },
	{ "{\"topic\":\"t\",\"data\":1,\"id\":\"m\"}", "bad_frame", "\"m\"", "op" },
	{ "{\"op\":5,\"id\":2}", "bad_frame", "2", "op" },
	{ "{\"op\":null,\"id\":3}", "bad_frame", "3", "op" },
	{ "{\"op\":[\"ping\"],\"id\":4}", "bad_frame", "4", "op" },
	{ "{\"op\":true}", "bad_frame", NULL, "op" },
	{ "{\"op\":\"frobnicate\",\"id\":5}", "unknown_op", "5", NULL },
	{ "{\"op\":\"PING\",\"id\":\"s\"}", "unknown_op", "\"s\"", NULL },
	{ "{\"op\":\"\",\"id\":1.50}", "unknown_op", "1.50", NULL },
	{ "{\"op\":\"welcome\",\"id\":6}", "unknown_op", "6", NULL },
	{ "{\"op\":\"msg\",\"topic\":\"t\",\"id\":7}", "unknown_op", "7", NULL },
	{ "{\"op\":\"ping \"}", "unknown_op", NULL, NULL },
	/* a repeated member: the last one decides */
	{ "{\"op\":\"ping\",\"op\":\"nope\",\"id\":8}", "unknown_op", "8", NULL },
};

/* id is checked before op, and an invalid id is never echoed. */
static const struct bad_case id_cases[] = {
	{ "{\"op\":\"ping\",\"id\":[1]}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":{}}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":true}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":false}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":null}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":{\"a\":1}}", "bad_frame", NULL, "id" },
	{ "{\"id\":true}", "bad_frame", NULL, "id" },
	{ "{\"op\":5,\"id\":[]}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"frob\",\"id\":[1]}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":1,\"id\":null}", "bad_frame", NULL, "id" },
};

static const struct bad_case field_cases[] = {
	{ "{\"op\":\"pub\",\"data\":1,\"id\":1}", "bad_frame", "1", "topic" },
	{ "{\"op\":\"pub\",\"topic\":5,\"id\":2}", "bad_frame", "2", "topic" },
	{ "{\"op\":\"pub\",\"topic\":null,\"id\":3}", "bad_frame", "3", "topic" },
	{ "{\"op\":\"pub\",\"topic\":[\"live\"]}", "bad_frame", NULL, "topic" },
	{ "{\"op\":\"sub\",\"topic\":null,\"id\":4}", "bad_frame", "4", "topic" },
	{ "{\"op\":\"sub\",\"id\":5}", "bad_frame", "5", "topic" },
	{ "{\"op\":\"sub\",\"topic\":{},\"id\":\"x\"}", "bad_frame", "\"x\"", "topic" },
	{ "{\"op\":\"unsub\",\"id\":6}", "bad_frame", "6", "topic" },
	{ "{\"op\":\"unsub\",\"topic\":true,\"id\":7}", "bad_frame", "7", "topic" },
	{ "{\"op\":\"send\",\"data\":1,\"id\":8}", "bad_frame", "8", "to" },
	{ "{\"op\":\"send\",\"to\":5,\"id\":9}", "bad_frame", "9", "to" },
	{ "{\"op\":\"send\",\"to\":null,\"id\":10}", "bad_frame", "10", "to" },
	{ "{\"op\":\"send\",\"to\":[\"w\"],\"id\":11}", "bad_frame", "11", "to" },
};

static const struct bad_case topic_cases[] = {
	{ "{\"op\":\"pub\",\"topic\":\"\",\"id\":1}", "bad_topic", "1", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a/+\",\"id\":2}", "bad_topic", "2", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"+\",\"id\":3}", "bad_topic", "3", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"#\",\"id\":4}", "bad_topic", "4", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a/#\",\"id\":5}", "bad_topic", "5", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a#b\",\"id\":6}", "bad_topic", "6", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a+b\",\"id\":7}", "bad_topic", "7", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a/\\u0023\",\"id\":8}", "bad_topic", "8", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"$sys\",\"id\":9}", "bad_topic", "9", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a\\u0000b\",\"id\":10}", "bad_topic", "10", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a\\ud800\",\"id\":11}", "bad_topic", "11", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a\\udc00b\",\"id\":12}", "bad_topic", "12", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"\",\"id\":13}", "bad_topic", "13", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"a#\",\"id\":14}", "bad_topic", "14", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"#/a\",\"id\":15}", "bad_topic", "15", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"a/#/b\",\"id\":16}", "bad_topic", "16", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"a+b\",\"id\":17}", "bad_topic", "17", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"+a/b\",\"id\":18}", "bad_topic", "18", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"a/b#\",\"id\":19}", "bad_topic", "19", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"##\",\"id\":20}", "bad_topic", "20", NULL },
	{ "{\"op\":\"sub\",\"topic\":\"a\\u0000\",\"id\":21}", "bad_topic", "21", NULL },
	{ "{\"op\":\"unsub\",\"topic\":\"a#\",\"id\":22}", "bad_topic", "22", NULL },
	{ "{\"op\":\"unsub\",\"topic\":\"\",\"id\":23}", "bad_topic", "23", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"a/+\"}", "bad_topic", NULL, NULL },
};

/* Build {"op":"<op>","topic":"<n times c>","id":<id>} into scratch. */
static char *topic_frame(const char *op, size_t n, const char *id)
{
	size_t o;

	free(scratch);
	scratch = malloc(n + 128);
	ck_assert_ptr_nonnull(scratch);
	o = (size_t)sprintf(scratch, "{\"op\":\"%s\",\"topic\":\"", op);
	memset(scratch + o, 'a', n);
	o += n;
	sprintf(scratch + o, "\",\"id\":%s}", id);
	return scratch;
}

/* 1..1024 bytes after decoding; escapes do not count twice. */
START_TEST(test_frames_topic_length)
{
	struct jt_conn *s = jt_client("s");
	char *t;

	/* a 1024-byte topic is fine for sub and pub */
	jt_send(s, "%s", topic_frame("sub", 1024, "1"));
	jt_expect_line(s, "{\"op\":\"ok\",\"id\":1}");
	jt_send(v, "%s", topic_frame("pub", 1024, "2"));
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":2,\"delivered\":1}");
	t = jt_next_line(s);
	ck_assert_uint_eq(strlen(t), 1024 + strlen("{\"op\":\"msg\",\"topic\":\"\",\"from\":\"v\","
						    "\"data\":null}"));
	free(t);
	others_ok();

	/* 1029 bytes on the wire, 1024 decoded: the first 'a' written as \u0061 */
	topic_frame("pub", 1029, "3");
	memcpy(strchr(scratch, 'a'), "\\u0061", 6);
	jt_send(v, "%s", scratch);
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":3,\"delivered\":1}");
	t = jt_next_line(s);
	ck_assert_uint_eq(strlen(t), 1024 + strlen("{\"op\":\"msg\",\"topic\":\"\",\"from\":\"v\","
						    "\"data\":null}"));
	ck_assert_uint_eq(strspn(t + strlen("{\"op\":\"msg\",\"topic\":\""), "a"), 1024);
	free(t);

	/* 1025 bytes: refused for pub, sub and unsub */
	jt_send(v, "%s", topic_frame("pub", 1025, "4"));
	jt_expect_error_id(v, "bad_topic", "4", NULL);
	jt_send(v, "%s", topic_frame("sub", 1025, "5"));
	jt_expect_error_id(v, "bad_topic", "5", NULL);
	jt_send(v, "%s", topic_frame("unsub", 1025, "6"));
	jt_expect_error_id(v, "bad_topic", "6", NULL);
	jt_sync(v);
	jt_sync(s);
	others_ok();
}
END_TEST

/* Invalid UTF-8 anywhere in the frame is bad_json, even next to a valid id. */
static const struct bad_case utf8_cases[] = {
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\xff\"}", "bad_json", NULL,
	  NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\xc0\x80\"}", "bad_json", NULL,
	  NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\xed\xa0\x80\"}", "bad_json",
	  NULL, NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\xe2\x82\"}", "bad_json", NULL,
	  NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\xf4\x90\x80\x80\"}",
	  "bad_json", NULL, NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\x80\"}", "bad_json", NULL,
	  NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1,\"data\":\"\xe0\x80\xaf\"}", "bad_json",
	  NULL, NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\xff\",\"id\":1}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":\"\xc0\x80\"}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"\xff\":1,\"id\":1}", "bad_json", NULL, NULL },
	{ "{\"op\":\"send\",\"to\":\"w\xed\xa0\x80\",\"id\":1}", "bad_json", NULL, NULL },
};

/* Each table is a TCase on a broker of its own, its rows one after the other on v. */
static const struct bad_group {
	const char *name;
	const struct bad_case *rows;
	size_t n;
} bad_groups[] = {
	{ "bad_json", json_cases, ARRAY_SIZE(json_cases) },
	{ "not_object", not_object_cases, ARRAY_SIZE(not_object_cases) },
	{ "op", op_cases, ARRAY_SIZE(op_cases) },
	{ "id", id_cases, ARRAY_SIZE(id_cases) },
	{ "fields", field_cases, ARRAY_SIZE(field_cases) },
	{ "bad_topic", topic_cases, ARRAY_SIZE(topic_cases) },
	{ "utf8", utf8_cases, ARRAY_SIZE(utf8_cases) },
};

START_TEST(test_frames_bad)
{
	run_bad(bad_groups[_i].rows, bad_groups[_i].n);
}
END_TEST

/* {"op":"pub","topic":"deep","id":<id>,"data":<levels arrays>} into scratch */
static const char *nested_frame(int levels, const char *id)
{
	size_t o;

	free(scratch);
	scratch = malloc(256 + 2 * (size_t)levels);
	ck_assert_ptr_nonnull(scratch);
	o = (size_t)sprintf(scratch, "{\"op\":\"pub\",\"topic\":\"deep\",\"id\":%s,\"data\":", id);
	memset(scratch + o, '[', (size_t)levels);
	o += (size_t)levels;
	memset(scratch + o, ']', (size_t)levels);
	o += (size_t)levels;
	strcpy(scratch + o, "}");
	return scratch;
}

/* {"op":"ping","id":<id>,"x":<levels objects {"a":...} around [1]>} into scratch */
static const char *ignored_nested_frame(int levels, const char *id)
{
	size_t o;

	free(scratch);
	scratch = malloc(256 + 6 * (size_t)levels);
	ck_assert_ptr_nonnull(scratch);
	o = (size_t)sprintf(scratch, "{\"op\":\"ping\",\"id\":%s,\"x\":", id);
	for (int i = 0; i < levels; i++)
		o += (size_t)sprintf(scratch + o, "{\"a\":");
	o += (size_t)sprintf(scratch + o, "[1]");
	memset(scratch + o, '}', (size_t)levels + 1);
	scratch[o + (size_t)levels + 1] = '\0';
	return scratch;
}

/* The frame's own object is level 1: 63 nested arrays in data make 64. */
START_TEST(test_frames_depth)
{
	static const char head[] = "{\"op\":\"pub\",\"topic\":\"deep\",\"id\":1,\"data\":";
	struct jt_conn *s = jt_client("s");
	char *l, want[256];

	jt_send(s, "{\"op\":\"sub\",\"topic\":\"deep\",\"id\":0}");
	jt_expect_line(s, "{\"op\":\"ok\",\"id\":0}");

	jt_send(v, "%s", nested_frame(63, "1"));
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":1,\"delivered\":1}");
	l = jt_next_line(s);
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"deep\",\"from\":\"v\",\"data\":%.*s}",
		 (int)(strlen(scratch) - strlen(head) - 1), scratch + strlen(head));
	ck_assert_str_eq(l, want);
	free(l);

	/* depth counts in members the broker ignores too: 62 objects + 1 array + frame */
	jt_send(v, "%s", ignored_nested_frame(62, "2"));
	jt_expect_line(v, "{\"op\":\"pong\",\"id\":2}");

	jt_send(v, "%s", nested_frame(64, "3"));
	jt_expect_error_id(v, "bad_json", NULL, NULL);
	jt_send(v, "%s", ignored_nested_frame(63, "4"));
	jt_expect_error_id(v, "bad_json", NULL, NULL);
	/* far deeper than the limit: refused, not a stack overflow */
	jt_send(v, "%s", nested_frame(100000, "5"));
	jt_expect_error_id(v, "bad_json", NULL, NULL);
	jt_sync(v);
	jt_sync(s);
	others_ok();
}
END_TEST

static const struct bad_case trailing_cases[] = {
	{ "{}x", "bad_json", NULL, NULL },
	{ "{} {}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1}x", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1}{\"op\":\"ping\",\"id\":2}", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1},", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1} 1", "bad_json", NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1}\xff", "bad_json", NULL, NULL },
	{ "{\"op\":\"pub\",\"topic\":\"live\",\"id\":1} null", "bad_json", NULL, NULL },
};

START_TEST(test_frames_trailing)
{
	run_bad(trailing_cases, ARRAY_SIZE(trailing_cases));

	/* whitespace around the object is not trailing bytes */
	jt_send(v, " \t{\"op\":\"ping\",\"id\":1} \t ");
	jt_expect_line(v, "{\"op\":\"pong\",\"id\":1}");
	jt_send(v, "{ \"op\" :\t\"ping\" , \"id\" : 2 }\r");
	jt_expect_line(v, "{\"op\":\"pong\",\"id\":2}");
	jt_sync(v);
	others_ok();
}
END_TEST

/* Unknown top-level fields are validated but otherwise ignored. */
START_TEST(test_frames_unknown_fields)
{
	jt_send(v, "{\"op\":\"ping\",\"extra\":{\"x\":[1,{\"y\":null}]},\"id\":1,\"z\":\"\"}");
	jt_expect_line(v, "{\"op\":\"pong\",\"id\":1}");
	jt_send(v, "{\"op\":\"pub\",\"from\":\"forged\",\"topic\":\"live\",\"to\":\"w\","
		   "\"data\":5,\"id\":2}");
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":2,\"delivered\":1}");
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"live\",\"from\":\"v\",\"data\":5}");
	jt_sync(v);
	others_ok();
}
END_TEST

/* section: frame size */

#define SIZED_HEAD "{\"op\":\"pub\",\"topic\":\"live\",\"id\":\"big\",\"data\":\""

/* SIZED_HEAD x...x"} of exactly len bytes, into scratch */
static const char *sized_pub(size_t len)
{
	size_t o = strlen(SIZED_HEAD);

	free(scratch);
	scratch = malloc(len + 3);
	ck_assert_ptr_nonnull(scratch);
	memcpy(scratch, SIZED_HEAD, o);
	memset(scratch + o, 'x', len - o - 2);
	memcpy(scratch + len - 2, "\"}", 2);
	scratch[len] = '\0';
	return scratch;
}

/* The received msg carries the data of sized_pub(len), whole. */
static void expect_sized_msg(struct jt_conn *c, size_t len)
{
	static const char head[] = "{\"op\":\"msg\",\"topic\":\"live\",\"from\":\"v\",\"data\":\"";
	size_t xs = len - strlen(SIZED_HEAD) - 2;
	char *l = jt_next_line(c);

	ck_assert_uint_eq(strlen(l), sizeof(head) - 1 + xs + 2);
	ck_assert(strncmp(l, head, sizeof(head) - 1) == 0);
	ck_assert(strspn(l + sizeof(head) - 1, "x") == xs);
	ck_assert_str_eq(l + sizeof(head) - 1 + xs, "\"}");
	free(l);
}

/* max_frame counts the JSON text only: 1 MiB passes with "\n" and with "\r\n". */
START_TEST(test_frames_max_size_accepted)
{
	jt_send(v, "%s", sized_pub(MIB));
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":\"big\",\"delivered\":1}");
	expect_sized_msg(w, MIB);
	jt_send(v, "%s\r", scratch);
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":\"big\",\"delivered\":1}");
	expect_sized_msg(w, MIB);
	jt_sync(v);
	others_ok();
}
END_TEST

START_TEST(test_frames_too_large)
{
	sized_pub(MIB + 1);
	scratch[MIB + 1] = '\n';
	jt_send_until_closed(v, scratch, MIB + 2);
	jt_expect_error_id(v, "frame_too_large", NULL, NULL);
	jt_expect_eof(v, JT_TIMEOUT_MS);
	/* nothing of it was routed, and the others carry on */
	others_ok();
	jt_sync(w);
}
END_TEST

/* A line that never ends is refused as soon as it is too long, not when it ends. */
START_TEST(test_frames_too_large_unterminated)
{
	sized_pub(2 * MIB);
	jt_send_until_closed(v, scratch, 2 * MIB);
	jt_expect_error_id(v, "frame_too_large", NULL, NULL);
	jt_expect_eof(v, JT_TIMEOUT_MS);
	others_ok();
	jt_sync(w);
}
END_TEST

/* {"op":"ping","id":1,"pad":"..."} of exactly len bytes */
static void padded_ping(char *b, size_t len)
{
	static const char head[] = "{\"op\":\"ping\",\"id\":1,\"pad\":\"";
	size_t o = sizeof(head) - 1;

	memcpy(b, head, o);
	memset(b + o, '.', len - o - 2);
	memcpy(b + len - 2, "\"}", 2);
	b[len] = '\0';
}

START_TEST(test_frames_small_max_frame)
{
	struct jt_conn *c = jt_connect(jt_b.path), *d, *hs;
	char b[128];
	json_object *o;

	jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"c\"}");
	o = jt_expect(c, "welcome");
	ck_assert_int_eq(jt_int(o, "max_frame"), 100);
	json_object_put(o);
	d = jt_client("d");

	padded_ping(b, 100);
	jt_send(c, "%s", b);
	jt_expect_line(c, "{\"op\":\"pong\",\"id\":1}");
	jt_send(c, "%s\r", b);
	jt_expect_line(c, "{\"op\":\"pong\",\"id\":1}");
	padded_ping(b, 101);
	jt_send_until_closed(c, b, 101);
	jt_send_until_closed(c, "\n", 1);
	jt_expect_error_id(c, "frame_too_large", NULL, NULL);
	jt_expect_eof(c, JT_TIMEOUT_MS);
	jt_sync(d);

	/* the limit applies to the hello as well */
	hs = jt_connect(jt_b.path);
	snprintf(b, sizeof(b), "{\"op\":\"hello\",\"proto\":1,\"name\":\"%067d\"}", 0);
	ck_assert_uint_eq(strlen(b), 101);
	jt_send_until_closed(hs, b, 101);
	jt_send_until_closed(hs, "\n", 1);
	jt_expect_error_id(hs, "frame_too_large", NULL, NULL);
	jt_expect_eof(hs, JT_TIMEOUT_MS);
	jt_sync(d);
}
END_TEST

/* section: framing across reads */

/* Bytes trickling in one at a time, a UTF-8 sequence and the CRLF split too. */
START_TEST(test_frames_split_writes)
{
	static const char f[] = "{\"op\":\"pub\",\"topic\":\"live\",\"id\":\"split\","
				"\"data\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}\r\n"
				"{\"op\":\"ping\",\"id\":2}\n";

	for (size_t i = 0; i < sizeof(f) - 1; i++)
		jt_send_raw(v, f + i, 1);
	jt_expect_line(v, "{\"op\":\"ok\",\"id\":\"split\",\"delivered\":1}");
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"live\",\"from\":\"v\","
			  "\"data\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
	jt_expect_line(v, "{\"op\":\"pong\",\"id\":2}");
	jt_sync(v);
	jt_sync(w);
	others_ok();
}
END_TEST

#define COALESCED 500

/*
 * One write holding many frames of every kind (ok, error, pong): the
 * responses come back in the order of the frames, ids 1..N.
 */
START_TEST(test_frames_coalesced)
{
	size_t len = 0;

	scratch = malloc(COALESCED * 96);
	ck_assert_ptr_nonnull(scratch);
	for (int i = 1; i <= COALESCED; i++) {
		switch (i % 6) {
		case 0:
			len += (size_t)sprintf(scratch + len, "{\"op\":\"ping\",\"id\":%d}\n", i);
			break;
		case 1:
			len += (size_t)sprintf(scratch + len,
					       "{\"op\":\"pub\",\"topic\":\"none\",\"id\":%d}\r\n",
					       i);
			break;
		case 2:
			len += (size_t)sprintf(scratch + len,
					       "\n{\"op\":\"sub\",\"topic\":\"c/%d\",\"id\":%d}\n",
					       i, i);
			break;
		case 3:
			len += (size_t)sprintf(scratch + len, "{\"op\":\"nope\",\"id\":%d}\n", i);
			break;
		case 4:
			len += (size_t)sprintf(scratch + len, "{\"op\":5,\"id\":%d}\n \n", i);
			break;
		default:
			len += (size_t)sprintf(scratch + len,
					       "{\"op\":\"pub\",\"topic\":\"a/+\",\"id\":%d}\n", i);
			break;
		}
	}
	jt_send_raw(v, scratch, len);
	for (int i = 1; i <= COALESCED; i++) {
		char *l = jt_next_line(v), want[96];
		json_object *o = json_tokener_parse(l);
		static const char *const ops[] = { "pong", "ok", "ok", "error", "error", "error" };
		static const char *const codes[] = { NULL, NULL, NULL, "unknown_op", "bad_frame",
						     "bad_topic" };

		ck_assert_msg(o != NULL, "invalid frame %s", l);
		ck_assert_msg(jt_has(o, "id") && jt_int(o, "id") == i, "response %d: %s", i, l);
		snprintf(want, sizeof(want), "%s", ops[i % 6]);
		ck_assert_msg(strcmp(jt_str(o, "op"), want) == 0, "response %d: %s", i, l);
		if (codes[i % 6])
			ck_assert_msg(strcmp(jt_str(o, "code"), codes[i % 6]) == 0,
				      "response %d: %s", i, l);
		if (i % 6 == 1)
			ck_assert_msg(jt_int(o, "delivered") == 0, "response %d: %s", i, l);
		json_object_put(o);
		free(l);
	}
	jt_sync(v);
	others_ok();
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("frames");
	const struct jt_case cases[] = {
		{ "topic_length", test_frames_topic_length },
		{ "depth", test_frames_depth },
		{ "trailing", test_frames_trailing },
		{ "unknown_fields", test_frames_unknown_fields },
		{ "max_size_accepted", test_frames_max_size_accepted },
		{ "too_large", test_frames_too_large },
		{ "too_large_unterminated", test_frames_too_large_unterminated },
		{ "split_writes", test_frames_split_writes },
		{ "coalesced", test_frames_coalesced },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad_groups); i++)
		tcase_add_loop_test(jt_tcase(s, bad_groups[i].name, setup, teardown, 60),
				    test_frames_bad, (int)i, (int)i + 1);
	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 60);
	tcase_add_test(jt_tcase(s, "small_max_frame", setup_small, teardown, 60),
		       test_frames_small_max_frame);
	return s;
}
