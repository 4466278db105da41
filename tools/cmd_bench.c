/*
 * jbus bench [W1,W2,...]: the workloads of docs/performance.md against the
 * broker at -s (or the default socket), or against a jbusd of its own
 * (--spawn), with the jbus driver; a results table on stdout, or --json,
 * and --svg for a chart.
 *
 * The workloads themselves are in bench_work.c and the reports in
 * bench_report.c; this file holds the command line, the spawned broker
 * and the order of the runs. With --repeat R the workloads run round after
 * round (W1 W2 .. W1 W2 ..) rather than each R times in a row, so that a
 * burst of load from elsewhere on the machine spreads over all of them.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef JBUS_VERSION
#define JBUS_VERSION "unknown"
#endif

/* The spawned broker's deadlines: to be listening, and to exit after SIGTERM. */
#define SPAWN_READY_MS 10000
#define SPAWN_EXIT_MS  10000
/* Largest --size: far beyond any broker's frame limit, only against silly allocations. */
#define BENCH_SIZE_MAX (64u << 20)

enum {
	OPT_CYCLES = 256,
	OPT_CPU,
	OPT_SPAWN,
	OPT_JSON,
	OPT_SVG,
};

struct bench_cmd {
	const struct bench_driver *drv;
	const char *target; /* the bus's socket path */
	struct bench_opts p;
	unsigned repeat;
	bool spawn, json, size_given;
	const char *svg;
	unsigned mask; /* workloads to run: bit w */
};

/* The spawned broker. */
struct spawned {
	pid_t pid;
	char dir[64];
	char path[96];
};

static int count_opt(struct cli *cli, const char *opt, const char *arg, unsigned long long max,
		     unsigned long long *v)
{
	if (cli_parse_count(cli, opt, arg, v) != 0)
		return CLI_USAGE;
	if (*v > max)
		return cli_usage(cli, "invalid %s value '%s' (at most %llu)", opt, arg, max);
	return CLI_OK;
}

static int bench_cpu(struct cli *cli, const char *arg, int *cpu)
{
	cpu_set_t set;
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (end == arg || *end || errno || v < 0 || v >= CPU_SETSIZE)
		return cli_usage(cli, "invalid --cpu value '%s' (a CPU number)", arg);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && !CPU_ISSET((int)v, &set))
		return cli_usage(cli, "--cpu %ld: this process may not run on that CPU", v);
	*cpu = (int)v;
	return CLI_OK;
}

static int bench_option(struct cli *cli, int opt, const char *arg, void *opts)
{
	struct bench_cmd *o = opts;
	struct bench_opts *p = &o->p;
	unsigned long long v;
	int r = CLI_OK;

	switch (opt) {
	case 'm':
		r = count_opt(cli, "--messages", arg, 1ull << 40, &p->messages);
		break;
	case 'b':
		r = count_opt(cli, "--size", arg, BENCH_SIZE_MAX, &v);
		p->size = (size_t)v;
		o->size_given = true;
		break;
	case 'k':
		r = count_opt(cli, "--subscribers", arg, BENCH_MAX_PROCS, &v);
		p->subscribers = (unsigned)v;
		break;
	case 'p':
		r = count_opt(cli, "--publishers", arg, BENCH_MAX_PROCS, &v);
		p->publishers = (unsigned)v;
		break;
	case 't':
		r = count_opt(cli, "--trips", arg, 1ull << 40, &p->trips);
		break;
	case 'c':
		r = count_opt(cli, "--clients", arg, 1000000, &v);
		p->clients = (unsigned)v;
		break;
	case 'd':
		r = cli_parse_seconds(cli, "--duration", arg, &p->duration_ms);
		break;
	case 'r':
		r = count_opt(cli, "--repeat", arg, 1000, &v);
		o->repeat = (unsigned)v;
		break;
	case OPT_CYCLES:
		r = count_opt(cli, "--cycles", arg, 1ull << 40, &p->cycles);
		break;
	case OPT_CPU:
		r = bench_cpu(cli, arg, &p->cpu);
		break;
	case OPT_SPAWN:
		o->spawn = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_SVG:
		o->svg = arg;
		break;
	default:
		r = cli_usage(cli, "unknown option");
		break;
	}
	return r;
}

/* "W1,W3" or "w2" ...: the workloads named in arg added to o->mask. */
static int workload_arg(struct cli *cli, const char *arg, struct bench_cmd *o)
{
	char buf[256];
	char *save = NULL, *tok;
	unsigned n = 0;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return cli_usage(cli, "invalid workload list '%.32s...'", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if ((tok[0] != 'W' && tok[0] != 'w') || tok[1] < '1' ||
		    tok[1] > '0' + BENCH_NWORK || tok[2])
			return cli_usage(cli, "unknown workload '%s' (W1 to W%d)", tok,
					 BENCH_NWORK);
		o->mask |= 1u << (tok[1] - '1');
		n++;
	}
	if (!n)
		return cli_usage(cli, "unknown workload '%s' (W1 to W%d)", arg, BENCH_NWORK);
	return CLI_OK;
}

/* section: the spawned broker */

/* jbusd next to this program (build/jbusd beside build/jbus), else the one on $PATH. */
static const char *jbusd_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 8);
	char *slash;

	if (n > 0) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash) {
			strcpy(slash + 1, "jbusd");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "jbusd";
}

/* Copy the spawned broker's log to stderr, to show why it failed. */
static void show_log(const struct spawned *sp)
{
	char path[128], buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/jbusd.log", sp->dir);
	f = fopen(path, "re");
	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

/* Remove the directory and what the broker left in it (its log, a lock file). */
static void remove_dir(struct spawned *sp)
{
	DIR *d = opendir(sp->dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(sp->dir);
}

/* Wait for pid's exit for at most ms: its waitpid status, or -1 (still running). */
static int wait_exit(pid_t pid, int ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), status;

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		while (poll(&p, 1, ms) < 0 && errno == EINTR)
			;
		close(pfd);
	}
	return waitpid(pid, &status, pfd >= 0 ? WNOHANG : 0) == pid ? status : -1;
}

static void child_exec(const struct spawned *sp, int ready_fd)
{
	char exe[PATH_MAX], fd[16], log[128];
	const char *bin = jbusd_path(exe, sizeof(exe));
	int lf;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	snprintf(log, sizeof(log), "%s/jbusd.log", sp->dir);
	lf = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (lf >= 0) {
		dup2(lf, STDOUT_FILENO);
		dup2(lf, STDERR_FILENO);
	}
	fcntl(ready_fd, F_SETFD, 0);
	snprintf(fd, sizeof(fd), "%d", ready_fd);
	/* throughput, not the slow-consumer rule: the queue limit of make bench-peers, whose
	 * redis and mosquitto are configured not to drop a lagging subscriber either */
	execlp(bin, bin, "-s", sp->path, "--ready-fd", fd, "--queue-limit", "4G", (char *)NULL);
	fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Start jbusd on a socket in a fresh directory, once it is listening: CLI_OK or CLI_FAIL. */
static int spawn(struct cli *cli, struct spawned *sp)
{
	const char *tmp = getenv("TMPDIR");
	int rp[2];
	char buf[8];
	ssize_t n = -1;

	snprintf(sp->dir, sizeof(sp->dir), "%s/jbus-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(sp->dir)) {
		cli_error(cli, "cannot make a directory for the broker: %s", strerror(errno));
		return CLI_FAIL;
	}
	snprintf(sp->path, sizeof(sp->path), "%s/jbus.sock", sp->dir);
	if (pipe2(rp, O_CLOEXEC) < 0) {
		cli_error(cli, "pipe: %s", strerror(errno));
		rmdir(sp->dir);
		return CLI_FAIL;
	}
	fflush(NULL);
	sp->pid = fork();
	if (sp->pid == 0)
		child_exec(sp, rp[1]);
	close(rp[1]);
	if (sp->pid > 0) {
		struct pollfd p = { .fd = rp[0], .events = POLLIN };

		if (poll(&p, 1, SPAWN_READY_MS) > 0)
			n = read(rp[0], buf, sizeof(buf));
	}
	close(rp[0]);
	if (n == 6 && !memcmp(buf, "ready\n", 6))
		return CLI_OK;
	cli_error(cli, "the broker did not start");
	if (sp->pid > 0) {
		kill(sp->pid, SIGKILL);
		waitpid(sp->pid, NULL, 0);
		show_log(sp);
	}
	sp->pid = 0;
	remove_dir(sp);
	return CLI_FAIL;
}

/* SIGTERM, and the broker must exit 0 in time: CLI_OK or CLI_FAIL. */
static int unspawn(struct cli *cli, struct spawned *sp)
{
	int status, r = CLI_OK;

	if (!sp->pid)
		return CLI_OK;
	kill(sp->pid, SIGTERM);
	status = wait_exit(sp->pid, SPAWN_EXIT_MS);
	if (status == -1) {
		cli_error(cli, "the broker did not exit within %d s of SIGTERM",
			  SPAWN_EXIT_MS / 1000);
		kill(sp->pid, SIGKILL);
		waitpid(sp->pid, NULL, 0);
		r = CLI_FAIL;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_error(cli, "the broker ended with %s %d",
			  WIFEXITED(status) ? "status" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		show_log(sp);
		r = CLI_FAIL;
	}
	sp->pid = 0;
	remove_dir(sp);
	return r;
}

/* section: running */

/* As many open files as allowed: W4's clients are connections of one process. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Is there a bus at the target? Else the reason, and CLI_FAIL. */
static int probe(struct cli *cli, const struct bench_cmd *o)
{
	char err[256];

	if (bench_server_pid(o->drv, o->target, err, sizeof(err)) > 0)
		return CLI_OK;
	cli_error(cli, "%s", err);
	return CLI_FAIL;
}

/*
 * A spawned broker anew for W4: memory a broker has freed (the queues of
 * W2's subscribers) stays resident and would take the idle clients in
 * without growing, so W4 is measured on a broker with no history.
 */
static int respawn(struct cli *cli, struct spawned *sp, struct bench_cmd *o)
{
	int r = unspawn(cli, sp);

	if (r == CLI_OK)
		r = spawn(cli, sp);
	if (r == CLI_OK)
		o->target = sp->path;
	return r == CLI_OK ? probe(cli, o) : r;
}

/* Every workload of o->mask, o->repeat rounds; the summaries into s (one per workload). */
static int run_all(struct cli *cli, struct bench_cmd *o, struct spawned *sp,
		   struct bench_summary *s, unsigned *ns)
{
	unsigned nw = 0, done = 0, total;
	enum bench_workload ws[BENCH_NWORK];
	struct bench_result *res;
	int r = CLI_OK;

	for (unsigned w = 0; w < BENCH_NWORK; w++)
		if (o->mask & (1u << w))
			ws[nw++] = (enum bench_workload)w;
	total = nw * o->repeat;
	res = calloc(total, sizeof(*res));
	if (!res) {
		cli_error(cli, "%s", strerror(ENOMEM));
		return CLI_FAIL;
	}
	for (unsigned round = 0; round < o->repeat; round++) {
		for (unsigned i = 0; i < nw; i++, done++) {
			char now[64];

			snprintf(now, sizeof(now), "%s run %u/%u", bench_work_name(ws[i]),
				 round + 1, o->repeat);
			bench_progress(stderr, done, total, now);
			if (ws[i] == BENCH_W4 && sp->pid && respawn(cli, sp, o) != CLI_OK) {
				bench_progress(stderr, total, total, "");
				r = CLI_FAIL;
				goto out;
			}
			o->p.w = ws[i];
			bench_run(o->drv, o->target, &o->p, &res[i * o->repeat + round]);
		}
	}
	bench_progress(stderr, total, total, "");
	for (unsigned i = 0; i < nw; i++) {
		if (bench_summarize(&res[i * o->repeat], o->repeat, &s[i]) < 0) {
			cli_error(cli, "%s", strerror(ENOMEM));
			r = CLI_FAIL;
		}
		if (!s[i].ok) {
			cli_error(cli, "%s: %s", bench_work_name(ws[i]), s[i].err);
			r = CLI_FAIL;
		}
	}
	*ns = nw;
out:
	for (unsigned i = 0; i < total; i++)
		bench_result_free(&res[i]);
	free(res);
	return r;
}

static int report(struct cli *cli, const struct bench_cmd *o, const struct bench_report *rep)
{
	FILE *f;
	int r;

	r = o->json ? bench_print_json(stdout, rep) : bench_print_table(stdout, rep);
	if (r < 0) {
		cli_error(cli, "cannot write to standard output: %s", strerror(errno));
		return CLI_FAIL;
	}
	if (!o->svg)
		return CLI_OK;
	f = fopen(o->svg, "we");
	if (!f) {
		cli_error(cli, "cannot write %s: %s", o->svg, strerror(errno));
		return CLI_FAIL;
	}
	r = bench_write_svg(f, rep);
	if (fclose(f) != 0 || r < 0) {
		cli_error(cli, "cannot write %s: %s", o->svg, strerror(errno));
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int bench_main(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "messages", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 'b' },
		{ "subscribers", required_argument, NULL, 'k' },
		{ "publishers", required_argument, NULL, 'p' },
		{ "trips", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "cycles", required_argument, NULL, OPT_CYCLES },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "spawn", no_argument, NULL, OPT_SPAWN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ 0 },
	};
	struct bench_cmd o = {
		.drv = &bench_driver_jbus,
		.p = BENCH_OPTS_DEFAULT,
		.repeat = 1,
	};
	struct bench_summary s[BENCH_NWORK] = { 0 };
	struct spawned sp = { 0 };
	char def[4096];
	unsigned ns = 0;
	int first, status, st;

	if (!cli_parse(cli, argc, argv, "m:b:k:p:t:c:d:r:", longopts, bench_option, &o, &first,
		       &status))
		return status;
	if (cli->name)
		return cli_usage(cli, "-n does not apply: the benchmark's clients take "
				      "generated names");
	if (o.spawn && cli->socket)
		return cli_usage(cli, "--spawn and -s exclude each other");
	for (int i = first; i < argc; i++)
		if ((status = workload_arg(cli, argv[i], &o)) != CLI_OK)
			return status;
	if (!o.mask)
		o.mask = (1u << BENCH_NWORK) - 1;
	if (o.p.size < bench_min_size(&o.p)) {
		if (o.size_given)
			return cli_usage(cli,
					 "--size %zu is too small: the payload of these counts "
					 "needs %zu bytes",
					 o.p.size, bench_min_size(&o.p));
		o.p.size = bench_min_size(&o.p);
	}
	o.target = cli->socket;
	if (!o.spawn && !o.target) {
		if (jbus_default_socket_path(def, sizeof(def)) < 0)
			return cli_usage(cli, "the default socket path is too long");
		o.target = def;
	}
	raise_nofile();
	if (o.spawn) {
		if (spawn(cli, &sp) != CLI_OK)
			return CLI_FAIL;
		o.target = sp.path;
	}
	status = probe(cli, &o);
	if (status == CLI_OK)
		status = run_all(cli, &o, &sp, s, &ns);
	if (ns) {
		struct bench_report rep = { .driver = o.drv->name, .target = o.target,
					    .p = &o.p, .version = JBUS_VERSION, .repeat = o.repeat,
					    .spawned = o.spawn, .s = s, .n = ns };

		st = report(cli, &o, &rep);
		status = status != CLI_OK ? status : st;
	}
	st = unspawn(cli, &sp);
	status = status != CLI_OK ? status : st;
	for (unsigned i = 0; i < ns; i++)
		bench_summary_free(&s[i]);
	return status;
}

const struct cli_cmd cmd_bench = {
	.name = "bench",
	.args = "[W1,W2,...]",
	.summary = "measure the broker: throughput, latency, memory",
	.help = "Run the benchmark workloads (all of them without an argument; names may be\n"
		"given separated by commas or as separate arguments) against the broker and\n"
		"print one line of results for each:\n"
		"  W1  1 publisher -> 1 subscriber: msgs/s at the subscriber\n"
		"  W2  1 publisher -> K subscribers: deliveries/s, loss per subscriber\n"
		"  W3  round trips: A publishes, B echoes on another topic, A waits for\n"
		"      each echo; latency percentiles\n"
		"  W4  the broker's memory per idle client (one subscription each)\n"
		"  W5  P publishers -> 1 subscriber: msgs/s, loss per publisher\n"
		"  W6  connect, subscribe, close, again and again: cycles/s and the growth\n"
		"      of the broker's memory\n"
		"Every client is a process of its own. Every message carries a sequence\n"
		"number: a message lost, duplicated or out of order fails the run.\n"
		"docs/performance.md describes the workloads and the JSON output.\n"
		"\n"
		"Options:\n"
		"      --spawn           start a broker of its own (jbusd next to this\n"
		"                        program, else on $PATH) on a socket in a new\n"
		"                        temporary directory, and stop it at the end\n"
		"  -m, --messages N      messages of W1 and W2, and of each W5 publisher\n"
		"                        (default 1000000)\n"
		"  -b, --size BYTES      payload size, a JSON object holding the sequence\n"
		"                        number (default 100)\n"
		"  -k, --subscribers K   W2 subscribers (default 8, at most 256)\n"
		"  -p, --publishers P    W5 publishers (default 8, at most 256)\n"
		"  -t, --trips T         W3 round trips (default 20000)\n"
		"      --cpu N           W3: run the clients and the broker on CPU N\n"
		"  -c, --clients C       W4 idle clients (default 1000)\n"
		"  -d, --duration SECONDS  W6 duration (default 3)\n"
		"      --cycles M        W6: M cycles rather than a duration\n"
		"  -r, --repeat R        run everything R times and report the medians\n"
		"                        (losses: the sum) (default 1)\n"
		"      --json            print one JSON document instead of the table\n"
		"      --svg FILE        also write a chart to FILE (SVG): throughput of\n"
		"                        W1, W2, W5 and the W3 latency by percentile\n"
		"\n"
		"A progress line goes to standard error when it is a terminal. Exit status\n"
		"1 when a workload could not run or lost a message.\n",
	.run = bench_main,
};
