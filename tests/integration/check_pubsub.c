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
#include "util.h"

/* section: fixture */

static char *big; /* scratch buffer of the ordering test, freed by teardown */

static void teardown(void)
{
	free(big);
	big = NULL;
	jt_teardown();
}

/* section: helpers */

static void unsub(struct jt_conn *c, const char *pattern)
{
	jt_send(c, "{\"op\":\"unsub\",\"topic\":\"%s\",\"id\":\"u\"}", pattern);
	jt_expect_ok(c, "\"u\"", -1);
}

/* Publish with an id and assert the ok and its delivered count. */
static void pub(struct jt_conn *c, const char *topic, const char *data, int delivered)
{
	jt_send(c, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":%s,\"id\":\"p\"}", topic, data);
	jt_expect_ok(c, "\"p\"", delivered);
}

/* a publishes, and s, its only subscriber matching topic, receives the msg. */
static void pub_one(struct jt_conn *a, struct jt_conn *s, const char *topic, const char *data)
{
	pub(a, topic, data, 1);
	jt_expect_msg(s, topic, a->name, data);
}

/*
 * The next two frames are x and y in either order: a msg to oneself is not
 * a response, so its place relative to the ok is not fixed.
 */
static void expect_both(struct jt_conn *c, const char *x, const char *y)
{
	char *l1 = jt_next_line(c), *l2 = jt_next_line(c);

	ck_assert_msg((strcmp(l1, x) == 0 && strcmp(l2, y) == 0) ||
			      (strcmp(l1, y) == 0 && strcmp(l2, x) == 0),
		      "expected\n%s\n%s\nin either order, got\n%s\n%s", x, y, l1, l2);
	free(l1);
	free(l2);
}

/* section: pub/sub */

START_TEST(test_pubsub_exact)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b"), *c = jt_client("c");

	jt_sub(b, "x/y");
	pub_one(a, b, "x/y", "42");

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
	struct jt_conn *a = jt_client("a");

	for (size_t i = 0; i < sizeof(wild_cases) / sizeof(wild_cases[0]); i++) {
		const struct wild_case *w = &wild_cases[i];
		struct jt_conn *s = jt_client(NULL);
		char data[32];

		snprintf(data, sizeof(data), "%zu", i);
		jt_sub(s, w->pattern);
		pub(a, w->topic, data, w->match ? 1 : 0);
		if (w->match)
			jt_expect_msg(s, w->topic, "a", data);
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
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");

	jt_sub(b, "#");
	jt_sub(b, "+/x");
	jt_sub(b, "+");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"$sys/x\",\"data\":1,\"id\":1}");
	jt_expect_error_id(a, "bad_topic", "1", NULL);
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"$\",\"id\":2}");
	jt_expect_error_id(a, "bad_topic", "2", NULL);
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"$x\"}");
	jt_expect_error_id(a, "bad_topic", NULL, NULL);
	jt_sync(a);
	jt_sync(b);

	/* a '$' later in the topic is an ordinary character */
	pub_one(a, b, "s/x", "1");
	pub_one(a, b, "x$", "2");
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_exactly_once)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b"), *c = jt_client("c");

	jt_sub(b, "s/#");
	jt_sub(b, "s/+");
	jt_sub(b, "s/t");
	jt_sub(b, "#");
	jt_sub(b, "+/+");
	jt_sub(c, "s/t");

	/* delivered counts clients: b (five matching patterns) and c */
	pub(a, "s/t", "1", 2);
	jt_expect_msg(b, "s/t", "a", "1");
	jt_expect_msg(c, "s/t", "a", "1");
	jt_sync(b);
	jt_sync(c);

	pub_one(a, b, "s/u", "2");
	pub_one(a, b, "s", "3");
	jt_sync(b);
	jt_sync(c);

	/* removing some of the overlapping patterns leaves the others working */
	unsub(b, "#");
	unsub(b, "s/t");
	pub(a, "s/t", "4", 2);
	jt_expect_msg(b, "s/t", "a", "4");
	jt_expect_msg(c, "s/t", "a", "4");
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_repeated_sub)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");

	jt_sub(b, "t");
	jt_sub(b, "t");
	jt_sub(b, "t");
	pub_one(a, b, "t", "1");
	jt_sync(b);

	/* a set: one unsub removes it */
	unsub(b, "t");
	pub(a, "t", "2", 0);
	jt_sync(b);

	/* unsub of what is not (or no longer) subscribed is ok */
	unsub(b, "t");
	unsub(b, "never/+");
	jt_send(b, "{\"op\":\"unsub\",\"topic\":\"#\",\"id\":1.50}");
	jt_expect_line(b, "{\"op\":\"ok\",\"id\":1.50}");
	jt_send(b, "{\"op\":\"unsub\",\"topic\":\"#\"}");
	jt_sync(b);

	/* and subscribing again works */
	jt_sub(b, "t");
	pub_one(a, b, "t", "3");
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_self_delivery)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");
	static const char msg[] = "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"a\",\"data\":7}";
	static const char ok[] = "{\"op\":\"ok\",\"id\":\"p\",\"delivered\":2}";

	jt_sub(a, "t");
	jt_sub(b, "#");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":7,\"id\":\"p\"}");
	expect_both(a, msg, ok);
	jt_expect_msg(b, "t", "a", "7");
	jt_sync(a);
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_no_subscribers)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");

	jt_sub(b, "other");
	pub(a, "t", "1", 0);
	/* without id a pub gets no ok at all */
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1}");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"other\",\"data\":2}");
	jt_expect_msg(b, "other", "a", "2");
	jt_sync(a);
	jt_sync(b);
}
END_TEST

START_TEST(test_pubsub_data_omitted)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");

	jt_sub(b, "t");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"id\":1}");
	jt_expect_ok(a, "1", 1);
	jt_expect_msg(b, "t", "a", "null");
	pub_one(a, b, "t", "null");
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
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");

	jt_sub(b, "t");
	for (size_t i = 0; i < sizeof(raw_data) / sizeof(raw_data[0]); i++) {
		pub_one(a, b, "t", raw_data[i]);
	}
	jt_sync(b);
}
END_TEST

/* The topic is re-encoded (escapes decoded), unlike data. */
START_TEST(test_pubsub_topic_escapes)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");

	jt_sub(b, "a/b");
	jt_sub(b, "caf\xc3\xa9");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"a\\/b\",\"data\":1,\"id\":1}");
	jt_expect_ok(a, "1", 1);
	jt_expect_msg(b, "a/b", "a", "1");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"\\u0061/\\u0062\",\"data\":2,\"id\":2}");
	jt_expect_ok(a, "2", 1);
	jt_expect_msg(b, "a/b", "a", "2");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"caf\\u00e9\",\"data\":3,\"id\":3}");
	jt_expect_ok(a, "3", 1);
	jt_expect_msg(b, "caf\xc3\xa9", "a", "3");
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
	struct jt_conn *p = jt_client("pub"), *s1 = jt_client("s1"), *s2 = jt_client("s2");
	long sent = 0, next1 = 0, next2 = 0;
	size_t len;

	jt_sub(s1, "seq");
	jt_sub(s2, "#");
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
	jt_expect_msg(s1, "seq", "pub", "\"end\"");
	jt_expect_msg(s2, "seq", "pub", "\"end\"");
	jt_sync(s1);
	jt_sync(s2);
}
END_TEST

/* section: direct send */

START_TEST(test_pubsub_send)
{
	struct jt_conn *a = jt_client("alice"), *b = jt_client("bob"), *c = jt_client("carol");

	jt_send(a, "{\"op\":\"send\",\"to\":\"bob\",\"data\":{\"k\":[1,2.0]},\"id\":5}");
	jt_expect_ok(a, "5", -1);
	jt_expect_line(b,
		    "{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"bob\",\"data\":{\"k\":[1,2.0]}}");

	/* no data: null; no id: no ok */
	jt_send(a, "{\"op\":\"send\",\"to\":\"bob\"}");
	jt_expect_line(b, "{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"bob\",\"data\":null}");
	jt_sync(a);

	/* subscriptions play no part in a direct send */
	jt_sub(c, "#");
	jt_send(a, "{\"op\":\"send\",\"to\":\"b\\u006fb\",\"data\":\"x\",\"id\":\"s\"}");
	jt_expect_ok(a, "\"s\"", -1);
	jt_expect_line(b, "{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"bob\",\"data\":\"x\"}");
	jt_sync(b);
	jt_sync(c);
}
END_TEST

START_TEST(test_pubsub_send_self)
{
	struct jt_conn *a = jt_client("alice");
	static const char msg[] =
		"{\"op\":\"msg\",\"from\":\"alice\",\"to\":\"alice\",\"data\":[true]}";
	static const char ok[] = "{\"op\":\"ok\",\"id\":1}";

	jt_send(a, "{\"op\":\"send\",\"to\":\"alice\",\"data\":[true],\"id\":1}");
	expect_both(a, msg, ok);
	jt_sync(a);
}
END_TEST

START_TEST(test_pubsub_send_unknown)
{
	struct jt_conn *a = jt_client("alice"), *b = jt_client("bob");

	jt_send(a, "{\"op\":\"send\",\"to\":\"nobody\",\"data\":1,\"id\":7}");
	jt_expect_error_id(a, "no_such_client", "7", NULL);
	jt_send(a, "{\"op\":\"send\",\"to\":\"Bob\",\"id\":\"x\"}");
	jt_expect_error_id(a, "no_such_client", "\"x\"", NULL);
	/* a string that is no valid name cannot name a client either */
	jt_send(a, "{\"op\":\"send\",\"to\":\"bob b\",\"id\":8}");
	jt_expect_error_id(a, "no_such_client", "8", NULL);
	jt_send(a, "{\"op\":\"send\",\"to\":\"\",\"id\":9}");
	jt_expect_error_id(a, "no_such_client", "9", NULL);
	jt_send(a, "{\"op\":\"send\",\"to\":\"nobody\"}");
	jt_expect_error_id(a, "no_such_client", NULL, NULL);
	jt_sync(a);
	jt_sync(b);

	/* a name whose holder has gone is unknown again */
	jt_send(b, "{\"op\":\"bye\"}");
	jt_expect_eof(b, JT_TIMEOUT_MS);
	jt_send(a, "{\"op\":\"send\",\"to\":\"bob\",\"id\":10}");
	jt_expect_error_id(a, "no_such_client", "10", NULL);
	jt_sync(a);
}
END_TEST

/* section: ping and bye */

START_TEST(test_pubsub_ping)
{
	struct jt_conn *a = jt_client("a");

	jt_send(a, "{\"op\":\"ping\"}");
	jt_expect_line(a, "{\"op\":\"pong\"}");
	jt_send(a, "{\"op\":\"ping\",\"id\":7}");
	jt_expect_line(a, "{\"op\":\"pong\",\"id\":7}");
	jt_send(a, "{\"op\":\"ping\",\"id\":\"x\"}");
	jt_expect_line(a, "{\"op\":\"pong\",\"id\":\"x\"}");
	jt_send(a, "{\"op\":\"ping\",\"id\":1.50}");
	jt_expect_line(a, "{\"op\":\"pong\",\"id\":1.50}");
	jt_send(a, "{\"op\":\"ping\",\"id\":\"\\u00e9\"}");
	jt_expect_line(a, "{\"op\":\"pong\",\"id\":\"\\u00e9\"}");
	jt_send(a, "{\"op\":\"ping\",\"id\":-12345678901234567890123}");
	jt_expect_line(a, "{\"op\":\"pong\",\"id\":-12345678901234567890123}");
	jt_sync(a);
}
END_TEST

/* After bye: what was owed arrives, then EOF, and no ok for the bye itself. */
START_TEST(test_pubsub_bye)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");
	static const char frames[] = "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"bye\",\"id\":2}\n";

	jt_sub(b, "t");
	pub(a, "t", "\"queued\"", 1);
	jt_send_raw(b, frames, sizeof(frames) - 1);
	jt_expect_msg(b, "t", "a", "\"queued\"");
	jt_expect_line(b, "{\"op\":\"pong\",\"id\":1}");
	/* EOF right after the pong: no ok for the bye */
	jt_expect_eof_next(b);

	/* b is gone for routing, a is unaffected */
	pub(a, "t", "1", 0);
	jt_sync(a);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("pubsub");
	const struct jt_case cases[] = {
		{ "exact", test_pubsub_exact },
		{ "wildcards", test_pubsub_wildcards },
		{ "dollar", test_pubsub_dollar },
		{ "exactly_once", test_pubsub_exactly_once },
		{ "repeated_sub", test_pubsub_repeated_sub },
		{ "self_delivery", test_pubsub_self_delivery },
		{ "no_subscribers", test_pubsub_no_subscribers },
		{ "data_omitted", test_pubsub_data_omitted },
		{ "data_byte_for_byte", test_pubsub_data_byte_for_byte },
		{ "topic_escapes", test_pubsub_topic_escapes },
		{ "send", test_pubsub_send },
		{ "send_self", test_pubsub_send_self },
		{ "send_unknown", test_pubsub_send_unknown },
		{ "ping", test_pubsub_ping },
		{ "bye", test_pubsub_bye },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, teardown, 30);
	/* 100,000 messages: slow under SANITIZE=1 */
	tcase_add_test(jt_tcase(s, "ordering", jt_setup, teardown, 120), test_pubsub_ordering);
	return s;
}
