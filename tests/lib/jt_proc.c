/*
 * Child processes for tests (see jt.h): a program run with pipes on its
 * stdin, stdout and stderr, fed and read with poll() and deadlines, reaped
 * with one. The processes of a test live in a table that jt_teardown()
 * empties, so a failed assertion (a longjmp with CK_FORK=no) leaves
 * nothing running for the next test. The holder, a forked raw client, is
 * ended there too.
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

#define MAX_PROCS 16

static struct jt_proc procs[MAX_PROCS];

struct jt_proc *jt_proc_start(const char *const *argv, const char *const *env, const char *input,
			      size_t inlen)
{
	/* named after the program, not its wrapper */
	size_t wrapped = jt_wrapped(argv);
	const char *base = strrchr(argv[wrapped], '/');
	int in[2], out[2], err[2];
	struct jt_proc *p = NULL;

	for (size_t i = 0; i < MAX_PROCS && !p; i++)
		if (!procs[i].used)
			p = &procs[i];
	ck_assert_msg(p != NULL, "more than %d processes in one test", MAX_PROCS);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	p->used = true;
	p->wrapped = wrapped > 0;
	snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : argv[wrapped]);
	p->in = p->out.fd = p->err.fd = -1;
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		for (; env && *env; env++) {
			if (strchr(*env, '='))
				putenv((char *)*env);
			else
				unsetenv(*env);
		}
		if (wrapped)
			jt_wrap_child_env();
		/* execvp: a wrapper (argv[0]) may be a name on $PATH; programs are paths */
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in = in[1];
	/* a reader that has gone (the program exiting early) must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	fcntl(p->in, F_SETFL, O_NONBLOCK);
	p->input = input;
	p->inlen = input ? inlen : 0;
	p->inoff = 0;
	p->out = (struct jt_pipe){ .fd = out[0] };
	p->err = (struct jt_pipe){ .fd = err[0] };
	p->status = -1;
	if (input && !inlen) {
		close(p->in);
		p->in = -1;
	}
	return p;
}

static void pipe_read(struct jt_pipe *b)
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
static bool pump(struct jt_proc *p, int64_t deadline)
{
	struct pollfd f[3] = {
		{ .fd = p->out.fd, .events = POLLIN },
		{ .fd = p->err.fd, .events = POLLIN },
		/* stdin while input waits to be written; without input it is the test's */
		{ .fd = p->input ? p->in : -1, .events = POLLOUT },
	};
	int64_t left = deadline - jt_now_ms();

	if (left <= 0 || poll(f, 3, (int)left) <= 0)
		return false;
	if (f[0].revents)
		pipe_read(&p->out);
	if (f[1].revents)
		pipe_read(&p->err);
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

const char *jt_proc_line(struct jt_proc *p, struct jt_pipe *b)
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
		ck_assert_msg(pump(p, deadline), "no line from %s within %d ms (got '%s')",
			      p->name, JT_TIMEOUT_MS,
			      b->p ? jt_show(b->p + b->pos, b->len - b->pos) : "");
	}
}

void jt_proc_expect_line(struct jt_proc *p, const char *want)
{
	const char *got = jt_proc_line(p, &p->out);

	ck_assert_msg(got != NULL, "%s ended its output; expected '%s'", p->name, want);
	ck_assert_str_eq(got, want);
}

void jt_proc_write(struct jt_proc *p, const char *s)
{
	ck_assert_msg(p->in >= 0 && !p->input, "%s: stdin is not open for the test", p->name);
	ck_assert_int_eq(write(p->in, s, strlen(s)), (ssize_t)strlen(s));
}

const char *jt_proc_rest(const struct jt_pipe *b)
{
	return b->p ? b->p + b->pos : "";
}

int jt_proc_wait(struct jt_proc *p)
{
	int64_t deadline = jt_now_ms() + 2 * JT_TIMEOUT_MS;
	struct jt_broker w = { .pid = p->pid }; /* jt_broker_wait waits for any child pid */
	int st;

	if (!p->input && p->in >= 0) {
		close(p->in);
		p->in = -1;
	}
	while (p->out.fd >= 0 || p->err.fd >= 0 || p->in >= 0)
		ck_assert_msg(pump(p, deadline), "%s did not end within %d ms", p->name,
			      2 * JT_TIMEOUT_MS);
	st = jt_broker_wait(&w, (int)(deadline - jt_now_ms() > 0 ? deadline - jt_now_ms() : 1));
	ck_assert_msg(st != -1, "%s closed its output but did not exit", p->name);
	p->pid = 0;
	ck_assert_msg(WIFEXITED(st), "%s was killed by signal %d; stderr: %s", p->name,
		      WTERMSIG(st), p->err.p ? p->err.p : "");
	p->status = WEXITSTATUS(st);
	ck_assert_msg(!(p->wrapped && p->status == JT_WRAP_ERROR),
		      "%s exit status %d: $JT_WRAP found errors in it (see its log)", p->name,
		      JT_WRAP_ERROR);
	return p->status;
}

struct jt_proc *jt_proc_run(const char *const *argv, const char *const *env, const char *input,
			    size_t inlen)
{
	struct jt_proc *p = jt_proc_start(argv, env, input, inlen);

	jt_proc_wait(p);
	return p;
}

void jt_proc_signal(struct jt_proc *p, int sig)
{
	ck_assert_int_eq(kill(p->pid, sig), 0);
}

void jt_proc_expect(struct jt_proc *p, int status, const char *out, const char *err)
{
	ck_assert_msg(p->status == status, "status %d, stderr: %s", p->status, p->err.p);
	ck_assert_str_eq(p->out.p, out);
	ck_assert_str_eq(p->err.p, err);
}

static void pipe_free(struct jt_pipe *b)
{
	if (b->fd >= 0)
		close(b->fd);
	free(b->p);
}

void jt_proc_kill_all(void)
{
	jt_holder_kill();
	for (size_t i = 0; i < MAX_PROCS; i++) {
		struct jt_proc *p = &procs[i];

		if (!p->used)
			continue;
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
		if (p->in >= 0)
			close(p->in);
		pipe_free(&p->out);
		pipe_free(&p->err);
		memset(p, 0, sizeof(*p));
	}
}

/* section: the holder */

static struct {
	pid_t pid; /* 0: none */
	int rd;	   /* one byte per line the holder received */
} holder;

/*
 * In the child: connect, send bytes[0..n), tell wr ('w'), then write an 'l' to wr per line
 * received, up to max_lines (< 0: no bound); after max_lines it stops reading for good.
 */
static void holder_main(const char *path, const char *bytes, size_t n, int max_lines, int wr)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	int fd, lines = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the test's other sockets must close when the test closes them, however many it has */
	if (wr > 3)
		close_range(3, (unsigned)wr - 1, 0);
	close_range((unsigned)wr + 1, ~0U, 0);
	if (strlen(path) >= sizeof(sa.sun_path))
		_exit(1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(1);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, bytes + off, n - off);

		if (w <= 0)
			_exit(1);
		off += (size_t)w;
	}
	if (write(wr, "w", 1) != 1)
		_exit(3);
	while (max_lines < 0 || lines < max_lines) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			_exit(2);
		for (ssize_t i = 0; i < r && (max_lines < 0 || lines < max_lines); i++) {
			if (buf[i] != '\n')
				continue;
			lines++;
			if (write(wr, "l", 1) != 1)
				_exit(3);
		}
	}
	/* a client that stopped reading, still connected: only SIGKILL ends it */
	for (;;)
		pause();
}

pid_t jt_holder_start_raw(const void *bytes, size_t n, int max_lines)
{
	int p[2];
	char c;

	ck_assert_msg(holder.pid == 0, "one holder per test");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	holder.pid = fork();
	ck_assert_int_ge(holder.pid, 0);
	if (holder.pid == 0)
		holder_main(jt_b.path, bytes, n, max_lines, p[1]);
	close(p[1]);
	holder.rd = p[0];
	/* connected and written: what the holder sent is in the broker's socket */
	ck_assert_msg(read(holder.rd, &c, 1) == 1 && c == 'w', "the holder could not connect");
	return holder.pid;
}

pid_t jt_holder_start(const char *hello)
{
	char line[4096];
	int n = jt_fmt(line, sizeof(line), "%s\n", hello);
	pid_t pid = jt_holder_start_raw(line, (size_t)n, -1);

	jt_holder_lines(1);
	return pid;
}

void jt_holder_lines(int n)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	char c;

	while (n > 0) {
		struct pollfd pf = { .fd = holder.rd, .events = POLLIN };
		int64_t left = deadline - jt_now_ms();

		ck_assert_msg(left > 0 && poll(&pf, 1, (int)left) == 1,
			      "the holder received no line within %d ms", JT_TIMEOUT_MS);
		ck_assert_msg(read(holder.rd, &c, 1) == 1, "the holder ended");
		n--;
	}
}

int jt_holder_kill(void)
{
	int st = -1;

	if (holder.pid > 0) {
		kill(holder.pid, SIGKILL);
		if (waitpid(holder.pid, &st, 0) != holder.pid)
			st = -1;
		close(holder.rd);
	}
	holder.pid = 0;
	return st;
}
