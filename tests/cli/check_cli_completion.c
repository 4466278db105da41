/*
 * The shell completion of contrib/completion/: bash runs the script,
 * with COMP_WORDS and COMP_CWORD set as bash sets them, and COMPREPLY must
 * hold the subcommands and options of the help of the jbus being
 * completed ($JBUS), the clients connected to the fixture's broker for the
 * target of send and call (the socket found from -s, --socket=, a cluster
 * -sPATH or $JBUS_SOCKET), and the values of --on-full. The zsh script is
 * checked with zsh -n, and run with the completion system's functions
 * replaced by ones that print what they are given; without zsh that part
 * is left out, with a note.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_OPTS      64
#define MAX_SUBS      32
#define MAX_WORDS     16

static const char bash_run[] =
        "source \"$1\" || exit 9; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
        "COMPREPLY=(); _jbus; ((${#COMPREPLY[@]} == 0)) || printf '%s\\n' \"${COMPREPLY[@]}\"";

static const char zsh_run[] =
        "source \"$1\" || exit 9; shift; "
        "compadd() { [[ $1 == -- ]] && shift; print -rl -- \"$@\"; }; "
        "_describe() { local n=${@[-1]}; print -rl -- ${${(P)n}%%:*}; }; "
        "_files() { print -r -- '<files>'; }; _command_names() { print -r -- '<commands>'; }; "
        "compset() { :; }; words=(\"$@\"); CURRENT=$#; _jbus";

/*
 * What the completion of words (the command line, the last one being completed) offers,
 * valid until the next call. The finished processes are let go (a test may only have 16).
 */
static const char *complete_with(const char *shell, const char *const *words, const char *env)
{
	static char out[16384];
	const char *argv[MAX_WORDS + 6];
	char script[PATH_MAX];
	struct jt_proc *p;
	size_t n = 0;
	bool zsh = !strcmp(shell, "zsh");

	jt_fmt(script, sizeof(script), "%s/contrib/completion/%s", jt_srcdir(),
	       zsh ? "_jbus" : "jbus.bash");
	argv[n++] = zsh ? "/usr/bin/env" : "/bin/bash";
	if (zsh) {
		argv[n++] = "zsh";
		argv[n++] = "-f";
	}
	argv[n++] = "-c";
	argv[n++] = zsh ? zsh_run : bash_run;
	argv[n++] = shell;
	argv[n++] = script;
	argv[n++] = jt_jbus();
	for (; *words; words++) {
		ck_assert_int_lt(n, ARRAY_SIZE(argv) - 1);
		argv[n++] = *words;
	}
	argv[n] = NULL;
	p = jt_proc_run(argv, env ? JT_ARGV(env) : NULL, NULL, 0);
	ck_assert_msg(p->status == 0, "%s completion: exit %d: %s", shell, p->status, p->err.p);
	ck_assert_int_lt(strlen(p->out.p), sizeof(out));
	strcpy(out, p->out.p);
	jt_proc_kill_all();
	return out;
}

static const char *complete(const char *const *words, const char *env)
{
	return complete_with("bash", words, env);
}

/* The lines of got, whatever their order, are exactly want[0..n). */
static void expect_set(const char *got, const char *const *want, size_t n, const char *what)
{
	size_t lines = 0;

	for (const char *p = got; *p; p += strcspn(p, "\n") + 1) {
		size_t len = strcspn(p, "\n");
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found |= strlen(want[i]) == len && !strncmp(want[i], p, len);
		ck_assert_msg(found, "%s: '%.*s' offered, not expected; offered:\n%s", what,
		              (int)len, p, got);
		lines++;
		if (!p[len])
			break;
	}
	ck_assert_msg(lines == n, "%s: %zu offered, %zu expected; offered:\n%s", what, lines, n,
	              got);
}

/* The help of jbus or of a subcommand, valid until the next call. */
static const char *jbus_help(const char *sub)
{
	struct jt_proc *p =
	        sub ? jt_jbus_run(JT_ARGV(sub, "--help")) : jt_jbus_run(JT_ARGV("--help"));
	static char out[16384];

	ck_assert_int_eq(p->status, 0);
	ck_assert_int_lt(strlen(p->out.p), sizeof(out));
	strcpy(out, p->out.p);
	jt_proc_kill_all();
	return out;
}

/* The subcommands of 'jbus --help', as a NULL-terminated list of names[] entries. */
static size_t subcommands(char (*names)[32], const char **list)
{
	size_t n = jt_help_subcommands(jbus_help(NULL), names, MAX_SUBS);

	for (size_t i = 0; i < n; i++)
		list[i] = names[i];
	list[n] = NULL;
	return n;
}

/*
 * What completing "-" after sub offers: every spelling of its help's options
 * (list points into a static table: valid until the next call).
 */
static size_t option_words(const char *sub, char (*buf)[48], const char **list)
{
	static struct jt_opt o[MAX_OPTS];
	size_t n = jt_help_options(jbus_help(sub), o, MAX_OPTS), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (o[i].s[0])
			list[k++] = o[i].s;
		list[k++] = o[i].l;
		if (o[i].opt_arg) {
			jt_fmt(buf[i], sizeof(buf[i]), "%s=", o[i].l);
			list[k++] = buf[i];
		}
	}
	return k;
}

/* section: tests */

START_TEST(test_completion_subcommands)
{
	char names[MAX_SUBS][32];
	const char *list[MAX_SUBS + 1];
	size_t n = subcommands(names, list);

	expect_set(complete(JT_ARGV(""), NULL), list, n, "jbus <TAB>");
	expect_set(complete(JT_ARGV("-s", "x.sock", "-n", "me", ""), NULL), list, n,
	           "jbus -s x.sock -n me <TAB>");
	expect_set(complete(JT_ARGV("p"), NULL), JT_ARGV("pub", "ping"), 2, "jbus p<TAB>");
	/* help names the others */
	expect_set(complete(JT_ARGV("help", ""), NULL), list, n - 1, "jbus help <TAB>");
	ck_assert_str_eq(list[n - 1], "help");
}
END_TEST

/* Each subcommand's options are those of its help, the common ones included. */
START_TEST(test_completion_options)
{
	char names[MAX_SUBS][32], buf[MAX_OPTS][48];
	const char *subs[MAX_SUBS + 1], *list[3 * MAX_OPTS];
	size_t ns = subcommands(names, subs), n;

	n = option_words(NULL, buf, list);
	expect_set(complete(JT_ARGV("-"), NULL), list, n, "jbus -<TAB>");
	for (size_t i = 0; i < ns; i++) {
		char what[64];

		if (!strcmp(subs[i], "help"))
			continue;
		n = option_words(subs[i], buf, list);
		jt_fmt(what, sizeof(what), "jbus %s -<TAB>", subs[i]);
		expect_set(complete(JT_ARGV(subs[i], "-"), NULL), list, n, what);
		/* after an argument too: options may follow the arguments */
		expect_set(complete(JT_ARGV(subs[i], "x", "-"), NULL), list, n, what);
	}
	expect_set(complete(JT_ARGV("pub", "--d"), NULL), JT_ARGV("--dgram", "--dgram="), 2,
	           "jbus pub --d<TAB>");
	/* after '--' nothing is an option */
	expect_set(complete(JT_ARGV("pub", "t", "--", "-"), NULL), NULL, 0, "jbus pub t -- -<TAB>");
}
END_TEST

START_TEST(test_completion_values)
{
	char lock[PATH_MAX + 8];
	const char *modes[] = {"disconnect", "drop", "latest"};

	expect_set(complete(JT_ARGV("sub", "--on-full", ""), NULL), modes, 3,
	           "jbus sub --on-full <TAB>");
	/* bash splits --on-full=l at the '=' */
	expect_set(complete(JT_ARGV("listen", "--on-full", "=", "l"), NULL), JT_ARGV("latest"), 1,
	           "jbus listen --on-full=l<TAB>");
	/* -s and --dgram= complete file names: the socket and its lock file */
	jt_fmt(lock, sizeof(lock), "%s.lock", jt_b.path);
	expect_set(complete(JT_ARGV("-s", jt_b.path), NULL), JT_ARGV(jt_b.path, lock), 2,
	           "jbus -s SOCKET<TAB>");
	expect_set(complete(JT_ARGV("pub", "--dgram", "=", jt_b.path), NULL),
	           JT_ARGV(jt_b.path, lock), 2, "jbus pub --dgram=SOCKET<TAB>");
	/* the command of serve, then its arguments */
	ck_assert_ptr_nonnull(strstr(complete(JT_ARGV("serve", "x", "--", "ech"), NULL), "echo\n"));
	expect_set(complete(JT_ARGV("serve", "x", "--", "cat", jt_b.path), NULL),
	           JT_ARGV(jt_b.path, lock), 2, "jbus serve x -- cat SOCKET<TAB>");
}
END_TEST

/* The clients of the broker the command line names; the listing's own connection left out. */
START_TEST(test_completion_clients)
{
	const char *names[] = {"alice", "bob"};
	char env[PATH_MAX + 16], cluster[PATH_MAX + 4];

	jt_client("alice");
	jt_client("bob");
	expect_set(complete(JT_ARGV("-s", jt_b.path, "send", ""), NULL), names, 2,
	           "jbus -s SOCKET send <TAB>");
	expect_set(complete(JT_ARGV("call", "--socket", "=", jt_b.path, "a"), NULL), names, 1,
	           "jbus call --socket=SOCKET a<TAB>");
	jt_fmt(cluster, sizeof(cluster), "-s%s", jt_b.path);
	expect_set(complete(JT_ARGV("send", cluster, ""), NULL), names, 2,
	           "jbus send -sSOCKET <TAB>");
	jt_fmt(env, sizeof(env), "JBUS_SOCKET=%s", jt_b.path);
	expect_set(complete(JT_ARGV("call", ""), env), names, 2,
	           "JBUS_SOCKET=SOCKET jbus call <TAB>");
	/* only the target: not the data */
	expect_set(complete(JT_ARGV("-s", jt_b.path, "send", "alice", ""), NULL), NULL, 0,
	           "jbus send alice <TAB>");
	/* no broker there: nothing, at once */
	expect_set(complete(JT_ARGV("-s", "/nonexistent/jbus.sock", "send", ""), NULL), NULL, 0,
	           "jbus -s NONE send <TAB>");
}
END_TEST

START_TEST(test_completion_zsh)
{
	char script[PATH_MAX], names[MAX_SUBS][32], buf[MAX_OPTS][48];
	const char *subs[MAX_SUBS + 1], *list[3 * MAX_OPTS];
	struct jt_proc *p;
	size_t ns, n;

	p = jt_proc_run(JT_ARGV("/bin/sh", "-c", "command -v zsh"), NULL, NULL, 0);
	if (p->status != 0) {
		fprintf(stderr, "SKIP: zsh is not installed (make check-man installs it); "
		                "the zsh completion is not checked\n");
		return;
	}
	jt_fmt(script, sizeof(script), "%s/contrib/completion/_jbus", jt_srcdir());
	p = jt_proc_run(JT_ARGV("/usr/bin/env", "zsh", "-n", script), NULL, NULL, 0);
	ck_assert_msg(p->status == 0, "zsh -n %s: %s", script, p->err.p);

	ns = subcommands(names, subs);
	expect_set(complete_with("zsh", JT_ARGV(""), NULL), subs, ns, "zsh: jbus <TAB>");
	n = option_words("pub", buf, list);
	expect_set(complete_with("zsh", JT_ARGV("pub", "-"), NULL), list, n,
	           "zsh: jbus pub -<TAB>");
	n = option_words("sub", buf, list);
	expect_set(complete_with("zsh", JT_ARGV("sub", "x", "-"), NULL), list, n,
	           "zsh: jbus sub x -<TAB>");
	expect_set(complete_with("zsh", JT_ARGV("-s", "/tm"), NULL), JT_ARGV("<files>"), 1,
	           "zsh: jbus -s /tm<TAB>");
	expect_set(complete_with("zsh", JT_ARGV("pub", "--dgram=/tm"), NULL), JT_ARGV("<files>"), 1,
	           "zsh: jbus pub --dgram=/tm<TAB>");
	expect_set(complete_with("zsh", JT_ARGV("sub", "--on-full", ""), NULL),
	           JT_ARGV("disconnect", "drop", "latest"), 3, "zsh: jbus sub --on-full <TAB>");
	jt_client("carol");
	expect_set(complete_with("zsh", JT_ARGV("call", "--socket=x", "-s", jt_b.path, ""), NULL),
	           JT_ARGV("carol"), 1, "zsh: jbus call -s SOCKET <TAB>");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
	        {"subcommands", test_completion_subcommands},
	        {"options", test_completion_options},
	        {"values", test_completion_values},
	        {"clients", test_completion_clients},
	        {"zsh", test_completion_zsh},
	};
	Suite *s = suite_create("cli_completion");

	/* many shells and jbus runs per test: a generous limit under load */
	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, jt_teardown, 120);
	return s;
}
