/*
 * The programs in examples/, run as built ($JBUS_EXAMPLES, else
 * build/examples) against a test broker: what they print, what they
 * publish (seen by a library subscriber in the test), their exit status,
 * and their usage errors. poll_subscriber is driven through its stdin
 * while it also receives from the broker, which is what its own poll()
 * loop is for.
 *
 * The examples run as jt_proc children (under $JT_WRAP like jbus): every
 * read from one has a deadline, every one is reaped with one, and teardown
 * kills what a failed test left running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* section: running the examples */

static const char *examples_dir(void)
{
	const char *d = getenv("JBUS_EXAMPLES");

	return d && *d ? d : "build/examples";
}

/*
 * Start an example, its stdin open for jt_proc_write: argv[0] is its name
 * in the examples directory; env as for jt_proc_start.
 */
static struct jt_proc *spawn(const char *const *argv, const char *const *env)
{
	const char *full[16], *wrapped[64];
	char path[PATH_MAX];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", examples_dir(), argv[0]);
	full[n++] = path;
	for (argv++; *argv; argv++) {
		ck_assert_uint_lt(n, ARRAY_SIZE(full) - 1);
		full[n++] = *argv;
	}
	full[n] = NULL;
	return jt_proc_start(jt_wrap_argv(wrapped, ARRAY_SIZE(wrapped), full), env, NULL, 0);
}

/* Run an example to the end with no input; returns the exit status. */
static int run(struct jt_proc **pp, const char *const *argv, const char *const *env)
{
	*pp = spawn(argv, env);
	return jt_proc_wait(*pp);
}

static void expect_usage(const char *const *argv, const char *usage)
{
	struct jt_proc *p;
	const char *u;

	ck_assert_int_eq(run(&p, argv, NULL), 2);
	/* getopt may have said what was wrong on a line of its own before */
	u = strstr(p->err.p, usage);
	ck_assert_msg(u && (u == p->err.p || u[-1] == '\n'), "stderr: %s", p->err.p);
	ck_assert_str_eq(p->out.p, "");
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

/* section: publish */

START_TEST(test_examples_publish)
{
	struct got g = { 0 }, seq = { 0 };
	jbus_conn *s = lt_new("watch");
	char env[PATH_MAX + 16], missing[PATH_MAX];
	struct jt_proc *p;

	ck_assert_int_eq(jbus_subscribe_sync(s, "ex/a", on_msg, &g, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_subscribe_sync(s, "ex/b", on_seq, &seq, JT_TIMEOUT_MS), 0);

	/* one message, its JSON text byte for byte */
	const char *one[] = { "publish", "-s", jt_b.path, "-n", "pub1", "ex/a",
			      "{\"n\":123456789012345678901234567890, \"s\":\"\\u00e9\"}", NULL };
	ck_assert_int_eq(run(&p, one, NULL), 0);
	ck_assert_str_eq(p->out.p, "published 1 message to ex/a\n");
	ck_assert_str_eq(p->err.p, "");
	lt_wait_count(s, &g.n, 1);
	ck_assert_str_eq(g.from, "pub1");
	ck_assert_str_eq(g.data, "{\"n\":123456789012345678901234567890, \"s\":\"\\u00e9\"}");

	/* -c: many, built with json-c, in order */
	const char *many[] = { "publish", "-s", jt_b.path, "-c", "500", "ex/b", NULL };
	ck_assert_int_eq(run(&p, many, NULL), 0);
	ck_assert_str_eq(p->out.p, "published 500 messages to ex/b\n");
	lt_wait_count(s, &seq.n, 500);
	ck_assert_int_eq(seq.bad, 0);

	/* no -s: the default socket ($JBUS_SOCKET) */
	snprintf(env, sizeof(env), "JBUS_SOCKET=%s", jt_b.path);
	const char *dflt[] = { "publish", "ex/a", "\"env\"", NULL };
	const char *envs[] = { env, NULL };
	ck_assert_int_eq(run(&p, dflt, envs), 0);
	lt_wait_count(s, &g.n, 2);
	ck_assert_str_eq(g.data, "\"env\"");

	/* failures: no broker (1, naming the path), bad JSON and usage (2) */
	snprintf(missing, sizeof(missing), "%s/missing.sock", jt_b.dir);
	const char *nobroker[] = { "publish", "-s", missing, "t", NULL };
	ck_assert_int_eq(run(&p, nobroker, NULL), 1);
	ck_assert_msg(strstr(p->err.p, missing), "stderr: %s", p->err.p);
	ck_assert_str_eq(p->out.p, "");
	const char *badjson[] = { "publish", "-s", jt_b.path, "t", "{bad", NULL };
	ck_assert_int_eq(run(&p, badjson, NULL), 2);
	ck_assert_msg(strstr(p->err.p, "invalid JSON at byte 1"), "stderr: %s", p->err.p);
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
	jbus_conn *s = lt_new("tp");
	const char *argv[] = { "poll_subscriber", "-s", jt_b.path, "-n", "psub", "-t", "ps/in",
			       "-c", "4", "ps/#", NULL };
	struct jt_proc *p;

	ck_assert_int_eq(jbus_subscribe_sync(s, "ps/in", on_msg, &g, JT_TIMEOUT_MS), 0);
	p = spawn(argv, NULL);
	/* our own line comes back: the subscription is in place once it does */
	jt_proc_write(p, "{\"hello\":1}\n");
	jt_proc_expect_line(p, "ps/in psub {\"hello\":1}");
	lt_wait_count(s, &g.n, 1);
	ck_assert_str_eq(g.from, "psub");
	ck_assert_str_eq(g.data, "{\"hello\":1}");

	ck_assert_int_eq(jbus_publish_text(s, "ps/x", "123456789012345678901234567890", -1), 0);
	ck_assert_int_eq(jbus_conn_flush(s, JT_TIMEOUT_MS), 0);
	jt_proc_expect_line(p, "ps/x tp 123456789012345678901234567890");
	ck_assert_int_eq(jbus_send_text(s, "psub", "[1,2]", -1), 0);
	ck_assert_int_eq(jbus_ping(s, JT_TIMEOUT_MS), 0);
	jt_proc_expect_line(p, "- tp [1,2]");
	/* not JSON: sent as a JSON string */
	jt_proc_write(p, "plain \"text\"\n");
	jt_proc_expect_line(p, "ps/in psub \"plain \\\"text\\\"\"");
	/* the fourth message ends it, stdin still open */
	ck_assert_int_eq(jt_proc_wait(p), 0);
	ck_assert_msg(strstr(p->err.p, "connected as psub"), "stderr: %s", p->err.p);
	lt_wait_count(s, &g.n, 2);
	ck_assert_str_eq(g.data, "\"plain \\\"text\\\"\"");
}
END_TEST

/* The end of stdin ends it, after the last line (without '\n') went out. */
START_TEST(test_examples_poll_subscriber_eof)
{
	struct got g = { 0 };
	jbus_conn *s = lt_new("tp");
	const char *argv[] = { "poll_subscriber", "-s", jt_b.path, "-t", "ps/eof", "nothing",
			       NULL };
	const char *u1[] = { "poll_subscriber", "-s", jt_b.path, NULL };
	const char *u2[] = { "poll_subscriber", "-s", jt_b.path, "a+", NULL };
	const char *u3[] = { "poll_subscriber", "-c", "x", "t", NULL };
	const char *line;
	struct jt_proc *p;

	ck_assert_int_eq(jbus_subscribe_sync(s, "ps/eof", on_msg, &g, JT_TIMEOUT_MS), 0);
	p = spawn(argv, NULL);
	/*
	 * Input only once it is connected: a client that sends and closes
	 * before the broker wrote it the welcome can lose what it sent last
	 * (the broker's write fails, and it drops the input it has not read).
	 */
	line = jt_proc_line(p, &p->err);
	ck_assert_msg(line && !strncmp(line, "poll_subscriber: connected as ", 30), "stderr: %s",
		      line ? line : "(EOF)");
	jt_proc_write(p, "[1]\nlast");
	ck_assert_int_eq(jt_proc_wait(p), 0);
	ck_assert_str_eq(p->out.p, "");
	lt_wait_count(s, &g.n, 2);
	ck_assert_str_eq(g.data, "\"last\"");
	expect_usage(u1, "usage: poll_subscriber ");
	expect_usage(u3, "usage: poll_subscriber ");
	ck_assert_int_eq(run(&p, u2, NULL), 2);
	ck_assert_msg(strstr(p->err.p, "a+"), "stderr: %s", p->err.p);
}
END_TEST

/* section: blocking */

START_TEST(test_examples_blocking)
{
	struct got g = { 0 };
	jbus_conn *s = lt_new("watch");
	char line[PATH_MAX + 64], missing[PATH_MAX];
	const char *argv[] = { "blocking", "-s",   jt_b.path,	   "-n",
			       "blk",	   "bl/t", "{\"x\":[1,2]}", NULL };
	const char *slow[] = { "blocking", "-s", jt_b.path, "-c", "2", "-w", "300", "bl/u", NULL };
	struct jt_proc *p;
	const char *rest;
	int64_t t0;

	ck_assert_int_eq(jbus_subscribe_sync(s, "bl/t", on_msg, &g, JT_TIMEOUT_MS), 0);
	p = spawn(argv, NULL);
	snprintf(line, sizeof(line), "connected to %s as blk", jt_b.path);
	jt_proc_expect_line(p, line);
	ck_assert_int_eq(jt_proc_wait(p), 0);
	ck_assert_str_eq(p->err.p, "");
	rest = jt_proc_rest(&p->out);
	ck_assert_msg(strncmp(rest, "ping: ", 6) == 0, "stdout: %s", rest);
	/* its own message, dispatched during publish_sync or wait, and the ok's count */
	ck_assert_msg(strstr(rest, "\nbl/t blk {\"x\":[1,2]}\n"), "stdout: %s", rest);
	ck_assert_msg(strstr(rest, "\npublished to bl/t: delivered to 2 clients\n"), "stdout: %s",
		      rest);
	lt_wait_count(s, &g.n, 1);
	ck_assert_str_eq(g.from, "blk");
	ck_assert_str_eq(g.data, "{\"x\":[1,2]}");

	/* waits -w ms for a second message that never comes */
	t0 = jt_now_ms();
	ck_assert_int_eq(run(&p, slow, NULL), 1);
	ck_assert_int_ge(jt_now_ms() - t0, 300);
	ck_assert_msg(strstr(p->err.p, "timed out after 300 ms: 1 of 2 messages"), "stderr: %s",
		      p->err.p);
	ck_assert_msg(strstr(p->out.p, "delivered to 1 client\n"), "stdout: %s", p->out.p);

	snprintf(missing, sizeof(missing), "%s/missing.sock", jt_b.dir);
	const char *nobroker[] = { "blocking", "-s", missing, "t", NULL };
	ck_assert_int_eq(run(&p, nobroker, NULL), 1);
	ck_assert_msg(strstr(p->err.p, missing), "stderr: %s", p->err.p);
	const char *badjson[] = { "blocking", "-s", jt_b.path, "t", "[1,", NULL };
	ck_assert_int_eq(run(&p, badjson, NULL), 2);
	ck_assert_msg(strstr(p->err.p, "invalid JSON"), "stderr: %s", p->err.p);
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

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, lt_teardown, 60);
	return s;
}
