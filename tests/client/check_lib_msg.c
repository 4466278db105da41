/*
 * libjbus messages against the real jbusd: what publish and send put on
 * the wire (the caller's JSON text byte for byte, json-c objects plain),
 * what a callback receives (its userdata; topic, sender, recipient, the
 * exact data text and frame, the parsed JSON), several matching patterns
 * each called once, patterns replaced and removed, unsubscribing and
 * closing the handle from inside a callback, the delivered count of
 * synchronous publishes, and blocking calls refused inside callbacks.
 *
 * Library handles live in lt.h's fixture-owned table, so that a failed
 * assertion (a longjmp with CK_FORK=no) still leaves them to teardown.
 * Nothing sleeps: "nothing else arrived" is shown by a ping round trip
 * (every frame the broker queued before the pong was dispatched first).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lt.h"

#define REC_MAGIC 0x6a627573u

/* section: recording callbacks */

struct rec {
	unsigned magic;
	int calls;
	jbus_conn *c;
	bool topic_null, to_null;
	char topic[1100], from[80], to[80];
	char data[1100];
	size_t data_len;
	char frame[1200];
	size_t frame_len;
	json_type jtype;
	char jtext[1100]; /* a string's value, else json-c's rendering */
};

#define REC_INIT { .magic = REC_MAGIC }

static void record(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct rec *r = userdata;
	const char *d, *f;
	json_object *j;
	size_t n;

	ck_assert_uint_eq(r->magic, REC_MAGIC); /* the userdata given at registration */
	r->calls++;
	r->c = c;
	r->topic_null = jbus_msg_topic(m) == NULL;
	jt_fmt(r->topic, sizeof(r->topic), "%s", r->topic_null ? "" : jbus_msg_topic(m));
	ck_assert_ptr_nonnull(jbus_msg_from(m));
	jt_fmt(r->from, sizeof(r->from), "%s", jbus_msg_from(m));
	r->to_null = jbus_msg_to(m) == NULL;
	jt_fmt(r->to, sizeof(r->to), "%s", r->to_null ? "" : jbus_msg_to(m));
	d = jbus_msg_data(m, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(strlen(d), n); /* NUL-terminated, and no NUL inside JSON text */
	ck_assert_ptr_eq(jbus_msg_data(m, NULL), d);
	jt_fmt(r->data, sizeof(r->data), "%s", d);
	r->data_len = n;
	f = jbus_msg_frame(m, &n);
	ck_assert_uint_eq(strlen(f), n);
	jt_fmt(r->frame, sizeof(r->frame), "%s", f);
	r->frame_len = n;
	j = jbus_msg_json(m);
	ck_assert_ptr_eq(jbus_msg_json(m), j); /* parsed once, owned by the message */
	r->jtype = json_object_get_type(j);
	if (r->jtype == json_type_string)
		jt_fmt(r->jtext, sizeof(r->jtext), "%s", json_object_get_string(j));
	else
		jt_fmt(r->jtext, sizeof(r->jtext), "%s",
		       json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
}

/* section: publishing */

/* jbus_publish_text sends the caller's bytes; line breaks become spaces. */
START_TEST(test_lib_publish_text_exact)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "123456789012345678901234567890", NULL },
		{ "\"\\u00e9\"", NULL },
		{ "\"caf\xc3\xa9\"", NULL },
		{ "1.50", NULL },
		{ "-0e+0", NULL },
		{ "\"a\\/b\"", NULL },
		{ "{ \"a\" : [1, 2.50] , \"a\":null }", NULL },
		{ "{\"k\":\n1,\r\n\"j\":2}", "{\"k\": 1,  \"j\":2}" },
		/* whitespace around the value is not part of it; inside, it is kept */
		{ "  [ ]  ", "[ ]" },
	};
	struct jt_conn *w = jt_sub(jt_client("w"), "x/#");
	jbus_conn *c = lt_new("lib");
	char want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(jbus_publish_text(c, "x/t", cases[i].text, -1), 0);
		ck_assert_int_eq(jbus_conn_flush(c, JT_TIMEOUT_MS), 0);
		snprintf(want, sizeof(want),
			 "{\"op\":\"msg\",\"topic\":\"x/t\",\"from\":\"lib\",\"data\":%s}",
			 cases[i].want ? cases[i].want : cases[i].text);
		jt_expect_line(w, want);
	}
	/* an explicit length: only that prefix */
	ck_assert_int_eq(jbus_publish_text(c, "x/len", "[1,2]garbage", 5), 0);
	/* NULL: null */
	ck_assert_int_eq(jbus_publish_text(c, "x/null", NULL, -1), 0);
	ck_assert_int_eq(jbus_publish(c, "x/null", NULL), 0);
	/* not one JSON value: refused, nothing sent */
	ck_assert_int_eq(jbus_publish_text(c, "x/bad", "{", -1), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_publish_text(c, "x/bad", "1 2", -1), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_publish_text(c, "x/bad", "", -1), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_publish_text(c, "x/bad", "\"\xff\"", -1), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_publish_text(c, "x/bad", "[1,2]garbage", 6), JBUS_E_BAD_JSON);
	ck_assert_int_eq(jbus_publish_text(c, "x/end", "0", -1), 0);
	ck_assert_int_eq(jbus_conn_flush(c, JT_TIMEOUT_MS), 0);
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"x/len\",\"from\":\"lib\",\"data\":[1,2]}");
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"x/null\",\"from\":\"lib\",\"data\":null}");
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"x/null\",\"from\":\"lib\",\"data\":null}");
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"x/end\",\"from\":\"lib\",\"data\":0}");
}
END_TEST

/* jbus_publish / jbus_send serialise a json-c object (plain, '/' not escaped). */
START_TEST(test_lib_publish_object)
{
	struct jt_conn *w = jt_sub(jt_client("w"), "o/#");
	jbus_conn *c = lt_new("lib");
	json_object *o =
		json_tokener_parse("{\"k\":\"a/b\",\"n\":[1,true,null],\"s\":\"\\u00e9\"}");

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(jbus_publish(c, "o/1", o), 0);
	ck_assert_int_eq(jbus_send(c, "w", o), 0);
	/* borrowed: still ours, unchanged */
	ck_assert_int_eq(json_object_put(o), 1);
	ck_assert_int_eq(jbus_conn_flush(c, JT_TIMEOUT_MS), 0);
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"o/1\",\"from\":\"lib\","
			  "\"data\":{\"k\":\"a/b\",\"n\":[1,true,null],\"s\":\"\xc3\xa9\"}}");
	jt_expect_line(w, "{\"op\":\"msg\",\"from\":\"lib\",\"to\":\"w\","
			  "\"data\":{\"k\":\"a/b\",\"n\":[1,true,null],\"s\":\"\xc3\xa9\"}}");
}
END_TEST

/* section: receiving */

/* What a subscription callback sees of a message a raw client published. */
START_TEST(test_lib_msg_accessors)
{
	static const struct {
		const char *data;
		json_type jtype;
		const char *jtext; /* NULL: neither compared */
	} cases[] = {
		{ "123456789012345678901234567890", json_type_int, NULL },
		{ "\"\\u00e9\"", json_type_string, "\xc3\xa9" },
		{ "{ \"a\" : [1, 2.50] }", json_type_object, "{\"a\":[1,2.50]}" },
		{ "\"x\\ny\"", json_type_string, "x\ny" },
		{ "null", json_type_null, "null" },
		{ "-12", json_type_int, "-12" },
	};
	struct jt_conn *p = jt_client("rawpub");
	jbus_conn *c = lt_new("lib");
	struct rec r = REC_INIT, other = REC_INIT;
	char want[1200];

	jbus_conn_on_message(c, record, &other);
	ck_assert_int_eq(jbus_subscribe_sync(c, "m/#", record, &r, JT_TIMEOUT_MS), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		jt_send(p, "{\"op\":\"pub\",\"topic\":\"m/%zu\",\"data\":%s}", i, cases[i].data);
		lt_wait_count(c, &r.calls, (int)i + 1);
		ck_assert_ptr_eq(r.c, c);
		ck_assert(!r.topic_null);
		snprintf(want, sizeof(want), "m/%zu", i);
		ck_assert_str_eq(r.topic, want);
		ck_assert_str_eq(r.from, "rawpub");
		ck_assert(r.to_null);
		ck_assert_str_eq(r.data, cases[i].data);
		ck_assert_uint_eq(r.data_len, strlen(cases[i].data));
		snprintf(want, sizeof(want),
			 "{\"op\":\"msg\",\"topic\":\"m/%zu\",\"from\":\"rawpub\",\"data\":%s}", i,
			 cases[i].data);
		ck_assert_str_eq(r.frame, want);
		ck_assert_uint_eq(r.frame_len, strlen(want));
		if (cases[i].jtext) {
			ck_assert_int_eq(r.jtype, cases[i].jtype);
			ck_assert_str_eq(r.jtext, cases[i].jtext);
		} else {
			/* json-c's own choice for what it cannot hold; parsed all the same */
			ck_assert_int_ne(r.jtype, json_type_null);
		}
	}
	/* the topic arrives re-encoded by the broker: "m\/x" is m/x */
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"m\\/x\",\"data\":1}");
	lt_wait_count(c, &r.calls, (int)(sizeof(cases) / sizeof(cases[0])) + 1);
	ck_assert_str_eq(r.topic, "m/x");
	/* a topic the broker escapes, and one beyond ASCII: read by the full scan, alike */
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"m/\\\"q\\\"\",\"data\":[2]}");
	lt_wait_count(c, &r.calls, (int)(sizeof(cases) / sizeof(cases[0])) + 2);
	ck_assert_str_eq(r.topic, "m/\"q\"");
	ck_assert_str_eq(r.data, "[2]");
	ck_assert_str_eq(r.from, "rawpub");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"m/caf\xc3\xa9\",\"data\":3}");
	lt_wait_count(c, &r.calls, (int)(sizeof(cases) / sizeof(cases[0])) + 3);
	ck_assert_str_eq(r.topic, "m/caf\xc3\xa9");
	ck_assert_str_eq(r.data, "3");
	ck_assert_int_eq(other.calls, 0);
}
END_TEST

/* Direct messages reach jbus_conn_on_message, with the recipient and no topic. */
START_TEST(test_lib_direct)
{
	struct jt_conn *p = jt_client("rawpub");
	jbus_conn *c = lt_new("lib"), *peer = lt_new("peer");
	struct rec r = REC_INIT, pr = REC_INIT;

	jbus_conn_on_message(c, record, &r);
	jbus_conn_on_message(peer, record, &pr);
	jt_send(p, "{\"op\":\"send\",\"to\":\"lib\",\"data\":[1, 123456789012345678901234567890]}");
	lt_wait_count(c, &r.calls, 1);
	ck_assert(r.topic_null);
	ck_assert_str_eq(r.from, "rawpub");
	ck_assert(!r.to_null);
	ck_assert_str_eq(r.to, "lib");
	ck_assert_str_eq(r.data, "[1, 123456789012345678901234567890]");
	ck_assert_str_eq(r.frame, "{\"op\":\"msg\",\"from\":\"rawpub\",\"to\":\"lib\","
				  "\"data\":[1, 123456789012345678901234567890]}");
	ck_assert_int_eq(r.jtype, json_type_array);

	/* library to library, and to itself */
	ck_assert_int_eq(jbus_send_text(c, "peer", "\"\\u00e9\"", -1), 0);
	ck_assert_int_eq(jbus_conn_flush(c, JT_TIMEOUT_MS), 0);
	lt_wait_count(peer, &pr.calls, 1);
	ck_assert_str_eq(pr.data, "\"\\u00e9\"");
	ck_assert_str_eq(pr.jtext, "\xc3\xa9");
	ck_assert_int_eq(jbus_send(c, "lib", NULL), 0);
	ck_assert_int_eq(jbus_send_sync(c, "peer", NULL, JT_TIMEOUT_MS), 0);
	lt_wait_count(c, &r.calls, 2);
	ck_assert_str_eq(r.from, "lib");
	ck_assert_str_eq(r.to, "lib");
	ck_assert_str_eq(r.data, "null");
	lt_wait_count(peer, &pr.calls, 2);
	ck_assert_str_eq(pr.data, "null"); /* the second, sync one */
	ck_assert_str_eq(pr.from, "lib");
	ck_assert_str_eq(pr.to, "peer");
}
END_TEST

/* Removes another pattern and its own, from inside dispatch. */
static void unsub_self(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct rec *r = userdata;

	record(c, m, userdata);
	ck_assert_int_eq(r->calls, 1);
	ck_assert_int_eq(jbus_unsubscribe(c, "v/+"), 0);
	ck_assert_int_eq(jbus_unsubscribe(c, "v/#"), 0);
}

/* Each of several matching patterns runs once; replacing and removing patterns. */
START_TEST(test_lib_subscribe_overlap)
{
	struct rec all = REC_INIT, plus = REC_INIT, exact = REC_INIT, exact2 = REC_INIT,
		   def = REC_INIT;
	jbus_conn *c = lt_new("lib"), *p = lt_new("pub");
	unsigned long long delivered = 99;

	jbus_conn_on_message(c, record, &def);
	ck_assert_int_eq(jbus_subscribe(c, "o/#", record, &all), 0);
	ck_assert_int_eq(jbus_subscribe(c, "o/+", record, &plus), 0);
	ck_assert_int_eq(jbus_subscribe_sync(c, "o/a", record, &exact, JT_TIMEOUT_MS), 0);

	/* one message from the broker, three callbacks */
	ck_assert_int_eq(jbus_publish_sync(p, "o/a", NULL, JT_TIMEOUT_MS, &delivered), 0);
	ck_assert_uint_eq(delivered, 1);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(all.calls, 1);
	ck_assert_int_eq(plus.calls, 1);
	ck_assert_int_eq(exact.calls, 1);
	ck_assert_int_eq(def.calls, 0);

	ck_assert_int_eq(jbus_publish_text_sync(p, "o/a/b", "7", -1, JT_TIMEOUT_MS, &delivered), 0);
	ck_assert_uint_eq(delivered, 1);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(all.calls, 2);
	ck_assert_str_eq(all.topic, "o/a/b");
	ck_assert_int_eq(plus.calls, 1);
	ck_assert_int_eq(exact.calls, 1);

	/* subscribing again replaces the callback and its userdata */
	ck_assert_int_eq(jbus_subscribe_sync(c, "o/a", record, &exact2, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_unsubscribe(c, "o/+"), 0);
	ck_assert_int_eq(jbus_unsubscribe(c, "not/held"), 0);
	ck_assert_int_eq(jbus_unsubscribe(c, "a+"), JBUS_E_BAD_TOPIC);
	ck_assert_int_eq(jbus_publish_sync(p, "o/a", NULL, JT_TIMEOUT_MS, &delivered), 0);
	ck_assert_uint_eq(delivered, 1);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(all.calls, 3);
	ck_assert_int_eq(plus.calls, 1);
	ck_assert_int_eq(exact.calls, 1);
	ck_assert_int_eq(exact2.calls, 1);

	/* the broker forgets them too: nothing is delivered any more */
	ck_assert_int_eq(jbus_unsubscribe(c, "o/#"), 0);
	ck_assert_int_eq(jbus_unsubscribe(c, "o/a"), 0);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_publish_sync(p, "o/a", NULL, JT_TIMEOUT_MS, &delivered), 0);
	ck_assert_uint_eq(delivered, 0);
}
END_TEST

/* A callback may unsubscribe its own pattern and others while dispatch iterates them. */
START_TEST(test_lib_unsubscribe_in_callback)
{
	static const char three[] = "{\"op\":\"pub\",\"topic\":\"v/1\",\"data\":1}\n"
				    "{\"op\":\"pub\",\"topic\":\"v/2\",\"data\":2}\n"
				    "{\"op\":\"pub\",\"topic\":\"v/3\",\"data\":3,\"id\":9}\n";
	struct jt_conn *p = jt_client("rawpub");
	struct rec self = REC_INIT, victim = REC_INIT, def = REC_INIT;
	jbus_conn *c = lt_new("lib");
	json_object *o;

	jbus_conn_on_message(c, record, &def);
	/* table order: v/# runs first and removes v/+ before its turn */
	ck_assert_int_eq(jbus_subscribe(c, "v/#", unsub_self, &self), 0);
	ck_assert_int_eq(jbus_subscribe_sync(c, "v/+", record, &victim, JT_TIMEOUT_MS), 0);
	/* three messages queued to c before it reads any of them */
	jt_send_raw(p, three, strlen(three));
	o = jt_expect(p, "ok");
	ck_assert_int_eq(jt_int(o, "delivered"), 1);
	json_object_put(o);
	ck_assert_int_eq(jbus_ping(c, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(self.calls, 1);
	ck_assert_int_eq(victim.calls, 0); /* removed before its turn */
	/* the broker had already queued v/2 and v/3: nobody claims them now */
	ck_assert_int_eq(def.calls, 2);
	ck_assert_str_eq(def.data, "3");
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"v/4\",\"id\":10}");
	o = jt_expect(p, "ok");
	ck_assert_int_eq(jt_int(o, "delivered"), 0);
	json_object_put(o);
}
END_TEST

static void close_self(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct rec *r = userdata;

	r->calls++;
	ck_assert_int_eq(jbus_conn_close(c, 0), 0);
	/* still usable until the callback returns */
	ck_assert_str_eq(jbus_msg_data(m, NULL), "1");
}

/* jbus_conn_close from a callback: the rest of the batch is not delivered,
 * the handle is freed when dispatch returns, and the broker got a bye. */
START_TEST(test_lib_close_in_callback)
{
	static const char two[] = "{\"op\":\"pub\",\"topic\":\"k/1\",\"data\":1}\n"
				  "{\"op\":\"pub\",\"topic\":\"k/2\",\"data\":2}\n";
	struct jt_conn *p = jt_client("rawpub");
	struct rec r = REC_INIT;
	jbus_conn *c = lt_new("closer"), *q = lt_new("q");
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	int n;

	ck_assert_int_eq(jbus_subscribe_sync(c, "k/#", close_self, &r, JT_TIMEOUT_MS), 0);
	jt_send_raw(p, two, strlen(two));
	jt_sync(p);
	lt_untrack(c); /* the callback frees it */
	while (!r.calls) {
		struct pollfd pfd = { .fd = jbus_conn_get_fd(c),
				      .events = jbus_conn_get_events(c) };
		int64_t left = deadline - jt_now_ms();

		ck_assert_msg(left > 0, "no message within %d ms", JT_TIMEOUT_MS);
		poll(&pfd, 1, (int)left);
		n = jbus_conn_dispatch(c); /* c is gone after the call that ran close_self */
		ck_assert_int_ge(n, 0);
	}
	ck_assert_int_eq(r.calls, 1);
	/* the broker releases "closer" once it reads the bye */
	deadline = jt_now_ms() + JT_TIMEOUT_MS;
	while ((n = jbus_send_sync(q, "closer", NULL, JT_TIMEOUT_MS)) == 0)
		ck_assert_msg(jt_now_ms() < deadline, "closer still connected");
	ck_assert_int_eq(n, JBUS_E_BROKER);
}
END_TEST

/*
 * The same while a blocking helper runs the dispatch: a message for the
 * closing callback arrives during jbus_ping, jbus_conn_flush or
 * jbus_publish_sync. The helper must return without touching the freed
 * handle (what it returns is not specified; AddressSanitizer sees the rest).
 */
START_TEST(test_lib_close_in_callback_blocking)
{
	struct jt_conn *p = jt_client("rawpub");
	struct rec r = REC_INIT;
	jbus_conn *c = lt_new("closer");
	int res = 0;

	ck_assert_int_eq(jbus_subscribe_sync(c, "k", close_self, &r, JT_TIMEOUT_MS), 0);
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"k\",\"data\":1}");
	jt_sync(p); /* queued to c before its helper starts */
	lt_untrack(c);
	switch (_i) {
	case 0:
		res = jbus_ping(c, JT_TIMEOUT_MS);
		break;
	case 1: {
		/* a flush that is done at once does not read, so only one that has to
		 * wait runs the callback: the broker frozen, more than the socket holds */
		size_t n = 900 * 1024;
		char *big = malloc(n + 3);

		ck_assert_ptr_nonnull(big);
		jt_broker_freeze(&jt_b);
		big[0] = '"';
		memset(big + 1, 'x', n);
		big[n + 1] = '"';
		big[n + 2] = '\0';
		ck_assert_int_eq(jbus_publish_text(c, "elsewhere", big, -1), 0);
		free(big);
		res = jbus_conn_flush(c, JT_TIMEOUT_MS);
		jt_broker_thaw(&jt_b);
		break;
	}
	case 2:
		res = jbus_publish_sync(c, "elsewhere", NULL, JT_TIMEOUT_MS, NULL);
		break;
	}
	ck_assert_int_eq(r.calls, 1);
	(void)res;
}
END_TEST

/* publish_sync reports how many clients the message reached; messages
 * arriving meanwhile are dispatched. */
START_TEST(test_lib_sync_delivered)
{
	struct rec mine = REC_INIT, s1r = REC_INIT;
	jbus_conn *c = lt_new("lib"), *s1 = lt_new("s1");
	struct jt_conn *w = jt_sub(jt_client("w"), "d/#");
	unsigned long long delivered = 99;

	ck_assert_int_eq(jbus_publish_sync(c, "none/here", NULL, JT_TIMEOUT_MS, &delivered), 0);
	ck_assert_uint_eq(delivered, 0);
	ck_assert_int_eq(jbus_publish_sync(c, "d/1", NULL, JT_TIMEOUT_MS, NULL), 0);
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"d/1\",\"from\":\"lib\",\"data\":null}");
	ck_assert_int_eq(jbus_subscribe_sync(s1, "d/+", record, &s1r, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_subscribe_sync(c, "d/#", record, &mine, JT_TIMEOUT_MS), 0);
	ck_assert_int_eq(jbus_publish_text_sync(c, "d/2", "123456789012345678901234567890", -1,
						JT_TIMEOUT_MS, &delivered), 0);
	ck_assert_uint_eq(delivered, 3);
	/* our own copy was queued before the ok: it was dispatched during the call */
	ck_assert_int_eq(mine.calls, 1);
	ck_assert_str_eq(mine.data, "123456789012345678901234567890");
	lt_wait_count(s1, &s1r.calls, 1);
	ck_assert_str_eq(s1r.data, "123456789012345678901234567890");
	jt_expect_line(w, "{\"op\":\"msg\",\"topic\":\"d/2\",\"from\":\"lib\","
			  "\"data\":123456789012345678901234567890}");
}
END_TEST

struct busy {
	unsigned magic;
	int calls;
	int r[10];
};

static void call_blocking(jbus_conn *c, const jbus_msg *m, void *userdata)
{
	struct busy *b = userdata;
	unsigned long long d;

	ck_assert_uint_eq(b->magic, REC_MAGIC);
	b->calls++;
	b->r[0] = jbus_ping(c, 100);
	b->r[1] = jbus_conn_wait(c, 100);
	b->r[2] = jbus_conn_flush(c, 100);
	b->r[3] = jbus_publish_sync(c, "e/x", NULL, 100, &d);
	b->r[4] = jbus_publish_text_sync(c, "e/x", "1", -1, 100, &d);
	b->r[5] = jbus_send_sync(c, "lib", NULL, 100);
	b->r[6] = jbus_subscribe_sync(c, "e/y", lt_ignore, NULL, 100);
	b->r[7] = jbus_conn_dispatch(c);
	/* non-blocking operations are fine, and go out with this dispatch */
	b->r[8] = jbus_publish_text(c, "echo/1", jbus_msg_data(m, NULL), -1);
	b->r[9] = jbus_subscribe(c, "e/z", lt_ignore, NULL);
}

/* Blocking helpers from inside a callback return -EBUSY instead of nesting. */
START_TEST(test_lib_blocking_in_callback)
{
	struct busy b = { .magic = REC_MAGIC };
	struct jt_conn *w = jt_sub(jt_client("w"), "echo/#"), *p = jt_client("rawpub");
	jbus_conn *c = lt_new("lib");

	ck_assert_int_eq(jbus_subscribe_sync(c, "in", call_blocking, &b, JT_TIMEOUT_MS), 0);
	jt_send(p, "{\"op\":\"pub\",\"topic\":\"in\",\"data\":[\"x\"]}");
	lt_wait_count(c, &b.calls, 1);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(b.r[i] == -EBUSY, "call %d returned %s", i, jbus_error_name(b.r[i]));
	ck_assert_int_eq(b.r[8], 0);
	ck_assert_int_eq(b.r[9], 0);
	/* written by the dispatch that ran the callback, without another call */
	jt_expect_line(w,
		       "{\"op\":\"msg\",\"topic\":\"echo/1\",\"from\":\"lib\",\"data\":[\"x\"]}");
	ck_assert_str_eq(jbus_strerror(-EBUSY), "blocking call made from inside a callback");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "publish_text_exact", test_lib_publish_text_exact },
		{ "publish_object", test_lib_publish_object },
		{ "msg_accessors", test_lib_msg_accessors },
		{ "direct", test_lib_direct },
		{ "subscribe_overlap", test_lib_subscribe_overlap },
		{ "unsubscribe_in_callback", test_lib_unsubscribe_in_callback },
		{ "close_in_callback", test_lib_close_in_callback },
		{ "close_in_callback_blocking", test_lib_close_in_callback_blocking, 3 },
		{ "sync_delivered", test_lib_sync_delivered },
		{ "blocking_in_callback", test_lib_blocking_in_callback },
	};
	Suite *s = suite_create("lib_msg");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, lt_teardown, 30);
	return s;
}
