/*
 * Building suites (see jt.h): TCases from a table, so each jt_suite() reads
 * as a list of behaviours, and the small things every suite needs for its
 * deadlines, failure messages and scratch files; the settings of slow runs
 * ($JT_TIME_SCALE, $JT_WRAP).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

/* section: slow runs */

static int time_scale(void)
{
	static int scale;

	if (!scale) {
		const char *s = getenv("JT_TIME_SCALE");
		long v = s && *s ? strtol(s, NULL, 10) : 1;

		scale = v >= 1 && v <= 1000 ? (int)v : 1;
	}
	return scale;
}

int jt_ms(int ms)
{
	return ms * time_scale();
}

/* The words of $JT_WRAP, split on blanks once (static: no allocation to leak). */
static const char *const *wrap_words(void)
{
	static char buf[2048];
	static const char *words[48];
	static bool done;

	if (!done) {
		const char *w = getenv("JT_WRAP");
		size_t n = 0;
		char *p;

		done = true;
		if (!w || strlen(w) >= sizeof(buf))
			return words;
		memcpy(buf, w, strlen(w) + 1);
		for (p = strtok(buf, " \t\n"); p && n < sizeof(words) / sizeof(words[0]) - 1;
		     p = strtok(NULL, " \t\n"))
			words[n++] = p;
	}
	return words;
}

const char *const *jt_wrap_argv(const char **out, size_t cap, const char *const *argv)
{
	const char *const *w = wrap_words();
	size_t n = 0;

	for (; *w; w++) {
		ck_assert_uint_lt(n, cap - 1);
		out[n++] = *w;
	}
	for (; *argv; argv++) {
		ck_assert_uint_lt(n, cap - 1);
		out[n++] = *argv;
	}
	out[n] = NULL;
	return out;
}

bool jt_wrap_on(void)
{
	return wrap_words()[0] != NULL;
}

size_t jt_wrapped(const char *const *argv)
{
	const char *const *w = wrap_words();
	size_t n = 0;

	if (!w[0] || argv[0] != w[0])
		return 0;
	while (w[n])
		n++;
	return n;
}

void jt_wrap_child_env(void)
{
	struct timespec ts;
	char id[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(id, sizeof(id), "%lld%09ld", (long long)ts.tv_sec, ts.tv_nsec);
	setenv("JT_WRAP_ID", id, 1);
}

/* section: suites */

TCase *jt_tcase(Suite *s, const char *name, SFun setup, SFun teardown, int timeout_s)
{
	TCase *tc = tcase_create(name);

	/* checked: run in the test's own process, so teardown runs after a failure too */
	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (!timeout_s && time_scale() > 1) {
		/* Check's default, which its own environment variable may change */
		const char *d = getenv("CK_DEFAULT_TIMEOUT");

		timeout_s = d && *d ? atoi(d) : 4;
	}
	if (timeout_s)
		tcase_set_timeout(tc, timeout_s * time_scale());
	suite_add_tcase(s, tc);
	return tc;
}

void jt_add_cases(Suite *s, const struct jt_case *cases, size_t n, SFun setup, SFun teardown,
		  int timeout_s)
{
	for (size_t i = 0; i < n; i++) {
		TCase *tc = jt_tcase(s, cases[i].name, setup, teardown, timeout_s);

		if (cases[i].loops)
			tcase_add_loop_test(tc, cases[i].test, 0, cases[i].loops);
		else
			tcase_add_test(tc, cases[i].test);
	}
}

const char *jt_show(const void *p, size_t n)
{
	/* rotating, so that one failure message may show several byte strings */
	static char bufs[4][512];
	static unsigned next;
	char *out = bufs[next++ % 4];
	const unsigned char *s = p;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (o + 8 >= sizeof(bufs[0])) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", s[i]);
	}
	out[o] = '\0';
	return out;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jt_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t jt_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int jt_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < cap, "%zu bytes are not enough for: %s", cap, buf);
	return n;
}

void jt_write_file(const char *path, const char *text)
{
	/* O_EXCL: a test that means to create a file must not find one there already */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}
