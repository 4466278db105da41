/*
 * libjbus requests against the real jbusd: jbus_call round trips (data
 * byte for byte both ways, in order, null data, requests to oneself),
 * many asynchronous requests outstanding at once and answered out of
 * order, serving (what the request callback sees, answering later, the
 * automatic "no_handler" answer), error replies, and the arguments the
 * library refuses. Broker errors, timeouts and lost peers are in
 * check_lib_req_err.c.
 *
 * A blocking jbus_call needs its server dispatched by someone else: such
 * servers run in a helper process (lt_child_start).
 * The asynchronous tests keep both ends in this process and dispatch them
 * together with lt_pump.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "lt.h"

#define N_OUTSTANDING 100

/* section: servers */

enum srv_mode {
	SRV_WRAP,   /* answer {"from":F,"data":D} */
	SRV_DEFER,  /* keep the ids: the test answers later */
	SRV_FAIL,   /* answer with an error */
	SRV_SILENT, /* never answer (helper process: say 'q' on the pipe) */
};

struct srv {
	enum srv_mode mode;
	int calls;
	char from[80];
	char data[600];
	unsigned long long ids[N_OUTSTANDING + 1];
	char datas[N_OUTSTANDING + 1][16];
};

static void serve(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct srv *s = ud;
	unsigned long long id = jbus_msg_request_id(m);
	char buf[800];
	int r = 0;

	if (s->calls <= N_OUTSTANDING) {
		s->ids[s->calls] = id;
		snprintf(s->datas[s->calls], sizeof(s->datas[0]), "%s", jbus_msg_data(m, NULL));
	}
	s->calls++;
	snprintf(s->from, sizeof(s->from), "%s", jbus_msg_from(m));
	snprintf(s->data, sizeof(s->data), "%s", jbus_msg_data(m, NULL));
	switch (s->mode) {
	case SRV_WRAP:
		snprintf(buf, sizeof(buf), "{\"from\":\"%s\",\"data\":%s}", jbus_msg_from(m),
			 jbus_msg_data(m, NULL));
		r = jbus_reply(c, id, buf, -1);
		break;
	case SRV_DEFER:
		break;
	case SRV_FAIL:
		r = jbus_reply_error(c, id, "bad_tz", "unknown time zone \"Mars/Olympus\"");
		break;
	case SRV_SILENT:
		lt_child_say('q');
		break;
	}
	if (r < 0)
		_exit(4); /* in a helper process; in the test, the answer never comes */
}

/* A helper process serving as "svc". */
static pid_t start_child(enum srv_mode mode)
{
	static struct srv s;

	s = (struct srv){ .mode = mode };
	return lt_child_start(&(struct lt_child){ .name = "svc", .on_request = serve, .ud = &s });
}

/* section: answers */

struct answer {
	int calls;
	int err;
	bool from_null;
	char from[80], data[600], code[64], message[256];
};

static void on_answer(jbus_conn *c, int err, const jbus_msg *m, void *ud)
{
	struct answer *a = ud;
	const char *code = NULL, *message = NULL;

	a->calls++;
	a->err = err;
	if (!m)
		return;
	a->from_null = jbus_msg_from(m) == NULL;
	snprintf(a->from, sizeof(a->from), "%s", a->from_null ? "" : jbus_msg_from(m));
	snprintf(a->data, sizeof(a->data), "%s", jbus_msg_data(m, NULL));
	ck_assert_int_eq(jbus_msg_error(m, &code, &message), err != 0);
	ck_assert_uint_eq(jbus_msg_request_id(m), 0);
	if (code) {
		snprintf(a->code, sizeof(a->code), "%s", code);
		snprintf(a->message, sizeof(a->message), "%s", message);
	}
}

static bool answered(void *ud)
{
	return ((struct answer *)ud)->calls > 0;
}

/* Wait for the answer: an error reply from from, with code and message. */
static void expect_error_reply(struct answer *a, const char *from, const char *code,
			       const char *message)
{
	lt_pump(answered, a);
	ck_assert_int_eq(a->calls, 1);
	ck_assert_int_eq(a->err, JBUS_E_REPLY);
	ck_assert_str_eq(a->from, from);
	ck_assert_str_eq(a->code, code);
	ck_assert_str_eq(a->message, message);
	ck_assert_str_eq(a->data, "null");
}

static bool served_twice(void *ud)
{
	return ((struct srv *)ud)->calls >= 2;
}

/* section: tests */

/* jbus_call: the reply's data, byte for byte, in order; null without data. */
START_TEST(test_req_call)
{
	static const char data[] = "{\"k\" : 1.50,\t\"big\":123456789012345678901234567890}";
	jbus_conn *c = lt_new("app");
	char *reply = NULL, want[256];
	size_t len = 0;

	start_child(SRV_WRAP);
	ck_assert_int_eq(jbus_call(c, "svc", data, -1, JT_TIMEOUT_MS, &reply, &len), 0);
	snprintf(want, sizeof(want), "{\"from\":\"app\",\"data\":%s}", data);
	ck_assert_str_eq(reply, want);
	ck_assert_uint_eq(len, strlen(want));
	free(reply);
	for (int i = 0; i < 20; i++) {
		char d[16];

		snprintf(d, sizeof(d), "%d", i);
		ck_assert_int_eq(jbus_call(c, "svc", d, -1, 0, &reply, NULL), 0);
		snprintf(want, sizeof(want), "{\"from\":\"app\",\"data\":%d}", i);
		ck_assert_str_eq(reply, want);
		free(reply);
	}
	/* no data: null; no reply buffer: the answer is dropped */
	ck_assert_int_eq(jbus_call(c, "svc", NULL, 0, JT_TIMEOUT_MS, &reply, NULL), 0);
	ck_assert_str_eq(reply, "{\"from\":\"app\",\"data\":null}");
	free(reply);
	ck_assert_int_eq(jbus_call(c, "svc", "[]", -1, JT_TIMEOUT_MS, NULL, NULL), 0);
	ck_assert(!jbus_conn_last_error(c, NULL, NULL));
}
END_TEST

/* A request to oneself: served by the same handle while jbus_call waits. */
START_TEST(test_req_self)
{
	struct srv s = { .mode = SRV_WRAP };
	jbus_conn *c = lt_new("me");
	char *reply = NULL;

	jbus_conn_on_request(c, serve, &s);
	ck_assert_int_eq(jbus_call(c, "me", "\"hi\\n\"", -1, JT_TIMEOUT_MS, &reply, NULL), 0);
	ck_assert_str_eq(reply, "{\"from\":\"me\",\"data\":\"hi\\n\"}");
	free(reply);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_uint_eq(s.ids[0], 1); /* the broker's ids start at 1 per connection */
}
END_TEST

/* What the serving callback sees: requester, data byte for byte, the broker's increasing ids. */
START_TEST(test_req_serve_sees)
{
	static const char data[] = "{ \"a\" : [1, 2.0e3],\n\"b\":\"\\u00e9\" }";
	struct srv s = { .mode = SRV_WRAP };
	struct answer a[3] = { { 0 } };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");

	jbus_conn_on_request(svc, serve, &s);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(jbus_request(app, "svc", data, -1, 0, on_answer, &a[i]), 0);
	lt_pump(answered, &a[2]);
	ck_assert_int_eq(s.calls, 3);
	ck_assert_str_eq(s.from, "app");
	/* a line break is whitespace in JSON: the library sends it as a space */
	ck_assert_str_eq(s.data, "{ \"a\" : [1, 2.0e3], \"b\":\"\\u00e9\" }");
	ck_assert_uint_gt(s.ids[0], 0);
	ck_assert_uint_gt(s.ids[1], s.ids[0]);
	ck_assert_uint_gt(s.ids[2], s.ids[1]);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, 0);
		ck_assert_str_eq(a[i].from, "svc");
		ck_assert_str_eq(
			a[i].data,
			"{\"from\":\"app\",\"data\":{ \"a\" : [1, 2.0e3], \"b\":\"\\u00e9\" }}");
	}
}
END_TEST

static bool all_served(void *ud)
{
	return ((struct srv *)ud)->calls == N_OUTSTANDING;
}

static bool all_answered(void *ud)
{
	struct answer *a = ud;

	for (int i = 0; i < N_OUTSTANDING; i++)
		if (!a[i].calls)
			return false;
	return true;
}

/* 100 requests outstanding at once, answered later and in reverse order: each callback once. */
START_TEST(test_req_many_outstanding)
{
	static struct answer a[N_OUTSTANDING];
	static struct srv s;
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");

	memset(a, 0, sizeof(a));
	s = (struct srv){ .mode = SRV_DEFER };
	jbus_conn_on_request(svc, serve, &s);
	for (int i = 0; i < N_OUTSTANDING; i++) {
		char d[16];

		snprintf(d, sizeof(d), "%d", i);
		ck_assert_int_eq(jbus_request(app, "svc", d, -1, JT_TIMEOUT_MS, on_answer, &a[i]),
				 0);
	}
	lt_pump(all_served, &s);
	for (int i = 0; i < N_OUTSTANDING; i++) {
		char d[16];

		snprintf(d, sizeof(d), "%d", i);
		ck_assert_str_eq(s.datas[i], d); /* in the order they were sent */
		ck_assert_int_eq(a[i].calls, 0); /* nothing answered yet */
	}
	/* answered from outside any callback, last first, each with its request's data */
	for (int i = N_OUTSTANDING - 1; i >= 0; i--) {
		char d[32];

		snprintf(d, sizeof(d), "[%s]", s.datas[i]);
		ck_assert_int_eq(jbus_reply(svc, s.ids[i], d, -1), 0);
	}
	lt_pump(all_answered, a);
	for (int i = 0; i < N_OUTSTANDING; i++) {
		char d[32];

		snprintf(d, sizeof(d), "[%d]", i);
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].err, 0);
		ck_assert_str_eq(a[i].data, d);
	}
}
END_TEST

/* An error reply: JBUS_E_REPLY, its code and message (callback and jbus_call). */
START_TEST(test_req_error_reply)
{
	struct srv s = { .mode = SRV_FAIL };
	struct answer a = { 0 };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");
	const char *code = NULL, *message = NULL;
	char *reply = (char *)"untouched";

	jbus_conn_on_request(svc, serve, &s);
	ck_assert_int_eq(jbus_request(app, "svc", NULL, 0, 0, on_answer, &a), 0);
	expect_error_reply(&a, "svc", "bad_tz", "unknown time zone \"Mars/Olympus\"");
	/* the same through jbus_call, served by the handle itself */
	jbus_conn_on_request(app, serve, &s);
	ck_assert_int_eq(jbus_call(app, "app", "1", -1, JT_TIMEOUT_MS, &reply, NULL), JBUS_E_REPLY);
	ck_assert_str_eq(reply, "untouched");
	ck_assert(jbus_conn_last_error(app, &code, &message));
	ck_assert_str_eq(code, "bad_tz");
	ck_assert_str_eq(message, "unknown time zone \"Mars/Olympus\"");
	ck_assert_str_eq(jbus_error_name(JBUS_E_REPLY), "JBUS_E_REPLY");
}
END_TEST

/* A client without a request callback answers "no_handler" at once. */
START_TEST(test_req_no_handler)
{
	struct answer a = { 0 };
	jbus_conn *app = lt_new("app");
	const char *code = NULL;

	lt_new("idle");
	ck_assert_int_eq(jbus_call(app, "app", NULL, 0, JT_TIMEOUT_MS, NULL, NULL), JBUS_E_REPLY);
	ck_assert(jbus_conn_last_error(app, &code, NULL));
	ck_assert_str_eq(code, "no_handler");
	ck_assert_int_eq(jbus_request(app, "idle", NULL, 0, 0, on_answer, &a), 0);
	expect_error_reply(&a, "idle", "no_handler", "this client does not serve requests");
}
END_TEST

/* Answering later, and answering from another callback than the request's. */
START_TEST(test_req_answer_later)
{
	struct srv s = { .mode = SRV_DEFER };
	struct answer a = { 0 }, b = { 0 };
	jbus_conn *svc = lt_new("svc"), *app = lt_new("app");

	jbus_conn_on_request(svc, serve, &s);
	ck_assert_int_eq(jbus_request(app, "svc", "1", -1, 0, on_answer, &a), 0);
	ck_assert_int_eq(jbus_request(app, "svc", "2", -1, 0, on_answer, &b), 0);
	lt_pump(served_twice, &s);
	ck_assert_int_eq(jbus_reply_error(svc, s.ids[1], "later", NULL), 0);
	ck_assert_int_eq(jbus_reply(svc, s.ids[0], "{}", -1), 0);
	lt_pump(answered, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_str_eq(a.data, "{}");
	expect_error_reply(&b, "svc", "later", "");
}
END_TEST

/* Arguments refused locally, and a reply to an id never issued (the broker's bad_frame). */
START_TEST(test_req_bad_arguments)
{
	struct answer a = { 0 };
	jbus_conn *c = lt_new("app");
	char *reply = NULL;

	ck_assert_int_eq(jbus_request(c, "svc", NULL, 0, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(jbus_request(c, NULL, NULL, 0, 0, on_answer, &a), -EINVAL);
	ck_assert_int_eq(jbus_request(NULL, "svc", NULL, 0, 0, on_answer, &a), -EINVAL);
	ck_assert_int_eq(jbus_request(c, "a b", NULL, 0, 0, on_answer, &a), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_request(c, "svc", "{bad", -1, 0, on_answer, &a), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_call(c, "svc", "1 2", -1, 0, &reply, NULL), JBUS_E_BAD_JSON);
	ck_assert_ptr_null(reply);
	ck_assert_int_eq(jbus_call(NULL, "svc", NULL, 0, 0, &reply, NULL), -EINVAL);
	ck_assert_int_eq(jbus_reply(c, 0, "1", -1), -EINVAL);
	ck_assert_int_eq(jbus_reply(c, 1, "[", -1), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_reply_error(c, 1, NULL, "m"), -EINVAL);
	ck_assert_int_eq(jbus_reply_error(c, 1, "", "m"), -EINVAL);
	ck_assert_int_eq(jbus_reply_error(c, 1, "bad\xff", "m"), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_reply_error(c, 1, "x", "\xc3"), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN); /* nothing was queued */
	ck_assert_int_eq(a.calls, 0);
}
END_TEST

/* A reply to an id the broker never issued: bad_frame through the error callback. */
struct erec {
	int calls;
	char code[64];
};

static void record_error(jbus_conn *c, const char *code, const char *message, const char *id,
			 void *ud)
{
	struct erec *e = ud;

	e->calls++;
	snprintf(e->code, sizeof(e->code), "%s", code);
}

START_TEST(test_req_reply_unknown_id)
{
	struct erec e = { 0 };
	jbus_conn *c = lt_new("svc");

	jbus_conn_on_error(c, record_error, &e);
	ck_assert_int_eq(jbus_reply(c, 77, "1", -1), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(e.calls, 1);
	ck_assert_str_eq(e.code, "bad_frame");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "call", test_req_call, 0 },
		{ "self", test_req_self, 0 },
		{ "serve_sees", test_req_serve_sees, 0 },
		{ "many_outstanding", test_req_many_outstanding, 0 },
		{ "error_reply", test_req_error_reply, 0 },
		{ "no_handler", test_req_no_handler, 0 },
		{ "answer_later", test_req_answer_later, 0 },
		{ "bad_arguments", test_req_bad_arguments, 0 },
		{ "reply_unknown_id", test_req_reply_unknown_id, 0 },
	};
	Suite *s = suite_create("lib_req");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, lt_teardown, 30);
	return s;
}
