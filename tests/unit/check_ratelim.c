/*
 * Unit tests of the log rate limiter (broker/ratelim.h) with explicit times: the first line
 * passes whatever the time, then one line per RATELIM_INTERVAL_MS counted from the last line
 * logged; the lines held back meanwhile are counted, handed to the next line that passes and
 * counted again from zero; ratelim_take reports and clears them.
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

/* Runs steps[0..n) on rl in turn. */
static void run(struct ratelim *rl, const struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t got = 12345;
		bool pass = ratelim_pass(rl, steps[i].now, &got);

		ck_assert_msg(pass == steps[i].pass, "step %zu (now %llu): pass %d, want %d", i,
			      (unsigned long long)steps[i].now, pass, steps[i].pass);
		if (pass)
			ck_assert_msg(got == steps[i].unlogged, "step %zu: unlogged %u, want %u", i,
				      got, steps[i].unlogged);
		else
			ck_assert_msg(got == 12345, "step %zu: held back, yet unlogged set", i);
	}
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

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "first", test_ratelim_first, (int)ARRAY_SIZE(first_times) },
		{ "interval", test_ratelim_interval },
		{ "steady", test_ratelim_steady },
		{ "take", test_ratelim_take },
		{ "null_count", test_ratelim_null_count },
		{ "saturates", test_ratelim_saturates },
	};
	Suite *s = suite_create("ratelim");

	jt_add_cases(s, cases, ARRAY_SIZE(cases), NULL, NULL, 0);
	return s;
}
