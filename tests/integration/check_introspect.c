/*
 * stats, clients and monitor through the real jbusd: the fields, counters
 * that move by exactly the expected amounts between two stats (bytes
 * included, counted from what the test sent and read), the per-client
 * entries, and monitors: a copy of everything routed (pub, send, req,
 * reply, will, broker events; not retained replays), and forbidden for a
 * client of another uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define NOBODY 65534

/* The counters every stats frame has had from the start, in the order stats sends them. */
static const char *const counters[] = {
	"uptime_ms", "clients", "subscriptions", "retained", "retained_bytes", "frames_in",
	"msgs_routed", "deliveries", "bytes_in", "bytes_out", "slow_consumer_disconnects",
	"requests_pending", "requests_timed_out", "replies_dropped", "errors_sent",
	"connections", "connections_refused", "handshake_failures",
};

/* section: fixture */

/* What the test sent and read since the last stats, for the deltas. */
static size_t tx_bytes, rx_bytes, tx_frames;
static json_object *prev; /* the last stats frame */
static size_t prev_len;   /* its length on the wire */

static void teardown(void)
{
	json_object_put(prev);
	prev = NULL;
	prev_len = tx_bytes = rx_bytes = tx_frames = 0;
	jt_teardown();
}

/* section: helpers */

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Send one frame, counted. */
static void tx(struct jt_conn *c, const char *frame)
{
	jt_send(c, "%s", frame);
	tx_bytes += strlen(frame) + 1;
	tx_frames++;
}

/* The next line is exactly want, counted. */
static void rx(struct jt_conn *c, const char *want)
{
	jt_expect_line(c, want);
	rx_bytes += strlen(want) + 1;
}

/* The next frame, with this op, counted (caller puts). */
static json_object *rx_op(struct jt_conn *c, const char *op)
{
	char *raw;
	json_object *o = jt_frame_raw(c, &raw);

	ck_assert_msg(jt_str(o, "op") && strcmp(jt_str(o, "op"), op) == 0, "expected %s: %s", op,
		      raw);
	rx_bytes += strlen(raw) + 1;
	free(raw);
	return o;
}

/* A client through the counted path: hello, welcome. */
static struct jt_conn *counted_client(const char *name)
{
	struct jt_conn *c = jt_connect(jt_b.path);
	char hello[128];

	snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"proto\":1,\"name\":\"%s\"}", name);
	tx(c, hello);
	json_object_put(rx_op(c, "welcome"));
	return c;
}

struct delta {
	const char *key;
	int64_t d;
};

/*
 * Ask for stats on s and compare with the previous answer: every counter
 * moved by exactly its amount in want (0 if absent); frames_in and bytes
 * follow from what tx/rx counted, plus this stats frame and the previous
 * answer.
 */
static void step(struct jt_conn *s, const struct delta *want, size_t n)
{
	static const char frame[] = "{\"op\":\"stats\",\"id\":0}";
	json_object *cur;
	char *raw;

	jt_send(s, "%s", frame);
	cur = jt_frame_raw(s, &raw);
	ck_assert_str_eq(jt_str(cur, "op"), "stats");
	if (prev) {
		for (size_t k = 1; k < ARRAY_SIZE(counters); k++) {
			const char *key = counters[k];
			int64_t d = 0;

			for (size_t i = 0; i < n; i++)
				if (strcmp(want[i].key, key) == 0)
					d = want[i].d;
			if (strcmp(key, "frames_in") == 0)
				d = (int64_t)tx_frames + 1;
			else if (strcmp(key, "bytes_in") == 0)
				d = (int64_t)(tx_bytes + sizeof(frame));
			else if (strcmp(key, "bytes_out") == 0)
				d = (int64_t)(rx_bytes + prev_len);
			ck_assert_msg(jt_int(cur, key) - jt_int(prev, key) == d,
				      "%s moved by %lld, expected %lld\nbefore: %s\nafter:  %s",
				      key, (long long)(jt_int(cur, key) - jt_int(prev, key)),
				      (long long)d, json_object_to_json_string(prev), raw);
		}
		ck_assert_int_ge(jt_int(cur, "uptime_ms"), jt_int(prev, "uptime_ms"));
	}
	json_object_put(prev);
	prev = cur;
	prev_len = strlen(raw) + 1;
	free(raw);
	tx_bytes = rx_bytes = tx_frames = 0;
}

#define STEP(s, ...)                                       \
	do {                                               \
		const struct delta d_[] = { __VA_ARGS__ }; \
		step(s, d_, ARRAY_SIZE(d_));               \
	} while (0)

/* section: stats */

START_TEST(test_stats_fresh_broker)
{
	struct jt_conn *s = jt_connect(jt_b.path);
	const char hello[] = "{\"op\":\"hello\",\"proto\":1,\"name\":\"s\"}";
	const char stats[] = "{\"op\":\"stats\",\"id\":\"x\"}";
	char *welcome, *raw;
	json_object *o, *v;

	jt_send(s, "%s", hello);
	o = jt_frame_raw(s, &welcome);
	json_object_put(o);
	jt_send(s, "%s", stats);
	o = jt_frame_raw(s, &raw);
	ck_assert_msg(starts(raw, "{\"op\":\"stats\",\"id\":\"x\",\"uptime_ms\":"), "%s", raw);
	for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
		ck_assert_msg(json_object_object_get_ex(o, counters[k], &v) &&
				      json_object_is_type(v, json_type_int) &&
				      json_object_get_int64(v) >= 0,
			      "%s is not a counter in %s", counters[k], raw);
	}
	/* one client, its hello and this stats; only the welcome written so far */
	ck_assert_int_eq(jt_int(o, "clients"), 1);
	ck_assert_int_eq(jt_int(o, "connections"), 1);
	ck_assert_int_eq(jt_int(o, "frames_in"), 2);
	ck_assert_int_eq(jt_int(o, "bytes_in"), (int64_t)(sizeof(hello) + sizeof(stats)));
	ck_assert_int_eq(jt_int(o, "bytes_out"), (int64_t)strlen(welcome) + 1);
	for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
		const char *key = counters[k];

		if (strcmp(key, "uptime_ms") && strcmp(key, "clients") &&
		    strcmp(key, "connections") && strcmp(key, "frames_in") &&
		    strcmp(key, "bytes_in") && strcmp(key, "bytes_out"))
			ck_assert_msg(jt_int(o, key) == 0, "%s: %s", key, raw);
	}
	json_object_put(o);
	free(welcome);
	free(raw);

	/* without an id: none in the answer */
	jt_send(s, "{\"op\":\"stats\"}");
	raw = jt_next_line(s);
	ck_assert_msg(starts(raw, "{\"op\":\"stats\",\"uptime_ms\":"), "%s", raw);
	free(raw);
}
END_TEST

START_TEST(test_stats_deltas)
{
	struct jt_conn *s = jt_client("s"), *p = jt_client("p"), *w = jt_client("w");
	struct jt_conn *b1 = jt_client("b1"), *b2 = jt_client("b2"), *n, *x;
	json_object *o;

	jt_sub(b1, "t");
	jt_sub(b2, "t");
	jt_sub(w, "$SYS/#");
	step(s, NULL, 0);
	/* nothing happened but this stats */
	step(s, NULL, 0);

	/* one pub, two subscribers */
	tx(p, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1,\"id\":1}");
	rx(p, "{\"op\":\"ok\",\"id\":1,\"delivered\":2}");
	rx(b1, "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"p\",\"data\":1}");
	rx(b2, "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"p\",\"data\":1}");
	STEP(s, { "msgs_routed", 1 }, { "deliveries", 2 });

	/* a pub nobody receives, a send, two error frames */
	tx(p, "{\"op\":\"pub\",\"topic\":\"none\",\"data\":1}");
	tx(p, "{\"op\":\"send\",\"to\":\"b1\",\"data\":2,\"id\":2}");
	rx(p, "{\"op\":\"ok\",\"id\":2}");
	rx(b1, "{\"op\":\"msg\",\"from\":\"p\",\"to\":\"b1\",\"data\":2}");
	tx(p, "{\"op\":\"nope\",\"id\":3}");
	json_object_put(rx_op(p, "error"));
	tx(p, "{");
	json_object_put(rx_op(p, "error"));
	STEP(s, { "msgs_routed", 2 }, { "deliveries", 1 }, { "errors_sent", 2 });

	/* retained: stored, then replayed to a new pattern */
	tx(p, "{\"op\":\"pub\",\"topic\":\"r/a\",\"data\":12,\"retain\":true,\"id\":4}");
	rx(p, "{\"op\":\"ok\",\"id\":4,\"delivered\":0}");
	tx(b1, "{\"op\":\"sub\",\"topic\":\"r/#\",\"id\":5}");
	rx(b1, "{\"op\":\"ok\",\"id\":5}");
	rx(b1, "{\"op\":\"msg\",\"topic\":\"r/a\",\"from\":\"p\",\"data\":12,\"retained\":true}");
	STEP(s, { "msgs_routed", 1 }, { "deliveries", 1 }, { "subscriptions", 1 },
	     { "retained", 1 }, { "retained_bytes", 5 });
	/* a repeated sub changes nothing; an unsub removes one */
	tx(b1, "{\"op\":\"sub\",\"topic\":\"r/#\",\"id\":6}");
	rx(b1, "{\"op\":\"ok\",\"id\":6}");
	tx(b1, "{\"op\":\"unsub\",\"topic\":\"t\",\"id\":7}");
	rx(b1, "{\"op\":\"ok\",\"id\":7}");
	STEP(s, { "subscriptions", -1 });

	/* a client comes and goes: two broker events delivered to w */
	n = counted_client("n");
	json_object_put(rx_op(w, "msg"));
	STEP(s, { "clients", 1 }, { "connections", 1 }, { "deliveries", 1 });
	tx(n, "{\"op\":\"bye\"}");
	jt_expect_eof_next(n);
	json_object_put(rx_op(w, "msg"));
	STEP(s, { "clients", -1 }, { "deliveries", 1 });

	/* a published will counts as routed */
	x = jt_connect(jt_b.path);
	tx(x, "{\"op\":\"hello\",\"proto\":1,\"name\":\"x\","
	      "\"will\":{\"topic\":\"t\",\"data\":0}}");
	json_object_put(rx_op(x, "welcome"));
	json_object_put(rx_op(w, "msg"));
	jt_close(x);
	rx(b2, "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"x\",\"data\":0}");
	json_object_put(rx_op(w, "msg"));
	STEP(s, { "connections", 1 }, { "deliveries", 3 }, { "msgs_routed", 1 });

	/* a failed handshake */
	x = jt_connect(jt_b.path);
	tx(x, "{\"op\":\"hello\",\"proto\":1,\"name\":\"bad name\"}");
	json_object_put(rx_op(x, "error"));
	jt_expect_eof_next(x);
	STEP(s, { "connections", 1 }, { "handshake_failures", 1 }, { "errors_sent", 1 });

	/* a request pending, answered, answered again */
	tx(p, "{\"op\":\"req\",\"to\":\"b2\",\"id\":8,\"data\":\"q\"}");
	rx(b2, "{\"op\":\"req\",\"from\":\"p\",\"id\":1,\"data\":\"q\"}");
	STEP(s, { "requests_pending", 1 });
	tx(b2, "{\"op\":\"reply\",\"id\":1,\"data\":\"a\"}");
	rx(p, "{\"op\":\"reply\",\"id\":8,\"from\":\"b2\",\"data\":\"a\"}");
	STEP(s, { "requests_pending", -1 });
	tx(b2, "{\"op\":\"reply\",\"id\":1,\"data\":\"again\"}");
	tx(b2, "{\"op\":\"ping\",\"id\":9}");
	rx(b2, "{\"op\":\"pong\",\"id\":9}");
	STEP(s, { "replies_dropped", 1 });
	/* and one that times out: an error frame for the requester */
	tx(p, "{\"op\":\"req\",\"to\":\"b2\",\"id\":10,\"timeout_ms\":1}");
	rx(b2, "{\"op\":\"req\",\"from\":\"p\",\"id\":2,\"data\":null}");
	o = rx_op(p, "error");
	ck_assert_str_eq(jt_str(o, "code"), "timeout");
	json_object_put(o);
	STEP(s, { "requests_timed_out", 1 }, { "errors_sent", 1 });
}
END_TEST

START_TEST(test_stats_connections_refused)
{
	struct jt_conn *s, *x;
	json_object *o;

	jt_broker_start_args(&jt_b, JT_ARGV("--max-clients", "1"));
	s = jt_client("s");
	x = jt_connect(jt_b.path);
	jt_expect_error_id(x, "limit_reached", NULL, NULL);
	jt_expect_eof_next(x);
	jt_send(s, "{\"op\":\"stats\",\"id\":1}");
	o = jt_expect(s, "stats");
	ck_assert_int_eq(jt_int(o, "connections_refused"), 1);
	ck_assert_int_eq(jt_int(o, "connections"), 1);
	ck_assert_int_eq(jt_int(o, "clients"), 1);
	json_object_put(o);
}
END_TEST

/* section: clients */

/* The entry of name in a clients answer, borrowed from o. */
static json_object *entry(json_object *o, const char *name)
{
	json_object *arr, *e;

	ck_assert(json_object_object_get_ex(o, "clients", &arr));
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		if (jt_str(e, "name") && strcmp(jt_str(e, "name"), name) == 0)
			return e;
	}
	ck_abort_msg("no entry for %s in %s", name, json_object_to_json_string(o));
	return NULL;
}

/* The strings of a JSON array, sorted, joined with ' ' into buf. */
static const char *join_sorted(json_object *arr, char *buf, size_t cap)
{
	const char *v[16];
	size_t n = json_object_array_length(arr), len = 0;

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++)
		v[i] = json_object_get_string(json_object_array_get_idx(arr, i));
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", v[i]);
	return buf;
}

/* The entry's subs, sorted, joined with ' '. */
static const char *subs_of(json_object *e, char *buf, size_t cap)
{
	json_object *arr;

	ck_assert(json_object_object_get_ex(e, "subs", &arr));
	return join_sorted(arr, buf, cap);
}

static void expect_entry(json_object *e, pid_t pid, uid_t uid, int64_t frames_in,
			 int64_t frames_out, bool monitor)
{
	json_object *m;

	ck_assert_int_eq(jt_int(e, "pid"), pid);
	ck_assert_int_eq(jt_int(e, "uid"), uid);
	ck_assert_int_eq(jt_int(e, "gid"), uid == NOBODY ? NOBODY : getegid());
	ck_assert_int_eq(jt_int(e, "frames_in"), frames_in);
	ck_assert_int_eq(jt_int(e, "frames_out"), frames_out);
	ck_assert(json_object_object_get_ex(e, "monitor", &m));
	ck_assert(json_object_is_type(m, json_type_boolean));
	ck_assert_int_eq(json_object_get_boolean(m), monitor);
}

START_TEST(test_clients_entries)
{
	enum { PAD = 4096, N = 256 };
	struct jt_conn *a, *s, *q, *m, *p;
	int64_t t0 = jt_wall_ms(), t1;
	char buf[256], *raw, pad[PAD + 1];
	json_object *o, *e;

	a = jt_client("a");
	t1 = jt_wall_ms();
	jt_sub(a, "b");
	jt_sub(a, "a/#");
	jt_sub(a, "b");
	m = jt_client("m");
	jt_send(m, "{\"op\":\"monitor\",\"id\":1}");
	jt_expect_ok(m, "1", -1);
	/* mid-handshake: no entry */
	jt_connect(jt_b.path);
	s = jt_client("s");
	jt_send(s, "{\"op\":\"clients\",\"id\":\"c\"}");
	o = jt_frame_raw(s, &raw);
	ck_assert_msg(starts(raw, "{\"op\":\"clients\",\"id\":\"c\",\"clients\":[{"), "%s", raw);
	free(raw);
	ck_assert(json_object_object_get_ex(o, "clients", &e));
	ck_assert_int_eq(json_object_array_length(e), 3);
	e = entry(o, "a");
	/* hello and three subs in; welcome and three oks out */
	expect_entry(e, getpid(), geteuid(), 4, 4, false);
	ck_assert_str_eq(subs_of(e, buf, sizeof(buf)), "a/# b");
	ck_assert_int_eq(jt_int(e, "queued_bytes"), 0);
	ck_assert_msg(jt_int(e, "since_ms") >= t0 && jt_int(e, "since_ms") <= t1,
		      "since_ms %lld not within [%lld, %lld]", (long long)jt_int(e, "since_ms"),
		      (long long)t0, (long long)t1);
	/* a monitor; it has the sys event of s's connection queued or sent */
	e = entry(o, "m");
	ck_assert_int_eq(jt_int(e, "frames_in"), 2);
	ck_assert(json_object_get_boolean(json_object_object_get(e, "monitor")));
	/* the asker: its hello and this clients frame in, the welcome out */
	e = entry(o, "s");
	expect_entry(e, getpid(), geteuid(), 2, 1, false);
	ck_assert_str_eq(subs_of(e, buf, sizeof(buf)), "");
	json_object_put(o);

	/* a subscriber that stops reading: the rest waits in its queue */
	q = jt_client("q");
	jt_sub(q, "flood");
	p = jt_client("p");
	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	for (int i = 0; i < N; i++)
		jt_send(p, "{\"op\":\"pub\",\"topic\":\"flood\",\"data\":\"%s\"}", pad);
	jt_sync(p);
	jt_send(s, "{\"op\":\"clients\",\"id\":\"c\"}");
	o = jt_expect(s, "clients");
	e = entry(o, "q");
	/* 1 MiB is more than a socket buffer holds */
	ck_assert_int_gt(jt_int(e, "queued_bytes"), 0);
	ck_assert_int_le(jt_int(e, "queued_bytes"), N * (PAD + 64));
	expect_entry(e, getpid(), geteuid(), 2, 2 + N, false);
	e = entry(o, "p");
	expect_entry(e, getpid(), geteuid(), 2 + N, 2, false);
	json_object_put(o);
}
END_TEST

/* section: monitor */

/*
 * The next frame of m is a mon frame: kind, from, the recipients (sorted,
 * space-separated, any order on the wire), topic (NULL: absent) and then
 * body ("data":.. or "error":..) exactly as the last member.
 */
static void expect_mon(struct jt_conn *m, const char *kind, const char *from, const char *to,
		       const char *topic, const char *body)
{
	char head[256], tail[512], names[256], *raw;
	json_object *o = jt_frame_raw(m, &raw), *arr;

	snprintf(head, sizeof(head), "{\"op\":\"mon\",\"kind\":\"%s\",\"from\":\"%s\",\"to\":[",
		 kind, from);
	snprintf(tail, sizeof(tail), ",%s}", body);
	ck_assert_msg(starts(raw, head) && strlen(raw) > strlen(tail) &&
			      strcmp(raw + strlen(raw) - strlen(tail), tail) == 0,
		      "expected mon %s from %s ending %s\n     got %s", kind, from, tail, raw);
	if (topic)
		ck_assert_msg(jt_str(o, "topic") && strcmp(jt_str(o, "topic"), topic) == 0,
			      "topic in %s", raw);
	else
		ck_assert_msg(!jt_has(o, "topic"), "topic in %s", raw);
	ck_assert(json_object_object_get_ex(o, "to", &arr));
	join_sorted(arr, names, sizeof(names));
	ck_assert_msg(strcmp(names, to) == 0, "recipients [%s], expected [%s] in %s", names, to,
		      raw);
	free(raw);
	json_object_put(o);
}

START_TEST(test_monitor_copies)
{
	struct jt_conn *a = jt_client("a"), *b = jt_client("b"), *c = jt_client("c");
	struct jt_conn *r = jt_client("r"), *m = jt_client("m"), *n;
	char data[256];

	jt_sub(b, "t");
	jt_sub(c, "t");
	jt_send(m, "{\"op\":\"monitor\",\"id\":1}");
	jt_expect_ok(m, "1", -1);

	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":{\"x\": 1}}");
	expect_mon(m, "pub", "a", "b c", "t", "\"data\":{\"x\": 1}");
	json_object_put(jt_expect(c, "msg"));
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"none\"}");
	expect_mon(m, "pub", "a", "", "none", "\"data\":null");
	jt_send(a, "{\"op\":\"send\",\"to\":\"b\",\"data\":\"hi\"}");
	expect_mon(m, "send", "a", "b", NULL, "\"data\":\"hi\"");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":5,\"data\":[1, 2]}");
	expect_mon(m, "req", "a", "r", NULL, "\"data\":[1, 2]");
	json_object_put(jt_expect(r, "req"));
	jt_send(r, "{\"op\":\"reply\",\"id\":1,\"data\":\"ok\"}");
	expect_mon(m, "reply", "r", "a", NULL, "\"data\":\"ok\"");
	jt_send(a, "{\"op\":\"req\",\"to\":\"r\",\"id\":6}");
	expect_mon(m, "req", "a", "r", NULL, "\"data\":null");
	json_object_put(jt_expect(r, "req"));
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"error\":{\"code\":\"c\", \"message\":\"m\"}}");
	expect_mon(m, "reply", "r", "a", NULL, "\"error\":{\"code\":\"c\", \"message\":\"m\"}");

	/* refused frames route nothing: the next copy is of the next pub */
	jt_send(a, "{\"op\":\"req\",\"to\":\"nobody\",\"id\":7}");
	jt_send(a, "{\"op\":\"send\",\"to\":\"nobody\",\"data\":1}");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1,\"retain\":1}");
	jt_send(r, "{\"op\":\"reply\",\"id\":2,\"data\":\"late\"}");
	jt_send(a, "{\"op\":\"ping\"}");
	jt_send(a, "{\"op\":\"stats\"}");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"mark\",\"data\":1}");
	expect_mon(m, "pub", "a", "", "mark", "\"data\":1");

	/* a retained pub is copied, its replays are not */
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"k\",\"data\":2,\"retain\":true}");
	expect_mon(m, "pub", "a", "", "k", "\"data\":2");
	jt_sub(c, "k");
	jt_expect_line(c, "{\"op\":\"msg\",\"topic\":\"k\",\"from\":\"a\",\"data\":2,"
			  "\"retained\":true}");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"mark\",\"data\":2}");
	expect_mon(m, "pub", "a", "", "mark", "\"data\":2");

	/* broker events and wills */
	jt_sub(r, "$SYS/client/+");
	n = jt_connect(jt_b.path);
	jt_send(n, "{\"op\":\"hello\",\"proto\":1,\"name\":\"n\",\"will\":{\"topic\":\"t\","
		   "\"data\":\"gone\"}}");
	json_object_put(jt_expect(n, "welcome"));
	snprintf(data, sizeof(data), "\"data\":{\"name\":\"n\",\"pid\":%d,\"uid\":%u,\"gid\":%u}",
		 (int)getpid(), (unsigned)geteuid(), (unsigned)getegid());
	expect_mon(m, "sys", "$SYS", "r", "$SYS/client/connected", data);
	jt_close(n);
	expect_mon(m, "will", "n", "b c", "t", "\"data\":\"gone\"");
	snprintf(data, sizeof(data),
		 "\"data\":{\"name\":\"n\",\"pid\":%d,\"uid\":%u,\"gid\":%u,\"reason\":\"closed\"}",
		 (int)getpid(), (unsigned)geteuid(), (unsigned)getegid());
	expect_mon(m, "sys", "$SYS", "r", "$SYS/client/disconnected", data);
}
END_TEST

START_TEST(test_monitor_is_a_client)
{
	struct jt_conn *a = jt_client("a"), *m = jt_client("m");
	json_object *o1, *o2;
	const char *op1, *op2;

	/* without an id: no ok; twice: still one copy per message */
	jt_send(m, "{\"op\":\"monitor\"}");
	jt_send(m, "{\"op\":\"monitor\"}");
	jt_sync(m);
	jt_send(m, "{\"op\":\"monitor\",\"id\":\"again\"}");
	jt_expect_ok(m, "\"again\"", -1);
	/* it subscribes and publishes like any client */
	jt_sub(m, "t");
	jt_send(m, "{\"op\":\"pub\",\"topic\":\"u\",\"data\":0}");
	expect_mon(m, "pub", "m", "", "u", "\"data\":0");
	/* its own delivery and the copy: one of each */
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1}");
	o1 = jt_frame(m);
	o2 = jt_frame(m);
	op1 = jt_str(o1, "op");
	op2 = jt_str(o2, "op");
	ck_assert_msg((strcmp(op1, "msg") == 0 && strcmp(op2, "mon") == 0) ||
			      (strcmp(op1, "mon") == 0 && strcmp(op2, "msg") == 0),
		      "%s then %s", json_object_to_json_string(o1), json_object_to_json_string(o2));
	json_object_put(o1);
	json_object_put(o2);
	jt_sync(m);
	jt_send(a, "{\"op\":\"clients\",\"id\":1}");
	o1 = jt_expect(a, "clients");
	ck_assert(json_object_get_boolean(json_object_object_get(entry(o1, "m"), "monitor")));
	ck_assert(!json_object_get_boolean(json_object_object_get(entry(o1, "a"), "monitor")));
	json_object_put(o1);
}
END_TEST

START_TEST(test_monitor_slow_consumer)
{
	enum { PAD = 2000 };
	struct jt_conn *a, *m, *w;
	char pad[PAD + 1], want[256], *line = NULL;
	int i;

	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "1K"));
	w = jt_client("w");
	jt_sub(w, "$SYS/client/disconnected");
	a = jt_client("a");
	m = jt_client("m");
	jt_send(m, "{\"op\":\"monitor\",\"id\":1}");
	jt_expect_ok(m, "1", -1);
	/* m reads no more; copies of pubs nobody subscribed to fill its socket, then its queue */
	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	for (i = 0; i < 100000 && !line; i++) {
		jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":\"%s\",\"id\":%d}", pad, i);
		snprintf(want, sizeof(want), "{\"op\":\"ok\",\"id\":%d,\"delivered\":0}", i);
		jt_expect_line(a, want);
		line = jt_line(w, 0);
	}
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"$SYS/client/disconnected\",\"from\":\"$SYS\","
		 "\"data\":{\"name\":\"m\",\"pid\":%d,\"uid\":%u,\"gid\":%u,"
		 "\"reason\":\"slow_consumer\"}}",
		 (int)getpid(), (unsigned)geteuid(), (unsigned)getegid());
	ck_assert_msg(line && strcmp(line, want) == 0, "expected %s\n     got %s", want,
		      line ? line : "nothing");
	free(line);
}
END_TEST

/*
 * A connection made by a child running as nobody (the broker's peer
 * credentials are the connecting process's), handed to the test by
 * replacing the socket of a tracked connection; *pid is the child's.
 */
static struct jt_conn *connect_as_nobody(pid_t *pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct jt_conn *c;
	int fd, st;

	ck_assert_uint_lt(strlen(jt_b.path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, jt_b.path, strlen(jt_b.path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	*pid = fork();
	ck_assert_int_ge(*pid, 0);
	if (*pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(126);
		_exit(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno);
	}
	ck_assert_int_eq(waitpid(*pid, &st, 0), *pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "connect as nobody: %s",
		      WIFEXITED(st) ? strerror(WEXITSTATUS(st)) : "killed");
	c = jt_connect(jt_b.path);
	ck_assert_int_ge(dup3(fd, c->fd, O_CLOEXEC), 0);
	close(fd);
	return c;
}

START_TEST(test_monitor_forbidden)
{
	struct jt_conn *w, *a, *x;
	char want[256];
	json_object *o;
	pid_t pid;

	/* root passes every check; as another user, there is no other uid to try */
	if (geteuid() != 0)
		return;
	jt_broker_start_args(&jt_b, JT_ARGV("-m", "0666"));
	/* nobody must reach the socket inside the test's directory */
	ck_assert_int_eq(chmod(jt_b.dir, 0711), 0);
	w = jt_client("w");
	jt_sub(w, "$SYS/client/connected");
	a = jt_client("a");
	json_object_put(jt_expect(w, "msg"));

	x = connect_as_nobody(&pid);
	jt_send(x, "{\"op\":\"hello\",\"proto\":1,\"name\":\"x\"}");
	json_object_put(jt_expect(x, "welcome"));
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"$SYS/client/connected\",\"from\":\"$SYS\",\"data\":"
		 "{\"name\":\"x\",\"pid\":%d,\"uid\":%d,\"gid\":%d}}",
		 (int)pid, NOBODY, NOBODY);
	jt_expect_line(w, want);

	jt_send(x, "{\"op\":\"monitor\",\"id\":1}");
	jt_expect_error_id(x, "forbidden", "1", NULL);
	jt_send(x, "{\"op\":\"monitor\"}");
	jt_expect_error_id(x, "forbidden", NULL, NULL);
	/* still connected, and no copies */
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1,\"id\":2}");
	jt_expect_line(a, "{\"op\":\"ok\",\"id\":2,\"delivered\":0}");
	jt_sync(x);
	jt_send(a, "{\"op\":\"clients\",\"id\":3}");
	o = jt_expect(a, "clients");
	expect_entry(entry(o, "x"), pid, NOBODY, 4, 4, false);
	json_object_put(o);
	/* the broker's own uid may */
	jt_send(a, "{\"op\":\"monitor\",\"id\":4}");
	jt_expect_ok(a, "4", -1);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("introspect");
	const struct jt_case cases[] = {
		{ "stats_fresh_broker", test_stats_fresh_broker },
		{ "stats_deltas", test_stats_deltas },
		{ "clients_entries", test_clients_entries },
		{ "monitor_copies", test_monitor_copies },
		{ "monitor_is_a_client", test_monitor_is_a_client },
	};
	/* each starts its broker with the options it is about */
	const struct jt_case own_broker[] = {
		{ "stats_connections_refused", test_stats_connections_refused },
		{ "monitor_forbidden", test_monitor_forbidden },
		{ "monitor_slow_consumer", test_monitor_slow_consumer },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, teardown, 30);
	jt_add_cases(s, own_broker, ARRAY_SIZE(own_broker), NULL, teardown, 30);
	return s;
}
