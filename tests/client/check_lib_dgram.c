/*
 * libjbus datagram publishing against the real jbusd started with
 * --dgram: jbus_dgram_publish() as a subscriber on the stream socket sees
 * it (data byte for byte, the sender stamped dgram:<uid>:<pid>, retained
 * values), the default path (jbus_default_dgram_path), every argument
 * refused before anything is sent, the errors of a missing broker, a full
 * receive queue (-EAGAIN, never blocking) and datagram sizes.
 *
 * What changes the environment or needs another pid runs in a forked
 * child that reports through its exit status, so the test's own
 * environment never changes and nothing is left to restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt.h"

static char dgram[PATH_MAX]; /* the broker's datagram socket: <jt_b.dir>/jbus.dgram */

/* jt_b on <fresh dir>/jbus.sock with --dgram <dir>/jbus.dgram. */
static void setup(void)
{
	jt_setup_dir();
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(dgram, sizeof(dgram), "%s/jbus.dgram", jt_b.dir);
	jt_broker_start_at(&jt_b, jt_b.path, JT_ARGV("--dgram", dgram));
}

/* The from of a datagram sent by pid. */
static const char *from_pid(pid_t pid)
{
	static char from[64];

	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)getuid(), (int)pid);
	return from;
}

static const char *from_me(void)
{
	return from_pid(getpid());
}

struct child {
	int (*fn)(void);
};

static void child_main(void *arg)
{
	const struct child *ch = arg;

	_exit(ch->fn());
}

/* A raw client subscribed to pattern on the stream socket. */
static struct jt_conn *subscriber(const char *name, const char *pattern)
{
	return jt_sub(jt_client(name), pattern);
}

/*
 * Run fn in a forked child (the test's environment and pid stay its own)
 * and return the status it exits with: 0 when all went well, else the
 * number of the step that failed.
 */
static int in_child(int (*fn)(void), pid_t *pidp)
{
	struct child ch = { fn };
	pid_t pid = lt_fork(child_main, &ch);
	int st = lt_reap(pid);

	ck_assert_msg(WIFEXITED(st), "child %d did not exit", (int)pid);
	if (pidp)
		*pidp = pid;
	return WEXITSTATUS(st);
}

/* section: publishing */

START_TEST(test_lib_dgram_publish)
{
	struct jt_conn *sub = subscriber("sub", "d/#");

	ck_assert_int_eq(jbus_dgram_publish(dgram, "d/x", "{\"a\": [1, 2.50]}", -1, 0), 0);
	jt_expect_msg(sub, "d/x", from_me(), "{\"a\": [1, 2.50]}");
	/* len bounds the text; no data is null */
	ck_assert_int_eq(jbus_dgram_publish(dgram, "d/y", "[1,2]tail", 5, 0), 0);
	jt_expect_msg(sub, "d/y", from_me(), "[1,2]");
	ck_assert_int_eq(jbus_dgram_publish(dgram, "d/z", NULL, -1, 0), 0);
	jt_expect_msg(sub, "d/z", from_me(), "null");
	/* line breaks between tokens become spaces, as on the stream socket */
	ck_assert_int_eq(jbus_dgram_publish(dgram, "d/nl", "[1,\r\n2]", -1, 0), 0);
	jt_expect_msg(sub, "d/nl", from_me(), "[1,  2]");
	/* a topic that needs escaping in the frame */
	ck_assert_int_eq(jbus_dgram_publish(dgram, "d/\"q\"/\xc3\xa9", "1", -1, 0), 0);
	jt_expect_msg(sub, "d/\\\"q\\\"/\xc3\xa9", from_me(), "1");
	/* every datagram was one pub frame the broker took */
	ck_assert_int_eq(jt_stat(sub, "dgram_in"), 5);
	ck_assert_int_eq(jt_stat(sub, "dgram_dropped"), 0);
}
END_TEST

static int publish_child(void)
{
	return jbus_dgram_publish(dgram, "d/child", "\"hi\"", -1, 0) == 0 ? 0 : 1;
}

/* The sender is whoever sent the datagram: a child's pid, not its parent's. */
START_TEST(test_lib_dgram_sender_pid)
{
	struct jt_conn *sub = subscriber("sub", "d/#");
	pid_t pid;

	ck_assert_int_eq(in_child(publish_child, &pid), 0);
	jt_expect_msg(sub, "d/child", from_pid(pid), "\"hi\"");
}
END_TEST

START_TEST(test_lib_dgram_retain)
{
	struct jt_conn *sub = subscriber("sub", "heat/#"), *late;
	char want[256];

	ck_assert_int_eq(jbus_dgram_publish(dgram, "heat/mode", "\"eco\"", -1, JBUS_PUB_RETAIN),
			 0);
	jt_expect_msg(sub, "heat/mode", from_me(), "\"eco\"");
	/* stored by then: a later subscriber gets it first */
	late = subscriber("late", "heat/#");
	jt_fmt(want, sizeof(want),
	       "{\"op\":\"msg\",\"topic\":\"heat/mode\",\"from\":\"%s\",\"data\":\"eco\","
	       "\"retained\":true}",
	       from_me());
	jt_expect_line(late, want);
	/* retain without data clears it */
	ck_assert_int_eq(jbus_dgram_publish(dgram, "heat/mode", NULL, -1, JBUS_PUB_RETAIN), 0);
	jt_expect_msg(sub, "heat/mode", from_me(), "null");
	jt_expect_msg(late, "heat/mode", from_me(), "null");
	jt_close(late);
	late = subscriber("later", "heat/#");
	jt_sync(late);
}
END_TEST

/* section: the default path */

static int default_path_child(void)
{
	char buf[300], tmp[64];

	if (setenv("JBUS_DGRAM_SOCKET", "/a/b.dgram", 1) || setenv("XDG_RUNTIME_DIR", "/run/x", 1))
		return 1;
	if (jbus_default_dgram_path(buf, sizeof(buf)) || strcmp(buf, "/a/b.dgram"))
		return 2;
	/* size counts the NUL */
	if (jbus_default_dgram_path(buf, 11) || jbus_default_dgram_path(buf, 10) != -ENAMETOOLONG)
		return 3;
	if (jbus_default_dgram_path(NULL, 10) != -EINVAL)
		return 4;
	setenv("JBUS_DGRAM_SOCKET", "", 1); /* empty counts as unset */
	if (jbus_default_dgram_path(buf, sizeof(buf)) || strcmp(buf, "/run/x/jbus.dgram"))
		return 5;
	unsetenv("JBUS_DGRAM_SOCKET");
	setenv("XDG_RUNTIME_DIR", "", 1);
	snprintf(tmp, sizeof(tmp), "/tmp/jbus-%u.dgram", (unsigned)getuid());
	if (jbus_default_dgram_path(buf, sizeof(buf)) || strcmp(buf, tmp))
		return 6;
	/* the stream socket's variable is not the datagram socket's */
	setenv("JBUS_SOCKET", "/a/b.sock", 1);
	if (jbus_default_dgram_path(buf, sizeof(buf)) || strcmp(buf, tmp))
		return 7;
	return 0;
}

START_TEST(test_lib_dgram_default_path)
{
	ck_assert_int_eq(in_child(default_path_child, NULL), 0);
}
END_TEST

static int publish_default_child(void)
{
	/* $JBUS_DGRAM_SOCKET first */
	setenv("JBUS_DGRAM_SOCKET", dgram, 1);
	setenv("XDG_RUNTIME_DIR", "/nonexistent", 1);
	if (jbus_dgram_publish(NULL, "d/env", "1", -1, 0))
		return 1;
	/* then $XDG_RUNTIME_DIR/jbus.dgram, which is where the test's broker listens */
	unsetenv("JBUS_DGRAM_SOCKET");
	setenv("XDG_RUNTIME_DIR", jt_b.dir, 1);
	if (jbus_dgram_publish(NULL, "d/xdg", "2", -1, 0))
		return 2;
	/* and a default path where nobody listens */
	setenv("XDG_RUNTIME_DIR", "/nonexistent", 1);
	return jbus_dgram_publish(NULL, "d/none", "3", -1, 0) == -ENOENT ? 0 : 3;
}

START_TEST(test_lib_dgram_default_publish)
{
	struct jt_conn *sub = subscriber("sub", "d/#");
	pid_t pid;

	ck_assert_int_eq(in_child(publish_default_child, &pid), 0);
	jt_expect_msg(sub, "d/env", from_pid(pid), "1");
	jt_expect_msg(sub, "d/xdg", from_pid(pid), "2");
}
END_TEST

/* section: errors */

/* What the broker would refuse is refused here, before anything is sent. */
START_TEST(test_lib_dgram_bad_args)
{
	/* not UTF-8: an invalid byte, a surrogate, an overlong '/' */
	static const char *const topics[] = { "", "a/+", "a/#", "+", "$SYS/x",
					      "a/\xff", "\xed\xa0\x80", "\xc0\xaf" };
	static const char *const texts[] = { "{bad", "1 2", "", " ", "[1,]", "\"\xff\"" };
	struct jt_conn *c = jt_client("watch");
	char long_path[200], *topic = malloc(1026);

	ck_assert_ptr_nonnull(topic);
	memset(topic, 't', 1025);
	topic[1025] = '\0';
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		ck_assert_int_eq(jbus_dgram_publish(dgram, topics[i], "1", -1, 0),
				 JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_dgram_publish(dgram, topic, "1", -1, 0), JBUS_E_BAD_TOPIC);
	topic[1024] = '\0'; /* 1024 bytes is still a topic */
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		ck_assert_int_eq(jbus_dgram_publish(dgram, "t", texts[i], -1, 0),
				 JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_dgram_publish(dgram, "t", "[1,2]", 3, 0), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_dgram_publish(dgram, NULL, "1", -1, 0), -EINVAL);
	ck_assert_int_eq(jbus_dgram_publish(dgram, "t", "1", -1, 0x2), -EINVAL);
	ck_assert_int_eq(jbus_dgram_publish("", "t", "1", -1, 0), -EINVAL);
	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[108] = '\0'; /* 108 bytes: no room for sun_path's NUL */
	ck_assert_int_eq(jbus_dgram_publish(long_path, "t", "1", -1, 0), -ENAMETOOLONG);
	/* argument errors come first even where no broker listens */
	ck_assert_int_eq(jbus_dgram_publish("/nonexistent/x", "a/+", "1", -1, 0),
			 JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_dgram_publish("/nonexistent/x", "t", "{", -1, 0), JBUS_E_BAD_JSON);
	/* nothing reached the broker: nothing was sent, so nothing can be on its way */
	ck_assert_int_eq(jt_stat(c, "dgram_in"), 0);
	ck_assert_int_eq(jbus_dgram_publish(dgram, topic, "1", -1, 0), 0);
	free(topic);
}
END_TEST

START_TEST(test_lib_dgram_no_broker)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];
	int fd;

	jt_fmt(path, sizeof(path), "%s/none.dgram", jt_b.dir);
	ck_assert_int_eq(jbus_dgram_publish(path, "t", "1", -1, 0), -ENOENT);
	/* a stale socket file: bound once, nobody reading it now */
	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s/stale.dgram", jt_b.dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(jbus_dgram_publish(sa.sun_path, "t", "1", -1, 0), -ECONNREFUSED);
	/* a file that is not a socket */
	jt_fmt(path, sizeof(path), "%s/plain", jt_b.dir);
	jt_write_file(path, "x");
	ck_assert_int_eq(jbus_dgram_publish(path, "t", "1", -1, 0), -ECONNREFUSED);
	/* the broker's stream socket is the wrong door */
	ck_assert_int_eq(jbus_dgram_publish(jt_b.path, "t", "1", -1, 0), -EPROTOTYPE);
	ck_assert_str_eq(jbus_error_name(-EPROTOTYPE), "EPROTOTYPE");
}
END_TEST

/*
 * A broker that does not read: the kernel queues a few datagrams, then
 * every call returns -EAGAIN at once instead of waiting. Those queued are
 * delivered, in order, once the broker runs again.
 */
START_TEST(test_lib_dgram_queue_full)
{
	struct jt_conn *sub = subscriber("sub", "q");
	int64_t start;
	char data[32];
	int n = 0, r = 0;

	jt_broker_freeze(&jt_b);
	start = jt_now_ms();
	while (n < 100000) {
		jt_fmt(data, sizeof(data), "%d", n);
		r = jbus_dgram_publish(dgram, "q", data, -1, 0);
		if (r != 0)
			break;
		n++;
	}
	ck_assert_msg(r == -EAGAIN, "after %d datagrams: %s", n, jbus_error_name(r));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(jbus_dgram_publish(dgram, "q", "0", -1, 0), -EAGAIN);
	ck_assert_int_lt(jt_now_ms() - start, 2000);
	jt_broker_thaw(&jt_b);
	for (int i = 0; i < n; i++) {
		jt_fmt(data, sizeof(data), "%d", i);
		jt_expect_msg(sub, "q", from_me(), data);
	}
	/* room again */
	ck_assert_int_eq(jbus_dgram_publish(dgram, "q", "\"more\"", -1, 0), 0);
	jt_expect_msg(sub, "q", from_me(), "\"more\"");
}
END_TEST

/* net.core.wmem_max: a socket's send buffer can be raised to twice that at most. */
static long wmem_max(void)
{
	char buf[32] = "";
	int fd = open("/proc/sys/net/core/wmem_max", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* "xxx...x" as JSON text of n bytes in all (malloc'd). */
static char *json_string_of(size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', n);
	s[0] = s[n - 1] = '"';
	s[n] = '\0';
	return s;
}

/*
 * Beyond the default send buffer (wmem_default, often 208 KiB) a datagram
 * still goes; beyond what the kernel allows at all it is -EMSGSIZE.
 */
START_TEST(test_lib_dgram_sizes)
{
	enum { BIG = 300 * 1000 };
	struct jt_conn *sub = subscriber("sub", "big");
	char *data = json_string_of(BIG), *line, *want;
	long max = wmem_max();
	size_t wn = (size_t)BIG + 100;

	ck_assert_int_eq(jbus_dgram_publish(dgram, "big", data, -1, 0), 0);
	want = malloc(wn);
	ck_assert_ptr_nonnull(want);
	jt_fmt(want, wn, "{\"op\":\"msg\",\"topic\":\"big\",\"from\":\"%s\",\"data\":%s}",
	       from_me(), data);
	line = jt_next_line(sub);
	ck_assert_msg(!strcmp(line, want), "got %zu bytes: %s", strlen(line), jt_show(line, 80));
	free(line);
	free(want);
	free(data);
	/* too large for any datagram (only checked where that takes at most 16 MiB) */
	ck_assert_int_gt(max, 0);
	if (max <= 8 * 1024 * 1024) {
		data = json_string_of((size_t)max * 2);
		ck_assert_int_eq(jbus_dgram_publish(dgram, "big", data, -1, 0), -EMSGSIZE);
		free(data);
	}
	ck_assert_int_eq(jt_stat(sub, "dgram_in"), 1);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "dgram_publish", test_lib_dgram_publish },
		{ "dgram_sender_pid", test_lib_dgram_sender_pid },
		{ "dgram_retain", test_lib_dgram_retain },
		{ "dgram_default_path", test_lib_dgram_default_path },
		{ "dgram_default_publish", test_lib_dgram_default_publish },
		{ "dgram_bad_args", test_lib_dgram_bad_args },
		{ "dgram_no_broker", test_lib_dgram_no_broker },
		{ "dgram_queue_full", test_lib_dgram_queue_full },
		{ "dgram_sizes", test_lib_dgram_sizes },
	};
	Suite *s = suite_create("lib_dgram");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), setup, lt_teardown, 60);
	return s;
}
