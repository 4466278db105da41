/*
 * Unit tests of the latency histogram of jbus bench (tools/bench_hist.c):
 * percentiles of known data, the 1% precision the log-linear buckets
 * promise at any magnitude, and merging the histograms of several
 * processes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"
#include "../../tools/bench.h"

static struct bench_hist *hist_new(void)
{
	struct bench_hist *h = malloc(sizeof(*h));

	ck_assert_ptr_nonnull(h);
	bench_hist_init(h);
	return h;
}

START_TEST(test_bench_hist_empty)
{
	struct bench_hist *h = hist_new();

	ck_assert_uint_eq(h->count, 0);
	ck_assert_uint_eq(bench_hist_percentile(h, 50), 0);
	ck_assert_uint_eq(bench_hist_percentile(h, 100), 0);
	free(h);
}
END_TEST

/* Below 256 every value has a bucket of its own: nearest-rank percentiles are exact. */
START_TEST(test_bench_hist_exact)
{
	struct bench_hist *h = hist_new();

	static const struct {
		double pct;
		uint64_t want;
	} cases[] = { { 0, 1 }, { 1, 1 }, { 50, 50 }, { 90, 90 }, { 99, 99 }, { 99.9, 100 },
		      { 100, 100 } };

	for (uint64_t v = 1; v <= 100; v++)
		bench_hist_add(h, v);
	ck_assert_uint_eq(h->count, 100);
	ck_assert_uint_eq(h->min, 1);
	ck_assert_uint_eq(h->max, 100);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_uint_eq(bench_hist_percentile(h, cases[i].pct), cases[i].want);
	free(h);
}
END_TEST

/* 1,000 values from 1 us to 1 s, spread geometrically: each percentile within 1%. */
START_TEST(test_bench_hist_precision)
{
	struct bench_hist *h = hist_new();
	static const double pcts[] = { 10, 50, 90, 99, 99.9 };
	uint64_t vals[1000];

	for (int i = 0; i < 1000; i++) {
		vals[i] = (uint64_t)(1000.0 * pow(1e6, i / 999.0));
		bench_hist_add(h, vals[i]);
	}
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		/* nearest rank: the ceil(p/100 * n)'th smallest, 1-based */
		uint64_t want = vals[(int)ceil(pcts[k] * 10 - 1e-9) - 1];
		uint64_t got = bench_hist_percentile(h, pcts[k]);

		ck_assert_msg(fabs((double)got - (double)want) <= 0.01 * (double)want,
			      "p%g: %llu, want %llu", pcts[k], (unsigned long long)got,
			      (unsigned long long)want);
	}
	ck_assert_uint_eq(bench_hist_percentile(h, 100), vals[999]);
	ck_assert_uint_eq(h->min, vals[0]);
	/* the largest values still fit: no bucket past the end */
	bench_hist_add(h, UINT64_MAX);
	ck_assert_uint_eq(bench_hist_percentile(h, 100), UINT64_MAX);
	free(h);
}
END_TEST

/* Two processes' histograms merged are the histogram of all their values. */
START_TEST(test_bench_hist_merge)
{
	struct bench_hist *a = hist_new(), *b = hist_new(), *all = hist_new();

	for (uint64_t v = 0; v < 5000; v++) {
		uint64_t x = v * v * 37 + 11;

		bench_hist_add(v % 3 ? a : b, x);
		bench_hist_add(all, x);
	}
	bench_hist_merge(a, b);
	ck_assert_uint_eq(a->count, all->count);
	ck_assert_uint_eq(a->min, all->min);
	ck_assert_uint_eq(a->max, all->max);
	ck_assert_int_eq(memcmp(a->bucket, all->bucket, sizeof(a->bucket)), 0);
	ck_assert_uint_eq(bench_hist_percentile(a, 99), bench_hist_percentile(all, 99));
	/* merging an empty one changes nothing */
	bench_hist_init(b);
	bench_hist_merge(a, b);
	ck_assert_uint_eq(a->min, all->min);
	ck_assert_uint_eq(a->count, all->count);
	free(a);
	free(b);
	free(all);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "empty", test_bench_hist_empty },
		{ "exact", test_bench_hist_exact },
		{ "precision", test_bench_hist_precision },
		{ "merge", test_bench_hist_merge },
	};
	Suite *s = suite_create("bench_hist");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), NULL, NULL, 0);
	return s;
}
