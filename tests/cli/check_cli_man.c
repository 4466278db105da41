/*
 * The man pages agree with the programs: the options the --help of jbusd,
 * of jbus and of each jbus subcommand define are exactly those the pages
 * document (a .TP or .TQ tag in the page's OPTIONS section, or in the
 * subcommand's .SS under SUBCOMMANDS), the subcommands of 'jbus --help'
 * are the page's and the README's, every function jbus.h exports has its
 * entry in libjbus(3), and the page's example program builds and prints
 * what the page says it prints. Everything is read from the help output
 * and the sources, never copied into this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_OPTS      64
#define MAX_SUBS      32

#if defined(__SANITIZE_ADDRESS__)
#define SAN_FLAGS "-fsanitize=address,undefined"
#else
#define SAN_FLAGS ""
#endif

/* section: the pages as text */

/*
 * The page without the roff escapes that do not change words: "\-" is
 * "-", "\e" is "\", and font changes (\fB, \fI, \fR, \fP) and "\:" and
 * "\&" go. Caller frees.
 */
static char *page(const char *name)
{
	char rel[64], *src, *out, *o;

	jt_fmt(rel, sizeof(rel), "man/%s", name);
	src = jt_read_src(rel);
	out = o = malloc(strlen(src) + 1);
	ck_assert_ptr_nonnull(out);
	for (const char *p = src; *p; p++) {
		if (p[0] == '\\' && p[1] == '-') {
			*o++ = '-';
			p++;
		} else if (p[0] == '\\' && p[1] == 'e') {
			*o++ = '\\';
			p++;
		} else if (p[0] == '\\' && p[1] == 'f' && p[2]) {
			p += 2;
		} else if (p[0] == '\\' && (p[1] == ':' || p[1] == '&')) {
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	free(src);
	return out;
}

/* The lines from the one equal to start (exclusive) to the next starting with one of ends. */
static char *region(const char *text, const char *start, const char *const *ends)
{
	char want[128], *r;
	const char *b, *e = NULL;

	jt_fmt(want, sizeof(want), "\n%s\n", start);
	b = strstr(text, want);
	ck_assert_msg(b != NULL, "no line '%s' in the page", start);
	b += strlen(want);
	for (const char *p = b - 1; p && *p && !e; p = strchr(p + 1, '\n'))
		for (const char *const *x = ends; *x && !e; x++)
			if (!strncmp(p + 1, *x, strlen(*x)))
				e = p + 1;
	if (!e)
		e = b + strlen(b);
	r = strndup(b, (size_t)(e - b));
	ck_assert_ptr_nonnull(r);
	return r;
}

/* The lines following .TP and .TQ in text: the tags. */
static char *tags(const char *text)
{
	size_t cap = strlen(text) + 1, n = 0;
	char *out = malloc(cap);

	ck_assert_ptr_nonnull(out);
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");

		if ((!strncmp(p, ".TP\n", 4) || !strncmp(p, ".TQ\n", 4)) && p[4]) {
			const char *t = p + 4;
			size_t tl = strcspn(t, "\n");

			memcpy(out + n, t, tl);
			n += tl;
			out[n++] = '\n';
		}
		p += len + (p[len] == '\n');
	}
	out[n] = '\0';
	return out;
}

/* The long options ("--name") written in text, each once, in order; returns how many. */
static size_t long_opts(const char *text, char (*names)[48], size_t max)
{
	size_t n = 0;

	for (const char *p = strstr(text, "--"); p; p = strstr(p + 2, "--")) {
		size_t len = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
		bool seen = false;

		if (len == 0 || len + 2 >= 48 ||
		    (p > text && p[-1] != ' ' && p[-1] != '\n' && p[-1] != '"' && p[-1] != '[' &&
		     p[-1] != '|'))
			continue;
		for (size_t i = 0; i < n; i++)
			seen |= strlen(names[i]) == len + 2 && !strncmp(names[i], p, len + 2);
		if (seen)
			continue;
		ck_assert_int_lt(n, max);
		memcpy(names[n], p, len + 2);
		names[n][len + 2] = '\0';
		n++;
	}
	return n;
}

/*
 * The options the tags of a page's region document are exactly the help's
 * options want[0..nwant) (skipping those in skip[0..nskip), documented
 * elsewhere); what names the region in messages.
 */
static void expect_documented(const char *region_text, const struct jt_opt *want, size_t nwant,
                              const struct jt_opt *skip, size_t nskip, const char *what)
{
	char *t = tags(region_text), names[MAX_OPTS][48];
	size_t n = long_opts(t, names, MAX_OPTS), expected = 0;

	for (size_t i = 0; i < nwant; i++) {
		bool found = false;

		if (jt_opts_have(skip, nskip, want[i].l))
			continue;
		expected++;
		for (size_t j = 0; j < n; j++)
			found |= !strcmp(names[j], want[i].l);
		ck_assert_msg(found, "%s: %s is in the help but not in the man page", what,
		              want[i].l);
	}
	for (size_t j = 0; j < n; j++)
		ck_assert_msg(jt_opts_have(want, nwant, names[j]) &&
		                      !jt_opts_have(skip, nskip, names[j]),
		              "%s: the man page documents %s, which the help does not have", what,
		              names[j]);
	ck_assert_int_eq(n, expected);
	free(t);
}

/* The help of jbus or of a subcommand, valid until the next call; the process is let go. */
static const char *jbus_help(const char *sub)
{
	struct jt_proc *p =
	        sub ? jt_jbus_run(JT_ARGV(sub, "--help")) : jt_jbus_run(JT_ARGV("--help"));
	static char out[16384];

	ck_assert_msg(p->status == 0, "jbus %s --help: exit %d: %s", sub ? sub : "", p->status,
	              p->err.p);
	ck_assert_int_lt(strlen(p->out.p), sizeof(out));
	strcpy(out, p->out.p);
	jt_proc_kill_all();
	return out;
}

/* section: tests */

START_TEST(test_man_jbusd_options)
{
	static char out[16384], err[4096];
	struct jt_opt opts[MAX_OPTS];
	char *text, *r;
	size_t n;

	ck_assert_int_eq(jt_run_jbusd_out(JT_ARGV("--help"), out, sizeof(out), err, sizeof(err),
	                                  JT_TIMEOUT_MS),
	                 0);
	n = jt_help_options(out, opts, MAX_OPTS);
	ck_assert_int_ge(n, 20);
	text = page("jbusd.8");
	r = region(text, ".SH OPTIONS", JT_ARGV(".SH "));
	expect_documented(r, opts, n, NULL, 0, "jbusd(8) OPTIONS");
	free(r);
	free(text);
}
END_TEST

/* The subcommands of 'jbus --help' and the .SS headings under SUBCOMMANDS, in order. */
START_TEST(test_man_jbus_subcommands)
{
	char subs[MAX_SUBS][32], *text, *r;
	size_t n = jt_help_subcommands(jbus_help(NULL), subs, MAX_SUBS), i = 0;

	text = page("jbus.1");
	r = region(text, ".SH SUBCOMMANDS", JT_ARGV(".SH "));
	for (const char *p = strstr(r, ".SS "); p; p = strstr(p + 1, "\n.SS ")) {
		char name[64];

		if (*p == '\n')
			p++;
		ck_assert_int_eq(sscanf(p, ".SS %63s", name), 1);
		ck_assert_msg(i < n, "jbus(1) documents '%s', not in 'jbus --help'", name);
		ck_assert_msg(!strcmp(name, subs[i]),
		              "jbus(1): subcommand %zu is '%s', the help's '%s'", i + 1, name,
		              subs[i]);
		i++;
	}
	ck_assert_msg(i == n, "jbus(1) documents %zu subcommands, 'jbus --help' lists %zu", i, n);
	free(r);
	free(text);
}
END_TEST

/*
 * The common options (those of 'jbus --help') in OPTIONS; each subcommand's
 * own options (its --help's, less the common ones) in its .SS.
 */
START_TEST(test_man_jbus_options)
{
	struct jt_opt common[MAX_OPTS], opts[MAX_OPTS];
	char subs[MAX_SUBS][32], *text, *r, head[64], what[64];
	size_t nc = jt_help_options(jbus_help(NULL), common, MAX_OPTS);
	size_t ns = jt_help_subcommands(jbus_help(NULL), subs, MAX_SUBS);

	ck_assert_int_ge(nc, 4);
	text = page("jbus.1");
	r = region(text, ".SH OPTIONS", JT_ARGV(".SH "));
	expect_documented(r, common, nc, NULL, 0, "jbus(1) OPTIONS");
	free(r);
	for (size_t i = 0; i < ns; i++) {
		size_t n = 0;

		/* 'help' is no subcommand with options of its own: 'jbus help --help' is an error
		 */
		if (strcmp(subs[i], "help"))
			n = jt_help_options(jbus_help(subs[i]), opts, MAX_OPTS);
		jt_fmt(head, sizeof(head), ".SS %s", subs[i]);
		jt_fmt(what, sizeof(what), "jbus(1) %s", subs[i]);
		r = region(text, head, JT_ARGV(".SS ", ".SH "));
		expect_documented(r, opts, n, common, nc, what);
		free(r);
	}
	free(text);
}
END_TEST

/*
 * The README's table of subcommands (rows "| `NAME ...` | ..." in "Use it
 * from the shell"), when it has one, lists those of 'jbus --help', in order.
 */
START_TEST(test_man_readme_subcommands)
{
	char subs[MAX_SUBS][32], *md = jt_read_src("README.md"), *sec, *end;
	size_t n = jt_help_subcommands(jbus_help(NULL), subs, MAX_SUBS), i = 0;

	sec = strstr(md, "\n## Use it from the shell\n");
	ck_assert_msg(sec != NULL, "README.md has no 'Use it from the shell' section");
	end = strstr(sec + 1, "\n## ");
	if (end)
		*end = '\0';
	for (const char *p = strstr(sec, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
		char name[32];

		ck_assert_int_eq(sscanf(p, "\n| `%31[^` ]", name), 1);
		ck_assert_msg(i < n, "README.md lists '%s', not in 'jbus --help'", name);
		ck_assert_msg(!strcmp(name, subs[i]),
		              "README.md: subcommand %zu is '%s', the help's '%s'", i + 1, name,
		              subs[i]);
		i++;
	}
	if (i == 0)
		fprintf(stderr, "NOTE: README.md has no table of subcommands to check\n");
	else
		ck_assert_msg(i == n, "README.md lists %zu subcommands, 'jbus --help' %zu", i, n);
	free(md);
}
END_TEST

/* Every function jbus.h exports has a tag "... name(" in libjbus(3). */
START_TEST(test_man_libjbus_functions)
{
	char *h = jt_read_src("client-lib/include/jbus.h"), *text = page("libjbus.3");
	char *t = tags(text);
	size_t n = 0;

	for (const char *p = strstr(h, "\nJBUS_EXPORT "); p; p = strstr(p + 1, "\nJBUS_EXPORT ")) {
		const char *paren = strchr(p, '('), *b = paren, *at;
		char call[80];
		bool found = false;

		ck_assert_ptr_nonnull(paren);
		while (b > p && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
		                 (b[-1] >= '0' && b[-1] <= '9')))
			b--;
		ck_assert_int_lt(paren - b, 64);
		jt_fmt(call, sizeof(call), "%.*s(", (int)(paren - b), b);
		/* "int jbus_x(" or "const char *jbus_x(" */
		for (at = strstr(t, call); at && !found; at = strstr(at + 1, call))
			found = at > t && (at[-1] == ' ' || at[-1] == '*');
		ck_assert_msg(found, "libjbus(3) has no entry for %s)", call);
		n++;
	}
	ck_assert_int_ge(n, 50);
	free(t);
	free(text);
	free(h);
}
END_TEST

/* The build directory: the parent of the directory holding this binary. */
static const char *builddir(void)
{
	static char p[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);

	ck_assert_int_gt(n, 0);
	p[n] = '\0';
	for (int i = 0; i < 2; i++)
		*strrchr(p, '/') = '\0';
	return p;
}

/*
 * The example of libjbus(3), as the page shows it: its program builds
 * against this build's libjbus, and run as the page runs it, against a
 * broker, it prints the lines the page shows.
 */
START_TEST(test_man_libjbus_example)
{
	char *text = page("libjbus.3"), *r, *prog, *shown, *e, src[PATH_MAX], bin[PATH_MAX];
	char cmd[4 * PATH_MAX], env[PATH_MAX + 16], want[1024] = "";
	struct jt_proc *p;

	r = region(text, ".SH EXAMPLES", JT_ARGV(".SH "));
	prog = strstr(r, "\n.EX\n");
	ck_assert_ptr_nonnull(prog);
	prog += 5;
	e = strstr(prog, "\n.EE\n");
	ck_assert_ptr_nonnull(e);
	e[1] = '\0';
	shown = strstr(e + 2, "\n.EX\n");
	ck_assert_msg(shown != NULL, "no second example block: how it is built and run");
	shown += 5;
	*strstr(shown, "\n.EE\n") = '\0';
	/* the lines after the commands ("$ ...") are the output */
	for (char *l = strtok(shown, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "$ ", 2)) {
			strncat(want, l, sizeof(want) - strlen(want) - 2);
			strcat(want, "\n");
		}
	ck_assert_str_ne(want, "");

	jt_fmt(src, sizeof(src), "%s/poll-example.c", jt_b.dir);
	jt_fmt(bin, sizeof(bin), "%s/poll-example", jt_b.dir);
	jt_write_file(src, prog);
	/* the static library: no run-time path to arrange, and sanitized builds link as they are */
	jt_fmt(cmd, sizeof(cmd),
	       "cc %s -I'%s/client-lib/include' -o '%s' '%s' '%s/libjbus.a' "
	       "$(pkg-config --cflags --libs json-c) -lm",
	       SAN_FLAGS, jt_srcdir(), bin, src, builddir());
	p = jt_proc_run(JT_ARGV("/bin/sh", "-c", cmd), NULL, NULL, 0);
	ck_assert_msg(p->status == 0, "the example does not build: %s\n%s", cmd, p->err.p);
	jt_fmt(env, sizeof(env), "JBUS_SOCKET=%s", jt_b.path);
	p = jt_proc_run(JT_ARGV(bin), JT_ARGV(env), NULL, 0);
	ck_assert_msg(p->status == 0, "the example exits %d: %s", p->status, p->err.p);
	ck_assert_str_eq(p->out.p, want);
	free(r);
	free(text);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
	        {"jbusd_options", test_man_jbusd_options},
	        {"jbus_subcommands", test_man_jbus_subcommands},
	        {"jbus_options", test_man_jbus_options},
	        {"readme_subcommands", test_man_readme_subcommands},
	        {"libjbus_functions", test_man_libjbus_functions},
	};
	Suite *s = suite_create("cli_man");
	TCase *tc;

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup_dir, jt_teardown, 0);
	/* a compiler under load, or an instrumented build: a generous limit */
	tc = jt_tcase(s, "libjbus_example", jt_setup, jt_teardown, 300);
	tcase_add_test(tc, test_man_libjbus_example);
	return s;
}
