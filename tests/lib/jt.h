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
 * inherit its sockets.
 */
#pragma once

#include <check.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JT_TIMEOUT_MS 5000

Suite *jt_suite(void);

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

/* Bytes made printable (\xNN escapes) for failure messages; 4 rotating buffers. */
const char *jt_show(const void *p, size_t n);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
int64_t jt_now_ms(void);

/* section: broker */

struct jt_broker {
	pid_t pid;     /* 0 when not running */
	char dir[256]; /* the test's directory: the log file, usually the socket too */
	char path[PATH_MAX];
};

/* The broker of the current test (fixture-owned, so teardown finds it). */
extern struct jt_broker jt_b;

/* Path of the jbusd binary under test. */
const char *jt_jbusd(void);

/*
 * Reset b and start jbusd on <fresh dir>/jbus.sock with extra args (NULL-terminated
 * array, may be NULL). Fails the test if it is not ready within 20 s.
 */
void jt_broker_start_args(struct jt_broker *b, const char *const *args);
/* Start jbusd on exactly path, keeping b->dir (made if empty) for its log; b: jt_b or zeroed. */
void jt_broker_start_at(struct jt_broker *b, const char *path, const char *const *args);
/* Checked-fixture setups on jt_b: a broker with default arguments / only a fresh jt_b.dir. */
void jt_setup(void);
void jt_setup_dir(void);
/* Checked-fixture teardown: closes every jt_conn, stops jt_b if running, removes jt_b.dir. */
void jt_teardown(void);
/* SIGTERM, wait, assert exit 0 and the socket gone, remove the directory. */
void jt_broker_stop(struct jt_broker *b);
/* Wait for the broker to exit (deadline ms); returns the waitpid status or -1. */
int jt_broker_wait(struct jt_broker *b, int timeout_ms);
/* After the test signalled the broker itself: it exits 0 within 10 s, socket file removed. */
void jt_broker_expect_exit(struct jt_broker *b);

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
/* jt_hello on the fixture's broker jt_b. */
struct jt_conn *jt_client(const char *name);
/* Round trip: ping with an id, wait for its pong (orders everything before it). */
void jt_sync(struct jt_conn *c);

/* Field access: string (NULL if absent or not a string), int64. */
const char *jt_str(json_object *o, const char *key);
int64_t jt_int(json_object *o, const char *key);
bool jt_has(json_object *o, const char *key);
