/*
 * Starting and stopping the real jbusd for integration tests (see jt.h).
 * Readiness comes through a pipe (--ready-fd), exit through a pidfd: every
 * wait is an event with a deadline, never a fixed sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

struct jt_broker jt_b;

const char *jt_jbusd(void)
{
	const char *p = getenv("JBUSD");
	return p && *p ? p : "build/jbusd";
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exec_jbusd(const char *sock, int ready_fd, const char *const *args, int err_fd)
{
	const char *argv[64];
	char fdbuf[16];
	int n = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (err_fd >= 0) {
		dup2(err_fd, STDERR_FILENO);
		close(err_fd);
	}
	argv[n++] = jt_jbusd();
	if (sock) {
		argv[n++] = "-s";
		argv[n++] = sock;
	}
	if (ready_fd >= 0) {
		snprintf(fdbuf, sizeof(fdbuf), "%d", ready_fd);
		argv[n++] = "--ready-fd";
		argv[n++] = fdbuf;
	}
	for (; args && *args && n < 62; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	execv(argv[0], (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

void jt_broker_start_args(struct jt_broker *b, const char *const *args)
{
	char log[PATH_MAX + 16];
	int pipefd[2], logfd = -1;
	struct pollfd pfd;
	char buf[16];
	ssize_t n;

	memset(b, 0, sizeof(*b));
	b->stderr_fd = -1;
	snprintf(b->dir, sizeof(b->dir), "%s/jt-%d-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	ck_assert_msg(mkdtemp(b->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(b->path, sizeof(b->path), "%s/jbus.sock", b->dir);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	if (!getenv("JT_VERBOSE")) {
		snprintf(log, sizeof(log), "%s/jbusd.log", b->dir);
		logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		/* the write end must survive exec */
		fcntl(pipefd[1], F_SETFD, 0);
		exec_jbusd(b->path, pipefd[1], args, logfd);
	}
	close(pipefd[1]);
	if (logfd >= 0)
		close(logfd);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, 20000) == 1, "jbusd not ready within 20 s");
	n = read(pipefd[0], buf, sizeof(buf));
	close(pipefd[0]);
	ck_assert_msg(n == 6 && memcmp(buf, "ready\n", 6) == 0, "jbusd did not become ready");
}

void jt_setup(void)
{
	jt_broker_start_args(&jt_b, NULL);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

int jt_broker_wait(struct jt_broker *b, int timeout_ms)
{
	int status = -1, pfd;
	int64_t deadline = now_ms() + timeout_ms;

	pfd = (int)syscall(SYS_pidfd_open, b->pid, 0);
	for (;;) {
		pid_t r = waitpid(b->pid, &status, WNOHANG);
		if (r == b->pid) {
			if (pfd >= 0)
				close(pfd);
			b->pid = 0;
			return status;
		}
		int64_t left = deadline - now_ms();
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

void jt_broker_stop(struct jt_broker *b)
{
	int status;
	struct stat st;

	if (b->pid <= 0)
		return;
	kill(b->pid, SIGTERM);
	status = jt_broker_wait(b, 10000);
	if (status == -1) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
		ck_abort_msg("jbusd did not exit within 10 s of SIGTERM");
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "jbusd exit status %d (signal %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(lstat(b->path, &st) < 0 && errno == ENOENT, "socket file left behind");
	nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void jt_teardown(void)
{
	jt_broker_stop(&jt_b);
}

int jt_run_jbusd(const char *const *args, char *err, size_t errlen, int timeout_ms)
{
	int pipefd[2], status;
	size_t got = 0;
	struct jt_broker b = { 0 };
	int64_t deadline = now_ms() + timeout_ms;

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	b.pid = fork();
	ck_assert_int_ge(b.pid, 0);
	if (b.pid == 0) {
		close(pipefd[0]);
		exec_jbusd(NULL, -1, args, pipefd[1]);
	}
	close(pipefd[1]);
	for (;;) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		int64_t left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		char tmp[512];
		ssize_t n = read(pipefd[0], tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (err && got + 1 < errlen) {
			size_t k = (size_t)n < errlen - 1 - got ? (size_t)n : errlen - 1 - got;
			memcpy(err + got, tmp, k);
			got += k;
		}
	}
	close(pipefd[0]);
	if (err && errlen)
		err[got] = '\0';
	status = jt_broker_wait(&b, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 1));
	if (status == -1) {
		kill(b.pid, SIGKILL);
		waitpid(b.pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
