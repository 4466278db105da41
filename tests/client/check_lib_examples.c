/*
 * The programs in examples/, run as built ($JBUS_EXAMPLES, else
 * build/examples) against a test broker: what they print, what they
 * publish (seen by a library subscriber in the test), their exit status,
 * and their usage errors. poll_subscriber is driven through its stdin
 * while it also receives from the broker, which is what its own poll()
 * loop is for.
 *
 * Every read from a child has a deadline, and every child is reaped with
 * one; teardown kills what a failed test left running.
 */
#include <errno.h>
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

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* section: child processes */

struct proc {
	pid_t pid;
	int in, out, err; /* our ends, -1 once closed */
	char obuf[256 * 1024];
	size_t olen;
	char ebuf[8192];
	size_t elen;
	size_t seen; /* bytes of obuf already matched by proc_line */
};

static struct proc procs[2];
static jbus_conn *lconns[4];

static void track(jbus_conn *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(lconns); i++) {
		if (!lconns[i]) {
			lconns[i] = c;
			return;
		}
	}
	ck_abort_msg("too many library connections in one test");
}

static jbus_conn *lc_new(const char *name)
{
	jbus_conn *c = NULL;
	int r = jbus_conn_new(&c, jt_b.path, name);

	ck_assert_msg(r == 0, "jbus_conn_new(%s): %s", name, jbus_error_name(r));
	track(c);
	return c;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void proc_reset(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	close_fd(&p->in);
	close_fd(&p->out);
	close_fd(&p->err);
	p->pid = 0;
	p->olen = p->elen = p->seen = 0;
	p->obuf[0] = p->ebuf[0] = '\0';
}

static void setup(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(procs); i++)
		procs[i] = (struct proc){ .in = -1, .out = -1, .err = -1 };
	jt_setup();
}

static void teardown(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(procs); i++)
		proc_reset(&procs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(lconns); i++)
		lconns[i] = jbus_conn_free(lconns[i]);
	jt_teardown();
}

static const char *examples_dir(void)
{
	const char *d = getenv("JBUS_EXAMPLES");

	return d && *d ? d : "build/examples";
}

/*
 * Start an example: argv[0] is its name in the examples directory; env
 * entries ("NAME=value", or "NAME" to unset) change the child's environment.
 */
static struct proc *spawn(const char *const *argv, const char *const *env)
{
	struct proc *p = NULL;
	int in[2], out[2], err[2];

	for (size_t i = 0; i < ARRAY_SIZE(procs); i++)
		if (!procs[i].pid && !p)
			p = &procs[i];
	ck_assert_ptr_nonnull(p);
	proc_reset(p);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		char path[PATH_MAX];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		for (; env && *env; env++) {
			if (strchr(*env, '='))
				putenv((char *)*env);
			else
				unsetenv(*env);
		}
		snprintf(path, sizeof(path), "%s/%s", examples_dir(), argv[0]);
		execv(path, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	return p;
}

static void proc_write(struct proc *p, const char *s)
{
	ck_assert_int_eq(write(p->in, s, strlen(s)), (ssize_t)strlen(s));
}

static void drain(int *fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n = read(*fd, buf + *len, cap - 1 - *len);

	if (n <= 0) {
		close_fd(fd);
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
	ck_assert_msg(*len < cap - 1, "child output larger than the test's buffer");
}

/* Read what stdout and stderr have, waiting at most until deadline; false on timeout. */
static bool proc_read(struct proc *p, int64_t deadline)
{
	struct pollfd f[2] = { { .fd = p->out, .events = POLLIN },
			       { .fd = p->err, .events = POLLIN } };
	int64_t left = deadline - jt_now_ms();
	int r;

	if (p->out < 0 && p->err < 0)
		return true;
	r = poll(f, 2, left > 0 ? (int)left : 0);
	if (r <= 0)
		return false;
	if (f[0].revents)
		drain(&p->out, p->obuf, sizeof(p->obuf), &p->olen);
	if (f[1].revents)
		drain(&p->err, p->ebuf, sizeof(p->ebuf), &p->elen);
	return true;
}

/* The next line of stdout (after those already matched) is exactly want. */
static void proc_line(struct proc *p, const char *want)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	char *nl;

	p->obuf[p->olen] = '\0';
	while (!(nl = strchr(p->obuf + p->seen, '\n'))) {
		ck_assert_msg(p->out >= 0 && proc_read(p, deadline),
			      "no line '%s' within %d ms; stdout: %s\nstderr: %s", want,
			      JT_TIMEOUT_MS, p->obuf + p->seen, p->ebuf);
	}
	*nl = '\0';
	ck_assert_msg(strcmp(p->obuf + p->seen, want) == 0, "stdout line '%s', want '%s'",
		      p->obuf + p->seen, want);
	*nl = '\n';
	p->seen = (size_t)(nl + 1 - p->obuf);
}

/* Close stdin, read until both outputs end, reap; returns the exit status (-1: killed). */
static int proc_finish(struct proc *p, int timeout_ms)
{
	int64_t deadline = jt_now_ms() + timeout_ms;
	struct jt_broker b = { .pid = p->pid };
	int st;

	close_fd(&p->in);
	while (p->out >= 0 || p->err >= 0)
		ck_assert_msg(proc_read(p, deadline), "%s still running after %d ms", "example",
			      timeout_ms);
	st = jt_broker_wait(&b, (int)(deadline - jt_now_ms() > 0 ? deadline - jt_now_ms() : 1));
	ck_assert_msg(st != -1, "example did not exit within %d ms", timeout_ms);
	p->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run an example to the end with no input; returns the exit status. */
static int run(struct proc **pp, const char *const *argv, const char *const *env)
{
	*pp = spawn(argv, env);
	return proc_finish(*pp, JT_TIMEOUT_MS * 2);
}

static void expect_usage(const char *const *argv, const char *usage)
{
	struct proc *p;

	const char *u;

	ck_assert_int_eq(run(&p, argv, NULL), 2);
	/* getopt may have said what was wrong on a line of its own before */
	u = strstr(p->ebuf, usage);
	ck_assert_msg(u && (u == p->ebuf || u[-1] == '\n'), "stderr: %s", p->ebuf);
	ck_assert_str_eq(p->obuf, "");
}

/* section: what the test's own subscriber receives */

struct got {
	int n;
	char topic[64], from[80], data[256];
	int bad; /* out of order, for sequences */
};

static void on_msg(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct got *g = userdata;

	g->n++;
	snprintf(g->topic, sizeof(g->topic), "%s", jbus_msg_topic(m) ? jbus_msg_topic(m) : "-");
	snprintf(g->from, sizeof(g->from), "%s", jbus_msg_from(m));
	snprintf(g->data, sizeof(g->data), "%s", jbus_msg_data(m, NULL));
}

/* publish's default data is {"seq":i}: check i counts up from 0. */
static void on_seq(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct got *g = userdata;
	char want[32];

	snprintf(want, sizeof(want), "{\"seq\":%d}", g->n);
	if (strcmp(jbus_msg_data(m, NULL), want) != 0)
		g->bad++;
	on_msg(c, m, userdata);
}

static void wait_got(jbus_conn *c, const struct got *g, int want)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	while (g->n < want) {
		int64_t left = deadline - jt_now_ms();

		ck_assert_msg(left > 0, "%d of %d messages in %d ms", g->n, want, JT_TIMEOUT_MS);
		ck_assert_int_ge(jbus_conn_wait(c, (int)left), 0);
	}
}

/* section: publish */

START_TEST(test_examples_publish)
{
	struct got g = { 0 }, seq = { 0 };
	jbus_conn *s = lc_new("watch");
	char env[PATH_MAX + 16], missing[PATH_MAX];
	struct proc *p;

	ck_assert_int_eq(jbus_subscribe_sync(s, "ex/a", on_msg, &g, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_subscribe_sync(s, "ex/b", on_seq, &seq, JT_TIMEOUT_MS), 0);

	/* one message, its JSON text byte for byte */
	const char *one[] = { "publish", "-s", jt_b.path, "-n", "pub1", "ex/a",
			      "{\"n\":123456789012345678901234567890, \"s\":\"\\u00e9\"}", NULL };
	ck_assert_int_eq(run(&p, one, NULL), 0);
	ck_assert_str_eq(p->obuf, "published 1 message to ex/a\n");
	ck_assert_str_eq(p->ebuf, "");
	wait_got(s, &g, 1);
	ck_assert_str_eq(g.from, "pub1");
	ck_assert_str_eq(g.data, "{\"n\":123456789012345678901234567890, \"s\":\"\\u00e9\"}");

	/* -c: many, built with json-c, in order */
	const char *many[] = { "publish", "-s", jt_b.path, "-c", "500", "ex/b", NULL };
	ck_assert_int_eq(run(&p, many, NULL), 0);
	ck_assert_str_eq(p->obuf, "published 500 messages to ex/b\n");
	wait_got(s, &seq, 500);
	ck_assert_int_eq(seq.bad, 0);

	/* no -s: the default socket ($JBUS_SOCKET) */
	snprintf(env, sizeof(env), "JBUS_SOCKET=%s", jt_b.path);
	const char *dflt[] = { "publish", "ex/a", "\"env\"", NULL };
	const char *envs[] = { env, NULL };
	ck_assert_int_eq(run(&p, dflt, envs), 0);
	wait_got(s, &g, 2);
	ck_assert_str_eq(g.data, "\"env\"");

	/* failures: no broker (1, naming the path), bad JSON and usage (2) */
	snprintf(missing, sizeof(missing), "%s/missing.sock", jt_b.dir);
	const char *nobroker[] = { "publish", "-s", missing, "t", NULL };
	ck_assert_int_eq(run(&p, nobroker, NULL), 1);
	ck_assert_msg(strstr(p->ebuf, missing), "stderr: %s", p->ebuf);
	ck_assert_str_eq(p->obuf, "");
	const char *badjson[] = { "publish", "-s", jt_b.path, "t", "{bad", NULL };
	ck_assert_int_eq(run(&p, badjson, NULL), 2);
	ck_assert_msg(strstr(p->ebuf, "invalid JSON at byte 1"), "stderr: %s", p->ebuf);
	const char *u1[] = { "publish", NULL };
	const char *u2[] = { "publish", "-c", "0", "t", NULL };
	const char *u3[] = { "publish", "-x", "t", NULL };
	const char *u4[] = { "publish", "t", "1", "2", NULL };
	expect_usage(u1, "usage: publish ");
	expect_usage(u2, "usage: publish ");
	expect_usage(u3, "usage: publish ");
	expect_usage(u4, "usage: publish ");
	/* nothing else reached the subscriber */
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(g.n, 2);
	ck_assert_int_eq(seq.n, 500);
}
END_TEST

/* section: poll_subscriber */

/* stdin lines go out, messages and direct messages come in, -c ends it. */
START_TEST(test_examples_poll_subscriber)
{
	struct got g = { 0 };
	jbus_conn *s = lc_new("tp");
	const char *argv[] = { "poll_subscriber", "-s", jt_b.path, "-n", "psub", "-t", "ps/in",
			       "-c", "4", "ps/#", NULL };
	struct proc *p;

	ck_assert_int_eq(jbus_subscribe_sync(s, "ps/in", on_msg, &g, JT_TIMEOUT_MS), 0);
	p = spawn(argv, NULL);
	/* our own line comes back: the subscription is in place once it does */
	proc_write(p, "{\"hello\":1}\n");
	proc_line(p, "ps/in psub {\"hello\":1}");
	wait_got(s, &g, 1);
	ck_assert_str_eq(g.from, "psub");
	ck_assert_str_eq(g.data, "{\"hello\":1}");

	ck_assert_int_eq(jbus_publish_text(s, "ps/x", "123456789012345678901234567890", -1), 0);
	ck_assert_int_eq(jbus_conn_flush(s, JT_TIMEOUT_MS), 0);
	proc_line(p, "ps/x tp 123456789012345678901234567890");
	ck_assert_int_eq(jbus_send_text(s, "psub", "[1,2]", -1), 0);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	proc_line(p, "- tp [1,2]");
	/* not JSON: sent as a JSON string */
	proc_write(p, "plain \"text\"\n");
	proc_line(p, "ps/in psub \"plain \\\"text\\\"\"");
	/* the fourth message ends it, stdin still open */
	ck_assert_int_eq(proc_finish(p, JT_TIMEOUT_MS), 0);
	ck_assert_msg(strstr(p->ebuf, "connected as psub"), "stderr: %s", p->ebuf);
	wait_got(s, &g, 2);
	ck_assert_str_eq(g.data, "\"plain \\\"text\\\"\"");
}
END_TEST

/* The end of stdin ends it, after the last line (without '\n') went out. */
START_TEST(test_examples_poll_subscriber_eof)
{
	struct got g = { 0 };
	jbus_conn *s = lc_new("tp");
	const char *argv[] = { "poll_subscriber", "-s", jt_b.path, "-t", "ps/eof", "nothing",
			       NULL };
	const char *u1[] = { "poll_subscriber", "-s", jt_b.path, NULL };
	const char *u2[] = { "poll_subscriber", "-s", jt_b.path, "a+", NULL };
	const char *u3[] = { "poll_subscriber", "-c", "x", "t", NULL };
	struct proc *p;

	ck_assert_int_eq(jbus_subscribe_sync(s, "ps/eof", on_msg, &g, JT_TIMEOUT_MS), 0);
	p = spawn(argv, NULL);
	proc_write(p, "[1]\nlast");
	ck_assert_int_eq(proc_finish(p, JT_TIMEOUT_MS), 0);
	ck_assert_str_eq(p->obuf, "");
	wait_got(s, &g, 2);
	ck_assert_str_eq(g.data, "\"last\"");
	expect_usage(u1, "usage: poll_subscriber ");
	expect_usage(u3, "usage: poll_subscriber ");
	ck_assert_int_eq(run(&p, u2, NULL), 2);
	ck_assert_msg(strstr(p->ebuf, "a+"), "stderr: %s", p->ebuf);
}
END_TEST

/* section: blocking */

START_TEST(test_examples_blocking)
{
	struct got g = { 0 };
	jbus_conn *s = lc_new("watch");
	char line[PATH_MAX + 64], missing[PATH_MAX];
	const char *argv[] = { "blocking", "-s",   jt_b.path,	   "-n",
			       "blk",	   "bl/t", "{\"x\":[1,2]}", NULL };
	const char *slow[] = { "blocking", "-s", jt_b.path, "-c", "2", "-w", "300", "bl/u", NULL };
	struct proc *p;
	int64_t t0;

	ck_assert_int_eq(jbus_subscribe_sync(s, "bl/t", on_msg, &g, JT_TIMEOUT_MS), 0);
	p = spawn(argv, NULL);
	snprintf(line, sizeof(line), "connected to %s as blk", jt_b.path);
	proc_line(p, line);
	ck_assert_int_eq(proc_finish(p, JT_TIMEOUT_MS), 0);
	ck_assert_str_eq(p->ebuf, "");
	ck_assert_msg(strncmp(p->obuf + p->seen, "ping: ", 6) == 0, "stdout: %s", p->obuf);
	/* its own message, dispatched during publish_sync or wait, and the ok's count */
	ck_assert_msg(strstr(p->obuf, "\nbl/t blk {\"x\":[1,2]}\n"), "stdout: %s", p->obuf);
	ck_assert_msg(strstr(p->obuf, "\npublished to bl/t: delivered to 2 clients\n"),
		      "stdout: %s", p->obuf);
	wait_got(s, &g, 1);
	ck_assert_str_eq(g.from, "blk");
	ck_assert_str_eq(g.data, "{\"x\":[1,2]}");

	/* waits -w ms for a second message that never comes */
	t0 = jt_now_ms();
	ck_assert_int_eq(run(&p, slow, NULL), 1);
	ck_assert_int_ge(jt_now_ms() - t0, 300);
	ck_assert_msg(strstr(p->ebuf, "timed out after 300 ms: 1 of 2 messages"), "stderr: %s",
		      p->ebuf);
	ck_assert_msg(strstr(p->obuf, "delivered to 1 client\n"), "stdout: %s", p->obuf);

	snprintf(missing, sizeof(missing), "%s/missing.sock", jt_b.dir);
	const char *nobroker[] = { "blocking", "-s", missing, "t", NULL };
	ck_assert_int_eq(run(&p, nobroker, NULL), 1);
	ck_assert_msg(strstr(p->ebuf, missing), "stderr: %s", p->ebuf);
	const char *badjson[] = { "blocking", "-s", jt_b.path, "t", "[1,", NULL };
	ck_assert_int_eq(run(&p, badjson, NULL), 2);
	ck_assert_msg(strstr(p->ebuf, "invalid JSON"), "stderr: %s", p->ebuf);
	const char *u1[] = { "blocking", NULL };
	const char *u2[] = { "blocking", "-w", "soon", "t", NULL };
	expect_usage(u1, "usage: blocking ");
	expect_usage(u2, "usage: blocking ");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "publish", test_examples_publish },
		{ "poll_subscriber", test_examples_poll_subscriber },
		{ "poll_subscriber_eof", test_examples_poll_subscriber_eof },
		{ "blocking", test_examples_blocking },
	};
	Suite *s = suite_create("lib_examples");

	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 60);
	return s;
}
