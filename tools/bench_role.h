/*
 * Inside jbus bench's workloads: what bench_work.c (the parent: processes,
 * workloads) and bench_role.c (the clients: payloads, what each child
 * process does) share. Not for drivers or reports: bench.h is that.
 */
#pragma once

#include <time.h>

#include "bench.h"

/* Publishers flush after this many messages: one write per batch, not per message. */
#define BENCH_BATCH 64
/* A receiver that saw nothing for this long stops: what it has not got is lost. */
#define BENCH_IDLE_MS 5000
/* W3 round trips before the measured ones (caches, the broker's buffers): a tenth, <= 1,000. */
#define BENCH_W3_WARMUP(trips) ((trips) / 10 < 1000 ? (trips) / 10 : 1000)
/* W6 cycles before measuring the server's memory: its allocator reaches a steady state. */
#define BENCH_W6_WARMUP 100

enum msg_kind {
	MSG_READY = 1,
	MSG_RESULT,
};

/* What a child sends: once MSG_READY (or a MSG_RESULT with the failure), then its result. */
struct child_msg {
	int kind;
	int status;	/* 0, or -errno: err says what failed */
	char err[200];
	uint64_t count;	/* received (publishers, W3: sent; W4: clients; W6: cycles) */
	uint64_t errors; /* out of order, twice, malformed */
	uint64_t first_ns, last_ns;
	uint64_t per_src[BENCH_MAX_PROCS]; /* received from each publisher */
	bool has_hist;			   /* a struct bench_hist follows */
};

struct child {
	pid_t pid;
	int to, from; /* the parent's ends: go, and the child's messages */
};

/* One run of one workload: the parent's view, and in a child its own part. */
struct run {
	const struct bench_driver *d;
	const char *target;
	pid_t server_pid; /* for W4, W6 and --cpu */
	const struct bench_opts *p;
	enum bench_workload w;
	char topic_a[64], topic_b[64];
	uint64_t warmup; /* W3 */
	struct child ch[BENCH_MAX_PROCS + 1];
	unsigned n;
	struct child_msg *res; /* the children's results, once collected */
	struct bench_hist *hist;
	/* in a child */
	unsigned idx; /* among the children of its role */
	int go_fd, msg_fd;
	struct child_msg *m;
};

typedef int (*role_fn)(struct run *run);

/* section: roles (bench_role.c), each run in a child process of its own */

int role_pub(struct run *run);	  /* W1, W2, W5 */
int role_sink(struct run *run);	  /* W1, W2, W5 */
int role_echo(struct run *run);	  /* W3, B */
int role_pinger(struct run *run); /* W3, A */
int role_idle(struct run *run);	  /* W4 */
int role_churn(struct run *run);  /* W6 */
/* Record the failure r of what the child was doing in its result ("<fmt>: <strerror>"): r. */
int role_fail(struct run *run, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* section: pipes (bench_role.c) */

/* Read exactly n bytes by deadline_ms (monotonic ms; < 0: none): 0 or -errno (-EPIPE at EOF). */
int bench_read_full(int fd, void *buf, size_t n, long long deadline_ms);
int bench_write_full(int fd, const void *buf, size_t n);

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
