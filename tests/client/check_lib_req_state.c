/*
 * libjbus and the broker's state for later subscribers, against the real
 * jbusd: retained messages (JBUS_PUB_RETAIN, the replay after a subscribe
 * going to the new pattern's callback alone, wildcards, clearing, the
 * broker's bound, reconnecting to a restarted broker that kept them in its
 * --retain-file), last wills (jbus_conn_new_will: published on SIGKILL and
 * on jbus_conn_free, not after jbus_conn_close, retained when asked, sent
 * again after a reconnect) and presence events.
 *
 * Watchers are library handles recording frames (lt_log); lt_pump
 * dispatches every handle of the test until a log holds what it waits for.
 * "Nothing more arrived" is shown by a ping round trip of the watcher after
 * the broker handled what could have caused it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "lt.h"

static void setup_max_retained(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--max-retained", "1"));
}

static jbus_conn *watcher(const char *name, const char *pattern, struct lt_log *l)
{
	jbus_conn *c = lt_new(name);

	ck_assert_int_eq(jbus_subscribe_sync(c, pattern, lt_log_msg, l, JT_TIMEOUT_MS), 0);
	return c;
}

static void retain(jbus_conn *c, const char *topic, const char *json)
{
	ck_assert_int_eq(
		jbus_publish_text_ex_sync(c, topic, json, -1, JBUS_PUB_RETAIN, JT_TIMEOUT_MS, NULL),
		0);
}

/* section: retained messages */

/* A new subscription gets the matching retained messages, in topic order, marked retained. */
START_TEST(test_retain_on_subscribe)
{
	struct lt_log l = { 0 };
	jbus_conn *p = lt_new("pub"), *s = lt_new("sub");
	unsigned long long delivered = 99;

	ck_assert_int_eq(jbus_publish_text_ex(p, "a/2", "{ \"v\" : 2 }", -1, JBUS_PUB_RETAIN), 0);
	retain(p, "a/1", "1");
	retain(p, "b/1", "3");
	ck_assert_int_eq(jbus_publish_text_ex_sync(p, "a/1", "\"one\"", -1, JBUS_PUB_RETAIN,
						   JT_TIMEOUT_MS, &delivered),
			 0);
	ck_assert_uint_eq(delivered, 0);
	ck_assert_int_eq(jbus_subscribe_sync(s, "a/+", lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.frame[0],
			 "{\"op\":\"msg\",\"topic\":\"a/1\",\"from\":\"pub\",\"data\":\"one\","
			 "\"retained\":true}");
	ck_assert_str_eq(
		l.frame[1],
		"{\"op\":\"msg\",\"topic\":\"a/2\",\"from\":\"pub\",\"data\":{ \"v\" : 2 },"
		"\"retained\":true}");
	ck_assert(l.retained[0] && l.retained[1]);
	/* live: delivered, not marked */
	retain(p, "a/1", "4");
	lt_log_wait(&l, 3);
	ck_assert_str_eq(l.frame[2],
			 "{\"op\":\"msg\",\"topic\":\"a/1\",\"from\":\"pub\",\"data\":4}");
	ck_assert(!l.retained[2]);
	ck_assert_int_eq(jbus_publish_text_ex(p, "a/1", "1", -1, 2), -EINVAL);
	ck_assert_int_eq(jbus_publish_text_ex_sync(p, "a/1", "1", -1, 4, 100, NULL), -EINVAL);
}
END_TEST

/* The replay after a new pattern's ok runs that pattern's callback only. */
START_TEST(test_retain_own_pattern)
{
	struct lt_log all = { 0 }, plus = { 0 }, one = { 0 };
	jbus_conn *p = lt_new("pub"), *s = lt_new("sub");

	retain(p, "a/1", "1");
	retain(p, "a/2", "2");
	ck_assert_int_eq(jbus_subscribe_sync(s, "a/#", lt_log_msg, &all, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_subscribe_sync(s, "a/+", lt_log_msg, &plus, JT_TIMEOUT_MS), 0);
	/* without waiting for the ok: the library's own id says whose replay it is */
	ck_assert_int_eq(jbus_subscribe(s, "a/1", lt_log_msg, &one), 0);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(all.n, 2);
	ck_assert_int_eq(plus.n, 2);
	ck_assert_int_eq(one.n, 1);
	ck_assert_str_eq(plus.frame[1], all.frame[1]);
	ck_assert(one.retained[0]);
	/* subscribing to a pattern again replays nothing */
	ck_assert_int_eq(jbus_subscribe_sync(s, "a/+", lt_log_msg, &plus, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(plus.n, 2);
	/* a live message: every matching pattern, once each */
	retain(p, "a/1", "5");
	lt_log_wait(&one, 2);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(all.n, 3);
	ck_assert_int_eq(plus.n, 3);
	ck_assert(!all.retained[2] && !plus.retained[2] && !one.retained[1]);
}
END_TEST

/* No data (or null) clears: still delivered live, with data null; later subscribers get none. */
START_TEST(test_retain_clear)
{
	struct lt_log live = { 0 }, later = { 0 };
	jbus_conn *p = lt_new("pub"), *s = lt_new("late");

	retain(p, "c/1", "1");
	retain(p, "c/2", "2");
	watcher("live", "c/#", &live);
	lt_log_wait(&live, 2);
	ck_assert_int_eq(
		jbus_publish_text_ex_sync(p, "c/1", NULL, 0, JBUS_PUB_RETAIN, JT_TIMEOUT_MS, NULL),
		0);
	retain(p, "c/2", "null");
	lt_log_wait(&live, 4);
	ck_assert_str_eq(live.frame[2],
			 "{\"op\":\"msg\",\"topic\":\"c/1\",\"from\":\"pub\",\"data\":null}");
	ck_assert_str_eq(live.frame[3],
			 "{\"op\":\"msg\",\"topic\":\"c/2\",\"from\":\"pub\",\"data\":null}");
	ck_assert_int_eq(jbus_subscribe_sync(s, "c/#", lt_log_msg, &later, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(later.n, 0);
}
END_TEST

/* Past --max-retained: limit_reached for the publisher, the message still delivered live. */
START_TEST(test_retain_limit)
{
	struct lt_log live = { 0 };
	jbus_conn *p = lt_new("pub");
	const char *code = NULL;

	watcher("live", "l/#", &live);
	retain(p, "l/1", "1");
	ck_assert_int_eq(
		jbus_publish_text_ex_sync(p, "l/2", "2", -1, JBUS_PUB_RETAIN, JT_TIMEOUT_MS, NULL),
		JBUS_E_BROKER);
	ck_assert(jbus_conn_last_error(p, &code, NULL));
	ck_assert_str_eq(code, "limit_reached");
	lt_log_wait(&live, 2);
	ck_assert_str_eq(live.frame[1],
			 "{\"op\":\"msg\",\"topic\":\"l/2\",\"from\":\"pub\",\"data\":2}");
	/* replacing the one stored value is fine */
	retain(p, "l/1", "3");
}
END_TEST

/* Reconnected to a restarted broker that kept its retained values: replayed to the pattern again.
 */
START_TEST(test_retain_reconnect)
{
	struct lt_log l = { 0 };
	jbus_conn *p = lt_new("pub"), *s = watcher("sub", "r/#", &l);

	retain(p, "r/1", "{\"mode\":\"eco\"}");
	lt_log_wait(&l, 1);
	ck_assert(!l.retained[0]);
	lt_free(p);
	lt_restart(s, JT_ARGV("--retain-file", jt_retain_file()));
	lt_log_wait(&l, 2);
	ck_assert_str_eq(l.frame[1], "{\"op\":\"msg\",\"topic\":\"r/1\",\"from\":\"pub\",\"data\":"
				     "{\"mode\":\"eco\"},\"retained\":true}");
	ck_assert(l.retained[1]);
}
END_TEST

/* section: wills and presence */

static const char *presence(char *buf, size_t cap, const char *event, const char *name, long pid,
			    const char *reason)
{
	char r[64] = "";

	if (reason)
		snprintf(r, sizeof(r), ",\"reason\":\"%s\"", reason);
	snprintf(buf, cap,
		 "{\"op\":\"msg\",\"topic\":\"$SYS/client/%s\",\"from\":\"$SYS\",\"data\":"
		 "{\"name\":\"%s\",\"pid\":%ld,\"uid\":%d,\"gid\":%d%s}}",
		 event, name, pid, (int)getuid(), (int)getgid(), r);
	return buf;
}

/* SIGKILL: the will, from the client's name, then the disconnected event (reason closed). */
START_TEST(test_will_on_kill)
{
	struct lt_log w = { 0 }, sys = { 0 };
	char want[400];
	pid_t pid;
	int st;

	watcher("watch", "w/#", &w);
	watcher("sys", "$SYS/client/+", &sys);
	pid = lt_child_start(&(struct lt_child){
		.name = "pump", .will_topic = "w/pump", .will_json = "\"offline\"" });
	lt_log_wait(&sys, 1);
	ck_assert_str_eq(sys.frame[0],
			 presence(want, sizeof(want), "connected", "pump", pid, NULL));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	st = lt_reap(pid);
	ck_assert(WIFSIGNALED(st));
	lt_log_wait(&sys, 2);
	ck_assert_str_eq(sys.frame[1],
			 presence(want, sizeof(want), "disconnected", "pump", pid, "closed"));
	lt_log_wait(&w, 1);
	ck_assert_str_eq(
		w.frame[0],
		"{\"op\":\"msg\",\"topic\":\"w/pump\",\"from\":\"pump\",\"data\":\"offline\"}");
}
END_TEST

/*
 * A watcher logging w/# and the disconnected events into l, then a handle
 * "x" with a will on w/x.
 */
static jbus_conn *watched_will(struct lt_log *l, const char *json)
{
	jbus_conn *c = NULL, *w = watcher("watch", "w/#", l);

	ck_assert_int_eq(
		jbus_subscribe_sync(w, "$SYS/client/disconnected", lt_log_msg, l, JT_TIMEOUT_MS),
		0);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", "w/x", json, -1, 0), 0);
	lt_track(c);
	return c;
}

/* The will comes before the disconnected event; jbus_conn_free (no bye) publishes it. */
START_TEST(test_will_on_free)
{
	struct lt_log l = { 0 };
	char want[400];

	lt_free(watched_will(&l, "[1, 2]"));
	lt_log_wait(&l, 2);
	ck_assert_str_eq(l.frame[0],
			 "{\"op\":\"msg\",\"topic\":\"w/x\",\"from\":\"x\",\"data\":[1, 2]}");
	ck_assert_str_eq(l.frame[1],
			 presence(want, sizeof(want), "disconnected", "x", getpid(), "closed"));
}
END_TEST

/* jbus_conn_close says bye: no will, reason bye. */
START_TEST(test_will_not_on_bye)
{
	struct lt_log l = { 0 };
	char want[400];

	ck_assert_int_eq(lt_close(watched_will(&l, NULL)), 0);
	lt_log_wait(&l, 1);
	ck_assert_str_eq(l.frame[0],
			 presence(want, sizeof(want), "disconnected", "x", getpid(), "bye"));
}
END_TEST

/* A retained will is the topic's value for later subscribers; it is sent again on reconnect. */
START_TEST(test_will_retained_reconnect)
{
	struct lt_log l = { 0 };
	jbus_conn *c = NULL, *s;

	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "pump", "w/pump", "{\"up\":false}", -1,
					    JBUS_PUB_RETAIN),
			 0);
	lt_track(c);
	/* a new broker knows nothing of the first hello: the will came again with the second */
	lt_restart(c, NULL);
	lt_free(c);
	s = lt_new("late");
	ck_assert_int_eq(jbus_subscribe_sync(s, "w/#", lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	lt_log_wait(&l, 1);
	ck_assert_str_eq(l.frame[0],
			 "{\"op\":\"msg\",\"topic\":\"w/pump\",\"from\":\"pump\",\"data\":"
			 "{\"up\":false},\"retained\":true}");
}
END_TEST

START_TEST(test_will_bad_arguments)
{
	jbus_conn *c = (jbus_conn *)&c;

	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", "w/#", "1", -1, 0),
			 JBUS_E_BAD_TOPIC);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", "$SYS/x", "1", -1, 0),
			 JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", "", "1", -1, 0), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", "w", "{", -1, 0), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", NULL, "1", -1, 0), -EINVAL);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "x", "w", "1", -1, 8), -EINVAL);
	ck_assert_int_eq(jbus_conn_new_will(NULL, jt_b.path, "x", "w", "1", -1, 0), -EINVAL);
	ck_assert_int_eq(jbus_conn_new_will(&c, jt_b.path, "a b", "w", "1", -1, 0),
			 JBUS_E_BAD_NAME);
}
END_TEST

/* Presence: connected and disconnected (bye) events from $SYS; '#' does not see them. */
START_TEST(test_presence)
{
	struct lt_log sys = { 0 }, all = { 0 };
	jbus_conn *c, *w;
	char want[400];

	w = watcher("all", "#", &all);
	watcher("sys", "$SYS/client/+", &sys);
	c = lt_new("x");
	lt_log_wait(&sys, 1);
	ck_assert_str_eq(sys.frame[0],
			 presence(want, sizeof(want), "connected", "x", getpid(), NULL));
	ck_assert_int_eq(lt_close(c), 0);
	lt_log_wait(&sys, 2);
	ck_assert_str_eq(sys.frame[1],
			 presence(want, sizeof(want), "disconnected", "x", getpid(), "bye"));
	ck_assert_int_eq(jbus_ping(w, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(all.n, 0);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "retain_on_subscribe", test_retain_on_subscribe, 0 },
		{ "retain_own_pattern", test_retain_own_pattern, 0 },
		{ "retain_clear", test_retain_clear, 0 },
		{ "will_on_kill", test_will_on_kill, 0 },
		{ "will_on_free", test_will_on_free, 0 },
		{ "will_not_on_bye", test_will_not_on_bye, 0 },
		{ "will_retained_reconnect", test_will_retained_reconnect, 0 },
		{ "will_bad_arguments", test_will_bad_arguments, 0 },
		{ "presence", test_presence, 0 },
	};
	Suite *s = suite_create("lib_req_state");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, lt_teardown, 30);
	tcase_add_test(jt_tcase(s, "retain_limit", setup_max_retained, lt_teardown, 30),
		       test_retain_limit);
	tcase_add_test(jt_tcase(s, "retain_reconnect", jt_setup_retain_file, lt_teardown, 30),
		       test_retain_reconnect);
	return s;
}
