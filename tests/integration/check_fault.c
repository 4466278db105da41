/*
 * Fault tests: clients SIGKILLed in every
 * state (connected, half a hello, half a frame, a full output queue,
 * pending requests on either side), a client that stops reading, 10,000
 * connect/disconnect cycles with no growth in the broker's memory or file
 * descriptors, running out of file descriptors, and the broker restarted
 * under a subscriber that reconnects by itself.
 *
 * Each test ends by proving the broker is fine: a new client is served,
 * the counters in stats add up, and jt_broker_stop sees exit status 0 (a
 * sanitizer report in the broker would make that fail). The tests wait on
 * frames, on the broker's counters and on waitpid, never on a clock of
 * their own; the set times are the broker's: a req's deadline (over which
 * the out-of-fds test watches the broker's CPU time) and the 1 s a slow
 * consumer has before its connection is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

/* What jt_stat sends each time: the broker counts it in bytes_in. */
#define STATS_FRAME_LEN (sizeof("{\"op\":\"stats\",\"id\":\"st\"}\n") - 1)

/*
 * A missed close would still end a handshake at its timeout and count as a
 * handshake failure; a long timeout keeps that from passing for the close.
 */
static void setup_long_handshake(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--handshake-timeout", "60"));
}

static void setup_queue_64k(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "65536"));
}

static void setup_queue_16k(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "16384"));
}

/* section: helpers */

/* Ask obs for stats until key reaches want (a round trip each time). */
static void wait_stat(struct jt_conn *obs, const char *key, int64_t want)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS, v;

	while ((v = jt_stat(obs, key)) != want)
		ck_assert_msg(jt_now_ms() < deadline, "stats %s is %lld, not %lld within %d ms",
			      key, (long long)v, (long long)want, JT_TIMEOUT_MS);
}

/*
 * Wait until the broker has read exactly more bytes from clients other than obs since
 * base, the bytes_in that obs's jt_stat returned (nothing but obs's stats may run meanwhile).
 */
static void wait_bytes_in(struct jt_conn *obs, int64_t base, int64_t more)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS, got;

	for (int64_t asks = 1;; asks++) {
		got = jt_stat(obs, "bytes_in") - base - asks * (int64_t)STATS_FRAME_LEN;
		if (got >= more)
			break;
		ck_assert_msg(jt_now_ms() < deadline, "the broker read %lld of %lld bytes",
			      (long long)got, (long long)more);
	}
	ck_assert_int_eq(got, more);
}

/* SIGKILL the holder; it must have been alive until then (not closed by the broker). */
static void kill_holder(void)
{
	int st = jt_holder_kill();

	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "holder status %d", st);
}

/* The next frame on obs (subscribed to $SYS/client/disconnected) is name's disconnection. */
static void expect_gone(struct jt_conn *obs, const char *name, const char *reason)
{
	json_object *o = jt_expect(obs, "msg"), *d;

	ck_assert_str_eq(jt_str(o, "topic"), "$SYS/client/disconnected");
	ck_assert(json_object_object_get_ex(o, "data", &d));
	ck_assert_str_eq(jt_str(d, "name"), name);
	ck_assert_str_eq(jt_str(d, "reason"), reason);
	json_object_put(o);
}

/*
 * The broker survived whatever came before: a new client subscribes and gets what obs (not
 * subscribed to fine/t) publishes; clients (obs and the ones the test kept, plus the new one)
 * and requests_pending are what they must be; then it stops with exit status 0.
 */
static void expect_broker_fine(struct jt_conn *obs, int64_t clients)
{
	struct jt_conn *n = jt_client("fine");

	jt_sub(n, "fine/t");
	jt_send(obs, "{\"op\":\"pub\",\"topic\":\"fine/t\",\"data\":[1,2],\"id\":\"fine\"}");
	jt_expect_ok(obs, "\"fine\"", 1);
	jt_expect_msg(n, "fine/t", obs->name, "[1,2]");
	ck_assert_int_eq(jt_stat(n, "clients"), clients + 1);
	ck_assert_int_eq(jt_stat(n, "requests_pending"), 0);
	jt_broker_stop(&jt_b);
}

/* The output queue of client name as the broker reports it (clients op on c). */
static int64_t queued_bytes(struct jt_conn *c, const char *name)
{
	json_object *o, *list;
	int64_t q = -1;

	jt_send(c, "{\"op\":\"clients\",\"id\":\"q\"}");
	o = jt_expect(c, "clients");
	ck_assert(json_object_object_get_ex(o, "clients", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);

		if (strcmp(jt_str(e, "name"), name) == 0)
			q = jt_int(e, "queued_bytes");
	}
	json_object_put(o);
	ck_assert_msg(q >= 0, "no client %s", name);
	return q;
}

/* Publish {"n":k,"pad":pad} on topic from p, id k; returns the ok's delivered. */
static int64_t pub_numbered(struct jt_conn *p, const char *topic, int k, const char *pad)
{
	json_object *o;
	int64_t n;

	jt_send(p, "{\"op\":\"pub\",\"topic\":\"%s\",\"id\":%d,\"data\":{\"n\":%d,\"pad\":\"%s\"}}",
		topic, k, k, pad);
	o = jt_expect(p, "ok");
	ck_assert_int_eq(jt_int(o, "id"), k);
	n = jt_int(o, "delivered");
	json_object_put(o);
	return n;
}

/* The next frame on c is p's numbered message k; returns its length on the wire. */
static size_t expect_numbered(struct jt_conn *c, int k)
{
	char *raw;
	json_object *o = jt_frame_raw(c, &raw), *d;
	size_t len = strlen(raw) + 1;

	ck_assert_msg(jt_str(o, "op") && strcmp(jt_str(o, "op"), "msg") == 0, "not a msg: %s",
		      jt_show(raw, strlen(raw)));
	ck_assert(json_object_object_get_ex(o, "data", &d));
	ck_assert_int_eq(jt_int(d, "n"), k);
	json_object_put(o);
	free(raw);
	return len;
}

/* section: killed during the handshake */

/* Connected, nothing sent: the broker sees the close as a failed handshake, nothing else. */
START_TEST(test_fault_kill_connected)
{
	struct jt_conn *obs = jt_client("obs");

	jt_holder_start_raw(NULL, 0, -1);
	/* accepted: it is the broker's client in the handshake now */
	wait_stat(obs, "connections", 2);
	kill_holder();
	wait_stat(obs, "handshake_failures", 1);
	ck_assert_int_eq(jt_stat(obs, "connections"), 2);
	ck_assert_int_eq(jt_stat(obs, "errors_sent"), 0);
	expect_broker_fine(obs, 1);
}
END_TEST

/* Half a hello read by the broker, then the sender dies: its partial line goes with it. */
START_TEST(test_fault_kill_half_hello)
{
	static const char half[] = "{\"op\":\"hello\",\"proto\":1,\"name\":\"vic";
	struct jt_conn *obs = jt_client("obs"), *c;
	int64_t base = jt_stat(obs, "bytes_in");

	jt_holder_start_raw(half, sizeof(half) - 1, -1);
	wait_bytes_in(obs, base, sizeof(half) - 1);
	kill_holder();
	wait_stat(obs, "handshake_failures", 1);
	ck_assert_int_eq(jt_stat(obs, "clients"), 1);
	/* its partial hello named nobody: the name it was about to ask for is free */
	c = jt_client("victim");
	jt_sync(c);
	jt_close(c);
	expect_broker_fine(obs, 1);
}
END_TEST

/* section: killed mid-frame */

/*
 * After its welcome, the victim sends the first part of a pub and dies: the broker read the
 * part (small: kept from its shared read buffer; 100 KB: its own input buffer, grown over
 * several reads) and must drop it, never route it.
 */
START_TEST(test_fault_kill_mid_frame)
{
	static const size_t sizes[] = { 10, 100000 };
	static const char head[] = "{\"op\":\"hello\",\"proto\":1,\"name\":\"v\"}\n"
				   "{\"op\":\"pub\",\"topic\":\"t\",\"data\":\"";
	struct jt_conn *obs = jt_client("obs");
	size_t n = sizeof(head) - 1 + sizes[_i];
	char *bytes = malloc(n);
	int64_t base;

	ck_assert_ptr_nonnull(bytes);
	memcpy(bytes, head, sizeof(head) - 1);
	memset(bytes + sizeof(head) - 1, 'x', sizes[_i]);
	jt_sub(obs, "t");
	jt_sub(obs, "$SYS/client/disconnected");
	base = jt_stat(obs, "bytes_in");
	jt_holder_start_raw(bytes, n, -1);
	jt_holder_lines(1); /* its welcome */
	wait_bytes_in(obs, base, (int64_t)n);
	kill_holder();
	/* the first frame obs gets: no msg on t came before the disconnection */
	expect_gone(obs, "v", "closed");
	jt_sync(obs);
	ck_assert_int_eq(jt_stat(obs, "msgs_routed"), 0);
	ck_assert_int_eq(jt_stat(obs, "clients"), 1);
	ck_assert_int_eq(jt_stat(obs, "errors_sent"), 0);
	free(bytes);
	expect_broker_fine(obs, 1);
}
END_TEST

/* section: killed with a full output queue */

/*
 * v subscribes and stops reading while p publishes 1 KB messages one at a time: first v's
 * socket buffer fills, then its queue in the broker, until the next message would not fit
 * (one more would make it a slow consumer). Then v dies. f, the other subscriber, got every
 * message; v was never counted as a slow consumer.
 */
START_TEST(test_fault_kill_full_queue)
{
	enum { LIMIT = 65536, PAD = 1000, MAX_PUBS = 5000 };
	static const char vhello[] = "{\"op\":\"hello\",\"proto\":1,\"name\":\"v\"}\n"
				     "{\"op\":\"sub\",\"topic\":\"flood\",\"id\":1}\n";
	struct jt_conn *obs = jt_client("obs"), *f = jt_client("f"), *p = jt_client("p");
	char pad[PAD + 1];
	int64_t queued = 0;
	size_t flen = 0;
	int k;

	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	jt_sub(obs, "$SYS/client/disconnected");
	jt_sub(f, "flood");
	jt_holder_start_raw(vhello, sizeof(vhello) - 1, 2);
	jt_holder_lines(2); /* welcome and ok: subscribed, and it reads nothing more */
	for (k = 0; queued + (int64_t)flen <= LIMIT; k++) {
		ck_assert_msg(k < MAX_PUBS, "v's queue holds only %lld bytes after %d messages",
			      (long long)queued, k);
		ck_assert_int_eq(pub_numbered(p, "flood", k, pad), 2);
		flen = expect_numbered(f, k);
		queued = queued_bytes(p, "v");
	}
	ck_assert_int_gt(queued, LIMIT / 2);
	kill_holder();
	expect_gone(obs, "v", "closed");
	jt_sync(f);
	ck_assert_int_eq(jt_stat(obs, "slow_consumer_disconnects"), 0);
	ck_assert_int_eq(jt_stat(obs, "msgs_routed"), k);
	/* two per message, and the disconnection event for obs */
	ck_assert_int_eq(jt_stat(obs, "deliveries"), 2 * k + 1);
	ck_assert_int_eq(jt_stat(obs, "subscriptions"), 2);
	expect_broker_fine(obs, 3);
}
END_TEST

/* section: killed with pending requests */

/*
 * v asked svc something and dies before the answer: its request is forgotten; svc's late
 * reply is dropped without a word to svc, and counted.
 */
START_TEST(test_fault_kill_requester)
{
	static const char vbytes[] = "{\"op\":\"hello\",\"proto\":1,\"name\":\"v\"}\n"
				     "{\"op\":\"req\",\"to\":\"svc\",\"id\":7,\"data\":\"q\"}\n";
	struct jt_conn *obs = jt_client("obs"), *svc = jt_client("svc");

	jt_sub(obs, "$SYS/client/disconnected");
	jt_holder_start_raw(vbytes, sizeof(vbytes) - 1, -1);
	jt_holder_lines(1);
	/* the target got it with the broker's id: pending now */
	jt_expect_line(svc, "{\"op\":\"req\",\"from\":\"v\",\"id\":1,\"data\":\"q\"}");
	ck_assert_int_eq(jt_stat(obs, "requests_pending"), 1);
	kill_holder();
	expect_gone(obs, "v", "closed");
	ck_assert_int_eq(jt_stat(obs, "requests_pending"), 0);
	jt_send(svc, "{\"op\":\"reply\",\"id\":1,\"data\":\"late\"}");
	jt_sync(svc); /* no error before the pong */
	ck_assert_int_eq(jt_stat(obs, "replies_dropped"), 1);
	expect_broker_fine(obs, 2);
}
END_TEST

/*
 * The service dies with requests of three requesters pending: each requester gets no_reply
 * with its own id (as it sent it), as docs/protocol.md says, and nothing stays pending.
 */
START_TEST(test_fault_kill_service)
{
	struct jt_conn *r1 = jt_client("r1"), *r2 = jt_client("r2"), *r3 = jt_client("r3");

	jt_holder_start("{\"op\":\"hello\",\"proto\":1,\"name\":\"svc\"}");
	jt_send(r1, "{\"op\":\"req\",\"to\":\"svc\",\"id\":7,\"data\":1,\"timeout_ms\":600000}");
	jt_send(r2, "{\"op\":\"req\",\"to\":\"svc\",\"id\":\"x\"}");
	jt_send(r3, "{\"op\":\"req\",\"to\":\"svc\",\"id\":1.50,\"data\":[]}");
	jt_holder_lines(3); /* the service has all three and answers none */
	ck_assert_int_eq(jt_stat(r1, "requests_pending"), 3);
	kill_holder();
	jt_expect_error_id(r1, "no_reply", "7", NULL);
	jt_expect_error_id(r2, "no_reply", "\"x\"", NULL);
	jt_expect_error_id(r3, "no_reply", "1.50", NULL);
	ck_assert_int_eq(jt_stat(r1, "requests_pending"), 0);
	ck_assert_int_eq(jt_stat(r1, "requests_timed_out"), 0);
	/* the name is free again */
	jt_close(jt_client("svc"));
	jt_close(r2);
	expect_broker_fine(r1, 2);
}
END_TEST

/* section: a client that stops reading */

/*
 * v subscribes to t and stops reading, alive and connected; p publishes 1 KB messages to t in
 * lock step with s1 and s2, which read every one. v's socket buffer and then its 16 KiB queue
 * fill up and the broker drops it as a slow consumer; s1 and s2 miss nothing, before or after,
 * and the counters say so.
 */
START_TEST(test_fault_stop_reading)
{
	enum { PAD = 1000, MAX_PUBS = 5000, AFTER = 100 };
	static const char vhello[] = "{\"op\":\"hello\",\"proto\":1,\"name\":\"v\"}\n"
				     "{\"op\":\"sub\",\"topic\":\"t\",\"id\":1}\n";
	struct jt_conn *obs = jt_client("obs"), *s1 = jt_client("s1"), *s2 = jt_client("s2");
	struct jt_conn *p = jt_client("p");
	int64_t delivered = 0;
	int k, dropped_at = -1;
	char pad[PAD + 1];

	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	jt_sub(obs, "$SYS/client/disconnected");
	jt_sub(s1, "t");
	jt_sub(s2, "t");
	jt_holder_start_raw(vhello, sizeof(vhello) - 1, 2);
	jt_holder_lines(2);
	for (k = 0; dropped_at < 0 || k < dropped_at + AFTER; k++) {
		int64_t n;

		ck_assert_msg(k < MAX_PUBS, "v still subscribed after %d messages", k);
		n = pub_numbered(p, "t", k, pad);
		/* 3 while v is there, 2 from the message that found its queue full on */
		if (dropped_at < 0 && n == 2)
			dropped_at = k;
		ck_assert_msg(n == (dropped_at < 0 ? 3 : 2), "message %d delivered to %lld", k,
			      (long long)n);
		delivered += n;
		expect_numbered(s1, k);
		expect_numbered(s2, k);
	}
	expect_gone(obs, "v", "slow_consumer");
	jt_sync(s1);
	jt_sync(s2);
	ck_assert_int_eq(jt_stat(obs, "slow_consumer_disconnects"), 1);
	ck_assert_int_eq(jt_stat(obs, "msgs_routed"), k);
	/* v's messages that were queued count as delivered too: the counters agree */
	ck_assert_int_eq(jt_stat(obs, "deliveries"), delivered + 1);
	ck_assert_int_eq(jt_stat(obs, "clients"), 4);
	/* v's subscription goes when its connection does: 1 s after the drop at most */
	wait_stat(obs, "subscriptions", 3);
	expect_broker_fine(obs, 4);
	/* v itself never noticed: it was alive (reading nothing) until now */
	kill_holder();
}
END_TEST

/* section: connect/disconnect cycles */

/*
 * The helpers of the cycles check with jt_require, not ck_assert: Check's bookkeeping of every
 * passing assertion would cost more than the cycles themselves.
 */

/* Connected socket to the broker (plain, blocking; closed by the caller). */
static int raw_connect(void)
{
	static struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (!sa.sun_path[0] || strcmp(sa.sun_path, jt_b.path) != 0)
		jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", jt_b.path);
	jt_require(fd >= 0, "socket: %s", strerror(errno));
	jt_require(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s",
		   strerror(errno));
	return fd;
}

static void raw_write(int fd, const char *s)
{
	size_t n = strlen(s);

	jt_require(send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n, "send: %s", strerror(errno));
}

/* Everything the broker sends on fd until it closes it (a deadline), into buf. */
static void read_to_eof(int fd, char *buf, size_t cap)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - jt_now_ms();
		ssize_t n;

		jt_require(left > 0 && poll(&p, 1, (int)left) == 1, "no close within %d ms after '%s'",
			   JT_TIMEOUT_MS, jt_show(buf, len));
		n = read(fd, buf + len, cap - 1 - len);
		jt_require(n >= 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		jt_require(len < cap - 1, "more than %zu bytes before the close", cap);
	}
	buf[len] = '\0';
}

/* The welcome, and nothing after it, is what fd has to read (within the deadline). */
static void read_welcome(int fd)
{
	char line[512];
	size_t len = 0;

	while (len == 0 || line[len - 1] != '\n') {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		jt_require(poll(&p, 1, JT_TIMEOUT_MS) == 1, "no welcome");
		n = read(fd, line + len, sizeof(line) - 1 - len);
		jt_require(n > 0, "no welcome: %s", n < 0 ? strerror(errno) : "EOF");
		len += (size_t)n;
		jt_require(len < sizeof(line) - 1, "welcome too long");
	}
	line[len] = '\0';
	jt_require(strncmp(line, "{\"op\":\"welcome\"", 15) == 0 &&
			   strchr(line, '\n') == line + len - 1,
		   "not just a welcome: %s", line);
}

enum cycle { CYCLE_BYE, CYCLE_SESSION, CYCLE_CLOSE, CYCLE_CLOSE_ACTIVE, CYCLE_HALF, CYCLE_N };

/*
 * One connection's life, of five kinds in turn, so that every path a connection can end by
 * is taken: hello and bye; a session (name, subscription, publish to itself, bye); connect
 * and close; hello and close after the welcome; half a hello and close. The first two wait
 * for the broker's close, the others do not wait at all.
 */
static void cycle(int i)
{
	char buf[1024], want[1024];
	int fd = raw_connect();

	switch ((enum cycle)(i % CYCLE_N)) {
	case CYCLE_BYE:
		raw_write(fd, "{\"op\":\"hello\",\"proto\":1}\n{\"op\":\"bye\"}\n");
		read_to_eof(fd, buf, sizeof(buf));
		jt_require(strncmp(buf, "{\"op\":\"welcome\"", 15) == 0 &&
				   strchr(buf, '\n') == buf + strlen(buf) - 1,
			   "hello/bye got: %s", buf);
		break;
	case CYCLE_SESSION:
		raw_write(fd, "{\"op\":\"hello\",\"proto\":1,\"name\":\"cyc\"}\n"
			      "{\"op\":\"sub\",\"topic\":\"cyc/#\",\"id\":1}\n");
		snprintf(want, sizeof(want),
			 "{\"op\":\"pub\",\"topic\":\"cyc/x\",\"data\":%d,\"id\":2}\n{\"op\":\"bye\"}\n", i);
		raw_write(fd, want);
		read_to_eof(fd, buf, sizeof(buf));
		snprintf(want, sizeof(want),
			 "{\"op\":\"ok\",\"id\":1}\n"
			 "{\"op\":\"msg\",\"topic\":\"cyc/x\",\"from\":\"cyc\",\"data\":%d}\n"
			 "{\"op\":\"ok\",\"id\":2,\"delivered\":1}\n",
			 i);
		jt_require(strchr(buf, '\n') && strcmp(strchr(buf, '\n') + 1, want) == 0,
			   "session got: %s", buf);
		break;
	case CYCLE_CLOSE:
		break;
	case CYCLE_CLOSE_ACTIVE:
		/* a client past its handshake: the broker's close path, not the handshake's */
		raw_write(fd, "{\"op\":\"hello\",\"proto\":1}\n");
		read_welcome(fd);
		break;
	case CYCLE_HALF:
		raw_write(fd, "{\"op\":\"hello\",\"pro");
		break;
	case CYCLE_N:
		break;
	}
	close(fd);
}

/*
 * After cycles [0, n): the broker has handled every one of them, to the last close (the
 * counters say so), and the turn that freed them is over (a ping in a later turn).
 */
static void quiesce(struct jt_conn *obs, int n)
{
	int hf = 0;

	for (int i = 0; i < n; i++)
		hf += i % CYCLE_N == CYCLE_CLOSE || i % CYCLE_N == CYCLE_HALF;
	wait_stat(obs, "connections", 1 + n);
	wait_stat(obs, "handshake_failures", hf);
	wait_stat(obs, "clients", 1);
	jt_sync(obs);
}

/*
 * 1,000 cycles of warm-up (the allocator's caches, the tables' sizes), then a baseline of the
 * broker's open fds and VmRSS, then 10,000 more cycles: exactly the same fds, and RSS within
 * 512 KiB (it does not move at all today). Under ASan freed memory sits in a quarantine
 * (256 MB) before reuse, which looks like growth (64 MB over these cycles): the broker of this
 * test gets a 1 MB one (ASAN_OPTIONS), and the bound is twice as loose for the sanitizer's
 * own allocator.
 */
START_TEST(test_fault_connect_cycles)
{
	enum { WARMUP = 1000, CYCLES = 10000 };
#if defined(__SANITIZE_ADDRESS__)
	const long max_growth_kib = 1024;
#else
	const long max_growth_kib = 512;
#endif
	struct jt_conn *obs;
	long rss0, rss1;
	int fds0, fds1;

#if defined(__SANITIZE_ADDRESS__)
	{
		const char *env = getenv("ASAN_OPTIONS");
		char *old = env ? strdup(env) : NULL, opts[1024];

		jt_fmt(opts, sizeof(opts), "%s%squarantine_size_mb=1", old ? old : "",
		       old && *old ? ":" : "");
		ck_assert_int_eq(setenv("ASAN_OPTIONS", opts, 1), 0);
		jt_broker_start_args(&jt_b, NULL);
		/* only this broker: with CK_FORK=no later tests run in this process */
		ck_assert_int_eq(old ? setenv("ASAN_OPTIONS", old, 1) : unsetenv("ASAN_OPTIONS"), 0);
		free(old);
	}
#else
	jt_broker_start_args(&jt_b, NULL);
#endif
	obs = jt_client("obs");
	for (int i = 0; i < WARMUP; i++)
		cycle(i);
	quiesce(obs, WARMUP);
	fds0 = jt_pid_fds(jt_b.pid, NULL, 0);
	rss0 = jt_pid_rss_kib(jt_b.pid);
	for (int i = WARMUP; i < WARMUP + CYCLES; i++)
		cycle(i);
	quiesce(obs, WARMUP + CYCLES);
	fds1 = jt_pid_fds(jt_b.pid, NULL, 0);
	rss1 = jt_pid_rss_kib(jt_b.pid);
	if (getenv("JT_VERBOSE"))
		fprintf(stderr, "connect_cycles: fds %d -> %d, VmRSS %ld -> %ld KiB\n", fds0, fds1,
			rss0, rss1);
	ck_assert_msg(fds1 == fds0, "the broker had %d fds after the warm-up, %d after %d cycles",
		      fds0, fds1, CYCLES);
	/* under valgrind ($JT_WRAP) memcheck keeps 20 MB of freed blocks before reuse, which
	 * looks like growth: there its leak check is the judge of memory, not VmRSS */
	if (!getenv("JT_WRAP") || !*getenv("JT_WRAP"))
		ck_assert_msg(rss1 - rss0 < max_growth_kib,
			      "VmRSS grew by %ld KiB over %d cycles (%ld -> %ld KiB)", rss1 - rss0,
			      CYCLES, rss0, rss1);
	ck_assert_int_eq(jt_stat(obs, "errors_sent"), 0);
	ck_assert_int_eq(jt_stat(obs, "subscriptions"), 0);
	expect_broker_fine(obs, 1);
}
END_TEST

/* section: out of file descriptors */

/*
 * Connect and hello; the first frame back, the welcome or the refusal (then EOF), its op in
 * op; "" if none came within the deadline.
 */
static struct jt_conn *try_hello(char *op, size_t cap)
{
	static const char hello[] = "{\"op\":\"hello\",\"proto\":1}\n";
	struct jt_conn *c = jt_connect(jt_b.path);
	char *line;
	json_object *o;

	/* a refused connection may be closed before the hello is out */
	jt_send_until_closed(c, hello, sizeof(hello) - 1);
	line = jt_line(c, JT_TIMEOUT_MS);
	op[0] = '\0';
	if (!line)
		return c;
	o = jt_parse(line);
	jt_fmt(op, cap, "%s", jt_str(o, "op") ? jt_str(o, "op") : "?");
	if (strcmp(op, "error") == 0) {
		ck_assert_msg(strcmp(jt_str(o, "code"), "limit_reached") == 0 &&
				      jt_str(o, "limit") && strcmp(jt_str(o, "limit"), "open_files") == 0,
			      "refused: %s", line);
		jt_expect_eof_next(c);
	} else {
		ck_assert_msg(strcmp(op, "welcome") == 0, "hello answered with %s", line);
	}
	json_object_put(o);
	free(line);
	return c;
}

/*
 * A new client gets its welcome, retried (each try a round trip) until the deadline; the
 * refusals meanwhile are added to *refused.
 */
static struct jt_conn *hello_eventually(int *refused)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	char op[16];

	for (;;) {
		struct jt_conn *c = try_hello(op, sizeof(op));

		ck_assert_msg(op[0], "no answer to a hello within %d ms", JT_TIMEOUT_MS);
		if (strcmp(op, "welcome") == 0)
			return c;
		jt_close(c);
		++*refused;
		ck_assert_msg(jt_now_ms() < deadline, "still refused after %d ms", JT_TIMEOUT_MS);
	}
}

/*
 * a's request to svc runs into its deadline of ms, which the broker's timer enforces; a pings
 * meanwhile. Returns the broker's CPU time over it, the wall time in *elapsed.
 */
static int64_t cpu_over_deadline(struct jt_conn *a, struct jt_conn *svc, int ms,
				 int64_t *elapsed)
{
	int64_t t0 = jt_now_ms(), cpu0 = jt_pid_cpu_ms(jt_b.pid);

	jt_send(a, "{\"op\":\"req\",\"to\":\"svc\",\"id\":\"w\",\"timeout_ms\":%d}", ms);
	json_object_put(jt_expect(svc, "req"));
	for (int i = 0; i < 5; i++)
		jt_sync(a);
	jt_expect_error_id(a, "timeout", "\"w\"", NULL);
	*elapsed = jt_now_ms() - t0;
	return jt_pid_cpu_ms(jt_b.pid) - cpu0;
}

/* Over a deadline of the broker's own, it used at most a quarter of the time in CPU. */
static void expect_no_spin(struct jt_conn *a, struct jt_conn *svc, const char *state)
{
	int64_t elapsed, cpu = cpu_over_deadline(a, svc, 500, &elapsed);

	ck_assert_msg(cpu * 4 < elapsed, "the %s broker used %lld ms of CPU in %lld ms", state,
		      (long long)cpu, (long long)elapsed);
}

static void expect_logged(const char *what)
{
	/* true with JT_VERBOSE: the log went to the terminal */
	ck_assert_msg(jt_log_has(JT_ARGV(what)), "no '%s' in the log of %s", what, jt_b.dir);
}

/*
 * Below even the reserve fd: RLIMIT_NOFILE of the running broker lowered (prlimit) to the
 * lower of its reserve fd (the /dev/null it opened, close-on-exec; inherited ones are not)
 * and its first free fd number, so that not even freeing the reserve lets it accept. It must
 * pause accepting rather than wake up for the pending connection over and over: over a req's
 * 500 ms deadline (the broker's own timer) it uses a fraction of that in CPU, while it serves
 * its clients. The client that connected meanwhile is neither served nor refused; once the
 * limit is back it is served, and so are new ones.
 */
START_TEST(test_fault_out_of_fds_pause)
{
	enum { MAX_FDS = 256 };
	struct jt_conn *a = jt_client("a"), *svc = jt_client("svc"), *late;
	int fds[MAX_FDS], nfds, reserve = -1, low = 0;
	struct rlimit old;

	nfds = jt_pid_fds(jt_b.pid, fds, MAX_FDS);
	ck_assert_int_lt(nfds, MAX_FDS);
	for (int i = 0; i < nfds; i++) {
		int fl = jt_pid_fd_flags(jt_b.pid, fds[i]);

		if (fl >= 0 && (fl & O_CLOEXEC) &&
		    strcmp(jt_pid_fd_target(jt_b.pid, fds[i]), "/dev/null") == 0)
			reserve = fds[i];
	}
	ck_assert_msg(reserve >= 0, "the broker has no reserve fd");
	while (low < nfds && fds[low] == low)
		low++;
	old = jt_pid_set_nofile(jt_b.pid, (rlim_t)(low < reserve ? low : reserve));

	late = jt_connect(jt_b.path);
	jt_send(late, "{\"op\":\"hello\",\"proto\":1,\"name\":\"late\"}");
	expect_no_spin(a, svc, "paused");
	/* neither served nor refused: still in the backlog */
	ck_assert_ptr_null(jt_line(late, 0));
	ck_assert(!late->eof);
	ck_assert_int_eq(jt_stat(a, "connections_refused"), 0);
	ck_assert_int_eq(jt_stat(a, "connections"), 2);
	expect_logged("out of file descriptors");

	/* descriptors again: the waiting client is served, then new ones */
	jt_pid_set_nofile(jt_b.pid, old.rlim_cur);
	json_object_put(jt_expect(late, "welcome"));
	jt_sync(late);
	jt_sync(jt_client("after"));
	ck_assert_int_eq(jt_stat(a, "connections_refused"), 0);
	expect_broker_fine(a, 4);
}
END_TEST

/*
 * A full fd table: accept4() fails with EMFILE even when no connection is pending (the
 * kernel allocates the fd before it looks at the queue), so the broker must go back to its
 * loop once the retry on the reserve fd finds nothing, not spin on the listener.
 *
 * The test: RLIMIT_NOFILE of the running broker is lowered to its open fds plus 8. Exactly as
 * many new clients as there are free fd numbers below the limit must be served, the next
 * ones refused with limit_reached (accepted on the reserve fd), without spinning; once two
 * clients leave, new ones are served again.
 */
START_TEST(test_fault_out_of_fds_refuse)
{
	enum { EXTRA = 8, MAX_FDS = 256, MAX_KEPT = 64 };
	struct jt_conn *a = jt_client("a"), *svc = jt_client("svc"), *kept[MAX_KEPT], *c;
	int fds[MAX_FDS], nfds, nfree = 0, nkept = 0, refused = 0;
	rlim_t limit;
	char op[16];

	nfds = jt_pid_fds(jt_b.pid, fds, MAX_FDS);
	ck_assert_int_lt(nfds, MAX_FDS);
	limit = (rlim_t)nfds + EXTRA;
	for (int fd = 0, i = 0; fd < (int)limit; fd++) {
		bool used = i < nfds && fds[i] == fd;

		i += used;
		nfree += !used;
	}
	/* EXTRA, plus the numbers below it of fds it closed or never had (fds it inherited
	 * above the limit count in nfds) */
	ck_assert_int_ge(nfree, EXTRA);
	ck_assert_int_le(nfree, MAX_KEPT);
	jt_pid_set_nofile(jt_b.pid, limit);

	/* fill every free number, then refusals */
	for (;;) {
		int64_t cpu0 = jt_pid_cpu_ms(jt_b.pid), t0 = jt_now_ms();

		c = try_hello(op, sizeof(op));
		ck_assert_msg(op[0], "client %d of %d free fds: no answer in %lld ms, while the broker "
				     "used %lld ms of CPU (spinning in on_accept?)",
			      nkept + 1, nfree, (long long)(jt_now_ms() - t0),
			      (long long)(jt_pid_cpu_ms(jt_b.pid) - cpu0));
		if (strcmp(op, "error") == 0)
			break;
		ck_assert_msg(nkept < nfree, "%d clients served with %d free fds", nkept + 1, nfree);
		kept[nkept++] = c;
	}
	jt_close(c);
	refused++;
	ck_assert_int_eq(nkept, nfree);
	expect_no_spin(a, svc, "full");
	for (int i = 0; i < 3; i++, refused++) {
		jt_close(try_hello(op, sizeof(op)));
		ck_assert_str_eq(op, "error");
	}
	ck_assert_int_eq(jt_stat(a, "connections_refused"), refused);
	expect_logged("out of file descriptors");
	/* two leave: two new clients are served (once the broker has seen them go) */
	jt_close(kept[--nkept]);
	jt_close(kept[--nkept]);
	kept[nkept++] = hello_eventually(&refused);
	kept[nkept++] = hello_eventually(&refused);
	for (int i = 0; i < nkept; i++)
		jt_sync(kept[i]);
	ck_assert_int_eq(jt_stat(a, "connections_refused"), refused);
	/* the table is full again: free one number for expect_broker_fine's client, and wait
	 * (each try a round trip) until the broker has seen it go */
	jt_close(kept[--nkept]);
	for (int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS; jt_stat(a, "clients") != 2 + nkept;)
		ck_assert_msg(jt_now_ms() < deadline, "a closed client still counted");
	expect_broker_fine(a, 2 + nkept);
}
END_TEST

/* section: broker restart under a reconnecting subscriber */

/* examples/<name> as built: $JBUS_EXAMPLES, else next to $JBUSD, else build/examples. */
static const char *example(const char *name)
{
	static char path[PATH_MAX];
	const char *d = getenv("JBUS_EXAMPLES"), *jbusd = getenv("JBUSD"), *slash;

	if (d && *d)
		jt_fmt(path, sizeof(path), "%s/%s", d, name);
	else if (jbusd && (slash = strrchr(jbusd, '/')))
		jt_fmt(path, sizeof(path), "%.*s/examples/%s", (int)(slash - jbusd), jbusd, name);
	else
		jt_fmt(path, sizeof(path), "build/examples/%s", name);
	ck_assert_msg(access(path, X_OK) == 0, "%s: %s (make examples)", path, strerror(errno));
	return path;
}

/* Lines of p's stderr until one starts with prefix. */
static void expect_err_line(struct jt_proc *p, const char *prefix)
{
	const char *l;

	while ((l = jt_proc_line(p, &p->err)) != NULL)
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return;
	ck_abort_msg("%s ended its stderr without '%s'", p->name, prefix);
}

/*
 * examples/poll_subscriber -r (libjbus with automatic reconnect) subscribed to r/#; the broker
 * stops (SIGTERM: clean, socket removed; SIGKILL: stale socket left) and starts again on the
 * same path. Once a sync message reaches the subscriber it is back, with its name and
 * subscription; then every one of N messages arrives, in order. The subscriber is the same
 * process throughout.
 */
START_TEST(test_fault_restart_reconnect)
{
	enum { N = 1000 };
	const int sig = _i == 0 ? SIGTERM : SIGKILL;
	struct jt_proc *s;
	struct jt_conn *p;
	char want[64];
	int st;

	s = jt_proc_start(JT_ARGV(example("poll_subscriber"), "-s", jt_b.path, "-n", "rsub", "-r",
				  "r/#"),
			  NULL, NULL, 0);
	expect_err_line(s, "poll_subscriber: connected as rsub");
	jt_sync_pub("r/sync");
	jt_proc_expect_line(s, "r/sync syncer \"sync\"");

	ck_assert_int_eq(kill(jt_b.pid, sig), 0);
	if (sig == SIGTERM) {
		jt_broker_expect_exit(&jt_b);
	} else {
		st = jt_broker_wait(&jt_b, JT_TIMEOUT_MS);
		ck_assert_msg(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %d",
			      st);
	}
	expect_err_line(s, "poll_subscriber: disconnected");
	jt_broker_start_at(&jt_b, jt_b.path, NULL);
	expect_err_line(s, "poll_subscriber: connected as rsub");
	/* its subscription is back once a message reaches it */
	jt_sync_pub("r/sync");
	jt_proc_expect_line(s, "r/sync syncer \"sync\"");

	p = jt_client("pub");
	for (int k = 0; k < N; k++)
		jt_send(p, "{\"op\":\"pub\",\"topic\":\"r/n\",\"data\":%d,\"id\":%d}", k, k);
	for (int k = 0; k < N; k++) {
		jt_fmt(want, sizeof(want), "%d", k);
		jt_expect_ok(p, want, 1);
	}
	for (int k = 0; k < N; k++) {
		jt_fmt(want, sizeof(want), "r/n pub %d", k);
		jt_proc_expect_line(s, want);
	}
	/* the end of its stdin ends it cleanly, with nothing more printed */
	ck_assert_int_eq(jt_proc_wait(s), 0);
	ck_assert_str_eq(jt_proc_rest(&s->out), "");
	ck_assert_int_eq(jt_stat(p, "slow_consumer_disconnects"), 0);
	wait_stat(p, "clients", 1); /* the subscriber said bye */
	expect_broker_fine(p, 1);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("fault");
	const struct jt_case handshake_cases[] = {
		{ "kill_connected", test_fault_kill_connected },
		{ "kill_half_hello", test_fault_kill_half_hello },
	};
	const struct jt_case plain_cases[] = {
		{ "kill_mid_frame", test_fault_kill_mid_frame, 2 },
		{ "kill_requester", test_fault_kill_requester },
		{ "kill_service", test_fault_kill_service },
		{ "out_of_fds_pause", test_fault_out_of_fds_pause },
		{ "restart_reconnect", test_fault_restart_reconnect, 2 },
	};

	jt_add_cases(s, handshake_cases, ARRAY_SIZE(handshake_cases), setup_long_handshake,
		     jt_teardown, 30);
	jt_add_cases(s, plain_cases, ARRAY_SIZE(plain_cases), jt_setup, jt_teardown, 60);
	tcase_add_test(jt_tcase(s, "kill_full_queue", setup_queue_64k, jt_teardown, 60),
		       test_fault_kill_full_queue);
	tcase_add_test(jt_tcase(s, "stop_reading", setup_queue_16k, jt_teardown, 60),
		       test_fault_stop_reading);
	tcase_add_test(jt_tcase(s, "out_of_fds_refuse", jt_setup, jt_teardown, 60),
			       test_fault_out_of_fds_refuse);
	/* starts its own broker: under ASan with its own ASAN_OPTIONS */
	tcase_add_test(jt_tcase(s, "connect_cycles", NULL, jt_teardown, 120),
		       test_fault_connect_cycles);
	return s;
}
