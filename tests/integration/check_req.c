/*
 * Request/reply through the real jbusd, over raw sockets: round trips with
 * data and errors forwarded byte for byte, the ids the broker assigns,
 * every error of requesters and repliers, late and duplicate replies, the
 * target leaving (close, bye, SIGKILL), deadlines, and the request options.
 *
 * "Nothing came" is proved without waiting: a jt_sync on the connection
 * that would have received it must see its pong first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

/* section: helpers */

/* The target's next frame is the request, data as sent (or null). */
static void expect_req(struct jt_conn *t, const char *from, int tid, const char *data)
{
	char want[1024];

	snprintf(want, sizeof(want), "{\"op\":\"req\",\"from\":\"%s\",\"id\":%d,\"data\":%s}", from,
		 tid, data);
	jt_expect_line(t, want);
}

/* The requester's next frame is the reply with its id; body is "data":.. or "error":.. */
static void expect_reply(struct jt_conn *c, const char *id, const char *from, const char *body)
{
	char want[1024];

	snprintf(want, sizeof(want), "{\"op\":\"reply\",\"id\":%s,\"from\":\"%s\",%s}", id, from,
		 body);
	jt_expect_line(c, want);
}

/* The next frame of w is the disconnected event of name (w subscribed to it). */
static void expect_gone(struct jt_conn *w, const char *name)
{
	json_object *o = jt_expect(w, "msg"), *d;

	ck_assert_str_eq(jt_str(o, "topic"), "$SYS/client/disconnected");
	ck_assert(json_object_object_get_ex(o, "data", &d));
	ck_assert_str_eq(jt_str(d, "name"), name);
	json_object_put(o);
}

/* section: round trips */

START_TEST(test_req_round_trip)
{
	struct jt_conn *a = jt_client("a"), *r = jt_client("r");

	/* data both ways forwarded byte for byte, whitespace and escapes kept */
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":7,\"data\":{\"q\": [1, 2, \"\\u00e9\"]}}");
	/* no ok for a req: the pong is a's next frame */
	jt_sync(a);
	expect_req(r, "a", 1, "{\"q\": [1, 2, \"\\u00e9\"]}");
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":{\"a\" : true }}");
	jt_sync(r);
	expect_reply(a, "7", "r", "\"data\":{\"a\" : true }");

	/* ids of any spelling come back exactly; absent data arrives as null */
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"x-1\"}");
	expect_req(r, "a", 2, "null");
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"data\":null}");
	expect_reply(a, "\"x-1\"", "r", "\"data\":null");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1.50,\"data\":\"s\"}");
	expect_req(r, "a", 3, "\"s\"");

	/* an application error: the replier's object byte for byte */
	jt_send(r, "{\"op\":\"reply\",\"id\":3,\"error\":{\"code\":\"bad_tz\", \"message\":\"no\","
		   "\"detail\":{\"k\":[1]}}}");
	expect_reply(a, "1.50", "r",
		     "\"error\":{\"code\":\"bad_tz\", \"message\":\"no\",\"detail\":{\"k\":[1]}}");
	jt_sync(a);
	jt_sync(r);
}
END_TEST

START_TEST(test_req_to_self)
{
	struct jt_conn *a = jt_client("a");

	jt_send(a, "{\"op\":\"req\",\"to\":\"a\",\"id\":5,\"data\":[5]}");
	expect_req(a, "a", 1, "[5]");
	jt_send(a, "{\"op\":\"reply\",\"id\":1,\"data\":[6]}");
	expect_reply(a, "5", "a", "\"data\":[6]");
	jt_sync(a);
}
END_TEST

START_TEST(test_req_ids_per_target)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b");
	struct jt_conn *r = jt_client("r"), *s = jt_client("s");

	/* the same requester id from two requesters: the target sees its own ids */
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"data\":\"a\"}");
	expect_req(r, "a", 1, "\"a\"");
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"data\":\"b\"}");
	expect_req(r, "b", 2, "\"b\"");
	/* another target counts from 1 */
	jt_send(a, "{\"op\":\"req\",\"to\":\"s\",\"id\":2,\"data\":\"a\"}");
	expect_req(s, "a", 1, "\"a\"");

	/* answered out of order, each reaches its requester under its own id */
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"data\":\"for b\"}");
	expect_reply(b, "1", "r", "\"data\":\"for b\"");
	jt_send(s, "{\"op\":\"reply\",\"id\":1,\"data\":\"from s\"}");
	expect_reply(a, "2", "s", "\"data\":\"from s\"");
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"for a\"}");
	expect_reply(a, "1", "r", "\"data\":\"for a\"");

	/* never reused: the next request to r is 3 */
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":1}");
	expect_req(r, "b", 3, "null");
	jt_sync(a);
	jt_sync(s);
}
END_TEST

START_TEST(test_req_hundred_outstanding)
{
	enum { N = 100 };
	struct jt_conn *a = jt_client("a"), *r = jt_client("r"), *s = jt_client("s");
	char buf[N * 64], want[64];
	size_t len = 0;

	/* all in flight at once, in one write */
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"{\"op\":\"req\",\"to\":\"r\",\"id\":%d,\"data\":%d}\n", i,
					i);
	ck_assert_uint_lt(len, sizeof(buf));
	jt_send_raw(a, buf, len);
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "%d", i);
		expect_req(r, "a", i + 1, want);
	}
	ck_assert_int_eq(jt_stat(s, "requests_pending"), N);

	/* answered last first */
	len = 0;
	for (int t = N; t >= 1; t--)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"{\"op\":\"reply\",\"id\":%d,\"data\":%d}\n", t,
					(t - 1) * 2);
	jt_send_raw(r, buf, len);
	for (int i = N - 1; i >= 0; i--) {
		char id[16], body[32];

		snprintf(id, sizeof(id), "%d", i);
		snprintf(body, sizeof(body), "\"data\":%d", i * 2);
		expect_reply(a, id, "r", body);
	}
	jt_sync(r);
	ck_assert_int_eq(jt_stat(s, "requests_pending"), 0);
	ck_assert_int_eq(jt_stat(s, "replies_dropped"), 0);
	jt_sync(a);
}
END_TEST

/* section: requester errors */

static const struct {
	const char *frame;
	const char *code;
	const char *id;    /* as echoed, NULL: none */
	const char *field; /* named in the message, NULL: not checked */
} bad_reqs[] = {
	{ "{\"op\":\"req\",\"to\":\"r\",\"data\":1}", "bad_frame", NULL, "id" },
	{ "{\"op\":\"req\",\"id\":3}", "bad_frame", "3", "to" },
	{ "{\"op\":\"req\",\"id\":3,\"to\":5}", "bad_frame", "3", "to" },
	{ "{\"op\":\"req\",\"id\":3,\"to\":null}", "bad_frame", "3", "to" },
	{ "{\"op\":\"req\",\"id\":3,\"to\":[\"r\"]}", "bad_frame", "3", "to" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":0}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":-1}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":1.5}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":1e3}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":\"5\"}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":null}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":\"t\",\"to\":\"r\",\"timeout_ms\":true}", "bad_frame", "\"t\"",
	  "timeout_ms" },
	{ "{\"op\":\"req\",\"id\":4,\"to\":\"nobody\"}", "no_such_client", "4", NULL },
	{ "{\"op\":\"req\",\"id\":4,\"to\":\"no such name\"}", "no_such_client", "4", NULL },
	{ "{\"op\":\"req\",\"id\":4,\"to\":\"\"}", "no_such_client", "4", NULL },
	{ "{\"op\":\"req\",\"id\":4.0,\"to\":\"R\"}", "no_such_client", "4.0", NULL },
};

START_TEST(test_req_bad_request)
{
	struct jt_conn *a = jt_client("a"), *r = jt_client("r"), *s = jt_client("s");
	int64_t errors = jt_stat(s, "errors_sent");

	jt_send(a, "%s", bad_reqs[_i].frame);
	jt_expect_error_id(a, bad_reqs[_i].code, bad_reqs[_i].id, bad_reqs[_i].field);
	/* the connection stays, the target was not asked, nothing is pending */
	jt_sync(a);
	jt_sync(r);
	ck_assert_int_eq(jt_stat(s, "requests_pending"), 0);
	ck_assert_int_eq(jt_stat(s, "errors_sent"), errors + 1);
	/* and a valid request afterwards is the target's first */
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":3}");
	expect_req(r, "a", 1, "null");
}
END_TEST

START_TEST(test_req_pending_id_reused)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b"), *r = jt_client("r");

	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"data\":\"first\"}");
	expect_req(r, "a", 1, "\"first\"");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"data\":\"again\"}");
	jt_expect_error_id(a, "bad_frame", "1", NULL);
	jt_sync(r);
	/* the string "1" is another id; another requester's 1 is its own */
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"1\",\"data\":\"str\"}");
	expect_req(r, "a", 2, "\"str\"");
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"data\":\"b\"}");
	expect_req(r, "b", 3, "\"b\"");

	/* answered, the id is free again */
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":1}");
	expect_reply(a, "1", "r", "\"data\":1");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"data\":\"reused\"}");
	expect_req(r, "a", 4, "\"reused\"");
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"data\":2}");
	expect_reply(a, "\"1\"", "r", "\"data\":2");
	jt_send(r, "{\"op\":\"reply\",\"id\":4,\"data\":4}");
	expect_reply(a, "1", "r", "\"data\":4");
	jt_send(r, "{\"op\":\"reply\",\"id\":3,\"data\":3}");
	expect_reply(b, "1", "r", "\"data\":3");
	jt_sync(a);
}
END_TEST

START_TEST(test_req_max_pending)
{
	struct jt_conn *a, *b, *r;

	jt_broker_start_args(&jt_b, JT_ARGV("--max-pending", "2"));
	a = jt_client("a");
	b = jt_client("b");
	r = jt_client("r");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1}");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":2}");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":3}");
	jt_expect_error_id(a, "limit_reached", "3", NULL);
	expect_req(r, "a", 1, "null");
	expect_req(r, "a", 2, "null");
	jt_sync(r);
	/* per requester: b is not limited by a's */
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":1}");
	expect_req(r, "b", 3, "null");
	/* one answered, a has room for one more */
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"one\"}");
	expect_reply(a, "1", "r", "\"data\":\"one\"");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":3}");
	expect_req(r, "a", 4, "null");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":4}");
	jt_expect_error_id(a, "limit_reached", "4", NULL);
	jt_sync(r);
}
END_TEST

/* section: replier errors */

static const struct {
	const char *frame;
	const char *id;    /* as echoed, NULL: none */
	const char *field; /* named in the message, NULL: not checked */
} bad_replies[] = {
	{ "{\"op\":\"reply\",\"data\":1}", NULL, "id" },
	{ "{\"op\":\"reply\",\"id\":true,\"data\":1}", NULL, "id" },
	{ "{\"op\":\"reply\",\"id\":0,\"data\":1}", "0", NULL },
	{ "{\"op\":\"reply\",\"id\":-1,\"data\":1}", "-1", NULL },
	{ "{\"op\":\"reply\",\"id\":1.5,\"data\":1}", "1.5", NULL },
	{ "{\"op\":\"reply\",\"id\":1.0,\"data\":1}", "1.0", NULL },
	{ "{\"op\":\"reply\",\"id\":1e0,\"data\":1}", "1e0", NULL },
	{ "{\"op\":\"reply\",\"id\":\"1\",\"data\":1}", "\"1\"", NULL },
	{ "{\"op\":\"reply\",\"id\":2,\"data\":1}", "2", NULL },
	{ "{\"op\":\"reply\",\"id\":18446744073709551617,\"data\":1}", "18446744073709551617",
	  NULL },
	{ "{\"op\":\"reply\",\"id\":1}", "1", "data" },
	{ "{\"op\":\"reply\",\"id\":1,\"data\":1,\"error\":{\"code\":\"c\","
	  "\"message\":\"m\"}}",
	  "1", "data" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":\"boom\"}", "1", "error" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":null}", "1", "error" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":[\"c\",\"m\"]}", "1", "error" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":{\"code\":\"c\"}}", "1", "error" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":{\"message\":\"m\"}}", "1", "error" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":{\"code\":1,\"message\":\"m\"}}", "1", "error" },
	{ "{\"op\":\"reply\",\"id\":1,\"error\":{\"code\":\"c\",\"message\":null}}", "1", "error" },
};

START_TEST(test_req_bad_reply)
{
	struct jt_conn *a = jt_client("a"), *r = jt_client("r"), *s = jt_client("s");
	int64_t dropped = jt_stat(s, "replies_dropped");

	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"q\",\"data\":\"?\"}");
	expect_req(r, "a", 1, "\"?\"");
	jt_send(r, "%s", bad_replies[_i].frame);
	jt_expect_error_id(r, "bad_frame", bad_replies[_i].id, bad_replies[_i].field);
	jt_sync(r);
	/* the requester heard nothing; the request is still pending and can be answered */
	jt_sync(a);
	ck_assert_int_eq(jt_stat(s, "requests_pending"), 1);
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"fixed\"}");
	expect_reply(a, "\"q\"", "r", "\"data\":\"fixed\"");
	ck_assert_int_eq(jt_stat(s, "requests_pending"), 0);
	ck_assert_int_eq(jt_stat(s, "replies_dropped"), dropped);
}
END_TEST

START_TEST(test_req_reply_never_asked)
{
	struct jt_conn *r = jt_client("r");

	/* nothing was ever issued to r: even id 1 is unknown */
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":1}");
	jt_expect_error_id(r, "bad_frame", "1", NULL);
	jt_sync(r);
}
END_TEST

/* section: replies no longer owed */

START_TEST(test_req_late_replies_dropped)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b"), *r = jt_client("r");
	struct jt_conn *w = jt_client("w");

	ck_assert_int_eq(jt_stat(w, "replies_dropped"), 0);
	/* answered twice: the second answer is dropped, silently */
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1}");
	expect_req(r, "a", 1, "null");
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"once\"}");
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"twice\"}");
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"error\":{\"code\":\"c\",\"message\":\"m\"}}");
	jt_sync(r);
	expect_reply(a, "1", "r", "\"data\":\"once\"");
	jt_sync(a);
	ck_assert_int_eq(jt_stat(w, "replies_dropped"), 2);

	/* the requester left: its requests are forgotten, the answer dropped */
	jt_send(w, "{\"op\":\"sub\",\"topic\":\"$SYS/client/disconnected\",\"id\":1}");
	json_object_put(jt_expect(w, "ok"));
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":1}");
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":2}");
	expect_req(r, "b", 2, "null");
	expect_req(r, "b", 3, "null");
	jt_close(b);
	expect_gone(w, "b");
	ck_assert_int_eq(jt_stat(w, "requests_pending"), 0);
	jt_send(r, "{\"op\":\"reply\",\"id\":3,\"data\":\"too late\"}");
	jt_sync(r);
	ck_assert_int_eq(jt_stat(w, "replies_dropped"), 3);
	/* still issued ids, not never-issued ones: no bad_frame */
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"data\":\"too late\"}");
	jt_sync(r);
	ck_assert_int_eq(jt_stat(w, "replies_dropped"), 4);
}
END_TEST

/* section: the target leaves */

enum leave { LEAVE_CLOSE, LEAVE_BYE, LEAVE_SIGKILL, LEAVE_N };

START_TEST(test_req_target_leaves)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b"), *r = NULL;
	struct jt_conn *w = jt_client("w");

	if (_i == LEAVE_SIGKILL) {
		jt_holder_start("{\"op\":\"hello\",\"proto\":1,\"name\":\"r\"}");
	} else {
		r = jt_client("r");
	}
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":9,\"data\":1}");
	jt_send(b, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"nine\"}");
	jt_sync(a);
	jt_sync(b);
	ck_assert_int_eq(jt_stat(w, "requests_pending"), 2);
	/* mid-request: the target has both requests and answers none */
	if (_i == LEAVE_SIGKILL) {
		jt_holder_lines(2);
		jt_holder_kill();
	} else {
		expect_req(r, "a", 1, "1");
		expect_req(r, "b", 2, "null");
		if (_i == LEAVE_BYE)
			jt_send(r, "{\"op\":\"bye\"}");
		else
			jt_close(r);
	}
	jt_expect_error_id(a, "no_reply", "9", NULL);
	jt_expect_error_id(b, "no_reply", "\"nine\"", NULL);
	jt_sync(a);
	ck_assert_int_eq(jt_stat(w, "requests_pending"), 0);
	/* the name is free again; a new r gets ids from 1 */
	r = jt_client("r");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":9}");
	expect_req(r, "a", 1, "null");
}
END_TEST

/* section: deadlines */

START_TEST(test_req_timeout)
{
	struct jt_conn *a, *r, *s;
	int64_t t0, dt;

	jt_broker_start_args(&jt_b, JT_ARGV("--request-timeout", "0.2"));
	a = jt_client("a");
	r = jt_client("r");
	s = jt_client("s");
	/* a long explicit deadline sent first, a short one, then the default:
	 * had the long one got the default, it would time out before "dflt" */
	t0 = jt_now_ms();
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"long\",\"timeout_ms\":60000}");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"short\",\"timeout_ms\":50}");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":\"dflt\"}");
	jt_expect_error_id(a, "timeout", "\"short\"", NULL);
	jt_expect_error_id(a, "timeout", "\"dflt\"", NULL);
	dt = jt_now_ms() - t0;
	ck_assert_msg(dt >= 190, "the default deadline of 0.2 s passed after %lld ms",
		      (long long)dt);
	ck_assert_int_eq(jt_stat(s, "requests_timed_out"), 2);
	ck_assert_int_eq(jt_stat(s, "requests_pending"), 1);

	expect_req(r, "a", 1, "null");
	expect_req(r, "a", 2, "null");
	expect_req(r, "a", 3, "null");
	/* answers after the deadline: dropped and counted, nothing to anyone */
	jt_send(r, "{\"op\":\"reply\",\"id\":3,\"data\":\"late\"}");
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"data\":\"late\"}");
	jt_sync(r);
	ck_assert_int_eq(jt_stat(s, "replies_dropped"), 2);
	/* the long one is still owed */
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"in time\"}");
	expect_reply(a, "\"long\"", "r", "\"data\":\"in time\"");
	jt_sync(a);
	ck_assert_int_eq(jt_stat(s, "requests_pending"), 0);
}
END_TEST

START_TEST(test_req_timeout_clamped)
{
	struct jt_conn *a, *r;
	int64_t t0, dt;

	jt_broker_start_args(&jt_b, JT_ARGV("--request-timeout", "0.1", "--max-request-timeout",
					    "0.3"));
	a = jt_client("a");
	r = jt_client("r");
	/* an hour, clamped to 0.3 s: it ends, after the 0.25 s sent after it,
	 * and not at the default 0.1 s */
	t0 = jt_now_ms();
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":1,\"timeout_ms\":3600000}");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":2,\"timeout_ms\":250}");
	jt_expect_error_id(a, "timeout", "2", NULL);
	jt_expect_error_id(a, "timeout", "1", NULL);
	dt = jt_now_ms() - t0;
	ck_assert_msg(dt >= 290, "clamped deadline of 0.3 s passed after %lld ms", (long long)dt);
	expect_req(r, "a", 1, "null");
	expect_req(r, "a", 2, "null");
	jt_sync(a);
}
END_TEST

static const struct {
	const char *opt, *val, *opt2, *val2;
} bad_opts[] = {
	{ "--request-timeout", "10", "--max-request-timeout", "5" },
	{ "--request-timeout", "301", NULL, NULL },
	{ "--max-request-timeout", "0.5", NULL, NULL },
	{ "--request-timeout", "0", NULL, NULL },
	{ "--request-timeout", "abc", NULL, NULL },
	{ "--max-pending", "0", NULL, NULL },
};

START_TEST(test_req_bad_options)
{
	char path[PATH_MAX], err[1024] = "";
	int st;

	snprintf(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	st = jt_run_jbusd(JT_ARGV("-s", path, bad_opts[_i].opt, bad_opts[_i].val,
				  bad_opts[_i].opt2, bad_opts[_i].val2),
			  err, sizeof(err), 10000);
	ck_assert_msg(st == 2, "%s %s %s %s: exit %d, stderr: %s", bad_opts[_i].opt,
		      bad_opts[_i].val, bad_opts[_i].opt2 ? bad_opts[_i].opt2 : "",
		      bad_opts[_i].val2 ? bad_opts[_i].val2 : "", st, err);
	ck_assert_msg(strstr(err, bad_opts[_i].opt2 ? "--max-request-timeout" : bad_opts[_i].opt),
		      "stderr does not name the option: %s", err);
	ck_assert_msg(access(path, F_OK) != 0, "a socket was created");
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("req");
	const struct jt_case cases[] = {
		{ "round_trip", test_req_round_trip },
		{ "to_self", test_req_to_self },
		{ "ids_per_target", test_req_ids_per_target },
		{ "hundred_outstanding", test_req_hundred_outstanding },
		{ "bad_request", test_req_bad_request, ARRAY_SIZE(bad_reqs) },
		{ "pending_id_reused", test_req_pending_id_reused },
		{ "bad_reply", test_req_bad_reply, ARRAY_SIZE(bad_replies) },
		{ "reply_never_asked", test_req_reply_never_asked },
		{ "late_replies_dropped", test_req_late_replies_dropped },
		{ "target_leaves", test_req_target_leaves, LEAVE_N },
	};
	/* each starts its broker with the options it is about */
	const struct jt_case own_broker[] = {
		{ "max_pending", test_req_max_pending },
		{ "timeout", test_req_timeout },
		{ "timeout_clamped", test_req_timeout_clamped },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, jt_teardown, 30);
	jt_add_cases(s, own_broker, ARRAY_SIZE(own_broker), NULL, jt_teardown, 30);
	tcase_add_loop_test(jt_tcase(s, "bad_options", jt_setup_dir, jt_teardown, 30),
			    test_req_bad_options, 0, ARRAY_SIZE(bad_opts));
	return s;
}
