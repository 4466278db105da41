/*
 * Starting and stopping the buses that make bench-peers compares.
 *
 * Each server gets its own mkdtemp directory holding its socket, its
 * configuration file and its log, and runs as the invoking user. Readiness
 * is an event with a deadline, never a fixed sleep: jbusd says "ready" on
 * its --ready-fd pipe; redis and mosquitto have no such signal, so the
 * socket is tried until a connect succeeds, waiting on the server's pidfd
 * between tries so that a server that dies is noticed at once. Every child
 * has PR_SET_PDEATHSIG, so a benchmark that is killed takes its servers with
 * it.
 *
 * The configurations give the three buses the same terms: a unix socket
 * only, nothing written to disk per message, and no queue bound that a
 * subscriber lagging during a run could reach (jbusd --queue-limit 4G,
 * redis' pubsub output buffer limit 4gb, mosquitto's max_queued_messages 0,
 * whose QoS 0 drop past 1,000 queued messages would otherwise lose
 * messages that the others deliver).
 */
#include "peer_server.h"
#include "peer_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_MS   20000 /* a server must accept connections within this */
#define STOP_MS	   10000 /* and exit within this after SIGTERM */
#define TRY_MAX_MS 50	 /* the longest wait between two connect tries */

static const char *const kind_names[PEER_KINDS] = { "jbus", "redis", "mosquitto" };

const char *peer_kind_name(enum peer_kind kind)
{
	return kind_names[kind];
}

__attribute__((format(printf, 2, 3))) static int fail(const struct peer_server *s,
						      const char *fmt, ...)
{
	int err = errno ? errno : EIO;
	va_list ap;

	fprintf(stderr, "peers: %s: ", kind_names[s->kind]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -err;
}

/* section: files */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void remove_dir(struct peer_server *s)
{
	if (s->dir[0])
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

/* The end of the server's log on stderr, to say why it did not start or stop cleanly. */
static void show_log(const struct peer_server *s)
{
	char buf[2048];
	ssize_t n;
	int fd;

	fd = open(s->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (lseek(fd, 0, SEEK_END) > (off_t)sizeof(buf))
		lseek(fd, -(off_t)sizeof(buf), SEEK_END);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0)
		fprintf(stderr, "--- end of %s\n%.*s---\n", s->log, (int)n, buf);
}

static int write_file(const struct peer_server *s, const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return fail(s, "%s: %s", path, strerror(errno));
	return 0;
}

/*
 * redis: no persistence (save "", appendonly no), no TCP (port 0, so
 * protected mode has nothing to protect), a pubsub client disconnected only
 * past 4 GiB of unsent output (the default is 32 MiB hard, 8 MiB for 60 s).
 */
static int config_redis(const struct peer_server *s, char *path, size_t size)
{
	char text[1024];

	snprintf(path, size, "%s/redis.conf", s->dir);
	snprintf(text, sizeof(text),
		 "port 0\n"
		 "unixsocket %s\n"
		 "unixsocketperm 700\n"
		 "protected-mode no\n"
		 "daemonize no\n"
		 "save \"\"\n"
		 "appendonly no\n"
		 "dir %s\n"
		 "logfile %s\n"
		 "loglevel notice\n"
		 "client-output-buffer-limit pubsub 4gb 0 0\n",
		 s->sock, s->dir, s->log);
	return write_file(s, path, text);
}

/*
 * mosquitto: one unix listener, anonymous clients, no persistence, no $SYS
 * updates (a timer jbus and redis do not have), no per-connection log lines
 * (the churn workload would measure the log), and max_queued_messages 0:
 * for QoS 0 that count is the only bound, and its default of 1,000 drops
 * what a subscriber has not read yet. user: mosquitto started as root
 * otherwise switches to the user "mosquitto", which may not exist and could
 * not write the log in our directory.
 */
static int config_mosquitto(const struct peer_server *s, char *path, size_t size)
{
	struct passwd *pw = getpwuid(geteuid());
	char text[1024];

	if (!pw)
		return fail(s, "no user name for uid %d", (int)geteuid());
	snprintf(path, size, "%s/mosquitto.conf", s->dir);
	snprintf(text, sizeof(text),
		 "listener 0 %s\n"
		 "allow_anonymous true\n"
		 "persistence false\n"
		 "user %s\n"
		 "log_dest file %s\n"
		 "log_type error\n"
		 "log_type warning\n"
		 "log_type notice\n"
		 "connection_messages false\n"
		 "sys_interval 0\n"
		 "max_queued_messages 0\n",
		 s->sock, pw->pw_name, s->log);
	return write_file(s, path, text);
}

/* section: processes */

/* $ENV, else name: from $PATH, else from /usr/sbin (mosquitto), which a user's PATH may lack. */
static const char *program(const char *env, const char *name)
{
	const char *p = getenv(env);

	return p && *p ? p : name;
}

static void exec_program(const char *const *argv)
{
	char sbin[256];

	execvp(argv[0], (char *const *)argv);
	if (errno == ENOENT && !strchr(argv[0], '/')) {
		snprintf(sbin, sizeof(sbin), "/usr/sbin/%s", argv[0]);
		execv(sbin, (char *const *)argv);
	}
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * fork + exec with stdin from /dev/null, stdout to out_fd and stderr to
 * err_fd (-1: inherited), and keep_fd left open across the exec.
 */
static pid_t spawn(const char *const *argv, int out_fd, int err_fd, int keep_fd)
{
	pid_t pid = fork();
	int null;

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	null = open("/dev/null", O_RDONLY);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	if (out_fd >= 0)
		dup2(out_fd, STDOUT_FILENO);
	if (err_fd >= 0)
		dup2(err_fd, STDERR_FILENO);
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
	exec_program(argv);
	return -1;
}

/*
 * The version the program prints first after prefix (redis-server
 * --version: "Redis server v=7.0.15 ...", mosquitto -h: "mosquitto version
 * 2.0.11", jbusd --version: "jbusd 0.1.0"); "?" if there is none.
 */
static void read_version(const char *const *argv, const char *prefix, char *out, size_t size)
{
	char buf[512], *p;
	size_t len = 0;
	ssize_t n;
	int fd[2];
	pid_t pid;

	snprintf(out, size, "?");
	if (pipe2(fd, O_CLOEXEC) < 0)
		return;
	pid = spawn(argv, fd[1], fd[1], -1);
	close(fd[1]);
	while (pid > 0 && len < sizeof(buf) - 1 &&
	       (n = read(fd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	buf[len] = '\0';
	p = strstr(buf, prefix);
	if (p) {
		p += strlen(prefix);
		snprintf(out, size, "%.*s", (int)strcspn(p, " \n"), p);
	}
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Until the server accepts a connection on s->sock, or exits, or the deadline passes. */
static int wait_accepting(struct peer_server *s, long long deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p = { .fd = s->pidfd, .events = POLLIN };
	int step = 1;

	memcpy(sa.sun_path, s->sock, sizeof(s->sock));
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r;

		if (fd < 0)
			return fail(s, "socket: %s", strerror(errno));
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0)
			return 0;
		/* not bound yet, or bound and not listening yet */
		if (errno != ENOENT && errno != ECONNREFUSED)
			return fail(s, "connect %s: %s", s->sock, strerror(errno));
		if (peer_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return fail(s, "not accepting on %s within %d s", s->sock,
				    START_MS / 1000);
		}
		if (poll(&p, 1, step) > 0) {
			errno = ECHILD;
			return fail(s, "exited before accepting connections");
		}
		step = step * 2 > TRY_MAX_MS ? TRY_MAX_MS : step * 2;
	}
}

/* jbusd writes "ready\n" on the pipe once listening, or closes it by exiting. */
static int wait_ready_pipe(struct peer_server *s, int rfd, long long deadline)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	char buf[8];
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, (int)(deadline - peer_now_ms()));
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		return fail(s, "not ready within %d s", START_MS / 1000);
	}
	n = read(rfd, buf, sizeof(buf));
	if (n != 6 || memcmp(buf, "ready\n", 6) != 0) {
		errno = ECHILD;
		return fail(s, "exited before it was ready");
	}
	return 0;
}

/* section: start and stop */

/* How each bus is started; jbusd takes its settings as arguments, the others from a file. */
static const struct {
	const char *env, *program; /* the program: $env, else program */
	const char *version_arg;   /* makes it print its version */
	const char *version_prefix;
	int (*config)(const struct peer_server *s, char *path, size_t size);
	const char *conf_opt; /* comes before the configuration file, or NULL */
} kinds[PEER_KINDS] = {
	[PEER_JBUS] = { NULL, NULL, "--version", "jbusd ", NULL, NULL }, /* the program is given */
	[PEER_REDIS] = { "REDIS_SERVER", "redis-server", "--version", "v=", config_redis, NULL },
	[PEER_MOSQUITTO] = { "MOSQUITTO", "mosquitto", "-h", "version ", config_mosquitto, "-c" },
};

int peer_server_start(struct peer_server *s, enum peer_kind kind, const char *jbusd)
{
	const char *tmp = getenv("TMPDIR");
	long long deadline = peer_now_ms() + START_MS;
	const char *argv[10], *vargv[3] = { NULL }, *bin;
	char conf[160], fdbuf[16];
	int logfd = -1, ready[2] = { -1, -1 };
	int r, n = 0;

	memset(s, 0, sizeof(*s));
	if ((unsigned)kind >= PEER_KINDS)
		return -EINVAL;
	s->kind = kind;
	s->pidfd = -1;
	/* the socket path must fit in sun_path */
	if (snprintf(s->dir, sizeof(s->dir), "%s/bench-peers-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
		     kind_names[kind]) >= (int)sizeof(s->dir)) {
		errno = ENAMETOOLONG;
		s->dir[0] = '\0';
		return fail(s, "$TMPDIR too long");
	}
	if (!mkdtemp(s->dir)) {
		r = fail(s, "mkdtemp %s: %s", s->dir, strerror(errno));
		s->dir[0] = '\0';
		return r;
	}
	snprintf(s->sock, sizeof(s->sock), "%s/%s.sock", s->dir, kind_names[kind]);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", s->dir, kind_names[kind]);

	bin = kind == PEER_JBUS ? jbusd : program(kinds[kind].env, kinds[kind].program);
	vargv[0] = argv[n++] = bin;
	vargv[1] = kinds[kind].version_arg;
	read_version(vargv, kinds[kind].version_prefix, s->version, sizeof(s->version));
	/* jbusd logs to stderr; the others write there until their log file is open */
	logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		r = fail(s, "%s: %s", s->log, strerror(errno));
		goto out;
	}
	if (kind == PEER_JBUS) {
		if (pipe2(ready, O_CLOEXEC) < 0) {
			r = fail(s, "pipe: %s", strerror(errno));
			goto out;
		}
		snprintf(fdbuf, sizeof(fdbuf), "%d", ready[1]);
		argv[n++] = "-s";
		argv[n++] = s->sock;
		argv[n++] = "--ready-fd";
		argv[n++] = fdbuf;
		argv[n++] = "--queue-limit";
		argv[n++] = "4G";
	} else {
		r = kinds[kind].config(s, conf, sizeof(conf));
		if (r < 0)
			goto out;
		if (kinds[kind].conf_opt)
			argv[n++] = kinds[kind].conf_opt;
		argv[n++] = conf;
	}
	argv[n] = NULL;
	s->pid = spawn(argv, logfd, logfd, ready[1]);
	if (s->pid < 0) {
		s->pid = 0;
		r = fail(s, "fork: %s", strerror(errno));
		goto out;
	}
	s->pidfd = pidfd_open(s->pid);
	if (s->pidfd < 0) {
		r = fail(s, "pidfd_open: %s", strerror(errno));
		goto out;
	}
	if (kind == PEER_JBUS) {
		close(ready[1]);
		ready[1] = -1;
		r = wait_ready_pipe(s, ready[0], deadline);
	} else {
		r = wait_accepting(s, deadline);
	}
out:
	if (logfd >= 0)
		close(logfd);
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (r < 0) {
		show_log(s);
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		if (s->pidfd >= 0)
			close(s->pidfd);
		s->pid = 0;
		s->pidfd = -1;
		remove_dir(s);
	}
	return r;
}

int peer_server_stop(struct peer_server *s)
{
	struct pollfd p = { .fd = s->pidfd, .events = POLLIN };
	int status = 0, r = 0;

	if (s->pid <= 0)
		return 0;
	kill(s->pid, SIGTERM);
	if (poll(&p, 1, STOP_MS) <= 0) {
		errno = ETIMEDOUT;
		fail(s, "still running %d s after SIGTERM: killed", STOP_MS / 1000);
		kill(s->pid, SIGKILL);
		r = -ECHILD;
	}
	if (waitpid(s->pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (r == 0) {
			errno = ECHILD;
			fail(s, "exit status 0x%x after SIGTERM", (unsigned)status);
			show_log(s);
		}
		r = -ECHILD;
	}
	close(s->pidfd);
	s->pidfd = -1;
	s->pid = 0;
	remove_dir(s);
	return r;
}
