/*
 * Building suites (see jt.h): TCases from a table, so each jt_suite() reads
 * as a list of behaviours, and the small things every suite needs for its
 * deadlines, failure messages and scratch files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

TCase *jt_tcase(Suite *s, const char *name, SFun setup, SFun teardown, int timeout_s)
{
	TCase *tc = tcase_create(name);

	/* checked: run in the test's own process, so teardown runs after a failure too */
	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout_s)
		tcase_set_timeout(tc, timeout_s);
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
