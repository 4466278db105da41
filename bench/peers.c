/*
 * make bench-peers: jbus, redis and mosquitto side by side, measured by the
 * same workloads in one run, each bus on a fresh server of its own.
 *
 *   peers [-j JBUSD] [-b BUS]... [-w W1,W2,...] [-n COUNT] [--smoke]
 *
 * Without --smoke it runs every workload of the runner (peers_run.c), or
 * those -w names, over each bus in turn, one fresh server per workload and
 * bus so that no run inherits another's memory or connections, and the
 * three buses measured close together in time for each workload (a shared
 * machine drifts), then prints one table with jbus's ratio to each peer.
 *
 * --smoke checks the drivers and the servers alone: per bus, a subscriber
 * process and a publisher process exchange COUNT (100,000) 100-byte messages
 * and the subscriber checks that each arrived once, whole and in order.
 *
 * The jbus driver and the workload runner are those of jbus bench (tools/).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "peer_server.h"
#include "peer_sock.h"
#include "peers.h"

#define SMOKE_TOPIC   "bench/smoke"
#define SMOKE_SIZE    100
#define SMOKE_IDLE_MS 10000 /* the subscriber gives up after this long without a message */
#define READY_MS      30000 /* a client must have connected and subscribed within this */

static const struct bench_driver *driver_of(enum peer_kind kind)
{
	switch (kind) {
	case PEER_JBUS:
		return &bench_driver_jbus;
	case PEER_REDIS:
		return &bench_driver_redis;
	default:
		return &bench_driver_mosquitto;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* section: smoke, the subscriber and the publisher */

/* What a smoke client reports to the parent through its pipe. */
struct smoke_report {
	int err;	  /* -errno of the first failure, 0 */
	char what[96];	  /* what failed */
	long got;	  /* messages received */
	long bad;	  /* out of order, twice, or not whole: lost is count - (got - bad) */
	double t;	  /* subscriber: when the last message came; publisher: when it began */
	pid_t server_pid; /* as the driver saw it */
};

struct smoke_sub {
	long want, got;
	long next; /* the sequence number expected next: a gap is a loss, not disorder */
	long bad;  /* not whole, or a number already passed (duplicate, reordered) */
	double last;
};

/*
 * {"seq":"0000000042","pad":"xxx...x"}: SMOKE_SIZE bytes of valid JSON (a
 * string, as JSON numbers cannot have leading zeros), the number at a fixed place.
 */
#define SEQ_AT	8
#define SEQ_LEN 10

static void smoke_payload(char *buf)
{
	int n = snprintf(buf, SMOKE_SIZE + 1, "{\"seq\":\"%0*d\",\"pad\":\"", SEQ_LEN, 0);

	memset(buf + n, 'x', SMOKE_SIZE - 2 - (size_t)n);
	memcpy(buf + SMOKE_SIZE - 2, "\"}", 3);
}

static void set_seq(char *buf, long seq)
{
	for (int i = SEQ_AT + SEQ_LEN - 1; i >= SEQ_AT; i--, seq /= 10)
		buf[i] = (char)('0' + seq % 10);
}

static void smoke_msg(void *ud, const char *topic, size_t topic_len, const char *payload,
		      size_t len)
{
	struct smoke_sub *s = ud;
	long seq = 0;
	bool ok;

	ok = topic_len == strlen(SMOKE_TOPIC) && memcmp(topic, SMOKE_TOPIC, topic_len) == 0 &&
	     len == SMOKE_SIZE && memcmp(payload, "{\"seq\":\"", SEQ_AT) == 0 &&
	     memcmp(payload + SMOKE_SIZE - 2, "\"}", 2) == 0;
	for (int i = SEQ_AT; ok && i < SEQ_AT + SEQ_LEN; i++) {
		ok = payload[i] >= '0' && payload[i] <= '9';
		seq = seq * 10 + (payload[i] - '0');
	}
	if (!ok || seq < s->next)
		s->bad++;
	else
		s->next = seq + 1;
	s->got++;
	s->last = now_s();
}

static void report_error(struct smoke_report *rep, int err, const char *what)
{
	if (!rep->err) {
		rep->err = err;
		snprintf(rep->what, sizeof(rep->what), "%s", what);
	}
}

/* Connects and says so on stderr if it cannot. */
static struct bench_conn *smoke_connect(const struct bench_driver *d, const char *target,
					struct smoke_report *rep)
{
	char err[256];
	struct bench_conn *c = d->connect(target, err, sizeof(err));

	if (!c) {
		fprintf(stderr, "peers: %s\n", err);
		report_error(rep, -ECONNREFUSED, "connect");
	} else {
		rep->server_pid = d->server_pid(c);
	}
	return c;
}

/* The subscriber process: subscribes, says so on ready_fd, receives until want or idle. */
static void smoke_subscriber(const struct bench_driver *d, const char *target, long want,
			     int ready_fd, struct smoke_report *rep)
{
	struct smoke_sub s = { .want = want };
	struct bench_conn *c = smoke_connect(d, target, rep);
	int r;

	if (!c)
		return;
	r = d->subscribe(c, SMOKE_TOPIC);
	if (r < 0)
		report_error(rep, r, "subscribe");
	else if (write(ready_fd, "R", 1) != 1)
		report_error(rep, -errno, "tell the parent");
	close(ready_fd);
	while (!rep->err && s.got < s.want) {
		r = d->receive(c, SMOKE_IDLE_MS, smoke_msg, &s);
		if (r < 0)
			report_error(rep, r, "receive");
		else if (r == 0)
			break;
	}
	rep->got = s.got;
	rep->bad = s.bad;
	rep->t = s.last;
	d->close(c);
}

/* The publisher process: count messages, then flush (ready_fd: unused). */
static void smoke_publisher(const struct bench_driver *d, const char *target, long count,
			    int ready_fd, struct smoke_report *rep)
{
	struct bench_conn *c = smoke_connect(d, target, rep);
	char payload[SMOKE_SIZE + 1];
	int r = 0;

	if (!c)
		return;
	smoke_payload(payload);
	rep->t = now_s();
	for (long i = 0; i < count && r == 0; i++) {
		set_seq(payload, i);
		r = d->publish(c, SMOKE_TOPIC, payload, SMOKE_SIZE);
		if (r == 0)
			rep->got++;
	}
	if (r == 0)
		r = d->flush(c);
	if (r < 0)
		report_error(rep, r, "publish");
	d->close(c);
}

/* section: smoke, the parent */

struct smoke_child {
	pid_t pid;
	int fd; /* the report comes here */
};

/* Forks a client that runs fn and writes its report to a pipe; ready_fd is passed to fn. */
static int smoke_fork(struct smoke_child *ch, void (*fn)(const struct bench_driver *, const char *,
							 long, int, struct smoke_report *),
		      const struct bench_driver *d, const char *target, long count, int ready_fd)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	ch->pid = fork();
	if (ch->pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (ch->pid == 0) {
		struct smoke_report rep = { 0 };

		close(p[0]);
		fn(d, target, count, ready_fd, &rep);
		_exit(write(p[1], &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
	}
	close(p[1]);
	ch->fd = p[0];
	return 0;
}

/* The child's report (a child that died without one: an error), and its exit. */
static void smoke_collect(struct smoke_child *ch, struct smoke_report *rep)
{
	ssize_t n = read(ch->fd, rep, sizeof(*rep));

	if (n != sizeof(*rep)) {
		memset(rep, 0, sizeof(*rep));
		report_error(rep, -ECHILD, "died without a report");
	}
	close(ch->fd);
	waitpid(ch->pid, NULL, 0);
}

/* One bus: 0 if every message arrived once and in order. */
static int smoke_bus(const struct peer_server *s, long count)
{
	const struct bench_driver *d = driver_of(s->kind);
	struct smoke_report sub = { 0 }, pub = { 0 };
	struct smoke_child sc, pc = { .pid = -1 };
	const char *name = peer_kind_name(s->kind);
	int ready[2], r;
	char buf;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	r = smoke_fork(&sc, smoke_subscriber, d, s->sock, count, ready[1]);
	close(ready[1]);
	if (r == 0) {
		/* the publisher starts once the subscription is confirmed: no loss by a race */
		r = peer_sock_wait(ready[0], POLLIN, peer_now_ms() + READY_MS);
		if (r > 0 && read(ready[0], &buf, 1) == 1)
			r = smoke_fork(&pc, smoke_publisher, d, s->sock, count, -1);
		else
			r = -ETIMEDOUT; /* or the subscriber failed: its report says */
		if (pc.pid > 0)
			smoke_collect(&pc, &pub);
		smoke_collect(&sc, &sub);
	}
	close(ready[0]);
	if (r < 0 && !sub.err && !pub.err)
		report_error(&sub, r, "start the clients");
	if (sub.err || pub.err) {
		const struct smoke_report *e = sub.err ? &sub : &pub;

		printf("smoke %-9s %-8s FAILED: %s %s: %s\n", name, s->version,
		       sub.err ? "subscriber" : "publisher", e->what, strerror(-e->err));
		return -EIO;
	}
	printf("smoke %-9s %-8s %ld/%ld received, %ld lost, %ld bad, %.3f M msgs/s%s\n",
	       name, s->version, sub.got, count, count - sub.got + sub.bad, sub.bad,
	       (double)sub.got / (sub.t - pub.t) / 1e6,
	       sub.server_pid == s->pid && pub.server_pid == s->pid ? "" : ", WRONG server pid");
	return sub.got == count && sub.bad == 0 && sub.server_pid == s->pid &&
			       pub.server_pid == s->pid ?
		       0 :
		       -EIO;
}

/* section: the comparison table */

static const struct {
	const char *name;
	const char *unit;
	bool lower_better;
	double scale; /* printed value = value / scale, with decimals decimals */
	int decimals;
} rows[PEERS_ROWS] = {
	[PEERS_W1] = { "W1 1->1 100 B", "M msgs/s", false, 1e6, 3 },
	[PEERS_W2] = { "W2 1->8 100 B", "M deliv/s", false, 1e6, 3 },
	[PEERS_W1_1K] = { "W1 1->1 1 KiB", "M msgs/s", false, 1e6, 3 },
	[PEERS_W2_1K] = { "W2 1->8 1 KiB", "M deliv/s", false, 1e6, 3 },
	[PEERS_W3_P50] = { "W3 round trip p50", "us", true, 1e3, 1 },
	[PEERS_W3_P99] = { "W3 round trip p99", "us", true, 1e3, 1 },
	[PEERS_W4] = { "W4 memory/client", "bytes", true, 1, 0 },
	[PEERS_W5] = { "W5 8->1 100 B", "M msgs/s", false, 1e6, 3 },
	[PEERS_W6] = { "W6 churn", "k conn/s", false, 1e3, 2 },
};

static void print_value(const struct peers_figures *f, int row)
{
	if (f->done[row])
		printf(" %10.*f", rows[row].decimals, f->value[row] / rows[row].scale);
	else if (f->err[row])
		printf(" %10s", "failed");
	else
		printf(" %10s", "-");
}

/* How many times better jbus is than the peer (above 1: jbus is ahead). */
static void print_ratio(const struct peers_figures *jbus, const struct peers_figures *peer,
			int row)
{
	double a = jbus->value[row], b = peer->value[row];

	if (!jbus->done[row] || !peer->done[row] || a <= 0 || b <= 0)
		printf(" %9s", "-");
	else
		printf(" %8.2fx", rows[row].lower_better ? b / a : a / b);
}

static bool print_table(const struct peers_figures fig[PEER_KINDS], char version[PEER_KINDS][64])
{
	bool lost = false, failed = false;

	printf("\njbus %s, redis %s, mosquitto %s; %ld CPUs online\n", version[PEER_JBUS],
	       version[PEER_REDIS], version[PEER_MOSQUITTO], sysconf(_SC_NPROCESSORS_ONLN));
	printf("ratio: how many times better jbus is (above 1: jbus ahead)\n\n");
	printf("%-18s %-9s %10s %10s %10s %9s %9s  %s\n", "workload", "unit", "jbus", "redis",
	       "mosquitto", "vs redis", "vs mosq", "lost j/r/m");
	for (int row = 0; row < PEERS_ROWS; row++) {
		printf("%-18s %-9s", rows[row].name, rows[row].unit);
		for (int k = 0; k < PEER_KINDS; k++)
			print_value(&fig[k], row);
		print_ratio(&fig[PEER_JBUS], &fig[PEER_REDIS], row);
		print_ratio(&fig[PEER_JBUS], &fig[PEER_MOSQUITTO], row);
		printf("  %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n", fig[PEER_JBUS].lost[row],
		       fig[PEER_REDIS].lost[row], fig[PEER_MOSQUITTO].lost[row]);
		for (int k = 0; k < PEER_KINDS; k++) {
			lost |= fig[k].lost[row] > 0;
			failed |= fig[k].err[row] != 0;
		}
	}
	printf("\n%s%s\n", lost ? "MESSAGES WERE LOST (see the last column)" : "no message lost",
	       failed ? "; SOME RUNS FAILED (see above)" : "");
	return !lost && !failed;
}

/* section: main */

#define PEERS_REPEAT_MAX 15

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The figures of n repetitions into one: per row the median of the runs
 * that measured it; losses added up; a failure in any run shows.
 */
static void median_of(const struct peers_figures *rep, int n, struct peers_figures *out)
{
	for (int row = 0; row < PEERS_ROWS; row++) {
		double v[PEERS_REPEAT_MAX];
		int m = 0;

		for (int i = 0; i < n; i++) {
			if (rep[i].done[row])
				v[m++] = rep[i].value[row];
			out->lost[row] += rep[i].lost[row];
			if (rep[i].err[row])
				out->err[row] = rep[i].err[row];
		}
		if (!m)
			continue;
		qsort(v, (size_t)m, sizeof(v[0]), cmp_double);
		out->done[row] = true;
		out->value[row] = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
	}
}

/* "W1,W2": the workloads named, marked in work[]; -EINVAL for a name that is none. */
static int parse_workloads(const char *list, bool work[BENCH_NWORK])
{
	while (*list) {
		size_t n = strcspn(list, ",");
		int w = 0;

		for (; w < BENCH_NWORK; w++) {
			const char *name = bench_work_name((enum bench_workload)w);

			if (strlen(name) == n && !strncasecmp(list, name, n))
				break;
		}
		if (w == BENCH_NWORK)
			return -EINVAL;
		work[w] = true;
		list += n + (list[n] == ',');
	}
	return 0;
}

static int usage(FILE *f, int status)
{
	fprintf(f, "usage: peers [-j JBUSD] [-b BUS]... [-w LIST] [-r N] [-n COUNT] [--smoke]\n"
		   "  -j, --jbusd PATH  the broker (default: $JBUSD, else build/jbusd)\n"
		   "  -b, --bus BUS     only this bus: jbus, redis, mosquitto (repeatable)\n"
		   "  -w, --workloads L only these workloads, e.g. W1,W2 (both payload sizes)\n"
		   "  -r, --repeat N    run each workload N times (the buses taking turns)\n"
		   "                    and show the medians (default 1, at most 15)\n"
		   "      --smoke       check each driver: COUNT messages, 1 -> 1, in order\n"
		   "  -n, --count N     messages of W1 and W2, and of W5 in all (default\n"
		   "                    200000); of --smoke (default 100000)\n");
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jbusd", required_argument, NULL, 'j' },
		{ "bus", required_argument, NULL, 'b' },
		{ "smoke", no_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *jbusd = getenv("JBUSD");
	static struct peers_figures rep[PEER_KINDS][PEERS_REPEAT_MAX];
	struct peers_figures fig[PEER_KINDS] = { 0 };
	char version[PEER_KINDS][64] = { "-", "-", "-" };
	bool smoke = false, ok = true, chosen[PEER_KINDS] = { false }, any_chosen = false;
	bool work[BENCH_NWORK] = { false }, any_work = false;
	long count = 0, repeat = 1;
	int o;

	if (!jbusd || !*jbusd)
		jbusd = "build/jbusd";
	while ((o = getopt_long(argc, argv, "j:b:n:w:r:h", opts, NULL)) != -1) {
		switch (o) {
		case 'b': {
			int k = 0;

			while (k < PEER_KINDS && strcmp(optarg, peer_kind_name((enum peer_kind)k)))
				k++;
			if (k == PEER_KINDS)
				return usage(stderr, 2);
			chosen[k] = any_chosen = true;
			break;
		}
		case 'j':
			jbusd = optarg;
			break;
		case 'w':
			if (parse_workloads(optarg, work) < 0)
				return usage(stderr, 2);
			any_work = true;
			break;
		case 's':
			smoke = true;
			break;
		case 'r':
			repeat = strtol(optarg, NULL, 10);
			if (repeat < 1 || repeat > PEERS_REPEAT_MAX)
				return usage(stderr, 2);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			if (count <= 0)
				return usage(stderr, 2);
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (count)
		peers_messages = (unsigned long long)count;
	else
		count = 100000;
	if (optind != argc)
		return usage(stderr, 2);
	/* a client whose bus went away must fail its write, not die of it */
	signal(SIGPIPE, SIG_IGN);
	/* smoke: one pass; else one pass per run of the runner */
	for (int run = 0; smoke || peers_measure(run, NULL, NULL, NULL); run++) {
		if (!smoke && any_work && !work[peers_run_workload(run)])
			continue;
		/* the buses take turns, so a noisy moment is shared, not given to one */
		for (int r = 0; r < (smoke ? 1 : repeat); r++) {
			for (int k = 0; k < PEER_KINDS; k++) {
				struct peer_server s;

				if (any_chosen && !chosen[k])
					continue;
				if (peer_server_start(&s, (enum peer_kind)k, jbusd) < 0) {
					ok = false;
					continue;
				}
				snprintf(version[k], sizeof(version[k]), "%s", s.version);
				if (smoke)
					ok &= smoke_bus(&s, count) == 0;
				else
					peers_measure(run, driver_of(s.kind), s.sock, &rep[k][r]);
				ok &= peer_server_stop(&s) == 0;
			}
		}
		if (smoke)
			break;
	}
	if (!smoke) {
		for (int k = 0; k < PEER_KINDS; k++)
			median_of(rep[k], (int)repeat, &fig[k]);
		if (repeat > 1)
			printf("\nmedians of %ld runs of each workload\n", repeat);
		ok &= print_table(fig, version);
	}
	return ok ? 0 : 1;
}
