/*
 * The jbus tool's sending side, run as a program ($JBUS, else build/jbus)
 * against a real jbusd: pub (one message, -l with 10,000 lines from stdin,
 * lines that are not JSON, --wait, --string) and send, as the receiving
 * end sees them.
 *
 * A subscriber started by jt_jbus_sub() is known to be subscribed (a
 * message published to its topic was delivered), a listener once a direct
 * message to its name is accepted (jt_sync_send); no test sleeps to wait
 * for anything. Processes and connections are the fixture's: teardown ends
 * what a failed test left.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"

/* section: pub */

START_TEST(test_cli_pub_sub)
{
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("t/#"), "t/sync",
					  "{\"op\":\"msg\",\"topic\":\"t/sync\","
					  "\"from\":\"syncer\",\"data\":\"sync\"}");
	struct jt_proc *p;

	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "alice", "pub", "t/x",
				"{\"a\": [1, 2.50]}"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
	jt_proc_expect_line(sub, "{\"op\":\"msg\",\"topic\":\"t/x\",\"from\":\"alice\","
				 "\"data\":{\"a\": [1, 2.50]}}");
	/* no JSON argument: no data, delivered as null */
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "bob", "pub", "t/y"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub,
			    "{\"op\":\"msg\",\"topic\":\"t/y\",\"from\":\"bob\",\"data\":null}");
	jt_proc_signal(sub, SIGTERM);
	ck_assert_int_eq(jt_proc_wait(sub), 0);
	ck_assert_str_eq(jt_proc_rest(&sub->out), "");
	ck_assert_str_eq(sub->err.p, "");
}
END_TEST

START_TEST(test_cli_pub_lines)
{
	enum { LINES = 10000 };
	struct jt_proc *sub =
		jt_jbus_sub(JT_ARGV("--data", "-C", "10001", "big"), "big", "\"sync\"");
	char *input = malloc(LINES * 16), line[32];
	size_t len = 0;
	struct jt_proc *p;

	ck_assert_ptr_nonnull(input);
	for (int i = 0; i < LINES; i++)
		len += (size_t)sprintf(input + len, "{\"n\":%d}\n", i);
	p = jt_jbus_run_in(JT_ARGV("-s", jt_b.path, "pub", "-l", "big"), input, len);
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->err.p, "");
	for (int i = 0; i < LINES; i++) {
		snprintf(line, sizeof(line), "{\"n\":%d}", i);
		jt_proc_expect_line(sub, line);
	}
	ck_assert_int_eq(jt_proc_wait(sub), 0);
	ck_assert_str_eq(jt_proc_rest(&sub->out), "");
	free(input);
}
END_TEST

START_TEST(test_cli_pub_lines_errors)
{
	static const char input[] = "1\n{bad\n\n  \t\n\"x\"\r\n[2]";
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("--data", "e"), "e", "\"sync\"");
	struct jt_proc *p = jt_jbus_run_in(JT_ARGV("-s", jt_b.path, "pub", "-l", "e"), input,
					   sizeof(input) - 1);

	/* the bad line is reported and skipped, the others (the last without '\n') go out */
	ck_assert_int_eq(p->status, 1);
	ck_assert_str_eq(p->err.p, "jbus pub: line 2: invalid JSON at byte 1: expected a member "
				   "name\n");
	jt_proc_expect_line(sub, "1");
	jt_proc_expect_line(sub, "\"x\"");
	jt_proc_expect_line(sub, "[2]");
}
END_TEST

START_TEST(test_cli_pub_wait)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "--wait", "w", "1"));
	static const char two[] = "2\n3\n";

	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "delivered 0\n");
	jt_jbus_sub(JT_ARGV("--data", "w"), "w", "\"sync\"");
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "w", "--wait", "4"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "delivered 1\n");
	p = jt_jbus_run_in(JT_ARGV("-s", jt_b.path, "pub", "--wait", "-l", "w"), two,
			   sizeof(two) - 1);
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "delivered 1\ndelivered 1\n");
	ck_assert_str_eq(p->err.p, "");
}
END_TEST

START_TEST(test_cli_pub_string)
{
	static const char lines[] = "a b\nc\\d\n\n";
	struct jt_proc *sub = jt_jbus_sub(JT_ARGV("--data", "s"), "s", "\"sync\"");
	struct jt_proc *p;

	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "--string", "s",
				"he said \"hi\"\n\t\xc3\xa9 /"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "\"he said \\\"hi\\\"\\n\\t\xc3\xa9 /\"");
	/* text that merely looks like JSON stays text */
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "s", "--string", "42"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "\"42\"");
	p = jt_jbus_run_in(JT_ARGV("-s", jt_b.path, "pub", "-l", "--string", "s"), lines,
			   sizeof(lines) - 1);
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "\"a b\"");
	jt_proc_expect_line(sub, "\"c\\\\d\"");
	/* not UTF-8: cannot be a JSON string */
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "--string", "s", "\xff"));
	ck_assert_int_eq(p->status, 2);
	ck_assert_str_eq(p->err.p, "jbus pub: the text argument is not valid UTF-8\n"
				   "Try 'jbus pub --help' for more information.\n");
}
END_TEST

/* section: send */

START_TEST(test_cli_send)
{
	struct jt_proc *lst =
		jt_jbus_start(JT_ARGV("listen", "-s", jt_b.path, "lst", "-C", "3"), NULL, NULL, 0);
	struct jt_proc *p;

	jt_sync_send("lst");
	jt_proc_expect_line(lst, "{\"op\":\"msg\",\"from\":\"syncer\",\"to\":\"lst\","
				 "\"data\":\"sync\"}");
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "snd", "send", "lst", "{\"n\": 1e400}"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
	jt_proc_expect_line(lst, "{\"op\":\"msg\",\"from\":\"snd\",\"to\":\"lst\","
				 "\"data\":{\"n\": 1e400}}");
	p = jt_jbus_run(JT_ARGV("send", "--string", "lst", "hi", "-n", "snd", "-s", jt_b.path));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(lst,
			    "{\"op\":\"msg\",\"from\":\"snd\",\"to\":\"lst\",\"data\":\"hi\"}");
	ck_assert_int_eq(jt_proc_wait(lst), 0);
	ck_assert_str_eq(lst->err.p, "");
}
END_TEST

START_TEST(test_cli_send_unknown)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "send", "nobody", "1"));

	ck_assert_int_eq(p->status, 1);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "jbus send: no client named 'nobody' is connected\n");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "pub_sub", test_cli_pub_sub },
		{ "pub_lines", test_cli_pub_lines },
		{ "pub_lines_errors", test_cli_pub_lines_errors },
		{ "pub_wait", test_cli_pub_wait },
		{ "pub_string", test_cli_pub_string },
		{ "send", test_cli_send },
		{ "send_unknown", test_cli_send_unknown },
	};
	Suite *s = suite_create("cli_pub");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, jt_teardown, 60);
	return s;
}
