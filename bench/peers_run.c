/*
 * The only part of make bench-peers that knows the workload runner of
 * tools/: which runs make up the table, and how a struct bench_result
 * becomes the rows of peers.h.
 *
 * What it takes from tools/bench.h:
 *   int bench_run(const struct bench_driver *d, const char *target,
 *                 const struct bench_opts *o, struct bench_result *out);
 * runs one workload over d against the bus at target and fills *out;
 * 0 or -errno. A struct bench_opts with every field zero asks for the
 * runner's defaults, .workload (1..6) names the workload W1..W6 and .size
 * the payload bytes (0: the default, 100). struct bench_result has
 * double msgs_per_s, deliveries_per_s, p50_ns, p99_ns, bytes_per_client and
 * uint64_t lost.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "peers.h"

enum result_field {
	MSGS_PER_S,
	DELIVERIES_PER_S,
	P50_NS,
	P99_NS,
	BYTES_PER_CLIENT,
};

/* One call of bench_run() and the rows it fills. */
static const struct run {
	int workload;
	size_t size;
	struct {
		enum peers_row row;
		enum result_field field;
	} fills[2];
	int nfills;
} runs[] = {
	{ 1, 0, { { PEERS_W1, MSGS_PER_S } }, 1 },
	{ 2, 0, { { PEERS_W2, DELIVERIES_PER_S } }, 1 },
	{ 1, 1024, { { PEERS_W1_1K, MSGS_PER_S } }, 1 },
	{ 2, 1024, { { PEERS_W2_1K, DELIVERIES_PER_S } }, 1 },
	{ 3, 0, { { PEERS_W3_P50, P50_NS }, { PEERS_W3_P99, P99_NS } }, 2 },
	{ 4, 0, { { PEERS_W4, BYTES_PER_CLIENT } }, 1 },
	{ 5, 0, { { PEERS_W5, MSGS_PER_S } }, 1 },
	{ 6, 0, { { PEERS_W6, MSGS_PER_S } }, 1 },
};

static double field_of(const struct bench_result *res, enum result_field field)
{
	switch (field) {
	case MSGS_PER_S:
		return res->msgs_per_s;
	case DELIVERIES_PER_S:
		return res->deliveries_per_s;
	case P50_NS:
		return res->p50_ns;
	case P99_NS:
		return res->p99_ns;
	default:
		return res->bytes_per_client;
	}
}

int peers_measure(int run, const struct bench_driver *d, const char *target,
		  struct peers_figures *f)
{
	const struct run *r;
	struct bench_opts o;
	struct bench_result res;
	int err;

	if (run < 0 || run >= (int)(sizeof(runs) / sizeof(runs[0])))
		return 0;
	if (!d)
		return 1;
	r = &runs[run];
	memset(&o, 0, sizeof(o));
	o.workload = r->workload;
	o.size = r->size;
	memset(&res, 0, sizeof(res));
	err = bench_run(d, target, &o, &res);
	if (err < 0)
		fprintf(stderr, "peers: W%d (%zu B) over %s: %s\n", r->workload, r->size, d->name,
			strerror(-err));
	for (int i = 0; i < r->nfills; i++) {
		enum peers_row row = r->fills[i].row;

		f->done[row] = err == 0;
		f->err[row] = err;
		f->value[row] = err == 0 ? field_of(&res, r->fills[i].field) : 0;
		f->lost[row] = res.lost;
	}
	return 1;
}
