/*
 * libjbus and on_full (jbus_subscribe_full(), jbus_conn_on_dropped(); docs/protocol.md,
 * "Slow consumers") against the real jbusd with a 4 KiB queue limit. A handle that does
 * not dispatch while a raw client publishes falls behind; once it dispatches again, its
 * callbacks see the messages that were queued to it, in order, then the dropped callback
 * with the exact pattern and count, then what came after. Without a dropped callback the
 * notice reaches the error callback. Subscribing again sets on_full anew (jbus_subscribe()
 * makes the subscription a disconnect one again), and a reconnect restores it.
 *
 * The publisher reads each ok, whose "delivered" says whether the message was queued to
 * the handle, so the counts are exact (tests/integration/check_lag.c has the broker's
 * side in detail).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lt.h"

#define SMALL 100
#define MAXP 4096
#define MAX_FLOOD 3000

/* What the callbacks of the handle saw, in order; fixture-owned, reset by setup. */
static struct {
	int n;
	int ev[MAXP];                 /* message number, or -1 for a dropped notice */
	int notices;                  /* dropped callbacks and "dropped" errors */
	char pattern[64], what[128];  /* of the last notice: its pattern, or error message */
	unsigned long long count;
	int errors;                   /* error callbacks, "dropped" ones included */
	char code[32];
	bool id_null;
} seen;

static int npubs;

static void setup(void)
{
	memset(&seen, 0, sizeof(seen));
	npubs = 0;
	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "4K"));
}

static void event(int ev)
{
	ck_assert_int_lt(seen.n, MAXP);
	seen.ev[seen.n++] = ev;
}

static void on_msg(jbus_conn *c, const jbus_msg *m, void *ud)
{
	json_object *n;

	ck_assert_ptr_eq(ud, &seen);
	ck_assert(json_object_object_get_ex(jbus_msg_json(m), "n", &n));
	event(json_object_get_int(n));
}

static void on_dropped(jbus_conn *c, const char *pattern, unsigned long long count, void *ud)
{
	ck_assert_ptr_eq(ud, &seen);
	jt_fmt(seen.pattern, sizeof(seen.pattern), "%s", pattern);
	seen.count = count;
	seen.notices++;
	event(-1);
}

static void on_error(jbus_conn *c, const char *code, const char *message, const char *id,
		     void *ud)
{
	ck_assert_ptr_eq(ud, &seen);
	jt_fmt(seen.code, sizeof(seen.code), "%s", code);
	jt_fmt(seen.what, sizeof(seen.what), "%s", message);
	seen.id_null = id == NULL;
	seen.errors++;
	if (!strcmp(code, "dropped")) {
		seen.notices++;
		event(-1);
	}
}

static bool noticed(void *ud)
{
	return seen.notices > 0;
}

static bool events_reached(void *ud)
{
	return seen.n >= *(int *)ud;
}

/* Publish on topic as p until a message is not queued to the handle; returns its number. */
static int flood(struct jt_conn *p, const char *topic)
{
	for (int k = 0; k < MAX_FLOOD; k++) {
		int n = npubs++;

		if (jt_pub_n(p, topic, n, SMALL) == 0)
			return n;
	}
	ck_abort_msg("the handle did not fall behind after %d messages", MAX_FLOOD);
	return -1;
}

/* n more messages on topic, each queued to delivered clients. */
static void publish_more(struct jt_conn *p, const char *topic, int n, int delivered)
{
	for (int k = 0; k < n; k++) {
		ck_assert_int_eq(jt_pub_n(p, topic, npubs, SMALL), delivered);
		npubs++;
	}
}

/* The events from seen.ev[from] on are messages first, first + 1, ... up to before end. */
static void expect_msgs(int from, int first, int end)
{
	for (int i = 0; i < end - first; i++)
		ck_assert_msg(seen.ev[from + i] == first + i, "event %d: %d, want message %d",
			      from + i, seen.ev[from + i], first + i);
}

/*
 * drop: the messages queued to the handle, the dropped callback with the pattern as
 * subscribed and the exact count, then the messages published after it caught up.
 */
START_TEST(test_lib_lag_dropped_callback)
{
	jbus_conn *c = lt_new("s");
	struct jt_conn *p;
	int first, want;

	jbus_conn_on_dropped(c, on_dropped, &seen);
	ck_assert_int_eq(jbus_subscribe_full_sync(c, "t/#", JBUS_ON_FULL_DROP, on_msg, &seen,
						  JT_TIMEOUT_MS),
			 0);
	p = jt_client("p");
	first = flood(p, "t/x");
	publish_more(p, "t/x", 5, 0);
	lt_pump(noticed, NULL);
	ck_assert_int_eq(seen.n, first + 1);
	expect_msgs(0, 0, first);
	ck_assert_int_eq(seen.ev[first], -1);
	ck_assert_str_eq(seen.pattern, "t/#");
	ck_assert_uint_eq(seen.count, (unsigned long long)(npubs - first));
	/* caught up: the next messages arrive after the notice */
	publish_more(p, "t/x", 3, 1);
	want = first + 4;
	lt_pump(events_reached, &want);
	expect_msgs(first + 1, npubs - 3, npubs);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(seen.n, want);
	ck_assert_int_eq(seen.notices, 1);
	ck_assert_int_eq(jt_stat(p, "dropped"), npubs - 3 - first);
}
END_TEST

/*
 * latest without a dropped callback: the error callback hears of the loss, code "dropped"
 * and a message naming the count (1 and 4: singular and plural) and pattern, no id; the
 * kept message follows and the connection stays up.
 */
START_TEST(test_lib_lag_dropped_to_error)
{
	static const int extra[] = { 1, 4 };
	jbus_conn *c = lt_new("s");
	struct jt_conn *p = jt_client("p");
	char want[128];
	int first, n;

	jbus_conn_on_error(c, on_error, &seen);
	ck_assert_int_eq(jbus_subscribe_full(c, "st/#", JBUS_ON_FULL_LATEST, on_msg, &seen), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	first = flood(p, "st/a");
	/* the first was kept; each of these replaces the one kept before it */
	publish_more(p, "st/a", extra[_i], 0);
	n = first + 2;
	lt_pump(events_reached, &n);
	expect_msgs(0, 0, first);
	ck_assert_int_eq(seen.ev[first], -1);
	ck_assert_int_eq(seen.ev[first + 1], npubs - 1);
	ck_assert_str_eq(seen.code, "dropped");
	jt_fmt(want, sizeof(want), "dropped %d message%s on 'st/#'", extra[_i],
	       extra[_i] == 1 ? "" : "s");
	ck_assert_str_eq(seen.what, want);
	ck_assert(seen.id_null);
	ck_assert_int_eq(seen.errors, 1);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(seen.n, first + 2);
}
END_TEST

/*
 * Subscribing again sets on_full anew: drop, then jbus_subscribe() of the same pattern, is
 * the disconnect rule again (the flood ends the connection, no notice); the reverse makes a
 * subscription lossy.
 */
START_TEST(test_lib_lag_resubscribe)
{
	jbus_conn *c = lt_new("s1"), *c2 = lt_new("s2");
	struct jt_conn *p = jt_client("p");
	int first, r, want;

	jbus_conn_on_dropped(c, on_dropped, &seen);
	jbus_conn_on_error(c, on_error, &seen);
	ck_assert_int_eq(jbus_subscribe_full(c, "r", JBUS_ON_FULL_DROP, on_msg, &seen), 0);
	ck_assert_int_eq(jbus_subscribe(c, "r", on_msg, &seen), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	first = flood(p, "r");
	while ((r = jbus_conn_wait(c, JT_TIMEOUT_MS)) > 0)
		;
	ck_assert_msg(r < 0, "the slow consumer was not disconnected");
	ck_assert_int_eq(seen.notices, 0);
	ck_assert_int_le(seen.n, first);
	expect_msgs(0, 0, seen.n);
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 1);

	memset(&seen, 0, sizeof(seen));
	jbus_conn_on_dropped(c2, on_dropped, &seen);
	ck_assert_int_eq(jbus_subscribe(c2, "r2", on_msg, &seen), 0);
	ck_assert_int_eq(jbus_subscribe_full_sync(c2, "r2", JBUS_ON_FULL_DROP, on_msg, &seen,
						  JT_TIMEOUT_MS),
			 0);
	want = npubs;
	first = flood(p, "r2");
	lt_pump(noticed, NULL);
	expect_msgs(0, want, first);
	ck_assert_str_eq(seen.pattern, "r2");
	ck_assert_uint_eq(seen.count, 1);
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 1);
}
END_TEST

/* A reconnected handle subscribes again with the same on_full. */
START_TEST(test_lib_lag_reconnect)
{
	jbus_conn *c = lt_new("s");
	struct jt_conn *p;
	int first;

	jbus_conn_on_dropped(c, on_dropped, &seen);
	ck_assert_int_eq(jbus_subscribe_full_sync(c, "rc/#", JBUS_ON_FULL_DROP, on_msg, &seen,
						  JT_TIMEOUT_MS),
			 0);
	lt_restart(c, JT_ARGV("--queue-limit", "4K"));
	/* its pong comes after the ok of the sub sent with the hello */
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	p = jt_client("p");
	first = flood(p, "rc/x");
	publish_more(p, "rc/x", 2, 0);
	lt_pump(noticed, NULL);
	expect_msgs(0, 0, first);
	ck_assert_int_eq(seen.n, first + 1);
	ck_assert_str_eq(seen.pattern, "rc/#");
	ck_assert_uint_eq(seen.count, 3);
}
END_TEST

/* Arguments checked before anything is sent. */
START_TEST(test_lib_lag_bad_args)
{
	jbus_conn *c = lt_new("s");

	ck_assert_int_eq(jbus_subscribe_full(c, "a", (enum jbus_on_full)3, lt_ignore, NULL),
			 -EINVAL);
	ck_assert_int_eq(jbus_subscribe_full_sync(c, "a", (enum jbus_on_full)-1, lt_ignore, NULL,
						  JT_TIMEOUT_MS),
			 -EINVAL);
	ck_assert_int_eq(jbus_subscribe_full(NULL, "a", JBUS_ON_FULL_DROP, lt_ignore, NULL),
			 -EINVAL);
	ck_assert_int_eq(jbus_subscribe_full(c, "a+", JBUS_ON_FULL_DROP, lt_ignore, NULL),
			 JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_subscribe_full(c, "a", JBUS_ON_FULL_LATEST, NULL, NULL), -EINVAL);
	/* nothing was subscribed */
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(lt_stat(c, "subscriptions"), 0);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "lib_lag_dropped_callback", test_lib_lag_dropped_callback },
		{ "lib_lag_dropped_to_error", test_lib_lag_dropped_to_error, 2 },
		{ "lib_lag_resubscribe", test_lib_lag_resubscribe },
		{ "lib_lag_reconnect", test_lib_lag_reconnect },
		{ "lib_lag_bad_args", test_lib_lag_bad_args },
	};
	Suite *s = suite_create("lib_lag");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), setup, lt_teardown, 60);
	return s;
}
