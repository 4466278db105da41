/*
 * Limits: 1,000 concurrent clients, --max-clients, the per-client queue
 * limit (slow subscribers and clients that never read their responses),
 * and the handshake deadline of clients that already said hello.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define NMANY 1000

static void expect_ok_id(struct jt_conn *c, int id)
{
	json_object *o = jt_expect(c, "ok");

	ck_assert_int_eq(jt_int(o, "id"), id);
	json_object_put(o);
}

/*
 * Reads a disconnected slow consumer to its end: frames whose op is `op`
 * carrying a counter (`key` under data for msg, the id for pong) that runs
 * 0, 1, 2, ... without a gap, optionally one slow_consumer error last (the
 * error is best effort), then EOF with no truncated frame. Returns how
 * many counted frames arrived.
 */
static int drain_slow(struct jt_conn *c, const char *op)
{
	bool got_error = false;
	char *line;
	int next = 0;

	while ((line = jt_line(c, JT_TIMEOUT_MS)) != NULL) {
		json_object *o = json_tokener_parse(line), *d;
		const char *got;

		ck_assert_msg(o != NULL, "invalid frame: %s", line);
		ck_assert_msg(!got_error, "frame after the slow_consumer error: %s", line);
		got = jt_str(o, "op");
		ck_assert_ptr_nonnull(got);
		if (strcmp(got, "error") == 0) {
			ck_assert_msg(strcmp(jt_str(o, "code"), "slow_consumer") == 0, "%s", line);
			got_error = true;
		} else {
			ck_assert_msg(strcmp(got, op) == 0, "unexpected frame: %s", line);
			if (strcmp(op, "msg") == 0) {
				ck_assert(json_object_object_get_ex(o, "data", &d));
				ck_assert_int_eq(jt_int(d, "n"), next);
			} else {
				ck_assert_int_eq(jt_int(o, "id"), next);
			}
			next++;
		}
		json_object_put(o);
		free(line);
	}
	jt_expect_eof_next(c);
	return next;
}

/*
 * The durable report of a slow consumer is the broker's log line (name,
 * pid, uid). The log is only in a file without JT_VERBOSE. The line is
 * written before the close, so after the client's EOF it is there.
 */
static void expect_slow_logged(const char *name)
{
	char want[64], pid[32];

	snprintf(want, sizeof(want), "client=%s ", name);
	snprintf(pid, sizeof(pid), "pid=%d ", (int)getpid());
	ck_assert_msg(jt_log_has(JT_ARGV("slow_consumer", want, pid)),
		      "no slow_consumer log line for %s in %s/jbusd.log", name, jt_b.dir);
}

/* A fresh client is served: the broker survived whatever came before. */
static void expect_broker_serves(const char *name)
{
	struct jt_conn *c = jt_client(name);

	jt_sync(c);
}

/* section: many clients */

START_TEST(test_limits_thousand_clients)
{
	struct jt_conn *c[NMANY], *pub;
	struct rlimit rl;
	char name[16];
	json_object *o;

	/* 1,000 sockets plus stdio and Check's own: lift the soft limit */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_msg(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= NMANY + 64,
		      "RLIMIT_NOFILE hard limit %llu is too low for %d clients",
		      (unsigned long long)rl.rlim_cur, NMANY);

	jt_broker_start_args(&jt_b, NULL);
	for (int i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		c[i] = jt_client(name);
	}
	/* all subscriptions in flight at once, then every ok */
	for (int i = 0; i < NMANY; i++)
		jt_send(c[i], "{\"op\":\"sub\",\"topic\":\"load/#\",\"id\":%d}", i);
	for (int i = 0; i < NMANY; i++)
		expect_ok_id(c[i], i);

	pub = jt_client("pub");
	jt_send(pub, "{\"op\":\"pub\",\"topic\":\"load/x/y\",\"data\":[1,\"two\"],\"id\":\"p\"}");
	o = jt_expect(pub, "ok");
	ck_assert_str_eq(jt_str(o, "id"), "p");
	ck_assert_int_eq(jt_int(o, "delivered"), NMANY);
	json_object_put(o);
	jt_sync(pub); /* not subscribed: nothing for the publisher itself */

	for (int i = 0; i < NMANY; i++) {
		json_object *d;
		o = jt_expect(c[i], "msg");
		ck_assert_str_eq(jt_str(o, "topic"), "load/x/y");
		ck_assert_str_eq(jt_str(o, "from"), "pub");
		ck_assert(json_object_object_get_ex(o, "data", &d));
		ck_assert_str_eq(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN),
				 "[1,\"two\"]");
		json_object_put(o);
	}
	/* exactly once: the frame after the msg is the pong, for everyone */
	for (int i = 0; i < NMANY; i++)
		jt_send(c[i], "{\"op\":\"ping\",\"id\":%d}", i);
	for (int i = 0; i < NMANY; i++) {
		o = jt_expect(c[i], "pong");
		ck_assert_int_eq(jt_int(o, "id"), i);
		json_object_put(o);
	}
}
END_TEST

/* section: --max-clients */

START_TEST(test_limits_max_clients)
{
	const char *args[] = { "--max-clients", "3", NULL };
	struct jt_conn *a, *b, *h, *d;

	jt_broker_start_args(&jt_b, args);
	a = jt_client("a");
	b = jt_client("b");
	/* mid-handshake, it still counts; accepted before d (FIFO backlog) */
	h = jt_connect(jt_b.path);
	d = jt_connect(jt_b.path);
	jt_expect_line(d, "{\"op\":\"error\",\"code\":\"limit_reached\",\"message\":"
			  "\"the broker has reached max_clients (3)\",\"limit\":\"max_clients\"}");
	jt_expect_eof_next(d);
	jt_sync(a);

	/* b leaves; once its EOF arrived the broker has dropped it */
	jt_send(b, "{\"op\":\"bye\"}");
	jt_expect_eof_next(b);
	jt_sync(a);
	d = jt_connect(jt_b.path);
	jt_send(d, "{\"op\":\"hello\",\"proto\":1,\"name\":\"e\"}");
	json_object_put(jt_expect(d, "welcome"));
	jt_sync(d);

	/* a, h and e: full again */
	d = jt_connect(jt_b.path);
	jt_expect_error_id(d, "limit_reached", NULL, NULL);
	jt_expect_eof_next(d);
	/* the one in the handshake was not disturbed by any of it */
	jt_send(h, "{\"op\":\"hello\",\"proto\":1,\"name\":\"h\"}");
	json_object_put(jt_expect(h, "welcome"));
	jt_sync(h);
}
END_TEST

/* section: slow consumers */

START_TEST(test_limits_slow_subscriber)
{
	enum { N = 20480, BATCH = 32, PAD = 1000 };
	const char *args[] = { "--queue-limit", "65536", NULL };
	struct jt_conn *s, *f, *p;
	char pad[PAD + 1], *buf;
	size_t cap = BATCH * (PAD + 128);
	bool dropped = false, drained = false;
	json_object *o, *d;

	jt_broker_start_args(&jt_b, args);
	s = jt_client("s");
	f = jt_client("f");
	p = jt_client("p");
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"t\",\"id\":1}");
	expect_ok_id(s, 1);
	jt_send(f, "{\"op\":\"sub\",\"topic\":\"t\",\"id\":1}");
	expect_ok_id(f, 1);

	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	/* ~20 MiB in lock step: P's oks and F's messages are read after every
	 * batch, so neither ever has more than a batch (32 KiB) queued, while
	 * S, which never reads, falls behind by its socket buffer plus 64 KiB */
	for (int i = 0; i < N; i += BATCH) {
		size_t len = 0;
		for (int k = i; k < i + BATCH; k++)
			len += (size_t)snprintf(buf + len, cap - len,
						"{\"op\":\"pub\",\"topic\":\"t\",\"id\":%d,"
						"\"data\":{\"n\":%d,\"pad\":\"%s\"}}\n",
						k, k, pad);
		ck_assert_uint_lt(len, cap);
		jt_send_raw(p, buf, len);
		for (int k = i; k < i + BATCH; k++) {
			int64_t n;
			o = jt_expect(p, "ok");
			ck_assert_int_eq(jt_int(o, "id"), k);
			n = jt_int(o, "delivered");
			/* 2 while S is subscribed, 1 from its disconnection on */
			ck_assert_msg(n == 1 || n == 2, "pub %d delivered %lld", k, (long long)n);
			ck_assert_msg(!(dropped && n == 2), "pub %d reached S after its drop", k);
			dropped = n == 1;
			json_object_put(o);
		}
		/* S reads from the moment it is dropped: what its socket holds,
		 * in order, then (within the 1 s bound) the close */
		if (dropped && !drained) {
			ck_assert_int_gt(drain_slow(s, "msg"), 0);
			drained = true;
		}
		for (int k = i; k < i + BATCH; k++) {
			o = jt_expect(f, "msg");
			ck_assert_str_eq(jt_str(o, "from"), "p");
			ck_assert(json_object_object_get_ex(o, "data", &d));
			ck_assert_int_eq(jt_int(d, "n"), k);
			json_object_put(o);
		}
	}
	free(buf);
	ck_assert_msg(dropped && drained, "the slow subscriber was never disconnected");
	expect_slow_logged("s");
	jt_sync(f);
	jt_sync(p);
	expect_broker_serves("new");
}
END_TEST

/*
 * A client that floods pings and never reads its pongs is a slow consumer
 * of its own responses; the others do not notice.
 */
START_TEST(test_limits_unread_responses)
{
	const char *args[] = { "--queue-limit", "65536", NULL };
	struct jt_conn *x, *y, *z;
	char chunk[8192];
	size_t len = 0, off = 0;
	int next = 0;
	int64_t deadline;
	json_object *o;

	jt_broker_start_args(&jt_b, args);
	x = jt_client("x");
	y = jt_client("y");
	z = jt_client("z");
	jt_send(y, "{\"op\":\"sub\",\"topic\":\"t\",\"id\":1}");
	expect_ok_id(y, 1);

	/* non-blocking: once the broker stops reading x, a blocking send would
	 * wait for the close instead of seeing it */
	ck_assert_int_eq(fcntl(x->fd, F_SETFL, fcntl(x->fd, F_GETFL) | O_NONBLOCK), 0);
	deadline = jt_now_ms() + 20000;
	for (;;) {
		struct pollfd pfd = { .fd = x->fd, .events = POLLOUT };
		int64_t left = deadline - jt_now_ms();
		ssize_t w;

		ck_assert_msg(left > 0, "x not disconnected after %d pings", next);
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (pfd.revents & (POLLHUP | POLLERR))
			break;
		if (off == len) {
			len = off = 0;
			while (len < sizeof(chunk) - 64)
				len += (size_t)snprintf(chunk + len, sizeof(chunk) - len,
							"{\"op\":\"ping\",\"id\":%d}\n", next++);
		}
		w = send(x->fd, chunk + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			break;
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		off += (size_t)w;
	}
	ck_assert_int_eq(fcntl(x->fd, F_SETFL, fcntl(x->fd, F_GETFL) & ~O_NONBLOCK), 0);
	ck_assert_int_gt(drain_slow(x, "pong"), 0);
	expect_slow_logged("x");

	/* the others were served throughout and still are */
	jt_sync(y);
	jt_send(z, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":\"still\",\"id\":2}");
	o = jt_expect(z, "ok");
	ck_assert_int_eq(jt_int(o, "delivered"), 1);
	json_object_put(o);
	o = jt_expect(y, "msg");
	ck_assert_str_eq(jt_str(o, "data"), "still");
	json_object_put(o);
	expect_broker_serves("new");
}
END_TEST

/* section: handshake deadline */

START_TEST(test_limits_handshake_timeout_after_hello)
{
	const char *args[] = { "--handshake-timeout", "0.2", NULL };
	struct jt_conn *a, *silent;

	jt_broker_start_args(&jt_b, args);
	a = jt_client("a");
	/* connected after a: its timeout proves a's deadline passed as well */
	silent = jt_connect(jt_b.path);
	jt_expect_error_id(silent, "timeout", NULL, NULL);
	jt_expect_eof_next(silent);
	/* the next frame for a is its pong: no timeout error, no close */
	jt_sync(a);
	jt_send(a, "{\"op\":\"sub\",\"topic\":\"t\",\"id\":1}");
	expect_ok_id(a, 1);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("limits");
	/* each test starts its broker with the limit it is about */
	const struct jt_case cases[] = {
		{ "max_clients", test_limits_max_clients },
		{ "handshake_timeout", test_limits_handshake_timeout_after_hello },
	};
	const struct jt_case heavy_cases[] = {
		{ "thousand_clients", test_limits_thousand_clients },
		{ "slow_subscriber", test_limits_slow_subscriber },
		{ "unread_responses", test_limits_unread_responses },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, jt_teardown, 30);
	jt_add_cases(s, heavy_cases, ARRAY_SIZE(heavy_cases), NULL, jt_teardown, 60);
	return s;
}
