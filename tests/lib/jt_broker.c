/*
 * Starting and stopping the real jbusd for integration tests (see jt.h).
 * Readiness comes through a pipe (--ready-fd), exit through a pidfd: every
 * wait is an event with a deadline, never a fixed sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

#define NOBODY 65534

struct jt_broker jt_b;

const char *jt_jbusd(void)
{
	const char *p = getenv("JBUSD");
	return p && *p ? p : "build/jbusd";
}

/* How the child is set up before exec; -1 / NULL / false: left as inherited. */
struct child {
	const char *sock;
	int ready_fd;
	int out_fd, err_fd;
	bool nobody;
};

static void exec_jbusd(const struct child *ch, const char *const *args)
{
	const char *argv[64], *full[112];
	char fdbuf[16];
	int n = 0;

	if (ch->out_fd >= 0)
		dup2(ch->out_fd, STDOUT_FILENO);
	if (ch->err_fd >= 0)
		dup2(ch->err_fd, STDERR_FILENO);
	/* root ignores directory permissions: tests of EACCES run the broker as nobody */
	if (ch->nobody && (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
		_exit(126);
	/* after the uid change, which clears it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	argv[n++] = jt_jbusd();
	if (ch->sock) {
		argv[n++] = "-s";
		argv[n++] = ch->sock;
	}
	if (ch->ready_fd >= 0) {
		/* the write end must survive exec */
		fcntl(ch->ready_fd, F_SETFD, 0);
		snprintf(fdbuf, sizeof(fdbuf), "%d", ch->ready_fd);
		argv[n++] = "--ready-fd";
		argv[n++] = fdbuf;
	}
	for (; args && *args && n < 62; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (jt_wrapped(jt_wrap_argv(full, sizeof(full) / sizeof(full[0]), argv)))
		jt_wrap_child_env();
	/* execvp: the wrapper may be a name on $PATH ("valgrind") */
	execvp(full[0], (char *const *)full);
	fprintf(stderr, "exec %s: %s\n", full[0], strerror(errno));
	_exit(127);
}

/* A jbusd started under $JT_WRAP that exits JT_WRAP_ERROR: the wrapper found errors in it. */
static void assert_not_wrap_error(int status)
{
	ck_assert_msg(!(jt_wrap_on() && WIFEXITED(status) && WEXITSTATUS(status) == JT_WRAP_ERROR),
		      "jbusd exit status %d: $JT_WRAP found errors in it (see its log)",
		      JT_WRAP_ERROR);
}

static void make_dir(struct jt_broker *b)
{
	const char *t = getenv("TMPDIR");

	snprintf(b->dir, sizeof(b->dir), "%s/jt-%d-XXXXXX", t && *t ? t : "/tmp", (int)getpid());
	ck_assert_msg(mkdtemp(b->dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void remove_dir(struct jt_broker *b)
{
	struct stat st;

	if (b->dir[0] && lstat(b->dir, &st) == 0) {
		/* a test may have taken away its write permission */
		chmod(b->dir, 0700);
		nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	b->dir[0] = '\0';
}

void jt_broker_start_at(struct jt_broker *b, const char *path, const char *const *args)
{
	char log[sizeof(b->dir) + 16];
	int pipefd[2], logfd = -1;
	struct pollfd pfd;
	char buf[16];
	ssize_t n;

	ck_assert_msg(strlen(path) < sizeof(b->path), "socket path too long: %s", path);
	if (!b->dir[0])
		make_dir(b);
	if (path != b->path)
		snprintf(b->path, sizeof(b->path), "%s", path);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	if (!getenv("JT_VERBOSE")) {
		snprintf(log, sizeof(log), "%s/jbusd.log", b->dir);
		logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	b->frozen = false;
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		struct child ch = { b->path, pipefd[1], -1, logfd, false };
		exec_jbusd(&ch, args);
	}
	close(pipefd[1]);
	if (logfd >= 0)
		close(logfd);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, jt_ms(20000)) == 1, "jbusd not ready within %d s",
		      jt_ms(20));
	n = read(pipefd[0], buf, sizeof(buf));
	close(pipefd[0]);
	ck_assert_msg(n == 6 && memcmp(buf, "ready\n", 6) == 0, "jbusd did not become ready");
}

void jt_broker_start_args(struct jt_broker *b, const char *const *args)
{
	char path[sizeof(b->dir) + 16];

	memset(b, 0, sizeof(*b));
	make_dir(b);
	snprintf(path, sizeof(path), "%s/jbus.sock", b->dir);
	jt_broker_start_at(b, path, args);
}

void jt_setup(void)
{
	jt_broker_start_args(&jt_b, NULL);
}

void jt_setup_dir(void)
{
	memset(&jt_b, 0, sizeof(jt_b));
	make_dir(&jt_b);
}

int jt_log_lines(const char *const *parts, jt_line_fn fn, void *userdata)
{
	char path[sizeof(jt_b.dir) + 16], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int n = 0;
	FILE *f;

	if (getenv("JT_VERBOSE"))
		return -1;
	jt_fmt(path, sizeof(path), "%s/jbusd.log", jt_b.dir);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) > 0) {
		bool found = true;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		for (const char *const *p = parts; *p && found; p++)
			found = strstr(line, *p) != NULL;
		if (!found)
			continue;
		n++;
		if (fn)
			fn(line, userdata);
	}
	free(line);
	fclose(f);
	return n;
}

static void add_held(const char *line, void *userdata)
{
	const char *at = strstr(line, " unlogged=");

	if (at)
		*(unsigned long long *)userdata += strtoull(at + strlen(" unlogged="), NULL, 10);
}

int jt_log_lines_held(const char *const *parts, unsigned long long *held)
{
	*held = 0;
	return jt_log_lines(parts, add_held, held);
}

void jt_wait_rate_window(void)
{
	for (int64_t until = jt_now_ms() + 1001; jt_now_ms() < until;)
		poll(NULL, 0, (int)(until - jt_now_ms()));
}

bool jt_log_has(const char *const *parts)
{
	return jt_log_lines(parts, NULL, NULL) != 0;
}

const char *jt_retain_file(void)
{
	static char file[sizeof(jt_b.dir) + 16];

	jt_fmt(file, sizeof(file), "%s/retained", jt_b.dir);
	return file;
}

void jt_setup_retain_file(void)
{
	jt_setup_dir();
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	jt_broker_start_at(&jt_b, jt_b.path, JT_ARGV("--retain-file", jt_retain_file()));
}

int jt_broker_wait(struct jt_broker *b, int timeout_ms)
{
	int status = -1, pfd;
	int64_t deadline = jt_now_ms() + timeout_ms;

	pfd = (int)syscall(SYS_pidfd_open, b->pid, 0);
	for (;;) {
		pid_t r = waitpid(b->pid, &status, WNOHANG);
		if (r == b->pid) {
			if (pfd >= 0)
				close(pfd);
			b->pid = 0;
			b->frozen = false;
			return status;
		}
		int64_t left = deadline - jt_now_ms();
		if (left <= 0)
			break;
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			poll(&p, 1, (int)left);
		} else {
			/* no pidfd (old kernel): poll the exit in short steps */
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return -1;
}

static void assert_clean_exit(const struct jt_broker *b, int status)
{
	struct stat st;

	assert_not_wrap_error(status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "jbusd exit status %d (signal %d)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(lstat(b->path, &st) < 0 && errno == ENOENT, "socket file left behind");
}

void jt_broker_expect_exit(struct jt_broker *b)
{
	int status = jt_broker_wait(b, jt_ms(10000));

	/* still running: teardown's jt_broker_stop kills it */
	ck_assert_msg(status != -1, "jbusd did not exit within %d s of the signal", jt_ms(10));
	assert_clean_exit(b, status);
}

void jt_broker_freeze(struct jt_broker *b)
{
	int st;

	ck_assert_int_eq(kill(b->pid, SIGSTOP), 0);
	b->frozen = true;
	ck_assert_int_eq(waitpid(b->pid, &st, WUNTRACED), b->pid);
	ck_assert(WIFSTOPPED(st));
}

void jt_broker_thaw(struct jt_broker *b)
{
	ck_assert_int_eq(kill(b->pid, SIGCONT), 0);
	b->frozen = false;
}

void jt_broker_stop(struct jt_broker *b)
{
	int status;

	if (b->pid <= 0)
		return;
	/*
	 * A test that froze the broker may have failed before it thawed it. Only then, and
	 * before SIGTERM: a SIGCONT that reaches a sanitized broker while it exits can hold it
	 * past the deadline below.
	 */
	if (b->frozen)
		jt_broker_thaw(b);
	kill(b->pid, SIGTERM);
	status = jt_broker_wait(b, jt_ms(10000));
	if (status == -1) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
		ck_abort_msg("jbusd did not exit within %d s of SIGTERM", jt_ms(10));
	}
	assert_clean_exit(b, status);
	remove_dir(b);
}

void jt_teardown(void)
{
	/* clients first: the broker then has no one left to tell it is shutting down */
	jt_proc_kill_all();
	jt_close_all();
	jt_broker_stop(&jt_b);
	/* the test may have stopped or never started the broker; the directory is still ours */
	remove_dir(&jt_b);
}

/* Output of a jbusd run: a pipe read into buf (NUL-terminated), the excess dropped. */
struct sink {
	int fd;
	char *buf;
	size_t len, got;
};

static void sink_read(struct sink *s)
{
	char tmp[512];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));

	if (n <= 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->buf && s->got + 1 < s->len) {
		size_t k = (size_t)n < s->len - 1 - s->got ? (size_t)n : s->len - 1 - s->got;
		memcpy(s->buf + s->got, tmp, k);
		s->got += k;
	}
}

static void sink_finish(struct sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->buf && s->len)
		s->buf[s->got] = '\0';
}

static int run_jbusd(const char *const *args, struct sink *out, struct sink *err, bool nobody,
		     int timeout_ms)
{
	int outp[2] = { -1, -1 }, errp[2], status;
	struct jt_broker b = { 0 };
	int64_t deadline = jt_now_ms() + timeout_ms;

	/* stdout stays the test's own unless the caller wants it */
	if (out->buf)
		ck_assert_int_eq(pipe2(outp, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
	b.pid = fork();
	ck_assert_int_ge(b.pid, 0);
	if (b.pid == 0) {
		struct child ch = { NULL, -1, outp[1], errp[1], nobody };
		exec_jbusd(&ch, args);
	}
	if (outp[1] >= 0)
		close(outp[1]);
	close(errp[1]);
	out->fd = outp[0];
	err->fd = errp[0];
	while (out->fd >= 0 || err->fd >= 0) {
		/* poll ignores the entry of a closed pipe (fd -1) */
		struct pollfd p[2] = { { .fd = out->fd, .events = POLLIN },
				       { .fd = err->fd, .events = POLLIN } };
		int64_t left = deadline - jt_now_ms();

		if (left <= 0 || poll(p, 2, (int)left) <= 0)
			break;
		if (p[0].revents)
			sink_read(out);
		if (p[1].revents)
			sink_read(err);
	}
	sink_finish(out);
	sink_finish(err);
	status = jt_broker_wait(&b, (int)(deadline - jt_now_ms() > 0 ? deadline - jt_now_ms() : 1));
	if (status == -1) {
		kill(b.pid, SIGKILL);
		waitpid(b.pid, NULL, 0);
		return -1;
	}
	assert_not_wrap_error(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int jt_run_jbusd(const char *const *args, char *err, size_t errlen, int timeout_ms)
{
	struct sink o = { -1, NULL, 0, 0 }, e = { -1, err, errlen, 0 };

	return run_jbusd(args, &o, &e, false, timeout_ms);
}

int jt_run_jbusd_out(const char *const *args, char *out, size_t outlen, char *err, size_t errlen,
		     int timeout_ms)
{
	struct sink o = { -1, out, outlen, 0 }, e = { -1, err, errlen, 0 };

	return run_jbusd(args, &o, &e, false, timeout_ms);
}

int jt_run_jbusd_nobody(const char *const *args, char *err, size_t errlen, int timeout_ms)
{
	struct sink o = { -1, NULL, 0, 0 }, e = { -1, err, errlen, 0 };

	return run_jbusd(args, &o, &e, true, timeout_ms);
}
