/*
 * Build-level guarantees of libjbus, checked with the tools a user has:
 * jbus.h compiles on its own as strict C and as C++; the shared library
 * exports exactly the functions jbus.h declares JBUS_EXPORT (nm), each of
 * them links, and its soname is libjbus.so.0 (readelf); `make install`
 * with DESTDIR and PREFIX stages the documented files (the man pages with
 * the version filled in and the shell completions too, in BASHCOMPDIR and
 * ZSHCOMPDIR when given) and `make uninstall` removes them all, and programs
 * outside the tree (examples/publish.c, and the README's "Use it from C"
 * program with its compile line exactly as written) build against the
 * staged install through pkg-config and exchange messages with a broker.
 *
 * Sources come from $JBUS_SRCDIR (else the current directory), the build
 * directory is the one this test binary lives in (<build>/tests/), and
 * `make install` runs with that BUILD and, in an AddressSanitizer build,
 * SANITIZE=1: the staged library is then instrumented, so the programs
 * built against it run with the sanitizer runtime preloaded, as any
 * program using such a library must. $JBUS_README names another Markdown
 * file to take the README program from (for checking a draft).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jbus.h>

#include "jt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define OUT_MAX (256 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#define SAN_FLAGS "-fsanitize=address,undefined"
#else
#define SANITIZED 0
#define SAN_FLAGS ""
#endif

static char *out; /* output of the last command, fixture-owned */
static jbus_conn *sub;

static void setup(void)
{
	out = malloc(OUT_MAX);
	ck_assert_ptr_nonnull(out);
	jt_setup();
}

static void teardown(void)
{
	free(out);
	out = NULL;
	sub = jbus_conn_free(sub);
	jt_teardown();
}

/* section: paths and commands */

static const char *srcdir(void)
{
	static char p[PATH_MAX];
	const char *s = getenv("JBUS_SRCDIR");

	ck_assert_msg(realpath(s && *s ? s : ".", p), "source directory: %s", strerror(errno));
	return p;
}

/* The build directory: the parent of the directory holding this binary. */
static const char *builddir(void)
{
	static char p[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);
	char *slash;

	ck_assert_int_gt(n, 0);
	p[n] = '\0';
	for (int i = 0; i < 2; i++) {
		slash = strrchr(p, '/');
		ck_assert_ptr_nonnull(slash);
		*slash = '\0';
	}
	return p;
}

/* BUILD as make wants it: relative to the source tree when inside it. */
static const char *build_for_make(void)
{
	const char *src = srcdir(), *b = builddir();
	size_t n = strlen(src);

	if (strncmp(b, src, n) == 0 && b[n] == '/')
		return b + n + 1;
	return b;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * Run a shell command line (stdin /dev/null, stdout and stderr into out)
 * with a deadline; returns its exit status, -1 if killed. The make
 * variables of an enclosing `make check` are not passed on: the command
 * says what it wants.
 */
static int sh(int timeout_ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(int timeout_ms, const char *fmt, ...)
{
	int64_t deadline = jt_now_ms() + timeout_ms;
	size_t len = 0;
	char *cmd = NULL;
	va_list ap;
	int p[2], st;
	pid_t pid;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0); /* a timeout kills the whole command */
		dup2(null, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		unsetenv("MAKEFLAGS");
		unsetenv("MFLAGS");
		unsetenv("MAKELEVEL");
		unsetenv("MAKEOVERRIDES");
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd f = { .fd = p[0], .events = POLLIN };
		int64_t left = deadline - jt_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&f, 1, (int)left) <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(p[0]);
			out[len] = '\0';
			ck_abort_msg("still running after %d ms: %s\n%s", timeout_ms, cmd, out);
		}
		n = read(p[0], out + len, OUT_MAX - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == OUT_MAX - 1)
			len = 0; /* keep the end, which says what went wrong */
	}
	out[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The command must succeed; its output is in out. */
#define sh_ok(timeout_ms, ...)                                                                     \
	do {                                                                                       \
		int st_ = sh(timeout_ms, __VA_ARGS__);                                             \
		ck_assert_msg(st_ == 0, "exit %d:\n%s", st_, out);                                 \
	} while (0)

static bool have(const char *tool)
{
	if (sh(JT_TIMEOUT_MS, "command -v %s", tool) == 0)
		return true;
	fprintf(stderr, "SKIP: %s is not installed; that check is left out\n", tool);
	return false;
}

/* Every function jbus.h declares with JBUS_EXPORT, in order; returns the count. */
static size_t declared(char names[][64], size_t max)
{
	char path[PATH_MAX];
	char *h, *line, *save = NULL;
	size_t n = 0;

	jt_fmt(path, sizeof(path), "%s/client-lib/include/jbus.h", srcdir());
	h = read_file(path);
	ck_assert_msg(h != NULL, "%s: %s", path, strerror(errno));
	for (line = strtok_r(h, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *paren, *end;

		if (strncmp(line, "JBUS_EXPORT ", 12) != 0)
			continue;
		paren = strchr(line, '(');
		ck_assert_msg(paren != NULL, "no '(' in: %s", line);
		end = paren;
		while (end > line && (end[-1] == '_' || (end[-1] >= 'a' && end[-1] <= 'z') ||
				      (end[-1] >= '0' && end[-1] <= '9')))
			end--;
		ck_assert_int_lt(n, max);
		ck_assert_int_lt(paren - end, 64);
		memcpy(names[n], end, (size_t)(paren - end));
		names[n][paren - end] = '\0';
		n++;
	}
	free(h);
	return n;
}

/* section: the header */

START_TEST(test_build_header_c)
{
	static const char *const stds[] = { "c99", "c11", "c17" };
	char file[PATH_MAX];

	if (!have("cc"))
		return;
	/* alone: nothing included before it */
	jt_fmt(file, sizeof(file), "%s/alone.c", jt_b.dir);
	jt_write_file(file, "#include <jbus.h>\n#include <jbus.h>\n");
	for (size_t i = 0; i < ARRAY_SIZE(stds); i++)
		sh_ok(60000,
		      "cc -std=%s -fsyntax-only -Wall -Wextra -Werror -pedantic "
		      "-Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wundef -Wcast-qual "
		      "-Wconversion -Wsign-conversion -Wredundant-decls -I'%s/client-lib/include' "
		      "$(pkg-config --cflags json-c) '%s'",
		      stds[i], srcdir(), file);
}
END_TEST

START_TEST(test_build_header_cxx)
{
	static const char *const stds[] = { "c++11", "c++17" };
	char file[PATH_MAX];

	if (!have("c++"))
		return;
	jt_fmt(file, sizeof(file), "%s/alone.c", jt_b.dir);
	jt_write_file(file, "#include <jbus.h>\n");
	for (size_t i = 0; i < ARRAY_SIZE(stds); i++)
		sh_ok(60000,
		      "c++ -std=%s -fsyntax-only -x c++ -Wall -Wextra -Werror -pedantic -Wshadow "
		      "-Wundef -Wold-style-cast -I'%s/client-lib/include' "
		      "$(pkg-config --cflags json-c) '%s'",
		      stds[i], srcdir(), file);
	/* and a C++ program links with the C library: the extern "C" block is right */
	jt_fmt(file, sizeof(file), "%s/prog.cc", jt_b.dir);
	jt_write_file(file,
		      "#include <jbus.h>\n#include <cstdio>\n"
		      "int main() { std::puts(jbus_error_name(JBUS_E_CLOSED)); return 0; }\n");
	sh_ok(60000,
	      "cd '%s' && c++ %s -o prog prog.cc -I'%s/client-lib/include' -L'%s' -ljbus "
	      "$(pkg-config --cflags --libs json-c) && LD_LIBRARY_PATH='%s' ./prog",
	      jt_b.dir, SAN_FLAGS, srcdir(), builddir(), builddir());
	ck_assert_str_eq(out, "JBUS_E_CLOSED\n");
}
END_TEST

/* section: the shared library */

/* nm -D: the library defines exactly the JBUS_EXPORT functions, and every one links. */
START_TEST(test_build_exports)
{
	static char names[128][64];
	size_t n = declared(names, ARRAY_SIZE(names)), nexp = 0;
	char *line, *save = NULL, *prog;
	size_t cap = 64 * 128 + 512, len;

	ck_assert_uint_gt(n, 30);
	if (!have("nm"))
		return;
	sh_ok(JT_TIMEOUT_MS, "nm -D --defined-only '%s/libjbus.so.0'", builddir());
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char type, name[256], *at;
		bool found = false;

		/* "0000000000002da0 T jbus_conn_dropped@@JBUS_0"; the version node is type A */
		ck_assert_msg(sscanf(line, "%*s %c %255s", &type, name) == 2, "nm: %s", line);
		if (type == 'A')
			continue;
		if ((at = strchr(name, '@')))
			*at = '\0';
		for (size_t i = 0; i < n; i++)
			found |= strcmp(names[i], name) == 0;
		ck_assert_msg(found, "exported but not declared JBUS_EXPORT in jbus.h: %s (%c)",
			      name, type);
		ck_assert_msg(type == 'T', "%s is exported as type %c, not a function", name, type);
		nexp++;
	}
	ck_assert_msg(nexp == n, "jbus.h declares %zu JBUS_EXPORT functions, %zu are exported", n,
		      nexp);

	/* one program taking the address of each: all of them resolve at link and load time */
	prog = malloc(cap);
	ck_assert_ptr_nonnull(prog);
	len = (size_t)jt_fmt(prog, cap,
			     "#include <jbus.h>\n#include <stdio.h>\n"
			     "int main(void)\n{\n\tvoid (*volatile f)(void);\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)jt_fmt(prog + len, cap - len, "\tf = (void (*)(void))%s;\n",
				      names[i]);
	jt_fmt(prog + len, cap - len, "\tputs(\"linked\");\n\treturn f == NULL;\n}\n");
	{
		char file[PATH_MAX];

		jt_fmt(file, sizeof(file), "%s/syms.c", jt_b.dir);
		jt_write_file(file, prog);
	}
	free(prog);
	sh_ok(60000,
	      "cd '%s' && cc %s -o syms syms.c -I'%s/client-lib/include' -L'%s' -ljbus "
	      "$(pkg-config --cflags --libs json-c) && LD_LIBRARY_PATH='%s' ./syms",
	      jt_b.dir, SAN_FLAGS, srcdir(), builddir(), builddir());
	ck_assert_str_eq(out, "linked\n");
}
END_TEST

START_TEST(test_build_soname)
{
	char link[PATH_MAX], path[PATH_MAX];
	ssize_t n;

	jt_fmt(path, sizeof(path), "%s/libjbus.so", builddir());
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "libjbus.so.0");
	if (!have("readelf"))
		return;
	sh_ok(JT_TIMEOUT_MS, "readelf -d '%s/libjbus.so.0' | grep SONAME", builddir());
	ck_assert_msg(strstr(out, "Library soname: [libjbus.so.0]"), "readelf: %s", out);
}
END_TEST

/* section: make install and a program outside the tree */

struct msgs {
	int n;
	char from[80], data[256];
};

static void on_msg(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct msgs *g = userdata;

	g->n++;
	jt_fmt(g->from, sizeof(g->from), "%s", jbus_msg_from(m));
	jt_fmt(g->data, sizeof(g->data), "%s", jbus_msg_data(m, NULL));
}

static void expect_link(const char *dir, const char *name, const char *target)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	jt_fmt(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_msg(n > 0, "%s: not a symbolic link (%s)", path, strerror(errno));
	link[n] = '\0';
	ck_assert_str_eq(link, target);
	ck_assert_msg(stat(path, &st) == 0 && S_ISREG(st.st_mode), "%s: dangling", path);
}

static void expect_file(const char *stage, const char *rel, bool exec)
{
	char path[PATH_MAX];
	struct stat st;

	jt_fmt(path, sizeof(path), "%s%s", stage, rel);
	ck_assert_msg(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "not installed: %s", rel);
	ck_assert_msg(!exec || (st.st_mode & 0111), "not executable: %s", rel);
}

/* Environment for building against the staged install (pkg-config finds it there). */
static const char *build_env(const char *stage)
{
	static char env[3 * PATH_MAX];

	/* PKG_CONFIG_LIBDIR too: a jbus.pc installed on the machine must not be found instead */
	jt_fmt(env, sizeof(env),
	       "PKG_CONFIG_SYSROOT_DIR='%s' PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' "
	       "PKG_CONFIG_LIBDIR='%s/usr/lib/pkgconfig:/usr/lib/pkgconfig:"
	       "/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig'",
	       stage, stage, stage);
	return env;
}

/* Environment for running such a program: the staged library, the test's broker. */
static const char *run_env(const char *stage)
{
	static char env[4 * PATH_MAX];
	size_t n;

	n = (size_t)jt_fmt(env, sizeof(env), "JBUS_SOCKET='%s' LD_LIBRARY_PATH='%s/usr/lib'",
			   jt_b.path, stage);
	if (SANITIZED) {
		/* the staged library is instrumented: its runtime must be loaded first */
		ck_assert_int_eq(sh(JT_TIMEOUT_MS, "cc -print-file-name=libasan.so; "
						   "cc -print-file-name=libubsan.so"), 0);
		*strchr(out, '\n') = ' ';
		out[strcspn(out, "\n")] = '\0';
		jt_fmt(env + n, sizeof(env) - n, " LD_PRELOAD='%s'", out);
	}
	return env;
}

/*
 * The README's "Use it from C" section: its C program and its cc line, run as
 * written; the program's output must be the one shown after them. Returns
 * false when there is no such section.
 */
static bool readme_program(const char *app, const char *benv, const char *renv)
{
	char path[PATH_MAX], *md, *sec, *end, *code, *code_end, *ccl, *shown, *shown_end;
	const char *readme = getenv("JBUS_README");

	if (readme && *readme)
		jt_fmt(path, sizeof(path), "%s", readme);
	else
		jt_fmt(path, sizeof(path), "%s/README.md", srcdir());
	md = read_file(path);
	if (!md || !(sec = strstr(md, "## Use it from C"))) {
		fprintf(stderr, "NOTE: %s has no \"Use it from C\" section to check\n", path);
		free(md);
		return false;
	}
	end = strstr(sec + 3, "\n## ");
	if (end)
		end[1] = '\0';
	code = strstr(sec, "\n```c\n");
	ck_assert_msg(code != NULL, "no ```c block in the README section");
	code += 6;
	code_end = strstr(code, "\n```\n");
	ck_assert_ptr_nonnull(code_end);
	code_end[1] = '\0';
	ccl = strstr(code_end + 2, "\ncc ");
	ck_assert_msg(ccl != NULL, "no cc line after the program in the README section");
	ccl++;
	*strchr(ccl, '\n') = '\0';
	jt_fmt(path, sizeof(path), "%s/hello.c", app);
	jt_write_file(path, code);
	sh_ok(60000, "cd '%s' && %s sh -c '%s'", app, benv, ccl);
	sh_ok(JT_TIMEOUT_MS, "cd '%s' && %s ./hello", app, renv);
	/* the output block: the next fence after the one closing the cc line's block */
	shown = strstr(ccl + strlen(ccl) + 1, "\n```\n");
	if (shown)
		shown = strstr(shown + 4, "\n```\n");
	ck_assert_msg(shown != NULL, "no output block after the cc line");
	shown += 5;
	shown_end = strstr(shown, "```\n");
	ck_assert_ptr_nonnull(shown_end);
	*shown_end = '\0';
	ck_assert_str_eq(out, shown);
	free(md);
	return true;
}

START_TEST(test_build_install)
{
	struct msgs g = { 0 };
	char stage[PATH_MAX], app[PATH_MAX], lib[PATH_MAX], so[64], ver[32], *pc, *v;
	const char *benv, *renv;

	if (!have("make") || !have("cc") || !have("pkg-config"))
		return;
	jt_fmt(stage, sizeof(stage), "%s/stage", jt_b.dir);
	jt_fmt(app, sizeof(app), "%s/app", jt_b.dir);
	ck_assert_int_eq(mkdir(app, 0700), 0);
	sh_ok(300000, "make -C '%s' install DESTDIR='%s' PREFIX=/usr BUILD='%s'%s", srcdir(), stage,
	      build_for_make(), SANITIZED ? " SANITIZE=1" : "");

	/* what the Makefile documents */
	expect_file(stage, "/usr/bin/jbus", true);
	expect_file(stage, "/usr/sbin/jbusd", true);
	expect_file(stage, "/usr/lib/libjbus.a", false);
	expect_file(stage, "/usr/include/jbus.h", false);
	expect_file(stage, "/usr/lib/pkgconfig/jbus.pc", false);
	jt_fmt(lib, sizeof(lib), "%s/usr/lib/pkgconfig/jbus.pc", stage);
	pc = read_file(lib);
	ck_assert_ptr_nonnull(pc);
	ck_assert_msg(strstr(pc, "prefix=/usr\n") && strstr(pc, "libdir=/usr/lib\n") &&
			      strstr(pc, "includedir=/usr/include\n"),
		      "jbus.pc does not describe PREFIX=/usr:\n%s", pc);
	v = strstr(pc, "\nVersion: ");
	ck_assert_ptr_nonnull(v);
	v += 10;
	v[strcspn(v, "\n")] = '\0';
	jt_fmt(so, sizeof(so), "libjbus.so.%s", v);
	jt_fmt(ver, sizeof(ver), "%s", v);
	free(pc);
	jt_fmt(lib, sizeof(lib), "%s/usr/lib", stage);
	expect_link(lib, "libjbus.so.0", so);
	expect_link(lib, "libjbus.so", "libjbus.so.0");
	sh_ok(JT_TIMEOUT_MS, "cmp '%s/client-lib/include/jbus.h' '%s/usr/include/jbus.h'", srcdir(),
	      stage);
	/* the man pages, with the version filled in, and the completions */
	expect_file(stage, "/usr/share/man/man8/jbusd.8", false);
	expect_file(stage, "/usr/share/man/man1/jbus.1", false);
	expect_file(stage, "/usr/share/man/man3/libjbus.3", false);
	sh_ok(JT_TIMEOUT_MS,
	      "cd '%s/man' && for m in *.[1-8]; do sed 's/@VERSION@/%s/g' \"$m\" | "
	      "cmp - '%s/usr/share/man/man'\"${m##*.}\"/\"$m\" || exit 1; done",
	      srcdir(), ver, stage);
	sh_ok(JT_TIMEOUT_MS, "grep -q '\"jbus %s\"' '%s/usr/share/man/man1/jbus.1'", ver, stage);
	/* man jbus_conn_new: a link page to libjbus(3) for every exported function */
	sh_ok(JT_TIMEOUT_MS,
	      "n=0; for f in $(sed -n 's/^JBUS_EXPORT .*[ *]\\(jbus_[a-z0-9_]*\\)(.*/\\1/p' "
	      "'%s/client-lib/include/jbus.h'); do n=$((n+1)); "
	      "grep -qx '.so man3/libjbus.3' '%s/usr/share/man/man3/'$f.3 || { echo $f; exit 1; }; "
	      "done; test $n -gt 50",
	      srcdir(), stage);
	expect_file(stage, "/usr/share/bash-completion/completions/jbus", false);
	expect_file(stage, "/usr/share/zsh/site-functions/_jbus", false);
	sh_ok(JT_TIMEOUT_MS,
	      "cmp '%s/contrib/completion/jbus.bash' '%s/usr/share/bash-completion/completions/jbus' "
	      "&& cmp '%s/contrib/completion/_jbus' '%s/usr/share/zsh/site-functions/_jbus'",
	      srcdir(), stage, srcdir(), stage);

	/* pkg-config points into the stage */
	benv = build_env(stage);
	renv = run_env(stage);
	sh_ok(JT_TIMEOUT_MS, "%s pkg-config --cflags --libs jbus", benv);
	ck_assert_msg(strstr(out, "-I") && strstr(out, stage) && strstr(out, "-ljbus"),
		      "pkg-config: %s", out);

	/* examples/publish.c, copied out of the tree, built as a user would */
	ck_assert_int_eq(jbus_conn_new(&sub, jt_b.path, "watch"), 0);
	ck_assert_int_eq(jbus_subscribe_sync(sub, "inst/#", on_msg, &g, JT_TIMEOUT_MS), 0);
	sh_ok(60000, "cp '%s/examples/publish.c' '%s/' && cd '%s' && %s sh -c "
		     "'cc -o publish publish.c $(pkg-config --cflags --libs jbus)'",
	      srcdir(), app, app, benv);
	sh_ok(JT_TIMEOUT_MS, "cd '%s' && LD_LIBRARY_PATH='%s/usr/lib' ldd ./publish", app, stage);
	ck_assert_msg(strstr(out, "/usr/lib/libjbus.so.0") && strstr(out, stage),
		      "not linked to the staged library: %s", out);
	sh_ok(JT_TIMEOUT_MS, "cd '%s' && %s ./publish -n outside inst/x '\"installed\"'", app,
	      renv);
	ck_assert_str_eq(out, "published 1 message to inst/x\n");
	while (g.n < 1)
		ck_assert_int_ge(jbus_conn_wait(sub, JT_TIMEOUT_MS), 1);
	ck_assert_str_eq(g.from, "outside");
	ck_assert_str_eq(g.data, "\"installed\"");

	/* the README program, exactly as written */
	readme_program(app, benv, renv);

	/* make uninstall removes every file install put there */
	sh_ok(300000, "make -C '%s' uninstall DESTDIR='%s' PREFIX=/usr BUILD='%s'%s", srcdir(), stage,
	      build_for_make(), SANITIZED ? " SANITIZE=1" : "");
	sh_ok(JT_TIMEOUT_MS, "find '%s' ! -type d", stage);
	ck_assert_msg(!strcmp(out, ""), "left after make uninstall:\n%s", out);
}
END_TEST

/* BASHCOMPDIR and ZSHCOMPDIR put the completions where a distribution wants them. */
START_TEST(test_build_install_compdirs)
{
	char stage[PATH_MAX];

	if (!have("make"))
		return;
	jt_fmt(stage, sizeof(stage), "%s/stage", jt_b.dir);
	sh_ok(300000,
	      "make -C '%s' install DESTDIR='%s' PREFIX=/usr BUILD='%s'%s "
	      "BASHCOMPDIR=/etc/bash_completion.d ZSHCOMPDIR=/usr/share/zsh/vendor-completions",
	      srcdir(), stage, build_for_make(), SANITIZED ? " SANITIZE=1" : "");
	expect_file(stage, "/etc/bash_completion.d/jbus", false);
	expect_file(stage, "/usr/share/zsh/vendor-completions/_jbus", false);
	sh_ok(JT_TIMEOUT_MS, "test ! -e '%s/usr/share/bash-completion' && "
			     "test ! -e '%s/usr/share/zsh/site-functions'", stage, stage);
	sh_ok(300000,
	      "make -C '%s' uninstall DESTDIR='%s' PREFIX=/usr BUILD='%s'%s "
	      "BASHCOMPDIR=/etc/bash_completion.d ZSHCOMPDIR=/usr/share/zsh/vendor-completions",
	      srcdir(), stage, build_for_make(), SANITIZED ? " SANITIZE=1" : "");
	sh_ok(JT_TIMEOUT_MS, "find '%s' ! -type d", stage);
	ck_assert_msg(!strcmp(out, ""), "left after make uninstall:\n%s", out);
}
END_TEST

/*
 * The systemd units: installed where SYSTEMDUNITDIR and SYSTEMDUSERUNITDIR say, ExecStart
 * naming SBINDIR's jbusd, clean for systemd-analyze verify (when it is there), and gone
 * after uninstall.
 */
START_TEST(test_build_units)
{
	static const char *const units[] = { "/sys/jbusd.socket", "/sys/jbusd.service",
					     "/user/jbusd.socket", "/user/jbusd.service" };
	char stage[PATH_MAX], rt[PATH_MAX], vars[3 * PATH_MAX];
	struct stat st;

	if (!have("make"))
		return;
	jt_fmt(stage, sizeof(stage), "%s/stage", jt_b.dir);
	jt_fmt(rt, sizeof(rt), "%s/runtime", jt_b.dir);
	ck_assert_int_eq(mkdir(rt, 0700), 0);
	jt_fmt(vars, sizeof(vars),
	       "DESTDIR='%s' PREFIX=/usr SYSTEMDUNITDIR=/sys SYSTEMDUSERUNITDIR=/user BUILD='%s'%s",
	       stage, build_for_make(), SANITIZED ? " SANITIZE=1" : "");
	sh_ok(300000, "make -C '%s' install %s", srcdir(), vars);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		expect_file(stage, units[i], false);
	expect_file(stage, "/usr/lib/sysusers.d/jbus.conf", false);
	sh_ok(JT_TIMEOUT_MS, "grep -h '^ExecStart=' '%s/sys/jbusd.service' '%s/user/jbusd.service'",
	      stage, stage);
	ck_assert_str_eq(out, "ExecStart=/usr/sbin/jbusd --retain-file ${STATE_DIRECTORY}/retained\n"
			      "ExecStart=/usr/sbin/jbusd --retain-file ${STATE_DIRECTORY}/retained\n");

	/* verify checks that ExecStart exists: a copy naming the staged jbusd */
	if (sh(JT_TIMEOUT_MS, "command -v systemd-analyze") == 0) {
		for (int k = 0; k < 2; k++) {
			const char *d = k ? "user" : "sys";
			sh_ok(JT_TIMEOUT_MS,
			      "mkdir -p '%s/verify/%s' && cd '%s/verify/%s' && "
			      "cp '%s/%s/jbusd.socket' . && "
			      "sed 's|/usr/sbin/jbusd|%s/usr/sbin/jbusd|' '%s/%s/jbusd.service' "
			      "> jbusd.service && XDG_RUNTIME_DIR='%s' systemd-analyze %s verify "
			      "--man=no ./jbusd.socket ./jbusd.service 2>&1",
			      stage, d, stage, d, stage, d, stage, stage, d, rt,
			      k ? "--user" : "");
			ck_assert_msg(out[0] == '\0', "systemd-analyze verify (%s):\n%s", d, out);
		}
	} else {
		fprintf(stderr, "SKIP: systemd-analyze is not installed; the units are not verified\n");
	}

	sh_ok(300000, "make -C '%s' uninstall %s", srcdir(), vars);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		char path[PATH_MAX];
		jt_fmt(path, sizeof(path), "%s%s", stage, units[i]);
		ck_assert_msg(lstat(path, &st) < 0, "left by uninstall: %s", units[i]);
	}
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "header_c", test_build_header_c },
		{ "header_cxx", test_build_header_cxx },
		{ "exports", test_build_exports },
		{ "soname", test_build_soname },
		{ "install", test_build_install },
		{ "units", test_build_units },
		{ "install_compdirs", test_build_install_compdirs },
	};
	Suite *s = suite_create("lib_build");

	/* compilers, make and an instrumented build are slow under load: generous limits */
	jt_add_cases(s, cases, ARRAY_SIZE(cases), setup, teardown, 600);
	return s;
}
