/*
 * Retained messages through the real jbusd: replay right after the ok of
 * every new pattern, in byte order of topic, replacing and clearing, the
 * retain flag's type, the count and byte bounds, and --retain-file: its
 * format, the write within a second and at shutdown, a restart after a
 * clean stop and after SIGKILL, and the refusal of a corrupt file.
 *
 * "Nothing came" is proved without waiting: a jt_sync on the connection
 * that would have received it must see its pong first. The file's write
 * is awaited through inotify, never by sleeping.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define HEADER "{\"jbus_retained\":1}"

/* section: fixture */

static char file[PATH_MAX]; /* the --retain-file of the test, inside jt_b.dir */
static int ino = -1;        /* inotify on jt_b.dir */

static void setup_file(void)
{
	jt_setup_dir();
	snprintf(file, sizeof(file), "%s/retained.json", jt_b.dir);
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	ck_assert_int_ge(ino, 0);
	ck_assert_int_ge(inotify_add_watch(ino, jt_b.dir, IN_MOVED_TO | IN_CLOSE_WRITE), 0);
}

static void teardown(void)
{
	if (ino >= 0)
		close(ino);
	ino = -1;
	jt_teardown();
}

/* Start (or restart) the broker on jt_b.path with the retain file and extra options. */
static void start(const char *extra, const char *val)
{
	char path[sizeof(jt_b.dir) + 16];

	snprintf(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	jt_broker_start_at(&jt_b, path, JT_ARGV("--retain-file", file, extra, val));
}

/* SIGTERM and a clean exit, keeping the directory (and so the file). */
static void stop(void)
{
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	jt_broker_expect_exit(&jt_b);
}

/* section: helpers */

/* Publish retained with an id; assert the ok and its delivered count. */
static void retain(struct jt_conn *c, const char *topic, const char *data, int delivered)
{
	jt_send(c, "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":%s,\"retain\":true,\"id\":\"r\"}",
		topic, data);
	jt_expect_ok(c, "\"r\"", delivered);
}

static void expect_retained(struct jt_conn *c, const char *topic, const char *from,
			    const char *data)
{
	char want[512];

	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"%s\",\"from\":\"%s\",\"data\":%s,\"retained\":true}",
		 topic, from, data);
	jt_expect_line(c, want);
}

/* A fresh client subscribing to pattern gets exactly these retained topics (data "1"). */
static void expect_replay_of(const char *pattern, const char *const *topics)
{
	struct jt_conn *c = jt_client("probe");

	/* the ping goes in the same write: replays sit between the ok and the pong */
	jt_send(c, "{\"op\":\"sub\",\"topic\":\"%s\",\"id\":\"s\"}\n"
		   "{\"op\":\"ping\",\"id\":\"jt-sync\"}",
		pattern);
	jt_expect_ok(c, "\"s\"", -1);
	for (; *topics; topics++)
		expect_retained(c, *topics, "p", "1");
	jt_expect_line(c, "{\"op\":\"pong\",\"id\":\"jt-sync\"}");
	jt_close(c);
}

/* section: replay */

START_TEST(test_retain_replay_after_ok)
{
	struct jt_conn *p = jt_client("p"), *s = jt_client("s"), *t;

	retain(p, "a/b", "{\"v\": [1, 2]}", 0);
	/* ok, replay, then the pong sent in the same write: one queue, in order */
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"a/#\",\"id\":1}\n{\"op\":\"ping\",\"id\":2}");
	jt_expect_ok(s, "1", -1);
	expect_retained(s, "a/b", "p", "{\"v\": [1, 2]}");
	jt_expect_line(s, "{\"op\":\"pong\",\"id\":2}");

	/* a repeated sub: its ok, nothing again */
	jt_sub(s, "a/#");
	jt_sync(s);
	/* a new pattern matching the same topic: replayed again */
	jt_sub(s, "+/b");
	expect_retained(s, "a/b", "p", "{\"v\": [1, 2]}");
	jt_sync(s);
	/* unsubscribed and subscribed again: a new pattern once more */
	jt_send(s, "{\"op\":\"unsub\",\"topic\":\"+/b\",\"id\":\"u\"}");
	jt_expect_ok(s, "\"u\"", -1);
	jt_sub(s, "+/b");
	expect_retained(s, "a/b", "p", "{\"v\": [1, 2]}");
	/* a pattern matching nothing retained */
	jt_sub(s, "x/#");
	jt_sync(s);
	/* without an id there is no ok, the replay comes all the same */
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"a/+\"}");
	expect_retained(s, "a/b", "p", "{\"v\": [1, 2]}");
	jt_sync(s);

	/* live delivery afterwards, of a retained pub, carries no marker */
	retain(p, "a/b", "2", 1);
	jt_expect_msg(s, "a/b", "p", "2");

	/* retained values survive their publisher */
	jt_close(p);
	t = jt_client("t");
	jt_sub(t, "a/b");
	expect_retained(t, "a/b", "p", "2");
	jt_sync(t);
}
END_TEST

START_TEST(test_retain_byte_order)
{
	/* published out of order; "\xc3\xa9" is é, above every ASCII byte */
	static const char *const topics[] = { "b", "a/c", "a/\xc3\xa9", "a/b", "a", "a/~",
					      "a/b/c", "A" };
	struct jt_conn *p = jt_client("p");

	for (size_t i = 0; i < ARRAY_SIZE(topics); i++)
		retain(p, topics[i], "1", 0);
	expect_replay_of("#", JT_ARGV("A", "a", "a/b", "a/b/c", "a/c", "a/~", "a/\xc3\xa9", "b"));
	expect_replay_of("a/#", JT_ARGV("a", "a/b", "a/b/c", "a/c", "a/~", "a/\xc3\xa9"));
	expect_replay_of("a/+", JT_ARGV("a/b", "a/c", "a/~", "a/\xc3\xa9"));
	expect_replay_of("+", JT_ARGV("A", "a", "b"));
	expect_replay_of("+/+/c", JT_ARGV("a/b/c"));
	expect_replay_of("a/b/c", JT_ARGV("a/b/c"));
	/* nothing retained under '$' topics and '#' would not match them anyway */
	expect_replay_of("$SYS/#", (const char *const[]){ NULL });
}
END_TEST

START_TEST(test_retain_replace_and_clear)
{
	struct jt_conn *p = jt_client("p"), *l = jt_client("l"), *c;

	jt_sub(l, "t");
	retain(p, "t", "1", 1);
	jt_expect_msg(l, "t", "p", "1");
	retain(p, "t", "2", 1);
	jt_expect_msg(l, "t", "p", "2");
	c = jt_client("c");
	jt_sub(c, "t");
	expect_retained(c, "t", "p", "2");
	jt_send(c, "{\"op\":\"unsub\",\"topic\":\"t\",\"id\":\"u\"}");
	jt_expect_ok(c, "\"u\"", -1);
	ck_assert_int_eq(jt_stat(l, "retained"), 1);

	/* a plain pub neither stores nor clears */
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":3,\"retain\":false,\"id\":1}");
	jt_expect_ok(p, "1", 1);
	jt_expect_msg(l, "t", "p", "3");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":4,\"id\":2}");
	jt_expect_ok(p, "2", 1);
	jt_expect_msg(l, "t", "p", "4");
	ck_assert_int_eq(jt_stat(l, "retained"), 1);

	/* cleared by null: still delivered live, with null */
	retain(p, "t", "null", 1);
	jt_expect_msg(l, "t", "p", "null");
	ck_assert_int_eq(jt_stat(l, "retained"), 0);
	expect_replay_of("#", (const char *const[]){ NULL });

	/* cleared by a retained pub without data */
	retain(p, "t", "5", 1);
	jt_expect_msg(l, "t", "p", "5");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t\",\"retain\":true,\"id\":3}");
	jt_expect_ok(p, "3", 1);
	jt_expect_msg(l, "t", "p", "null");
	expect_replay_of("#", (const char *const[]){ NULL });

	/* clearing what is not there is fine */
	retain(p, "none", "null", 0);
	ck_assert_int_eq(jt_stat(l, "retained"), 0);
	ck_assert_int_eq(jt_stat(l, "retained_bytes"), 0);
}
END_TEST

static const char *const bad_retain[] = { "1", "0", "\"true\"", "null", "{}", "[true]" };

START_TEST(test_retain_flag_not_boolean)
{
	struct jt_conn *p = jt_client("p"), *l = jt_client("l");

	jt_sub(l, "t");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1,\"retain\":%s,\"id\":7}",
		bad_retain[_i]);
	jt_expect_error_id(p, "bad_frame", "7", "retain");
	/* the pub was refused as a whole: not delivered, not stored */
	jt_sync(p);
	jt_sync(l);
	ck_assert_int_eq(jt_stat(l, "retained"), 0);
	retain(p, "t", "1", 1);
	jt_expect_msg(l, "t", "p", "1");
}
END_TEST

/* section: bounds */

START_TEST(test_retain_max_count)
{
	struct jt_conn *p, *l;

	jt_broker_start_args(&jt_b, JT_ARGV("--max-retained", "2"));
	p = jt_client("p");
	l = jt_client("l");
	jt_sub(l, "#");
	retain(p, "t1", "1", 1);
	retain(p, "t2", "1", 1);
	jt_expect_msg(l, "t1", "p", "1");
	jt_expect_msg(l, "t2", "p", "1");

	/* past the bound: delivered live, refused with the pub's id, nothing evicted */
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t3\",\"data\":1,\"retain\":true,\"id\":\"x\"}");
	jt_expect_error_id(p, "limit_reached", "\"x\"", NULL);
	jt_sync(p);
	jt_expect_msg(l, "t3", "p", "1");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"t3\",\"data\":1,\"retain\":true}");
	jt_expect_error_id(p, "limit_reached", NULL, NULL);
	jt_expect_msg(l, "t3", "p", "1");
	expect_replay_of("#", JT_ARGV("t1", "t2"));
	ck_assert_int_eq(jt_stat(l, "retained"), 2);

	/* replacing a stored topic is no new one */
	retain(p, "t1", "1", 1);
	jt_expect_msg(l, "t1", "p", "1");
	/* clearing makes room */
	retain(p, "t2", "null", 1);
	jt_expect_msg(l, "t2", "p", "null");
	retain(p, "t3", "1", 1);
	jt_expect_msg(l, "t3", "p", "1");
	expect_replay_of("#", JT_ARGV("t1", "t3"));
	jt_sync(l);
}
END_TEST

START_TEST(test_retain_max_bytes)
{
	struct jt_conn *p, *l;

	/* topic plus data bytes */
	jt_broker_start_args(&jt_b, JT_ARGV("--max-retained-bytes", "10"));
	p = jt_client("p");
	l = jt_client("l");
	retain(p, "ab", "123", 0);
	ck_assert_int_eq(jt_stat(l, "retained_bytes"), 5);
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"cd\",\"data\":12345,\"retain\":true,\"id\":1}");
	jt_expect_error_id(p, "limit_reached", "1", NULL);
	ck_assert_int_eq(jt_stat(l, "retained_bytes"), 5);
	/* exactly at the bound fits */
	retain(p, "cd", "\"1\"", 0);
	ck_assert_int_eq(jt_stat(l, "retained_bytes"), 10);
	ck_assert_int_eq(jt_stat(l, "retained"), 2);
	/* a replacement counts without the value it replaces */
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"ab\",\"data\":1234,\"retain\":true,\"id\":2}");
	jt_expect_error_id(p, "limit_reached", "2", NULL);
	retain(p, "ab", "12", 0);
	ck_assert_int_eq(jt_stat(l, "retained_bytes"), 9);
	jt_sub(l, "#");
	expect_retained(l, "ab", "p", "12");
	expect_retained(l, "cd", "p", "\"1\"");
	jt_sync(l);
}
END_TEST

/* section: the retain file */

/* Read the whole file into buf (NUL-terminated); false if it does not exist. */
static bool read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		ck_assert_msg(errno == ENOENT, "%s: %s", path, strerror(errno));
		return false;
	}
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	ck_assert_uint_lt(len, cap - 1);
	buf[len] = '\0';
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* want with "@UID" replaced by this process's uid (the broker charges values to it). */
static const char *with_uid(const char *want, char *buf, size_t cap)
{
	const char *at = strstr(want, "@UID");

	if (!at)
		return want;
	snprintf(buf, cap, "%.*s%u%s", (int)(at - want), want, (unsigned)getuid(), at + 4);
	return buf;
}

/* The file is the header, then exactly the lines of want in any order (want sorted). */
static bool file_is(const char *text, const char *const *want, size_t n)
{
	char copy[4096], *lines[16], *save = NULL, *l, line[1024];
	size_t k = 0;

	snprintf(copy, sizeof(copy), "%s", text);
	if (strncmp(copy, HEADER "\n", sizeof(HEADER)) != 0)
		return false;
	for (l = strtok_r(copy + sizeof(HEADER), "\n", &save); l && k < 16;
	     l = strtok_r(NULL, "\n", &save))
		lines[k++] = l;
	if (k != n || text[strlen(text) - 1] != '\n')
		return false;
	qsort(lines, k, sizeof(*lines), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (strcmp(lines[i], with_uid(want[i], line, sizeof(line))) != 0)
			return false;
	return true;
}

/* Wait (inotify, deadline ms) until the file holds exactly want; returns the ms it took. */
static int64_t wait_file(const char *const *want, size_t n, int timeout_ms)
{
	int64_t t0 = jt_now_ms(), deadline = t0 + timeout_ms;
	char text[4096] = "", ev[4096];

	for (;;) {
		/* renamed into place: whatever is there is a complete file */
		if (read_file(file, text, sizeof(text)) && file_is(text, want, n))
			return jt_now_ms() - t0;
		struct pollfd pf = { .fd = ino, .events = POLLIN };
		int64_t left = deadline - jt_now_ms();

		ck_assert_msg(left > 0 && poll(&pf, 1, (int)left) == 1,
			      "retain file not as expected within %d ms; it holds:\n%s", timeout_ms,
			      text);
		while (read(ino, ev, sizeof(ev)) > 0)
			;
	}
}

static void expect_no_tmp(void)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	ck_assert_msg(access(tmp, F_OK) != 0, "%s left behind", tmp);
}

START_TEST(test_retain_file_within_a_second)
{
	const char *const both[] = {
		"{\"topic\":\"a/b\",\"from\":\"p\",\"uid\":@UID,\"data\":{\"v\": [1, 2]}}",
		"{\"topic\":\"c\",\"from\":\"p\",\"uid\":@UID,\"data\":\"s\"}",
	};
	struct jt_conn *p, *s;
	int64_t ms;

	start(NULL, NULL);
	p = jt_client("p");
	retain(p, "a/b", "{\"v\": [1, 2]}", 0);
	retain(p, "c", "\"s\"", 0);
	/* the one-second coalescing timer; slack for a loaded machine */
	ms = wait_file(both, 2, 4000);
	ck_assert_msg(ms < 2500, "retain file written %lld ms after the change", (long long)ms);
	expect_no_tmp();
	retain(p, "c", "null", 0);
	wait_file(both, 1, 4000);

	/* a crash now loses nothing that was written */
	ck_assert_int_eq(kill(jt_b.pid, SIGKILL), 0);
	ck_assert_int_ne(jt_broker_wait(&jt_b, 10000), -1);
	start(NULL, NULL);
	s = jt_client("s");
	jt_sub(s, "#");
	expect_retained(s, "a/b", "p", "{\"v\": [1, 2]}");
	jt_sync(s);
	ck_assert_int_eq(jt_stat(s, "retained"), 1);
}
END_TEST

START_TEST(test_retain_file_at_shutdown)
{
	char text[4096];
	struct jt_conn *p, *s;

	/* missing file: a first start */
	start(NULL, NULL);
	p = jt_client("p");
	ck_assert_int_eq(jt_stat(p, "retained"), 0);
	retain(p, "x/\xc3\xa9", "[\"\\u00e9\", 1.50]", 0);
	retain(p, "y", "true", 0);
	/* at once: the shutdown writes what the timer has not */
	stop();
	ck_assert(read_file(file, text, sizeof(text)));
	ck_assert_msg(file_is(text,
			      JT_ARGV("{\"topic\":\"x/\xc3\xa9\",\"from\":\"p\",\"uid\":@UID,"
				      "\"data\":[\"\\u00e9\", 1.50]}",
				      "{\"topic\":\"y\",\"from\":\"p\",\"uid\":@UID,\"data\":true}"),
			      2),
		      "retain file after shutdown:\n%s", text);
	expect_no_tmp();

	/* the restarted broker replays them, from their publisher */
	start(NULL, NULL);
	s = jt_client("s");
	jt_sub(s, "#");
	expect_retained(s, "x/\xc3\xa9", "p", "[\"\\u00e9\", 1.50]");
	expect_retained(s, "y", "p", "true");
	jt_sync(s);
	ck_assert_int_eq(jt_stat(s, "retained"), 2);

	/* a clear survives a restart as well */
	p = jt_client("p");
	retain(p, "y", "null", 1);
	jt_expect_msg(s, "y", "p", "null");
	jt_close(s);
	stop();
	start(NULL, NULL);
	s = jt_client("s");
	jt_sub(s, "#");
	expect_retained(s, "x/\xc3\xa9", "p", "[\"\\u00e9\", 1.50]");
	jt_sync(s);
}
END_TEST

/* Write text to path, replacing it. */
START_TEST(test_retain_file_stale_tmp)
{
	char tmp[PATH_MAX + 8];
	struct jt_conn *s, *p;

	/* what a crash in the middle of a write leaves: the old file and a partial temporary */
	jt_write_file(file, HEADER "\n{\"topic\":\"old\",\"from\":\"p\",\"data\":1}\n");
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	jt_write_file(tmp, HEADER "\n{\"topic\":\"new\",\"fr");
	start(NULL, NULL);
	expect_replay_of("#", JT_ARGV("old"));
	/* the next write replaces both */
	p = jt_client("p");
	retain(p, "new", "1", 0);
	/* a value loaded without "uid" is charged to nobody, and saved so */
	wait_file(JT_ARGV("{\"topic\":\"new\",\"from\":\"p\",\"uid\":@UID,\"data\":1}",
			  "{\"topic\":\"old\",\"from\":\"p\",\"data\":1}"),
		  2, 4000);
	expect_no_tmp();
	s = jt_client("s");
	jt_sub(s, "#");
	expect_retained(s, "new", "p", "1");
	expect_retained(s, "old", "p", "1");
	jt_sync(s);
}
END_TEST

static const struct {
	const char *text; /* NULL: the file is a directory */
	int line;         /* named in the message, 0: no line */
} corrupt[] = {
	{ "", 1 },
	{ "garbage", 1 },
	{ "{\"jbus_retained\":2}\n", 1 },
	{ "{\"jbus_retained\": 1}\n", 1 },
	{ HEADER "\n{\"topic\":\"a\",\"from\":\"p\",\"data\":1}\nnot json\n", 3 },
	{ HEADER "\n{\"topic\":\"a\",\"from\":\"p\"}\n", 2 },
	{ HEADER "\n{\"topic\":\"a\",\"data\":1}\n", 2 },
	{ HEADER "\n{\"topic\":\"a/+\",\"from\":\"p\",\"data\":1}\n", 2 },
	{ HEADER "\n{\"topic\":\"a\",\"from\":\"p\",\"data\":1}\n"
		 "{\"topic\":\"b\",\"from\":\"p\",\"data\":2}\n[1]\n",
	  4 },
	{ HEADER "\n{\"topic\":\"a\",\"from\":\"p\",\"da", 2 },
	{ NULL, 0 },
};

START_TEST(test_retain_file_corrupt)
{
	char path[PATH_MAX], err[2048] = "", line[32], text[4096];
	int st;

	snprintf(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	if (corrupt[_i].text) {
		jt_write_file(file, corrupt[_i].text);
	} else {
		ck_assert_int_eq(mkdir(file, 0700), 0);
	}
	st = jt_run_jbusd(JT_ARGV("-s", path, "--retain-file", file), err, sizeof(err), 10000);
	ck_assert_msg(st == 1, "exit %d, stderr: %s", st, err);
	ck_assert_msg(strstr(err, "jbusd: cannot start: ") && strstr(err, file),
		      "stderr does not name the file: %s", err);
	if (corrupt[_i].line) {
		snprintf(line, sizeof(line), "line %d", corrupt[_i].line);
		ck_assert_msg(strstr(err, line), "stderr does not say %s: %s", line, err);
		/* never rewritten by a broker that refused it */
		ck_assert(read_file(file, text, sizeof(text)));
		ck_assert_str_eq(text, corrupt[_i].text);
	}
	ck_assert_msg(access(path, F_OK) != 0, "a socket was created");
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("retain");
	const struct jt_case cases[] = {
		{ "replay_after_ok", test_retain_replay_after_ok },
		{ "byte_order", test_retain_byte_order },
		{ "replace_and_clear", test_retain_replace_and_clear },
		{ "flag_not_boolean", test_retain_flag_not_boolean, ARRAY_SIZE(bad_retain) },
	};
	const struct jt_case own_broker[] = {
		{ "max_count", test_retain_max_count },
		{ "max_bytes", test_retain_max_bytes },
	};
	const struct jt_case with_file[] = {
		{ "file_within_a_second", test_retain_file_within_a_second },
		{ "file_at_shutdown", test_retain_file_at_shutdown },
		{ "file_stale_tmp", test_retain_file_stale_tmp },
		{ "file_corrupt", test_retain_file_corrupt, ARRAY_SIZE(corrupt) },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, teardown, 30);
	jt_add_cases(s, own_broker, ARRAY_SIZE(own_broker), NULL, teardown, 30);
	jt_add_cases(s, with_file, ARRAY_SIZE(with_file), setup_file, teardown, 30);
	return s;
}
