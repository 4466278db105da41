/*
 * libjbus driven from the test's own poll() loop, and the promises behind
 * it: no call blocks (against a fake broker that accepts and never reads,
 * and against the real one frozen with SIGSTOP), writes are batched (the
 * fake's first read holds every queued frame), 100,000 small publishes
 * all arrive in order, the blocking helpers give up at their timeout, a
 * message that comes in the same read as the welcome waits for the
 * callbacks set after jbus_conn_new(), and a broker that refuses, closes
 * or talks nonsense is reported as such.
 *
 * "Promptly" is a bound of PROMPT_MS per call, far above what a call that
 * does not wait needs and far below the seconds a blocked one would take.
 * A test that freezes the broker waits for the stop with waitpid(WUNTRACED)
 * (jt_broker_freeze) and jt_broker_stop always sends SIGCONT, so a failure
 * cannot leave it stopped.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PROMPT_MS 1000
/* what the fake broker says to a hello */
#define WELCOME                                                                                    \
	"{\"op\":\"welcome\",\"proto\":1,\"name\":\"fake\",\"broker\":\"fake\",\"max_frame\":65536}"

/* section: fixture */

static struct {
	int lfd, afd;	   /* listening and accepted socket of the fake broker */
	pid_t pid;	   /* a scripted fake in an lt_fork helper, or 0 */
	char path[PATH_MAX];
} fk = { -1, -1, 0, "" };

static void teardown(void)
{
	if (fk.afd >= 0)
		close(fk.afd);
	if (fk.lfd >= 0)
		close(fk.lfd);
	fk.pid = 0;
	fk.afd = fk.lfd = -1;
	lt_teardown();
}

/* A fake broker: a socket in the test's directory that listens and does nothing else. */
static void setup_fake(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	jt_setup_dir();
	snprintf(fk.path, sizeof(fk.path), "%s/fake.sock", jt_b.dir);
	ck_assert_uint_lt(strlen(fk.path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, fk.path, strlen(fk.path) + 1);
	fk.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fk.lfd, 0);
	ck_assert_int_eq(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fk.lfd, 8), 0);
}

static void fake_accept(void)
{
	/* connect() already completed through the backlog: this does not wait */
	fk.afd = accept4(fk.lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fk.afd, 0);
}

/* section: the test's event loop */

struct counter {
	int n;
	int bad;	/* messages out of order or with the wrong sender */
	long first_bad; /* what the first bad one held */
	const char *from;
	bool connected;
};

/* Data is the message's sequence number, as text: check the order. */
static void count_seq(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct counter *k = userdata;
	const char *d = jbus_msg_data(m, NULL);
	long v = strtol(d[0] == '[' ? d + 1 : d, NULL, 10);

	if (v != k->n || (k->from && strcmp(jbus_msg_from(m), k->from) != 0)) {
		if (!k->bad++)
			k->first_bad = v;
	}
	k->n++;
}

static void note_state(jbus_conn *c, enum jbus_state st, void *userdata)
{
	struct counter *k = userdata;

	if (st == JBUS_STATE_CONNECTED)
		k->connected = true;
}

/*
 * One turn of an application's loop over n handles: poll each for what it
 * asks, for at most what the earliest timeout allows, then dispatch each.
 * Every dispatch must return promptly and without error.
 */
static void loop_turn(jbus_conn **cs, int n, int max_wait_ms)
{
	struct pollfd p[8];
	int t = max_wait_ms;

	ck_assert_int_le(n, 8);
	for (int i = 0; i < n; i++) {
		int lt = jbus_conn_get_timeout(cs[i]);

		p[i].fd = jbus_conn_get_fd(cs[i]);
		p[i].events = jbus_conn_get_events(cs[i]);
		p[i].revents = 0;
		if (lt >= 0 && lt < t)
			t = lt;
	}
	ck_assert_int_ge(poll(p, (nfds_t)n, t), 0);
	for (int i = 0; i < n; i++) {
		int64_t t0 = jt_now_ms();
		int r = jbus_conn_dispatch(cs[i]);

		ck_assert_msg(r >= 0, "dispatch: %s", jbus_error_name(r));
		ck_assert_int_lt(jt_now_ms() - t0, PROMPT_MS);
	}
}

/* section: embedded mode against the real broker */

/* jbus_conn_open does not wait: frames queued before the welcome follow the hello. */
START_TEST(test_loop_open_async)
{
	struct counter k = { 0 }, w = { 0 };
	jbus_conn *cs[2];
	int64_t t0, deadline;
	jbus_conn *c;

	cs[1] = lt_new("watch");
	ck_assert_int_eq(jbus_subscribe_sync(cs[1], "a/#", count_seq, &w, JT_TIMEOUT_MS), 0);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_open(&c, jt_b.path, "async"), 0);
	ck_assert_int_lt(jt_now_ms() - t0, PROMPT_MS);
	lt_track(c);
	cs[0] = c;
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_CONNECTING);
	ck_assert_ptr_null(jbus_conn_name(c));
	ck_assert_uint_eq(jbus_conn_max_frame(c), 0);
	ck_assert(jbus_conn_get_events(c) & POLLOUT); /* the hello waits to be written */
	ck_assert_int_eq(jbus_conn_get_timeout(c), -1);
	jbus_conn_on_state(c, note_state, &k);
	ck_assert_int_eq(jbus_subscribe(c, "a/#", count_seq, &k), 0);
	ck_assert_int_eq(jbus_publish_text(c, "a/0", "0", -1), 0);
	ck_assert_int_eq(jbus_publish_text(c, "a/1", "1", -1), 0);
	deadline = jt_now_ms() + JT_TIMEOUT_MS;
	while (!k.connected || k.n < 2 || w.n < 2) {
		ck_assert_msg(jt_now_ms() < deadline, "connected %d, got %d and %d", k.connected,
			      k.n, w.n);
		loop_turn(cs, 2, 100);
	}
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_CONNECTED);
	ck_assert_str_eq(jbus_conn_name(c), "async");
	ck_assert_uint_eq(jbus_conn_max_frame(c), 1048576);
	ck_assert_int_eq(k.bad + w.bad, 0);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN);
}
END_TEST

/* The broker is frozen: publishing far more than the socket takes, and
 * dispatching, still return at once; POLLOUT is asked for while output waits. */
START_TEST(test_loop_frozen_broker)
{
	enum { N = 4096 };
	struct counter k = { .from = "pub" };
	jbus_conn *cs[2] = { lt_new("pub"), lt_new("sub") };
	char data[1024];
	int64_t t0, worst = 0, deadline;

	ck_assert_int_eq(jbus_subscribe_sync(cs[1], "big", count_seq, &k, JT_TIMEOUT_MS), 0);
	jt_broker_freeze(&jt_b);
	memset(data, 'x', sizeof(data) - 1);
	data[sizeof(data) - 1] = '\0';
	for (int i = 0; i < N; i++) {
		char text[1100];

		snprintf(text, sizeof(text), "[%d,\"%.1000s\"]", i, data);
		t0 = jt_now_ms();
		ck_assert_int_eq(jbus_publish_text(cs[0], "big", text, -1), 0);
		if (jt_now_ms() - t0 > worst)
			worst = jt_now_ms() - t0;
	}
	ck_assert_int_lt(worst, PROMPT_MS);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_dispatch(cs[0]), 0);
	ck_assert_int_lt(jt_now_ms() - t0, PROMPT_MS);
	/* 4 MB cannot all be in the socket: the rest waits, and the library says so */
	ck_assert(jbus_conn_get_events(cs[0]) & POLLOUT);
	ck_assert_int_eq(jbus_conn_get_events(cs[0]) & ~POLLOUT, POLLIN);
	jt_broker_thaw(&jt_b);
	deadline = jt_now_ms() + 4 * JT_TIMEOUT_MS;
	while (k.n < N || (jbus_conn_get_events(cs[0]) & POLLOUT)) {
		ck_assert_msg(jt_now_ms() < deadline, "%d of %d delivered", k.n, N);
		loop_turn(cs, 2, 100);
	}
	ck_assert_msg(k.bad == 0, "%d out of order, first %ld", k.bad, k.first_bad);
	ck_assert_uint_eq(jbus_conn_dropped(cs[0]), 0);
}
END_TEST

/* 100,000 small publishes, one flush: every message arrives, in order. */
START_TEST(test_loop_batch_100k)
{
	enum { N = 100000 };
	struct counter k = { .from = "p" };
	jbus_conn *p = lt_new("p"), *s = lt_new("s");
	int64_t deadline;
	char text[16];

	ck_assert_int_eq(jbus_subscribe_sync(s, "b", count_seq, &k, JT_TIMEOUT_MS), 0);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "%d", i);
		ck_assert_int_eq(jbus_publish_text(p, "b", text, -1), 0);
	}
	ck_assert_int_eq(jbus_conn_flush(p, 6 * JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_conn_get_events(p), POLLIN);
	deadline = jt_now_ms() + 6 * JT_TIMEOUT_MS;
	while (k.n < N) {
		int64_t left = deadline - jt_now_ms();

		ck_assert_msg(left > 0, "%d of %d delivered", k.n, N);
		ck_assert_int_ge(jbus_conn_wait(s, (int)left), 0);
	}
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(k.n, N);
	ck_assert_msg(k.bad == 0, "%d out of order, first %ld", k.bad, k.first_bad);
	ck_assert_uint_eq(jbus_conn_dropped(p), 0);
}
END_TEST

/* section: blocking helpers give up at their timeout */

/* elapsed within [timeout, timeout + PROMPT_MS) */
#define ck_assert_took(t0, timeout)                                                                \
	do {                                                                                       \
		int64_t took_ = jt_now_ms() - (t0);                                                \
		ck_assert_msg(took_ >= (timeout) && took_ < (timeout) + PROMPT_MS,                 \
			      "took %lld ms for a %d ms timeout", (long long)took_, (timeout));    \
	} while (0)

static void never(jbus_conn *c, const jbus_msg *m, void *userdata)
{
}

START_TEST(test_loop_timeouts)
{
	jbus_conn *c = lt_new("t");
	unsigned long long d;
	char data[1100];
	int64_t t0;

	jt_broker_freeze(&jt_b);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_ping(c, 200), -ETIMEDOUT);
	ck_assert_took(t0, 200);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_ping(c, 0), -ETIMEDOUT);
	ck_assert_took(t0, 0);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_publish_sync(c, "x", NULL, 150, &d), -ETIMEDOUT);
	ck_assert_took(t0, 150);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_publish_text_sync(c, "x", "1", -1, 150, &d), -ETIMEDOUT);
	ck_assert_took(t0, 150);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_send_sync(c, "t", NULL, 150), -ETIMEDOUT);
	ck_assert_took(t0, 150);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_subscribe_sync(c, "y", never, NULL, 150), -ETIMEDOUT);
	ck_assert_took(t0, 150);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_wait(c, 150), 0); /* nothing came */
	ck_assert_took(t0, 150);
	/* more output than the socket holds: flush cannot finish */
	memset(data, 'x', sizeof(data));
	memcpy(data, "\"", 1);
	memcpy(data + 1000, "\"", 2);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(jbus_publish_text(c, "x", data, -1), 0);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_flush(c, 150), -ETIMEDOUT);
	ck_assert_took(t0, 150);
	ck_assert_str_eq(jbus_error_name(-ETIMEDOUT), "ETIMEDOUT");

	/* the late answers to the calls that gave up are ignored; new calls work */
	jt_broker_thaw(&jt_b);
	ck_assert_int_eq(jbus_conn_flush(c, 4 * JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_publish_sync(c, "x", NULL, JT_TIMEOUT_MS, &d), 0);
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_CONNECTED);
}
END_TEST

/* jbus_conn_new waits 5 s for the welcome, not longer. */
START_TEST(test_loop_connect_timeout)
{
	jbus_conn *c;
	int64_t t0;

	jt_broker_freeze(&jt_b);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, "late"), -ETIMEDOUT);
	ck_assert_took(t0, 5000);
}
END_TEST

/* section: against a fake broker */

/* The fake accepts and never reads: nothing the application calls may block. */
START_TEST(test_loop_never_blocks)
{
	enum { N = 16384 };
	char data[1100];
	int64_t t0, worst = 0;
	jbus_conn *c;

	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_open(&c, fk.path, "nb"), 0);
	ck_assert_int_lt(jt_now_ms() - t0, PROMPT_MS);
	lt_track(c);
	fake_accept();
	ck_assert(jbus_conn_get_events(c) & POLLOUT);
	memset(data, 'x', sizeof(data));
	memcpy(data, "\"", 1);
	memcpy(data + 1000, "\"", 2);
	/* 16 MB: far more than any socket buffer */
	for (int i = 0; i < N; i++) {
		t0 = jt_now_ms();
		ck_assert_int_eq(jbus_publish_text(c, "t", data, -1), 0);
		if (jt_now_ms() - t0 > worst)
			worst = jt_now_ms() - t0;
	}
	ck_assert_int_lt(worst, PROMPT_MS);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_dispatch(c), 0);
	ck_assert_int_eq(jbus_conn_dispatch(c), 0);
	ck_assert_int_lt(jt_now_ms() - t0, PROMPT_MS);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN | POLLOUT);
	ck_assert_int_eq(jbus_conn_get_timeout(c), -1);
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_CONNECTING);
	/* the blocking helpers keep to their timeouts */
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_flush(c, 100), -ETIMEDOUT);
	ck_assert_took(t0, 100);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_ping(c, 100), -ETIMEDOUT);
	ck_assert_took(t0, 100);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_wait(c, 100), 0);
	ck_assert_took(t0, 100);
	/* close gives up on its flush and frees the handle all the same */
	lt_untrack(c);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_conn_close(c, 100), -ETIMEDOUT);
	ck_assert_took(t0, 100);
}
END_TEST

/* Many frames, one write: the fake's first read holds the hello and every publish. */
START_TEST(test_loop_batched_writes)
{
	enum { N = 1000 };
	char *buf = malloc(1 << 20), want[64], *p, *nl;
	struct pollfd pfd;
	jbus_conn *c;
	ssize_t n;
	int lines = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(jbus_conn_open(&c, fk.path, "batch"), 0);
	lt_track(c);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			snprintf(want, sizeof(want), "%d", i);
			ck_assert_int_eq(jbus_publish_text(c, "b", want, -1), 0);
		}
		/* nothing is written before the loop gives the library a turn */
		if (round == 0) {
			fake_accept();
			pfd = (struct pollfd){ .fd = fk.afd, .events = POLLIN };
			ck_assert_int_eq(poll(&pfd, 1, 0), 0);
		}
		ck_assert_int_eq(jbus_conn_dispatch(c), 0);
		ck_assert_int_eq(jbus_conn_get_events(c), POLLIN); /* all written */
		pfd = (struct pollfd){ .fd = fk.afd, .events = POLLIN };
		ck_assert_int_eq(poll(&pfd, 1, JT_TIMEOUT_MS), 1);
		n = recv(fk.afd, buf, (1 << 20) - 1, MSG_DONTWAIT);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		p = buf;
		lines = 0;
		if (round == 0) {
			nl = strchr(p, '\n');
			ck_assert_ptr_nonnull(nl);
			*nl = '\0';
			ck_assert_str_eq(p, "{\"op\":\"hello\",\"proto\":1,\"name\":\"batch\"}");
			p = nl + 1;
		}
		for (; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
			*nl = '\0';
			snprintf(want, sizeof(want),
				 "{\"op\":\"pub\",\"topic\":\"b\",\"data\":%d}", lines);
			ck_assert_str_eq(p, want);
		}
		ck_assert_str_eq(p, "");
		ck_assert_int_eq(lines, N);
	}
	free(buf);
}
END_TEST

/*
 * A scripted fake broker in a child process, for the blocking calls: each
 * step "<text" reads until a line containing text arrived, ">line" writes
 * line plus '\n' in one write (so "a\nb" puts two frames in the library's
 * next read); after the last step it closes the connection and exits.
 */
static void fake_main(void *arg)
{
	const char *const *steps = arg;
	char buf[65536];
	size_t len = 0;
	int fd = accept(fk.lfd, NULL, NULL);

	if (fd < 0)
		_exit(1);
	for (; *steps; steps++) {
		const char *s = *steps + 1;
		if (**steps == '>') {
			char out[4096];
			int n = snprintf(out, sizeof(out), "%s\n", s);

			if (n < 0 || (size_t)n >= sizeof(out) || write(fd, out, (size_t)n) != n)
				_exit(1);
			continue;
		}
		for (;;) {
			char *nl;
			ssize_t n;

			buf[len] = '\0';
			if ((nl = strchr(buf, '\n'))) {
				*nl = '\0';
				bool hit = strstr(buf, s) != NULL;
				len -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, len);
				if (hit)
					break;
				continue;
			}
			n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				_exit(1);
			len += (size_t)n;
		}
	}
	close(fd);
}

/* The script runs in a helper process (lt_fork: killed at teardown, after 20 s at the latest). */
static void fake_script(const char *const *steps)
{
	fk.pid = lt_fork(fake_main, (void *)steps);
}

/* The child ran its whole script (it exits 0 only then). */
static void fake_done(void)
{
	int st = lt_reap(fk.pid);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fake status %d", st);
	fk.pid = 0;
}

START_TEST(test_loop_handshake_refused)
{
	static const struct {
		const char *code;
		int want;
	} cases[] = {
		{ "unsupported_proto", JBUS_E_HANDSHAKE },
		{ "handshake_required", JBUS_E_HANDSHAKE },
		{ "bad_name", JBUS_E_BAD_NAME },
		{ "name_taken", JBUS_E_NAME_TAKEN },
		{ "limit_reached", JBUS_E_LIMIT },
	};
	char frame[200];
	const char *steps[] = { "<\"op\":\"hello\"", frame, NULL };
	jbus_conn *c;

	snprintf(frame, sizeof(frame), ">{\"op\":\"error\",\"code\":\"%s\",\"message\":\"no\"}",
		 cases[_i].code);
	fake_script(steps);
	ck_assert_int_eq(jbus_conn_new(&c, fk.path, "me"), cases[_i].want);
	fake_done();
}
END_TEST

/* The broker refuses before reading the hello: the library's write fails, the refusal counts. */
START_TEST(test_loop_refused_before_hello)
{
	const char *steps[] = {
		">{\"op\":\"error\",\"code\":\"limit_reached\",\"message\":\"full\"}", NULL
	};
	jbus_conn *c;

	fake_script(steps);
	ck_assert_int_eq(jbus_conn_new(&c, fk.path, "me"), JBUS_E_LIMIT);
	fake_done();
}
END_TEST

/* Closed after the hello without a word: JBUS_E_CLOSED. */
START_TEST(test_loop_closed_before_welcome)
{
	const char *steps[] = { "<\"op\":\"hello\"", NULL };
	jbus_conn *c;

	fake_script(steps);
	ck_assert_int_eq(jbus_conn_new(&c, fk.path, NULL), JBUS_E_CLOSED);
	fake_done();
}
END_TEST

/*
 * The welcome and a message to the new name in one read: jbus_conn_new()
 * returns at the welcome and keeps the message, get_timeout() says to
 * dispatch at once, and that dispatch gives it to the callback set after
 * jbus_conn_new() returned.
 */
START_TEST(test_loop_welcome_batch)
{
	const char *steps[] = {
		"<\"op\":\"hello\"",
		">" WELCOME "\n{\"op\":\"msg\",\"from\":\"early\",\"to\":\"fake\",\"data\":0}",
		"<\"op\":\"bye\"",
		NULL,
	};
	struct counter k = { .from = "early" };
	jbus_conn *c;

	fake_script(steps);
	ck_assert_int_eq(jbus_conn_new(&c, fk.path, "me"), 0);
	lt_track(c);
	jbus_conn_on_message(c, count_seq, &k);
	ck_assert_int_eq(jbus_conn_get_timeout(c), 0);
	ck_assert_int_eq(k.n, 0);
	ck_assert_int_eq(jbus_conn_dispatch(c), 1);
	ck_assert_int_eq(k.n, 1);
	ck_assert_int_eq(k.bad, 0);
	ck_assert_int_eq(jbus_conn_get_timeout(c), -1);
	lt_untrack(c);
	ck_assert_int_eq(jbus_conn_close(c, JT_TIMEOUT_MS), 0);
	fake_done();
}
END_TEST

/* Lost while a synchronous call waits: it fails with JBUS_E_CLOSED at once. */
START_TEST(test_loop_sync_call_lost)
{
	const char *steps[] = { "<\"op\":\"hello\"", ">" WELCOME, "<\"op\":\"ping\"", NULL };
	jbus_conn *c;
	int64_t t0;

	fake_script(steps);
	ck_assert_int_eq(jbus_conn_new(&c, fk.path, "me"), 0);
	lt_track(c);
	ck_assert_str_eq(jbus_conn_name(c), "fake");
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_ping(c, 4 * JT_TIMEOUT_MS), JBUS_E_CLOSED);
	ck_assert_int_lt(jt_now_ms() - t0, PROMPT_MS + JT_TIMEOUT_MS);
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_DISCONNECTED);
	ck_assert_int_eq(jbus_conn_get_fd(c), -1);
	ck_assert_int_eq(jbus_conn_get_events(c), 0);
	ck_assert_int_eq(jbus_publish(c, "t", NULL), -ENOTCONN);
	ck_assert_int_eq(jbus_conn_dispatch(c), -ENOTCONN);
	fake_done();
}
END_TEST

/* A broker that sends something outside protocol v1 ends the connection: JBUS_E_PROTOCOL. */
START_TEST(test_loop_protocol_error)
{
	const char *steps[] = { "<\"op\":\"hello\"", ">" WELCOME, "<\"op\":\"ping\"",
				">this is not json", "<never", NULL };
	jbus_conn *c;

	fake_script(steps);
	ck_assert_int_eq(jbus_conn_new(&c, fk.path, NULL), 0);
	lt_track(c);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), JBUS_E_PROTOCOL);
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_DISCONNECTED);
	/* the fake reads on until the library closed its end */
	jbus_conn_free(c);
	lt_untrack(c);
	{
		struct jt_broker b = { .pid = fk.pid };
		int st = jt_broker_wait(&b, JT_TIMEOUT_MS);

		ck_assert_msg(st != -1 && WIFEXITED(st), "fake still running");
		fk.pid = 0;
	}
}
END_TEST

/* section: keepalive */

/* Turns of c's loop until raw (silent) gets the broker's idle timeout error. */
static void pump_until_idle_out(jbus_conn *c, struct jt_conn *raw)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	char *line;

	while (!(line = jt_line(raw, 0))) {
		ck_assert_msg(!raw->eof && jt_now_ms() < deadline, "no idle timeout for a raw client");
		loop_turn(&c, 1, 20);
	}
	ck_assert_msg(strstr(line, "\"code\":\"timeout\""), "raw client got %s", line);
	free(line);
}

/*
 * Under --idle-timeout the welcome tells the library, which pings when it has sent nothing for
 * a third of it: a handle that only runs its loop outlives two silent raw clients that time
 * out one after the other (two timeouts' worth of silence from the application).
 */
START_TEST(test_loop_keepalive)
{
	jbus_conn *c;

	jt_broker_start_args(&jt_b, JT_ARGV("--idle-timeout", "0.6"));
	c = lt_new("ka");
	ck_assert_int_ge(jbus_conn_get_timeout(c), 0);
	ck_assert_int_le(jbus_conn_get_timeout(c), 200);
	pump_until_idle_out(c, jt_client("r1"));
	pump_until_idle_out(c, jt_client("r2"));
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_CONNECTED);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jt_stat(jt_client("obs"), "idle_timeouts"), 2);
}
END_TEST

/* Without an idle timeout a connected handle has no timer: it sleeps until the socket wakes it. */
START_TEST(test_loop_no_keepalive)
{
	jbus_conn *c = lt_new("nk");

	ck_assert_int_eq(jbus_conn_get_timeout(c), -1);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case real[] = {
		{ "open_async", test_loop_open_async },
		{ "frozen_broker", test_loop_frozen_broker },
		{ "batch_100k", test_loop_batch_100k },
		{ "timeouts", test_loop_timeouts },
		{ "connect_timeout", test_loop_connect_timeout },
		{ "no_keepalive", test_loop_no_keepalive },
	};
	const struct jt_case fake[] = {
		{ "never_blocks", test_loop_never_blocks },
		{ "batched_writes", test_loop_batched_writes },
		{ "handshake_refused", test_loop_handshake_refused, 5 },
		{ "refused_before_hello", test_loop_refused_before_hello },
		{ "closed_before_welcome", test_loop_closed_before_welcome },
		{ "welcome_batch", test_loop_welcome_batch },
		{ "sync_call_lost", test_loop_sync_call_lost },
		{ "protocol_error", test_loop_protocol_error },
	};
	Suite *s = suite_create("lib_loop");

	jt_add_cases(s, real, ARRAY_SIZE(real), jt_setup, teardown, 60);
	jt_add_cases(s, fake, ARRAY_SIZE(fake), setup_fake, teardown, 60);
	/* starts its own broker */
	tcase_add_test(jt_tcase(s, "keepalive", NULL, teardown, 60), test_loop_keepalive);
	return s;
}
