/*
 * Regression tests for broker bugs fixed in review (commit "broker: fixes from review"):
 * release() re-entered by a request to oneself, the input buffer freed under the frame
 * being handled, the datagram door freed in the middle of an event batch at shutdown,
 * and the bound on a req's id.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt.h"

/* 100 KB of data: more than one read of the broker, so each frame is assembled in its input */
#define BIG_DATA 100000
/* pubs the publisher may make before it must have become a slow consumer */
#define MAX_PUBS 64

/* the smallest queue limit: a few frames make a client a slow consumer */
static void setup_small_queue(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "1024"));
}

/* The datagram socket of the test. */
static char dpath[PATH_MAX];

static void setup_dgram(void)
{
	char path[PATH_MAX];

	jt_setup_dir();
	jt_fmt(dpath, sizeof(dpath), "%s/jbus.dgram", jt_b.dir);
	jt_fmt(path, sizeof(path), "%s/jbus.sock", jt_b.dir);
	jt_broker_start_at(&jt_b, path, JT_ARGV("--dgram", dpath));
}

/* section: release re-entry */

/*
 * A req to itself, then bye: settling the departing client's requests used to queue a
 * no_reply error to that same client, which overflowed its queue, made it a slow consumer
 * and ran release() again; the client was linked into the ending list twice and the loop
 * spun forever. The sizes are chosen so that welcome + req fit and one more frame does not.
 */
START_TEST(test_regress_release_reentry)
{
	static const char req_base[] = "{\"op\":\"req\",\"from\":\"a\",\"id\":1,\"data\":\"\"}\n";
	struct jt_conn *probe = jt_connect(jt_b.path), *a, *late;
	char *welcome, *line, *buf, *want;
	size_t wlen, dlen, n = 0;

	/* the welcome of a one-letter name is as long as the one "a" will get */
	jt_send(probe, "{\"op\":\"hello\",\"proto\":1,\"name\":\"p\"}");
	welcome = jt_next_line(probe);
	ck_assert_msg(strstr(welcome, "\"op\":\"welcome\""), "not a welcome: %s", welcome);
	wlen = strlen(welcome) + 1;
	free(welcome);
	ck_assert_uint_lt(wlen + sizeof(req_base) - 1 + 5, 1024);
	dlen = 1024 - wlen - (sizeof(req_base) - 1) - 5;

	buf = malloc(dlen + 256);
	ck_assert_ptr_nonnull(buf);
	/* one write: the three frames are handled in one turn, before anything is flushed */
	n += (size_t)sprintf(buf + n, "{\"op\":\"hello\",\"proto\":1,\"name\":\"a\"}\n");
	n += (size_t)sprintf(buf + n, "{\"op\":\"req\",\"to\":\"a\",\"id\":1,\"data\":\"");
	memset(buf + n, 'x', dlen);
	n += dlen;
	n += (size_t)sprintf(buf + n, "\"}\n{\"op\":\"bye\"}\n");
	a = jt_connect(jt_b.path);
	jt_send_raw(a, buf, n);

	/* what it was owed is flushed; its request to itself is dropped without a word */
	json_object_put(jt_expect(a, "welcome"));
	want = malloc(dlen + 64);
	ck_assert_ptr_nonnull(want);
	n = (size_t)sprintf(want, "{\"op\":\"req\",\"from\":\"a\",\"id\":1,\"data\":\"");
	memset(want + n, 'x', dlen);
	strcpy(want + n + dlen, "\"}");
	line = jt_next_line(a);
	ck_assert_msg(strcmp(line, want) == 0, "req frame: %s", jt_show(line, strlen(line)));
	free(line);
	jt_expect_eof_next(a);
	jt_close(a);
	free(want);
	free(buf);

	/* the loop still turns: old and new clients get answers, nothing is left pending */
	jt_sync(probe);
	late = jt_client("late");
	jt_sync(late);
	ck_assert_int_eq(jt_stat(late, "requests_pending"), 0);
	ck_assert_int_eq(jt_stat(late, "clients"), 2);
	jt_close(late);
	jt_close(probe);
}
END_TEST

/* section: input freed mid-frame */

/* Frame line (not NULL) is p's big msg, intact. */
static void check_big_msg(char *line, const char *data)
{
	json_object *o = jt_parse(line);

	ck_assert_str_eq(jt_str(o, "op"), "msg");
	ck_assert_str_eq(jt_str(o, "topic"), "a/b/c");
	ck_assert_str_eq(jt_str(o, "from"), "p");
	ck_assert_msg(jt_str(o, "data") && strcmp(jt_str(o, "data"), data) == 0,
		      "data of a/b/c damaged");
	json_object_put(o);
	free(line);
}

/*
 * Wait for the next frame on s (p's msg: checked, false) or on w (p's disconnection: true),
 * whichever comes first.
 */
static bool next_is_gone(struct jt_conn *s, struct jt_conn *w, const char *data)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	for (;;) {
		char *line = jt_line(w, 0);

		if (line) {
			json_object *o = jt_parse(line), *d;

			ck_assert_str_eq(jt_str(o, "topic"), "$SYS/client/disconnected");
			ck_assert(json_object_object_get_ex(o, "data", &d));
			ck_assert_str_eq(jt_str(d, "name"), "p");
			json_object_put(o);
			free(line);
			return true;
		}
		line = jt_line(s, 0);
		if (line) {
			check_big_msg(line, data);
			return false;
		}
		ck_assert_msg(!s->eof && !w->eof, "the broker closed a reader");
		int64_t left = deadline - jt_now_ms();
		ck_assert_msg(left > 0, "neither p's msg nor its disconnection within %d ms",
			      JT_TIMEOUT_MS);
		struct pollfd pf[2] = { { .fd = s->fd, .events = POLLIN },
					{ .fd = w->fd, .events = POLLIN } };
		poll(pf, 2, (int)left);
	}
}

/*
 * A publisher subscribed to its own topic that never reads becomes a slow consumer while
 * its own big pub is being routed; client_linger() used to free the input buffer the frame
 * still pointed into, so the other subscriber got freed memory (heap-use-after-free under
 * ASan, which makes the broker's exit status fail in jt_broker_stop).
 */
START_TEST(test_regress_input_freed_mid_frame)
{
	struct jt_conn *s = jt_client("s"), *w = jt_client("w"), *p = jt_client("p");
	char *frame, *data;
	size_t n;
	int i, msgs = 0;
	bool gone = false;

	jt_sub(s, "a/#");
	/* not s: the event queued behind a big msg would make s a slow consumer too */
	jt_sub(w, "$SYS/client/disconnected");
	jt_sub(p, "a/#");
	data = malloc(BIG_DATA + 1);
	frame = malloc(BIG_DATA + 64);
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(frame);
	memset(data, 'x', BIG_DATA);
	data[BIG_DATA] = '\0';
	n = (size_t)sprintf(frame, "{\"op\":\"pub\",\"topic\":\"a/b/c\",\"data\":\"%s\"}\n", data);

	/*
	 * s reads each msg before the next pub, so its queue is empty whenever one comes and
	 * only p, which never reads, overflows. A pub sent after p was dropped is never
	 * read: the broker closes p after its linger, which ends the send.
	 */
	for (i = 0; i < MAX_PUBS && !gone; i++) {
		jt_send_until_closed(p, frame, n);
		gone = next_is_gone(s, w, data);
		if (!gone)
			msgs++;
	}
	ck_assert_msg(gone, "p still connected after %d pubs of %d bytes", MAX_PUBS, (int)n);
	ck_assert_int_ge(msgs, 1);

	/* whatever else was routed before the drop arrives intact, then the pong */
	jt_send(s, "{\"op\":\"ping\",\"id\":\"end\"}");
	for (;;) {
		char *line = jt_next_line(s);

		if (strcmp(line, "{\"op\":\"pong\",\"id\":\"end\"}") == 0) {
			free(line);
			break;
		}
		check_big_msg(line, data);
	}
	jt_sync(jt_client("after"));
	free(frame);
	free(data);
}
END_TEST

/* section: shutdown with a pending datagram */

/*
 * SIGTERM and a datagram handled in the same event batch: broker_stop() used to free the
 * datagram door before its event was dispatched (SIGSEGV). Freezing the broker makes both
 * pending when it wakes.
 */
START_TEST(test_regress_shutdown_pending_dgram)
{
	static const char dg[] = "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1}";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, status;

	jt_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", dpath);
	jt_broker_freeze(&jt_b);
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sendto(fd, dg, sizeof(dg) - 1, 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)(sizeof(dg) - 1));
	close(fd);
	jt_broker_thaw(&jt_b);

	status = jt_broker_wait(&jt_b, 10000);
	ck_assert_msg(status != -1, "jbusd did not exit within 10 s of SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "jbusd exit status %d (signal %d)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(lstat(jt_b.path, &st) < 0 && errno == ENOENT, "socket file left behind");
	ck_assert_msg(lstat(dpath, &st) < 0 && errno == ENOENT, "dgram socket file left behind");
}
END_TEST

/* section: req id bound */

/* A req's id is kept while pending: at most 256 bytes as written, quotes included. */
START_TEST(test_regress_req_id_limit)
{
	struct jt_conn *a = jt_client("a");
	char id[300], want[400];

	/* 257 bytes: refused, and not echoed */
	id[0] = '"';
	memset(id + 1, 'i', 255);
	strcpy(id + 256, "\"");
	ck_assert_uint_eq(strlen(id), 257);
	jt_send(a, "{\"op\":\"req\",\"to\":\"a\",\"id\":%s,\"data\":1}", id);
	jt_expect_error_id(a, "bad_frame", NULL, "id");
	jt_sync(a);
	ck_assert_int_eq(jt_stat(a, "requests_pending"), 0);

	/* 256 bytes: a request like any other, answered with its id */
	strcpy(id + 255, "\"");
	ck_assert_uint_eq(strlen(id), 256);
	jt_send(a, "{\"op\":\"req\",\"to\":\"a\",\"id\":%s,\"data\":1}", id);
	jt_expect_line(a, "{\"op\":\"req\",\"from\":\"a\",\"id\":1,\"data\":1}");
	jt_send(a, "{\"op\":\"reply\",\"id\":1,\"data\":2}");
	jt_fmt(want, sizeof(want), "{\"op\":\"reply\",\"id\":%s,\"from\":\"a\",\"data\":2}", id);
	jt_expect_line(a, want);
	jt_sync(a);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("regress");

	tcase_add_test(jt_tcase(s, "release_reentry", setup_small_queue, jt_teardown, 30),
		       test_regress_release_reentry);
	tcase_add_test(jt_tcase(s, "input_freed_mid_frame", setup_small_queue, jt_teardown, 60),
		       test_regress_input_freed_mid_frame);
	tcase_add_test(jt_tcase(s, "shutdown_pending_dgram", setup_dgram, jt_teardown, 30),
		       test_regress_shutdown_pending_dgram);
	tcase_add_test(jt_tcase(s, "req_id_limit", jt_setup, jt_teardown, 0),
		       test_regress_req_id_limit);
	return s;
}
