/*
 * The jbus tool's receiving side, run as a program ($JBUS, else build/jbus)
 * against a real jbusd: sub (-C, -W, --data, -v, overlapping patterns,
 * SIGINT/SIGTERM, the reader of its output or the broker going away,
 * invalid patterns and topics) and listen (with and without a name).
 *
 * A subscriber started by jt_jbus_sub() is known to be subscribed (a
 * message published to its topic was delivered); no test sleeps to wait
 * for anything. Processes and connections are the fixture's: teardown ends
 * what a failed test left.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"

/* section: sub */

START_TEST(test_cli_sub_count)
{
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("-C", "2", "c"), "c",
					  "{\"op\":\"msg\",\"topic\":\"c\",\"from\":\"syncer\","
					  "\"data\":\"sync\"}");
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "p", "pub", "c", "7"));

	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "{\"op\":\"msg\",\"topic\":\"c\",\"from\":\"p\",\"data\":7}");
	ck_assert_int_eq(jt_proc_wait(sub), 0);
	ck_assert_str_eq(jt_proc_rest(&sub->out), "");
	ck_assert_str_eq(sub->err.p, "");
}
END_TEST

START_TEST(test_cli_sub_timeout)
{
	int64_t t0 = jt_now_ms();
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "sub", "-W", "0.2", "quiet"));

	/* nothing arrives: -W ends it, status 0 without -C */
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
	ck_assert_int_ge(jt_now_ms() - t0, 200);
	/* -C not reached in time: status 1 and how far it got */
	p = jt_jbus_sub(JT_ARGV("-C", "3", "-W", "0.5", "--data", "few"), "few", "\"sync\"");
	ck_assert_int_eq(jt_proc_wait(p), 1);
	ck_assert_str_eq(jt_proc_rest(&p->out), "");
	ck_assert_str_eq(p->err.p, "jbus sub: timed out after 1 of 3 messages\n");
}
END_TEST

START_TEST(test_cli_sub_data)
{
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("d", "--data"), "d", "\"sync\"");
	static const char *const data[] = {
		"123456789012345678901234567890", "\"\\u00e9\"", "{\"k\" : 1.50, \"k\":[]}",
		"-0e+0", "null",
	};

	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		struct jt_proc *p;

		p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "d", "--", data[i]));
		ck_assert_int_eq(p->status, 0);
		jt_proc_expect_line(sub, data[i]);
	}
}
END_TEST

START_TEST(test_cli_sub_verbose)
{
	struct jt_proc *sub =
		jt_jbus_sub(JT_ARGV("-v", "v/#", "-n", "watcher"), "v/sync", "v/sync \"sync\"");
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "v/a b", "{\"x\": 1}"));

	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "v/a b {\"x\": 1}");
	/* a direct message to the subscriber's name: "@FROM DATA" */
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "bob", "send", "watcher", "[]"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "@bob []");
}
END_TEST

/* Overlapping patterns: the broker sends a message once, and sub prints it once. */
START_TEST(test_cli_sub_overlap)
{
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("-C", "4", "--data", "o/#", "o/+", "o/a"), "o/a",
					  "\"sync\"");
	struct jt_proc *p;

	/* two equal frames in a row are two messages */
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "same", "pub", "o/a", "1"));
	ck_assert_int_eq(p->status, 0);
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "same", "pub", "o/a", "1"));
	ck_assert_int_eq(p->status, 0);
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "same", "pub", "o/b/c", "2"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_int_eq(jt_proc_wait(sub), 0);
	ck_assert_str_eq(jt_proc_rest(&sub->out), "1\n1\n2\n");
}
END_TEST

START_TEST(test_cli_sub_signals)
{
	static const int sigs[] = { SIGINT, SIGTERM };

	for (size_t i = 0; i < 2; i++) {
		struct jt_proc *sub = jt_jbus_sub(JT_ARGV("--data", "sig"), "sig", "\"sync\"");

		jt_proc_signal(sub, sigs[i]);
		ck_assert_int_eq(jt_proc_wait(sub), 0);
		ck_assert_str_eq(sub->err.p, "");
	}
}
END_TEST

/* The reader of stdout goes away (| head -1): sub ends quietly, status 0. */
START_TEST(test_cli_sub_reader_gone)
{
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("--data", "h"), "h", "\"sync\"");

	close(sub->out.fd);
	sub->out.fd = -1;
	ck_assert_int_eq(jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "h", "1"))->status, 0);
	ck_assert_int_eq(jt_proc_wait(sub), 0);
	ck_assert_str_eq(sub->err.p, "");
}
END_TEST

START_TEST(test_cli_sub_broker_lost)
{
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("--data", "gone"), "gone", "\"sync\"");

	jt_broker_stop(&jt_b);
	ck_assert_int_eq(jt_proc_wait(sub), 1);
	ck_assert_str_eq(sub->err.p, "jbus sub: the broker is shutting down\n"
				     "jbus sub: connection to the broker lost\n");
}
END_TEST

START_TEST(test_cli_bad_pattern_topic)
{
	static const char *const cmds[][3] = {
		{ "pub", "$x", "1" }, { "pub", "a/+", "1" },   { "pub", "a#", NULL },
		{ "sub", "a+", NULL }, { "sub", "a/#/b", NULL }, { "sub", "", NULL },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct jt_proc *p =
			jt_jbus_run(JT_ARGV("-s", jt_b.path, cmds[i][0], cmds[i][1], cmds[i][2]));
		char want[128];

		ck_assert_msg(p->status == 2, "jbus %s '%s': status %d", cmds[i][0], cmds[i][1],
			      p->status);
		snprintf(want, sizeof(want), "jbus %s: invalid %s '%s' (", cmds[i][0],
			 cmds[i][0][0] == 'p' ? "topic" : "pattern", cmds[i][1]);
		ck_assert_msg(!strncmp(p->err.p, want, strlen(want)), "stderr: %s", p->err.p);
	}
}
END_TEST

/* section: --on-full */

/* A 4 KiB queue: a subscriber that stops reading falls behind after a few hundred messages. */
static void setup_small_queue(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "4K"));
}

/* How sub prints the sync message, and what it puts around the data of a message on lag/x. */
static const struct {
	const char *opt; /* NULL: the default, the frame as sent */
	const char *sync, *before, *after;
} lag_formats[] = {
	{ "--data", "\"sync\"", "", "" },
	{ "-v", "lag/sync \"sync\"", "lag/x ", "" },
	{ NULL, "{\"op\":\"msg\",\"topic\":\"lag/sync\",\"from\":\"syncer\",\"data\":\"sync\"}",
	  "{\"op\":\"msg\",\"topic\":\"lag/x\",\"from\":\"p\",\"data\":", "}" },
};

/* The next line of sub is message n of jt_pub_n (10 bytes of padding) in format f. */
static void expect_lag_line(struct jt_proc *sub, int f, int n)
{
	char want[256];

	jt_fmt(want, sizeof(want), "%s{\"n\":%d,\"pad\":\"xxxxxxxxxx\"}%s",
	       lag_formats[f].before, n, lag_formats[f].after);
	jt_proc_expect_line(sub, want);
}

/*
 * --on-full drop: sub, stopped (SIGSTOP) while a client publishes, falls behind. Once it
 * runs again it prints the messages it was sent, then one line on stderr, in every output
 * format, saying how many it lost, then what comes after; SIGINT still ends it with 0.
 * The publisher reads each ok: its "delivered" says whether sub was sent the message.
 */
START_TEST(test_cli_sub_on_full)
{
	const char *opt = lag_formats[_i].opt;
	struct jt_proc *sub = jt_jbus_sub(opt ? JT_ARGV("--on-full", "drop", opt, "lag/#")
					      : JT_ARGV("--on-full", "drop", "lag/#"),
					  "lag/sync", lag_formats[_i].sync);
	struct jt_conn *p = jt_client("p");
	int n = 0, first;

	jt_proc_signal(sub, SIGSTOP);
	while (jt_pub_n(p, "lag/x", n, 10) == 1)
		ck_assert_int_lt(++n, 5000);
	first = n++;
	for (; n < first + 5; n++)
		ck_assert_int_eq(jt_pub_n(p, "lag/x", n, 10), 0);
	jt_proc_signal(sub, SIGCONT);
	for (int i = 0; i < first; i++)
		expect_lag_line(sub, _i, i);
	ck_assert_str_eq(jt_proc_line(sub, &sub->err), "jbus sub: dropped 5 messages on 'lag/#'");
	ck_assert_int_eq(jt_pub_n(p, "lag/x", n, 10), 1);
	expect_lag_line(sub, _i, n);
	jt_proc_signal(sub, SIGINT);
	ck_assert_int_eq(jt_proc_wait(sub), 0);
	ck_assert_str_eq(jt_proc_rest(&sub->out), "");
	ck_assert_str_eq(jt_proc_rest(&sub->err), "");
}
END_TEST

/* A bad --on-full is a usage error; monitor has no subscriptions to apply it to. */
START_TEST(test_cli_sub_on_full_bad)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "sub", "--on-full", "keep", "a"));

	jt_proc_expect(p, 2, "",
		       "jbus sub: invalid --on-full value 'keep' (disconnect, drop or latest)\n"
		       "Try 'jbus sub --help' for more information.\n");
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "monitor", "--on-full", "drop"));
	jt_proc_expect(p, 2, "",
		       "jbus monitor: unknown option '--on-full'\n"
		       "Try 'jbus monitor --help' for more information.\n");
}
END_TEST

/* section: listen */

/* listen without a name: it says which one it got once subscribed, and receives both kinds. */
START_TEST(test_cli_listen)
{
	struct jt_proc *lst = jt_jbus_start(
		JT_ARGV("listen", "-v", "-t", "n/#", "-t", "m", "-s", jt_b.path), NULL, NULL, 0);
	const char *ready = jt_proc_line(lst, &lst->err);
	struct jt_proc *p;
	char name[80];

	ck_assert_ptr_nonnull(ready);
	ck_assert_int_eq(sscanf(ready, "jbus listen: listening as %79s", name), 1);
	ck_assert_str_eq(ready + strlen("jbus listen: listening as "), name);
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "p", "pub", "n/x", "7"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(lst, "n/x 7");
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "p", "send", name, "8"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(lst, "@p 8");
	ck_assert_int_eq(jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "m", "9"))->status, 0);
	jt_proc_expect_line(lst, "m 9");
	jt_proc_signal(lst, SIGINT);
	ck_assert_int_eq(jt_proc_wait(lst), 0);
	ck_assert_str_eq(jt_proc_rest(&lst->err), "");
}
END_TEST

/* A name taken by a connected client: status 1, the name in the message. */
START_TEST(test_cli_listen_name_taken)
{
	struct jt_conn *c = jt_client("taken");
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "listen", "-n", "taken"));
	char want[PATH_MAX + 128];

	ck_assert_int_eq(p->status, 1);
	snprintf(want, sizeof(want),
		 "jbus listen: cannot connect to %s: the name 'taken' is taken by a connected "
		 "client\n",
		 jt_b.path);
	ck_assert_str_eq(p->err.p, want);
	jt_close(c);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "sub_count", test_cli_sub_count },
		{ "sub_timeout", test_cli_sub_timeout },
		{ "sub_data", test_cli_sub_data },
		{ "sub_verbose", test_cli_sub_verbose },
		{ "sub_overlap", test_cli_sub_overlap },
		{ "sub_signals", test_cli_sub_signals },
		{ "sub_reader_gone", test_cli_sub_reader_gone },
		{ "sub_broker_lost", test_cli_sub_broker_lost },
		{ "bad_pattern_topic", test_cli_bad_pattern_topic },
		{ "listen", test_cli_listen },
		{ "listen_name_taken", test_cli_listen_name_taken },
		{ "sub_on_full_bad", test_cli_sub_on_full_bad },
	};
	const struct jt_case small_queue[] = {
		{ "sub_on_full", test_cli_sub_on_full,
		  sizeof(lag_formats) / sizeof(lag_formats[0]) },
	};
	Suite *s = suite_create("cli_sub");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, jt_teardown, 60);
	jt_add_cases(s, small_queue, 1, setup_small_queue, jt_teardown, 60);
	return s;
}
