/*
 * Building suites (see jt.h): TCases from a table, so each jt_suite() reads
 * as a list of behaviours, and the small things every suite needs for its
 * deadlines and failure messages.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int64_t jt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
