/*
 * The workloads of jbus bench (W1-W6, docs/performance.md), generic over a
 * bench_driver.
 *
 * Every client is a process of its own (fork, no exec), so that clients
 * run in parallel as separate programs would and a driver's connection
 * never leaves the process that made it. A child talks to the parent
 * through two pipes: it sets up (connects, subscribes), sends "ready" and
 * waits for "go"; the parent sends go to all children only once every one
 * is ready, so no message is published before every subscription is in
 * place. After the work the child sends its result (counts, timestamps of
 * CLOCK_MONOTONIC, which all processes share, and for W3 its histogram)
 * and exits. A child whose parent dies is killed (PR_SET_PDEATHSIG), and
 * every wait of a child has a deadline, so the parent may read results
 * without one.
 *
 * The clients themselves, and the payloads, are in bench_role.c.
 */
#include "bench_role.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every child must have connected and subscribed within this (W4 makes 1,000s of clients). */
#define BENCH_READY_MS 120000

static const char *const names[BENCH_NWORK] = { "W1", "W2", "W3", "W4", "W5", "W6" };
static const char *const titles[BENCH_NWORK] = {
	"1 pub -> 1 sub", "1 pub -> K subs", "round trip", "idle clients", "P pubs -> 1 sub",
	"connect churn",
};

const char *bench_work_name(enum bench_workload w)
{
	return names[w];
}

const char *bench_work_title(enum bench_workload w)
{
	return titles[w];
}

long bench_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* section: children */

static int pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set) < 0 ? -errno : 0;
}

/* The child's life: its role, its result to the parent, exit. */
static void child_main(struct run *run, role_fn fn)
{
	struct child_msg m = { .kind = MSG_RESULT };
	int r;

	run->m = &m;
	r = run->w == BENCH_W3 && run->p->cpu >= 0 ? pin(0, run->p->cpu) : 0;
	if (r < 0)
		role_fail(run, r, "cannot run on CPU %d", run->p->cpu);
	else
		fn(run);
	if (bench_write_full(run->msg_fd, &m, sizeof(m)) == 0 && m.has_hist)
		bench_write_full(run->msg_fd, run->hist, sizeof(*run->hist));
	_exit(0);
}

/* Fork a child playing fn as the idx'th of its role: 0 or -errno. */
static int start_child(struct run *run, role_fn fn, unsigned idx)
{
	int go[2], msg[2];
	pid_t parent = getpid(), pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(msg, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		close(go[1]);
		close(msg[0]);
		for (unsigned i = 0; i < run->n; i++) {
			close(run->ch[i].to);
			close(run->ch[i].from);
		}
		run->idx = idx;
		run->go_fd = go[0];
		run->msg_fd = msg[1];
		child_main(run, fn);
	}
	close(go[0]);
	close(msg[1]);
	if (pid < 0) {
		close(go[1]);
		close(msg[0]);
		return -errno;
	}
	run->ch[run->n++] = (struct child){ .pid = pid, .to = go[1], .from = msg[0] };
	return 0;
}

/* End every child (killed unless it exited by itself) and close the pipes. */
static void stop_children(struct run *run, bool kill_them)
{
	for (unsigned i = 0; i < run->n; i++) {
		if (kill_them)
			kill(run->ch[i].pid, SIGKILL);
		close(run->ch[i].to);
		close(run->ch[i].from);
	}
	for (unsigned i = 0; i < run->n; i++)
		while (waitpid(run->ch[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
	run->n = 0;
}

/* Every child ready within BENCH_READY_MS: 0, or -errno with the reason in r->err. */
static int wait_ready(struct run *run, struct bench_result *r)
{
	long long deadline = (long long)(bench_now_ns() / 1000000) + BENCH_READY_MS;
	struct child_msg m;

	for (unsigned i = 0; i < run->n; i++) {
		int e = bench_read_full(run->ch[i].from, &m, sizeof(m), deadline);

		if (e == 0 && m.kind == MSG_READY)
			continue;
		if (e == 0) {
			snprintf(r->err, sizeof(r->err), "%s", m.err);
			return m.status < 0 ? m.status : -EPROTO;
		}
		snprintf(r->err, sizeof(r->err), "a client %s", e == -ETIMEDOUT ?
			 "was not ready in time" : "ended before it was ready");
		return e;
	}
	return 0;
}

/* After forking the children (e: how that went), every one ready: 0 or -errno (r->err). */
static int ready_all(struct run *run, int e, struct bench_result *r)
{
	if (e < 0) {
		snprintf(r->err, sizeof(r->err), "fork: %s", strerror(-e));
		return e;
	}
	return wait_ready(run, r);
}

/* Go, then every child's result into run->res: 0 or -errno (r->err). */
static int go_collect(struct run *run, struct bench_result *r)
{
	int e = 0;

	for (unsigned i = 0; i < run->n && e == 0; i++)
		e = bench_write_full(run->ch[i].to, "G", 1);
	for (unsigned i = 0; i < run->n && e == 0; i++) {
		struct child_msg *m = &run->res[i];

		e = bench_read_full(run->ch[i].from, m, sizeof(*m), -1);
		if (e == 0 && m->has_hist)
			e = bench_read_full(run->ch[i].from, run->hist, sizeof(*run->hist), -1);
	}
	if (e < 0)
		snprintf(r->err, sizeof(r->err), "a client ended before its result: %s",
			 strerror(-e));
	return e;
}

/* The first failure a child reported, if any, into r: true when there was one. */
static bool child_failed(const struct run *run, struct bench_result *r)
{
	for (unsigned i = 0; i < run->n; i++) {
		if (run->res[i].status < 0) {
			snprintf(r->err, sizeof(r->err), "%s", run->res[i].err);
			return true;
		}
	}
	return false;
}

static double rate(uint64_t n, uint64_t ns)
{
	return ns ? (double)n * 1e9 / (double)ns : 0;
}

/* section: workloads */

/* W1, W2, W5: nsub subscribers (children 0..) and npub publishers (after them). */
static void sum_pubsub(struct run *run, unsigned nsub, unsigned npub, struct bench_result *r)
{
	uint64_t first = UINT64_MAX, last = 0, n = run->p->messages;

	r->messages = n * npub;
	for (unsigned i = 0; i < nsub; i++) {
		const struct child_msg *m = &run->res[i];

		r->delivered += m->count;
		r->errors += m->errors;
		for (unsigned j = 0; j < npub; j++) {
			uint64_t lost = m->per_src[j] < n ? n - m->per_src[j] : 0;

			r->lost += lost;
			if (run->w == BENCH_W2)
				r->lost_per[i] += lost;
			else if (run->w == BENCH_W5)
				r->lost_per[j] += lost;
		}
		if (m->count && m->first_ns < first)
			first = m->first_ns;
		if (m->count && m->last_ns > last)
			last = m->last_ns;
	}
	r->nper = run->w == BENCH_W2 ? nsub : run->w == BENCH_W5 ? npub : 0;
	if (last > first) {
		r->elapsed_s = (double)(last - first) / 1e9;
		r->deliveries_per_s = rate(r->delivered, last - first);
		r->msgs_per_s = r->deliveries_per_s / nsub;
	}
}

static int pubsub(struct run *run, unsigned nsub, unsigned npub, struct bench_result *r)
{
	int e = 0;

	for (unsigned i = 0; i < nsub && e == 0; i++)
		e = start_child(run, role_sink, i);
	for (unsigned i = 0; i < npub && e == 0; i++)
		e = start_child(run, role_pub, i);
	e = ready_all(run, e, r);
	if (e == 0)
		e = go_collect(run, r);
	if (e == 0 && !child_failed(run, r))
		r->ok = true;
	if (e == 0)
		sum_pubsub(run, nsub, npub, r);
	return e;
}

static int round_trip(struct run *run, struct bench_result *r)
{
	const struct bench_opts *p = run->p;
	cpu_set_t old;
	bool pinned = false;
	int e = 0;

	if (p->cpu >= 0) {
		/* the server too: W3 on one CPU means every process of it */
		e = sched_getaffinity(run->server_pid, sizeof(old), &old) < 0 ? -errno : 0;
		if (e == 0)
			e = pin(run->server_pid, p->cpu);
		if (e < 0) {
			snprintf(r->err, sizeof(r->err),
				 "cannot run the server (pid %d) on CPU %d: %s",
				 (int)run->server_pid, p->cpu, strerror(-e));
			return e;
		}
		pinned = true;
	}
	e = start_child(run, role_echo, 0);
	if (e == 0)
		e = start_child(run, role_pinger, 0);
	e = ready_all(run, e, r);
	if (e == 0)
		e = go_collect(run, r);
	if (e == 0) {
		const struct child_msg *a = &run->res[1];

		r->ok = !child_failed(run, r);
		r->messages = p->trips;
		r->delivered = a->count;
		r->lost = p->trips - a->count;
		r->errors = a->errors + run->res[0].errors;
		r->elapsed_s = (double)(a->last_ns - a->first_ns) / 1e9;
		r->msgs_per_s = rate(a->count, a->last_ns - a->first_ns);
		r->p50_ns = bench_hist_percentile(run->hist, 50);
		r->p99_ns = bench_hist_percentile(run->hist, 99);
		r->hist = run->hist;
		run->hist = NULL;
	}
	if (pinned)
		sched_setaffinity(run->server_pid, sizeof(old), &old);
	return e;
}

/*
 * W4 and W6: one child, and the server's memory. W4: before the clients
 * connect and once they all have subscribed; W6: after the warm-up and
 * after the churn.
 */
static int memory(struct run *run, role_fn fn, struct bench_result *r)
{
	const struct bench_opts *p = run->p;
	long base = bench_rss_kib(run->server_pid), now;
	int e;

	if (base < 0) {
		snprintf(r->err, sizeof(r->err), "cannot read the memory of the server (pid %d)",
			 (int)run->server_pid);
		return -ESRCH;
	}
	e = ready_all(run, start_child(run, fn, 0), r);
	if (e < 0)
		return e;
	now = bench_rss_kib(run->server_pid);
	r->rss_before_kib = run->w == BENCH_W4 ? base : now;
	r->rss_after_kib = now;
	e = go_collect(run, r);
	if (e < 0)
		return e;
	r->ok = !child_failed(run, r);
	if (run->w == BENCH_W4) {
		r->bytes_per_client =
			(double)(r->rss_after_kib - r->rss_before_kib) * 1024 / p->clients;
	} else {
		const struct child_msg *m = &run->res[0];

		r->rss_after_kib = bench_rss_kib(run->server_pid);
		r->cycles = m->count;
		r->elapsed_s = (double)(m->last_ns - m->first_ns) / 1e9;
		r->cycles_per_s = rate(m->count, m->last_ns - m->first_ns);
	}
	return 0;
}

pid_t bench_server_pid(const struct bench_driver *d, const char *target, char *err,
		       size_t errlen)
{
	struct bench_conn *c = d->connect(target, err, errlen);
	pid_t pid;

	if (!c)
		return -1;
	pid = d->server_pid(c);
	d->close(c);
	if (pid <= 0)
		snprintf(err, errlen, "cannot tell the pid of the bus at %s", target);
	return pid > 0 ? pid : -1;
}

int bench_run(const struct bench_driver *d, const char *target, const struct bench_opts *p,
	      struct bench_result *r)
{
	enum bench_workload w = p->w;
	struct run *run = calloc(1, sizeof(*run));
	int e = -ENOMEM;

	memset(r, 0, sizeof(*r));
	r->w = w;
	if (!run)
		goto out;
	run->d = d;
	run->target = target;
	run->server_pid = bench_server_pid(d, target, r->err, sizeof(r->err));
	if (run->server_pid < 0) {
		e = -ECONNREFUSED;
		goto out;
	}
	run->p = p;
	run->w = w;
	run->warmup = w == BENCH_W3 ? BENCH_W3_WARMUP(p->trips) : 0;
	/* topics of this process alone: other benchmarks on the same bus do not mix in */
	snprintf(run->topic_a, sizeof(run->topic_a), "bench/%d/%s/a", (int)getpid(), names[w]);
	snprintf(run->topic_b, sizeof(run->topic_b), "bench/%d/%s/b", (int)getpid(), names[w]);
	run->res = calloc(BENCH_MAX_PROCS + 1, sizeof(*run->res));
	run->hist = w == BENCH_W3 ? malloc(sizeof(*run->hist)) : NULL;
	if (!run->res || (w == BENCH_W3 && !run->hist))
		goto out;
	switch (w) {
	case BENCH_W1:
		e = pubsub(run, 1, 1, r);
		break;
	case BENCH_W2:
		e = pubsub(run, p->subscribers, 1, r);
		break;
	case BENCH_W3:
		e = round_trip(run, r);
		break;
	case BENCH_W4:
		e = memory(run, role_idle, r);
		break;
	case BENCH_W5:
		e = pubsub(run, 1, p->publishers, r);
		break;
	default:
		e = memory(run, role_churn, r);
		break;
	}
	if (e == 0 && r->ok && (r->lost || r->errors)) {
		r->ok = false;
		snprintf(r->err, sizeof(r->err),
			 "%llu messages lost, %llu out of order or malformed",
			 (unsigned long long)r->lost, (unsigned long long)r->errors);
	}
	stop_children(run, e < 0);
out:
	if (e == -ENOMEM && !r->err[0])
		snprintf(r->err, sizeof(r->err), "%s", strerror(ENOMEM));
	if (run) {
		free(run->res);
		free(run->hist);
	}
	free(run);
	return e;
}

void bench_result_free(struct bench_result *r)
{
	free(r->hist);
	r->hist = NULL;
}
