/*
 * Helpers (lt_*) for the libjbus suites (tests/client/check_lib_*.c):
 * library handles and forked helper processes in fixture-owned tables, so
 * that a failed assertion (a longjmp with CK_FORK=no) leaves them to
 * lt_teardown(); a client in a helper process, for what needs another
 * process (a blocking call's server, a client killed with SIGKILL); a
 * loop that dispatches every handle of the test until a condition holds,
 * with a deadline; a broker restart seen through a reconnecting handle;
 * a recorder of the messages a callback receives; and the broker's stats
 * through the library. Header only:
 * tests/lib is linked into suites without libjbus, so these cannot live
 * there.
 */
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jbus.h>

#include "jt.h"

#define LT_MAX 16

static jbus_conn *lt_conns[LT_MAX];
static pid_t lt_pids[4];
static int lt_pipe = -1;     /* the test's end of the pipe of lt_child_start's helper */
static int lt_child_fd = -1; /* in that helper: its end */

static inline void lt_track(jbus_conn *c)
{
	for (size_t i = 0; i < LT_MAX; i++) {
		if (!lt_conns[i]) {
			lt_conns[i] = c;
			return;
		}
	}
	ck_abort_msg("too many library connections in one test");
}

/* The handle was closed or freed by the test itself. */
static inline void lt_untrack(jbus_conn *c)
{
	for (size_t i = 0; i < LT_MAX; i++)
		if (lt_conns[i] == c)
			lt_conns[i] = NULL;
}

static inline jbus_conn *lt_new_at(const char *path, const char *name)
{
	jbus_conn *c = NULL;
	int r = jbus_conn_new(&c, path, name);

	ck_assert_msg(r == 0, "jbus_conn_new(%s, %s): %s", path ? path : "NULL",
		      name ? name : "NULL", jbus_error_name(r));
	lt_track(c);
	return c;
}

/* A handle on the fixture's broker. */
static inline jbus_conn *lt_new(const char *name)
{
	return lt_new_at(jt_b.path, name);
}

static inline int lt_close(jbus_conn *c)
{
	lt_untrack(c);
	return jbus_conn_close(c, JT_TIMEOUT_MS);
}

static inline void lt_free(jbus_conn *c)
{
	lt_untrack(c);
	jbus_conn_free(c);
}

/*
 * Run fn(arg) in a child process (killed with the test, and after 20 s at
 * the latest); it exits 0 when fn returns. The child must only _exit.
 */
static inline pid_t lt_fork(void (*fn)(void *), void *arg)
{
	size_t i;
	pid_t pid;

	for (i = 0; i < sizeof(lt_pids) / sizeof(lt_pids[0]) && lt_pids[i]; i++)
		;
	ck_assert_msg(i < sizeof(lt_pids) / sizeof(lt_pids[0]), "too many helper processes");
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		fn(arg);
		_exit(0);
	}
	lt_pids[i] = pid;
	return pid;
}

/* Wait (5 s at most) for the helper to end; returns its wait status. */
static inline int lt_reap(pid_t pid)
{
	struct jt_broker b = { .pid = pid };
	int st = jt_broker_wait(&b, JT_TIMEOUT_MS);

	ck_assert_msg(st != -1, "helper process %d did not end", (int)pid);
	for (size_t i = 0; i < sizeof(lt_pids) / sizeof(lt_pids[0]); i++)
		if (lt_pids[i] == pid)
			lt_pids[i] = 0;
	return st;
}

static inline void lt_teardown(void)
{
	if (lt_pipe >= 0)
		close(lt_pipe);
	lt_pipe = -1;
	for (size_t i = 0; i < LT_MAX; i++)
		lt_conns[i] = jbus_conn_free(lt_conns[i]);
	for (size_t i = 0; i < sizeof(lt_pids) / sizeof(lt_pids[0]); i++) {
		if (lt_pids[i] > 0) {
			kill(lt_pids[i], SIGKILL);
			waitpid(lt_pids[i], NULL, 0);
		}
		lt_pids[i] = 0;
	}
	jt_teardown();
}

/* section: a client in a helper process */

struct lt_child {
	const char *name;
	jbus_msg_fn on_request; /* NULL: none */
	void *ud;
	const char *will_topic, *will_json; /* NULL: no will */
};

/* In the helper: one byte to the test. */
static inline void lt_child_say(char b)
{
	if (write(lt_child_fd, &b, 1) != 1)
		_exit(2);
}

static inline void lt_child_main(void *arg)
{
	const struct lt_child *ch = arg;
	jbus_conn *c;
	int r = ch->will_topic ? jbus_conn_new_will(&c, jt_b.path, ch->name, ch->will_topic,
						    ch->will_json, -1, 0)
			       : jbus_conn_new(&c, jt_b.path, ch->name);

	if (r < 0)
		_exit(1);
	if (ch->on_request)
		jbus_conn_on_request(c, ch->on_request, ch->ud);
	lt_child_say('r');
	while (jbus_conn_wait(c, -1) >= 0)
		;
	_exit(0);
}

/* The next byte from the helper is want. */
static inline void lt_child_expect(char want)
{
	struct pollfd p = { .fd = lt_pipe, .events = POLLIN };
	char got = 0;

	ck_assert_msg(poll(&p, 1, JT_TIMEOUT_MS) == 1, "helper process silent");
	ck_assert_int_eq(read(lt_pipe, &got, 1), 1);
	ck_assert_int_eq(got, want);
}

/* A helper process connected as ch->name (one per test); returns once it is connected. */
static inline pid_t lt_child_start(const struct lt_child *ch)
{
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(lt_pipe, -1);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	lt_pipe = fds[0];
	lt_child_fd = fds[1];
	pid = lt_fork(lt_child_main, (void *)ch);
	close(fds[1]);
	lt_child_fd = -1;
	lt_child_expect('r');
	return pid;
}

/*
 * Dispatch every tracked handle until done(ud) holds; fails the test after
 * JT_TIMEOUT_MS, or when a handle's dispatch fails. A handle waiting to
 * reconnect is dispatched when its retry is due.
 */
static inline void lt_pump(bool (*done)(void *), void *ud)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	while (!done(ud)) {
		struct pollfd p[LT_MAX];
		jbus_conn *cs[LT_MAX];
		size_t n = 0;
		nfds_t np = 0;
		int64_t left = deadline - jt_now_ms();

		ck_assert_msg(left > 0, "condition not reached within %d ms", JT_TIMEOUT_MS);
		for (size_t i = 0; i < LT_MAX; i++) {
			jbus_conn *c = lt_conns[i];
			int t = c ? jbus_conn_get_timeout(c) : -1;

			if (!c || (jbus_conn_get_fd(c) < 0 && t < 0))
				continue; /* closed for good: the test's own doing */
			cs[n++] = c;
			/* frames that came with a welcome wait in the library: t is 0 then */
			if (t >= 0 && t < left)
				left = t;
			if (jbus_conn_get_fd(c) >= 0) {
				p[np].fd = jbus_conn_get_fd(c);
				p[np].events = jbus_conn_get_events(c);
				np++;
			}
		}
		poll(p, np, (int)left);
		for (size_t i = 0; i < n; i++) {
			int r = jbus_conn_dispatch(cs[i]);
			ck_assert_msg(r >= 0, "dispatch: %s", jbus_error_name(r));
		}
	}
}

/* Wait on c alone (jbus_conn_wait) until *n, which its callbacks count, reaches want. */
static inline void lt_wait_count(jbus_conn *c, const int *n, int want)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	while (*n < want) {
		int64_t left = deadline - jt_now_ms();
		int r;

		ck_assert_msg(left > 0, "%d of %d callbacks within %d ms", *n, want, JT_TIMEOUT_MS);
		r = jbus_conn_wait(c, (int)left);
		ck_assert_msg(r >= 0, "jbus_conn_wait: %s", jbus_error_name(r));
	}
}

static inline bool lt_disconnected(void *c)
{
	return jbus_conn_state(c) == JBUS_STATE_DISCONNECTED;
}

static inline bool lt_connected(void *c)
{
	return jbus_conn_state(c) == JBUS_STATE_CONNECTED;
}

/*
 * Stop the broker (SIGTERM, clean exit), see c notice, start it again on
 * the same socket with args, and wait until c (reconnect on) is back.
 */
static inline void lt_restart(jbus_conn *c, const char *const *args)
{
	jbus_conn_set_reconnect(c, true);
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	jt_broker_expect_exit(&jt_b);
	lt_pump(lt_disconnected, c);
	jt_broker_start_at(&jt_b, jt_b.path, args);
	lt_pump(lt_connected, c);
}

/* section: stats */

/* The broker's stats frame through jbus_stats, parsed (caller puts). */
static inline json_object *lt_stats(jbus_conn *c)
{
	char *frame = NULL;
	json_object *o;

	ck_assert_int_eq(jbus_stats(c, JT_TIMEOUT_MS, &frame), 0);
	o = jt_parse(frame);
	free(frame);
	return o;
}

/* One counter of the broker's stats. */
static inline int64_t lt_stat(jbus_conn *c, const char *field)
{
	json_object *o = lt_stats(c);
	int64_t n = jt_int(o, field);

	json_object_put(o);
	return n;
}

/* section: recording messages */

/* A message callback for registrations expected to fail or patterns nothing is published to. */
static inline void lt_ignore(jbus_conn *c, const jbus_msg *m, void *ud)
{
}

#define LT_LOG_MAX 128

/* Frames a callback received, in order (jbus_msg_frame, cut at 600 bytes). */
struct lt_log {
	int n;
	char frame[LT_LOG_MAX][600];
	bool retained[LT_LOG_MAX];
	int want; /* lt_log_wait's goal */
};

static inline void lt_log_msg(jbus_conn *c, const jbus_msg *m, void *ud)
{
	struct lt_log *l = ud;

	ck_assert_int_lt(l->n, LT_LOG_MAX);
	snprintf(l->frame[l->n], sizeof(l->frame[0]), "%s", jbus_msg_frame(m, NULL));
	l->retained[l->n] = jbus_msg_retained(m);
	l->n++;
}

static inline bool lt_log_reached(void *ud)
{
	struct lt_log *l = ud;

	return l->n >= l->want;
}

/* Dispatch every handle until the log holds n frames. */
static inline void lt_log_wait(struct lt_log *l, int n)
{
	l->want = n;
	lt_pump(lt_log_reached, l);
}
