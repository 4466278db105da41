/*
 * libjbus introspection against the real jbusd: jbus_stats (every field of
 * the contract, counters that move by exactly what the test did),
 * jbus_clients (one entry per client, with its credentials, patterns and
 * flags) and jbus_monitor (the copies of pub, send, req, reply and broker
 * events, kept across a reconnect; refused to another uid than the
 * broker's).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "lt.h"

#define NOBODY 65534

static int64_t delta(json_object *before, json_object *after, const char *field)
{
	return jt_int(after, field) - jt_int(before, field);
}

static const char *const stat_fields[] = {
	"uptime_ms",
	"clients",
	"subscriptions",
	"retained",
	"retained_bytes",
	"frames_in",
	"msgs_routed",
	"deliveries",
	"bytes_in",
	"bytes_out",
	"slow_consumer_disconnects",
	"requests_pending",
	"requests_timed_out",
	"replies_dropped",
	"errors_sent",
};

/* The answer is the stats frame with the library's id and every field of the contract. */
START_TEST(test_stats_frame)
{
	jbus_conn *c = lt_new("app");
	char *frame = (char *)"untouched";
	json_object *o, *v;

	ck_assert_int_eq(jbus_stats(c, JT_TIMEOUT_MS, &frame), 0);
	ck_assert_int_eq(strncmp(frame, "{\"op\":\"stats\",\"id\":", 19), 0);
	o = jt_parse(frame);
	free(frame);
	for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
		ck_assert_msg(json_object_object_get_ex(o, stat_fields[i], &v), "%s",
			      stat_fields[i]);
		ck_assert_msg(json_object_is_type(v, json_type_int), "%s", stat_fields[i]);
		ck_assert_int_ge(json_object_get_int64(v), 0);
	}
	ck_assert_int_eq(jt_int(o, "clients"), 1);
	json_object_put(o);
	ck_assert_int_eq(jbus_stats(c, JT_TIMEOUT_MS, NULL), -EINVAL);
	ck_assert_int_eq(jbus_stats(NULL, JT_TIMEOUT_MS, &frame), -EINVAL);
	ck_assert_int_eq(jbus_clients(c, JT_TIMEOUT_MS, NULL), -EINVAL);
}
END_TEST

/* Counters move by exactly what happened between two stats answers. */
START_TEST(test_stats_counters)
{
	struct lt_log l = { 0 };
	jbus_conn *c = lt_new("app"), *s = lt_new("sub");
	json_object *a, *b;

	ck_assert_int_eq(jbus_subscribe_sync(s, "t/#", lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	a = lt_stats(c);
	/* one pub to one subscriber, one retained pub (topic 3 + data 5 bytes), one send */
	ck_assert_int_eq(jbus_publish_text(c, "t/1", "1", -1), 0);
	ck_assert_int_eq(jbus_publish_text_ex(c, "t/2", "\"abc\"", -1, JBUS_PUB_RETAIN), 0);
	ck_assert_int_eq(jbus_send_text(c, "sub", "2", -1), 0);
	b = lt_stats(c);
	ck_assert_int_eq(delta(a, b, "frames_in"), 4);
	ck_assert_int_eq(delta(a, b, "msgs_routed"), 3);
	ck_assert_int_eq(delta(a, b, "deliveries"), 3);
	ck_assert_int_eq(delta(a, b, "retained"), 1);
	ck_assert_int_eq(delta(a, b, "retained_bytes"), 8);
	ck_assert_int_eq(delta(a, b, "clients"), 0);
	ck_assert_int_eq(delta(a, b, "errors_sent"), 0);
	ck_assert_int_gt(delta(a, b, "bytes_in"), 0);
	ck_assert_int_ge(delta(a, b, "uptime_ms"), 0);
	json_object_put(a);
	/* a subscription, a client, an error */
	ck_assert_int_eq(jbus_subscribe_sync(s, "u", lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	lt_new("third");
	ck_assert_int_eq(jbus_send_text(c, "nobody", "1", -1), 0);
	a = lt_stats(c);
	ck_assert_int_eq(delta(b, a, "subscriptions"), 1);
	ck_assert_int_eq(delta(b, a, "clients"), 1);
	ck_assert_int_eq(delta(b, a, "errors_sent"), 1);
	ck_assert_int_eq(jt_int(a, "clients"), 3);
	ck_assert_int_eq(jt_int(a, "subscriptions"), 2);
	json_object_put(a);
	json_object_put(b);
}
END_TEST

static json_object *client_entry(json_object *frame, const char *name)
{
	json_object *list, *e, *n;

	ck_assert(json_object_object_get_ex(frame, "clients", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(e, "name", &n) &&
		    !strcmp(json_object_get_string(n), name))
			return e;
	}
	ck_abort_msg("no client '%s' in the list", name);
	return NULL;
}

/* One entry per client: credentials, since_ms, patterns, counters, monitor flag. */
START_TEST(test_clients)
{
	int64_t t0 = jt_wall_ms(), t1;
	jbus_conn *c = lt_new("app"), *s = lt_new("sub");
	struct lt_log l = { 0 };
	char *frame = NULL;
	json_object *o, *e, *subs;

	t1 = jt_wall_ms();
	ck_assert_int_eq(jbus_subscribe_sync(s, "a/#", lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_subscribe_sync(s, "b", lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_clients(c, JT_TIMEOUT_MS, &frame), 0);
	ck_assert_int_eq(strncmp(frame, "{\"op\":\"clients\",\"id\":", 21), 0);
	o = jt_parse(frame);
	free(frame);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "clients")), 2);
	e = client_entry(o, "sub");
	ck_assert_int_eq(jt_int(e, "pid"), getpid());
	ck_assert_int_eq(jt_int(e, "uid"), getuid());
	ck_assert_int_eq(jt_int(e, "gid"), getgid());
	ck_assert_int_ge(jt_int(e, "since_ms"), t0 - 1);
	ck_assert_int_le(jt_int(e, "since_ms"), t1 + 1);
	subs = json_object_object_get(e, "subs");
	ck_assert_int_eq(json_object_array_length(subs), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(subs, 0)), "a/#");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(subs, 1)), "b");
	ck_assert_int_eq(jt_int(e, "frames_in"), 3); /* hello and two subs */
	ck_assert_int_ge(jt_int(e, "frames_out"), 3);
	ck_assert_int_eq(jt_int(e, "queued_bytes"), 0);
	ck_assert(!json_object_get_boolean(json_object_object_get(e, "monitor")));
	e = client_entry(o, "app");
	ck_assert_int_eq(json_object_array_length(json_object_object_get(e, "subs")), 0);
	json_object_put(o);
}
END_TEST

/* section: monitor */

/* Wait until the monitor log holds a frame of this kind; returns its index. */
static int wait_kind(struct lt_log *l, int from, const char *kind)
{
	char want[32];

	snprintf(want, sizeof(want), "\"kind\":\"%s\"", kind);
	for (int i = from;; i++) {
		lt_log_wait(l, i + 1);
		if (strstr(l->frame[i], want))
			return i;
	}
}

static void serve_fail(jbus_conn *c, const jbus_msg *m, void *ud)
{
	jbus_reply_error(c, jbus_msg_request_id(m), "nope", "not today");
}

static void ignore_answer(jbus_conn *c, int err, const jbus_msg *m, void *ud)
{
}

struct mon_err {
	int calls;
	char code[32], message[32];
};

struct mon_log {
	struct lt_log l; /* first: lt_log_msg takes the struct as its log */
	struct mon_err e;
};

/* userdata: a struct mon_log */
static void mon_error(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct mon_err *e = &((struct mon_log *)ud)->e;
	const char *code, *message;

	lt_log_msg(c, m, ud);
	if (jbus_msg_error(m, &code, &message)) {
		e->calls++;
		snprintf(e->code, sizeof(e->code), "%s", code);
		snprintf(e->message, sizeof(e->message), "%s", message);
	}
}

/* Copies of pub, send, req and reply with sender and recipients; not retained replays. */
START_TEST(test_monitor)
{
	static struct mon_log m;
	struct lt_log sub = { 0 };
	jbus_conn *mon = lt_new("mon"), *p = lt_new("pub"), *s = lt_new("sub");
	char *frame = NULL;
	json_object *o;
	int i;

	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(jbus_monitor(mon, mon_error, &m, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_clients(mon, JT_TIMEOUT_MS, &frame), 0);
	o = jt_parse(frame);
	free(frame);
	ck_assert(
		json_object_get_boolean(json_object_object_get(client_entry(o, "mon"), "monitor")));
	json_object_put(o);
	ck_assert_int_eq(jbus_subscribe_sync(s, "m/#", lt_log_msg, &sub, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_publish_text_ex(p, "m/1", "{ \"x\":1 }", -1, JBUS_PUB_RETAIN), 0);
	i = wait_kind(&m.l, 0, "pub");
	ck_assert_str_eq(m.l.frame[i],
			 "{\"op\":\"mon\",\"kind\":\"pub\",\"from\":\"pub\",\"to\":[\"sub\"],"
			 "\"topic\":\"m/1\",\"data\":{ \"x\":1 }}");
	ck_assert_int_eq(jbus_send_text(p, "sub", "[2]", -1), 0);
	i = wait_kind(&m.l, i + 1, "send");
	ck_assert_str_eq(m.l.frame[i], "{\"op\":\"mon\",\"kind\":\"send\",\"from\":\"pub\",\"to\":["
				       "\"sub\"],\"data\":[2]}");
	/* a request and its error reply: jbus_msg_error on the copy */
	jbus_conn_on_request(s, serve_fail, NULL);
	ck_assert_int_eq(jbus_request(p, "sub", "3", -1, 0, ignore_answer, NULL), 0);
	i = wait_kind(&m.l, i + 1, "req");
	ck_assert_str_eq(
		m.l.frame[i],
		"{\"op\":\"mon\",\"kind\":\"req\",\"from\":\"pub\",\"to\":[\"sub\"],\"data\":3}");
	i = wait_kind(&m.l, i + 1, "reply");
	ck_assert_int_eq(m.e.calls, 1);
	ck_assert_str_eq(m.e.code, "nope");
	ck_assert_str_eq(m.e.message, "not today");
	/* a new subscriber's retained replay is not routed traffic: no copy */
	ck_assert_int_eq(jbus_subscribe_sync(p, "m/#", lt_log_msg, &sub, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(p, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(mon, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(m.l.n, i + 1);
}
END_TEST

/* A monitor stays one across a reconnect to a restarted broker. */
START_TEST(test_monitor_reconnect)
{
	struct lt_log l = { 0 };
	jbus_conn *mon = lt_new("mon"), *p;

	ck_assert_int_eq(jbus_monitor(mon, lt_log_msg, &l, JT_TIMEOUT_MS), 0);
	lt_restart(mon, NULL);
	ck_assert_int_eq(jbus_ping(mon, JT_TIMEOUT_MS), 0); /* the monitor op is handled */
	p = lt_new("pub");
	ck_assert_int_eq(jbus_publish_text(p, "x", "1", -1), 0);
	wait_kind(&l, 0, "pub");
}
END_TEST

/* In a helper process as nobody: forbidden, and the connection goes on as before. */
static void child_nobody(void *arg)
{
	const char *code = "";
	jbus_conn *c;
	int r;

	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		_exit(10);
	if (jbus_conn_new(&c, jt_b.path, "nobody") < 0)
		_exit(11);
	r = jbus_monitor(c, lt_log_msg, NULL, JT_TIMEOUT_MS);
	if (r != JBUS_E_BROKER || !jbus_conn_last_error(c, &code, NULL))
		_exit(12);
	if (strcmp(code, "forbidden"))
		_exit(13);
	if (jbus_publish_text_sync(c, "t", "1", -1, JT_TIMEOUT_MS, NULL) < 0)
		_exit(14);
	_exit(0);
}

static void setup_open_socket(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("-m", "0666"));
}

START_TEST(test_monitor_forbidden)
{
	struct lt_log l = { 0 };
	jbus_conn *w;
	int st;

	if (getuid() != 0) {
		fprintf(stderr, "skipped: only root can run a client under another uid\n");
		return;
	}
	w = lt_new("watch");
	ck_assert_int_eq(jbus_monitor(w, lt_log_msg, &l, JT_TIMEOUT_MS), 0); /* root may */
	ck_assert_int_eq(chmod(jt_b.dir, 0711), 0);
	st = lt_reap(lt_fork(child_nobody, NULL));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "helper status %d", st);
	/* the refused monitor still published: the copy reached the real one */
	wait_kind(&l, 0, "pub");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "stats_frame", test_stats_frame, 0 },
		{ "stats_counters", test_stats_counters, 0 },
		{ "clients", test_clients, 0 },
		{ "monitor", test_monitor, 0 },
		{ "monitor_reconnect", test_monitor_reconnect, 0 },
	};
	Suite *s = suite_create("lib_req_intro");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, lt_teardown, 30);
	tcase_add_test(jt_tcase(s, "monitor_forbidden", setup_open_socket, lt_teardown, 30),
		       test_monitor_forbidden);
	return s;
}
