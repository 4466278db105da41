/*
 * libjbus requests that end without the target's answer, against the real
 * jbusd: no_such_client, timeout (and the late reply the broker drops and
 * counts), no_reply when the target is killed with SIGKILL or says bye,
 * limit_reached past --max-pending, the connection lost (JBUS_E_CLOSED)
 * and closed (no callback), jbus_call's own deadline, and blocking calls
 * refused inside callbacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "lt.h"

/* section: fixture and recorders */

static void setup_max_pending(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--max-pending", "2"));
}

struct answer {
	int calls;
	int err;
	bool null_msg, from_null;
	char code[64];
};

static void on_answer(jbus_conn *c, int err, const jbus_msg *m, void *ud)
{
	struct answer *a = ud;
	const char *code = NULL;

	a->calls++;
	a->err = err;
	a->null_msg = m == NULL;
	if (!m)
		return;
	a->from_null = jbus_msg_from(m) == NULL;
	if (jbus_msg_error(m, &code, NULL))
		snprintf(a->code, sizeof(a->code), "%s", code);
}

static bool answered(void *ud)
{
	return ((struct answer *)ud)->calls > 0;
}

/* A server that keeps every request unanswered; ids[] for answering later. */
struct keep {
	int calls;
	unsigned long long ids[4];
};

static void keep_request(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct keep *k = ud;

	if (k->calls < 4)
		k->ids[k->calls] = jbus_msg_request_id(m);
	k->calls++;
	if (lt_child_fd >= 0)
		lt_child_say('q'); /* in a helper process: tell the test */
}

static bool kept(void *ud)
{
	return ((struct keep *)ud)->calls > 0;
}

/* section: tests */

START_TEST(test_req_no_such_client)
{
	struct answer a = { 0 };
	jbus_conn *c = lt_new("app");
	const char *code = NULL, *message = NULL;

	ck_assert_int_eq(jbus_call(c, "nobody", "1", -1, JT_TIMEOUT_MS, NULL, NULL), JBUS_E_BROKER);
	ck_assert(jbus_conn_last_error(c, &code, &message));
	ck_assert_str_eq(code, "no_such_client");
	ck_assert_ptr_nonnull(strstr(message, "nobody"));
	ck_assert_int_eq(jbus_request(c, "nobody", NULL, 0, 0, on_answer, &a), 0);
	lt_pump(answered, &a);
	ck_assert_int_eq(a.err, JBUS_E_BROKER);
	ck_assert_str_eq(a.code, "no_such_client");
	ck_assert(a.from_null);
}
END_TEST

/* The broker's deadline: timeout; the late reply is dropped and counted, nothing reaches us. */
START_TEST(test_req_timeout_late_reply)
{
	struct keep k = { 0 };
	struct answer a = { 0 };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");
	const char *code = NULL;
	int64_t t0;

	jbus_conn_on_request(svc, keep_request, &k);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_request(app, "svc", "1", -1, 100, on_answer, &a), 0);
	lt_pump(answered, &a);
	ck_assert_int_ge(jt_now_ms() - t0, 100);
	ck_assert_int_eq(a.err, JBUS_E_BROKER);
	ck_assert_str_eq(a.code, "timeout");
	ck_assert_int_eq(k.calls, 1);
	ck_assert_int_eq(lt_stat(svc, "requests_timed_out"), 1);
	ck_assert_int_eq(lt_stat(svc, "replies_dropped"), 0);
	ck_assert_int_eq(jbus_reply(svc, k.ids[0], "\"late\"", -1), 0);
	/* the stats round trip comes after the reply: it was handled by then */
	ck_assert_int_eq(lt_stat(svc, "replies_dropped"), 1);
	ck_assert_int_eq(lt_stat(svc, "requests_pending"), 0);
	ck_assert_int_eq(jbus_ping(app, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(a.calls, 1);
	/* jbus_call: the broker's timeout ends the call before the library's own wait */
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_call(app, "svc", NULL, 0, 150, NULL, NULL), JBUS_E_BROKER);
	ck_assert_int_ge(jt_now_ms() - t0, 150);
	ck_assert_int_lt(jt_now_ms() - t0, 1000);
	ck_assert(jbus_conn_last_error(app, &code, NULL));
	ck_assert_str_eq(code, "timeout");
}
END_TEST

/* The target killed with SIGKILL while it holds the request: no_reply. */
START_TEST(test_req_target_killed)
{
	struct keep k = { 0 };
	struct answer a = { 0 };
	jbus_conn *app = lt_new("app");
	pid_t pid = lt_child_start(
		&(struct lt_child){ .name = "svc", .on_request = keep_request, .ud = &k });
	int st;

	ck_assert_int_eq(jbus_request(app, "svc", "{\"job\":1}", -1, JT_TIMEOUT_MS, on_answer, &a),
			 0);
	ck_assert_int_eq(jbus_conn_flush(app, JT_TIMEOUT_MS), 0);
	lt_child_expect('q'); /* the target holds it */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	st = lt_reap(pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	lt_pump(answered, &a);
	ck_assert_int_eq(a.err, JBUS_E_BROKER);
	ck_assert_str_eq(a.code, "no_reply");
	ck_assert_int_eq(lt_stat(app, "requests_pending"), 0);
}
END_TEST

/* The target says bye (jbus_conn_close) before answering: no_reply as well. */
START_TEST(test_req_target_bye)
{
	struct keep k = { 0 };
	struct answer a = { 0 };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");

	jbus_conn_on_request(svc, keep_request, &k);
	ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a), 0);
	lt_pump(kept, &k);
	ck_assert_int_eq(lt_close(svc), 0);
	lt_pump(answered, &a);
	ck_assert_int_eq(a.err, JBUS_E_BROKER);
	ck_assert_str_eq(a.code, "no_reply");
}
END_TEST

/* --max-pending 2: the third request pending at once gets limit_reached, the others go on. */
START_TEST(test_req_limit)
{
	struct keep k = { 0 };
	struct answer a[3] = { { 0 } };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");

	jbus_conn_on_request(svc, keep_request, &k);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a[i]), 0);
	lt_pump(answered, &a[2]);
	ck_assert_int_eq(a[2].err, JBUS_E_BROKER);
	ck_assert_str_eq(a[2].code, "limit_reached");
	ck_assert_int_eq(a[0].calls + a[1].calls, 0);
	ck_assert_int_eq(jbus_ping(svc, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(k.calls, 2);
	ck_assert_int_eq(jbus_reply(svc, k.ids[0], "0", -1), 0);
	lt_pump(answered, &a[0]);
	ck_assert_int_eq(a[0].err, 0);
	/* one slot free again */
	ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a[2]), 0);
	ck_assert_int_eq(jbus_ping(svc, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(app, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(a[2].calls, 1);
}
END_TEST

/* The broker goes away: every pending request ends with JBUS_E_CLOSED, once. */
START_TEST(test_req_connection_lost)
{
	struct answer a[2] = { { 0 } };
	jbus_conn *app = lt_new("app");

	lt_new("svc"); /* never dispatched: holds the requests */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a[i]), 0);
	ck_assert_int_eq(jbus_ping(app, JT_TIMEOUT_MS), 0);
	jt_broker_stop(&jt_b);
	/* the wait ends with the loss: JBUS_E_CLOSED, after the callbacks ran */
	while (a[1].calls == 0 && jbus_conn_wait(app, JT_TIMEOUT_MS) >= 0)
		;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, JBUS_E_CLOSED);
		ck_assert(a[i].null_msg);
	}
	ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a[0]), -ENOTCONN);
	ck_assert_int_eq(a[0].calls, 1);
}
END_TEST

/* jbus_conn_close and jbus_conn_free discard pending requests without calling back. */
START_TEST(test_req_close_discards)
{
	struct answer a = { 0 };
	jbus_conn *app = lt_new("app"), *other = lt_new("other");

	lt_new("svc");
	ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a), 0);
	ck_assert_int_eq(jbus_request(other, "svc", NULL, 0, 0, on_answer, &a), 0);
	ck_assert_int_eq(jbus_ping(app, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(lt_close(app), 0);
	lt_free(other);
	ck_assert_int_eq(a.calls, 0);
}
END_TEST

/* jbus_call's own deadline (the broker frozen): -ETIMEDOUT; the late answer is swallowed. */
struct erec {
	int calls;
};

static void count_error(jbus_conn *c, const char *code, const char *message, const char *id,
			void *ud)
{
	((struct erec *)ud)->calls++;
}

START_TEST(test_req_call_own_deadline)
{
	struct keep k = { 0 };
	struct erec e = { 0 };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");
	int64_t t0;

	jbus_conn_on_request(svc, keep_request, &k);
	jbus_conn_on_error(app, count_error, &e);
	jt_broker_freeze(&jt_b);
	t0 = jt_now_ms();
	/* 100 ms for the broker, one second more for the library */
	ck_assert_int_eq(jbus_call(app, "svc", NULL, 0, 100, NULL, NULL), -ETIMEDOUT);
	ck_assert_int_ge(jt_now_ms() - t0, 1100);
	ck_assert(!jbus_conn_last_error(app, NULL, NULL));
	jt_broker_thaw(&jt_b);
	/* now the broker routes the request (svc keeps it) and times it out */
	t0 = jt_now_ms();
	while (lt_stat(svc, "requests_timed_out") == 0)
		ck_assert_int_lt(jt_now_ms() - t0, JT_TIMEOUT_MS);
	/* its timeout error was queued to app before this pong */
	ck_assert_int_eq(jbus_ping(app, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(e.calls, 0);
	ck_assert(!jbus_conn_last_error(app, NULL, NULL));
}
END_TEST

/* Blocking calls inside a callback: -EBUSY; jbus_request is fine there. */
struct nested {
	int call, stats, monitor, request;
};

static void nested_request(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct nested *n = ud;
	char *frame = (char *)"untouched";

	n->call = jbus_call(c, "svc", NULL, 0, 100, NULL, NULL);
	n->stats = jbus_stats(c, 100, &frame);
	ck_assert_ptr_null(frame);
	n->monitor = jbus_monitor(c, nested_request, ud, 100);
	n->request = jbus_reply(c, jbus_msg_request_id(m), "\"ok\"", -1);
}

START_TEST(test_req_busy_in_callback)
{
	struct nested n = { 1, 1, 1, 1 };
	jbus_conn *app = lt_new("app");
	char *reply = NULL;

	jbus_conn_on_request(app, nested_request, &n);
	ck_assert_int_eq(jbus_call(app, "app", NULL, 0, JT_TIMEOUT_MS, &reply, NULL), 0);
	ck_assert_str_eq(reply, "\"ok\"");
	free(reply);
	ck_assert_int_eq(n.call, -EBUSY);
	ck_assert_int_eq(n.stats, -EBUSY);
	ck_assert_int_eq(n.monitor, -EBUSY);
	ck_assert_int_eq(n.request, 0);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "no_such_client", test_req_no_such_client, 0 },
		{ "timeout_late_reply", test_req_timeout_late_reply, 0 },
		{ "target_killed", test_req_target_killed, 0 },
		{ "target_bye", test_req_target_bye, 0 },
		{ "connection_lost", test_req_connection_lost, 0 },
		{ "close_discards", test_req_close_discards, 0 },
		{ "call_own_deadline", test_req_call_own_deadline, 0 },
		{ "busy_in_callback", test_req_busy_in_callback, 0 },
	};
	const struct jt_case limited[] = {
		{ "limit", test_req_limit, 0 },
	};
	Suite *s = suite_create("lib_req_err");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, lt_teardown, 30);
	jt_add_cases(s, limited, 1, setup_max_pending, lt_teardown, 30);
	return s;
}
