/*
 * jbusd under a service manager: socket activation (LISTEN_FDS/LISTEN_PID,
 * from systemd-socket-activate when it is installed, and from the test
 * itself, which binds the sockets, forks and sets the variables as a
 * manager does) and sd_notify readiness (the test owns the NOTIFY_SOCKET,
 * a path or an abstract name, and reads what the broker sends). Every wait
 * is a poll with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

/* In the broker: where the readiness pipe and a leftover fd land (above any passed fd). */
#define READY_FD 20
#define LEFTOVER_FD 21

/* Fixture-owned, so teardown finds them after a failed assertion. */
static int sock_fds[3] = { -1, -1, -1 }; /* what the test passes, as a manager keeps them */
static int notify_fd = -1;
static bool activated; /* jt_b serves on a passed socket */

static void teardown(void)
{
	/* an activated broker leaves the socket file, which jt_broker_stop would fail on */
	if (activated && jt_b.pid > 0) {
		kill(jt_b.pid, SIGKILL);
		jt_broker_wait(&jt_b, jt_ms(10000));
		jt_b.pid = 0;
	}
	activated = false;
	for (size_t i = 0; i < ARRAY_SIZE(sock_fds); i++)
		sock_fds[i] = safe_close(sock_fds[i]);
	notify_fd = safe_close(notify_fd);
	unsetenv("NOTIFY_SOCKET");
	jt_teardown();
}

/* An AF_UNIX socket of type bound at path (listening if listen_too), mode 0640. */
static int bound_socket(const char *path, int type, bool listen_too)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %s", path,
		      strerror(errno));
	ck_assert_int_eq(chmod(path, 0640), 0);
	if (listen_too)
		ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

/*
 * Fork and exec jbusd with fds[0..n) as fds 3.. and LISTEN_FDS=nfds_env (n if < 0),
 * LISTEN_PID its own pid (pid_env: another), env entries set, stderr to err_fd, and
 * --ready-fd READY_FD when ready_fd >= 0. LEFTOVER_FD is left open and inheritable,
 * as a careless parent would. Returns the pid.
 */
static pid_t spawn(const int *fds, int n, int nfds_env, const char *pid_env,
		   const char *const *args, const char *const *env, int err_fd, int ready_fd)
{
	const char *argv[32], *full[80];
	char rbuf[16];
	int an = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(err_fd, STDERR_FILENO);
	/* out of the way first: a source fd may be one of 3.. itself */
	int high[8];
	for (int i = 0; i < n; i++)
		high[i] = fcntl(fds[i], F_DUPFD, 40);
	if (ready_fd >= 0)
		dup2(ready_fd, READY_FD);
	for (int i = 0; i < n; i++)
		dup2(high[i], 3 + i);
	dup2(open("/dev/null", O_RDONLY), LEFTOVER_FD);
	char nbuf[16], pbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%d", nfds_env < 0 ? n : nfds_env);
	snprintf(pbuf, sizeof(pbuf), "%d", (int)getpid());
	setenv("LISTEN_FDS", nbuf, 1);
	setenv("LISTEN_PID", pid_env ? pid_env : pbuf, 1);
	for (; env && *env; env++)
		putenv((char *)*env);
	argv[an++] = jt_jbusd();
	if (ready_fd >= 0) {
		snprintf(rbuf, sizeof(rbuf), "%d", READY_FD);
		argv[an++] = "--ready-fd";
		argv[an++] = rbuf;
	}
	for (; args && *args && an < 30; args++)
		argv[an++] = *args;
	argv[an] = NULL;
	if (jt_wrapped(jt_wrap_argv(full, ARRAY_SIZE(full), argv)))
		jt_wrap_child_env();
	execvp(full[0], (char *const *)full);
	fprintf(stderr, "exec %s: %s\n", full[0], strerror(errno));
	_exit(127);
}

/* spawn() as jt_b, logging to <jt_b.dir>/jbusd.log; returns once it is ready. */
static void start_activated(const int *fds, int n, const char *pid_env, const char *const *args)
{
	char log[sizeof(jt_b.dir) + 16], buf[8];
	int pipefd[2], logfd;
	struct pollfd pfd;
	ssize_t r;

	jt_fmt(log, sizeof(log), "%s/jbusd.log", jt_b.dir);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(logfd, 0);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	jt_b.pid = spawn(fds, n, -1, pid_env, args, NULL, logfd, pipefd[1]);
	activated = !pid_env;
	close(pipefd[1]);
	close(logfd);
	pfd = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, jt_ms(20000)) == 1, "jbusd not ready within %d s", jt_ms(20));
	r = read(pipefd[0], buf, sizeof(buf));
	close(pipefd[0]);
	ck_assert_msg(r == 6 && memcmp(buf, "ready\n", 6) == 0, "jbusd did not become ready");
}

/* SIGTERM: exit 0, and the socket file at path is still the one the test bound. */
static void stop_keeps_file(const char *path, const struct stat *before)
{
	struct stat st;
	int status;

	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	status = jt_broker_wait(&jt_b, jt_ms(10000));
	ck_assert_msg(status != -1, "jbusd did not exit within %d s of SIGTERM", jt_ms(10));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "jbusd exit status %d",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ck_assert_msg(lstat(path, &st) == 0, "%s removed: it is the manager's", path);
	ck_assert(S_ISSOCK(st.st_mode) && st.st_ino == before->st_ino);
	ck_assert_msg((st.st_mode & 07777) == 0640, "mode changed to %04o",
		      (unsigned)(st.st_mode & 07777));
}

static void expect_pubsub(const char *path)
{
	struct jt_conn *s = jt_sub(jt_hello(path, "s"), "t/#");
	struct jt_conn *p = jt_hello(path, "p");

	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t/1\",\"data\":{\"n\":1},\"id\":1}");
	jt_expect_ok(p, "1", 1);
	jt_expect_msg(s, "t/1", "p", "{\"n\":1}");
}

/* section: activation by the test */

START_TEST(test_activation_pubsub)
{
	char lock[PATH_MAX + 8], want[PATH_MAX + 64];
	struct stat before;
	int flags;

	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	sock_fds[0] = bound_socket(jt_b.path, SOCK_STREAM, true);
	ck_assert_int_eq(lstat(jt_b.path, &before), 0);
	/* no -s: the passed socket is the address; -m is the manager's business */
	start_activated(sock_fds, 1, NULL, JT_ARGV("-m", "0600"));
	expect_pubsub(jt_b.path);

	jt_fmt(want, sizeof(want), "using the passed socket bound to %s", jt_b.path);
	ck_assert(jt_log_has(JT_ARGV("info: socket activation: ", want)));
	ck_assert(jt_log_has(JT_ARGV("info: socket activation: -m and -g apply only")));
	flags = jt_pid_fd_flags(jt_b.pid, 3);
	ck_assert_msg(flags >= 0 && (flags & O_CLOEXEC) && (flags & O_NONBLOCK),
		      "fd 3 flags %o", flags);
	ck_assert_msg(jt_pid_fd_target(jt_b.pid, LEFTOVER_FD)[0] == '\0',
		      "inherited fd %d still open: %s", LEFTOVER_FD,
		      jt_pid_fd_target(jt_b.pid, LEFTOVER_FD));
	jt_fmt(lock, sizeof(lock), "%s.lock", jt_b.path);
	ck_assert_msg(access(lock, F_OK) < 0, "%s taken under activation", lock);

	jt_close_all();
	stop_keeps_file(jt_b.path, &before);
	/* the manager's socket still listens: the next connection waits for the next start */
	struct jt_conn *c = jt_connect(jt_b.path);
	jt_close(c);
}
END_TEST

/* -s naming the passed socket is fine; naming another path starts anyway, with a warning. */
START_TEST(test_activation_socket_option)
{
	char other[PATH_MAX], want[PATH_MAX + 64];
	const char *path = _i == 0 ? jt_b.path : other;
	struct stat before;

	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(other, sizeof(other), "%s/other.sock", jt_b.dir);
	sock_fds[0] = bound_socket(jt_b.path, SOCK_STREAM, true);
	ck_assert_int_eq(lstat(jt_b.path, &before), 0);
	start_activated(sock_fds, 1, NULL, JT_ARGV("-s", path));
	expect_pubsub(jt_b.path);
	jt_fmt(want, sizeof(want), "-s %s is not the passed socket's address %s", other,
	       jt_b.path);
	if (_i == 0) {
		ck_assert(!jt_log_has(JT_ARGV("warn: ")));
	} else {
		ck_assert(jt_log_has(JT_ARGV("warn: socket activation: ", want)));
		ck_assert_msg(access(other, F_OK) < 0, "%s was bound", other);
	}
	jt_close_all();
	stop_keeps_file(jt_b.path, &before);
}
END_TEST

/* A datagram socket passed too (before the stream one: they are told apart by type). */
START_TEST(test_activation_dgram)
{
	char dpath[PATH_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char frame[] = "{\"op\":\"pub\",\"topic\":\"d/1\",\"data\":7}";
	struct stat before, dbefore, st;
	char from[48];
	int fd;

	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(dpath, sizeof(dpath), "%s/jbus.dgram", jt_b.dir);
	sock_fds[0] = bound_socket(dpath, SOCK_DGRAM, false);
	sock_fds[1] = bound_socket(jt_b.path, SOCK_STREAM, true);
	ck_assert_int_eq(lstat(jt_b.path, &before), 0);
	ck_assert_int_eq(lstat(dpath, &dbefore), 0);
	start_activated(sock_fds, 2, NULL, NULL);

	struct jt_conn *s = jt_sub(jt_hello(jt_b.path, "s"), "d/#");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", dpath);
	ck_assert_int_eq(sendto(fd, frame, sizeof(frame) - 1, 0, (struct sockaddr *)&sa,
				sizeof(sa)),
			 (ssize_t)sizeof(frame) - 1);
	close(fd);
	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)getuid(), (int)getpid());
	jt_expect_msg(s, "d/1", from, "7");
	ck_assert(jt_log_has(JT_ARGV("info: datagrams on ", dpath)));

	jt_close_all();
	stop_keeps_file(jt_b.path, &before);
	ck_assert_int_eq(lstat(dpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode) && st.st_ino == dbefore.st_ino);
}
END_TEST

/* What a manager may pass that jbusd cannot serve on: exit 1, a message, nothing bound. */
enum bad_kind { BAD_FILE, BAD_NOT_LISTENING, BAD_INET, BAD_DGRAM_ONLY, BAD_TWO_STREAMS,
		BAD_SEQPACKET, BAD_THREE, BAD_COUNT };

static const struct bad_case {
	enum bad_kind kind;
	const char *says;
} bad_cases[] = {
	{ BAD_FILE, "passed fd 3 is not a socket" },
	{ BAD_NOT_LISTENING, "passed fd 3 is a stream socket that is not listening" },
	{ BAD_INET, "passed fd 3 is not an AF_UNIX socket" },
	{ BAD_DGRAM_ONLY, "no listening AF_UNIX stream socket among the 1 passed fds" },
	{ BAD_TWO_STREAMS, "two listening stream sockets passed (fds 3 and 4)" },
	{ BAD_SEQPACKET, "passed fd 3 is neither a stream nor a datagram socket" },
	{ BAD_THREE, "3 fds passed" },
	{ BAD_COUNT, "LISTEN_FDS='x1' is not a number" },
};

START_TEST(test_activation_refused)
{
	const struct bad_case *c = &bad_cases[_i];
	char p1[PATH_MAX], p2[PATH_MAX], own[PATH_MAX], err[2048];
	int n = 1, nfds_env = -1, errp[2], status;
	ssize_t got = 0, r;

	jt_fmt(p1, sizeof(p1), "%s/a.sock", jt_b.dir);
	jt_fmt(p2, sizeof(p2), "%s/b.sock", jt_b.dir);
	jt_fmt(own, sizeof(own), "%s/jbus.sock", jt_b.dir);
	switch (c->kind) {
	case BAD_FILE:
		sock_fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		break;
	case BAD_NOT_LISTENING:
		sock_fds[0] = bound_socket(p1, SOCK_STREAM, false);
		break;
	case BAD_INET:
		sock_fds[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		break;
	case BAD_DGRAM_ONLY:
		sock_fds[0] = bound_socket(p1, SOCK_DGRAM, false);
		break;
	case BAD_TWO_STREAMS:
		sock_fds[0] = bound_socket(p1, SOCK_STREAM, true);
		sock_fds[1] = bound_socket(p2, SOCK_STREAM, true);
		n = 2;
		break;
	case BAD_SEQPACKET:
		sock_fds[0] = bound_socket(p1, SOCK_SEQPACKET, true);
		break;
	case BAD_THREE:
		sock_fds[0] = bound_socket(p1, SOCK_STREAM, true);
		nfds_env = 3;
		break;
	case BAD_COUNT:
		sock_fds[0] = bound_socket(p1, SOCK_STREAM, true);
		break;
	}
	ck_assert_int_ge(sock_fds[0], 0);
	ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
	if (c->kind == BAD_COUNT)
		jt_b.pid = spawn(sock_fds, n, -1, NULL, JT_ARGV("-s", own),
				 JT_ARGV("LISTEN_FDS=x1"), errp[1], -1);
	else
		jt_b.pid = spawn(sock_fds, n, nfds_env, NULL, JT_ARGV("-s", own), NULL, errp[1],
				 -1);
	close(errp[1]);
	/* stderr to its end, with a deadline */
	for (int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;;) {
		struct pollfd pfd = { .fd = errp[0], .events = POLLIN };
		int64_t left = deadline - jt_now_ms();
		ck_assert_msg(left > 0 && poll(&pfd, 1, (int)left) == 1, "jbusd still running");
		r = read(errp[0], err + got, sizeof(err) - 1 - (size_t)got);
		if (r <= 0)
			break;
		got += r;
	}
	err[got] = '\0';
	close(errp[0]);
	status = jt_broker_wait(&jt_b, JT_TIMEOUT_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "case %d: status %d, %s", _i,
		      status, err);
	ck_assert_msg(strstr(err, "jbusd: cannot start: socket activation: ") &&
			      strstr(err, c->says),
		      "case %d: stderr: %s", _i, err);
	ck_assert_msg(access(own, F_OK) < 0, "case %d: %s bound", _i, own);
}
END_TEST

/* LISTEN_PID of another process: the variables are not for us; bind -s as usual. */
START_TEST(test_activation_other_pid)
{
	char passed[PATH_MAX], target[64];
	struct stat st;
	int fds[64], n;

	jt_fmt(passed, sizeof(passed), "%s/passed.sock", jt_b.dir);
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	sock_fds[0] = bound_socket(passed, SOCK_STREAM, true);
	start_activated(sock_fds, 1, "1", JT_ARGV("-s", jt_b.path));
	expect_pubsub(jt_b.path);
	/* not ours, so an inherited fd like any other: closed */
	ck_assert_int_eq(fstat(sock_fds[0], &st), 0);
	jt_fmt(target, sizeof(target), "socket:[%lu]", (unsigned long)st.st_ino);
	n = jt_pid_fds(jt_b.pid, fds, ARRAY_SIZE(fds));
	for (int i = 0; i < n && i < (int)ARRAY_SIZE(fds); i++)
		ck_assert_msg(strcmp(jt_pid_fd_target(jt_b.pid, fds[i]), target) != 0,
			      "the passed socket is open as fd %d", fds[i]);
	ck_assert_str_eq(jt_pid_fd_target(jt_b.pid, LEFTOVER_FD), "");
	jt_close_all();
	jt_broker_stop(&jt_b); /* its own socket: removed */
}
END_TEST

/* section: systemd-socket-activate */

static const char *find_tool(const char *name)
{
	static char path[PATH_MAX];
	const char *p = getenv("PATH");
	char dirs[4096], *save = NULL;

	jt_fmt(dirs, sizeof(dirs), "%s", p && *p ? p : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/%s", d, name);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

/* The next datagram on notify_fd (NUL-terminated in buf), which must come within the deadline. */
static const char *notify_next(char *buf, size_t cap)
{
	struct pollfd pfd = { .fd = notify_fd, .events = POLLIN };
	ssize_t n;

	ck_assert_msg(poll(&pfd, 1, JT_TIMEOUT_MS) == 1, "no notification within %d ms",
		      JT_TIMEOUT_MS);
	n = recv(notify_fd, buf, cap - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return buf;
}

/* Datagrams until one holds what (STATUS-only ones skipped); fails on any other. */
static void notify_expect(const char *what, pid_t mainpid)
{
	char buf[1024], pid[32];

	for (;;) {
		notify_next(buf, sizeof(buf));
		if (strncmp(buf, "STATUS=", 7) == 0 && strncmp(what, "STATUS=", 7) != 0)
			continue;
		if (strstr(buf, what))
			break;
		ck_assert_msg(strncmp(what, "STATUS=", 7) == 0 && strncmp(buf, "STATUS=", 7) == 0,
			      "notification '%s', want '%s'", jt_show(buf, strlen(buf)), what);
	}
	if (mainpid > 0) {
		jt_fmt(pid, sizeof(pid), "MAINPID=%d\n", (int)mainpid);
		ck_assert_msg(strstr(buf, pid), "'%s' lacks %s", jt_show(buf, strlen(buf)), pid);
	}
}

/* The test's NOTIFY_SOCKET: a path in jt_b.dir, or an abstract name; returns its address. */
static const char *open_notify(bool abstract)
{
	static char addr[108];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;

	if (abstract)
		jt_fmt(addr, sizeof(addr), "@jt-notify-%d-%lld", (int)getpid(),
		       (long long)jt_now_ms());
	else
		jt_fmt(addr, sizeof(addr), "%s/notify", jt_b.dir);
	memcpy(sa.sun_path, addr, strlen(addr));
	if (abstract)
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(notify_fd, 0);
	ck_assert_msg(bind(notify_fd, (struct sockaddr *)&sa, len) == 0, "bind %s: %s", addr,
		      strerror(errno));
	return addr;
}

/*
 * The real tool: it binds, waits for the first connection, then execs jbusd in its own
 * process with LISTEN_FDS. Its environment is built from scratch (-E), so jbusd is not
 * run under $JT_WRAP here.
 */
START_TEST(test_activation_systemd_socket_activate)
{
	const char *tool = find_tool("systemd-socket-activate");
	char env[160], want[PATH_MAX + 32];
	struct stat st;
	struct jt_proc *p;
	const char *line;

	if (!tool) {
		fprintf(stderr, "skipped: systemd-socket-activate not installed "
				"(scripts/install-deps.sh --systemd)\n");
		return;
	}
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(env, sizeof(env), "NOTIFY_SOCKET=%s", open_notify(false));
	p = jt_proc_start(JT_ARGV(tool, "-l", jt_b.path, "-E", "NOTIFY_SOCKET", jt_jbusd()),
			  JT_ARGV(env), NULL, 0);
	line = jt_proc_line(p, &p->err);
	jt_fmt(want, sizeof(want), "Listening on %s", jt_b.path);
	ck_assert_msg(line && strstr(line, want), "systemd-socket-activate: %s", line);
	/* the first connection starts jbusd, which then accepts it */
	expect_pubsub(jt_b.path);
	notify_expect("READY=1\n", p->pid);
	jt_close_all();
	jt_proc_signal(p, SIGTERM);
	notify_expect("STOPPING=1", 0);
	ck_assert_int_eq(jt_proc_wait(p), 0);
	ck_assert_msg(strstr(jt_proc_rest(&p->err), "using the passed socket bound to"),
		      "stderr: %s", jt_proc_rest(&p->err));
	ck_assert_msg(lstat(jt_b.path, &st) == 0 && S_ISSOCK(st.st_mode), "socket file removed");
}
END_TEST

/* section: notify */

START_TEST(test_notify_states)
{
	char buf[1024], want[PATH_MAX + 64];
	bool abstract = _i == 1;

	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", open_notify(abstract), 1), 0);
	jt_broker_start_at(&jt_b, jt_b.path, NULL);
	unsetenv("NOTIFY_SOCKET");
	jt_fmt(want, sizeof(want), "STATUS=listening on %s, clients=0", jt_b.path);
	notify_expect("READY=1\n", jt_b.pid);

	struct jt_conn *a = jt_client("a");
	struct jt_conn *b = jt_client("b");
	jt_sync(a);
	jt_sync(b);
	/* at most a second later, the count both welcomes made */
	jt_fmt(want, sizeof(want), "STATUS=listening on %s, clients=2", jt_b.path);
	notify_expect(want, 0);

	ck_assert_int_eq(kill(jt_b.pid, SIGHUP), 0);
	notify_expect("RELOADING=1\nMONOTONIC_USEC=", 0);
	notify_next(buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "READY=1\n", 8) == 0 && strstr(buf, "clients=2"),
		      "after RELOADING: %s", jt_show(buf, strlen(buf)));
	jt_sync(a); /* the reload kept the clients */

	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	notify_expect("STOPPING=1", 0);
	jt_broker_expect_exit(&jt_b);
}
END_TEST

/* An address jbusd cannot use is logged, and the broker serves all the same. */
START_TEST(test_notify_bad_address)
{
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
	jt_broker_start_at(&jt_b, jt_b.path, NULL);
	unsetenv("NOTIFY_SOCKET");
	jt_sync(jt_client("a"));
	ck_assert(jt_log_has(JT_ARGV("warn: notify: NOTIFY_SOCKET='relative/notify'",
				     "not notifying")));
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("activation");
	const struct jt_case cases[] = {
		{ "pubsub", test_activation_pubsub },
		{ "socket_option", test_activation_socket_option, 2 },
		{ "dgram", test_activation_dgram },
		{ "refused", test_activation_refused, ARRAY_SIZE(bad_cases) },
		{ "other_pid", test_activation_other_pid },
		{ "systemd_socket_activate", test_activation_systemd_socket_activate },
		{ "notify", test_notify_states, 2 },
		{ "notify_bad_address", test_notify_bad_address },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup_dir, teardown, 30);
	return s;
}
