/*
 * Handshake of protocol v1 against the real jbusd: the accepted hellos and
 * their welcome, every rejection with its code followed by the close, name
 * ownership (taken while held, free again once the holder is gone), the
 * second hello, the handshake timeout, and blank lines / CRLF around it.
 *
 * Frames are checked on their raw line as well as parsed, because an id must
 * be echoed with its exact bytes (1.50 stays 1.50), which json-c would hide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jt.h"

/* section: fixture */

/* Connections of the current test: teardown closes them even after a failed assertion. */
#define MAX_CONNS 32
static struct jt_conn *conns[MAX_CONNS];

static struct jt_conn *track(struct jt_conn *c)
{
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (!conns[i]) {
			conns[i] = c;
			return c;
		}
	}
	ck_abort_msg("more than %d connections in one test", MAX_CONNS);
	return c;
}

static struct jt_conn *conn_new(void)
{
	return track(jt_connect(jt_b.path));
}

static struct jt_conn *hello(const char *name)
{
	return track(jt_hello(jt_b.path, name));
}

static void setup(void)
{
	jt_setup();
}

static void setup_timeout(void)
{
	static const char *const args[] = { "--handshake-timeout", "0.2", NULL };

	jt_broker_start_args(&jt_b, args);
}

static void teardown(void)
{
	for (size_t i = 0; i < MAX_CONNS; i++) {
		jt_close(conns[i]);
		conns[i] = NULL;
	}
	jt_teardown();
}

/* section: helpers */

/* Send one frame given as raw text, plus '\n'. */
static void send_line(struct jt_conn *c, const char *frame)
{
	jt_send_raw(c, frame, strlen(frame));
	jt_send_raw(c, "\n", 1);
}

/* Next frame: parsed (returned) and its raw line (*raw, caller frees). */
static json_object *frame_raw(struct jt_conn *c, char **raw)
{
	char *line = jt_line(c, JT_TIMEOUT_MS);
	json_object *o;

	ck_assert_msg(line != NULL, "no frame within %d ms (EOF or timeout)", JT_TIMEOUT_MS);
	o = json_tokener_parse(line);
	ck_assert_msg(o && json_object_is_type(o, json_type_object), "invalid frame: %s", line);
	*raw = line;
	return o;
}

/*
 * The id of a frame: absent when id is NULL, else present with exactly the
 * raw bytes id (a member is followed by ',' or '}').
 */
static void assert_id(json_object *o, const char *raw, const char *id)
{
	char needle[128];
	const char *p;

	if (!id) {
		ck_assert_msg(!jt_has(o, "id"), "unexpected id in %s", raw);
		return;
	}
	snprintf(needle, sizeof(needle), "\"id\":%s", id);
	p = strstr(raw, needle);
	ck_assert_msg(p && (p[strlen(needle)] == ',' || p[strlen(needle)] == '}'),
		      "id %s not echoed exactly in %s", id, raw);
}

/* Next frame must be an error with code and id (see assert_id); returned for more checks. */
static json_object *expect_error(struct jt_conn *c, const char *code, const char *id)
{
	char *raw;
	json_object *o = frame_raw(c, &raw);

	ck_assert_msg(jt_str(o, "op") && strcmp(jt_str(o, "op"), "error") == 0,
		      "expected error %s, got %s", code, raw);
	ck_assert_msg(jt_str(o, "code") && strcmp(jt_str(o, "code"), code) == 0,
		      "expected error %s, got %s", code, raw);
	ck_assert_msg(jt_str(o, "message") && *jt_str(o, "message"), "no message in %s", raw);
	assert_id(o, raw, id);
	free(raw);
	return o;
}

/* Welcome fields every accepted hello gets; returns the name (caller frees). */
static char *expect_welcome(struct jt_conn *c, const char *id)
{
	char *raw, *name;
	json_object *o = frame_raw(c, &raw);

	ck_assert_msg(jt_str(o, "op") && strcmp(jt_str(o, "op"), "welcome") == 0,
		      "expected welcome, got %s", raw);
	ck_assert_int_eq(jt_int(o, "proto"), 1);
	ck_assert_ptr_nonnull(jt_str(o, "name"));
	ck_assert_ptr_nonnull(jt_str(o, "broker"));
	ck_assert_msg(strncmp(jt_str(o, "broker"), "jbusd ", 6) == 0 && jt_str(o, "broker")[6],
		      "broker field %s", raw);
	ck_assert_int_eq(jt_int(o, "max_frame"), 1048576);
	assert_id(o, raw, id);
	name = strdup(jt_str(o, "name"));
	json_object_put(o);
	free(raw);
	return name;
}

/*
 * The name is really held by c: a direct send from another client to it
 * reaches c with from/to as expected.
 */
static void assert_owns_name(struct jt_conn *c, const char *name)
{
	struct jt_conn *peer = hello(NULL);
	json_object *o;

	jt_send(peer, "{\"op\":\"send\",\"to\":\"%s\",\"data\":\"hi\",\"id\":1}", name);
	json_object_put(jt_expect(peer, "ok"));
	o = jt_expect(c, "msg");
	ck_assert_str_eq(jt_str(o, "to"), name);
	ck_assert_str_eq(jt_str(o, "data"), "hi");
	json_object_put(o);
	jt_sync(c);
}

/* Names generated for anonymous clients: "anon-" then digits. */
static void assert_anon_name(const char *name)
{
	size_t n = strlen(name);

	ck_assert_msg(n > 5 && strncmp(name, "anon-", 5) == 0 &&
			      strspn(name + 5, "0123456789") == n - 5,
		      "generated name '%s' is not anon-<n>", name);
}

/* section: accepted hellos */

struct accept_case {
	const char *frame;
	const char *name; /* expected name in welcome */
	const char *id;   /* expected raw id in welcome, NULL: none */
};

#define NAME64 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"

static const struct accept_case accept_cases[] = {
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"alice\"}", "alice", NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"alice\",\"id\":7}", "alice", "7" },
	{ "{\"id\":\"h-1\",\"op\":\"hello\",\"proto\":1,\"name\":\"alice\"}", "alice", "\"h-1\"" },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"alice\",\"id\":1.50}", "alice", "1.50" },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"alice\",\"id\":-3e2}", "alice", "-3e2" },
	{ "{\"op\":\"hello\",\"proto\":1.0,\"name\":\"alice\"}", "alice", NULL },
	{ "{\"op\":\"hello\",\"proto\":1e0,\"name\":\"alice\"}", "alice", NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"" NAME64 "\"}", NAME64, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"A.b_c-9\"}", "A.b_c-9", NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"\\u0061l\\u0069ce\"}", "alice", NULL },
	{ "{\"op\":\"hello\",\"x\":{\"y\":[1]},\"proto\":1,\"name\":\"alice\"}", "alice", NULL },
	{ " { \"op\" : \"hello\" , \"proto\" : 1 , \"name\" : \"alice\" } ", "alice", NULL },
	/* a repeated member: the last one wins */
	{ "{\"op\":\"ping\",\"op\":\"hello\",\"proto\":1,\"name\":\"bob\",\"name\":\"alice\"}",
	  "alice", NULL },
};

START_TEST(test_handshake_accepted)
{
	const struct accept_case *tc = &accept_cases[_i];
	struct jt_conn *c = conn_new();
	char *name;

	send_line(c, tc->frame);
	name = expect_welcome(c, tc->id);
	ck_assert_str_eq(name, tc->name);
	free(name);
	jt_sync(c);
	assert_owns_name(c, tc->name);
}
END_TEST

START_TEST(test_handshake_anonymous)
{
	struct jt_conn *x1 = hello("anon-1"), *x2 = hello("anon-2");
	struct jt_conn *a = conn_new(), *b = conn_new();
	char *na, *nb;
	json_object *o;

	/* generated names never collide with names clients chose themselves */
	send_line(a, "{\"op\":\"hello\",\"proto\":1}");
	na = expect_welcome(a, NULL);
	send_line(b, "{\"op\":\"hello\",\"proto\":1,\"id\":\"b\"}");
	nb = expect_welcome(b, "\"b\"");
	assert_anon_name(na);
	assert_anon_name(nb);
	ck_assert_str_ne(na, nb);
	ck_assert_str_ne(na, "anon-1");
	ck_assert_str_ne(na, "anon-2");
	ck_assert_str_ne(nb, "anon-1");
	ck_assert_str_ne(nb, "anon-2");

	/* the generated names are real names: a reaches b by it, and b sees a's */
	jt_send(a, "{\"op\":\"send\",\"to\":\"%s\",\"data\":1,\"id\":1}", nb);
	json_object_put(jt_expect(a, "ok"));
	o = jt_expect(b, "msg");
	ck_assert_str_eq(jt_str(o, "from"), na);
	ck_assert_str_eq(jt_str(o, "to"), nb);
	json_object_put(o);
	jt_sync(a);
	jt_sync(b);
	jt_sync(x1);
	jt_sync(x2);
	free(na);
	free(nb);
}
END_TEST

/* section: rejected hellos */

struct reject_case {
	const char *frame;
	const char *code;
	const char *id;   /* raw id the error must echo; NULL: no id */
	bool any_id;      /* the id is not checked */
};

#define NAME65 NAME64 "x"

static const struct reject_case reject_cases[] = {
	{ "hello", "handshake_required", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1", "handshake_required", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1}x", "handshake_required", NULL, false },
	{ "[1]", "handshake_required", NULL, false },
	{ "\"hello\"", "handshake_required", NULL, false },
	{ "3", "handshake_required", NULL, false },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1}", "handshake_required", NULL, false },
	{ "{\"op\":\"ping\",\"id\":1}", "handshake_required", NULL, true },
	{ "{\"op\":\"bye\"}", "handshake_required", NULL, false },
	{ "{\"proto\":1,\"name\":\"x\"}", "handshake_required", NULL, false },
	{ "{\"op\":1,\"proto\":1}", "handshake_required", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"id\":[1]}", "handshake_required", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"id\":null}", "handshake_required", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"\xff\"}", "handshake_required", NULL, false },
	{ "{\"op\":\"hello\"}", "unsupported_proto", NULL, false },
	{ "{\"op\":\"hello\",\"name\":\"x\",\"id\":4}", "unsupported_proto", "4", false },
	{ "{\"op\":\"hello\",\"proto\":\"1\"}", "unsupported_proto", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":2,\"id\":\"p\"}", "unsupported_proto", "\"p\"", false },
	{ "{\"op\":\"hello\",\"proto\":0}", "unsupported_proto", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1.5}", "unsupported_proto", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":null}", "unsupported_proto", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":[1]}", "unsupported_proto", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":12,\"id\":5}", "bad_name", "5", false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":null}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":true}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":[\"a\"]}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"\"}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"" NAME65 "\"}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"a b\"}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"a/b\"}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"caf\xc3\xa9\"}", "bad_name", NULL, false },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"a\\u0000\"}", "bad_name", NULL, false },
};

START_TEST(test_handshake_rejected)
{
	const struct reject_case *tc = &reject_cases[_i];
	struct jt_conn *c = conn_new(), *other = hello("other");
	json_object *o;

	send_line(c, tc->frame);
	if (tc->any_id) {
		o = jt_expect_error(c, tc->code);
	} else {
		o = expect_error(c, tc->code, tc->id);
	}
	if (strcmp(tc->code, "unsupported_proto") == 0) {
		json_object *sup;

		ck_assert_msg(json_object_object_get_ex(o, "supported", &sup) &&
				      json_object_is_type(sup, json_type_array) &&
				      json_object_array_length(sup) == 1 &&
				      json_object_is_type(json_object_array_get_idx(sup, 0),
							  json_type_int) &&
				      json_object_get_int(json_object_array_get_idx(sup, 0)) == 1,
			      "supported is not [1]: %s", json_object_to_json_string(o));
	}
	json_object_put(o);
	jt_expect_eof(c, JT_TIMEOUT_MS);

	/* the rejection cost nobody else anything, and nothing was registered */
	jt_sync(other);
	assert_owns_name(other, "other");
	hello("x");
}
END_TEST

START_TEST(test_handshake_name_taken)
{
	struct jt_conn *holder = hello("x"), *c = conn_new();
	json_object *o;

	send_line(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"x\",\"id\":3}");
	o = expect_error(c, "name_taken", "3");
	ck_assert_msg(strstr(jt_str(o, "message"), "'x'"), "message does not name 'x': %s",
		      jt_str(o, "message"));
	json_object_put(o);
	jt_expect_eof(c, JT_TIMEOUT_MS);

	/* the holder keeps both its connection and its name */
	jt_sync(holder);
	assert_owns_name(holder, "x");
}
END_TEST

/* A name is free again once its holder left by bye, as soon as the holder saw the close. */
START_TEST(test_handshake_name_free_after_bye)
{
	struct jt_conn *holder = hello("x"), *c;

	send_line(holder, "{\"op\":\"bye\"}");
	jt_expect_eof(holder, JT_TIMEOUT_MS);
	c = hello("x");
	jt_sync(c);
	assert_owns_name(c, "x");
}
END_TEST

/* The same after the holder half-closed: the broker flushes, closes and forgets the name. */
START_TEST(test_handshake_name_free_after_eof)
{
	struct jt_conn *holder = hello("x"), *c;

	ck_assert_int_eq(shutdown(holder->fd, SHUT_WR), 0);
	jt_expect_eof(holder, JT_TIMEOUT_MS);
	c = hello("x");
	jt_sync(c);
	assert_owns_name(c, "x");
}
END_TEST

START_TEST(test_handshake_second_hello)
{
	struct jt_conn *c = hello("first");
	struct jt_conn *peer = hello("peer");

	send_line(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"second\",\"id\":4}");
	json_object_put(expect_error(c, "bad_frame", "4"));
	jt_sync(c);

	/* the connection kept its first name and did not take the second */
	send_line(peer, "{\"op\":\"send\",\"to\":\"second\",\"id\":9}");
	json_object_put(expect_error(peer, "no_such_client", "9"));
	assert_owns_name(c, "first");
	jt_sync(peer);
}
END_TEST

/* section: timeout */

START_TEST(test_handshake_timeout_silent)
{
	struct jt_conn *c = conn_new();

	json_object_put(expect_error(c, "timeout", NULL));
	jt_expect_eof(c, JT_TIMEOUT_MS);
	jt_sync(hello("after"));
}
END_TEST

START_TEST(test_handshake_timeout_partial)
{
	struct jt_conn *c = conn_new(), *d = conn_new();
	static const char part[] = "{\"op\":\"hello\",\"proto\":1";

	/* half a hello, and lines with nothing in them, are no hello */
	jt_send_raw(c, part, sizeof(part) - 1);
	jt_send_raw(d, "\n \r\n\t\n", 6);
	json_object_put(expect_error(c, "timeout", NULL));
	jt_expect_eof(c, JT_TIMEOUT_MS);
	json_object_put(expect_error(d, "timeout", NULL));
	jt_expect_eof(d, JT_TIMEOUT_MS);
}
END_TEST

/*
 * A client that completed its hello is not timed out: a later connection
 * timing out proves the first one's deadline has passed too.
 */
START_TEST(test_handshake_timeout_not_after_welcome)
{
	struct jt_conn *a = hello("a"), *late = conn_new();

	json_object_put(expect_error(late, "timeout", NULL));
	jt_expect_eof(late, JT_TIMEOUT_MS);
	jt_sync(a);
	assert_owns_name(a, "a");
}
END_TEST

/* section: line endings */

START_TEST(test_handshake_blank_lines_crlf)
{
	struct jt_conn *c = conn_new();
	static const char hs[] =
		"\r\n  \t\r\n{\"op\":\"hello\",\"proto\":1,\"name\":\"crlf\",\"id\":1}\r\n";
	static const char ping[] = "\n \r\n\t\t\n{\"op\":\"ping\",\"id\":2}\r\n\r\n  \n";
	char *name, *line;

	jt_send_raw(c, hs, sizeof(hs) - 1);
	name = expect_welcome(c, "1");
	ck_assert_str_eq(name, "crlf");
	free(name);
	jt_send_raw(c, ping, sizeof(ping) - 1);
	line = jt_line(c, JT_TIMEOUT_MS);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "{\"op\":\"pong\",\"id\":2}");
	free(line);
	/* the blank lines produced no frame of their own */
	jt_sync(c);
	assert_owns_name(c, "crlf");
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("handshake");
	struct {
		const char *name;
		const TTest *test;
		int loops;
		bool timeout;
	} cases[] = {
		{ "accepted", test_handshake_accepted,
		  (int)(sizeof(accept_cases) / sizeof(accept_cases[0])), false },
		{ "anonymous", test_handshake_anonymous, 0, false },
		{ "rejected", test_handshake_rejected,
		  (int)(sizeof(reject_cases) / sizeof(reject_cases[0])), false },
		{ "name_taken", test_handshake_name_taken, 0, false },
		{ "name_free_after_bye", test_handshake_name_free_after_bye, 0, false },
		{ "name_free_after_eof", test_handshake_name_free_after_eof, 0, false },
		{ "second_hello", test_handshake_second_hello, 0, false },
		{ "blank_lines_crlf", test_handshake_blank_lines_crlf, 0, false },
		{ "timeout_silent", test_handshake_timeout_silent, 0, true },
		{ "timeout_partial", test_handshake_timeout_partial, 0, true },
		{ "timeout_not_after_welcome", test_handshake_timeout_not_after_welcome, 0, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, cases[i].timeout ? setup_timeout : setup, teardown);
		tcase_set_timeout(tc, 30);
		if (cases[i].loops)
			tcase_add_loop_test(tc, cases[i].test, 0, cases[i].loops);
		else
			tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}
