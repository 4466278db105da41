/*
 * Broker life cycle: shutdown on SIGTERM/SIGINT (clients told, output
 * flushed, socket file removed), start-up checks on the socket path,
 * socket file mode, command-line usage errors, bye and half-close.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

#define NCONN 8

/* Fixture-owned state, so that a failed assertion still leaves it to teardown. */
static char tmp_dir[256];
static struct jt_conn *conns[NCONN];

static struct jt_conn *keep(struct jt_conn *c)
{
	for (int i = 0; i < NCONN; i++) {
		if (!conns[i]) {
			conns[i] = c;
			return c;
		}
	}
	ck_abort_msg("too many connections for the fixture");
	return NULL;
}

/* snprintf that fails the test instead of truncating a path. */
static void fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < len, "path too long for its buffer: %s", buf);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void rm_tree(const char *dir)
{
	struct stat st;

	if (dir[0] && lstat(dir, &st) == 0) {
		/* a test may have left a directory without write permission */
		chmod(dir, 0700);
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

/* A fresh directory of our own, for tests that pick the socket path themselves. */
static void bare_setup(void)
{
	memset(&jt_b, 0, sizeof(jt_b));
	jt_b.stderr_fd = -1;
	memset(conns, 0, sizeof(conns));
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/jt-%d-XXXXXX", tmp_base(), (int)getpid());
	ck_assert_msg(mkdtemp(tmp_dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void broker_setup(void)
{
	memset(conns, 0, sizeof(conns));
	tmp_dir[0] = '\0';
	jt_setup();
}

static void lc_teardown(void)
{
	for (int i = 0; i < NCONN; i++) {
		jt_close(conns[i]);
		conns[i] = NULL;
	}
	/* a test that stopped the broker by hand leaves pid 0 and its directory */
	if (jt_b.pid > 0)
		jt_broker_stop(&jt_b);
	rm_tree(jt_b.dir);
	rm_tree(tmp_dir);
	jt_b.dir[0] = '\0';
	tmp_dir[0] = '\0';
}

/*
 * Starts jbusd on an exact path (jt_broker_start_args always picks
 * <fresh dir>/jbus.sock). The broker's directory is tmp_dir, so
 * jt_broker_stop removes it.
 */
static void start_at(const char *path, const char *const *args)
{
	const char *argv[32];
	char fdbuf[16], log[PATH_MAX + 16];
	int pipefd[2], logfd = -1, n = 0;
	struct pollfd pfd;
	char buf[16];
	ssize_t r;

	memset(&jt_b, 0, sizeof(jt_b));
	jt_b.stderr_fd = -1;
	snprintf(jt_b.dir, sizeof(jt_b.dir), "%s", tmp_dir);
	fmt(jt_b.path, sizeof(jt_b.path), "%s", path);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	if (!getenv("JT_VERBOSE")) {
		fmt(log, sizeof(log), "%s/jbusd.log", tmp_dir);
		logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	snprintf(fdbuf, sizeof(fdbuf), "%d", pipefd[1]);
	argv[n++] = jt_jbusd();
	argv[n++] = "-s";
	argv[n++] = path;
	argv[n++] = "--ready-fd";
	argv[n++] = fdbuf;
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	jt_b.pid = fork();
	ck_assert_int_ge(jt_b.pid, 0);
	if (jt_b.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fcntl(pipefd[1], F_SETFD, 0);
		if (logfd >= 0)
			dup2(logfd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (logfd >= 0)
		close(logfd);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, 20000) == 1, "jbusd not ready within 20 s");
	r = read(pipefd[0], buf, sizeof(buf));
	close(pipefd[0]);
	ck_assert_msg(r == 6 && memcmp(buf, "ready\n", 6) == 0, "jbusd did not become ready");
}

/* The next thing on c is the close: no frame, no partial frame. */
static void expect_only_eof(struct jt_conn *c)
{
	char *line = jt_line(c, JT_TIMEOUT_MS);

	ck_assert_msg(line == NULL, "expected EOF, got %s", line);
	ck_assert_msg(c->len == 0, "EOF after a truncated frame (%zu bytes)", c->len);
	/* jt_line also gives NULL on timeout: make sure this was the close */
	jt_expect_eof(c, 1000);
}

static void expect_shutting_down(struct jt_conn *c)
{
	json_object_put(jt_expect_error(c, "shutting_down"));
	expect_only_eof(c);
}

/* After a signal sent by hand: exit 0 and the socket file gone. */
static void expect_clean_exit(void)
{
	struct stat st;
	int status = jt_broker_wait(&jt_b, 10000);

	ck_assert_msg(status != -1, "jbusd did not exit within 10 s of the signal");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "jbusd exit status %d (signal %d)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(lstat(jt_b.path, &st) < 0 && errno == ENOENT, "socket file left behind");
}

/* jt_run_jbusd, also capturing stdout (it only captures stderr). */
static int run_out(const char *const *args, char *out, size_t outlen, char *err, size_t errlen)
{
	int p[2], saved, rc;
	size_t got = 0;
	ssize_t n;

	/* the child inherits our stdout: point it at a pipe for the run.
	 * --help and --version print far less than a pipe buffer */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved, 0);
	dup2(p[1], STDOUT_FILENO);
	rc = jt_run_jbusd(args, err, errlen, JT_TIMEOUT_MS);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(p[1]);
	while (got + 1 < outlen && (n = read(p[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	return rc;
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, len - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The path and stderr message of a refused start. */
static void expect_cannot_start(const char *path, const char *err)
{
	ck_assert_msg(strstr(err, "jbusd: cannot start: ") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, path) != NULL, "stderr does not name %s: %s", path, err);
}

/*
 * <tmp_dir>/<pad>/jbus.sock of exactly len bytes (the pad directory is
 * created). False when tmp_dir is already too long to get there.
 */
static bool path_of_len(char *out, size_t outlen, size_t len)
{
	size_t base = strlen(tmp_dir), fixed = base + strlen("/") + strlen("/jbus.sock");
	char pad[256], dir[PATH_MAX];

	if (len <= fixed || len - fixed >= sizeof(pad) || len >= outlen)
		return false;
	memset(pad, 'p', len - fixed);
	pad[len - fixed] = '\0';
	fmt(dir, sizeof(dir), "%s/%s", tmp_dir, pad);
	ck_assert_msg(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir: %s", strerror(errno));
	fmt(out, outlen, "%s/jbus.sock", dir);
	ck_assert_uint_eq(strlen(out), len);
	return true;
}

/* section: shutdown */

START_TEST(test_lifecycle_sigterm_notifies_clients)
{
	/* connected first, so it is accepted before "a" is welcomed (FIFO backlog) */
	struct jt_conn *silent = keep(jt_connect(jt_b.path));
	struct jt_conn *a = keep(jt_hello(jt_b.path, "a"));

	jt_sync(a);
	jt_broker_stop(&jt_b); /* asserts exit 0 and the socket file removed */
	expect_shutting_down(a);
	expect_shutting_down(silent);
}
END_TEST

START_TEST(test_lifecycle_sigint_notifies_clients)
{
	struct jt_conn *silent = keep(jt_connect(jt_b.path));
	struct jt_conn *a = keep(jt_hello(jt_b.path, "a"));

	jt_sync(a);
	ck_assert_int_eq(kill(jt_b.pid, SIGINT), 0);
	expect_clean_exit();
	expect_shutting_down(a);
	expect_shutting_down(silent);
}
END_TEST

/*
 * Output still queued in the broker at the signal (a backlog bigger than
 * the socket buffers, then a pong) arrives in order before shutting_down.
 */
START_TEST(test_lifecycle_shutdown_flushes_pending)
{
	enum { NBIG = 16, PAD = 64 * 1024 };
	struct jt_conn *s = keep(jt_hello(jt_b.path, "s"));
	struct jt_conn *p = keep(jt_hello(jt_b.path, "p"));
	char *pad = malloc(PAD + 1);
	json_object *o;

	ck_assert_ptr_nonnull(pad);
	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"big\",\"id\":1}");
	json_object_put(jt_expect(s, "ok"));
	for (int i = 0; i < NBIG; i++) {
		jt_send(p, "{\"op\":\"pub\",\"topic\":\"big\",\"id\":%d,"
			   "\"data\":{\"n\":%d,\"pad\":\"%s\"}}", i, i, pad);
		o = jt_expect(p, "ok");
		ck_assert_int_eq(jt_int(o, "delivered"), 1);
		json_object_put(o);
	}
	free(pad);
	/* s is not reading: its pong queues behind the backlog. The direct
	 * message that follows it proves to p that the ping was handled. */
	jt_send(s, "{\"op\":\"ping\",\"id\":\"last\"}\n"
		   "{\"op\":\"send\",\"to\":\"p\",\"data\":\"after-ping\"}");
	o = jt_expect(p, "msg");
	ck_assert_str_eq(jt_str(o, "data"), "after-ping");
	json_object_put(o);

	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	for (int i = 0; i < NBIG; i++) {
		json_object *d;
		o = jt_expect(s, "msg");
		ck_assert(json_object_object_get_ex(o, "data", &d));
		ck_assert_int_eq(jt_int(d, "n"), i);
		json_object_put(o);
	}
	o = jt_expect(s, "pong");
	ck_assert_str_eq(jt_str(o, "id"), "last");
	json_object_put(o);
	expect_shutting_down(s);
	expect_shutting_down(p);
	expect_clean_exit();
}
END_TEST

/* section: socket path at start-up */

START_TEST(test_lifecycle_stale_socket_removed)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];
	struct stat st;
	int fd;

	fmt(path, sizeof(path), "%s/jbus.sock", tmp_dir);
	fmt(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* a socket file nobody listens on, as a crashed broker leaves it */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));

	start_at(path, NULL);
	struct jt_conn *a = keep(jt_hello(path, "a"));
	jt_sync(a);
	jt_broker_stop(&jt_b);
}
END_TEST

START_TEST(test_lifecycle_live_socket_not_stolen)
{
	const char *args[] = { "-s", jt_b.path, NULL };
	struct stat before, after;
	char err[1024];

	ck_assert_int_eq(lstat(jt_b.path, &before), 0);
	ck_assert_int_eq(jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS), 1);
	expect_cannot_start(jt_b.path, err);
	ck_assert_msg(strstr(err, "already listening") != NULL, "stderr: %s", err);

	struct jt_conn *a = keep(jt_hello(jt_b.path, "a"));
	jt_sync(a);
	ck_assert_int_eq(lstat(jt_b.path, &after), 0);
	ck_assert(S_ISSOCK(after.st_mode));
	ck_assert(after.st_dev == before.st_dev && after.st_ino == before.st_ino);
}
END_TEST

START_TEST(test_lifecycle_not_a_socket_untouched)
{
	static const char text[] = "precious data, not a socket\n";
	char path[PATH_MAX], err[1024], got[256];
	const char *args[] = { "-s", path, NULL };
	struct stat before, after;

	fmt(path, sizeof(path), "%s/jbus.sock", tmp_dir);
	write_file(path, text);
	ck_assert_int_eq(lstat(path, &before), 0);
	ck_assert_int_eq(jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS), 1);
	expect_cannot_start(path, err);
	ck_assert_int_eq(lstat(path, &after), 0);
	ck_assert(S_ISREG(after.st_mode));
	ck_assert(after.st_ino == before.st_ino && after.st_mode == before.st_mode);
	read_file(path, got, sizeof(got));
	ck_assert_str_eq(got, text);
}
END_TEST

START_TEST(test_lifecycle_path_too_long)
{
	char path[PATH_MAX], err[1024];
	const char *args[] = { "-s", path, NULL };
	struct stat st;

	/* 108 bytes do not fit sun_path with its NUL; the directory exists, so
	 * only the length can be the reason */
	if (!path_of_len(path, sizeof(path), 108)) {
		fprintf(stderr, "skipped: %s is too long to build a 108-byte path\n", tmp_dir);
		return;
	}
	ck_assert_int_eq(jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS), 1);
	ck_assert_msg(strstr(err, "jbusd: cannot start: ") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "sun_path") || strstr(err, "too long"),
		      "no clear reason on stderr: %s", err);
	ck_assert(lstat(path, &st) < 0 && errno == ENOENT);
}
END_TEST

START_TEST(test_lifecycle_path_107_bytes)
{
	char path[PATH_MAX];

	if (!path_of_len(path, sizeof(path), 107)) {
		fprintf(stderr, "skipped: %s is too long to build a 107-byte path\n", tmp_dir);
		return;
	}
	start_at(path, NULL);
	struct jt_conn *a = keep(jt_hello(path, "a"));
	jt_sync(a);
	jt_broker_stop(&jt_b);
}
END_TEST

START_TEST(test_lifecycle_missing_directory)
{
	char path[PATH_MAX], err[1024];
	const char *args[] = { "-s", path, NULL };

	fmt(path, sizeof(path), "%s/no-such-dir/jbus.sock", tmp_dir);
	ck_assert_int_eq(jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS), 1);
	expect_cannot_start(path, err);
}
END_TEST

/*
 * Root ignores directory permissions, so as root the refused start runs as
 * "nobody" in a child of its own (the test process keeps its credentials).
 * Returns the exit status, or -1; 126/127: the child could not drop its
 * privileges or exec jbusd as nobody.
 */
static int run_unprivileged(const char *const *args, char *err, size_t errlen)
{
	struct jt_broker child = { 0 };
	const char *argv[8];
	int p[2], n = 0, status;
	size_t got = 0;

	argv[n++] = jt_jbusd();
	for (; *args && n < 7; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	child.pid = fork();
	ck_assert_int_ge(child.pid, 0);
	if (child.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], STDERR_FILENO);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t r;
		if (poll(&pfd, 1, JT_TIMEOUT_MS) <= 0)
			break;
		r = read(p[0], err + got, errlen - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got + 1 >= errlen)
			break;
	}
	err[got] = '\0';
	close(p[0]);
	status = jt_broker_wait(&child, JT_TIMEOUT_MS);
	if (status == -1) {
		kill(child.pid, SIGKILL);
		waitpid(child.pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_lifecycle_permission_denied)
{
	char dir[PATH_MAX], path[PATH_MAX], err[1024];
	const char *args[] = { "-s", path, NULL };
	struct stat st;
	int rc;

	fmt(dir, sizeof(dir), "%s/ro", tmp_dir);
	fmt(path, sizeof(path), "%s/jbus.sock", dir);
	ck_assert_int_eq(mkdir(dir, 0555), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0); /* whatever the umask */
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(tmp_dir, 0755), 0);
		rc = run_unprivileged(args, err, sizeof(err));
		if (rc == 126 || rc == 127) {
			fprintf(stderr, "skipped: cannot run %s as nobody (%d)\n", jt_jbusd(), rc);
			return;
		}
	} else {
		rc = jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS);
	}
	ck_assert_msg(rc == 1, "exit %d, stderr: %s", rc, err);
	expect_cannot_start(path, err);
	ck_assert_msg(strstr(err, strerror(EACCES)) != NULL, "stderr: %s", err);
	ck_assert(lstat(path, &st) < 0 && errno == ENOENT);
}
END_TEST

/* section: socket file mode */

static void expect_mode(const char *mode, mode_t want)
{
	const char *args[] = { "-m", mode, NULL };
	struct stat st;

	jt_broker_start_args(&jt_b, mode ? args : NULL);
	ck_assert_int_eq(lstat(jt_b.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_msg((st.st_mode & 07777) == want, "mode %04o, want %04o",
		      (unsigned)(st.st_mode & 07777), (unsigned)want);
	jt_broker_stop(&jt_b);
}

START_TEST(test_lifecycle_mode_default)
{
	expect_mode(NULL, 0600);
}
END_TEST

START_TEST(test_lifecycle_mode_0660)
{
	expect_mode("0660", 0660);
}
END_TEST

START_TEST(test_lifecycle_mode_0)
{
	expect_mode("0", 0);
}
END_TEST

/* section: command line */

static const struct usage_case {
	const char *a[3]; /* after "-s <tmp_dir>/jbus.sock", so a wrong start stays in tmp_dir */
	const char *names; /* what the message must mention */
} usage_cases[] = {
	{ { "--bogus" }, "--bogus" },
	{ { "-s" }, "-s" }, /* missing value: -s is the last argument */
	{ { "--queue-limit" }, "--queue-limit" },
	{ { "--max-clients", "0" }, "--max-clients" },
	{ { "--max-clients", "abc" }, "abc" },
	{ { "-m", "999" }, "999" },
	{ { "-m", "1000" }, "1000" },
	{ { "--max-frame", "10" }, "--max-frame" },
	{ { "--queue-limit", "1" }, "--queue-limit" },
	{ { "--handshake-timeout", "0" }, "--handshake-timeout" },
	{ { "--handshake-timeout", "x" }, "--handshake-timeout" },
	{ { "extra" }, "extra" },
};

START_TEST(test_lifecycle_usage_error)
{
	const struct usage_case *u = &usage_cases[_i];
	char path[PATH_MAX], err[1024];
	const char *args[6] = { "-s", path };
	struct stat st;
	int n = 2, rc;

	fmt(path, sizeof(path), "%s/jbus.sock", tmp_dir);
	for (int k = 0; k < 3 && u->a[k]; k++)
		args[n++] = u->a[k];
	args[n] = NULL;
	rc = jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS);
	ck_assert_msg(rc == 2, "case %d (%s): exit %d, stderr: %s", _i, u->a[0], rc, err);
	ck_assert_msg(strncmp(err, "jbusd: ", 7) == 0, "case %d: stderr: %s", _i, err);
	ck_assert_msg(strstr(err, u->names) != NULL, "case %d: message does not name %s: %s", _i,
		      u->names, err);
	ck_assert_msg(lstat(path, &st) < 0 && errno == ENOENT, "case %d: socket created", _i);
}
END_TEST

START_TEST(test_lifecycle_help)
{
	const char *args[] = { "--help", NULL };
	char out[8192], err[1024];

	ck_assert_int_eq(run_out(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strncmp(out, "Usage: jbusd", 12) == 0, "stdout: %s", out);
	ck_assert_msg(strstr(out, "--max-clients") != NULL, "stdout: %s", out);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_lifecycle_version)
{
	const char *args[] = { "--version", NULL };
	char out[1024], err[1024];

	ck_assert_int_eq(run_out(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strncmp(out, "jbusd ", 6) == 0 && strchr(out, '\n'), "stdout: %s", out);
	ck_assert_str_eq(err, "");
}
END_TEST

/* section: leaving */

START_TEST(test_lifecycle_bye)
{
	struct jt_conn *a = keep(jt_hello(jt_b.path, "a"));
	struct jt_conn *b = keep(jt_hello(jt_b.path, "b"));
	json_object *o;

	/* one write: the bye is read while the pong may still be queued */
	jt_send(a, "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"bye\"}");
	o = jt_expect(a, "pong");
	ck_assert_int_eq(jt_int(o, "id"), 1);
	json_object_put(o);
	expect_only_eof(a);

	jt_sync(b);
	/* the name is free again and new clients are served */
	struct jt_conn *a2 = keep(jt_hello(jt_b.path, "a"));
	jt_send(b, "{\"op\":\"send\",\"to\":\"a\",\"data\":1,\"id\":2}");
	json_object_put(jt_expect(b, "ok"));
	o = jt_expect(a2, "msg");
	ck_assert_str_eq(jt_str(o, "from"), "b");
	json_object_put(o);
}
END_TEST

START_TEST(test_lifecycle_half_close)
{
	struct jt_conn *c = keep(jt_connect(jt_b.path));
	json_object *o;

	jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"h\"}\n{\"op\":\"ping\",\"id\":\"p\"}");
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	o = jt_expect(c, "welcome");
	ck_assert_str_eq(jt_str(o, "name"), "h");
	json_object_put(o);
	o = jt_expect(c, "pong");
	ck_assert_str_eq(jt_str(o, "id"), "p");
	json_object_put(o);
	expect_only_eof(c);

	struct jt_conn *d = keep(jt_hello(jt_b.path, "h"));
	jt_sync(d);
}
END_TEST

static TCase *tcase(Suite *s, const char *name, bool with_broker)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, with_broker ? broker_setup : bare_setup, lc_teardown);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *jt_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc;

	tcase_add_test(tcase(s, "sigterm", true), test_lifecycle_sigterm_notifies_clients);
	tcase_add_test(tcase(s, "sigint", true), test_lifecycle_sigint_notifies_clients);
	tcase_add_test(tcase(s, "shutdown_flush", true), test_lifecycle_shutdown_flushes_pending);
	tcase_add_test(tcase(s, "stale_socket", false), test_lifecycle_stale_socket_removed);
	tcase_add_test(tcase(s, "live_socket", true), test_lifecycle_live_socket_not_stolen);
	tcase_add_test(tcase(s, "not_a_socket", false), test_lifecycle_not_a_socket_untouched);
	tc = tcase(s, "path_length", false);
	tcase_add_test(tc, test_lifecycle_path_too_long);
	tcase_add_test(tc, test_lifecycle_path_107_bytes);
	tcase_add_test(tcase(s, "missing_directory", false), test_lifecycle_missing_directory);
	tcase_add_test(tcase(s, "permission_denied", false), test_lifecycle_permission_denied);
	tc = tcase(s, "mode", false);
	tcase_add_test(tc, test_lifecycle_mode_default);
	tcase_add_test(tc, test_lifecycle_mode_0660);
	tcase_add_test(tc, test_lifecycle_mode_0);
	tc = tcase(s, "usage", false);
	tcase_add_loop_test(tc, test_lifecycle_usage_error, 0,
			    (int)(sizeof(usage_cases) / sizeof(usage_cases[0])));
	tcase_add_test(tc, test_lifecycle_help);
	tcase_add_test(tc, test_lifecycle_version);
	tcase_add_test(tcase(s, "bye", true), test_lifecycle_bye);
	tcase_add_test(tcase(s, "half_close", true), test_lifecycle_half_close);
	return s;
}
