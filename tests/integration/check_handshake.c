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
#include "util.h"

/* section: fixture and helpers */

static void setup_timeout(void)
{
	static const char *const args[] = { "--handshake-timeout", "0.2", NULL };

	jt_broker_start_args(&jt_b, args);
}

/* Welcome fields every accepted hello gets; returns the name (caller frees). */
static char *expect_welcome(struct jt_conn *c, const char *id)
{
	char *raw, *name;
	json_object *o = jt_frame_raw(c, &raw);

	ck_assert_msg(jt_str(o, "op") && strcmp(jt_str(o, "op"), "welcome") == 0,
		      "expected welcome, got %s", raw);
	ck_assert_int_eq(jt_int(o, "proto"), 1);
	ck_assert_ptr_nonnull(jt_str(o, "name"));
	ck_assert_ptr_nonnull(jt_str(o, "broker"));
	ck_assert_msg(strncmp(jt_str(o, "broker"), "jbusd ", 6) == 0 && jt_str(o, "broker")[6],
		      "broker field %s", raw);
	ck_assert_int_eq(jt_int(o, "max_frame"), 1048576);
	jt_assert_id(o, raw, id);
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
	struct jt_conn *peer = jt_client(NULL);
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
	struct jt_conn *c = jt_connect(jt_b.path);
	char *name;

	jt_send(c, "%s", tc->frame);
	name = expect_welcome(c, tc->id);
	ck_assert_str_eq(name, tc->name);
	free(name);
	jt_sync(c);
	assert_owns_name(c, tc->name);
}
END_TEST

START_TEST(test_handshake_anonymous)
{
	struct jt_conn *x1 = jt_client("anon-1"), *x2 = jt_client("anon-2");
	struct jt_conn *a = jt_connect(jt_b.path), *b = jt_connect(jt_b.path);
	char *na, *nb;
	json_object *o;

	/* generated names never collide with names clients chose themselves */
	jt_send(a, "{\"op\":\"hello\",\"proto\":1}");
	na = expect_welcome(a, NULL);
	jt_send(b, "{\"op\":\"hello\",\"proto\":1,\"id\":\"b\"}");
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
	const char *id;    /* raw id the error must echo; NULL: no id member at all */
	const char *field; /* named in the message as 'field'; NULL: not checked */
};

#define NAME65 NAME64 "x"
#define HS_REQ "handshake_required"

static const struct reject_case reject_cases[] = {
	/* not a well-formed object: nothing in it is trusted, an id inside included */
	{ "hello", HS_REQ, NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1", HS_REQ, NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1}x", HS_REQ, NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1", HS_REQ, NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1}x", HS_REQ, NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1,\"x\":\"\xff\"}", HS_REQ, NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"\xff\"}", HS_REQ, NULL, NULL },
	{ "[1]", HS_REQ, NULL, NULL },
	{ "[{\"op\":\"ping\",\"id\":1}]", HS_REQ, NULL, NULL },
	{ "\"hello\"", HS_REQ, NULL, NULL },
	{ "3", HS_REQ, NULL, NULL },
	/* well formed but no hello: a valid id is echoed with its exact bytes */
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"data\":1}", HS_REQ, NULL, NULL },
	{ "{\"op\":\"ping\",\"id\":1}", HS_REQ, "1", NULL },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"id\":\"x\"}", HS_REQ, "\"x\"", NULL },
	{ "{\"op\":\"bye\"}", HS_REQ, NULL, NULL },
	{ "{\"op\":\"bye\",\"id\":1.50}", HS_REQ, "1.50", NULL },
	{ "{\"proto\":1,\"name\":\"x\"}", HS_REQ, NULL, NULL },
	{ "{\"proto\":1,\"name\":\"x\",\"id\":-0}", HS_REQ, "-0", NULL },
	{ "{\"op\":1,\"proto\":1}", HS_REQ, NULL, NULL },
	{ "{\"op\":null,\"proto\":1,\"id\":\"\\u00e9\"}", HS_REQ, "\"\\u00e9\"", NULL },
	{ "{\"op\":\"HELLO\",\"proto\":1,\"id\":12345678901234567890123}", HS_REQ,
	  "12345678901234567890123", NULL },
	{ "{\"op\":\"ping\",\"id\":[1],\"id\":2}", HS_REQ, "2", NULL },
	/* an id that is neither number nor string is not echoed, hello or not */
	{ "{\"op\":\"hello\",\"proto\":1,\"id\":[1]}", HS_REQ, NULL, "id" },
	{ "{\"op\":\"hello\",\"proto\":1,\"id\":null}", HS_REQ, NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":[1]}", HS_REQ, NULL, "id" },
	{ "{\"op\":\"pub\",\"topic\":\"t\",\"id\":{}}", HS_REQ, NULL, "id" },
	{ "{\"op\":\"ping\",\"id\":1,\"id\":true}", HS_REQ, NULL, "id" },
	{ "{\"op\":\"hello\"}", "unsupported_proto", NULL, NULL },
	{ "{\"op\":\"hello\",\"name\":\"x\",\"id\":4}", "unsupported_proto", "4", NULL },
	{ "{\"op\":\"hello\",\"proto\":\"1\"}", "unsupported_proto", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":2,\"id\":\"p\"}", "unsupported_proto", "\"p\"", NULL },
	{ "{\"op\":\"hello\",\"proto\":0}", "unsupported_proto", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1.5}", "unsupported_proto", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":null}", "unsupported_proto", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":[1]}", "unsupported_proto", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":12,\"id\":5}", "bad_name", "5", NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":null}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":true}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":[\"a\"]}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"\"}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"" NAME65 "\"}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"a b\"}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"a/b\"}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"caf\xc3\xa9\"}", "bad_name", NULL, NULL },
	{ "{\"op\":\"hello\",\"proto\":1,\"name\":\"a\\u0000\"}", "bad_name", NULL, NULL },
};

START_TEST(test_handshake_rejected)
{
	const struct reject_case *tc = &reject_cases[_i];
	struct jt_conn *c = jt_connect(jt_b.path), *other = jt_client("other");
	json_object *o;

	jt_send(c, "%s", tc->frame);
	o = jt_expect_error_id(c, tc->code, tc->id, tc->field);
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
	/* the error frame and then the close, nothing else */
	jt_expect_eof_next(c);

	/* the rejection cost nobody else anything, and nothing was registered */
	jt_sync(other);
	assert_owns_name(other, "other");
	jt_client("x");
}
END_TEST

START_TEST(test_handshake_name_taken)
{
	struct jt_conn *holder = jt_client("x"), *c = jt_connect(jt_b.path);

	jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"x\",\"id\":3}");
	jt_expect_error_id(c, "name_taken", "3", "x");
	jt_expect_eof_next(c);

	/* the holder keeps both its connection and its name */
	jt_sync(holder);
	assert_owns_name(holder, "x");
}
END_TEST

/* A name is free again once its holder left by bye, as soon as the holder saw the close. */
START_TEST(test_handshake_name_free_after_bye)
{
	struct jt_conn *holder = jt_client("x"), *c;

	jt_send(holder, "{\"op\":\"bye\"}");
	jt_expect_eof(holder, JT_TIMEOUT_MS);
	c = jt_client("x");
	jt_sync(c);
	assert_owns_name(c, "x");
}
END_TEST

/* The same after the holder half-closed: the broker flushes, closes and forgets the name. */
START_TEST(test_handshake_name_free_after_eof)
{
	struct jt_conn *holder = jt_client("x"), *c;

	ck_assert_int_eq(shutdown(holder->fd, SHUT_WR), 0);
	jt_expect_eof(holder, JT_TIMEOUT_MS);
	c = jt_client("x");
	jt_sync(c);
	assert_owns_name(c, "x");
}
END_TEST

START_TEST(test_handshake_second_hello)
{
	struct jt_conn *c = jt_client("first");
	struct jt_conn *peer = jt_client("peer");

	jt_send(c, "{\"op\":\"hello\",\"proto\":1,\"name\":\"second\",\"id\":4}");
	jt_expect_error_id(c, "bad_frame", "4", NULL);
	jt_sync(c);

	/* the connection kept its first name and did not take the second */
	jt_send(peer, "{\"op\":\"send\",\"to\":\"second\",\"id\":9}");
	jt_expect_error_id(peer, "no_such_client", "9", NULL);
	assert_owns_name(c, "first");
	jt_sync(peer);
}
END_TEST

/* section: timeout */

START_TEST(test_handshake_timeout_silent)
{
	struct jt_conn *c = jt_connect(jt_b.path);

	jt_expect_error_id(c, "timeout", NULL, NULL);
	jt_expect_eof_next(c);
	jt_sync(jt_client("after"));
}
END_TEST

START_TEST(test_handshake_timeout_partial)
{
	struct jt_conn *c = jt_connect(jt_b.path), *d = jt_connect(jt_b.path);
	static const char part[] = "{\"op\":\"hello\",\"proto\":1";

	/* half a hello, and lines with nothing in them, are no hello */
	jt_send_raw(c, part, sizeof(part) - 1);
	jt_send_raw(d, "\n \r\n\t\n", 6);
	jt_expect_error_id(c, "timeout", NULL, NULL);
	jt_expect_eof_next(c);
	jt_expect_error_id(d, "timeout", NULL, NULL);
	jt_expect_eof_next(d);
}
END_TEST

/*
 * A client that completed its hello is not timed out: a later connection
 * timing out proves the first one's deadline has passed too.
 */
START_TEST(test_handshake_timeout_not_after_welcome)
{
	struct jt_conn *a = jt_client("a"), *late = jt_connect(jt_b.path);

	jt_expect_error_id(late, "timeout", NULL, NULL);
	jt_expect_eof_next(late);
	jt_sync(a);
	assert_owns_name(a, "a");
}
END_TEST

/* section: line endings */

START_TEST(test_handshake_blank_lines_crlf)
{
	struct jt_conn *c = jt_connect(jt_b.path);
	static const char hs[] =
		"\r\n  \t\r\n{\"op\":\"hello\",\"proto\":1,\"name\":\"crlf\",\"id\":1}\r\n";
	static const char ping[] = "\n \r\n\t\t\n{\"op\":\"ping\",\"id\":2}\r\n\r\n  \n";
	char *name;

	jt_send_raw(c, hs, sizeof(hs) - 1);
	name = expect_welcome(c, "1");
	ck_assert_str_eq(name, "crlf");
	free(name);
	jt_send_raw(c, ping, sizeof(ping) - 1);
	jt_expect_line(c, "{\"op\":\"pong\",\"id\":2}");
	/* the blank lines produced no frame of their own */
	jt_sync(c);
	assert_owns_name(c, "crlf");
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("handshake");
	const struct jt_case cases[] = {
		{ "accepted", test_handshake_accepted, ARRAY_SIZE(accept_cases) },
		{ "anonymous", test_handshake_anonymous },
		{ "rejected", test_handshake_rejected, ARRAY_SIZE(reject_cases) },
		{ "name_taken", test_handshake_name_taken },
		{ "name_free_after_bye", test_handshake_name_free_after_bye },
		{ "name_free_after_eof", test_handshake_name_free_after_eof },
		{ "second_hello", test_handshake_second_hello },
		{ "blank_lines_crlf", test_handshake_blank_lines_crlf },
	};
	/* on a broker whose handshake deadline is 0.2 s */
	const struct jt_case timeout_cases[] = {
		{ "timeout_silent", test_handshake_timeout_silent },
		{ "timeout_partial", test_handshake_timeout_partial },
		{ "timeout_not_after_welcome", test_handshake_timeout_not_after_welcome },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, jt_teardown, 30);
	jt_add_cases(s, timeout_cases, ARRAY_SIZE(timeout_cases), setup_timeout, jt_teardown, 30);
	return s;
}
