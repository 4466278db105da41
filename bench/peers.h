/*
 * make bench-peers: the drivers of the peer buses and the link between the
 * comparison table (peers.c) and the workload runner of tools/ (peers_run.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"

/* The peer drivers: bench/peer_redis.c (hiredis), bench/peer_mosq.c (libmosquitto). */
extern const struct bench_driver bench_driver_redis;
extern const struct bench_driver bench_driver_mosquitto;

/* The lines of the table, one figure each. */
enum peers_row {
	PEERS_W1,     /* 1 -> 1, 100 B: msgs/s */
	PEERS_W2,     /* 1 -> 8, 100 B: deliveries/s */
	PEERS_W1_1K,  /* 1 -> 1, 1 KiB: msgs/s */
	PEERS_W2_1K,  /* 1 -> 8, 1 KiB: deliveries/s */
	PEERS_W3_P50, /* round trip: median ns */
	PEERS_W3_P99, /* round trip: 99th percentile ns */
	PEERS_W4,     /* broker bytes per idle client */
	PEERS_W5,     /* 8 -> 1: msgs/s */
	PEERS_W6,     /* connection churn: connections/s */
	PEERS_ROWS,
};

/* What one bus measured: a row is filled when done[row]. */
struct peers_figures {
	bool done[PEERS_ROWS];
	double value[PEERS_ROWS];
	uint64_t lost[PEERS_ROWS];
	int err[PEERS_ROWS]; /* -errno of a run that failed (done stays false) */
};

/*
 * Runs workload run number run (0, 1, ...) with driver d against the bus
 * at target, a fresh server, and fills the rows that run measures in *f.
 * 1 when there was such a run (failed or not: see f->err), 0 past the last.
 * With d NULL it only says whether there is such a run.
 */
int peers_measure(int run, const struct bench_driver *d, const char *target,
		  struct peers_figures *f);
/* The workload of run number run (as for peers_measure), or -1 past the last. */
int peers_run_workload(int run);
/* Messages of W1 and W2, and of W5 in all (split among its publishers). */
extern unsigned long long peers_messages;
