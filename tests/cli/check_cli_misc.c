/*
 * The jbus tool as a whole, run as a program ($JBUS, else build/jbus):
 * ping, the common options before and after the subcommand, the message
 * and status when no broker listens (the path tried named, the default
 * path from the environment), usage errors, --help and --version.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "jt.h"

/* section: with a broker */

START_TEST(test_cli_ping)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("ping", "-c", "3", "-s", jt_b.path));
	const char *line;
	int n = 0;

	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->err.p, "");
	while ((line = jt_proc_line(p, &p->out))) {
		char prefix[PATH_MAX + 32], tail[8] = "";
		double ms = -1;

		snprintf(prefix, sizeof(prefix), "pong from %s: time=", jt_b.path);
		ck_assert_msg(!strncmp(line, prefix, strlen(prefix)), "line: %s", line);
		ck_assert_int_eq(sscanf(line + strlen(prefix), "%lf %7s", &ms, tail), 2);
		ck_assert(ms >= 0);
		ck_assert_str_eq(tail, "ms");
		n++;
	}
	ck_assert_int_eq(n, 3);
}
END_TEST

/* Common options work before and after the subcommand, and -- ends the options. */
START_TEST(test_cli_common_options)
{
	struct jt_proc *sub =
		jt_jbus_sub(JT_ARGV("co", "-n", "watcher", "-v"), "co", "co \"sync\"");
	struct jt_proc *p;

	ck_assert_int_eq(jt_jbus_run(JT_ARGV("pub", "co", "-5", "-s", jt_b.path))->status, 2);
	ck_assert_int_eq(jt_jbus_run(JT_ARGV("pub", "co", "-s", jt_b.path, "--", "-5"))->status, 0);
	jt_proc_expect_line(sub, "co -5");
	/* the later of two -s wins */
	p = jt_jbus_run(JT_ARGV("-s", "/nonexistent/x.sock", "send", "-n", "s2", "-s", jt_b.path,
				"watcher", "1"));
	ck_assert_int_eq(p->status, 0);
	jt_proc_expect_line(sub, "@s2 1");
	ck_assert_int_eq(jt_jbus_run(JT_ARGV("ping", "-s", jt_b.path))->status, 0);
	ck_assert_int_eq(jt_jbus_run(JT_ARGV("-s", jt_b.path, "ping"))->status, 0);
}
END_TEST

/* section: errors without a broker */

START_TEST(test_cli_no_broker)
{
	static const char *const cmds[][3] = {
		{ "ping", NULL }, { "pub", "t", "1" }, { "sub", "t", NULL },
		{ "send", "x", "1" }, { "listen", NULL },
	};
	char path[PATH_MAX], want[PATH_MAX + 128];
	struct jt_proc *p;

	snprintf(path, sizeof(path), "%s/none.sock", jt_b.dir);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		p = jt_jbus_run(JT_ARGV("-s", path, cmds[i][0], cmds[i][1], cmds[i][2]));
		ck_assert_int_eq(p->status, 1);
		snprintf(want, sizeof(want),
			 "jbus %s: cannot connect to %s: no broker socket at that path\n",
			 cmds[i][0], path);
		ck_assert_str_eq(p->err.p, want);
		ck_assert_str_eq(p->out.p, "");
	}
}
END_TEST

/* Without -s the default path is the one named: $JBUS_SOCKET, else $XDG_RUNTIME_DIR/jbus.sock. */
START_TEST(test_cli_no_broker_default_path)
{
	char env1[PATH_MAX + 16], env2[PATH_MAX + 32], want[PATH_MAX + 128];
	struct jt_proc *p;

	snprintf(env1, sizeof(env1), "JBUS_SOCKET=%s/env.sock", jt_b.dir);
	p = jt_jbus_start(JT_ARGV("ping"), JT_ARGV(env1), NULL, 0);
	ck_assert_int_eq(jt_proc_wait(p), 1);
	snprintf(want, sizeof(want), "jbus ping: cannot connect to %s/env.sock: %s\n", jt_b.dir,
		 "no broker socket at that path");
	ck_assert_str_eq(p->err.p, want);

	snprintf(env2, sizeof(env2), "XDG_RUNTIME_DIR=%s", jt_b.dir);
	p = jt_jbus_start(JT_ARGV("ping"), JT_ARGV("JBUS_SOCKET=", env2), NULL, 0);
	ck_assert_int_eq(jt_proc_wait(p), 1);
	snprintf(want, sizeof(want), "jbus ping: cannot connect to %s/jbus.sock: %s\n", jt_b.dir,
		 "no broker socket at that path");
	ck_assert_str_eq(p->err.p, want);
}
END_TEST

/* A socket file nobody listens on (a crashed broker's) is "refused", also a runtime failure. */
START_TEST(test_cli_no_broker_stale)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char want[PATH_MAX + 128];
	struct jt_proc *p;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%.96s/stale.sock", jt_b.dir),
			 (int)sizeof(sa.sun_path));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	p = jt_jbus_run(JT_ARGV("-s", sa.sun_path, "pub", "t"));
	ck_assert_int_eq(p->status, 1);
	snprintf(want, sizeof(want), "jbus pub: cannot connect to %s: %s\n", sa.sun_path,
		 "no broker listening on that socket");
	ck_assert_str_eq(p->err.p, want);
}
END_TEST

/*
 * Usage errors: status 2, the message, then a pointer to --help; all found
 * before connecting (the socket here does not exist, which would be 1).
 */
static const struct {
	const char *args[6];
	const char *msg;
} usage_cases[] = {
	{ { NULL }, "jbus: missing subcommand" },
	{ { "frob" }, "jbus: unknown subcommand 'frob'" },
	{ { "--bogus", "ping" }, "jbus: unknown option '--bogus'" },
	{ { "pub", "--bogus", "t" }, "jbus pub: unknown option '--bogus'" },
	{ { "sub", "-x", "t" }, "jbus sub: unknown option '-x'" },
	{ { "pub" }, "jbus pub: missing TOPIC" },
	{ { "pub", "t", "1", "2" }, "jbus pub: unexpected argument '2'" },
	{ { "pub", "t", "{bad" },
	  "jbus pub: invalid JSON argument at byte 1: expected a member name" },
	{ { "pub", "t", "[1,]" }, "jbus pub: invalid JSON argument at byte 3: expected a value" },
	{ { "pub", "t", "1 2" },
	  "jbus pub: invalid JSON argument at byte 2: unexpected bytes after the JSON value" },
	{ { "send", "x", "tru" }, "jbus send: invalid JSON argument at byte 0: invalid literal" },
	{ { "pub", "-l", "t", "1" },
	  "jbus pub: with -l the data comes from standard input, not from an argument ('1')" },
	{ { "pub", "--string", "t" }, "jbus pub: --string needs the text to send as an argument" },
	{ { "send" }, "jbus send: missing NAME" },
	{ { "sub" }, "jbus sub: missing PATTERN" },
	{ { "sub", "-C" }, "jbus sub: option '-C' needs a value" },
	{ { "sub", "t", "--count" }, "jbus sub: option '--count' needs a value" },
	{ { "sub", "-C", "0", "t" }, "jbus sub: invalid -C value '0' (a positive integer)" },
	{ { "sub", "-C", "-1", "t" }, "jbus sub: invalid -C value '-1' (a positive integer)" },
	{ { "sub", "-C", "2x", "t" }, "jbus sub: invalid -C value '2x' (a positive integer)" },
	{ { "sub", "-W", "abc", "t" }, "jbus sub: invalid -W value 'abc' (seconds, 0.001 to 1e9)" },
	{ { "sub", "-W", "0", "t" }, "jbus sub: invalid -W value '0' (seconds, 0.001 to 1e9)" },
	{ { "sub", "-W", "nan", "t" }, "jbus sub: invalid -W value 'nan' (seconds, 0.001 to 1e9)" },
	{ { "sub", "-v", "--data", "t" }, "jbus sub: --data and -v exclude each other" },
	{ { "sub", "-t", "x", "t" }, "jbus sub: unknown option '-t'" },
	{ { "listen", "a", "b" }, "jbus listen: unexpected argument 'b'" },
	{ { "listen", "-n", "a", "b" }, "jbus listen: two names given: 'a' and 'b'" },
	{ { "listen", "bad name" },
	  "jbus listen: invalid client name 'bad name' ([A-Za-z0-9._-], 1 to 64 characters)" },
	{ { "ping", "x" }, "jbus ping: unexpected argument 'x'" },
	{ { "ping", "-c", "many" }, "jbus ping: invalid -c value 'many' (a positive integer)" },
	{ { "help", "frob" }, "jbus: unknown subcommand 'frob'" },
};

START_TEST(test_cli_usage)
{
	const char *argv[12] = { "-s" };
	char path[PATH_MAX], want[512];
	const char *sub;
	struct jt_proc *p;
	int n = 2;

	snprintf(path, sizeof(path), "%s/none.sock", jt_b.dir);
	argv[1] = path;
	for (const char *const *a = usage_cases[_i].args; *a; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	p = jt_jbus_run(argv);
	ck_assert_msg(p->status == 2, "%s: status %d, stderr %s", usage_cases[_i].msg, p->status,
		      p->err.p);
	ck_assert_str_eq(p->out.p, "");
	/* the hint names the subcommand the message is about */
	sub = usage_cases[_i].msg + 4;
	snprintf(want, sizeof(want), "%s\nTry 'jbus%.*s --help' for more information.\n",
		 usage_cases[_i].msg, (int)strcspn(sub, ":"), sub);
	ck_assert_str_eq(p->err.p, want);
}
END_TEST

/* section: help and version */

static const char *const subcommands[] = { "pub",  "sub",   "send",    "listen",  "ping", "call",
					   "serve", "wait", "stats", "clients", "monitor" };

/* Every one of the n runs exits 0 with nothing on stderr and the help the first printed. */
static void expect_same_help(struct jt_proc *const *runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(runs[i]->status, 0);
		ck_assert_str_eq(runs[i]->err.p, "");
		ck_assert_str_eq(runs[i]->out.p, runs[0]->out.p);
	}
}

START_TEST(test_cli_help)
{
	struct jt_proc *a = jt_jbus_run(JT_ARGV("--help")), *b = jt_jbus_run(JT_ARGV("-h")),
		       *c = jt_jbus_run(JT_ARGV("help"));

	expect_same_help((struct jt_proc *[]){ a, b, c }, 3);
	ck_assert_msg(!strncmp(a->out.p, "Usage: jbus [OPTION]... SUBCOMMAND [ARG]...\n", 44), "%s",
		      a->out.p);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		char want[32];

		snprintf(want, sizeof(want), "\n  %s ", subcommands[i]);
		ck_assert_msg(strstr(a->out.p, want), "no '%s' in jbus --help", subcommands[i]);
	}
	ck_assert_ptr_nonnull(strstr(a->out.p, "-s, --socket PATH"));
	ck_assert_ptr_nonnull(strstr(a->out.p, "Exit status: 0"));
}
END_TEST

/* jbus SUB --help, jbus SUB -h, jbus help SUB and --help among other arguments agree. */
START_TEST(test_cli_help_subcommand)
{
	const char *sub = subcommands[_i];
	struct jt_proc *a = jt_jbus_run(JT_ARGV(sub, "--help")),
		       *b = jt_jbus_run(JT_ARGV(sub, "-h")),
		       *c = jt_jbus_run(JT_ARGV("help", sub)),
		       *d = jt_jbus_run(JT_ARGV(sub, "x", "--help"));
	char want[64];

	expect_same_help((struct jt_proc *[]){ a, b, c, d }, 4);
	snprintf(want, sizeof(want), "Usage: jbus %s [OPTION]...", sub);
	ck_assert_msg(!strncmp(a->out.p, want, strlen(want)), "%s", a->out.p);
	ck_assert_ptr_nonnull(strstr(a->out.p, "Common options"));
	ck_assert_ptr_nonnull(strstr(a->out.p, "Exit status"));
}
END_TEST

START_TEST(test_cli_version)
{
	static const char *const forms[][2] = { { "--version" }, { "-V" }, { "pub", "--version" } };

	for (size_t i = 0; i < 3; i++) {
		struct jt_proc *p = jt_jbus_run(JT_ARGV(forms[i][0], forms[i][1]));

		ck_assert_int_eq(p->status, 0);
		ck_assert_str_eq(p->out.p, "jbus " JBUS_VERSION "\n");
		ck_assert_str_eq(p->err.p, "");
	}
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case with_broker[] = {
		{ "ping", test_cli_ping },
		{ "common_options", test_cli_common_options },
	};
	const struct jt_case without_broker[] = {
		{ "no_broker", test_cli_no_broker },
		{ "no_broker_default_path", test_cli_no_broker_default_path },
		{ "no_broker_stale", test_cli_no_broker_stale },
		{ "usage", test_cli_usage, sizeof(usage_cases) / sizeof(usage_cases[0]) },
		{ "help", test_cli_help },
		{ "help_subcommand", test_cli_help_subcommand,
		  sizeof(subcommands) / sizeof(subcommands[0]) },
		{ "version", test_cli_version },
	};
	Suite *s = suite_create("cli_misc");

	jt_add_cases(s, with_broker, sizeof(with_broker) / sizeof(with_broker[0]), jt_setup,
		     jt_teardown, 60);
	jt_add_cases(s, without_broker, sizeof(without_broker) / sizeof(without_broker[0]),
		     jt_setup_dir, jt_teardown, 60);
	return s;
}
