/*
 * Benchmarks (jbus bench, make bench-peers): the workloads W1-W6 of
 * docs/performance.md run over a driver, one per message bus, so that jbus,
 * redis and mosquitto are measured by the same code with the same payloads.
 *
 * A driver is a client of one bus. Every workload runs each client in its
 * own process (fork), so a driver's connection is only ever used by the
 * process that made it, from one thread. Payloads are JSON text; topics are
 * plain ASCII without wildcards.
 *
 * Ownership: connect() returns a connection that close() frees; the strings
 * passed to the callbacks of receive() are borrowed for the call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct bench_conn;

typedef void (*bench_msg_fn)(void *ud, const char *topic, size_t topic_len, const char *payload,
			     size_t len);

struct bench_driver {
	const char *name; /* "jbus", "redis", "mosquitto" */
	/* Connects to the bus at target (a socket path). NULL with the reason in err. */
	struct bench_conn *(*connect)(const char *target, char *err, size_t errlen);
	/* Subscribes to topic and returns once the bus confirmed it (0 or -errno). */
	int (*subscribe)(struct bench_conn *c, const char *topic);
	/* Queues one message; may buffer (0 or -errno). */
	int (*publish)(struct bench_conn *c, const char *topic, const char *payload, size_t len);
	/* Writes everything queued, blocking (0 or -errno). */
	int (*flush)(struct bench_conn *c);
	/*
	 * Waits at most timeout_ms (0: do not wait) for messages and calls fn for
	 * each one that arrived; returns how many (0 on timeout) or -errno.
	 */
	int (*receive)(struct bench_conn *c, int timeout_ms, bench_msg_fn fn, void *ud);
	/* pid of the bus process at the other end (SO_PEERCRED), for its memory. */
	pid_t (*server_pid)(struct bench_conn *c);
	void (*close)(struct bench_conn *c);
};

/* The jbus driver (libjbus), tools/bench_jbus.c. */
extern const struct bench_driver bench_driver_jbus;

/* section: histogram (bench_hist.c) */

/*
 * Log-linear buckets, as HdrHistogram does: values below 256 ns have a
 * bucket each, every power of two above is cut into 128 equal buckets, so
 * a value is known to within 1/128 (0.8%) whatever its size. A fixed
 * layout with plain counters: histograms from different processes merge by
 * adding, and one travels through a pipe as it is.
 */
#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB	    (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS  ((64 - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t count;
	uint64_t min, max; /* exact; min is UINT64_MAX while empty */
	uint64_t bucket[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t ns);
/* Adds the values of from to into. */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);
/*
 * The value below or at which pct percent (0..100) of the values lie: the
 * middle of its bucket, within [min, max]; 100 gives max. 0 when empty.
 */
uint64_t bench_hist_percentile(const struct bench_hist *h, double pct);

/* section: workloads (bench_work.c) */

enum bench_workload {
	BENCH_W1, /* 1 publisher -> 1 subscriber */
	BENCH_W2, /* 1 publisher -> K subscribers */
	BENCH_W3, /* round trip latency */
	BENCH_W4, /* server memory per idle client */
	BENCH_W5, /* P publishers -> 1 subscriber */
	BENCH_W6, /* connect, subscribe, close */
	BENCH_NWORK,
};

/* Most subscribers (W2) or publishers (W5) of one run: each is a process. */
#define BENCH_MAX_PROCS 256

struct bench_opts {
	enum bench_workload w;        /* the workload bench_run() runs */
	size_t size;                  /* payload bytes */
	unsigned long long messages;  /* W1, W2; W5: per publisher */
	unsigned subscribers;         /* W2 */
	unsigned long long trips;     /* W3 */
	int cpu;                      /* W3: the CPU every process runs on, or -1 */
	unsigned clients;             /* W4 */
	unsigned publishers;          /* W5 */
	long long duration_ms;        /* W6, unless cycles */
	unsigned long long cycles;    /* W6: this many, or 0 for duration_ms */
};

/* What one run of one workload measured; a field that does not apply stays 0. */
struct bench_result {
	enum bench_workload w;
	bool ok;	   /* ran to the end without loss or error */
	char err[256];	   /* why not, when !ok */
	uint64_t messages; /* published (W3: trips) */
	uint64_t delivered; /* received by all subscribers together */
	uint64_t lost;	   /* published but not received (W2: over all subscribers) */
	uint64_t errors;   /* received out of order, twice or malformed */
	double elapsed_s;  /* first to last message at the receivers; W6: the churn */
	double msgs_per_s, deliveries_per_s;
	unsigned nper;			   /* W2: subscribers, W5: publishers */
	uint64_t lost_per[BENCH_MAX_PROCS]; /* loss of each */
	struct bench_hist *hist;	   /* W3: round trips (malloc'd, bench_result_free) */
	long rss_before_kib, rss_after_kib; /* W4, W6: the server's VmRSS */
	double bytes_per_client;	   /* W4 */
	uint64_t p50_ns, p99_ns;	   /* W3: percentiles of hist */
	uint64_t cycles;		   /* W6 */
	double cycles_per_s;		   /* W6 */
};

/* "W1".."W6", and a short description ("1 pub -> 1 sub"). */
const char *bench_work_name(enum bench_workload w);
const char *bench_work_title(enum bench_workload w);
/* The smallest payload size that holds the sequence numbers of o. */
size_t bench_min_size(const struct bench_opts *o);
/*
 * The pid of the bus at target (through one connection of d, closed
 * again), or -1 with the reason in err.
 */
pid_t bench_server_pid(const struct bench_driver *d, const char *target, char *err,
		       size_t errlen);
/*
 * Run workload o->w once over driver d against the bus at target, each
 * client in a process of its own. Returns 0 with *r filled (r->ok says
 * whether it went without loss), or -errno when it could not run (r->err
 * says why).
 */
/* The documented defaults of every option (jbus bench --help). */
#define BENCH_OPTS_DEFAULT                                                                         \
	{                                                                                          \
		.size = 100, .messages = 1000000, .subscribers = 8, .trips = 20000, .cpu = -1,     \
		.clients = 1000, .publishers = 8, .duration_ms = 3000                              \
	}

int bench_run(const struct bench_driver *d, const char *target, const struct bench_opts *o,
	      struct bench_result *r);
void bench_result_free(struct bench_result *r);
/* VmRSS of pid in KiB (/proc/<pid>/status), -1 if unknown. */
long bench_rss_kib(pid_t pid);

/* section: reports (bench_report.c) */

/* The runs of one workload, and their medians (sums for losses). */
struct bench_summary {
	enum bench_workload w;
	unsigned runs;
	bool ok;		     /* every run ok */
	char err[256];		     /* the first failure */
	struct bench_result med;     /* medians; lost, errors, lost_per: sums */
	struct bench_hist *hist;     /* W3: every run's round trips merged */
	uint64_t p50, p90, p99, p999, pmax; /* W3, ns: medians over the runs */
};

/* Summarize the runs r[0..n) of one workload (n >= 1); -ENOMEM or 0. */
int bench_summarize(const struct bench_result *r, unsigned n, struct bench_summary *s);
void bench_summary_free(struct bench_summary *s);

/* The run's settings as reported. */
struct bench_report {
	const char *driver; /* its name */
	const char *target;
	const struct bench_opts *p;
	const char *version;
	unsigned repeat;
	bool spawned;
	const struct bench_summary *s; /* the workloads run, in order */
	unsigned n;
};

/* The results table; each returns 0 or -errno (write errors). */
int bench_print_table(FILE *f, const struct bench_report *rep);
/* One JSON document; its keys are listed in docs/performance.md. */
int bench_print_json(FILE *f, const struct bench_report *rep);
/* A plain SVG chart: throughput bars and the W3 latency percentile curve. */
int bench_write_svg(FILE *f, const struct bench_report *rep);

/* Progress on a terminal: done of total steps, the step now running ("W2 run 1/3"). */
void bench_progress(FILE *f, unsigned done, unsigned total, const char *now);
