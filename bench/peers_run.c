/*
 * The only part of make bench-peers that knows the workload runner of
 * tools/: which runs make up the table, and how a struct bench_result
 * becomes the rows of peers.h.
 *
 * What it takes from tools/bench.h:
 *   int bench_run(const struct bench_driver *d, const char *target,
 *                 const struct bench_opts *o, struct bench_result *out);
 * runs one workload over d against the bus at target and fills *out;
 * 0 or -errno. The options start from BENCH_OPTS_DEFAULT (those of jbus
 * bench); .w names the workload and .size the payload bytes.
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
	CYCLES_PER_S,
};

/* One call of bench_run() and the rows it fills. */
static const struct run {
	enum bench_workload workload;
	size_t size;
	struct {
		enum peers_row row;
		enum result_field field;
	} fills[2];
	int nfills;
} runs[] = {
	{ BENCH_W1, 100, { { PEERS_W1, MSGS_PER_S } }, 1 },
	{ BENCH_W2, 100, { { PEERS_W2, DELIVERIES_PER_S } }, 1 },
	{ BENCH_W1, 1024, { { PEERS_W1_1K, MSGS_PER_S } }, 1 },
	{ BENCH_W2, 1024, { { PEERS_W2_1K, DELIVERIES_PER_S } }, 1 },
	{ BENCH_W3, 100, { { PEERS_W3_P50, P50_NS }, { PEERS_W3_P99, P99_NS } }, 2 },
	{ BENCH_W4, 100, { { PEERS_W4, BYTES_PER_CLIENT } }, 1 },
	{ BENCH_W5, 100, { { PEERS_W5, MSGS_PER_S } }, 1 },
	{ BENCH_W6, 100, { { PEERS_W6, CYCLES_PER_S } }, 1 },
};

unsigned long long peers_messages = 200000;

static double field_of(const struct bench_result *res, enum result_field field)
{
	switch (field) {
	case MSGS_PER_S:
		return res->msgs_per_s;
	case DELIVERIES_PER_S:
		return res->deliveries_per_s;
	case P50_NS:
		return (double)res->p50_ns;
	case P99_NS:
		return (double)res->p99_ns;
	case CYCLES_PER_S:
		return res->cycles_per_s;
	default:
		return res->bytes_per_client;
	}
}

int peers_run_workload(int run)
{
	if (run < 0 || run >= (int)(sizeof(runs) / sizeof(runs[0])))
		return -1;
	return (int)runs[run].workload;
}

int peers_measure(int run, const struct bench_driver *d, const char *target,
		  struct peers_figures *f)
{
	const struct run *r;
	struct bench_opts o = BENCH_OPTS_DEFAULT;
	struct bench_result res;
	int err;

	if (run < 0 || run >= (int)(sizeof(runs) / sizeof(runs[0])))
		return 0;
	if (!d)
		return 1;
	r = &runs[run];
	o.w = r->workload;
	o.size = r->size;
	/* W3 is defined with the server and both clients on one CPU */
	if (r->workload == BENCH_W3)
		o.cpu = 0;
	o.messages = r->workload == BENCH_W5 ? peers_messages / o.publishers : peers_messages;
	if (!o.messages)
		o.messages = 1;
	memset(&res, 0, sizeof(res));
	err = bench_run(d, target, &o, &res);
	if (err < 0)
		fprintf(stderr, "peers: W%d (%zu B) over %s: %s\n", (int)r->workload + 1, r->size,
			d->name, res.err[0] ? res.err : strerror(-err));
	for (int i = 0; i < r->nfills; i++) {
		enum peers_row row = r->fills[i].row;

		f->done[row] = err == 0;
		f->err[row] = err;
		f->value[row] = err == 0 ? field_of(&res, r->fills[i].field) : 0;
		f->lost[row] = res.lost;
	}
	bench_result_free(&res);
	return 1;
}
