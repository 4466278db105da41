/*
 * Test helpers (jt_*) shared by every Check suite.
 *
 * Each test file defines jt_suite(); tests/lib/runner.c supplies main().
 *
 * jt_broker_start() is meant for a checked fixture: it makes a fresh
 * mkdtemp directory, starts the real jbusd ($JBUSD, else build/jbusd) on a
 * socket inside it with --ready-fd, and waits for "ready" with a deadline.
 * jt_broker_stop() sends SIGTERM, waits with a deadline, asserts exit 0 and
 * that the socket file is gone, and removes the directory.
 *
 * jt_conn is a raw-socket client with its own line buffer; every receive
 * has a deadline, so no test ever sleeps to wait for the broker.
 */
#pragma once

#include <check.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JT_TIMEOUT_MS 5000

Suite *jt_suite(void);

/* section: broker */

struct jt_broker {
	pid_t pid;
	char dir[256];
	char path[PATH_MAX];
	int stderr_fd; /* read end of the broker's stderr, or -1 when inherited */
};

/* The broker of the current test (fixture-owned, so teardown finds it). */
extern struct jt_broker jt_b;

/* Path of the jbusd binary under test. */
const char *jt_jbusd(void);

/*
 * Start jbusd on <fresh dir>/jbus.sock with extra args (NULL-terminated
 * array, may be NULL). Fails the test if it is not ready within 5 s.
 */
void jt_broker_start_args(struct jt_broker *b, const char *const *args);
/* Checked-fixture helpers on jt_b with default arguments. */
void jt_setup(void);
void jt_teardown(void);
/* SIGTERM, wait, assert exit 0 and the socket gone, remove the directory. */
void jt_broker_stop(struct jt_broker *b);
/* Wait for the broker to exit (deadline ms); returns the waitpid status or -1. */
int jt_broker_wait(struct jt_broker *b, int timeout_ms);

/*
 * Run jbusd with args to completion (for usage and start-up errors), with a
 * deadline. Returns the exit status (or -1); captures stderr into err.
 */
int jt_run_jbusd(const char *const *args, char *err, size_t errlen, int timeout_ms);

/* section: raw client */

struct jt_conn {
	int fd;
	char *buf;
	size_t len, cap;
};

struct jt_conn *jt_connect(const char *path);
void jt_close(struct jt_conn *c);

/* Send bytes as they are / a printf-formatted frame plus '\n'. */
void jt_send_raw(struct jt_conn *c, const void *p, size_t n);
void jt_send(struct jt_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Next line (without '\n', malloc'd) or NULL on EOF / timeout. */
char *jt_line(struct jt_conn *c, int timeout_ms);
/* Next frame parsed with json-c; fails the test on timeout, EOF or bad JSON. */
json_object *jt_frame(struct jt_conn *c);
/* Next frame; asserts its op. Caller puts the result. */
json_object *jt_expect(struct jt_conn *c, const char *op);
/* Next frame must be an error with this code; returns it (caller puts). */
json_object *jt_expect_error(struct jt_conn *c, const char *code);
/* Asserts the peer closes (EOF) within the timeout, skipping frames. */
void jt_expect_eof(struct jt_conn *c, int timeout_ms);
/* Asserts nothing arrives within ms (for "no delivery" checks after a sync). */
void jt_expect_silence(struct jt_conn *c, int ms);

/* Connect, hello with name (NULL: none), assert welcome. */
struct jt_conn *jt_hello(const char *path, const char *name);
/* Round trip: ping with an id, wait for its pong (orders everything before it). */
void jt_sync(struct jt_conn *c);

/* Field access: string (NULL if absent or not a string), int64. */
const char *jt_str(json_object *o, const char *key);
int64_t jt_int(json_object *o, const char *key);
bool jt_has(json_object *o, const char *key);
