/*
 * The jbus tool's requests, run as a program ($JBUS, else build/jbus)
 * against a real jbusd: jbus serve (--echo, a shell command as a service,
 * its failures, its timeout, -j), jbus call (the reply's data byte for
 * byte, every kind of error with its exit status) and jbus wait.
 *
 * A jbus serve is known to be ready once 'jbus wait NAME' returned; the
 * other side of a call is sometimes a raw client (jt_conn), so the test
 * decides exactly what the broker sees. Nothing sleeps to wait for
 * anything.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"

/* jbus serve started with args, and known to be connected as name. */
static struct jt_proc *serve(const char *name, const char *const *args)
{
	const char *argv[16] = { "-s", jt_b.path, "serve", name };
	struct jt_proc *p, *w;
	int n = 4;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	p = jt_jbus_start(argv, NULL, NULL, 0);
	w = jt_jbus_run(JT_ARGV("-s", jt_b.path, "wait", name, "-t", "5"));
	ck_assert_msg(w->status == 0, "jbus wait: %d %s", w->status, w->err.p);
	return p;
}

/* jbus call started with args. */
static struct jt_proc *call_start(const char *const *args)
{
	const char *argv[16] = { "-s", jt_b.path, "call" };
	int n = 3;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return jt_jbus_start(argv, NULL, NULL, 0);
}

/* jbus call, run to completion. */
static struct jt_proc *call(const char *const *args)
{
	struct jt_proc *p = call_start(args);

	jt_proc_wait(p);
	return p;
}

/* A jbus call of raw's, started: the request it got (raw line in *line, may be NULL). */
static json_object *call_raw(struct jt_conn *raw, const char *const *args, struct jt_proc **pp,
			     char **line)
{
	char *l = NULL;
	json_object *req;

	*pp = call_start(args);
	req = jt_frame_raw(raw, &l);
	ck_assert_str_eq(jt_str(req, "op"), "req");
	if (line)
		*line = l;
	else
		free(l);
	return req;
}

/* SIGTERM ends a serve with status 0 and nothing said. */
static void stop(struct jt_proc *p)
{
	jt_proc_signal(p, SIGTERM);
	ck_assert_int_eq(jt_proc_wait(p), 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
}

/* section: serve and call */

START_TEST(test_cli_serve_echo)
{
	struct jt_proc *s = serve("echo", JT_ARGV("--echo"));

	jt_proc_expect(call(JT_ARGV("echo", "{\"a\": [1, 2.50],\t\"b\":\"\\u00e9\"}")), 0,
		       "{\"a\": [1, 2.50],\t\"b\":\"\\u00e9\"}\n", "");
	jt_proc_expect(call(JT_ARGV("echo")), 0, "null\n", "");
	jt_proc_expect(call(JT_ARGV("--string", "echo", "he said \"hi\"")), 0,
		       "\"he said \\\"hi\\\"\"\n", "");
	jt_proc_expect(call(JT_ARGV("-t", "0.5", "echo", "--", "-1")), 0, "-1\n", "");
	stop(s);
}
END_TEST

/* A shell script as a service: stdin is the data, stdout the reply, JBUS_FROM the requester. */
START_TEST(test_cli_serve_command)
{
	struct jt_proc *s = serve("svc", JT_ARGV("--", "sh", "-c",
						 "read d; printf '{\"from\":\"%s\",\"got\":%s}\\n' "
						 "\"$JBUS_FROM\" \"$d\""));

	jt_proc_expect(call(JT_ARGV("-n", "alice", "svc", "[1, \"x\"]")), 0,
		       "{\"from\":\"alice\",\"got\":[1, \"x\"]}\n", "");
	jt_proc_expect(call(JT_ARGV("-n", "bob", "svc")), 0, "{\"from\":\"bob\",\"got\":null}\n",
		       "");
	stop(s);
	/* a command that uses jbus itself reaches the same broker */
	s = serve("relay",
		  JT_ARGV("--", "sh", "-c", "read d; exec \"$0\" call echo \"$d\"", jt_jbus()));
	serve("echo", JT_ARGV("--echo"));
	jt_proc_expect(call(JT_ARGV("relay", "{\"deep\":true}")), 0, "{\"deep\":true}\n", "");
	stop(s);
}
END_TEST

/* Failures of the command: command_failed with the end of stderr, exit status 1. */
START_TEST(test_cli_serve_failures)
{
	serve("fail", JT_ARGV("--", "sh", "-c", "echo first >&2; echo 'disk on fire' >&2; exit 3"));
	serve("junk", JT_ARGV("--", "sh", "-c", "echo not json"));
	serve("mute", JT_ARGV("--", "true"));
	serve("killed", JT_ARGV("--", "sh", "-c", "kill -9 $$"));
	serve("missing", JT_ARGV("--", "/nonexistent/cmd"));
	jt_proc_expect(call(JT_ARGV("fail")), 1, "",
		       "jbus: command_failed: 'sh' exited with status 3: first disk on fire\n");
	jt_proc_expect(call(JT_ARGV("junk")), 1, "",
		       "jbus: command_failed: the output of 'sh' is not one JSON value "
		       "(byte 0: invalid literal)\n");
	jt_proc_expect(call(JT_ARGV("mute")), 1, "",
		       "jbus: command_failed: the output of 'true' is not one JSON value "
		       "(byte 0: nothing written)\n");
	jt_proc_expect(call(JT_ARGV("killed")), 1, "",
		       "jbus: command_failed: 'sh' was killed by signal 9\n");
	if (!jt_wrap_on()) {
		jt_proc_expect(call(JT_ARGV("missing")), 1, "",
			       "jbus: command_failed: cannot run '/nonexistent/cmd': "
			       "No such file or directory\n");
	} else {
		/*
		 * valgrind runs posix_spawn's CLONE_VM|CLONE_VFORK child as a plain fork, so
		 * the exec error never reaches jbus serve: it sees the child exit 127
		 * instead. Still a command_failed, which is what can be checked there.
		 */
		struct jt_proc *p = call(JT_ARGV("missing"));

		ck_assert_int_eq(p->status, 1);
		ck_assert_str_eq(p->out.p, "");
		ck_assert_int_eq(strncmp(p->err.p, "jbus: command_failed: ", 22), 0);
	}
}
END_TEST

/* --timeout: the command and what it started are killed; the answer is the error timeout. */
START_TEST(test_cli_serve_timeout)
{
	struct jt_proc *s = serve("slow", JT_ARGV("--timeout", "0.2", "--", "sh", "-c",
						  "sleep 30 & sleep 30; echo 1"));
	int64_t t0 = jt_now_ms();

	/* an error reply of the service, not the broker's timeout: status 1 */
	jt_proc_expect(call(JT_ARGV("slow")), 1, "", "jbus: timeout: 'sh' ran longer than 0.2 s\n");
	ck_assert_int_lt(jt_now_ms() - t0, 10000);
	stop(s);
}
END_TEST

/*
 * -j 2: two commands at once. Each one waits until both have started,
 * which with one at a time could only end in the timeout.
 */
START_TEST(test_cli_serve_jobs)
{
	/* $0 is the test's directory */
	static const char script[] =
		"read d; echo x >> \"$0/started\"; "
		"while [ $(wc -l < \"$0/started\") -lt 2 ]; do sleep 0.01; done; "
		"echo \"$d\"";
	struct jt_proc *a, *b;

	serve("pair", JT_ARGV("-j", "2", "--timeout", "10", "--", "sh", "-c", script, jt_b.dir));
	a = jt_jbus_start(JT_ARGV("-s", jt_b.path, "call", "pair", "1"), NULL, NULL, 0);
	b = jt_jbus_start(JT_ARGV("-s", jt_b.path, "call", "pair", "2"), NULL, NULL, 0);
	ck_assert_int_eq(jt_proc_wait(a), 0);
	ck_assert_int_eq(jt_proc_wait(b), 0);
	ck_assert_str_eq(a->out.p, "1\n");
	ck_assert_str_eq(b->out.p, "2\n");
}
END_TEST

/* The broker going away ends a serve with status 1. */
START_TEST(test_cli_serve_broker_gone)
{
	struct jt_proc *s = serve("svc", JT_ARGV("--echo"));

	jt_broker_stop(&jt_b);
	ck_assert_int_eq(jt_proc_wait(s), 1);
	ck_assert_str_eq(s->out.p, "");
	ck_assert_ptr_nonnull(strstr(s->err.p, "jbus serve: connection to the broker lost\n"));
}
END_TEST

/* section: call's errors */

/* The broker's errors, and an error reply from a client we play ourselves. */
START_TEST(test_cli_call_errors)
{
	struct jt_conn *raw = jt_client("raw");
	struct jt_proc *p;
	json_object *req;
	char *line = NULL;

	jt_proc_expect(call(JT_ARGV("nobody", "1")), 1, "",
		       "jbus: no_such_client: no client named 'nobody' is connected\n");
	/* an error reply: its own code and message, on one line */
	req = call_raw(raw, JT_ARGV("-n", "app", "raw", "{\"tz\" : \"Mars\"}"), &p, &line);
	ck_assert_msg(strstr(line, "\"from\":\"app\"") &&
			      strstr(line, "\"data\":{\"tz\" : \"Mars\"}"),
		      "%s", line);
	free(line);
	jt_send(raw,
		"{\"op\":\"reply\",\"id\":%lld,\"error\":{\"code\":\"bad_tz\","
		"\"message\":\"unknown time zone\\nMars\"}}",
		(long long)jt_int(req, "id"));
	json_object_put(req);
	jt_proc_wait(p);
	jt_proc_expect(p, 1, "", "jbus: bad_tz: unknown time zone Mars\n");
	/* the target goes away without answering */
	json_object_put(call_raw(raw, JT_ARGV("raw"), &p, NULL));
	jt_close(raw);
	ck_assert_int_eq(jt_proc_wait(p), 1);
	ck_assert_int_eq(strncmp(p->err.p, "jbus: no_reply: ", 16), 0);
	ck_assert_str_eq(p->out.p, "");
}
END_TEST

/* The broker's timeout is status 3; a reply after it is dropped without a word. */
START_TEST(test_cli_call_timeout)
{
	struct jt_conn *raw = jt_client("raw");
	struct jt_proc *p;
	json_object *req;
	int64_t t0 = jt_now_ms();

	req = call_raw(raw, JT_ARGV("-t", "0.25", "raw"), &p, NULL);
	ck_assert_int_eq(jt_proc_wait(p), 3);
	ck_assert_int_ge(jt_now_ms() - t0, 250);
	ck_assert_int_eq(strncmp(p->err.p, "jbus: timeout: ", 15), 0);
	ck_assert_ptr_eq(strchr(p->err.p, '\n'), p->err.p + strlen(p->err.p) - 1); /* one line */
	ck_assert_str_eq(p->out.p, "");
	jt_send(raw, "{\"op\":\"reply\",\"id\":%lld,\"data\":1}", (long long)jt_int(req, "id"));
	json_object_put(req);
	jt_sync(raw);
}
END_TEST

/* Usage errors: status 2, the message and a pointer to --help. */
static const char *const usage_cases[][8] = {
	{ "call" },
	{ "call", "svc", "{bad" },
	{ "call", "svc", "1", "2" },
	{ "call", "-t", "0", "svc" },
	{ "call", "-t", "x", "svc" },
	{ "call", "a b" },
	{ "wait" },
	{ "wait", "a/b" },
	{ "wait", "x", "-t", "-1" },
	{ "serve", "x" },
	{ "serve" },
	{ "serve", "x", "--echo", "--", "cat" },
	{ "serve", "x", "-j", "0", "--", "cat" },
	{ "serve", "x", "--timeout", "0", "--", "cat" },
	{ "-n", "y", "serve", "x", "--echo" },
	{ "stats", "extra" },
	{ "clients", "--bogus" },
	{ "monitor", "extra" },
};

START_TEST(test_cli_call_usage)
{
	const char *argv[16] = { "-s", jt_b.path };
	struct jt_proc *p;
	int n = 2;

	for (const char *const *c = usage_cases[_i]; *c; c++)
		argv[n++] = *c;
	argv[n] = NULL;
	p = jt_jbus_run(argv);
	ck_assert_msg(p->status == 2, "%s %s: status %d", argv[2], argv[3] ? argv[3] : "",
		      p->status);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_ptr_nonnull(strstr(p->err.p, "Try 'jbus "));
}
END_TEST

/* section: wait */

/* Has a client subscribed to the connected events (the waiter)? */
static bool waiting(struct jt_conn *c)
{
	char *line = NULL;
	bool found;

	jt_send(c, "{\"op\":\"clients\",\"id\":1}");
	json_object_put(jt_frame_raw(c, &line));
	found = strstr(line, "\"$SYS/client/connected\"") != NULL;
	free(line);
	return found;
}

START_TEST(test_cli_wait)
{
	struct jt_conn *watch = jt_client("watch");
	struct jt_proc *p;
	int64_t t0;

	/* already there */
	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "wait", "watch")), 0, "", "");
	/* not yet: once the waiter listens for the event, the client comes */
	p = jt_jbus_start(JT_ARGV("-s", jt_b.path, "wait", "late"), NULL, NULL, 0);
	t0 = jt_now_ms();
	while (!waiting(watch))
		ck_assert_int_lt(jt_now_ms() - t0, JT_TIMEOUT_MS);
	jt_client("late");
	ck_assert_int_eq(jt_proc_wait(p), 0);
	ck_assert_str_eq(p->err.p, "");
	/* never: status 3 after -t */
	t0 = jt_now_ms();
	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "wait", "-t", "0.2", "ghost")), 3, "",
		       "jbus: timeout: no client named 'ghost' connected within 0.2 s\n");
	ck_assert_int_ge(jt_now_ms() - t0, 200);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "serve_echo", test_cli_serve_echo },
		{ "serve_command", test_cli_serve_command },
		{ "serve_failures", test_cli_serve_failures },
		{ "serve_timeout", test_cli_serve_timeout },
		{ "serve_jobs", test_cli_serve_jobs },
		{ "serve_broker_gone", test_cli_serve_broker_gone },
		{ "call_errors", test_cli_call_errors },
		{ "call_timeout", test_cli_call_timeout },
		{ "usage", test_cli_call_usage, sizeof(usage_cases) / sizeof(usage_cases[0]) },
		{ "wait", test_cli_wait },
	};
	Suite *s = suite_create("cli_req");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, jt_teardown, 60);
	return s;
}
