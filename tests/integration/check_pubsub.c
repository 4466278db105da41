/*
 * Routing through the real jbusd: sub/unsub/pub with wildcards and the '$'
 * rule, exactly-once delivery with overlapping patterns, payloads forwarded
 * byte for byte, per-publisher ordering over 100,000 messages, direct send,
 * ping and bye.
 *
 * "Nothing was delivered" is proved without waiting: the publisher's ok
 * comes after the broker queued the message to every subscriber, so a
 * subscriber's jt_sync issued after that ok would see the msg before its
 * pong (jt_sync fails on any frame other than the pong).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"

/* section: fixture */

#define MAX_CONNS 64
static struct jt_conn *conns[MAX_CONNS];
static char *big; /* scratch buffer of the ordering test, freed by teardown */

static struct jt_conn *track(struct jt_conn *c)
{
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (!conns[i]) {
			conns[i] = c;
			return c;
		}
	}
	ck_abort_msg("more than %d connections in one test", MAX_CONNS);
	return c;
}

static struct jt_conn *hello(const char *name)
{
	return track(jt_hello(jt_b.path, name));
}

static void setup(void)
{
	jt_setup();
}

static void teardown(void)
{
	for (size_t i = 0; i < MAX_CONNS; i++) {
		jt_close(conns[i]);
		conns[i] = NULL;
	}
	free(big);
	big = NULL;
	jt_teardown();
}

/* section: helpers */

/* Next line, which must exist; caller frees. */
static char *line(struct jt_conn *c)
{
	char *l = jt_line(c, JT_TIMEOUT_MS);

	ck_assert_msg(l != NULL, "no frame within %d ms (EOF or timeout)", JT_TIMEOUT_MS);
	return l;
}

/* The next frame is exactly this text. */
static void expect_line(struct jt_conn *c, const char *want)
{
	char *l = line(c);

	ck_assert_msg(strcmp(l, want) == 0, "expected %s\n     got %s", want, l);
	free(l);
}

/* The next frame is {"op":"ok","id":<id>} with delivered when it is >= 0. */
static void expect_ok(struct jt_conn *c, const char *id, int delivered)
{
	char want[256];

	if (delivered >= 0)
		snprintf(want, sizeof(want), "{\"op\":\"ok\",\"id\":%s,\"delivered\":%d}", id,
			 delivered);
	else
		snprintf(want, sizeof(want), "{\"op\":\"ok\",\"id\":%s}", id);
	expect_line(c, want);
}

/* The next frame is an error with this code echoing id (raw bytes, NULL: no id). */
static void expect_error(struct jt_conn *c, const char *code, const char *id)
{
	json_object *o = jt_expect_error(c, code);
	char want[128];

	if (id) {
		snprintf(want, sizeof(want), "%s", id);
		ck_assert_msg(jt_has(o, "id"), "no id in %s", json_object_to_json_string(o));
		ck_assert_str_eq(json_object_to_json_string_ext(
					 json_object_object_get(o, "id"), JSON_C_TO_STRING_PLAIN),
				 want);
	} else {
		ck_assert_msg(!jt_has(o, "id"), "unexpected id in %s",
			      json_object_to_json_string(o));
	}
	json_object_put(o);
}

static void sub(struct jt_conn *c, const char *pattern)
{
	jt_send(c, "{\"op\":\"sub\",\"topic\":\"%s\",\"id\":\"s\"}", pattern);
	expect_ok(c, "\"s\"", -1);
}

static void unsub(struct jt_conn *c, const char *pattern)
{
	jt_send(c, "{\"op\":\"unsub\",\"topic\":\"%s\",\"id\":\"u\"}", pattern);
	expect_ok(c, "\"u\"", -1);
}

/* Publish with an id and assert the ok and its delivered count. */
static void pub(struct jt_conn *c, const char *topic, const char *data, int delivered)
{
	jt_send(c, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":%s,\"id\":\"p\"}", topic, data);
	expect_ok(c, "\"p\"", delivered);
}

/* The next frame is the msg of a pub. */
static void expect_msg(struct jt_conn *c, const char *topic, const char *from, const char *data)
{
	char want[512];

	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"%s\",\"from\":\"%s\",\"data\":%s}", topic, from,
		 data);
	expect_line(c, want);
}

/* section: pub/sub */

START_TEST(test_pubsub_exact)
{
	struct jt_conn *a = hello("a"), *b = hello("b"), *c = hello("c");

	sub(b, "x/y");
	pub(a, "x/y", "42", 1);
	expect_msg(b, "x/y", "a", "42");

	/* neighbours of the topic do not match, and c, not subscribed, gets nothing */
	pub(a, "x", "1", 0);
	pub(a, "x/y/z", "1", 0);
	pub(a, "x/yy", "1", 0);
	pub(a, "X/y", "1", 0);
	jt_sync(b);
	jt_sync(c);
}
END_TEST

struct wild_case {
	const char *pattern, *topic;
	bool match;
};

static const struct wild_case wild_cases[] = {
	{ "a/+", "a/b", true },     { "a/+", "a", false },       { "a/+", "a/b/c", false },
	{ "a/+", "a/", true },      { "+/b", "a/b", true },      { "+/b", "/b", true },
	{ "+/b", "a/c", false },    { "+", "a", true },          { "+", "a/b", false },
	{ "+", "/", false },        { "+/+", "/", true },        { "+/+", "a/b", true },
	{ "+/+", "a", false },      { "a/+/c", "a/b/c", true },  { "a/+/c", "a/b/d", false },
	{ "a/+/c", "a//c", true },  { "a/#", "a", true },        { "a/#", "a/b", true },
	{ "a/#", "a/b/c", true },   { "a/#", "a/", true },       { "a/#", "b", false },
	{ "a/#", "ab", false },     { "a/#", "b/a", false },     { "a/b/#", "a/b", true },
	{ "a/b/#", "a", false },    { "#", "a", true },          { "#", "a/b/c", true },
	{ "#", "/", true },         { "/#", "/a", true },        { "/#", "a", false },
	{ "+/#", "a", true },       { "+/#", "a/b/c", true },    { "a/+/#", "a", false },
	{ "a/+/#", "a/b", true },   { "x/y", "x/y", true },      { "x/y", "x/y/", false },
};

/*
 * One fresh subscriber per row, so earlier rows' subscriptions do not
 * interfere; delivered says whether it matched, the msg or its absence
 * confirms it.
 */
START_TEST(test_pubsub_wildcards)
{
	struct jt_conn *a = hello("a");

	for (size_t i = 0; i < sizeof(wild_cases) / sizeof(wild_cases[0]); i++) {
		const struct wild_case *w = &wild_cases[i];
		struct jt_conn *s = track(jt_hello(jt_b.path, NULL));
		char data[32];

		snprintf(data, sizeof(data), "%zu", i);
		sub(s, w->pattern);
		pub(a, w->topic, data, w->match ? 1 : 0);
		if (w->match)
			expect_msg(s, w->topic, "a", data);
		jt_sync(s);
		unsub(s, w->pattern);
	}
}
END_TEST

/*
 * '$' topics are for the broker: a client cannot publish on one, and the
 * wildcard subscriptions that must not match them are still accepted.
 */
START_TEST(test_pubsub_dollar)
{
	struct jt_conn *a = hello("a"), *b = hello("b");

	sub(b, "#");
	sub(b, "+/x");
	sub(b, "+");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"$sys/x\",\"data\":1,\"id\":1}");
	expect_error(a, "bad_topic", "1");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"$\",\"id\":2}");
	expect_error(a, "bad_topic", "2");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"$x\"}");
	expect_error(a, "bad_topic", NULL);
	jt_sync(a);
	jt_sync(b);

	/* a '$' later in the topic is an ordinary character */
	pub(a, "s/x", "1", 1);
	expect_msg(b, "s/x", "a", "1");
	pub(a, "x$", "2", 1);
	expect_msg(b, "x$", "a", "2");
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_exactly_once)
{
	struct jt_conn *a = hello("a"), *b = hello("b"), *c = hello("c");

	sub(b, "s/#");
	sub(b, "s/+");
	sub(b, "s/t");
	sub(b, "#");
	sub(b, "+/+");
	sub(c, "s/t");

	/* delivered counts clients: b (five matching patterns) and c */
	pub(a, "s/t", "1", 2);
	expect_msg(b, "s/t", "a", "1");
	expect_msg(c, "s/t", "a", "1");
	jt_sync(b);
	jt_sync(c);

	pub(a, "s/u", "2", 1);
	expect_msg(b, "s/u", "a", "2");
	pub(a, "s", "3", 1);
	expect_msg(b, "s", "a", "3");
	jt_sync(b);
	jt_sync(c);

	/* removing some of the overlapping patterns leaves the others working */
	unsub(b, "#");
	unsub(b, "s/t");
	pub(a, "s/t", "4", 2);
	expect_msg(b, "s/t", "a", "4");
	expect_msg(c, "s/t", "a", "4");
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_repeated_sub)
{
	struct jt_conn *a = hello("a"), *b = hello("b");

	sub(b, "t");
	sub(b, "t");
	sub(b, "t");
	pub(a, "t", "1", 1);
	expect_msg(b, "t", "a", "1");
	jt_sync(b);

	/* a set: one unsub removes it */
	unsub(b, "t");
	pub(a, "t", "2", 0);
	jt_sync(b);

	/* unsub of what is not (or no longer) subscribed is ok */
	unsub(b, "t");
	unsub(b, "never/+");
	jt_send(b, "{\"op\":\"unsub\",\"topic\":\"#\",\"id\":1.50}");
	expect_line(b, "{\"op\":\"ok\",\"id\":1.50}");
	jt_send(b, "{\"op\":\"unsub\",\"topic\":\"#\"}");
	jt_sync(b);

	/* and subscribing again works */
	sub(b, "t");
	pub(a, "t", "3", 1);
	expect_msg(b, "t", "a", "3");
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_self_delivery)
{
	struct jt_conn *a = hello("a"), *b = hello("b");
	char *l1, *l2;
	static const char msg[] = "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"a\",\"data\":7}";
	static const char ok[] = "{\"op\":\"ok\",\"id\":\"p\",\"delivered\":2}";

	sub(a, "t");
	sub(b, "#");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":7,\"id\":\"p\"}");
	/* the msg is not a response, so its place relative to the ok is not fixed */
	l1 = line(a);
	l2 = line(a);
	ck_assert_msg((strcmp(l1, msg) == 0 && strcmp(l2, ok) == 0) ||
			      (strcmp(l1, ok) == 0 && strcmp(l2, msg) == 0),
		      "expected msg and ok, got\n%s\n%s", l1, l2);
	free(l1);
	free(l2);
	expect_msg(b, "t", "a", "7");
	jt_sync(a);
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_no_subscribers)
{
	struct jt_conn *a = hello("a"), *b = hello("b");

	sub(b, "other");
	pub(a, "t", "1", 0);
	/* without id a pub gets no ok at all */
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1}");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"other\",\"data\":2}");
	expect_msg(b, "other", "a", "2");
	jt_sync(a);
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_data_omitted)
{
	struct jt_conn *a = hello("a"), *b = hello("b");

	sub(b, "t");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"id\":1}");
	expect_ok(a, "1", 1);
	expect_msg(b, "t", "a", "null");
	pub(a, "t", "null", 1);
	expect_msg(b, "t", "a", "null");
	jt_sync(b);
}
END_TEST

/*
 * data is forwarded as the publisher wrote it: digits, escapes, member order
 * and duplicate members are kept; whitespace inside data too (a broker
 * decision, see the contract notes).
 */
static const char *const raw_data[] = {
	"{\"b\":1,\"a\":[1.50,-0e+0,123456789012345678901234567890],"
	"\"s\":\"\\u00e9\\ud83d\\ude00\",\"a\":2}",
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
	"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\"",
	"1e400",
	"-0.000000000000000000000000000001",
	"[]",
	"{}",
	"true",
	"false",
	"[1, 2,\t{\"k\" :  \"v\"} ]",
	"[[[[[[[[[[\"deep\"]]]]]]]]]]",
};

START_TEST(test_pubsub_data_byte_for_byte)
{
	struct jt_conn *a = hello("a"), *b = hello("b");

	sub(b, "t");
	for (size_t i = 0; i < sizeof(raw_data) / sizeof(raw_data[0]); i++) {
		pub(a, "t", raw_data[i], 1);
		expect_msg(b, "t", "a", raw_data[i]);
	}
	jt_sync(b);
}
END_TEST

/* The topic is re-encoded (escapes decoded), unlike data. */
START_TEST(test_pubsub_topic_escapes)
{
	struct jt_conn *a = hello("a"), *b = hello("b");

	sub(b, "a/b");
	sub(b, "caf\xc3\xa9");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"a\\/b\",\"data\":1,\"id\":1}");
	expect_ok(a, "1", 1);
	expect_msg(b, "a/b", "a", "1");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"\\u0061/\\u0062\",\"data\":2,\"id\":2}");
	expect_ok(a, "2", 1);
	expect_msg(b, "a/b", "a", "2");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"caf\\u00e9\",\"data\":3,\"id\":3}");
	expect_ok(a, "3", 1);
	expect_msg(b, "caf\xc3\xa9", "a", "3");
	jt_sync(b);
}
END_TEST

/* section: ordering */

#define ORDER_TOTAL 100000
#define ORDER_BATCH 4000

/*
 * Read the msgs of one batch, which must carry the counters from *next on,
 * in order (every message exactly once).
 */
static void read_counters(struct jt_conn *c, long *next, long upto)
{
	static const char prefix[] = "{\"op\":\"msg\",\"topic\":\"seq\",\"from\":\"pub\",\"data\":";

	while (*next < upto) {
		char *l = jt_line(c, JT_TIMEOUT_MS), *end;
		long v;

		ck_assert_msg(l != NULL, "msg %ld missing (EOF or timeout)", *next);
		ck_assert_msg(strncmp(l, prefix, sizeof(prefix) - 1) == 0, "unexpected frame %s",
			      l);
		v = strtol(l + sizeof(prefix) - 1, &end, 10);
		ck_assert_msg(strcmp(end, "}") == 0, "unexpected frame %s", l);
		ck_assert_msg(v == *next, "expected counter %ld, got %ld", *next, v);
		free(l);
		(*next)++;
	}
}

/*
 * The publisher writes large batches without ids (no ok to read back); after
 * each batch both subscribers drain it, so no buffer fills up and neither is
 * ever a slow consumer. One subscribes exactly, one through '#'.
 */
START_TEST(test_pubsub_ordering)
{
	struct jt_conn *p = hello("pub"), *s1 = hello("s1"), *s2 = hello("s2");
	long sent = 0, next1 = 0, next2 = 0;
	size_t len;

	sub(s1, "seq");
	sub(s2, "#");
	big = malloc(ORDER_BATCH * 64);
	ck_assert_ptr_nonnull(big);
	while (sent < ORDER_TOTAL) {
		len = 0;
		for (int i = 0; i < ORDER_BATCH && sent < ORDER_TOTAL; i++, sent++)
			len += (size_t)sprintf(big + len,
					       "{\"op\":\"pub\",\"topic\":\"seq\",\"data\":%ld}\n",
					       sent);
		jt_send_raw(p, big, len);
		read_counters(s1, &next1, sent);
		read_counters(s2, &next2, sent);
	}
	/* nothing beyond the last counter, and everyone is still connected */
	pub(p, "seq", "\"end\"", 2);
	expect_msg(s1, "seq", "pub", "\"end\"");
	expect_msg(s2, "seq", "pub", "\"end\"");
	jt_sync(s1);
	jt_sync(s2);
}
END_TEST

/* section: direct send */

START_TEST(test_pubsub_send)
{
	struct jt_conn *a = hello("alice"), *b = hello("bob"), *c = hello("carol");

	jt_send(a, "{\"op\":\"send\",\"to\":\"bob\",\"data\":{\"k\":[1,2.0]},\"id\":5}");
	expect_ok(a, "5", -1);
	expect_line(b,
		    "{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"bob\",\"data\":{\"k\":[1,2.0]}}");

	/* no data: null; no id: no ok */
	jt_send(a, "{\"op\":\"send\",\"to\":\"bob\"}");
	expect_line(b, "{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"bob\",\"data\":null}");
	jt_sync(a);

	/* subscriptions play no part in a direct send */
	sub(c, "#");
	jt_send(a, "{\"op\":\"send\",\"to\":\"b\\u006fb\",\"data\":\"x\",\"id\":\"s\"}");
	expect_ok(a, "\"s\"", -1);
	expect_line(b, "{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"bob\",\"data\":\"x\"}");
	jt_sync(b);
	jt_sync(c);
}
END_TEST

START_TEST(test_pubsub_send_self)
{
	struct jt_conn *a = hello("alice");
	static const char msg[] =
		"{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"alice\",\"data\":[true]}";
	static const char ok[] = "{\"op\":\"ok\",\"id\":1}";
	char *l1, *l2;

	jt_send(a, "{\"op\":\"send\",\"to\":\"alice\",\"data\":[true],\"id\":1}");
	l1 = line(a);
	l2 = line(a);
	ck_assert_msg((strcmp(l1, msg) == 0 && strcmp(l2, ok) == 0) ||
			      (strcmp(l1, ok) == 0 && strcmp(l2, msg) == 0),
		      "expected msg and ok, got\n%s\n%s", l1, l2);
	free(l1);
	free(l2);
	jt_sync(a);
}
END_TEST

START_TEST(test_pubsub_send_unknown)
{
	struct jt_conn *a = hello("alice"), *b = hello("bob");

	jt_send(a, "{\"op\":\"send\",\"to\":\"nobody\",\"data\":1,\"id\":7}");
	expect_error(a, "no_such_client", "7");
	jt_send(a, "{\"op\":\"send\",\"to\":\"Bob\",\"id\":\"x\"}");
	expect_error(a, "no_such_client", "\"x\"");
	/* a string that is no valid name cannot name a client either */
	jt_send(a, "{\"op\":\"send\",\"to\":\"bob b\",\"id\":8}");
	expect_error(a, "no_such_client", "8");
	jt_send(a, "{\"op\":\"send\",\"to\":\"\",\"id\":9}");
	expect_error(a, "no_such_client", "9");
	jt_send(a, "{\"op\":\"send\",\"to\":\"nobody\"}");
	expect_error(a, "no_such_client", NULL);
	jt_sync(a);
	jt_sync(b);

	/* a name whose holder has gone is unknown again */
	jt_send(b, "{\"op\":\"bye\"}");
	jt_expect_eof(b, JT_TIMEOUT_MS);
	jt_send(a, "{\"op\":\"send\",\"to\":\"bob\",\"id\":10}");
	expect_error(a, "no_such_client", "10");
	jt_sync(a);
}
END_TEST

/* section: ping and bye */

START_TEST(test_pubsub_ping)
{
	struct jt_conn *a = hello("a");

	jt_send(a, "{\"op\":\"ping\"}");
	expect_line(a, "{\"op\":\"pong\"}");
	jt_send(a, "{\"op\":\"ping\",\"id\":7}");
	expect_line(a, "{\"op\":\"pong\",\"id\":7}");
	jt_send(a, "{\"op\":\"ping\",\"id\":\"x\"}");
	expect_line(a, "{\"op\":\"pong\",\"id\":\"x\"}");
	jt_send(a, "{\"op\":\"ping\",\"id\":1.50}");
	expect_line(a, "{\"op\":\"pong\",\"id\":1.50}");
	jt_send(a, "{\"op\":\"ping\",\"id\":\"\\u00e9\"}");
	expect_line(a, "{\"op\":\"pong\",\"id\":\"\\u00e9\"}");
	jt_send(a, "{\"op\":\"ping\",\"id\":-12345678901234567890123}");
	expect_line(a, "{\"op\":\"pong\",\"id\":-12345678901234567890123}");
	jt_sync(a);
}
END_TEST

/* After bye: what was owed arrives, then EOF, and no ok for the bye itself. */
START_TEST(test_pubsub_bye)
{
	struct jt_conn *a = hello("a"), *b = hello("b");
	static const char frames[] = "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"bye\",\"id\":2}\n";
	char *l;

	sub(b, "t");
	pub(a, "t", "\"queued\"", 1);
	jt_send_raw(b, frames, sizeof(frames) - 1);
	expect_msg(b, "t", "a", "\"queued\"");
	expect_line(b, "{\"op\":\"pong\",\"id\":1}");
	/* EOF right after the pong: no ok for the bye */
	l = jt_line(b, JT_TIMEOUT_MS);
	ck_assert_msg(l == NULL, "frame after the pong: %s", l);
	jt_expect_eof(b, 100);

	/* b is gone for routing, a is unaffected */
	pub(a, "t", "1", 0);
	jt_sync(a);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("pubsub");
	struct {
		const char *name;
		const TTest *test;
		int timeout;
	} cases[] = {
		{ "exact", test_pubsub_exact, 30 },
		{ "wildcards", test_pubsub_wildcards, 30 },
		{ "dollar", test_pubsub_dollar, 30 },
		{ "exactly_once", test_pubsub_exactly_once, 30 },
		{ "repeated_sub", test_pubsub_repeated_sub, 30 },
		{ "self_delivery", test_pubsub_self_delivery, 30 },
		{ "no_subscribers", test_pubsub_no_subscribers, 30 },
		{ "data_omitted", test_pubsub_data_omitted, 30 },
		{ "data_byte_for_byte", test_pubsub_data_byte_for_byte, 30 },
		{ "topic_escapes", test_pubsub_topic_escapes, 30 },
		{ "ordering", test_pubsub_ordering, 120 },
		{ "send", test_pubsub_send, 30 },
		{ "send_self", test_pubsub_send_self, 30 },
		{ "send_unknown", test_pubsub_send_unknown, 30 },
		{ "ping", test_pubsub_ping, 30 },
		{ "bye", test_pubsub_bye, 30 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, cases[i].timeout);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}
