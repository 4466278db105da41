/*
 * The jbus command-line tool ($JBUS, else build/jbus) run as a program
 * against a real jbusd: each subcommand's output, exit status and errors.
 *
 * Processes are started with pipes on stdin, stdout and stderr and read
 * with poll() and deadlines (proc_*); they live in a fixture-owned table,
 * so teardown kills whatever a failed test left running. A subscriber is
 * known to be subscribed when a message published to its topic is
 * delivered to one client (sync_pub), and its output then starts with
 * that message; a listener by name when a direct message to it is
 * accepted (sync_send). No test sleeps to wait for anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define MAX_PROCS 8

/* section: processes */

struct obuf {
	int fd; /* our end of the pipe, -1 once at EOF (or closed by the test) */
	char *p;
	size_t len, cap;
	size_t pos; /* start of the next line proc_line hands out */
};

struct proc {
	bool used; /* the slot holds a process, running or finished, until teardown */
	pid_t pid; /* 0 once reaped */
	int in;    /* its stdin, -1 once closed */
	const char *input;
	size_t inlen, inoff;
	struct obuf out, err;
	int status; /* exit status once proc_wait returned */
};

static struct proc procs[MAX_PROCS];

static const char *jbus_bin(void)
{
	const char *p = getenv("JBUS");

	return p && *p ? p : "build/jbus";
}

/*
 * Start jbus with args (NULL-terminated) and env ("NAME=value" entries
 * set in the child; NULL: none), input (may be NULL) written to its stdin
 * as it reads it, then its stdin closed.
 */
static struct proc *proc_start_env(const char *const *args, const char *const *env,
				   const char *input, size_t inlen)
{
	int in[2], out[2], err[2];
	struct proc *p = NULL;
	const char *argv[32];
	int n = 0;

	for (size_t i = 0; i < MAX_PROCS && !p; i++)
		if (!procs[i].used)
			p = &procs[i];
	ck_assert_msg(p != NULL, "more than %d processes in one test", MAX_PROCS);
	argv[n++] = jbus_bin();
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	p->used = true;
	p->in = p->out.fd = p->err.fd = -1;
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		for (; env && *env; env++)
			putenv((char *)*env);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in = in[1];
	/* a reader that has gone (the tool exiting early) must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	fcntl(p->in, F_SETFL, O_NONBLOCK);
	p->input = input;
	p->inlen = input ? inlen : 0;
	p->inoff = 0;
	p->out = (struct obuf){ .fd = out[0] };
	p->err = (struct obuf){ .fd = err[0] };
	p->status = -1;
	if (!p->inlen) {
		close(p->in);
		p->in = -1;
	}
	return p;
}

static struct proc *proc_start(const char *const *args)
{
	return proc_start_env(args, NULL, NULL, 0);
}

static void obuf_read(struct obuf *b)
{
	ssize_t n;

	if (b->cap - b->len < 4097) {
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	n = read(b->fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		close(b->fd);
		b->fd = -1;
	} else {
		b->len += (size_t)n;
	}
	b->p[b->len] = '\0';
}

/* Wait until something happens on p's pipes, at most until deadline. Returns false on timeout. */
static bool proc_pump(struct proc *p, int64_t deadline)
{
	struct pollfd f[3] = {
		{ .fd = p->out.fd, .events = POLLIN },
		{ .fd = p->err.fd, .events = POLLIN },
		{ .fd = p->in, .events = POLLOUT },
	};
	int64_t left = deadline - jt_now_ms();

	if (left <= 0 || poll(f, 3, (int)left) <= 0)
		return false;
	if (f[0].revents)
		obuf_read(&p->out);
	if (f[1].revents)
		obuf_read(&p->err);
	if (f[2].revents) {
		ssize_t n = write(p->in, p->input + p->inoff, p->inlen - p->inoff);

		if (n > 0)
			p->inoff += (size_t)n;
		if ((n < 0 && errno != EAGAIN && errno != EINTR) || p->inoff == p->inlen) {
			close(p->in);
			p->in = -1;
		}
	}
	return true;
}

/* The next line (without '\n') the process writes on b (its out or err), or NULL at EOF. */
static const char *proc_line_from(struct proc *p, struct obuf *b)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	char *nl;

	for (;;) {
		if (b->p && (nl = memchr(b->p + b->pos, '\n', b->len - b->pos))) {
			const char *line = b->p + b->pos;

			*nl = '\0';
			b->pos = (size_t)(nl - b->p) + 1;
			return line;
		}
		if (b->fd < 0)
			return NULL;
		ck_assert_msg(proc_pump(p, deadline), "no line from jbus within %d ms (got '%s')",
			      JT_TIMEOUT_MS, b->p ? jt_show(b->p + b->pos, b->len - b->pos) : "");
	}
}

static const char *proc_line(struct proc *p)
{
	return proc_line_from(p, &p->out);
}

static void expect_line(struct proc *p, const char *want)
{
	const char *got = proc_line(p);

	ck_assert_msg(got != NULL, "jbus ended its output; expected '%s'", want);
	ck_assert_str_eq(got, want);
}

/*
 * Let the process end: its stdin is closed once written, its output read
 * to EOF, then its exit status collected (all within 10 s). Returns the
 * exit status; p->out.p and p->err.p hold what it wrote.
 */
static int proc_wait(struct proc *p)
{
	int64_t deadline = jt_now_ms() + 2 * JT_TIMEOUT_MS;
	struct jt_broker w = { .pid = p->pid }; /* jt_broker_wait waits for any child pid */
	int st;

	while (p->out.fd >= 0 || p->err.fd >= 0 || p->in >= 0)
		ck_assert_msg(proc_pump(p, deadline), "jbus did not end within %d ms",
			      2 * JT_TIMEOUT_MS);
	st = jt_broker_wait(&w, (int)(deadline - jt_now_ms() > 0 ? deadline - jt_now_ms() : 1));
	ck_assert_msg(st != -1, "jbus closed its output but did not exit");
	p->pid = 0;
	ck_assert_msg(WIFEXITED(st), "jbus was killed by signal %d; stderr: %s", WTERMSIG(st),
		      p->err.p ? p->err.p : "");
	p->status = WEXITSTATUS(st);
	return p->status;
}

/* What was written after the lines proc_line already handed out. */
static const char *rest(const struct obuf *b)
{
	return b->p ? b->p + b->pos : "";
}

/* Run jbus to completion with optional input; returns it finished (status, out, err). */
static struct proc *run_in(const char *const *args, const char *input, size_t inlen)
{
	struct proc *p = proc_start_env(args, NULL, input, inlen);

	proc_wait(p);
	return p;
}

static struct proc *run(const char *const *args)
{
	return run_in(args, NULL, 0);
}

static void proc_signal(struct proc *p, int sig)
{
	ck_assert_int_eq(kill(p->pid, sig), 0);
}

static void cli_setup(void)
{
	memset(procs, 0, sizeof(procs));
	jt_setup();
}

static void cli_setup_dir(void)
{
	memset(procs, 0, sizeof(procs));
	jt_setup_dir();
}

static void obuf_free(struct obuf *b)
{
	if (b->fd >= 0)
		close(b->fd);
	free(b->p);
}

static void cli_teardown(void)
{
	for (size_t i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];

		if (!p->used)
			continue;
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
		if (p->in >= 0)
			close(p->in);
		obuf_free(&p->out);
		obuf_free(&p->err);
		memset(p, 0, sizeof(*p));
	}
	jt_teardown();
}

/* section: synchronisation with a running subscriber */

/*
 * Publish "sync" on topic until the broker delivers it to a client: then
 * the subscriber started before is subscribed, and its first line is that
 * message. Each try is a round trip, so this waits on the broker, not on
 * a clock.
 */
static void sync_pub(const char *topic)
{
	struct jt_conn *c = jt_client("syncer");
	int64_t deadline = jt_now_ms() + 4 * JT_TIMEOUT_MS;

	for (int id = 1;; id++) {
		json_object *o;
		int64_t n;

		jt_send(c, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":\"sync\",\"id\":%d}", topic, id);
		o = jt_expect(c, "ok");
		n = jt_int(o, "delivered");
		json_object_put(o);
		if (n >= 1)
			break;
		ck_assert_msg(jt_now_ms() < deadline, "nobody subscribed to '%s' in time", topic);
	}
	jt_close(c);
}

/* Send "sync" to name until the broker accepts it (the listener is connected). */
static void sync_send(const char *name)
{
	struct jt_conn *c = jt_client("syncer");
	int64_t deadline = jt_now_ms() + 4 * JT_TIMEOUT_MS;

	for (int id = 1;; id++) {
		json_object *o;
		bool ok;

		jt_send(c, "{\"op\":\"send\",\"to\":\"%s\",\"data\":\"sync\",\"id\":%d}", name, id);
		o = jt_frame(c);
		ok = !strcmp(jt_str(o, "op"), "ok");
		if (!ok)
			ck_assert_str_eq(jt_str(o, "code"), "no_such_client");
		json_object_put(o);
		if (ok)
			break;
		ck_assert_msg(jt_now_ms() < deadline, "no client '%s' connected in time", name);
	}
	jt_close(c);
}

/* A subscriber (sub args after the socket), synchronised on sync_topic. */
static struct proc *start_sub(const char *const *args, const char *sync_topic,
			      const char *first_line)
{
	const char *argv[24] = { "sub", "-s", jt_b.path };
	int n = 3;
	struct proc *p;

	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	p = proc_start(argv);
	sync_pub(sync_topic);
	expect_line(p, first_line);
	return p;
}

/* section: pub and sub */

START_TEST(test_cli_pub_sub)
{
	struct proc *sub = start_sub(ARGV("t/#"), "t/sync",
				     "{\"op\":\"msg\",\"topic\":\"t/sync\",\"from\":\"syncer\","
				     "\"data\":\"sync\"}");
	struct proc *p;

	p = run(ARGV("-s", jt_b.path, "-n", "alice", "pub", "t/x", "{\"a\": [1, 2.50]}"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
	expect_line(sub, "{\"op\":\"msg\",\"topic\":\"t/x\",\"from\":\"alice\",\"data\":{\"a\": [1, "
			 "2.50]}}");
	/* no JSON argument: no data, delivered as null */
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "bob", "pub", "t/y"))->status, 0);
	expect_line(sub, "{\"op\":\"msg\",\"topic\":\"t/y\",\"from\":\"bob\",\"data\":null}");
	proc_signal(sub, SIGTERM);
	ck_assert_int_eq(proc_wait(sub), 0);
	ck_assert_str_eq(rest(&sub->out), "");
	ck_assert_str_eq(sub->err.p, "");
}
END_TEST

START_TEST(test_cli_pub_lines)
{
	enum { LINES = 10000 };
	struct proc *sub = start_sub(ARGV("--data", "-C", "10001", "big"), "big", "\"sync\"");
	char *input = malloc(LINES * 16), line[32];
	size_t len = 0;
	struct proc *p;

	ck_assert_ptr_nonnull(input);
	for (int i = 0; i < LINES; i++)
		len += (size_t)sprintf(input + len, "{\"n\":%d}\n", i);
	p = run_in(ARGV("-s", jt_b.path, "pub", "-l", "big"), input, len);
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->err.p, "");
	for (int i = 0; i < LINES; i++) {
		snprintf(line, sizeof(line), "{\"n\":%d}", i);
		expect_line(sub, line);
	}
	ck_assert_int_eq(proc_wait(sub), 0);
	ck_assert_str_eq(rest(&sub->out), "");
	free(input);
}
END_TEST

START_TEST(test_cli_pub_lines_errors)
{
	static const char input[] = "1\n{bad\n\n  \t\n\"x\"\r\n[2]";
	struct proc *sub = start_sub(ARGV("--data", "e"), "e", "\"sync\"");
	struct proc *p = run_in(ARGV("-s", jt_b.path, "pub", "-l", "e"), input, sizeof(input) - 1);

	/* the bad line is reported and skipped, the others (the last without '\n') go out */
	ck_assert_int_eq(p->status, 1);
	ck_assert_str_eq(p->err.p, "jbus pub: line 2: invalid JSON at byte 1: expected a member "
				   "name\n");
	expect_line(sub, "1");
	expect_line(sub, "\"x\"");
	expect_line(sub, "[2]");
}
END_TEST

START_TEST(test_cli_pub_wait)
{
	struct proc *p = run(ARGV("-s", jt_b.path, "pub", "--wait", "w", "1"));
	static const char two[] = "2\n3\n";

	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "delivered 0\n");
	start_sub(ARGV("--data", "w"), "w", "\"sync\"");
	p = run(ARGV("-s", jt_b.path, "pub", "w", "--wait", "4"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "delivered 1\n");
	p = run_in(ARGV("-s", jt_b.path, "pub", "--wait", "-l", "w"), two, sizeof(two) - 1);
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "delivered 1\ndelivered 1\n");
	ck_assert_str_eq(p->err.p, "");
}
END_TEST

START_TEST(test_cli_pub_string)
{
	static const char lines[] = "a b\nc\\d\n\n";
	struct proc *sub = start_sub(ARGV("--data", "s"), "s", "\"sync\"");
	struct proc *p;

	p = run(ARGV("-s", jt_b.path, "pub", "--string", "s", "he said \"hi\"\n\t\xc3\xa9 /"));
	ck_assert_int_eq(p->status, 0);
	expect_line(sub, "\"he said \\\"hi\\\"\\n\\t\xc3\xa9 /\"");
	/* text that merely looks like JSON stays text */
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "pub", "s", "--string", "42"))->status, 0);
	expect_line(sub, "\"42\"");
	p = run_in(ARGV("-s", jt_b.path, "pub", "-l", "--string", "s"), lines, sizeof(lines) - 1);
	ck_assert_int_eq(p->status, 0);
	expect_line(sub, "\"a b\"");
	expect_line(sub, "\"c\\\\d\"");
	/* not UTF-8: cannot be a JSON string */
	p = run(ARGV("-s", jt_b.path, "pub", "--string", "s", "\xff"));
	ck_assert_int_eq(p->status, 2);
	ck_assert_str_eq(p->err.p, "jbus pub: the text argument is not valid UTF-8\n"
				   "Try 'jbus pub --help' for more information.\n");
}
END_TEST

START_TEST(test_cli_sub_count)
{
	struct proc *sub = start_sub(ARGV("-C", "2", "c"), "c",
				     "{\"op\":\"msg\",\"topic\":\"c\",\"from\":\"syncer\","
				     "\"data\":\"sync\"}");

	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "p", "pub", "c", "7"))->status, 0);
	expect_line(sub, "{\"op\":\"msg\",\"topic\":\"c\",\"from\":\"p\",\"data\":7}");
	ck_assert_int_eq(proc_wait(sub), 0);
	ck_assert_str_eq(rest(&sub->out), "");
	ck_assert_str_eq(sub->err.p, "");
}
END_TEST

START_TEST(test_cli_sub_timeout)
{
	int64_t t0 = jt_now_ms();
	struct proc *p = run(ARGV("-s", jt_b.path, "sub", "-W", "0.2", "quiet"));

	/* nothing arrives: -W ends it, status 0 without -C */
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
	ck_assert_int_ge(jt_now_ms() - t0, 200);
	/* -C not reached in time: status 1 and how far it got */
	p = start_sub(ARGV("-C", "3", "-W", "0.5", "--data", "few"), "few", "\"sync\"");
	ck_assert_int_eq(proc_wait(p), 1);
	ck_assert_str_eq(rest(&p->out), "");
	ck_assert_str_eq(p->err.p, "jbus sub: timed out after 1 of 3 messages\n");
}
END_TEST

START_TEST(test_cli_sub_data)
{
	struct proc *sub = start_sub(ARGV("d", "--data"), "d", "\"sync\"");
	static const char *const data[] = {
		"123456789012345678901234567890", "\"\\u00e9\"", "{\"k\" : 1.50, \"k\":[]}",
		"-0e+0", "null",
	};

	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		ck_assert_int_eq(run(ARGV("-s", jt_b.path, "pub", "d", "--", data[i]))->status, 0);
		expect_line(sub, data[i]);
	}
}
END_TEST

START_TEST(test_cli_sub_verbose)
{
	struct proc *sub = start_sub(ARGV("-v", "v/#", "-n", "watcher"), "v/sync", "v/sync \"sync\"");

	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "pub", "v/a b", "{\"x\": 1}"))->status, 0);
	expect_line(sub, "v/a b {\"x\": 1}");
	/* a direct message to the subscriber's name: "@FROM DATA" */
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "bob", "send", "watcher", "[]"))->status,
			 0);
	expect_line(sub, "@bob []");
}
END_TEST

/* Overlapping patterns: the broker sends a message once, and sub prints it once. */
START_TEST(test_cli_sub_overlap)
{
	struct proc *sub = start_sub(ARGV("-C", "4", "--data", "o/#", "o/+", "o/a"), "o/a",
				     "\"sync\"");

	/* two equal frames in a row are two messages */
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "same", "pub", "o/a", "1"))->status, 0);
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "same", "pub", "o/a", "1"))->status, 0);
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "same", "pub", "o/b/c", "2"))->status, 0);
	ck_assert_int_eq(proc_wait(sub), 0);
	ck_assert_str_eq(rest(&sub->out), "1\n1\n2\n");
}
END_TEST

START_TEST(test_cli_sub_signals)
{
	static const int sigs[] = { SIGINT, SIGTERM };

	for (size_t i = 0; i < 2; i++) {
		struct proc *sub = start_sub(ARGV("--data", "sig"), "sig", "\"sync\"");

		proc_signal(sub, sigs[i]);
		ck_assert_int_eq(proc_wait(sub), 0);
		ck_assert_str_eq(sub->err.p, "");
	}
}
END_TEST

/* The reader of stdout goes away (| head -1): sub ends quietly, status 0. */
START_TEST(test_cli_sub_reader_gone)
{
	struct proc *sub = start_sub(ARGV("--data", "h"), "h", "\"sync\"");

	close(sub->out.fd);
	sub->out.fd = -1;
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "pub", "h", "1"))->status, 0);
	ck_assert_int_eq(proc_wait(sub), 0);
	ck_assert_str_eq(sub->err.p, "");
}
END_TEST

START_TEST(test_cli_sub_broker_lost)
{
	struct proc *sub = start_sub(ARGV("--data", "gone"), "gone", "\"sync\"");

	jt_broker_stop(&jt_b);
	ck_assert_int_eq(proc_wait(sub), 1);
	ck_assert_str_eq(sub->err.p, "jbus sub: the broker is shutting down\n"
				     "jbus sub: connection to the broker lost\n");
}
END_TEST

START_TEST(test_cli_bad_pattern_topic)
{
	static const char *const cmds[][3] = {
		{ "pub", "$x", "1" }, { "pub", "a/+", "1" },   { "pub", "a#", NULL },
		{ "sub", "a+", NULL }, { "sub", "a/#/b", NULL }, { "sub", "", NULL },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct proc *p = run(ARGV("-s", jt_b.path, cmds[i][0], cmds[i][1], cmds[i][2]));
		char want[128];

		ck_assert_msg(p->status == 2, "jbus %s '%s': status %d", cmds[i][0], cmds[i][1],
			      p->status);
		snprintf(want, sizeof(want), "jbus %s: invalid %s '%s' (", cmds[i][0],
			 cmds[i][0][0] == 'p' ? "topic" : "pattern", cmds[i][1]);
		ck_assert_msg(!strncmp(p->err.p, want, strlen(want)), "stderr: %s", p->err.p);
	}
}
END_TEST

/* section: send, listen, ping */

START_TEST(test_cli_send)
{
	struct proc *lst = proc_start(ARGV("listen", "-s", jt_b.path, "lst", "-C", "3"));
	struct proc *p;

	sync_send("lst");
	expect_line(lst, "{\"op\":\"msg\",\"from\":\"syncer\",\"to\":\"lst\",\"data\":\"sync\"}");
	p = run(ARGV("-s", jt_b.path, "-n", "snd", "send", "lst", "{\"n\": 1e400}"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "");
	expect_line(lst, "{\"op\":\"msg\",\"from\":\"snd\",\"to\":\"lst\",\"data\":{\"n\": 1e400}}");
	p = run(ARGV("send", "--string", "lst", "hi", "-n", "snd", "-s", jt_b.path));
	ck_assert_int_eq(p->status, 0);
	expect_line(lst, "{\"op\":\"msg\",\"from\":\"snd\",\"to\":\"lst\",\"data\":\"hi\"}");
	ck_assert_int_eq(proc_wait(lst), 0);
	ck_assert_str_eq(lst->err.p, "");
}
END_TEST

START_TEST(test_cli_send_unknown)
{
	struct proc *p = run(ARGV("-s", jt_b.path, "send", "nobody", "1"));

	ck_assert_int_eq(p->status, 1);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_str_eq(p->err.p, "jbus send: no client named 'nobody' is connected\n");
}
END_TEST

/* listen without a name: it says which one it got once subscribed, and receives both kinds. */
START_TEST(test_cli_listen)
{
	struct proc *lst = proc_start(ARGV("listen", "-v", "-t", "n/#", "-t", "m", "-s", jt_b.path));
	const char *ready = proc_line_from(lst, &lst->err);
	char name[80];

	ck_assert_ptr_nonnull(ready);
	ck_assert_int_eq(sscanf(ready, "jbus listen: listening as %79s", name), 1);
	ck_assert_str_eq(ready + strlen("jbus listen: listening as "), name);
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "p", "pub", "n/x", "7"))->status, 0);
	expect_line(lst, "n/x 7");
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "-n", "p", "send", name, "8"))->status, 0);
	expect_line(lst, "@p 8");
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "pub", "m", "9"))->status, 0);
	expect_line(lst, "m 9");
	proc_signal(lst, SIGINT);
	ck_assert_int_eq(proc_wait(lst), 0);
	ck_assert_str_eq(rest(&lst->err), "");
}
END_TEST

/* A name taken by a connected client: status 1, the name in the message. */
START_TEST(test_cli_listen_name_taken)
{
	struct jt_conn *c = jt_client("taken");
	struct proc *p = run(ARGV("-s", jt_b.path, "listen", "-n", "taken"));
	char want[PATH_MAX + 128];

	ck_assert_int_eq(p->status, 1);
	snprintf(want, sizeof(want),
		 "jbus listen: cannot connect to %s: the name 'taken' is taken by a connected "
		 "client\n",
		 jt_b.path);
	ck_assert_str_eq(p->err.p, want);
	jt_close(c);
}
END_TEST

START_TEST(test_cli_ping)
{
	struct proc *p = run(ARGV("ping", "-c", "3", "-s", jt_b.path));
	const char *line;
	int n = 0;

	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->err.p, "");
	while ((line = proc_line(p))) {
		char prefix[PATH_MAX + 32], tail[8] = "";
		double ms = -1;

		snprintf(prefix, sizeof(prefix), "pong from %s: time=", jt_b.path);
		ck_assert_msg(!strncmp(line, prefix, strlen(prefix)), "line: %s", line);
		ck_assert_int_eq(sscanf(line + strlen(prefix), "%lf %7s", &ms, tail), 2);
		ck_assert(ms >= 0);
		ck_assert_str_eq(tail, "ms");
		n++;
	}
	ck_assert_int_eq(n, 3);
}
END_TEST

/* Common options work before and after the subcommand, and -- ends the options. */
START_TEST(test_cli_common_options)
{
	struct proc *sub = start_sub(ARGV("co", "-n", "watcher", "-v"), "co", "co \"sync\"");
	struct proc *p;

	ck_assert_int_eq(run(ARGV("pub", "co", "-5", "-s", jt_b.path))->status, 2);
	ck_assert_int_eq(run(ARGV("pub", "co", "-s", jt_b.path, "--", "-5"))->status, 0);
	expect_line(sub, "co -5");
	/* the later of two -s wins */
	p = run(ARGV("-s", "/nonexistent/x.sock", "send", "-n", "s2", "-s", jt_b.path, "watcher",
		     "1"));
	ck_assert_int_eq(p->status, 0);
	expect_line(sub, "@s2 1");
	ck_assert_int_eq(run(ARGV("ping", "-s", jt_b.path))->status, 0);
	ck_assert_int_eq(run(ARGV("-s", jt_b.path, "ping"))->status, 0);
}
END_TEST

/* section: errors without a broker */

START_TEST(test_cli_no_broker)
{
	static const char *const cmds[][3] = {
		{ "ping", NULL }, { "pub", "t", "1" }, { "sub", "t", NULL },
		{ "send", "x", "1" }, { "listen", NULL },
	};
	char path[PATH_MAX], want[PATH_MAX + 128];
	struct proc *p;

	snprintf(path, sizeof(path), "%s/none.sock", jt_b.dir);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		p = run(ARGV("-s", path, cmds[i][0], cmds[i][1], cmds[i][2]));
		ck_assert_int_eq(p->status, 1);
		snprintf(want, sizeof(want),
			 "jbus %s: cannot connect to %s: no broker socket at that path\n", cmds[i][0],
			 path);
		ck_assert_str_eq(p->err.p, want);
		ck_assert_str_eq(p->out.p, "");
	}
}
END_TEST

/* Without -s the default path is the one named: $JBUS_SOCKET, else $XDG_RUNTIME_DIR/jbus.sock. */
START_TEST(test_cli_no_broker_default_path)
{
	char env1[PATH_MAX + 16], env2[PATH_MAX + 32], want[PATH_MAX + 128];
	struct proc *p;

	snprintf(env1, sizeof(env1), "JBUS_SOCKET=%s/env.sock", jt_b.dir);
	p = proc_start_env(ARGV("ping"), ARGV(env1), NULL, 0);
	ck_assert_int_eq(proc_wait(p), 1);
	snprintf(want, sizeof(want), "jbus ping: cannot connect to %s/env.sock: %s\n", jt_b.dir,
		 "no broker socket at that path");
	ck_assert_str_eq(p->err.p, want);

	snprintf(env2, sizeof(env2), "XDG_RUNTIME_DIR=%s", jt_b.dir);
	p = proc_start_env(ARGV("ping"), ARGV("JBUS_SOCKET=", env2), NULL, 0);
	ck_assert_int_eq(proc_wait(p), 1);
	snprintf(want, sizeof(want), "jbus ping: cannot connect to %s/jbus.sock: %s\n", jt_b.dir,
		 "no broker socket at that path");
	ck_assert_str_eq(p->err.p, want);
}
END_TEST

/* A socket file nobody listens on (a crashed broker's) is "refused", also a runtime failure. */
START_TEST(test_cli_no_broker_stale)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char want[PATH_MAX + 128];
	struct proc *p;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%.96s/stale.sock", jt_b.dir),
			 (int)sizeof(sa.sun_path));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	p = run(ARGV("-s", sa.sun_path, "pub", "t"));
	ck_assert_int_eq(p->status, 1);
	snprintf(want, sizeof(want), "jbus pub: cannot connect to %s: %s\n", sa.sun_path,
		 "no broker listening on that socket");
	ck_assert_str_eq(p->err.p, want);
}
END_TEST

/*
 * Usage errors: status 2, the message, then a pointer to --help; all found
 * before connecting (the socket here does not exist, which would be 1).
 */
static const struct {
	const char *args[6];
	const char *msg;
} usage_cases[] = {
	{ { NULL }, "jbus: missing subcommand" },
	{ { "frob" }, "jbus: unknown subcommand 'frob'" },
	{ { "--bogus", "ping" }, "jbus: unknown option '--bogus'" },
	{ { "pub", "--bogus", "t" }, "jbus pub: unknown option '--bogus'" },
	{ { "sub", "-x", "t" }, "jbus sub: unknown option '-x'" },
	{ { "pub" }, "jbus pub: missing TOPIC" },
	{ { "pub", "t", "1", "2" }, "jbus pub: unexpected argument '2'" },
	{ { "pub", "t", "{bad" }, "jbus pub: invalid JSON argument at byte 1: expected a member name" },
	{ { "pub", "t", "[1,]" }, "jbus pub: invalid JSON argument at byte 3: expected a value" },
	{ { "pub", "t", "1 2" },
	  "jbus pub: invalid JSON argument at byte 2: unexpected bytes after the JSON value" },
	{ { "send", "x", "tru" }, "jbus send: invalid JSON argument at byte 0: invalid literal" },
	{ { "pub", "-l", "t", "1" },
	  "jbus pub: with -l the data comes from standard input, not from an argument ('1')" },
	{ { "pub", "--string", "t" }, "jbus pub: --string needs the text to send as an argument" },
	{ { "send" }, "jbus send: missing NAME" },
	{ { "sub" }, "jbus sub: missing PATTERN" },
	{ { "sub", "-C" }, "jbus sub: option '-C' needs a value" },
	{ { "sub", "t", "--count" }, "jbus sub: option '--count' needs a value" },
	{ { "sub", "-C", "0", "t" }, "jbus sub: invalid -C value '0' (a positive integer)" },
	{ { "sub", "-C", "-1", "t" }, "jbus sub: invalid -C value '-1' (a positive integer)" },
	{ { "sub", "-C", "2x", "t" }, "jbus sub: invalid -C value '2x' (a positive integer)" },
	{ { "sub", "-W", "abc", "t" }, "jbus sub: invalid -W value 'abc' (seconds, 0.001 to 1e9)" },
	{ { "sub", "-W", "0", "t" }, "jbus sub: invalid -W value '0' (seconds, 0.001 to 1e9)" },
	{ { "sub", "-W", "nan", "t" }, "jbus sub: invalid -W value 'nan' (seconds, 0.001 to 1e9)" },
	{ { "sub", "-v", "--data", "t" }, "jbus sub: --data and -v exclude each other" },
	{ { "sub", "-t", "x", "t" }, "jbus sub: unknown option '-t'" },
	{ { "listen", "a", "b" }, "jbus listen: unexpected argument 'b'" },
	{ { "listen", "-n", "a", "b" }, "jbus listen: two names given: 'a' and 'b'" },
	{ { "listen", "bad name" },
	  "jbus listen: invalid client name 'bad name' ([A-Za-z0-9._-], 1 to 64 characters)" },
	{ { "ping", "x" }, "jbus ping: unexpected argument 'x'" },
	{ { "ping", "-c", "many" }, "jbus ping: invalid -c value 'many' (a positive integer)" },
	{ { "help", "frob" }, "jbus: unknown subcommand 'frob'" },
};

START_TEST(test_cli_usage)
{
	const char *argv[12] = { "-s" };
	char path[PATH_MAX], want[512];
	const char *sub;
	struct proc *p;
	int n = 2;

	snprintf(path, sizeof(path), "%s/none.sock", jt_b.dir);
	argv[1] = path;
	for (const char *const *a = usage_cases[_i].args; *a; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	p = run(argv);
	ck_assert_msg(p->status == 2, "%s: status %d, stderr %s", usage_cases[_i].msg, p->status,
		      p->err.p);
	ck_assert_str_eq(p->out.p, "");
	/* the hint names the subcommand the message is about */
	sub = usage_cases[_i].msg + 4;
	snprintf(want, sizeof(want), "%s\nTry 'jbus%.*s --help' for more information.\n",
		 usage_cases[_i].msg, (int)strcspn(sub, ":"), sub);
	ck_assert_str_eq(p->err.p, want);
}
END_TEST

/* section: help and version */

static const char *const subcommands[] = { "pub", "sub", "send", "listen", "ping" };

START_TEST(test_cli_help)
{
	struct proc *a = run(ARGV("--help")), *b = run(ARGV("-h")), *c = run(ARGV("help"));

	ck_assert_int_eq(a->status, 0);
	ck_assert_int_eq(b->status, 0);
	ck_assert_int_eq(c->status, 0);
	ck_assert_str_eq(a->err.p, "");
	ck_assert_str_eq(a->out.p, b->out.p);
	ck_assert_str_eq(a->out.p, c->out.p);
	ck_assert_msg(!strncmp(a->out.p, "Usage: jbus [OPTION]... SUBCOMMAND [ARG]...\n", 44), "%s",
		      a->out.p);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		char want[32];

		snprintf(want, sizeof(want), "\n  %s ", subcommands[i]);
		ck_assert_msg(strstr(a->out.p, want), "no '%s' in jbus --help", subcommands[i]);
	}
	ck_assert_ptr_nonnull(strstr(a->out.p, "-s, --socket PATH"));
	ck_assert_ptr_nonnull(strstr(a->out.p, "Exit status: 0"));
}
END_TEST

/* jbus SUB --help, jbus SUB -h, jbus help SUB and --help among other arguments agree. */
START_TEST(test_cli_help_subcommand)
{
	const char *sub = subcommands[_i];
	struct proc *a = run(ARGV(sub, "--help")), *b = run(ARGV(sub, "-h")),
		    *c = run(ARGV("help", sub)), *d = run(ARGV(sub, "x", "--help"));
	char want[64];

	ck_assert_int_eq(a->status, 0);
	ck_assert_int_eq(b->status, 0);
	ck_assert_int_eq(c->status, 0);
	ck_assert_str_eq(a->err.p, "");
	ck_assert_str_eq(a->out.p, b->out.p);
	ck_assert_str_eq(a->out.p, c->out.p);
	ck_assert_int_eq(d->status, 0);
	ck_assert_str_eq(a->out.p, d->out.p);
	snprintf(want, sizeof(want), "Usage: jbus %s [OPTION]...", sub);
	ck_assert_msg(!strncmp(a->out.p, want, strlen(want)), "%s", a->out.p);
	ck_assert_ptr_nonnull(strstr(a->out.p, "Common options"));
	ck_assert_ptr_nonnull(strstr(a->out.p, "Exit status"));
}
END_TEST

START_TEST(test_cli_version)
{
	static const char *const forms[][2] = { { "--version" }, { "-V" }, { "pub", "--version" } };

	for (size_t i = 0; i < 3; i++) {
		struct proc *p = run(ARGV(forms[i][0], forms[i][1]));

		ck_assert_int_eq(p->status, 0);
		ck_assert_str_eq(p->out.p, "jbus " JBUS_VERSION "\n");
		ck_assert_str_eq(p->err.p, "");
	}
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case with_broker[] = {
		{ "pub_sub", test_cli_pub_sub },
		{ "pub_lines", test_cli_pub_lines },
		{ "pub_lines_errors", test_cli_pub_lines_errors },
		{ "pub_wait", test_cli_pub_wait },
		{ "pub_string", test_cli_pub_string },
		{ "sub_count", test_cli_sub_count },
		{ "sub_timeout", test_cli_sub_timeout },
		{ "sub_data", test_cli_sub_data },
		{ "sub_verbose", test_cli_sub_verbose },
		{ "sub_overlap", test_cli_sub_overlap },
		{ "sub_signals", test_cli_sub_signals },
		{ "sub_reader_gone", test_cli_sub_reader_gone },
		{ "sub_broker_lost", test_cli_sub_broker_lost },
		{ "bad_pattern_topic", test_cli_bad_pattern_topic },
		{ "send", test_cli_send },
		{ "send_unknown", test_cli_send_unknown },
		{ "listen", test_cli_listen },
		{ "listen_name_taken", test_cli_listen_name_taken },
		{ "ping", test_cli_ping },
		{ "common_options", test_cli_common_options },
	};
	const struct jt_case without_broker[] = {
		{ "no_broker", test_cli_no_broker },
		{ "no_broker_default_path", test_cli_no_broker_default_path },
		{ "no_broker_stale", test_cli_no_broker_stale },
		{ "usage", test_cli_usage, sizeof(usage_cases) / sizeof(usage_cases[0]) },
		{ "help", test_cli_help },
		{ "help_subcommand", test_cli_help_subcommand,
		  sizeof(subcommands) / sizeof(subcommands[0]) },
		{ "version", test_cli_version },
	};
	Suite *s = suite_create("cli");

	jt_add_cases(s, with_broker, sizeof(with_broker) / sizeof(with_broker[0]), cli_setup,
		     cli_teardown, 60);
	jt_add_cases(s, without_broker, sizeof(without_broker) / sizeof(without_broker[0]),
		     cli_setup_dir, cli_teardown, 60);
	return s;
}
