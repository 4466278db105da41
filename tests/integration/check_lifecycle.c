/*
 * Broker life cycle: shutdown on SIGTERM/SIGINT (clients told, output
 * flushed, socket file removed), start-up checks on the socket path,
 * socket file mode, command-line usage errors, bye and half-close.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

/* What every client gets at shutdown, after all it was owed: the error, then the close. */
static void expect_shutting_down(struct jt_conn *c)
{
	jt_expect_error_id(c, "shutting_down", NULL, NULL);
	jt_expect_eof_next(c);
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

/* The path and stderr message of a refused start. */
static void expect_cannot_start(const char *path, const char *err)
{
	ck_assert_msg(strstr(err, "jbusd: cannot start: ") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, path) != NULL, "stderr does not name %s: %s", path, err);
}

/*
 * <jt_b.dir>/<pad>/jbus.sock of exactly len bytes (the pad directory is
 * created). False when jt_b.dir is already too long to get there.
 */
static bool path_of_len(char *out, size_t outlen, size_t len)
{
	size_t base = strlen(jt_b.dir), fixed = base + strlen("/") + strlen("/jbus.sock");
	char pad[256], dir[PATH_MAX];

	if (len <= fixed || len - fixed >= sizeof(pad) || len >= outlen)
		return false;
	memset(pad, 'p', len - fixed);
	pad[len - fixed] = '\0';
	jt_fmt(dir, sizeof(dir), "%s/%s", jt_b.dir, pad);
	ck_assert_msg(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir: %s", strerror(errno));
	jt_fmt(out, outlen, "%s/jbus.sock", dir);
	ck_assert_uint_eq(strlen(out), len);
	return true;
}

/* section: shutdown */

START_TEST(test_lifecycle_sigterm_notifies_clients)
{
	/* connected first, so it is accepted before "a" is welcomed (FIFO backlog) */
	struct jt_conn *silent = jt_connect(jt_b.path);
	struct jt_conn *a = jt_client("a");

	jt_sync(a);
	jt_broker_stop(&jt_b); /* asserts exit 0 and the socket file removed */
	expect_shutting_down(a);
	expect_shutting_down(silent);
}
END_TEST

START_TEST(test_lifecycle_sigint_notifies_clients)
{
	struct jt_conn *silent = jt_connect(jt_b.path);
	struct jt_conn *a = jt_client("a");

	jt_sync(a);
	ck_assert_int_eq(kill(jt_b.pid, SIGINT), 0);
	jt_broker_expect_exit(&jt_b);
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
	struct jt_conn *s = jt_client("s");
	struct jt_conn *p = jt_client("p");
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
	jt_broker_expect_exit(&jt_b);
}
END_TEST

/* section: socket path at start-up */

START_TEST(test_lifecycle_stale_socket_removed)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];
	struct stat st;
	int fd;

	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* a socket file nobody listens on, as a crashed broker leaves it */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));

	jt_broker_start_at(&jt_b, path, NULL);
	struct jt_conn *a = jt_hello(path, "a");
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

	struct jt_conn *a = jt_client("a");
	jt_sync(a);
	ck_assert_int_eq(lstat(jt_b.path, &after), 0);
	ck_assert(S_ISSOCK(after.st_mode));
	ck_assert(after.st_dev == before.st_dev && after.st_ino == before.st_ino);
}
END_TEST

/*
 * Two brokers starting on one path at once: the one that holds <path>.lock goes on, the other
 * stops without touching the path, even a stale socket it would otherwise take over. The
 * test holds the lock itself, as a broker in the middle of starting does.
 */
START_TEST(test_lifecycle_lock_held)
{
	char path[PATH_MAX], lock[PATH_MAX + 8], err[1024];
	const char *args[] = { "-s", path, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat before, after;
	int fd, lfd;

	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(lock, sizeof(lock), "%s.lock", path);
	/* a stale socket: bound, then closed without unlinking */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(lstat(path, &before), 0);

	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS), 1);
	expect_cannot_start(path, err);
	ck_assert_msg(strstr(err, "another broker is starting on") && strstr(err, lock),
		      "stderr: %s", err);
	ck_assert_int_eq(lstat(path, &after), 0);
	ck_assert(after.st_ino == before.st_ino);

	/* released: the next start takes the stale socket over */
	close(lfd);
	jt_broker_start_at(&jt_b, path, NULL);
	jt_sync(jt_client("a"));
}
END_TEST

START_TEST(test_lifecycle_not_a_socket_untouched)
{
	static const char text[] = "precious data, not a socket\n";
	char path[PATH_MAX], err[1024], got[256];
	const char *args[] = { "-s", path, NULL };
	struct stat before, after;

	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	jt_write_file(path, text);
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
		fprintf(stderr, "skipped: %s is too long to build a 108-byte path\n", jt_b.dir);
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
		fprintf(stderr, "skipped: %s is too long to build a 107-byte path\n", jt_b.dir);
		return;
	}
	jt_broker_start_at(&jt_b, path, NULL);
	struct jt_conn *a = jt_hello(path, "a");
	jt_sync(a);
	jt_broker_stop(&jt_b);
}
END_TEST

START_TEST(test_lifecycle_missing_directory)
{
	char path[PATH_MAX], err[1024];
	const char *args[] = { "-s", path, NULL };

	jt_fmt(path, sizeof(path), "%s/no-such-dir/jbus.sock", jt_b.dir);
	ck_assert_int_eq(jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS), 1);
	expect_cannot_start(path, err);
}
END_TEST

START_TEST(test_lifecycle_permission_denied)
{
	char dir[PATH_MAX], path[PATH_MAX], err[1024];
	const char *args[] = { "-s", path, NULL };
	struct stat st;
	int rc;

	jt_fmt(dir, sizeof(dir), "%s/ro", jt_b.dir);
	jt_fmt(path, sizeof(path), "%s/jbus.sock", dir);
	ck_assert_int_eq(mkdir(dir, 0555), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0); /* whatever the umask */
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(jt_b.dir, 0755), 0);
		rc = jt_run_jbusd_nobody(args, err, sizeof(err), JT_TIMEOUT_MS);
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
	const char *a[3]; /* after "-s <jt_b.dir>/jbus.sock", so a wrong start stays in jt_b.dir */
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
	{ { "--log-level", "loud" }, "loud" },
	{ { "--log-level" }, "--log-level" },
};

START_TEST(test_lifecycle_usage_error)
{
	const struct usage_case *u = &usage_cases[_i];
	char path[PATH_MAX], err[1024];
	const char *args[6] = { "-s", path };
	struct stat st;
	int n = 2, rc;

	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
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

/* section: logging */

/* The log of a broker started with args, after a client connected and left. */
static void log_with(const char *const *args)
{
	struct jt_conn *c;

	jt_broker_start_args(&jt_b, args);
	c = jt_client("lg");
	jt_sync(c);
	jt_close(c);
	/* the disconnect is handled before the answer to the next client's ping */
	jt_sync(jt_client("lg2"));
}

/* -q and --log-level warn leave out info and debug; debug adds the per-connection lines. */
START_TEST(test_lifecycle_log_levels)
{
	static const char *const quiet[][3] = { { "-q", NULL }, { "--log-level", "warn", NULL },
						 { "--log-level", "error", NULL } };

	if (getenv("JT_VERBOSE"))
		return; /* the log goes to the terminal */
	if (_i < 3) {
		log_with(quiet[_i]);
		ck_assert(!jt_log_has(JT_ARGV("jbusd: info: ")));
		ck_assert(!jt_log_has(JT_ARGV("jbusd: debug: ")));
	} else if (_i == 3) {
		log_with(JT_ARGV("--log-level", "debug"));
		ck_assert(jt_log_has(JT_ARGV("jbusd: info: listening on ")));
		ck_assert(jt_log_has(JT_ARGV("jbusd: debug: hello ", "client=lg ")));
		ck_assert(jt_log_has(JT_ARGV("jbusd: debug: disconnect ", "client=lg ")));
	} else {
		log_with(NULL);
		ck_assert(jt_log_has(JT_ARGV("jbusd: info: listening on ")));
		ck_assert(!jt_log_has(JT_ARGV("jbusd: debug: ")));
	}
}
END_TEST

/* --syslog: nothing on standard error (the lines go to syslog), and the broker serves. */
START_TEST(test_lifecycle_syslog)
{
	if (getenv("JT_VERBOSE"))
		return;
	log_with(JT_ARGV("--syslog", "--log-level", "debug"));
	ck_assert(!jt_log_has(JT_ARGV("jbusd: ")));
}
END_TEST

START_TEST(test_lifecycle_help)
{
	const char *args[] = { "--help", NULL };
	char out[8192], err[1024];
	int rc;

	rc = jt_run_jbusd_out(args, out, sizeof(out), err, sizeof(err), JT_TIMEOUT_MS);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strncmp(out, "Usage: jbusd", 12) == 0, "stdout: %s", out);
	ck_assert_msg(strstr(out, "--max-clients") != NULL, "stdout: %s", out);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_lifecycle_version)
{
	const char *args[] = { "--version", NULL };
	char out[1024], err[1024];
	int rc;

	rc = jt_run_jbusd_out(args, out, sizeof(out), err, sizeof(err), JT_TIMEOUT_MS);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strncmp(out, "jbusd ", 6) == 0 && strchr(out, '\n'), "stdout: %s", out);
	ck_assert_str_eq(err, "");
}
END_TEST

/* section: leaving */

START_TEST(test_lifecycle_bye)
{
	struct jt_conn *a = jt_client("a");
	struct jt_conn *b = jt_client("b");
	json_object *o;

	/* one write: the bye is read while the pong may still be queued */
	jt_send(a, "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"bye\"}");
	o = jt_expect(a, "pong");
	ck_assert_int_eq(jt_int(o, "id"), 1);
	json_object_put(o);
	jt_expect_eof_next(a);

	jt_sync(b);
	/* the name is free again and new clients are served */
	struct jt_conn *a2 = jt_client("a");
	jt_send(b, "{\"op\":\"send\",\"to\":\"a\",\"data\":1,\"id\":2}");
	json_object_put(jt_expect(b, "ok"));
	o = jt_expect(a2, "msg");
	ck_assert_str_eq(jt_str(o, "from"), "b");
	json_object_put(o);
}
END_TEST

START_TEST(test_lifecycle_half_close)
{
	struct jt_conn *c = jt_connect(jt_b.path);
	json_object *o;

	jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"h\"}\n{\"op\":\"ping\",\"id\":\"p\"}");
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
	o = jt_expect(c, "welcome");
	ck_assert_str_eq(jt_str(o, "name"), "h");
	json_object_put(o);
	o = jt_expect(c, "pong");
	ck_assert_str_eq(jt_str(o, "id"), "p");
	json_object_put(o);
	jt_expect_eof_next(c);

	struct jt_conn *d = jt_client("h");
	jt_sync(d);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("lifecycle");
	const struct jt_case with_broker[] = {
		{ "sigterm", test_lifecycle_sigterm_notifies_clients },
		{ "sigint", test_lifecycle_sigint_notifies_clients },
		{ "shutdown_flush", test_lifecycle_shutdown_flushes_pending },
		{ "live_socket", test_lifecycle_live_socket_not_stolen },
		{ "bye", test_lifecycle_bye },
		{ "half_close", test_lifecycle_half_close },
	};
	/* no broker yet: the test picks the socket path inside jt_b.dir */
	const struct jt_case with_dir[] = {
		{ "stale_socket", test_lifecycle_stale_socket_removed },
		{ "not_a_socket", test_lifecycle_not_a_socket_untouched },
		{ "lock_held", test_lifecycle_lock_held },
		{ "missing_directory", test_lifecycle_missing_directory },
		{ "permission_denied", test_lifecycle_permission_denied },
	};
	TCase *tc;

	jt_add_cases(s, with_broker, ARRAY_SIZE(with_broker), jt_setup, jt_teardown, 30);
	jt_add_cases(s, with_dir, ARRAY_SIZE(with_dir), jt_setup_dir, jt_teardown, 30);
	tc = jt_tcase(s, "path_length", jt_setup_dir, jt_teardown, 30);
	tcase_add_test(tc, test_lifecycle_path_too_long);
	tcase_add_test(tc, test_lifecycle_path_107_bytes);
	/* each test starts its broker with its own -m */
	tc = jt_tcase(s, "mode", NULL, jt_teardown, 30);
	tcase_add_test(tc, test_lifecycle_mode_default);
	tcase_add_test(tc, test_lifecycle_mode_0660);
	tcase_add_test(tc, test_lifecycle_mode_0);
	tc = jt_tcase(s, "usage", jt_setup_dir, jt_teardown, 30);
	tcase_add_loop_test(tc, test_lifecycle_usage_error, 0, ARRAY_SIZE(usage_cases));
	tcase_add_test(tc, test_lifecycle_help);
	tcase_add_test(tc, test_lifecycle_version);
	/* each test starts its broker with its own log options */
	tc = jt_tcase(s, "logging", NULL, jt_teardown, 30);
	tcase_add_loop_test(tc, test_lifecycle_log_levels, 0, 5);
	tcase_add_test(tc, test_lifecycle_syslog);
	return s;
}
