/*
 * jbus pub --dgram against a real jbusd started with --dgram: one message
 * and -l lines as a subscriber on the stream socket sees them (the sender
 * stamped dgram:<uid>:<pid> with the jbus process's pid), -r, --string,
 * the default path from the environment, usage errors (options that need
 * a connection, a bad topic or JSON: nothing sent), no broker at the path
 * (exit 1 naming it), lines too large for a datagram, and a broker whose
 * queue is full: jbus waits for room, within a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jt.h"

static char dgram[PATH_MAX];	      /* the broker's datagram socket: <jt_b.dir>/jbus.dgram */
static char dgram_opt[PATH_MAX + 16]; /* --dgram=<that> */

/* jt_b on <fresh dir>/jbus.sock with --dgram <dir>/jbus.dgram. */
static void setup(void)
{
	jt_setup_dir();
	jt_fmt(jt_b.path, sizeof(jt_b.path), "%s/jbus.sock", jt_b.dir);
	jt_fmt(dgram, sizeof(dgram), "%s/jbus.dgram", jt_b.dir);
	jt_fmt(dgram_opt, sizeof(dgram_opt), "--dgram=%s", dgram);
	jt_broker_start_at(&jt_b, jt_b.path, JT_ARGV("--dgram", dgram));
}

/* Run jbus with args, env and input to completion; *pid (may be NULL) receives its pid. */
static struct jt_proc *run(const char *const *args, const char *const *env, const char *input,
			   pid_t *pid)
{
	struct jt_proc *p = jt_jbus_start(args, env, input, input ? strlen(input) : 0);

	if (pid)
		*pid = p->pid;
	jt_proc_wait(p);
	return p;
}

/* The from of a datagram sent by pid. */
static const char *from_pid(pid_t pid)
{
	static char from[64];

	jt_fmt(from, sizeof(from), "dgram:%u:%d", (unsigned)getuid(), (int)pid);
	return from;
}

/* A usage error: status 2, no output, msg and the pointer to --help on stderr. */
static void expect_usage(struct jt_proc *p, const char *msg)
{
	char err[512];

	jt_fmt(err, sizeof(err), "jbus pub: %s\nTry 'jbus pub --help' for more information.\n",
	       msg);
	jt_proc_expect(p, 2, "", err);
}

/* section: publishing */

START_TEST(test_cli_dgram_pub)
{
	struct jt_conn *sub = jt_sub(jt_client("sub"), "t/#"), *late;
	struct jt_proc *p;
	char want[256];
	pid_t pid;

	p = run(JT_ARGV("pub", dgram_opt, "t/x", "{\"a\": [1, 2.50]}"), NULL, NULL, &pid);
	jt_proc_expect(p, 0, "", "");
	jt_expect_msg(sub, "t/x", from_pid(pid), "{\"a\": [1, 2.50]}");
	/* no JSON: null; options after the arguments */
	p = run(JT_ARGV("pub", "t/y", dgram_opt), NULL, NULL, &pid);
	jt_proc_expect(p, 0, "", "");
	jt_expect_msg(sub, "t/y", from_pid(pid), "null");
	/* -r and --string: a retained string, which a later subscriber gets first */
	p = run(JT_ARGV("pub", "-r", "--string", dgram_opt, "t/mode", "he said \"hi\""), NULL,
		NULL, &pid);
	jt_proc_expect(p, 0, "", "");
	jt_expect_msg(sub, "t/mode", from_pid(pid), "\"he said \\\"hi\\\"\"");
	late = jt_sub(jt_client("late"), "t/mode");
	jt_fmt(want, sizeof(want),
	       "{\"op\":\"msg\",\"topic\":\"t/mode\",\"from\":\"%s\",\"data\":"
	       "\"he said \\\"hi\\\"\",\"retained\":true}",
	       from_pid(pid));
	jt_expect_line(late, want);
}
END_TEST

/* --dgram without PATH: $JBUS_DGRAM_SOCKET, else $XDG_RUNTIME_DIR/jbus.dgram. */
START_TEST(test_cli_dgram_default_path)
{
	struct jt_conn *sub = jt_sub(jt_client("sub"), "t/#");
	char env1[PATH_MAX + 32], env2[PATH_MAX + 32];
	struct jt_proc *p;
	pid_t pid;

	jt_fmt(env1, sizeof(env1), "JBUS_DGRAM_SOCKET=%s", dgram);
	p = run(JT_ARGV("pub", "--dgram", "t/env", "1"),
		JT_ARGV(env1, "XDG_RUNTIME_DIR=/nonexistent"), NULL, &pid);
	jt_proc_expect(p, 0, "", "");
	jt_expect_msg(sub, "t/env", from_pid(pid), "1");
	jt_fmt(env2, sizeof(env2), "XDG_RUNTIME_DIR=%s", jt_b.dir);
	p = run(JT_ARGV("pub", "--dgram", "t/xdg", "2"), JT_ARGV("JBUS_DGRAM_SOCKET", env2), NULL,
		&pid);
	jt_proc_expect(p, 0, "", "");
	jt_expect_msg(sub, "t/xdg", from_pid(pid), "2");
	/* $JBUS_SOCKET names the stream socket only */
	p = run(JT_ARGV("pub", "--dgram", "t/x", "3"),
		JT_ARGV("JBUS_DGRAM_SOCKET", "XDG_RUNTIME_DIR=/nonexistent", "JBUS_SOCKET=/x.sock"),
		NULL, NULL);
	jt_proc_expect(p, 1, "",
		       "jbus pub: cannot send to /nonexistent/jbus.dgram: no broker socket at "
		       "that path\n");
}
END_TEST

/* -l: one datagram a line, in order, through a queue of a few datagrams. */
START_TEST(test_cli_dgram_lines)
{
	enum { LINES = 2000 };
	struct jt_conn *sub = jt_sub(jt_client("sub"), "l");
	char *input = malloc(LINES * 16 + 64), data[32];
	struct jt_proc *p;
	size_t len = 0;
	pid_t pid;

	ck_assert_ptr_nonnull(input);
	for (int i = 0; i < LINES; i++) {
		len += (size_t)sprintf(input + len, "{\"n\":%d}\n", i);
		if (i == 2)
			len += (size_t)sprintf(input + len, "{bad\n\n");
	}
	sprintf(input + len, "\"last\""); /* without '\n' */
	p = run(JT_ARGV("pub", "-l", dgram_opt, "l"), NULL, input, &pid);
	jt_proc_expect(p, 1, "",
		       "jbus pub: line 4: invalid JSON at byte 1: expected a member name\n");
	for (int i = 0; i < LINES; i++) {
		jt_fmt(data, sizeof(data), "{\"n\":%d}", i);
		jt_expect_msg(sub, "l", from_pid(pid), data);
	}
	jt_expect_msg(sub, "l", from_pid(pid), "\"last\"");
	free(input);
}
END_TEST

/* section: errors */

START_TEST(test_cli_dgram_usage)
{
	struct jt_conn *c = jt_client("watch");
	struct jt_proc *p;

	expect_usage(run(JT_ARGV("pub", "--dgram", "--wait", "t", "1"), NULL, NULL, NULL),
		     "--wait cannot be used with --dgram: nobody answers a datagram");
	expect_usage(run(JT_ARGV("-s", jt_b.path, "pub", dgram_opt, "t", "1"), NULL, NULL, NULL),
		     "-s names the stream socket; give the datagram socket as --dgram=PATH");
	expect_usage(run(JT_ARGV("pub", dgram_opt, "-n", "me", "t", "1"), NULL, NULL, NULL),
		     "-n cannot be used with --dgram: the broker names the sender "
		     "dgram:<uid>:<pid>");
	expect_usage(run(JT_ARGV("pub", "--dgram=", "t", "1"), NULL, NULL, NULL),
		     "the datagram socket path is empty");
	/* "--dgram PATH" is not the option's value: PATH is the topic */
	expect_usage(run(JT_ARGV("pub", "--dgram", dgram, "t", "1"), NULL, NULL, NULL),
		     "unexpected argument '1'");
	expect_usage(run(JT_ARGV("pub", dgram_opt, "t/+", "1"), NULL, NULL, NULL),
		     "invalid topic 't/+' (1 to 1024 bytes, no '+' or '#', not starting with '$')");
	expect_usage(run(JT_ARGV("pub", dgram_opt, "t", "{bad"), NULL, NULL, NULL),
		     "invalid JSON argument at byte 1: expected a member name");
	/* a bad topic with -l: reported once, whatever follows */
	expect_usage(run(JT_ARGV("pub", "-l", dgram_opt, "$t"), NULL, "1\n2\n", NULL),
		     "invalid topic '$t' (1 to 1024 bytes, no '+' or '#', not starting with '$')");
	/* none of them sent anything, so nothing can still be on its way */
	ck_assert_int_eq(jt_stat(c, "dgram_in"), 0);
	p = run(JT_ARGV("pub", "--help"), NULL, NULL, NULL);
	ck_assert_int_eq(p->status, 0);
	ck_assert_ptr_nonnull(strstr(p->out.p, "\n      --dgram[=PATH]\n"));
}
END_TEST

START_TEST(test_cli_dgram_no_broker)
{
	char opt[PATH_MAX + 16], err[2 * PATH_MAX];
	struct jt_proc *p;

	jt_fmt(opt, sizeof(opt), "--dgram=%s/none.dgram", jt_b.dir);
	p = run(JT_ARGV("pub", opt, "t", "1"), NULL, NULL, NULL);
	jt_fmt(err, sizeof(err),
	       "jbus pub: cannot send to %s/none.dgram: no broker socket at that path\n",
	       jt_b.dir);
	jt_proc_expect(p, 1, "", err);
	/* with -l the first line ends it: the next would fail the same way */
	p = run(JT_ARGV("pub", opt, "-l", "t"), NULL, "1\n2\n3\n", NULL);
	jt_fmt(err, sizeof(err),
	       "jbus pub: line 1: cannot send to %s/none.dgram: no broker socket at that path\n",
	       jt_b.dir);
	jt_proc_expect(p, 1, "", err);
	/* the stream socket is not the datagram socket */
	jt_fmt(opt, sizeof(opt), "--dgram=%s", jt_b.path);
	p = run(JT_ARGV("pub", opt, "t", "1"), NULL, NULL, NULL);
	jt_fmt(err, sizeof(err),
	       "jbus pub: cannot send to %s: not a datagram socket (the broker's stream "
	       "socket?)\n",
	       jt_b.path);
	jt_proc_expect(p, 1, "", err);
}
END_TEST

/*
 * A line too large for one datagram is reported and skipped; the next one
 * goes. (16 MiB and one byte: past jbus's own bound on a line, whatever
 * the kernel's limit on a datagram is; the library's -EMSGSIZE below that
 * bound gives the same message, see check_lib_dgram's sizes.)
 */
START_TEST(test_cli_dgram_too_large)
{
	struct jt_conn *sub = jt_sub(jt_client("sub"), "big");
	size_t n = 16 * 1024 * 1024 + 1;
	char *input = malloc(n + 8);
	struct jt_proc *p;
	pid_t pid;

	ck_assert_ptr_nonnull(input);
	memset(input, 'x', n);
	input[0] = input[n - 1] = '"';
	memcpy(input + n, "\n2\n", 4);
	p = run(JT_ARGV("pub", "-l", dgram_opt, "big"), NULL, input, &pid);
	free(input);
	jt_proc_expect(p, 1, "", "jbus pub: line 1: message too large for one datagram\n");
	jt_expect_msg(sub, "big", from_pid(pid), "2");
}
END_TEST

/*
 * Is the process sleeping in a system call (jbus pausing for room in the
 * queue), as /proc/PID/syscall tells? True when that cannot be read:
 * the test then only loses the certainty that jbus met a full queue.
 */
static bool sleeping(pid_t pid)
{
	char path[64], buf[64] = "";
	ssize_t n;
	long nr;
	int fd;

	jt_fmt(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return true;
	nr = buf[0] >= '0' && buf[0] <= '9' ? strtol(buf, NULL, 10) : -1;
	return nr == SYS_clock_nanosleep || nr == SYS_nanosleep;
}

/* One pub datagram from the test itself, not waiting: 0 or the errno. */
static int send_dgram(const char *frame)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	ck_assert_int_ge(fd, 0);
	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", dgram);
	if (sendto(fd, frame, strlen(frame), MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = errno;
	close(fd);
	return r;
}

/*
 * A broker that does not read: once its queue is full jbus waits for
 * room, gives up after 5 s, and sends as soon as the broker reads again.
 */
START_TEST(test_cli_dgram_queue_full)
{
	struct jt_conn *sub = jt_sub(jt_client("sub"), "q");
	char frame[64], data[32], err[PATH_MAX + 128];
	int64_t start, deadline;
	struct jt_proc *p;
	int n = 0, r;
	pid_t pid;

	jt_broker_freeze(&jt_b);
	for (;;) {
		jt_fmt(frame, sizeof(frame), "{\"op\":\"pub\",\"topic\":\"q\",\"data\":%d}", n);
		if ((r = send_dgram(frame)) != 0)
			break;
		ck_assert_int_lt(++n, 100000);
	}
	ck_assert_msg(r == EAGAIN, "after %d datagrams: %s", n, strerror(r));
	start = jt_now_ms();
	p = run(JT_ARGV("pub", dgram_opt, "q", "\"late\""), NULL, NULL, NULL);
	jt_fmt(err, sizeof(err), "jbus pub: cannot send to %s: the broker's queue stayed full\n",
	       dgram);
	jt_proc_expect(p, 1, "", err);
	ck_assert_int_ge(jt_now_ms() - start, 4000); /* it waited, 5 s */
	/* the broker reads again while the next one waits */
	p = jt_jbus_start(JT_ARGV("pub", dgram_opt, "q", "\"after\""), NULL, NULL, 0);
	pid = p->pid;
	deadline = jt_now_ms() + JT_TIMEOUT_MS;
	while (!sleeping(pid)) {
		struct timespec ts = { 0, 1000000 };

		ck_assert_msg(jt_now_ms() < deadline, "jbus pub never paused");
		nanosleep(&ts, NULL); /* polling a condition in short steps */
	}
	jt_broker_thaw(&jt_b);
	jt_proc_wait(p);
	jt_proc_expect(p, 0, "", "");
	for (int i = 0; i < n; i++) {
		jt_fmt(data, sizeof(data), "%d", i);
		jt_expect_msg(sub, "q", from_pid(getpid()), data);
	}
	jt_expect_msg(sub, "q", from_pid(pid), "\"after\"");
	ck_assert_int_eq(jt_stat(sub, "dgram_in"), n + 1); /* "late" was never sent */
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "dgram_pub", test_cli_dgram_pub },
		{ "dgram_default_path", test_cli_dgram_default_path },
		{ "dgram_lines", test_cli_dgram_lines },
		{ "dgram_usage", test_cli_dgram_usage },
		{ "dgram_no_broker", test_cli_dgram_no_broker },
		{ "dgram_too_large", test_cli_dgram_too_large },
		{ "dgram_queue_full", test_cli_dgram_queue_full },
	};
	Suite *s = suite_create("cli_dgram");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), setup, jt_teardown, 60);
	return s;
}
