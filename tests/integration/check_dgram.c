/*
 * The datagram door (jbusd --dgram PATH): each datagram is one pub frame,
 * stamped "dgram:<uid>:<pid>" from the kernel's credentials, delivered to
 * stream subscribers and retained like any pub; malformed and oversized
 * datagrams are counted, logged at most once a second per sender and never
 * delivered (retained ones past a bound are delivered, and logged alike);
 * the socket file follows the stream socket's rules (stale removed, live or
 * foreign kept, mode from -m, removed at shutdown).
 *
 * Nothing answers a datagram, so every test learns that the broker handled
 * one from a stream subscriber: a good datagram sent after a bad one from
 * the same socket is handled after it (the receive queue is FIFO).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

/* The datagram socket of the test (fixture-owned). */
static char dpath[PATH_MAX];

/* jt_b on <dir>/jbus.sock with --dgram <dir>/jbus.dgram and extra args (NULL-terminated). */
static void start_dgram(const char *const *extra)
{
	const char *args[16] = { "--dgram", dpath };
	char path[PATH_MAX];
	int n = 2;

	if (!jt_b.dir[0])
		jt_setup_dir();
	jt_fmt(dpath, sizeof(dpath), "%s/jbus.dgram", jt_b.dir);
	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	for (; extra && *extra && n < 15; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	jt_broker_start_at(&jt_b, path, args);
}

/* mode 0666 and a searchable directory: another uid (nobody) may send too */
static void setup_open(void)
{
	jt_setup_dir();
	ck_assert_int_eq(chmod(jt_b.dir, 0755), 0);
	start_dgram(JT_ARGV("-m", "0666"));
}

/* frames of at most 1 KiB, for the oversized datagrams */
static void setup_small(void)
{
	jt_setup_dir();
	start_dgram(JT_ARGV("--max-frame", "1K"));
}

/* only the directory: the test starts the broker with its own arguments */
static void setup_dir_only(void)
{
	jt_setup_dir();
	jt_fmt(dpath, sizeof(dpath), "%s/jbus.dgram", jt_b.dir);
}

static void fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	jt_fmt(sa->sun_path, sizeof(sa->sun_path), "%s", path);
}

/* One sendto() of p[0..n) from a fresh socket; 0 or the errno. */
static int try_send_to(const char *path, const void *p, size_t n)
{
	struct sockaddr_un sa;
	int fd, err = 0;

	fill_addr(&sa, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)n)
		err = errno ? errno : EMSGSIZE;
	close(fd);
	return err;
}

static void dsend_n(const void *p, size_t n)
{
	int err = try_send_to(dpath, p, n);

	ck_assert_msg(err == 0, "sendto %s: %s", dpath, strerror(err));
}

static void dsend(const char *text)
{
	dsend_n(text, strlen(text));
}

/* "dgram:<uid>:<pid>" of this process. */
static const char *self_from(void)
{
	static char from[48];

	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)getuid(), (int)getpid());
	return from;
}

/* A subscriber to every topic not starting with '$'. */
static struct jt_conn *subscriber(void)
{
	return jt_sub(jt_client("sub"), "#");
}

struct dropped_lines {
	const char *why, *tail;
	int n;
};

static void count_dropped(const char *l, void *userdata)
{
	struct dropped_lines *d = userdata;
	const char *at = strstr(l, "dgram dropped: ");
	size_t len = strlen(l), tl = strlen(d->tail);

	if (len < tl || strcmp(l + len - tl, d->tail) != 0)
		return;
	if (!d->why || (strncmp(at + 15, d->why, strlen(d->why)) == 0 &&
			at + 15 + strlen(d->why) == l + len - tl))
		d->n++;
}

/*
 * The number of log lines "dgram dropped: <why> from=<from>" (why NULL: for
 * any reason); -1 with JT_VERBOSE.
 */
static int log_lines(const char *why, const char *from)
{
	char tail[128];
	struct dropped_lines d = { why, tail, 0 };

	jt_fmt(tail, sizeof(tail), " from=%s", from);
	if (jt_log_lines(JT_ARGV("dgram dropped: "), count_dropped, &d) < 0)
		return -1;
	return d.n;
}

/* A pub on "sync" whose delivery proves everything sent before it was handled. */
static void sync_dgram(struct jt_conn *sub, int k)
{
	char frame[128], data[32];

	jt_fmt(data, sizeof(data), "{\"sync\":%d}", k);
	jt_fmt(frame, sizeof(frame), "{\"op\":\"pub\",\"topic\":\"sync\",\"data\":%s}", data);
	dsend(frame);
	jt_expect_msg(sub, "sync", self_from(), data);
}

static void expect_counts(struct jt_conn *c, int64_t in, int64_t dropped)
{
	ck_assert_int_eq(jt_stat(c, "dgram_in"), in);
	ck_assert_int_eq(jt_stat(c, "dgram_dropped"), dropped);
}

static void expect_mode(mode_t want)
{
	struct stat st;

	ck_assert_int_eq(lstat(dpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_msg((st.st_mode & 07777) == want, "mode %04o, want %04o",
		      (unsigned)(st.st_mode & 07777), (unsigned)want);
}

/* section: uid nobody */

struct ids {
	uid_t uid;
	gid_t gid;
};

static struct ids nobody_ids(void)
{
	struct passwd *pw = getpwnam("nobody");
	struct ids id = { 65534, 65534 };

	if (pw) {
		id.uid = pw->pw_uid;
		id.gid = pw->pw_gid;
	}
	return id;
}

/*
 * Fork a child that becomes nobody and sends text to dpath once. Returns
 * its pid once it exited, with *err its sendto errno (0: sent); 0 when
 * this process cannot switch uid (not root).
 */
static pid_t send_as_nobody(const char *text, int *err)
{
	struct ids id = nobody_ids();
	struct jt_broker child = { 0 };
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return 0;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setgroups(0, NULL) < 0 || setgid(id.gid) < 0 || setuid(id.uid) < 0)
			_exit(126);
		st = try_send_to(dpath, text, strlen(text));
		_exit(st > 0 && st < 126 ? st : st ? 125 : 0);
	}
	/* the jt_broker waiter is a pidfd wait with a deadline, for any child */
	child.pid = pid;
	st = jt_broker_wait(&child, JT_TIMEOUT_MS);
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ck_abort_msg("the nobody child did not exit");
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 126, "the child could not become nobody");
	*err = WEXITSTATUS(st);
	return pid;
}

START_TEST(test_dgram_from_other_uid)
{
	struct jt_conn *s = subscriber();
	char from[48];
	int err;
	pid_t pid = send_as_nobody("{\"op\":\"pub\",\"topic\":\"who\",\"data\":\"nobody\"}", &err);

	if (!pid) {
		fprintf(stderr, "skipped: not root, cannot send as another uid\n");
		return;
	}
	/* the socket is open to all (-m 0666): only a private parent of $TMPDIR can refuse */
	expect_mode(0666);
	if (err == EACCES) {
		fprintf(stderr, "skipped: nobody cannot reach %s (private parent directory)\n",
			dpath);
		return;
	}
	ck_assert_msg(err == 0, "sendto as nobody: %s", strerror(err));
	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)nobody_ids().uid, (int)pid);
	jt_expect_msg(s, "who", from, "\"nobody\"");
}
END_TEST

/* section: delivery */

START_TEST(test_dgram_from_self)
{
	struct jt_conn *s = subscriber();

	/* no line end; data kept byte for byte */
	dsend("{\"op\":\"pub\",\"topic\":\"a/b\",\"data\":{\"x\": [1, 2.50]}}");
	jt_expect_msg(s, "a/b", self_from(), "{\"x\": [1, 2.50]}");
	/* a trailing LF or CRLF is allowed, an id ignored, unknown members too */
	dsend("{\"op\":\"pub\",\"topic\":\"lf\",\"data\":1}\n");
	jt_expect_msg(s, "lf", self_from(), "1");
	dsend("{\"op\":\"pub\",\"topic\":\"crlf\",\"data\":2,\"id\":7,\"extra\":{}}\r\n");
	jt_expect_msg(s, "crlf", self_from(), "2");
	/* no data: delivered as null; retain false: a plain pub */
	dsend("{\"op\":\"pub\",\"topic\":\"none\",\"retain\":false}");
	jt_expect_msg(s, "none", self_from(), "null");
	/* the topic is re-encoded as on the stream */
	dsend("{\"op\":\"pub\",\"topic\":\"x\\/y\",\"data\":\"\\u00e9\"}");
	jt_expect_msg(s, "x/y", self_from(), "\"\\u00e9\"");
	/* nothing else arrived (no answer, no duplicate) */
	jt_sync(s);
	expect_counts(s, 5, 0);
}
END_TEST

START_TEST(test_dgram_pattern_and_monitor)
{
	struct jt_conn *s = jt_sub(jt_client("s"), "room/+/temp");
	struct jt_conn *other = jt_sub(jt_client("other"), "elsewhere");
	struct jt_conn *mon = jt_client("mon");
	json_object *o;

	jt_send(mon, "{\"op\":\"monitor\",\"id\":\"m\"}");
	jt_expect_ok(mon, "\"m\"", -1);
	dsend("{\"op\":\"pub\",\"topic\":\"room/1/temp\",\"data\":21.5}");
	jt_expect_msg(s, "room/1/temp", self_from(), "21.5");
	/* a monitor sees it as a pub from the dgram sender, queued to s */
	o = jt_expect(mon, "mon");
	ck_assert_str_eq(jt_str(o, "kind"), "pub");
	ck_assert_str_eq(jt_str(o, "from"), self_from());
	ck_assert_str_eq(jt_str(o, "topic"), "room/1/temp");
	json_object_put(o);
	jt_sync(other);
	jt_expect_silence(other, 50);
	ck_assert_int_eq(jt_stat(s, "msgs_routed"), 1);
}
END_TEST

START_TEST(test_dgram_retain)
{
	struct jt_conn *s = jt_sub(jt_client("s"), "r/#"), *late;
	char want[256];

	dsend("{\"op\":\"pub\",\"topic\":\"r/1\",\"data\":{\"v\":1},\"retain\":true}");
	jt_expect_msg(s, "r/1", self_from(), "{\"v\":1}");
	dsend("{\"op\":\"pub\",\"topic\":\"r/2\",\"data\":2,\"retain\":false}");
	jt_expect_msg(s, "r/2", self_from(), "2");

	/* a later subscriber gets r/1 replayed with its dgram sender, and not r/2 */
	late = jt_client("late");
	jt_send(late, "{\"op\":\"sub\",\"topic\":\"r/#\",\"id\":\"s\"}");
	jt_expect_ok(late, "\"s\"", -1);
	jt_fmt(want, sizeof(want),
	       "{\"op\":\"msg\",\"topic\":\"r/1\",\"from\":\"%s\",\"data\":{\"v\":1},"
	       "\"retained\":true}",
	       self_from());
	jt_expect_line(late, want);
	jt_sync(late);
	ck_assert_int_eq(jt_stat(late, "retained"), 1);

	/* a retained pub without data clears it, and is still delivered live */
	dsend("{\"op\":\"pub\",\"topic\":\"r/1\",\"retain\":true}");
	jt_expect_msg(s, "r/1", self_from(), "null");
	jt_expect_msg(late, "r/1", self_from(), "null");
	ck_assert_int_eq(jt_stat(late, "retained"), 0);
}
END_TEST

/* section: dropped datagrams */

/* Filled in by the test: a 1025-byte topic, data nested 65 levels deep with its frame. */
static const char big_topic[] = "{\"op\":\"pub\",\"topic\":\"%s\"}";
static const char too_deep[] = "{\"op\":\"pub\",\"topic\":\"t\",\"data\":%s}";

static const struct bad_case {
	const char *text;
	const char *why; /* the reason in the log */
} bad_cases[] = {
	{ "", "not a JSON object" },
	{ "{\"op\":\"pub\",\"topic\":\"t\"", "not a JSON object" },
	{ "[{\"op\":\"pub\",\"topic\":\"t\"}]", "not a JSON object" },
	{ "\"pub\"", "not a JSON object" },
	/* two frames in one datagram: trailing bytes after the first */
	{ "{\"op\":\"pub\",\"topic\":\"t\"}\n{\"op\":\"pub\",\"topic\":\"t\"}",
	  "not a JSON object" },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"data\":\"\xff\"}", "not a JSON object" },
	{ too_deep, "not a JSON object" },
	{ "{\"topic\":\"t\",\"data\":1}", "op is not \"pub\"" },
	{ "{\"op\":\"sub\",\"topic\":\"t\"}", "op is not \"pub\"" },
	{ "{\"op\":1,\"topic\":\"t\"}", "op is not \"pub\"" },
	{ "{\"op\":\"hello\",\"proto\":1}", "op is not \"pub\"" },
	{ "{\"op\":\"pub\",\"data\":1}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":1}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"\"}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"a/+\"}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"a/#\"}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"$SYS/x\"}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"a\\u0000b\"}", "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"\\ud800\"}", "missing or invalid topic" },
	{ big_topic, "missing or invalid topic" },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"retain\":1}", "retain is not a boolean" },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"retain\":\"true\"}", "retain is not a boolean" },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"retain\":null}", "retain is not a boolean" },
};

START_TEST(test_dgram_malformed)
{
	const struct bad_case *b = &bad_cases[_i];
	struct jt_conn *s = subscriber();
	char text[2048];
	int n;

	if (b->text == big_topic) {
		char topic[1026];
		memset(topic, 't', 1025);
		topic[1025] = '\0';
		jt_fmt(text, sizeof(text), big_topic, topic);
	} else if (b->text == too_deep) {
		char nest[129];
		memset(nest, '[', 64);
		memset(nest + 64, ']', 64);
		nest[128] = '\0';
		jt_fmt(text, sizeof(text), too_deep, nest);
	} else {
		jt_fmt(text, sizeof(text), "%s", b->text);
	}
	dsend(text);
	/* the next delivery is the sync: the bad one was handled and not delivered */
	sync_dgram(s, 1);
	expect_counts(s, 2, 1);
	ck_assert_int_eq(jt_stat(s, "msgs_routed"), 1);
	n = log_lines(b->why, self_from());
	ck_assert_msg(n == -1 || n == 1, "case %d (%s): %d log lines for '%s'", _i,
		      jt_show(text, strlen(text)), n, b->why);
}
END_TEST

/* A pub frame of exactly len bytes (data a string padded with 'x'). */
static char *frame_of_len(size_t len)
{
	static const char head[] = "{\"op\":\"pub\",\"topic\":\"big\",\"data\":\"";
	char *f = malloc(len + 1);
	size_t fixed = strlen(head) + 2;

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(len, fixed);
	memcpy(f, head, strlen(head));
	memset(f + strlen(head), 'x', len - fixed);
	memcpy(f + len - 2, "\"}", 2);
	f[len] = '\0';
	return f;
}

START_TEST(test_dgram_oversized)
{
	struct jt_conn *s = jt_sub(jt_client("s"), "big");
	char *exact = frame_of_len(1024), *over = frame_of_len(1025), *huge = frame_of_len(65536);
	char *crlf = malloc(1027);

	ck_assert_ptr_nonnull(crlf);
	/* max_frame bytes fit, with or without a line end */
	dsend(exact);
	json_object_put(jt_expect(s, "msg"));
	jt_fmt(crlf, 1027, "%s\r\n", exact);
	dsend(crlf);
	json_object_put(jt_expect(s, "msg"));
	/* one more byte, or far more (the kernel truncates it for the broker) */
	dsend(over);
	dsend(huge);
	sync_dgram(jt_sub(jt_client("sync"), "sync"), 1);
	jt_expect_silence(s, 50);
	expect_counts(s, 5, 2);
	ck_assert_int_eq(log_lines("larger than max_frame", self_from()) != 0, 1);
	free(exact);
	free(over);
	free(huge);
	free(crlf);
}
END_TEST

/* A datagram from a process of its own, a sender the broker has not seen; returns its pid. */
static pid_t send_from_child(const char *p)
{
	pid_t child = fork();
	int st;

	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(try_send_to(dpath, p, strlen(p)) ? 1 : 0);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return child;
}

/*
 * 50 bad datagrams from one sender in a burst give one log line (more only
 * if the burst took more than a second); another sender is logged too.
 */
START_TEST(test_dgram_log_rate_limited)
{
	struct jt_conn *s = subscriber();
	char from[48];
	int64_t t0 = jt_now_ms(), elapsed;
	pid_t child;
	int n;

	for (int i = 0; i < 50; i++)
		dsend("{\"op\":\"pub\"}");
	child = send_from_child("not json");
	sync_dgram(s, 1);
	elapsed = jt_now_ms() - t0;
	expect_counts(s, 52, 51);
	n = log_lines(NULL, self_from());
	if (n == -1)
		return;
	ck_assert_msg(n >= 1 && n <= elapsed / 1000 + 2, "%d log lines in %lld ms", n,
		      (long long)elapsed);
	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)getuid(), (int)child);
	ck_assert_int_eq(log_lines("not a JSON object", from), 1);
}
END_TEST

/*
 * 30 senders, a process each, one bad datagram each, as a script that runs a new process
 * per datagram: their lines are bounded together (10 a second). Once a second has passed,
 * one more sender's line says how many were held back: every datagram is then a line or
 * counted in one.
 */
START_TEST(test_dgram_log_many_senders)
{
	struct jt_conn *s = subscriber();
	unsigned long long held;
	int64_t t0 = jt_now_ms(), elapsed;
	int n;

	for (int i = 0; i < 30; i++)
		send_from_child("not json");
	sync_dgram(s, 1);
	elapsed = jt_now_ms() - t0;
	expect_counts(s, 31, 30);
	n = jt_log_lines_held(JT_ARGV("dgram dropped: not a JSON object"), &held);
	if (n == -1)
		return;
	ck_assert_msg(n >= 10 && n <= 10 * (elapsed / 1000 + 2), "%d log lines in %lld ms", n,
		      (long long)elapsed);
	jt_wait_rate_window();
	send_from_child("not json");
	sync_dgram(s, 2);
	n = jt_log_lines_held(JT_ARGV("dgram dropped: not a JSON object"), &held);
	ck_assert_msg(n + held == 31, "%d lines holding back %llu, for 31 datagrams", n, held);
}
END_TEST

/* one retained topic at most: the second is not retained */
static void setup_retain_one(void)
{
	jt_setup_dir();
	start_dgram(JT_ARGV("--max-retained", "1"));
}

/* The "dgram pub not retained" lines from the sender from; -1 with JT_VERBOSE. */
static int not_retained_lines(const char *from)
{
	char tail[128];

	jt_fmt(tail, sizeof(tail), " from=%s ", from);
	return jt_log_lines(JT_ARGV("dgram pub not retained: max_retained reached", tail), NULL,
			    NULL);
}

/*
 * 50 retained datagrams past --max-retained in a burst are delivered and counted each, and
 * logged once (more only if the burst took more than a second); a dropped datagram right
 * after is another kind of warning, logged too, and so is another sender.
 */
START_TEST(test_dgram_log_not_retained)
{
	struct jt_conn *s = jt_sub(jt_client("sub"), "sync");
	char frame[128], from[48];
	int64_t t0, elapsed;
	pid_t child;
	int n;

	/* before the first datagram: the broker may log while this test still sends */
	t0 = jt_now_ms();
	dsend("{\"op\":\"pub\",\"topic\":\"r/0\",\"retain\":true,\"data\":0}");
	for (int i = 1; i <= 50; i++) {
		jt_fmt(frame, sizeof(frame),
		       "{\"op\":\"pub\",\"topic\":\"r/%d\",\"retain\":true,\"data\":%d}", i, i);
		dsend(frame);
	}
	dsend("{\"op\":\"pub\"}");
	child = send_from_child("{\"op\":\"pub\",\"topic\":\"x\",\"retain\":true,\"data\":1}");
	sync_dgram(s, 1);
	elapsed = jt_now_ms() - t0;
	ck_assert_int_eq(jt_stat(s, "limit_reached"), 51);
	ck_assert_int_eq(jt_stat(s, "retained"), 1);
	n = not_retained_lines(self_from());
	if (n == -1)
		return;
	ck_assert_msg(n >= 1 && n <= 1 + elapsed / 1000, "%d log lines in %lld ms", n,
		      (long long)elapsed);
	ck_assert_int_eq(log_lines("missing or invalid topic", self_from()), 1);
	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)getuid(), (int)child);
	ck_assert_int_eq(not_retained_lines(from), 1);
}
END_TEST

/* section: the socket file */

START_TEST(test_dgram_stale_socket_removed)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	fill_addr(&sa, dpath);
	/* a datagram socket file nobody has open, as a crashed broker leaves it */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert(lstat(dpath, &st) == 0 && S_ISSOCK(st.st_mode));
	ck_assert_int_eq(try_send_to(dpath, "x", 1), ECONNREFUSED);

	start_dgram(NULL);
	struct jt_conn *s = subscriber();
	sync_dgram(s, 1);
}
END_TEST

static void expect_cannot_start(const char *const *args, const char *path, const char *why)
{
	char err[1024];
	int rc = jt_run_jbusd(args, err, sizeof(err), JT_TIMEOUT_MS);

	ck_assert_msg(rc == 1, "exit %d, stderr: %s", rc, err);
	ck_assert_msg(strstr(err, "jbusd: cannot start: ") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, path) != NULL, "stderr does not name %s: %s", path, err);
	ck_assert_msg(!why || strstr(err, why), "stderr does not say '%s': %s", why, err);
}

START_TEST(test_dgram_live_socket_not_stolen)
{
	char other[PATH_MAX];
	struct stat before, after;
	struct jt_conn *s = subscriber();

	jt_fmt(other, sizeof(other), "%s/other.sock", jt_b.dir);
	ck_assert_int_eq(lstat(dpath, &before), 0);
	expect_cannot_start(JT_ARGV("-s", other, "--dgram", dpath), dpath, "already listening");
	/* the second broker's own stream socket went with it */
	ck_assert(lstat(other, &after) < 0 && errno == ENOENT);
	ck_assert_int_eq(lstat(dpath, &after), 0);
	ck_assert(after.st_dev == before.st_dev && after.st_ino == before.st_ino);
	sync_dgram(s, 1);

	/* a live stream socket at the datagram path is not taken either */
	ck_assert_int_eq(lstat(jt_b.path, &before), 0);
	expect_cannot_start(JT_ARGV("-s", other, "--dgram", jt_b.path), jt_b.path, NULL);
	ck_assert_int_eq(lstat(jt_b.path, &after), 0);
	ck_assert(after.st_ino == before.st_ino);
	jt_sync(jt_client("still"));
}
END_TEST

START_TEST(test_dgram_same_path_as_stream)
{
	char path[PATH_MAX];
	struct stat st;

	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	expect_cannot_start(JT_ARGV("-s", path, "--dgram", path), path, NULL);
	ck_assert(lstat(path, &st) < 0 && errno == ENOENT);
}
END_TEST

START_TEST(test_dgram_not_a_socket_untouched)
{
	static const char text[] = "not a socket\n";
	char path[PATH_MAX], got[64];
	struct stat before, after;
	ssize_t n;
	int fd;

	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	jt_write_file(dpath, text);
	ck_assert_int_eq(lstat(dpath, &before), 0);
	expect_cannot_start(JT_ARGV("-s", path, "--dgram", dpath), dpath, "not a socket");
	ck_assert_int_eq(lstat(dpath, &after), 0);
	ck_assert(S_ISREG(after.st_mode) && after.st_ino == before.st_ino);
	fd = open(dpath, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	ck_assert_int_eq(n, (ssize_t)strlen(text));
	got[n] = '\0';
	ck_assert_str_eq(got, text);
	ck_assert(lstat(path, &after) < 0 && errno == ENOENT);
}
END_TEST

START_TEST(test_dgram_mode_default)
{
	int err;

	ck_assert_int_eq(chmod(jt_b.dir, 0755), 0);
	start_dgram(NULL);
	expect_mode(0600);
	/* owner only: another uid cannot send */
	if (send_as_nobody("{\"op\":\"pub\",\"topic\":\"t\"}", &err))
		ck_assert_msg(err == EACCES, "sendto as nobody: %s", strerror(err));
	struct jt_conn *s = subscriber();
	sync_dgram(s, 1);
	expect_counts(s, 1, 0);
}
END_TEST

START_TEST(test_dgram_mode_0660)
{
	start_dgram(JT_ARGV("-m", "0660"));
	expect_mode(0660);
}
END_TEST

START_TEST(test_dgram_removed_at_sigterm)
{
	struct stat st;

	start_dgram(NULL);
	sync_dgram(subscriber(), 1);
	ck_assert_int_eq(lstat(dpath, &st), 0);
	jt_broker_stop(&jt_b); /* asserts exit 0 and the stream socket gone */
	ck_assert_msg(lstat(dpath, &st) < 0 && errno == ENOENT, "datagram socket file left");
}
END_TEST

START_TEST(test_dgram_removed_at_sigint)
{
	struct stat st;

	start_dgram(NULL);
	ck_assert_int_eq(kill(jt_b.pid, SIGINT), 0);
	jt_broker_expect_exit(&jt_b);
	ck_assert_msg(lstat(dpath, &st) < 0 && errno == ENOENT, "datagram socket file left");
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("dgram");
	const struct jt_case open_cases[] = {
		{ "from_other_uid", test_dgram_from_other_uid },
		{ "from_self", test_dgram_from_self },
		{ "pattern_and_monitor", test_dgram_pattern_and_monitor },
		{ "retain", test_dgram_retain },
		{ "malformed", test_dgram_malformed, (int)ARRAY_SIZE(bad_cases) },
		{ "log_rate_limited", test_dgram_log_rate_limited },
		{ "log_many_senders", test_dgram_log_many_senders },
		{ "live_socket", test_dgram_live_socket_not_stolen },
	};
	const struct jt_case dir_cases[] = {
		{ "stale_socket", test_dgram_stale_socket_removed },
		{ "same_path", test_dgram_same_path_as_stream },
		{ "not_a_socket", test_dgram_not_a_socket_untouched },
		{ "mode_default", test_dgram_mode_default },
		{ "mode_0660", test_dgram_mode_0660 },
		{ "sigterm", test_dgram_removed_at_sigterm },
		{ "sigint", test_dgram_removed_at_sigint },
	};

	jt_add_cases(s, open_cases, ARRAY_SIZE(open_cases), setup_open, jt_teardown, 30);
	tcase_add_test(jt_tcase(s, "oversized", setup_small, jt_teardown, 30),
		       test_dgram_oversized);
	tcase_add_test(jt_tcase(s, "log_not_retained", setup_retain_one, jt_teardown, 30),
		       test_dgram_log_not_retained);
	jt_add_cases(s, dir_cases, ARRAY_SIZE(dir_cases), setup_dir_only, jt_teardown, 30);
	return s;
}
