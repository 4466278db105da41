/*
 * Latency histogram of jbus bench: log-linear buckets over nanoseconds
 * (see bench.h). Bucket i < 2 * BENCH_HIST_SUB holds the value i alone;
 * above, a value v with its highest bit at position b (b >= 8) goes to
 * bucket (b - 7) * 128 + (v >> (b - 7)), whose 128 neighbours share the
 * same power of two; b = 63 ends at bucket 56 * 128 + 255, the last of
 * BENCH_HIST_BUCKETS. Adding is a few instructions and never allocates, so
 * it can run inside a timed loop.
 */
#include "bench.h"

#include <math.h>
#include <string.h>

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v)
{
	unsigned shift;

	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - BENCH_HIST_SUB_BITS;
	return shift * BENCH_HIST_SUB + (unsigned)(v >> shift);
}

/* The smallest and largest value of bucket i. */
static void bucket_range(unsigned i, uint64_t *lo, uint64_t *hi)
{
	unsigned shift;
	uint64_t m;

	if (i < 2 * BENCH_HIST_SUB) {
		*lo = *hi = i;
		return;
	}
	shift = i / BENCH_HIST_SUB - 1;
	m = i - shift * BENCH_HIST_SUB;
	*lo = m << shift;
	*hi = *lo + ((uint64_t)1 << shift) - 1;
}

void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->bucket[bucket_of(ns)]++;
	h->count++;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double pct)
{
	uint64_t rank, seen = 0, lo, hi, v;

	if (!h->count)
		return 0;
	if (pct >= 100)
		return h->max;
	if (pct < 0)
		pct = 0;
	/* nearest rank, 1-based; the epsilon keeps 99.9% of 1000 at 999, not 1000 */
	rank = (uint64_t)ceil(pct / 100 * (double)h->count - 1e-9);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen < rank)
			continue;
		bucket_range(i, &lo, &hi);
		v = lo + (hi - lo) / 2;
		return v < h->min ? h->min : v > h->max ? h->max : v;
	}
	return h->max;
}
