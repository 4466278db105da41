/*
 * libjbus API against the real jbusd: connecting (the default socket
 * path, every way it can fail, the broker refusing the hello), closing,
 * broker errors through the error callback (code, message, id) and
 * through synchronous calls (JBUS_E_BROKER plus jbus_conn_last_error),
 * jbus_send_text_sync, max_frame, arguments refused locally, the error
 * texts, jbus_json_check and jbus_default_socket_path. What messages
 * carry and what callbacks may do is in check_lib_msg.c.
 *
 * Library handles live in lt.h's fixture-owned table, so that a failed
 * assertion (a longjmp with CK_FORK=no) still leaves them to teardown;
 * the variables of the default socket path are put back there too.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lt.h"

#define REC_MAGIC 0x6a627573u

/* section: fixture */

static char *saved_env[2];
static const char *const env_names[2] = { "JBUS_SOCKET", "XDG_RUNTIME_DIR" };

/* Tests may change the variables of the default socket path: teardown puts them back. */
static void save_env(void)
{
	for (int i = 0; i < 2; i++) {
		const char *v = getenv(env_names[i]);
		saved_env[i] = v ? strdup(v) : NULL;
	}
}

static void setup(void)
{
	save_env();
	jt_setup();
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++) {
		if (saved_env[i])
			setenv(env_names[i], saved_env[i], 1);
		else
			unsetenv(env_names[i]);
		free(saved_env[i]);
		saved_env[i] = NULL;
	}
	lt_teardown();
}

static void setup_max_clients(void)
{
	static const char *const args[] = { "--max-clients", "1", NULL };

	save_env();
	jt_broker_start_args(&jt_b, args);
}

static void setup_max_frame(void)
{
	static const char *const args[] = { "--max-frame", "1K", NULL };

	save_env();
	jt_broker_start_args(&jt_b, args);
}

/* section: recording callbacks */

struct erec {
	unsigned magic;
	int calls;
	jbus_conn *c;
	char code[64], message[256], id[64];
	bool id_null;
};

static void record_error(jbus_conn *c, const char *code, const char *message, const char *id,
			 void *userdata)
{
	struct erec *e = userdata;

	ck_assert_uint_eq(e->magic, REC_MAGIC);
	e->calls++;
	e->c = c;
	jt_fmt(e->code, sizeof(e->code), "%s", code);
	jt_fmt(e->message, sizeof(e->message), "%s", message);
	e->id_null = id == NULL;
	jt_fmt(e->id, sizeof(e->id), "%s", id ? id : "");
}

/* section: connecting */

START_TEST(test_lib_connect_new)
{
	jbus_conn *c = lt_new("alpha"), *anon = lt_new(NULL);
	const char *code = NULL;

	ck_assert_str_eq(jbus_conn_name(c), "alpha");
	ck_assert_int_eq(jbus_conn_state(c), JBUS_STATE_CONNECTED);
	ck_assert_uint_eq(jbus_conn_max_frame(c), 1048576);
	ck_assert_str_eq(jbus_conn_path(c), jt_b.path);
	ck_assert_int_ge(jbus_conn_get_fd(c), 0);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN); /* nothing queued */
	/* 0 while frames that came with the welcome may wait (check_lib_loop: welcome_batch) */
	ck_assert_int_le(jbus_conn_get_timeout(c), 0);
	ck_assert_uint_eq(jbus_conn_dropped(c), 0);
	ck_assert(!jbus_conn_last_error(c, &code, NULL));
	ck_assert_int_eq(jbus_conn_dispatch(c), 0); /* nothing to do is not an error */
	ck_assert_int_eq(jbus_conn_get_timeout(c), -1);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_conn_wait(c, 0), 0);
	ck_assert_int_eq(jbus_conn_flush(c, 0), 0);
	ck_assert_int_eq(strncmp(jbus_conn_name(anon), "anon-", 5), 0);
	ck_assert_str_ne(jbus_conn_name(anon), jbus_conn_name(c));
	ck_assert_int_eq(lt_close(c), 0);
	ck_assert_int_eq(lt_close(anon), 0);
}
END_TEST

/* jbus_conn_close says bye: the broker releases the name. */
START_TEST(test_lib_close_releases_name)
{
	jbus_conn *c = lt_new("alpha"), *again = NULL;
	int64_t deadline;
	int r;

	ck_assert_int_eq(lt_close(c), 0);
	/* the bye is written before the close; a new hello may still race it to the broker */
	deadline = jt_now_ms() + JT_TIMEOUT_MS;
	while ((r = jbus_conn_new(&again, jt_b.path, "alpha")) == JBUS_E_NAME_TAKEN)
		ck_assert_msg(jt_now_ms() < deadline, "name not released within %d ms",
			      JT_TIMEOUT_MS);
	ck_assert_msg(r == 0, "reconnect: %s", jbus_error_name(r));
	lt_track(again);
	ck_assert_str_eq(jbus_conn_name(again), "alpha");
	ck_assert_ptr_null(jbus_conn_free(NULL));
	ck_assert_int_eq(jbus_conn_close(NULL, 0), 0);
}
END_TEST

/* NULL path: $JBUS_SOCKET, else $XDG_RUNTIME_DIR/jbus.sock (the fixture's socket is that). */
START_TEST(test_lib_connect_default_path)
{
	jbus_conn *c;

	setenv("JBUS_SOCKET", jt_b.path, 1);
	setenv("XDG_RUNTIME_DIR", "/nonexistent", 1);
	c = lt_new_at(NULL, "env");
	ck_assert_str_eq(jbus_conn_path(c), jt_b.path);
	ck_assert_int_eq(lt_close(c), 0);

	/* an empty variable counts as unset */
	setenv("JBUS_SOCKET", "", 1);
	setenv("XDG_RUNTIME_DIR", jt_b.dir, 1);
	c = lt_new_at(NULL, "xdg");
	ck_assert_str_eq(jbus_conn_path(c), jt_b.path);
	ck_assert_int_eq(lt_close(c), 0);

	unsetenv("JBUS_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/nonexistent", 1);
	ck_assert_int_eq(jbus_conn_new(&c, NULL, NULL), -ENOENT);
}
END_TEST

START_TEST(test_lib_connect_errors)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[300], name[80];
	jbus_conn *c = NULL;
	int fd;

	/* no broker at the path */
	snprintf(path, sizeof(path), "%s/missing.sock", jt_b.dir);
	ck_assert_int_eq(jbus_conn_new(&c, path, NULL), -ENOENT);
	ck_assert_int_eq(jbus_conn_open(&c, path, NULL), -ENOENT);
	ck_assert_str_eq(jbus_error_name(-ENOENT), "ENOENT");

	/* a socket file nobody listens on */
	snprintf(path, sizeof(path), "%s/dead.sock", jt_b.dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(jbus_conn_new(&c, path, NULL), -ECONNREFUSED);

	/* 107 bytes fit sun_path, 108 do not */
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[107] = '\0';
	ck_assert_int_eq(jbus_conn_new(&c, path, NULL), -ENOENT);
	path[107] = 'x';
	path[108] = '\0';
	ck_assert_int_eq(jbus_conn_new(&c, path, NULL), -ENAMETOOLONG);
	ck_assert_int_eq(jbus_conn_open(&c, path, NULL), -ENAMETOOLONG);
	ck_assert_int_eq(jbus_conn_new(&c, "", NULL), -EINVAL);
	ck_assert_int_eq(jbus_conn_new(NULL, jt_b.path, NULL), -EINVAL);

	/* names: checked locally */
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, "bad name"), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, ""), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, "caf\xc3\xa9"), JBUS_E_BAD_NAME);
	memset(name, 'n', 65);
	name[65] = '\0';
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, name), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_conn_open(&c, jt_b.path, name), JBUS_E_BAD_NAME);
	name[64] = '\0';
	c = lt_new(name);
	ck_assert_str_eq(jbus_conn_name(c), name);

	/* taken: the broker refuses the hello */
	lt_new("dup");
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, "dup"), JBUS_E_NAME_TAKEN);
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, "A.b_c-9"), 0);
	lt_track(c);
}
END_TEST

START_TEST(test_lib_connect_limit)
{
	jbus_conn *c;

	lt_new("first");
	ck_assert_int_eq(jbus_conn_new(&c, jt_b.path, "second"), JBUS_E_LIMIT);
}
END_TEST

/* section: errors */

/* Async broker errors go to the error callback with code, message and id. */
START_TEST(test_lib_error_callback)
{
	struct erec e = { .magic = REC_MAGIC };
	jbus_conn *c = lt_new("lib");
	const char *code;
	int64_t t0;

	jbus_conn_on_error(c, record_error, &e);
	ck_assert_int_eq(jbus_send(c, "nobody", NULL), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(e.calls, 1);
	ck_assert_ptr_eq(e.c, c);
	ck_assert_str_eq(e.code, "no_such_client");
	ck_assert_str_ne(e.message, "");
	ck_assert(e.id_null);
	ck_assert(!jbus_conn_last_error(c, &code, NULL)); /* no call of ours failed */

	ck_assert_int_eq(jbus_send_text(c, "nobody", "[1]", -1), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(e.calls, 2);

	/* an answer to a synchronous call that timed out arrives late: it carries its id */
	jt_broker_freeze(&jt_b);
	t0 = jt_now_ms();
	ck_assert_int_eq(jbus_send_sync(c, "nobody", NULL, 100), -ETIMEDOUT);
	ck_assert_int_lt(jt_now_ms() - t0, 2000);
	jt_broker_thaw(&jt_b);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(e.calls, 3);
	ck_assert_str_eq(e.code, "no_such_client");
	ck_assert(!e.id_null);
	ck_assert_msg(e.id[0] && strspn(e.id, "0123456789") == strlen(e.id), "id %s", e.id);
}
END_TEST

/* Synchronous calls: JBUS_E_BROKER, with the code in jbus_conn_last_error(). */
START_TEST(test_lib_sync_broker_error)
{
	struct erec e = { .magic = REC_MAGIC };
	jbus_conn *c = lt_new("lib");
	json_object *o = json_object_new_int(5);
	const char *code = NULL, *msg = NULL;

	jbus_conn_on_error(c, record_error, &e);
	ck_assert(!jbus_conn_last_error(c, &code, &msg));
	ck_assert_int_eq(jbus_send_sync(c, "nobody", o, JT_TIMEOUT_MS), JBUS_E_BROKER);
	ck_assert(jbus_conn_last_error(c, &code, &msg));
	ck_assert_str_eq(code, "no_such_client");
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_ne(msg, "");
	ck_assert(jbus_conn_last_error(c, NULL, NULL));
	ck_assert_int_eq(e.calls, 0); /* the call got it, not the callback */
	/* a later successful call clears it */
	ck_assert_int_eq(jbus_send_sync(c, "lib", o, JT_TIMEOUT_MS), 0);
	ck_assert(!jbus_conn_last_error(c, &code, &msg));
	json_object_put(o);
	/* local checks come first: no round trip */
	ck_assert_int_eq(jbus_send_sync(c, "bad name", NULL, JT_TIMEOUT_MS), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_publish_sync(c, "a/+", NULL, JT_TIMEOUT_MS, NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_subscribe_sync(c, "#/a", lt_ignore, NULL, JT_TIMEOUT_MS),
			 JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_publish_text_sync(c, "t", "{", -1, JT_TIMEOUT_MS, NULL),
			 JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(e.calls, 0);
}
END_TEST

/* jbus_send_text_sync: the ok, the data's bytes as given; an unknown name is JBUS_E_BROKER. */
START_TEST(test_lib_send_text_sync)
{
	static const char data[] = "{\"k\" : 1.50,\t\"big\":123456789012345678901234567890}";
	struct erec e = { .magic = REC_MAGIC };
	struct jt_conn *w = jt_client("w");
	jbus_conn *c = lt_new("lib");
	const char *code = NULL, *msg = NULL;
	char want[256];

	jbus_conn_on_error(c, record_error, &e);
	ck_assert_int_eq(jbus_send_text_sync(c, "w", data, -1, JT_TIMEOUT_MS), 0);
	ck_assert(!jbus_conn_last_error(c, &code, &msg));
	snprintf(want, sizeof(want), "{\"op\":\"msg\",\"from\":\"lib\",\"to\":\"w\",\"data\":%s}",
		 data);
	jt_expect_line(w, want);
	/* len is honoured (a prefix of a longer buffer); NULL is null */
	ck_assert_int_eq(jbus_send_text_sync(c, "w", "[1,2]xx", 5, JT_TIMEOUT_MS), 0);
	jt_expect_line(w, "{\"op\":\"msg\",\"from\":\"lib\",\"to\":\"w\",\"data\":[1,2]}");
	ck_assert_int_eq(jbus_send_text_sync(c, "w", NULL, 0, JT_TIMEOUT_MS), 0);
	jt_expect_line(w, "{\"op\":\"msg\",\"from\":\"lib\",\"to\":\"w\",\"data\":null}");

	ck_assert_int_eq(jbus_send_text_sync(c, "nobody", "1", -1, JT_TIMEOUT_MS), JBUS_E_BROKER);
	ck_assert(jbus_conn_last_error(c, &code, &msg));
	ck_assert_str_eq(code, "no_such_client");
	ck_assert_str_ne(msg, "");
	ck_assert_int_eq(e.calls, 0); /* the call got it, not the callback */
	/* refused locally, before anything is queued */
	ck_assert_int_eq(jbus_send_text_sync(c, "bad name", "1", -1, JT_TIMEOUT_MS),
			 JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_send_text_sync(c, "w", "{", -1, JT_TIMEOUT_MS), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_send_text_sync(NULL, "w", "1", -1, 0), -EINVAL);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN);
	/* w got the three messages and nothing else: its pong comes next */
	jt_sync(w);
}
END_TEST

/* A JSON string of exactly n bytes ("xx...x"), n >= 2. */
static const char *jstring(char *buf, size_t n)
{
	memset(buf, 'x', n);
	buf[0] = buf[n - 1] = '"';
	buf[n] = '\0';
	return buf;
}

/* Frames over the broker's max_frame are refused locally with -EMSGSIZE. */
START_TEST(test_lib_max_frame)
{
	/* {"op":"pub","topic":"t","data":} and {"op":"send","to":"w","data":} */
	const size_t pub_env = 32, send_env = 30;
	struct jt_conn *w = jt_sub(jt_client("w"), "t");
	jbus_conn *c = lt_new("lib");
	char data[2048], want[2200];

	ck_assert_uint_eq(jbus_conn_max_frame(c), 1024);
	/* exactly 1024 bytes: sent */
	ck_assert_int_eq(jbus_publish_text(c, "t", jstring(data, 1024 - pub_env), -1), 0);
	ck_assert_int_eq(jbus_conn_flush(c, JT_TIMEOUT_MS), 0);
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"lib\",\"data\":%s}", data);
	jt_expect_line(w, want);
	ck_assert_int_eq(jbus_send_text(c, "w", jstring(data, 1024 - send_env), -1), 0);
	ck_assert_int_eq(jbus_conn_flush(c, JT_TIMEOUT_MS), 0);
	snprintf(want, sizeof(want), "{\"op\":\"msg\",\"from\":\"lib\",\"to\":\"w\",\"data\":%s}",
		 data);
	jt_expect_line(w, want);

	/* one byte more: refused, nothing queued */
	ck_assert_int_eq(jbus_publish_text(c, "t", jstring(data, 1025 - pub_env), -1), -EMSGSIZE);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN);
	ck_assert_int_eq(jbus_publish_text_sync(c, "t", data, -1, JT_TIMEOUT_MS, NULL), -EMSGSIZE);
	ck_assert_int_eq(jbus_send_text(c, "w", jstring(data, 1025 - send_env), -1), -EMSGSIZE);
	ck_assert_int_eq(jbus_conn_get_events(c), POLLIN);
	ck_assert_str_eq(jbus_error_name(-EMSGSIZE), "EMSGSIZE");
	/* the connection is fine */
	ck_assert_int_eq(jbus_publish_text(c, "t", "1", -1), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"t\",\"from\":\"lib\",\"data\":1}");
}
END_TEST

/* Invalid arguments are refused locally, before anything is queued. */
START_TEST(test_lib_bad_args)
{
	jbus_conn *c = lt_new("lib");
	char topic[1100];

	memset(topic, 'a', 1025);
	topic[1025] = '\0';
	ck_assert_int_eq(jbus_publish(c, "a/+", NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_publish(c, "a/#", NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_publish(c, "$sys/x", NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_publish(c, "", NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_publish_text(c, topic, "1", -1), JBUS_E_BAD_TOPIC);
	topic[1024] = '\0';
	ck_assert_int_eq(jbus_publish_text(c, topic, "1", -1), 0);
	ck_assert_int_eq(jbus_subscribe(c, "a+", lt_ignore, NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_subscribe(c, "#/a", lt_ignore, NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_subscribe(c, "", lt_ignore, NULL), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_subscribe(c, "ok", NULL, NULL), -EINVAL);
	ck_assert_int_eq(jbus_send(c, "bad name", NULL), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_send_text(c, "", "1", -1), JBUS_E_BAD_NAME);
	ck_assert_int_eq(jbus_send_text(c, "x", "nope", -1), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_publish(NULL, "t", NULL), -EINVAL);
	ck_assert_int_eq(jbus_publish_text(c, NULL, "1", -1), -EINVAL);
	ck_assert_int_eq(jbus_subscribe(NULL, "t", lt_ignore, NULL), -EINVAL);
	ck_assert_int_eq(jbus_unsubscribe(c, NULL), -EINVAL);
	ck_assert_int_eq(jbus_send(NULL, "x", NULL), -EINVAL);
	ck_assert_int_eq(jbus_conn_dispatch(NULL), -EINVAL);
	ck_assert_int_eq(jbus_conn_wait(NULL, 0), -EINVAL);
	ck_assert_int_eq(jbus_conn_flush(NULL, 0), -EINVAL);
	ck_assert_int_eq(jbus_ping(NULL, 0), -EINVAL);
	ck_assert_int_eq(jbus_publish_sync(NULL, "t", NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(jbus_send_sync(NULL, "t", NULL, 0), -EINVAL);
	ck_assert_int_eq(jbus_subscribe_sync(NULL, "t", lt_ignore, NULL, 0), -EINVAL);
	ck_assert_ptr_null(jbus_conn_name(NULL));
	ck_assert_ptr_null(jbus_conn_path(NULL));
	ck_assert_uint_eq(jbus_conn_max_frame(NULL), 0);
	ck_assert_int_eq(jbus_conn_state(NULL), JBUS_STATE_DISCONNECTED);
	ck_assert(!jbus_conn_last_error(NULL, NULL, NULL));
	/* only the valid 1024-byte publish was queued */
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
}
END_TEST

/* section: no broker: the default path's rule, error texts, JSON checking */

/*
 * $JBUS_SOCKET, else $XDG_RUNTIME_DIR/jbus.sock, else /tmp/jbus-<uid>.sock;
 * an empty variable counts as unset; size counts the NUL.
 */
START_TEST(test_lib_default_socket_path)
{
	char buf[300], tmp[64], big[201];
	jbus_conn *c;
	int n;

	setenv("JBUS_SOCKET", "/a/b.sock", 1);
	setenv("XDG_RUNTIME_DIR", "/run/x", 1);
	ck_assert_int_eq(jbus_default_socket_path(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/a/b.sock");
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(jbus_default_socket_path(buf, 10), 0);
	ck_assert_str_eq(buf, "/a/b.sock");
	ck_assert_int_eq(jbus_default_socket_path(buf, 9), -ENAMETOOLONG);

	setenv("JBUS_SOCKET", "", 1);
	ck_assert_int_eq(jbus_default_socket_path(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/jbus.sock");
	unsetenv("JBUS_SOCKET");
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(jbus_default_socket_path(buf, 17), 0);
	ck_assert_str_eq(buf, "/run/x/jbus.sock");
	ck_assert_int_eq(jbus_default_socket_path(buf, 16), -ENAMETOOLONG);

	n = snprintf(tmp, sizeof(tmp), "/tmp/jbus-%u.sock", (unsigned)getuid());
	setenv("JBUS_SOCKET", "", 1);
	setenv("XDG_RUNTIME_DIR", "", 1);
	ck_assert_int_eq(jbus_default_socket_path(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, tmp);
	unsetenv("JBUS_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(jbus_default_socket_path(buf, (size_t)n + 1), 0);
	ck_assert_str_eq(buf, tmp);
	ck_assert_int_eq(jbus_default_socket_path(buf, (size_t)n), -ENAMETOOLONG);
	ck_assert_int_eq(jbus_default_socket_path(buf, 0), -ENAMETOOLONG);

	/* only the rule: a path too long for a socket address is refused by the connect */
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	setenv("JBUS_SOCKET", big, 1);
	ck_assert_int_eq(jbus_default_socket_path(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, big);
	ck_assert_int_eq(jbus_conn_new(&c, NULL, NULL), -ENAMETOOLONG);
}
END_TEST


START_TEST(test_lib_strerror)
{
	static const struct {
		int code;
		const char *name;
	} codes[] = {
		{ JBUS_E_BROKER, "JBUS_E_BROKER" },	{ JBUS_E_HANDSHAKE, "JBUS_E_HANDSHAKE" },
		{ JBUS_E_PROTOCOL, "JBUS_E_PROTOCOL" }, { JBUS_E_CLOSED, "JBUS_E_CLOSED" },
		{ JBUS_E_BAD_JSON, "JBUS_E_BAD_JSON" }, { JBUS_E_BAD_TOPIC, "JBUS_E_BAD_TOPIC" },
		{ JBUS_E_BAD_NAME, "JBUS_E_BAD_NAME" }, { JBUS_E_NAME_TAKEN, "JBUS_E_NAME_TAKEN" },
		{ JBUS_E_LIMIT, "JBUS_E_LIMIT" },
		{ JBUS_E_REPLY, "JBUS_E_REPLY" },
	};
	static const struct {
		int code;
		const char *name;
	} errnos[] = {
		{ -EINVAL, "EINVAL" },
		{ -ENOMEM, "ENOMEM" },
		{ -ENOTCONN, "ENOTCONN" },
		{ -ETIMEDOUT, "ETIMEDOUT" },
		{ -EMSGSIZE, "EMSGSIZE" },
		{ -ENOENT, "ENOENT" },
		{ -ECONNREFUSED, "ECONNREFUSED" },
		{ -EACCES, "EACCES" },
		{ -ENAMETOOLONG, "ENAMETOOLONG" },
		{ -EPIPE, "EPIPE" },
		{ -ECONNRESET, "ECONNRESET" },
		{ -EBUSY, "EBUSY" },
		{ -ENOBUFS, "ENOBUFS" },
		{ -EPERM, "EPERM" }, /* not in the library's table: the C library's name */
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);

	/* every JBUS_E_* value: its own name and its own text */
	ck_assert_int_eq((int)n, JBUS_E_BROKER - JBUS_E_REPLY + 1);
	for (size_t i = 0; i < n; i++) {
		const char *t = jbus_strerror(codes[i].code);

		ck_assert_int_eq(codes[i].code, JBUS_E_BROKER - (int)i);
		ck_assert_str_eq(jbus_error_name(codes[i].code), codes[i].name);
		ck_assert_ptr_nonnull(t);
		ck_assert_msg(*t && strcmp(t, "unknown error") != 0, "%s: '%s'", codes[i].name, t);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(t, jbus_strerror(codes[j].code));
	}
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		ck_assert_str_eq(jbus_error_name(errnos[i].code), errnos[i].name);
		ck_assert_str_ne(jbus_strerror(errnos[i].code), "unknown error");
	}
	ck_assert_str_eq(jbus_strerror(-EPERM), strerror(EPERM));
	ck_assert_str_eq(jbus_error_name(0), "OK");
	ck_assert_str_eq(jbus_strerror(0), "success");
	ck_assert_str_eq(jbus_error_name(-4100), "unknown");
	ck_assert_str_eq(jbus_strerror(-4100), "unknown error");
	ck_assert_str_eq(jbus_error_name(JBUS_E_REPLY - 1), "unknown");
	ck_assert_str_eq(jbus_error_name(7), "unknown");
}
END_TEST

START_TEST(test_lib_json_check)
{
	static const char *const good[] = {
		"0", "-0e+0", "123456789012345678901234567890", "1.50", "\"\\u00e9\"",
		"\"caf\xc3\xa9\"", "true", "null", " [ 1 , {\"a\" : [ ] } ] ", "{\"a\":1,\"a\":2}",
		"\"\\ud83d\\ude00\"",
		"\"\xf0\x9f\x98\x80\"", "{\"k\":\n1}",
	};
	static const struct {
		const char *text;
		size_t offset;
	} bad[] = {
		{ "", 0 },	   { "  ", 2 },	      { "[1,]", 3 },	 { "{", 1 },
		{ "1 2", 2 },	   { "01", 1 },	      { "1.", 2 },	 { "tru", 0 },
		{ "{\"a\" 1}", 5 }, { "\"\xff\"", 1 }, { "\"a\tb\"", 2 }, { "'a'", 0 },
		{ "[1]]", 3 },	   { "\"\xc0\xaf\"", 1 },
		{ "nan", 0 },	   { "{\"a\":}", 5 },
	};
	char deep[200];
	const char *reason;
	size_t off;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(jbus_json_check(good[i], -1, NULL, NULL) == 0, "refused %s",
			      jt_show(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		off = 999;
		reason = NULL;
		ck_assert_msg(jbus_json_check(bad[i].text, -1, &off, &reason) == JBUS_E_BAD_JSON,
			      "accepted %s", jt_show(bad[i].text, strlen(bad[i].text)));
		ck_assert_msg(off == bad[i].offset, "%s: offset %zu, want %zu (%s)",
			      jt_show(bad[i].text, strlen(bad[i].text)), off, bad[i].offset,
			      reason);
		ck_assert_msg(reason && *reason, "no reason");
	}
	/* the length is honoured: a NUL inside, or a prefix of a longer buffer */
	ck_assert_int_eq(jbus_json_check("[1,2]xx", 5, NULL, NULL), 0);
	ck_assert_int_eq(jbus_json_check("1\0002", 3, NULL, NULL), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_json_check(NULL, -1, NULL, NULL), -EINVAL);
	/* nesting: 63 levels of data fit in a frame (the frame is the 64th) */
	memset(deep, '[', 63);
	memset(deep + 63, ']', 63);
	deep[126] = '\0';
	ck_assert_int_eq(jbus_json_check(deep, -1, NULL, NULL), 0);
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	ck_assert_int_eq(jbus_json_check(deep, -1, &off, &reason), JBUS_E_BAD_JSON);
	ck_assert_uint_eq(off, 63);
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "connect_new", test_lib_connect_new },
		{ "close_releases_name", test_lib_close_releases_name },
		{ "connect_default_path", test_lib_connect_default_path },
		{ "connect_errors", test_lib_connect_errors },
		{ "error_callback", test_lib_error_callback },
		{ "sync_broker_error", test_lib_sync_broker_error },
		{ "send_text_sync", test_lib_send_text_sync },
		{ "bad_args", test_lib_bad_args },
	};
	const struct jt_case plain[] = {
		{ "strerror", test_lib_strerror },
		{ "json_check", test_lib_json_check },
	};
	Suite *s = suite_create("lib_api");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), setup, teardown, 30);
	tcase_add_test(jt_tcase(s, "connect_limit", setup_max_clients, teardown, 30),
		       test_lib_connect_limit);
	tcase_add_test(jt_tcase(s, "max_frame", setup_max_frame, teardown, 30), test_lib_max_frame);
	/* no broker, but the variables it changes are put back */
	tcase_add_test(jt_tcase(s, "default_socket_path", save_env, teardown, 0),
		       test_lib_default_socket_path);
	jt_add_cases(s, plain, sizeof(plain) / sizeof(plain[0]), NULL, NULL, 0);
	return s;
}
