/*
 * Test helpers (jt_*) shared by every Check suite.
 *
 * Each test file defines jt_suite(); tests/lib/runner.c supplies main().
 *
 * jt_setup() (jt_broker_start_args on jt_b) is meant for a checked
 * fixture: it makes a fresh mkdtemp directory, starts the real jbusd
 * ($JBUSD, else build/jbusd) on a socket inside it with --ready-fd, and
 * waits for "ready" with a deadline.
 * jt_broker_stop() sends SIGTERM, waits with a deadline, asserts exit 0 and
 * that the socket file is gone, and removes the directory.
 *
 * jt_conn is a raw-socket client with its own line buffer; every receive
 * has a deadline, so no test ever sleeps to wait for the broker. Every
 * connection stays on a list from jt_connect() to jt_close(), and
 * jt_teardown() closes what is left: with CK_FORK=no a failed assertion
 * longjmps past the test's own jt_close calls, and the next test must not
 * inherit its sockets. Child processes (jt_proc_*) are kept the same way.
 *
 * Slow runs (make check-valgrind): every deadline of the library and of the
 * tests is scaled by $JT_TIME_SCALE (jt_ms; default 1), Check's TCase
 * timeouts too; and $JT_WRAP, a command prefix such as "valgrind
 * --error-exitcode=99 ...", is put in front of every jbusd, jbus and example
 * the tests start. A wrapped process that exits JT_WRAP_ERROR fails the test.
 */
#pragma once

#include <check.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The usual deadline for something the broker or a child process owes the test. */
#define JT_TIMEOUT_MS jt_ms(5000)

Suite *jt_suite(void);

/* section: slow runs */

/*
 * ms times $JT_TIME_SCALE (a whole number, default 1): for deadlines, the
 * bound within which something must happen. Not for how long a test waits
 * to see that nothing happens (jt_expect_silence), which only gets longer.
 */
int jt_ms(int ms);

/* The exit status $JT_WRAP's tool gives a process it found errors in (--error-exitcode). */
#define JT_WRAP_ERROR 99

/*
 * argv copied into out (cap entries, NULL-terminated), after the words of $JT_WRAP when it is
 * set. Returns out; the words are static, so out is valid as long as argv is.
 */
const char *const *jt_wrap_argv(const char **out, size_t cap, const char *const *argv);
/* Is $JT_WRAP set (jbusd is always started under it then)? */
bool jt_wrap_on(void);
/* How many words of $JT_WRAP argv (as jt_wrap_argv returned it) starts with: 0 if none. */
size_t jt_wrapped(const char *const *argv);
/*
 * In a child about to exec a wrapped command: sets $JT_WRAP_ID to a value no other start
 * shares (wall clock in ns), so the wrapper can name its log after it and the pid (pids are
 * reused within a run: valgrind --log-file=DIR/%q{JT_WRAP_ID}.%p.log).
 */
void jt_wrap_child_env(void);

/* section: suites */

/* One row of a suite's table of TCases (see jt_add_cases). */
struct jt_case {
	const char *name; /* the TCase name, as CK_RUN_CASE selects it */
	const TTest *test;
	int loops; /* 0: a plain test; n: a loop test over _i = 0..n-1 */
};

/* A TCase added to s, with a checked fixture (either may be NULL) and timeout (s; 0: default). */
TCase *jt_tcase(Suite *s, const char *name, SFun setup, SFun teardown, int timeout_s);
/* One jt_tcase per row of cases[0..n), all with the same fixture and timeout. */
void jt_add_cases(Suite *s, const struct jt_case *cases, size_t n, SFun setup, SFun teardown,
		  int timeout_s);

/*
 * ck_assert_msg(expr, fmt, ...) without its cost when expr holds: Check records the place of
 * every assertion that passes (a message through a file, read back after the test), which
 * adds up to seconds (minutes under ASan) in loops over 100,000s of frames. For hot loops.
 */
#define jt_require(expr, ...)                                                                      \
	do {                                                                                       \
		if (!(expr))                                                                       \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

/* Bytes made printable (\xNN escapes) for failure messages; 4 rotating buffers. */
const char *jt_show(const void *p, size_t n);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
int64_t jt_now_ms(void);
/* CLOCK_REALTIME in milliseconds, to compare with the broker's wall-clock fields. */
int64_t jt_wall_ms(void);
/* snprintf that fails the test instead of truncating (a path, a command); returns the length. */
int jt_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Create path, which must not exist yet, holding text. */
void jt_write_file(const char *path, const char *text);

/* section: broker */

struct jt_broker {
	pid_t pid;     /* 0 when not running */
	bool frozen;   /* stopped by jt_broker_freeze and not thawed yet */
	char dir[256]; /* the test's directory: the log file, usually the socket too */
	char path[PATH_MAX];
};

/* The broker of the current test (fixture-owned, so teardown finds it). */
extern struct jt_broker jt_b;

/* Path of the jbusd binary under test. */
const char *jt_jbusd(void);

/*
 * Reset b and start jbusd on <fresh dir>/jbus.sock with extra args (NULL-terminated
 * array, may be NULL). Fails the test if it is not ready within 20 s (scaled: jt_ms).
 */
void jt_broker_start_args(struct jt_broker *b, const char *const *args);
/* Start jbusd on exactly path, keeping b->dir (made if empty) for its log; b: jt_b or zeroed. */
void jt_broker_start_at(struct jt_broker *b, const char *path, const char *const *args);
/* Checked-fixture setups on jt_b: a broker with default arguments / only a fresh jt_b.dir. */
void jt_setup(void);
void jt_setup_dir(void);
/*
 * Checked-fixture teardown: kills every jt_proc, closes every jt_conn, stops jt_b if running,
 * removes jt_b.dir.
 */
void jt_teardown(void);
/* SIGTERM, wait, assert exit 0 and the socket gone, remove the directory. */
void jt_broker_stop(struct jt_broker *b);
/* Wait for the broker to exit (deadline ms); returns the waitpid status or -1. */
int jt_broker_wait(struct jt_broker *b, int timeout_ms);
/* After the test signalled the broker itself: it exits 0 within 10 s, socket file removed. */
void jt_broker_expect_exit(struct jt_broker *b);
/* SIGSTOP b and wait until it really is stopped (it is our child); jt_broker_stop thaws it. */
void jt_broker_freeze(struct jt_broker *b);
/* SIGCONT b after jt_broker_freeze. */
void jt_broker_thaw(struct jt_broker *b);
/*
 * Whether a line of jt_b's log (<jt_b.dir>/jbusd.log) contains every string of parts
 * (NULL-terminated, e.g. JT_ARGV("slow_consumer", "client=x ")). Always true with
 * JT_VERBOSE, where the log goes to the terminal instead.
 */
bool jt_log_has(const char *const *parts);
typedef void (*jt_line_fn)(const char *line, void *userdata);
/*
 * The lines of jt_b's log that contain every string of parts: fn (may be NULL) gets each,
 * without its newline, in the order logged. Returns how many there were, or -1 with
 * JT_VERBOSE.
 */
int jt_log_lines(const char *const *parts, jt_line_fn fn, void *userdata);
/*
 * The same count, and in *held the sum of the lines' " unlogged=N" (the lines a rate limit
 * held back before each): with a rate limit, lines + *held is every event once the last
 * window has been reported. -1 with JT_VERBOSE.
 */
int jt_log_lines_held(const char *const *parts, unsigned long long *held);
/*
 * Lets a second of the monotonic clock pass, which the broker's log rate limits count in:
 * only time ends their window, so this is the one wait the tests make on time alone.
 */
void jt_wait_rate_window(void);
/* <jt_b.dir>/retained: the --retain-file of jt_setup_retain_file, for restarts with it. */
const char *jt_retain_file(void);
/* Checked-fixture setup: jt_b on <fresh dir>/jbus.sock with --retain-file jt_retain_file(). */
void jt_setup_retain_file(void);

/*
 * Run jbusd with args to completion (for usage and start-up errors), with a
 * deadline. Returns the exit status (or -1); captures stderr into err.
 */
int jt_run_jbusd(const char *const *args, char *err, size_t errlen, int timeout_ms);
/* The same, capturing stdout into out as well. */
int jt_run_jbusd_out(const char *const *args, char *out, size_t outlen, char *err, size_t errlen,
		     int timeout_ms);
/* The same as user and group nobody (root ignores permissions); 126: could not drop them. */
int jt_run_jbusd_nobody(const char *const *args, char *err, size_t errlen, int timeout_ms);

/* section: raw client */

struct jt_conn {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;          /* the peer closed: jt_line returned NULL for EOF, not a timeout */
	json_object *last; /* jt_expect_error_id returned it, borrowed: valid until its next call */
	char sent[80];     /* start of the last chunk sent, to name it in failure messages */
	char name[72];     /* the name its welcome gave it (jt_hello), "" before */
};

/* Connect to path; the connection is closed by jt_close or else by jt_teardown. */
struct jt_conn *jt_connect(const char *path);
void jt_close(struct jt_conn *c);
/* Close every connection still open (jt_teardown does). */
void jt_close_all(void);

/*
 * Connect to path as another user: a child process drops to gid and uid (no supplementary
 * groups), connects, and hands the socket back over SCM_RIGHTS. SO_PEERCRED is taken at
 * connect(), so the broker sees that uid and gid for the whole connection while the test uses
 * it as any jt_conn. Returns 0 with *cp set (closed by jt_close / jt_teardown), or the errno
 * of the child's connect (EACCES: the socket's mode keeps that user out).
 */
int jt_try_connect_as(const char *path, uid_t uid, gid_t gid, struct jt_conn **cp);
/* jt_try_connect_as that must succeed. */
struct jt_conn *jt_connect_as(const char *path, uid_t uid, gid_t gid);

/* Send bytes as they are / a printf-formatted frame plus '\n'. */
void jt_send_raw(struct jt_conn *c, const void *p, size_t n);
void jt_send(struct jt_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send bytes the broker may refuse half-way (oversized frames): EPIPE/ECONNRESET end it. */
void jt_send_until_closed(struct jt_conn *c, const void *p, size_t n);

/* Next line (without '\n', malloc'd) or NULL on EOF (c->eof set) / timeout. */
char *jt_line(struct jt_conn *c, int timeout_ms);
/* Next line, which must arrive within JT_TIMEOUT_MS (caller frees). */
char *jt_next_line(struct jt_conn *c);
/* The next line is exactly want (raw bytes: id spelling, key order, whitespace). */
void jt_expect_line(struct jt_conn *c, const char *want);
/* Next frame parsed with json-c; fails the test on timeout, EOF or bad JSON. */
json_object *jt_frame(struct jt_conn *c);
/* The same, also handing out the raw line in *raw (caller frees). */
json_object *jt_frame_raw(struct jt_conn *c, char **raw);
/* Next frame; asserts its op. Caller puts the result. */
json_object *jt_expect(struct jt_conn *c, const char *op);
/* Next frame must be an error with this code; returns it (caller puts). */
json_object *jt_expect_error(struct jt_conn *c, const char *code);
/* Next frame: error code, id spelled exactly (NULL: none), message naming 'field' (NULL: any). */
json_object *jt_expect_error_id(struct jt_conn *c, const char *code, const char *id,
				const char *field);
/* Frame o parsed from raw has no id (id NULL) or one spelled exactly id in raw (1.50 stays). */
void jt_assert_id(json_object *o, const char *raw, const char *id);
/* Asserts the peer closes (EOF) within the timeout, skipping frames. */
void jt_expect_eof(struct jt_conn *c, int timeout_ms);
/* Asserts the next thing on c is EOF: no frame and no partial frame before it. */
void jt_expect_eof_next(struct jt_conn *c);
/* Asserts nothing arrives within ms (for "no delivery" checks after a sync). */
void jt_expect_silence(struct jt_conn *c, int ms);

/* Connect, hello with name (NULL: none), assert welcome. */
struct jt_conn *jt_hello(const char *path, const char *name);
/* jt_hello over jt_connect_as(path, uid, gid). */
struct jt_conn *jt_hello_as(const char *path, const char *name, uid_t uid, gid_t gid);
/* jt_hello on the fixture's broker jt_b. */
struct jt_conn *jt_client(const char *name);
/* Round trip: ping with an id, wait for its pong (orders everything before it). */
void jt_sync(struct jt_conn *c);
/* The next line is {"op":"ok","id":<id, raw>}, with ,"delivered":<delivered> if it is >= 0. */
void jt_expect_ok(struct jt_conn *c, const char *id, int delivered);
/* Subscribe c to pattern with id "s"; the next line is its ok (replays are the caller's). */
struct jt_conn *jt_sub(struct jt_conn *c, const char *pattern);
/* The next line is the msg of a pub, exactly: data as sent, no "retained". */
void jt_expect_msg(struct jt_conn *c, const char *topic, const char *from, const char *data);
/* The value of one counter of the broker's stats, asked for on c. */
int64_t jt_stat(struct jt_conn *c, const char *key);
/* Largest padding of jt_pub_n. */
#define JT_PAD_MAX 4000
/*
 * Publish message n, {"n":n,"pad":"xx..."} with pad bytes of padding, on topic with id n, and
 * read its ok: returns its "delivered" (for knowing exactly which messages a slow subscriber
 * was sent).
 */
int64_t jt_pub_n(struct jt_conn *c, const char *topic, int n, int pad);

/* Field access: string (NULL if absent or not a string), int64. */
const char *jt_str(json_object *o, const char *key);
int64_t jt_int(json_object *o, const char *key);
bool jt_has(json_object *o, const char *key);
/* text, which must be JSON, parsed (caller puts). */
json_object *jt_parse(const char *text);

/* section: child processes (jt_proc.c) */

/* A NULL-terminated argument or environment list, written inline. */
#define JT_ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* What a process wrote on stdout or stderr (NUL-terminated, grows as needed). */
struct jt_pipe {
	int fd; /* our end, -1 once at EOF (or closed by the test) */
	char *p;
	size_t len, cap;
	size_t pos; /* start of the next line jt_proc_line hands out */
};

struct jt_proc {
	bool used;     /* the slot holds a process, running or finished, until teardown */
	char name[64]; /* its program's base name, for failure messages */
	pid_t pid;     /* 0 once reaped */
	int in;        /* its stdin, -1 once closed */
	const char *input;
	size_t inlen, inoff;
	struct jt_pipe out, err;
	int status; /* exit status once jt_proc_wait returned, else -1 */
	bool wrapped; /* started under $JT_WRAP: exit JT_WRAP_ERROR fails the test */
};

/*
 * Start argv[0] (a path) with argv; env entries (NULL: none) "NAME=value" set and "NAME" unset
 * a variable in the child. With input (borrowed until the process ends), it is written to its
 * stdin as it reads, then stdin is closed; with NULL, stdin stays open for jt_proc_write until
 * jt_proc_wait. At most 16 per test.
 */
struct jt_proc *jt_proc_start(const char *const *argv, const char *const *env, const char *input,
			      size_t inlen);
/* jt_proc_start, then jt_proc_wait: the finished process (status, out.p, err.p). */
struct jt_proc *jt_proc_run(const char *const *argv, const char *const *env, const char *input,
			    size_t inlen);
/*
 * Next line p writes on b (&p->out or &p->err), its '\n' made a NUL in b->p, or NULL at EOF;
 * fails after 5 s.
 */
const char *jt_proc_line(struct jt_proc *p, struct jt_pipe *b);
/* The next line of p's stdout is exactly want. */
void jt_proc_expect_line(struct jt_proc *p, const char *want);
/* Write s to the stdin of p started without input (no more than a pipe holds: 64 KiB). */
void jt_proc_write(struct jt_proc *p, const char *s);
/* What b holds after the lines jt_proc_line handed out ("" if nothing). */
const char *jt_proc_rest(const struct jt_pipe *b);
/* Finish stdin, read both outputs to EOF, reap (10 s in all): the exit status; fails if killed. */
int jt_proc_wait(struct jt_proc *p);
/* Send sig to the running process p. */
void jt_proc_signal(struct jt_proc *p, int sig);
/* p has finished with status and wrote exactly out on stdout and err on stderr. */
void jt_proc_expect(struct jt_proc *p, int status, const char *out, const char *err);
/* SIGKILL and reap every process of the test, free what they wrote (jt_teardown does it). */
void jt_proc_kill_all(void);

/* section: the holder, a raw client in a child process the test can SIGKILL (jt_proc.c) */

/* Fork the holder: it sends hello ('\n' added) to jt_b.path; its pid once its welcome came. */
pid_t jt_holder_start(const char *hello);
/*
 * Fork the holder with any first bytes: it connects to jt_b.path and writes bytes[0..n) as
 * they are (n 0: nothing, a client that only connected; a half frame, without its '\n'). It
 * then reads and counts lines; after max_lines lines (< 0: never) it stops reading for good,
 * still connected. Returns its pid once the connect and the write are done (the bytes are in
 * the socket; whether the broker has read them is the test's to find out).
 */
pid_t jt_holder_start_raw(const void *bytes, size_t n, int max_lines);
/* Wait until the holder has received n more lines (it only reads and counts them). */
void jt_holder_lines(int n);
/*
 * SIGKILL and reap the holder if there is one (jt_proc_kill_all does it: one per test).
 * Returns its waitpid status (WTERMSIG SIGKILL unless it had ended by itself), -1 if none.
 */
int jt_holder_kill(void);

/* section: the jbus tool (jt_cli.c) */

/* Path of the jbus binary under test ($JBUS, else build/jbus). */
const char *jt_jbus(void);
/* jt_proc_start of jbus with args (after the program name), env and input. */
struct jt_proc *jt_jbus_start(const char *const *args, const char *const *env, const char *input,
			      size_t inlen);
/* Run jbus with args to completion / the same with input on its stdin. */
struct jt_proc *jt_jbus_run(const char *const *args);
struct jt_proc *jt_jbus_run_in(const char *const *args, const char *input, size_t inlen);
/*
 * "jbus sub -s <jt_b.path> args", started and known to be subscribed: jt_sync_pub(sync_topic)
 * reached a client and the subscriber's first line, which must be first_line, was read.
 */
struct jt_proc *jt_jbus_sub(const char *const *args, const char *sync_topic,
			    const char *first_line);
/* Publish "sync" on topic as "syncer" until the broker delivers it to a client (a subscriber). */
void jt_sync_pub(const char *topic);
/* Send "sync" to name as "syncer" until the broker accepts it (name is connected). */
void jt_sync_send(const char *name);

/* section: help texts and the source tree (jt_help.c) */

/* One option an option line of a help text defines. */
struct jt_opt {
	char s[4];    /* "-x", or "" when it has no short form */
	char l[48];   /* "--long" */
	bool req_arg; /* "--long VALUE" */
	bool opt_arg; /* "--long[=VALUE]" */
};

/* The options of help (jbus or jbusd --help output), in order, at most max; returns how many. */
size_t jt_help_options(const char *help, struct jt_opt *opts, size_t max);
/* Does opts[0..n) define name, a long or a short option? */
bool jt_opts_have(const struct jt_opt *opts, size_t n, const char *name);
/* The subcommands 'jbus --help' lists under "Subcommands:", in order; returns how many. */
size_t jt_help_subcommands(const char *help, char (*names)[32], size_t max);
/* The source tree: $JBUS_SRCDIR, else the current directory. */
const char *jt_srcdir(void);
/* The file rel of the source tree, NUL-terminated and malloc'd; fails the test if unreadable. */
char *jt_read_src(const char *rel);

/* section: the broker's process as the kernel sees it, and fd limits (jt_sys.c) */

/* VmRSS of pid in KiB, from /proc/<pid>/status. */
long jt_pid_rss_kib(pid_t pid);
/*
 * Open file descriptors of pid (the entries of /proc/<pid>/fd): returns how many; the first
 * cap of them, in ascending order, go to fds (may be NULL with cap 0).
 */
int jt_pid_fds(pid_t pid, int *fds, size_t cap);
/* What fd of pid refers to (the /proc/<pid>/fd/<fd> link: a path, "socket:[...]"), "" if closed. */
const char *jt_pid_fd_target(pid_t pid, int fd);
/* The open flags of fd in pid (/proc/<pid>/fdinfo/<fd>: O_CLOEXEC included), -1 if it is closed. */
int jt_pid_fd_flags(pid_t pid, int fd);
/* CPU time pid has used, user plus system, in ms (/proc/<pid>/stat; clock-tick resolution). */
int64_t jt_pid_cpu_ms(pid_t pid);
/*
 * Set the soft RLIMIT_NOFILE of the running process pid (prlimit(2)), the hard limit kept;
 * returns the limits it had, for the test to restore.
 */
struct rlimit jt_pid_set_nofile(pid_t pid, rlim_t soft);
/*
 * Raise this process's RLIMIT_NOFILE to at least n (soft, and the hard limit too if it is
 * lower: root may); fails the test if that is not allowed. Brokers started afterwards
 * inherit it.
 */
void jt_nofile_at_least(rlim_t n);
