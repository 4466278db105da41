/*
 * libjbus automatic reconnect: the broker is killed (SIGKILL, leaving a
 * stale socket file) or stopped cleanly (SIGTERM: shutting_down, socket
 * removed), then started again on the same path. The state callback sees
 * DISCONNECTED, then CONNECTING and CONNECTED; the name and every
 * subscription (also one made while disconnected) are restored, and
 * messages flow again. Without reconnect the handle reports the loss and
 * refuses work, and one call turns reconnect on afterwards. Frames still
 * queued when the connection died are counted in jbus_conn_dropped().
 *
 * The handle is driven by the test's own poll loop (fd, events, timeout,
 * dispatch), as an application would, so the backoff timer is the only
 * thing anyone waits for.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jbus.h>

#include "jt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAGIC 0x72636e6eu

static jbus_conn *lc; /* the handle under test, fixture-owned */

static void teardown(void)
{
	lc = jbus_conn_free(lc);
	jt_teardown();
}

struct obs {
	unsigned magic;
	int nstates;
	enum jbus_state states[64];
	int msgs;
	char last_topic[64], last_data[64];
	int errors;
	char last_code[64];
};

static void on_state(jbus_conn *c, enum jbus_state st, void *userdata)
{
	struct obs *o = userdata;

	ck_assert_uint_eq(o->magic, MAGIC);
	ck_assert_int_lt(o->nstates, (int)ARRAY_SIZE(o->states));
	o->states[o->nstates++] = st;
	/* the state the callback reports is the handle's state */
	ck_assert_int_eq(jbus_conn_state(c), st);
}

static void on_msg(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct obs *o = userdata;

	ck_assert_uint_eq(o->magic, MAGIC);
	o->msgs++;
	snprintf(o->last_topic, sizeof(o->last_topic), "%s", jbus_msg_topic(m));
	snprintf(o->last_data, sizeof(o->last_data), "%s", jbus_msg_data(m, NULL));
}

static void on_error(jbus_conn *c, const char *code, const char *message, const char *id,
		     void *userdata)
{
	struct obs *o = userdata;

	ck_assert_uint_eq(o->magic, MAGIC);
	o->errors++;
	snprintf(o->last_code, sizeof(o->last_code), "%s", code);
}

/* One turn of the application's loop: wait for what the library asks for, then dispatch. */
static int turn(jbus_conn *c, int64_t deadline)
{
	struct pollfd p = { .fd = jbus_conn_get_fd(c), .events = jbus_conn_get_events(c) };
	int64_t left = deadline - jt_now_ms();
	int t = jbus_conn_get_timeout(c);

	if (t < 0 || t > left)
		t = left > 0 ? (int)left : 0;
	/* while disconnected the fd is -1, which poll() ignores: only the timer wakes us */
	ck_assert_int_ge(poll(&p, 1, t), 0);
	return jbus_conn_dispatch(c);
}

/* Drive lc until cond holds; with reconnect on, dispatch never fails. */
#define pump_until(cond)                                                                           \
	do {                                                                                       \
		int64_t dl_ = jt_now_ms() + 3 * JT_TIMEOUT_MS;                                     \
		while (!(cond)) {                                                                  \
			int r_;                                                                    \
			ck_assert_msg(jt_now_ms() < dl_, "timed out waiting for %s", #cond);       \
			r_ = turn(lc, dl_);                                                        \
			ck_assert_msg(r_ >= 0, "dispatch: %s", jbus_error_name(r_));               \
		}                                                                                  \
	} while (0)

static void connect_observed(struct obs *o, const char *name)
{
	ck_assert_int_eq(jbus_conn_new(&lc, jt_b.path, name), 0);
	jbus_conn_on_state(lc, on_state, o);
	jbus_conn_on_message(lc, on_msg, o);
	jbus_conn_on_error(lc, on_error, o);
}

static void kill_broker(int sig)
{
	int st;

	ck_assert_int_eq(kill(jt_b.pid, sig), 0);
	if (sig == SIGTERM) {
		jt_broker_expect_exit(&jt_b); /* clean: exit 0, socket file removed */
		return;
	}
	st = jt_broker_wait(&jt_b, JT_TIMEOUT_MS);
	ck_assert_msg(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig, "status %d", st);
}

/* A raw client on the current broker publishes; returns how many it reached. */
static int64_t raw_publish(const char *topic, const char *data)
{
	struct jt_conn *p = jt_client(NULL);
	json_object *o;
	int64_t n;

	jt_send(p, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":%s,\"id\":1}", topic, data);
	o = jt_expect(p, "ok");
	n = jt_int(o, "delivered");
	json_object_put(o);
	jt_close(p);
	return n;
}

/* The broker goes away and comes back on the same path; the handle follows. */
static void lose_and_restore(int sig)
{
	struct obs o = { .magic = MAGIC };
	int t, n;

	connect_observed(&o, "rc");
	jbus_conn_set_reconnect(lc, true);
	ck_assert_int_eq(jbus_subscribe_sync(lc, "r/#", on_msg, &o, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(raw_publish("r/0", "0"), 1);
	pump_until(o.msgs == 1);

	kill_broker(sig);
	pump_until(o.nstates > 0);
	ck_assert_int_eq(o.states[0], JBUS_STATE_DISCONNECTED);
	if (sig == SIGTERM) {
		/* told before the end */
		ck_assert_int_eq(o.errors, 1);
		ck_assert_str_eq(o.last_code, "shutting_down");
	}
	ck_assert_int_eq(jbus_conn_state(lc), JBUS_STATE_DISCONNECTED);
	ck_assert_int_eq(jbus_conn_get_fd(lc), -1);
	ck_assert_int_eq(jbus_conn_get_events(lc), 0);
	t = jbus_conn_get_timeout(lc);
	ck_assert_msg(t >= 0 && t <= 100, "first retry in %d ms", t);
	ck_assert_ptr_null(jbus_conn_name(lc));
	/* while disconnected: publishing fails, subscribing is kept for later */
	ck_assert_int_eq(jbus_publish(lc, "r/x", NULL), -ENOTCONN);
	ck_assert_int_eq(jbus_subscribe(lc, "late/#", on_msg, &o), 0);
	/* a failed attempt (nobody listens) backs off: 100 ms, then 200 */
	n = o.nstates;
	pump_until(jbus_conn_get_timeout(lc) > 100);
	ck_assert_int_le(jbus_conn_get_timeout(lc), 200);
	ck_assert_int_eq(o.nstates, n); /* a refused connect is no state change */

	jt_broker_start_at(&jt_b, jt_b.path, NULL);
	pump_until(jbus_conn_state(lc) == JBUS_STATE_CONNECTED);
	ck_assert_int_eq(o.nstates, 3);
	ck_assert_int_eq(o.states[1], JBUS_STATE_CONNECTING);
	ck_assert_int_eq(o.states[2], JBUS_STATE_CONNECTED);
	ck_assert_str_eq(jbus_conn_name(lc), "rc");
	ck_assert_int_ge(jbus_conn_get_fd(lc), 0);
	/* the round trip orders the restored subscriptions before the publishes below */
	ck_assert_int_eq(jbus_ping(lc, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(raw_publish("r/1", "1"), 1);
	pump_until(o.msgs == 2);
	ck_assert_str_eq(o.last_topic, "r/1");
	ck_assert_int_eq(raw_publish("late/1", "2"), 1);
	pump_until(o.msgs == 3);
	ck_assert_str_eq(o.last_data, "2");
	/* the name is ours again */
	ck_assert_int_eq(jbus_send_sync(lc, "rc", NULL, JT_TIMEOUT_MS), 0);
	pump_until(o.msgs == 4);
	ck_assert_uint_eq(jbus_conn_dropped(lc), 0);
}

START_TEST(test_reconnect_after_sigkill)
{
	lose_and_restore(SIGKILL);
}
END_TEST

START_TEST(test_reconnect_after_sigterm)
{
	lose_and_restore(SIGTERM);
}
END_TEST

/* Off by default: the loss is reported and nothing is retried, until reconnect is turned on. */
START_TEST(test_reconnect_off)
{
	struct obs o = { .magic = MAGIC };
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	int r;

	connect_observed(&o, "once");
	ck_assert_int_eq(jbus_subscribe_sync(lc, "o/#", on_msg, &o, JT_TIMEOUT_MS), 0);
	kill_broker(SIGKILL);
	while ((r = turn(lc, deadline)) == 0)
		ck_assert_msg(jt_now_ms() < deadline, "loss not noticed");
	ck_assert_msg(r == JBUS_E_CLOSED || r == -ECONNRESET, "dispatch: %s", jbus_error_name(r));
	ck_assert_int_eq(o.nstates, 1);
	ck_assert_int_eq(o.states[0], JBUS_STATE_DISCONNECTED);
	ck_assert_int_eq(jbus_conn_get_fd(lc), -1);
	ck_assert_int_eq(jbus_conn_get_events(lc), 0);
	ck_assert_int_eq(jbus_conn_get_timeout(lc), -1);
	ck_assert_int_eq(jbus_conn_dispatch(lc), -ENOTCONN);
	ck_assert_int_eq(jbus_publish(lc, "o/x", NULL), -ENOTCONN);
	ck_assert_int_eq(jbus_subscribe(lc, "p/#", on_msg, &o), -ENOTCONN);
	ck_assert_int_eq(jbus_ping(lc, 100), -ENOTCONN);
	ck_assert_int_eq(jbus_conn_wait(lc, 100), -ENOTCONN);
	ck_assert_int_eq(jbus_conn_flush(lc, 100), -ENOTCONN);

	/* one call, and the handle comes back with its subscriptions */
	jt_broker_start_at(&jt_b, jt_b.path, NULL);
	jbus_conn_set_reconnect(lc, true);
	ck_assert_int_eq(jbus_conn_get_timeout(lc), 0); /* due at once */
	pump_until(jbus_conn_state(lc) == JBUS_STATE_CONNECTED);
	ck_assert_str_eq(jbus_conn_name(lc), "once");
	ck_assert_int_eq(jbus_ping(lc, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(raw_publish("o/1", "[1]"), 1);
	pump_until(o.msgs == 1);
	ck_assert_str_eq(o.last_data, "[1]");
}
END_TEST

/* Output still queued when the connection dies is discarded and counted. */
START_TEST(test_reconnect_dropped)
{
	struct obs o = { .magic = MAGIC };
	char data[1100];

	connect_observed(&o, "drop");
	jbus_conn_set_reconnect(lc, true);
	jt_broker_freeze(&jt_b);
	memset(data, 'x', sizeof(data));
	memcpy(data, "\"", 1);
	memcpy(data + 1000, "\"", 2);
	/* 4 MB: most of it cannot leave while the broker is frozen */
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(jbus_publish_text(lc, "d", data, -1), 0);
	ck_assert_int_eq(jbus_conn_dispatch(lc), 0);
	ck_assert(jbus_conn_get_events(lc) & POLLOUT);
	kill_broker(SIGKILL);
	pump_until(o.nstates > 0);
	ck_assert_int_eq(o.states[0], JBUS_STATE_DISCONNECTED);
	ck_assert_msg(jbus_conn_dropped(lc) > 1000 && jbus_conn_dropped(lc) <= 4096, "dropped %llu",
		      jbus_conn_dropped(lc));
	jt_broker_start_at(&jt_b, jt_b.path, NULL);
	pump_until(jbus_conn_state(lc) == JBUS_STATE_CONNECTED);
	ck_assert_int_eq(jbus_subscribe_sync(lc, "d", on_msg, &o, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_publish_text(lc, "d", "\"after\"", -1), 0);
	pump_until(o.msgs == 1);
	ck_assert_str_eq(o.last_data, "\"after\"");
}
END_TEST

/*
 * A policy reload takes a subscription back (forbidden with its "topic"): the library forgets
 * it, so after a broker restart it restores the others but does not ask for that one again.
 */
START_TEST(test_reconnect_revoked)
{
	struct obs o = { .magic = MAGIC };
	char policy[sizeof(jt_b.dir) + 16], sock[sizeof(jt_b.dir) + 16];
	struct jt_conn *q;
	json_object *r, *list, *subs = NULL;

	jt_setup_dir();
	jt_fmt(policy, sizeof(policy), "%s/policy.json", jt_b.dir);
	jt_fmt(sock, sizeof(sock), "%s/jbus.sock", jt_b.dir);
	jt_write_file(policy, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"#\"],"
			      "\"subscribe\":[\"#\"],\"own\":[\"*\"],\"introspect\":true}}]}");
	jt_broker_start_at(&jt_b, sock, JT_ARGV("--policy", policy));
	connect_observed(&o, "rv");
	jbus_conn_set_reconnect(lc, true);
	ck_assert_int_eq(jbus_subscribe_sync(lc, "a/#", on_msg, &o, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_subscribe_sync(lc, "c", on_msg, &o, JT_TIMEOUT_MS), 0);

	unlink(policy);
	jt_write_file(policy, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"#\"],"
			      "\"subscribe\":[\"#\"],\"own\":[\"*\"],\"introspect\":true},"
			      "\"deny\":{\"subscribe\":[\"a/#\"]}}]}");
	ck_assert_int_eq(kill(jt_b.pid, SIGHUP), 0);
	pump_until(o.errors == 1);
	ck_assert_str_eq(o.last_code, "forbidden");

	kill_broker(SIGTERM);
	pump_until(o.errors == 2); /* shutting_down */
	pump_until(jbus_conn_state(lc) == JBUS_STATE_DISCONNECTED);
	jt_broker_start_at(&jt_b, sock, JT_ARGV("--policy", policy));
	pump_until(jbus_conn_state(lc) == JBUS_STATE_CONNECTED);
	ck_assert_int_eq(jbus_ping(lc, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(o.errors, 2); /* no forbidden answer to a restored a/# */
	q = jt_client(NULL);
	jt_send(q, "{\"op\":\"clients\",\"id\":1}");
	r = jt_expect(q, "clients");
	ck_assert(json_object_object_get_ex(r, "clients", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);

		if (strcmp(jt_str(e, "name"), "rv") == 0)
			ck_assert(json_object_object_get_ex(e, "subs", &subs));
	}
	ck_assert_ptr_nonnull(subs);
	ck_assert_str_eq(json_object_to_json_string_ext(subs, JSON_C_TO_STRING_PLAIN), "[\"c\"]");
	json_object_put(r);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "after_sigkill", test_reconnect_after_sigkill },
		{ "after_sigterm", test_reconnect_after_sigterm },
		{ "off", test_reconnect_off },
		{ "dropped", test_reconnect_dropped },
	};
	Suite *s = suite_create("lib_reconnect");

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, teardown, 60);
	/* starts its own broker, with a policy */
	tcase_add_test(jt_tcase(s, "revoked", NULL, teardown, 60), test_reconnect_revoked);
	return s;
}
