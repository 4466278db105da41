/*
 * Unit tests of the log rate limiter (broker/ratelim.h) with explicit times: the first line
 * passes whatever the time, then one line per RATELIM_INTERVAL_MS counted from the last line
 * logged; the lines held back meanwhile are counted, handed to the next line that passes and
 * counted again from zero; ratelim_take reports and clears them. The window (a bound over
 * all sources) lets max lines through in each interval, counted from the window's first line.
 */
#include <stdint.h>

#include "jt.h"
#include "ratelim.h"
#include "util.h"

/* One call of ratelim_pass at now, and what it must answer. */
struct step {
	uint64_t now;
	bool pass;
	uint32_t unlogged; /* with pass: the count handed over */
};

typedef bool (*pass_fn)(void *lim, uint32_t max, uint64_t now, uint32_t *unlogged);

static bool pass_one(void *lim, uint32_t max, uint64_t now, uint32_t *unlogged)
{
	(void)max;
	return ratelim_pass(lim, now, unlogged);
}

static bool pass_window(void *lim, uint32_t max, uint64_t now, uint32_t *unlogged)
{
	return ratelim_window_pass(lim, max, now, unlogged);
}

/* Runs steps[0..n) on lim in turn through pass (max: the window's lines). */
static void run_with(pass_fn pass, void *lim, uint32_t max, const struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t got = 12345;
		bool passed = pass(lim, max, steps[i].now, &got);

		ck_assert_msg(passed == steps[i].pass, "step %zu (now %llu): pass %d, want %d", i,
			      (unsigned long long)steps[i].now, passed, steps[i].pass);
		if (passed)
			ck_assert_msg(got == steps[i].unlogged, "step %zu: unlogged %u, want %u", i,
				      got, steps[i].unlogged);
		else
			ck_assert_msg(got == 12345, "step %zu: held back, yet unlogged set", i);
	}
}

/* Runs steps[0..n) on rl in turn. */
static void run(struct ratelim *rl, const struct step *steps, size_t n)
{
	run_with(pass_one, rl, 0, steps, n);
}

static const uint64_t first_times[] = { 0, 1, 999, 1000, 123456789, UINT64_MAX - 2000 };

/* A fresh limiter passes its first line at any time, 0 included, with nothing held back. */
START_TEST(test_ratelim_first)
{
	struct ratelim rl = { 0 };
	const struct step s[] = { { first_times[_i], true, 0 } };

	run(&rl, s, 1);
}
END_TEST

/* Lines within the interval are held back and counted; the first one past it carries them. */
START_TEST(test_ratelim_interval)
{
	static const struct step s[] = {
		{ 5000, true, 0 }, /* the first line */
		{ 5000, false, 0 },
		{ 5001, false, 0 },
		{ 5999, false, 0 },
		{ 6000, true, 3 }, /* a second after the first, with the three held back */
		{ 6500, false, 0 },
		{ 7000, true, 1 },
		{ 9000, true, 0 }, /* after a pause: nothing held back */
		{ 9999, false, 0 },
		{ 10000, true, 1 },
	};
	struct ratelim rl = { 0 };

	run(&rl, s, ARRAY_SIZE(s));
}
END_TEST

/*
 * The interval runs from the last line logged, not from the last held back: a source that
 * never pauses still gets a line each interval.
 */
START_TEST(test_ratelim_steady)
{
	struct ratelim rl = { 0 };
	uint32_t lines = 0, held = 0, got;

	/* a line every 10 ms for 10 s: 1,000 in all */
	for (uint64_t t = 100000; t < 110000; t += 10) {
		if (ratelim_pass(&rl, t, &got)) {
			lines++;
			held += got;
			ck_assert_uint_eq(t % RATELIM_INTERVAL_MS, 0);
		}
	}
	ck_assert_uint_eq(lines, 10);
	ck_assert_uint_eq(held + rl.unlogged, 1000 - lines);
	ck_assert_uint_eq(rl.unlogged, 99);
}
END_TEST

/* ratelim_take: the count held back, once; the interval is not touched. */
START_TEST(test_ratelim_take)
{
	static const struct step after[] = { { 1500, false, 0 }, { 2000, true, 1 } };
	struct ratelim rl = { 0 };

	ck_assert_uint_eq(ratelim_take(&rl), 0);
	ck_assert(ratelim_pass(&rl, 1000, NULL));
	ck_assert(!ratelim_pass(&rl, 1200, NULL));
	ck_assert(!ratelim_pass(&rl, 1300, NULL));
	ck_assert_uint_eq(ratelim_take(&rl), 2);
	ck_assert_uint_eq(ratelim_take(&rl), 0);
	run(&rl, after, ARRAY_SIZE(after));
}
END_TEST

/* A NULL count is fine (a caller that does not report it), and the count still restarts. */
START_TEST(test_ratelim_null_count)
{
	static const struct step after[] = { { 3000, true, 0 } };
	struct ratelim rl = { 0 };

	ck_assert(ratelim_pass(&rl, 0, NULL));
	ck_assert(!ratelim_pass(&rl, 10, NULL));
	ck_assert(ratelim_pass(&rl, 2000, NULL));
	run(&rl, after, ARRAY_SIZE(after));
}
END_TEST

/* The count saturates rather than wrapping to a small number. */
START_TEST(test_ratelim_saturates)
{
	static const struct step s[] = { { 1000, true, 0 },
					 { 1001, false, 0 },
					 { 1002, false, 0 },
					 { 2000, true, UINT32_MAX } };
	struct ratelim rl = { 0 };

	run(&rl, s, 1);
	rl.unlogged = UINT32_MAX - 1;
	run(&rl, s + 1, ARRAY_SIZE(s) - 1);
}
END_TEST

/*
 * A window of 3: three lines pass at once, the rest of the window is held back and counted;
 * the window runs from its first line, not from the last one, and the first line of the next
 * hands over the count.
 */
START_TEST(test_ratelim_window)
{
	static const struct step s[] = {
		{ 5000, true, 0 },  { 5000, true, 0 },	{ 5400, true, 0 },  { 5400, false, 0 },
		{ 5999, false, 0 }, { 6000, true, 2 },	{ 6001, true, 0 },  { 6999, true, 0 },
		{ 6999, false, 0 }, { 9000, true, 1 },
	};
	struct ratelim_window w = { 0 };

	run_with(pass_window, &w, 3, s, ARRAY_SIZE(s));
}
END_TEST

/* A zeroed window passes at any time, 0 included; a window of 1 is one line a window. */
START_TEST(test_ratelim_window_first)
{
	static const struct step s[] = { { 0, true, 0 }, { 999, false, 0 }, { 1000, true, 1 } };
	struct ratelim_window w = { 0 }, late = { 0 };

	run_with(pass_window, &w, 1, s, ARRAY_SIZE(s));
	ck_assert(ratelim_window_pass(&late, 1, 123456789, NULL));
	ck_assert(!ratelim_window_pass(&late, 1, 123456790, NULL));
}
END_TEST

/* The text a line ends with: nothing for 0. */
START_TEST(test_ratelim_unlogged_text)
{
	char buf[32];

	ck_assert_str_eq(ratelim_unlogged_text(buf, sizeof(buf), 0), "");
	ck_assert_str_eq(ratelim_unlogged_text(buf, sizeof(buf), 7), " unlogged=7");
	ck_assert_str_eq(ratelim_unlogged_text(buf, sizeof(buf), UINT32_MAX),
			 " unlogged=4294967295");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "first", test_ratelim_first, (int)ARRAY_SIZE(first_times) },
		{ "interval", test_ratelim_interval },
		{ "steady", test_ratelim_steady },
		{ "take", test_ratelim_take },
		{ "null_count", test_ratelim_null_count },
		{ "saturates", test_ratelim_saturates },
		{ "window", test_ratelim_window },
		{ "window_first", test_ratelim_window_first },
		{ "unlogged_text", test_ratelim_unlogged_text },
	};
	Suite *s = suite_create("ratelim");

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, NULL, 0);
	return s;
}
