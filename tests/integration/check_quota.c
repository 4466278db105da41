/*
 * Quotas and timeouts: --max-clients-per-uid, --max-subs and
 * --idle-timeout, their limit_reached / timeout errors, the counters and
 * the "limits" object of stats.
 *
 * Idle timeouts are timed by the broker's own clock: a test waits for the
 * timeout error of a silent client (with a deadline) instead of sleeping,
 * and a client that must stay keeps pinging while it waits.
 */
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jt.h"
#include "util.h"

#define NOBODY 65534
/* --idle-timeout in the tests, and how often a client that must stay pings */
#define IDLE "0.3"
#define IDLE_MS 300
#define PING_MS 50

/* The test's directory, open to others, and the socket path in it. */
static void open_dir(void)
{
	jt_setup_dir();
	ck_assert_int_eq(chmod(jt_b.dir, 0755), 0);
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
}

START_TEST(test_quota_clients_per_uid)
{
	struct jt_conn *a, *b, *n;
	int64_t deadline;

	/* nobody must reach the socket: the directory and the socket open to others */
	open_dir();
	jt_broker_start_at(&jt_b, jt_b.path, JT_ARGV("-m", "0666", "--max-clients-per-uid", "1"));
	a = jt_client("a");
	/* refused at accept, before any hello: the error has no id */
	b = jt_connect(jt_b.path);
	jt_expect_line(b, "{\"op\":\"error\",\"code\":\"limit_reached\","
			  "\"message\":\"uid 0 has reached max_clients_per_uid (1)\","
			  "\"limit\":\"max_clients_per_uid\"}");
	jt_expect_eof_next(b);
	jt_close(b);
	/* another uid has its own count */
	n = jt_hello_as(jt_b.path, "n", NOBODY, NOBODY);
	ck_assert_int_eq(jt_stat(n, "limit_reached"), 1);
	ck_assert_int_eq(jt_stat(n, "connections_refused"), 1);
	/* a's leaving frees the slot (once the broker has seen it go: retry with a deadline) */
	jt_close(a);
	deadline = jt_now_ms() + JT_TIMEOUT_MS;
	for (;;) {
		json_object *o;
		b = jt_connect(jt_b.path);
		jt_send(b, "{\"op\":\"hello\",\"proto\":1,\"name\":\"a\"}");
		o = jt_frame(b);
		if (strcmp(jt_str(o, "op"), "welcome") == 0) {
			json_object_put(o);
			break;
		}
		ck_assert_str_eq(jt_str(o, "code"), "limit_reached");
		json_object_put(o);
		jt_close(b);
		ck_assert_msg(jt_now_ms() < deadline, "uid 0 still at its limit after a left");
	}
	jt_sync(b);
}
END_TEST

START_TEST(test_quota_max_subs)
{
	struct jt_conn *c, *d;
	json_object *o;

	jt_broker_start_args(&jt_b, JT_ARGV("--max-subs", "2"));
	c = jt_client("c");
	jt_sub(c, "a");
	jt_sub(c, "b/#");
	jt_send(c, "{\"op\":\"sub\",\"topic\":\"c\",\"id\":3}");
	jt_expect_line(c, "{\"op\":\"error\",\"id\":3,\"code\":\"limit_reached\","
			  "\"message\":\"this client has max_subs (2) subscriptions\","
			  "\"limit\":\"max_subs\"}");
	/* a pattern it has is no new subscription: still fine, also with another on_full */
	jt_sub(c, "a");
	jt_send(c, "{\"op\":\"sub\",\"topic\":\"b/#\",\"on_full\":\"drop\",\"id\":4}");
	jt_expect_ok(c, "4", -1);
	/* the limit is per client */
	d = jt_sub(jt_sub(jt_client("d"), "a"), "c");
	/* unsub makes room */
	jt_send(c, "{\"op\":\"unsub\",\"topic\":\"a\",\"id\":5}");
	jt_expect_ok(c, "5", -1);
	jt_sub(c, "c");
	/* c has exactly b/# and c, d has a and c */
	jt_send(d, "{\"op\":\"pub\",\"topic\":\"c\",\"data\":1,\"id\":6}");
	jt_expect_msg(d, "c", "d", "1");
	jt_expect_ok(d, "6", 2);
	jt_expect_msg(c, "c", "d", "1");
	jt_send(c, "{\"op\":\"stats\",\"id\":7}");
	o = jt_expect(c, "stats");
	ck_assert_int_eq(jt_int(o, "limit_reached"), 1);
	ck_assert_int_eq(jt_int(o, "subscriptions"), 4);
	json_object_put(o);
}
END_TEST

/*
 * A ping round trip on c that also takes in the $SYS/client/disconnected events arriving
 * before the pong: each must say reason "timeout"; their names are appended to seen.
 */
static void ping_watch(struct jt_conn *c, char *seen, size_t cap)
{
	json_object *o, *d;

	jt_send(c, "{\"op\":\"ping\",\"id\":\"keep\"}");
	while (strcmp(jt_str(o = jt_frame(c), "op"), "pong") != 0) {
		ck_assert_str_eq(jt_str(o, "op"), "msg");
		ck_assert_str_eq(jt_str(o, "topic"), "$SYS/client/disconnected");
		ck_assert(json_object_object_get_ex(o, "data", &d));
		ck_assert_str_eq(jt_str(d, "reason"), "timeout");
		ck_assert_uint_lt(strlen(seen) + strlen(jt_str(d, "name")) + 2, cap);
		strcat(seen, jt_str(d, "name"));
		strcat(seen, " ");
		json_object_put(o);
	}
	json_object_put(o);
}

/*
 * Waits for the idle timeout of silent (its error, then EOF) while c keeps pinging every
 * PING_MS (ping_watch into seen). Returns how long the error took from start_ms.
 */
static int64_t idle_out_while_pinging(struct jt_conn *silent, struct jt_conn *c, int64_t start_ms,
				      char *seen, size_t cap)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS, took;
	char *line;

	while ((line = jt_line(silent, PING_MS)) == NULL) {
		ck_assert_msg(!silent->eof, "closed without the timeout error");
		ck_assert_msg(jt_now_ms() < deadline, "no idle timeout within %d ms",
			      JT_TIMEOUT_MS);
		ping_watch(c, seen, cap);
	}
	took = jt_now_ms() - start_ms;
	ck_assert_str_eq(line, "{\"op\":\"error\",\"code\":\"timeout\","
			       "\"message\":\"no frame for 300 ms (idle_timeout); closing\"}");
	free(line);
	jt_expect_eof_next(silent);
	return took;
}

START_TEST(test_quota_idle_timeout)
{
	struct jt_conn *s1, *s2, *p;
	char seen[64] = "";
	int64_t t0;

	jt_broker_start_args(&jt_b, JT_ARGV("--idle-timeout", IDLE));
	/* p pings to stay, and watches the disconnects */
	p = jt_sub(jt_client("p"), "$SYS/client/disconnected");
	t0 = jt_now_ms();
	s1 = jt_client("s1");
	ck_assert_int_ge(idle_out_while_pinging(s1, p, t0, seen, sizeof(seen)), IDLE_MS);
	/* a second period, begun after s1 left: p lives through two */
	t0 = jt_now_ms();
	s2 = jt_client("s2");
	ck_assert_int_ge(idle_out_while_pinging(s2, p, t0, seen, sizeof(seen)), IDLE_MS);
	/* the event follows the close: one more round trip brings what is left */
	ping_watch(p, seen, sizeof(seen));
	ck_assert_str_eq(seen, "s1 s2 ");
	ck_assert_int_eq(jt_stat(p, "idle_timeouts"), 2);
}
END_TEST

START_TEST(test_quota_idle_partial_line)
{
	struct jt_conn *s, *p;
	char seen[8] = "";
	int64_t t0;

	jt_broker_start_args(&jt_b, JT_ARGV("--idle-timeout", IDLE));
	p = jt_client("p");
	t0 = jt_now_ms();
	s = jt_client("s");
	/* bytes that never become a frame do not count as activity */
	jt_send_raw(s, "{\"op\":\"pi", 9);
	ck_assert_int_ge(idle_out_while_pinging(s, p, t0, seen, sizeof(seen)), IDLE_MS);
	ck_assert_str_eq(seen, "");
	ck_assert_int_eq(jt_stat(p, "idle_timeouts"), 1);
}
END_TEST

/* section: retained bytes per uid */

/* A retained pub by c, answered ok (delivered to nobody). */
static void retain_ok(struct jt_conn *c, const char *topic, const char *data)
{
	jt_send(c, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":%s,\"retain\":true,\"id\":1}",
		topic, data);
	jt_expect_ok(c, "1", 0);
}

/* The same, refused for the uid's bound of 20 bytes (delivered all the same). */
static void retain_refused(struct jt_conn *c, const char *topic, const char *data)
{
	jt_send(c, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":%s,\"retain\":true,\"id\":2}",
		topic, data);
	jt_expect_line(c, "{\"op\":\"error\",\"id\":2,\"code\":\"limit_reached\",\"message\":"
			  "\"delivered to 0 clients but not retained: max_retained_bytes_per_uid (20) "
			  "reached for this uid\",\"limit\":\"max_retained_bytes_per_uid\"}");
}

/* A broker others may reach, with 20 retained bytes per uid (and a retain file, or NULL). */
static void start_open(const char *file)
{
	jt_broker_start_at(&jt_b, jt_b.path,
			   JT_ARGV("-m", "0666", "--max-retained-bytes-per-uid", "20",
				   file ? "--retain-file" : NULL, file));
}

/*
 * Topic plus data bytes of the values a uid set, against its bound: a replacement of its own
 * value counts only once; a value replaced or cleared by someone else is off its account;
 * another uid has its own; the global bounds still apply to all.
 */
START_TEST(test_quota_retained_per_uid)
{
	struct jt_conn *r, *n;

	open_dir();
	start_open(NULL);
	r = jt_client("r");
	n = jt_hello_as(jt_b.path, "n", NOBODY, NOBODY);
	retain_ok(n, "n/a", "1234567890");  /* 3 + 10 = 13 */
	retain_refused(n, "n/b", "12345"); /* 13 + 8 > 20 */
	retain_ok(n, "n/a", "123456789012345"); /* its own 13 go: 18 */
	retain_refused(n, "n", "12");          /* 18 + 3 */
	/* the same bound, its own account: root */
	retain_ok(r, "r/x", "123456789012345");
	/* root takes n/a over: 4 for root (over its 20: refused), then n/a cleared by root */
	retain_refused(r, "n/a", "1");
	retain_ok(r, "n/a", "null");
	retain_ok(n, "n/b", "12345");           /* 8 */
	retain_ok(n, "n/c", "1234567");         /* 8 + 10 = 18 */
	retain_ok(n, "n/b", "null");            /* 10 */
	retain_ok(n, "n/d", "1234567");         /* 20 */
	ck_assert_int_eq(jt_stat(r, "limit_reached"), 3);
	ck_assert_int_eq(jt_stat(r, "retained"), 3);
}
END_TEST

/* The charges survive a restart: the retain file keeps whose each value is. */
START_TEST(test_quota_retained_per_uid_file)
{
	char file[PATH_MAX];
	struct jt_conn *n;

	open_dir();
	jt_fmt(file, sizeof(file), "%s/retained", jt_b.dir);
	start_open(file);
	n = jt_hello_as(jt_b.path, "n", NOBODY, NOBODY);
	retain_ok(n, "n/a", "1234567890");
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	jt_broker_expect_exit(&jt_b);
	start_open(file);
	n = jt_hello_as(jt_b.path, "n", NOBODY, NOBODY);
	retain_refused(n, "n/b", "12345");
	retain_ok(n, "n/a", "null");
	retain_ok(n, "n/b", "12345");
}
END_TEST

START_TEST(test_quota_stats_limits)
{
	struct jt_conn *c;
	json_object *o, *l;

	jt_broker_start_args(&jt_b, JT_ARGV("--max-clients-per-uid", "7", "--max-subs", "9",
					    "--idle-timeout", "2.5"));
	c = jt_client("c");
	jt_send(c, "{\"op\":\"stats\",\"id\":1}");
	o = jt_expect(c, "stats");
	ck_assert_int_eq(jt_int(o, "limit_reached"), 0);
	ck_assert_int_eq(jt_int(o, "idle_timeouts"), 0);
	ck_assert_int_eq(jt_int(o, "forbidden"), 0);
	ck_assert(json_object_object_get_ex(o, "limits", &l));
	ck_assert_int_eq(jt_int(l, "max_clients_per_uid"), 7);
	ck_assert_int_eq(jt_int(l, "max_subs"), 9);
	ck_assert_int_eq(jt_int(l, "idle_timeout_ms"), 2500);
	ck_assert_int_eq(jt_int(l, "max_clients"), 10000);
	ck_assert_int_eq(jt_int(l, "max_retained_bytes_per_uid"), 0);
	json_object_put(o);
	/* the welcome tells every client the idle timeout, so it can ping in time */
	c = jt_connect(jt_b.path);
	jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"w\"}");
	jt_expect_line(c, "{\"op\":\"welcome\",\"proto\":1,\"name\":\"w\",\"broker\":\"jbusd "
			  JBUS_VERSION "\",\"max_frame\":1048576,\"idle_timeout_ms\":2500}");
}
END_TEST

START_TEST(test_quota_defaults)
{
	struct jt_conn *c;
	json_object *o, *l;

	jt_broker_start_args(&jt_b, NULL);
	c = jt_client("c");
	jt_send(c, "{\"op\":\"stats\",\"id\":1}");
	o = jt_expect(c, "stats");
	ck_assert(json_object_object_get_ex(o, "limits", &l));
	/* 0: no per-uid limit and no idle timeout */
	ck_assert_int_eq(jt_int(l, "max_clients_per_uid"), 0);
	ck_assert_int_eq(jt_int(l, "idle_timeout_ms"), 0);
	ck_assert_int_eq(jt_int(l, "max_subs"), 10000);
	ck_assert_int_eq(jt_int(l, "handshake_timeout_ms"), 5000);
	ck_assert_int_eq(jt_int(l, "max_retained_bytes_per_uid"), 0);
	json_object_put(o);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("quota");
	const struct jt_case cases[] = {
		{ "clients_per_uid", test_quota_clients_per_uid },
		{ "max_subs", test_quota_max_subs },
		{ "idle_timeout", test_quota_idle_timeout },
		{ "idle_partial_line", test_quota_idle_partial_line },
		{ "retained_per_uid", test_quota_retained_per_uid },
		{ "retained_per_uid_file", test_quota_retained_per_uid_file },
		{ "stats_limits", test_quota_stats_limits },
		{ "defaults", test_quota_defaults },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, jt_teardown, 30);
	return s;
}
