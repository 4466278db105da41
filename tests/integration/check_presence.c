/*
 * Wills and presence events through the real jbusd: $SYS/client/connected
 * and disconnected with their data and every reason, '$' topics kept from
 * '#' and '+', nothing for connections that never completed the handshake
 * or at shutdown; a will published for every end but bye (close, half-close,
 * SIGKILL of the process holding the connection, slow consumer,
 * frame_too_large), before the disconnected event, retained if asked; and
 * invalid wills refusing the handshake.
 *
 * "Nothing came" is proved without waiting: a later event on the same
 * connection must be the next frame.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define WILL_HELLO(name, will) \
	"{\"op\":\"hello\",\"proto\":1,\"name\":\"" name "\",\"will\":" will "}"

/* section: helpers */

/* A watcher of every presence event and of the wills on "will/#". */
static struct jt_conn *watcher(void)
{
	struct jt_conn *w = jt_client("w");

	jt_sub(w, "$SYS/#");
	jt_sub(w, "will/#");
	return w;
}

/* The next frame of w is the presence event of name (pid), with reason if not NULL. */
static void expect_event(struct jt_conn *w, const char *name, pid_t pid, const char *reason)
{
	char want[512], why[64] = "";

	if (reason)
		snprintf(why, sizeof(why), ",\"reason\":\"%s\"", reason);
	snprintf(want, sizeof(want),
		 "{\"op\":\"msg\",\"topic\":\"$SYS/client/%s\",\"from\":\"$SYS\",\"data\":"
		 "{\"name\":\"%s\",\"pid\":%d,\"uid\":%u,\"gid\":%u%s}}",
		 reason ? "disconnected" : "connected", name, (int)pid, (unsigned)geteuid(),
		 (unsigned)getegid(), why);
	jt_expect_line(w, want);
}

/* section: presence */

START_TEST(test_presence_events)
{
	struct jt_conn *w = watcher(), *a, *b, *n;
	char name[72];

	/* published with the welcome: before what the client sends right after its hello */
	jt_sub(w, "m");
	a = jt_connect(jt_b.path);
	jt_send(a, "{\"op\":\"hello\",\"proto\":1,\"name\":\"a\"}\n"
		   "{\"op\":\"pub\",\"topic\":\"m\",\"data\":1}");
	json_object_put(jt_expect(a, "welcome"));
	expect_event(w, "a", getpid(), NULL);
	jt_expect_msg(w, "m", "a", "1");
	jt_send(a, "{\"op\":\"bye\"}");
	jt_expect_eof_next(a);
	expect_event(w, "a", getpid(), "bye");

	b = jt_client("b");
	expect_event(w, "b", getpid(), NULL);
	jt_close(b);
	expect_event(w, "b", getpid(), "closed");

	/* a half-close is a close too (the client still gets what it is owed) */
	b = jt_client("b");
	expect_event(w, "b", getpid(), NULL);
	ck_assert_int_eq(shutdown(b->fd, SHUT_WR), 0);
	jt_expect_eof_next(b);
	expect_event(w, "b", getpid(), "closed");

	/* a generated name */
	n = jt_client(NULL);
	snprintf(name, sizeof(name), "%s", n->name);
	ck_assert_msg(strncmp(name, "anon-", 5) == 0, "name %s", name);
	expect_event(w, name, getpid(), NULL);
	jt_close(n);
	expect_event(w, name, getpid(), "closed");

	/* nobody else may publish on $SYS */
	jt_send(w, "{\"op\":\"pub\",\"topic\":\"$SYS/client/connected\",\"data\":{},\"id\":1}");
	jt_expect_error_id(w, "bad_topic", "1", NULL);
	jt_sync(w);
}
END_TEST

START_TEST(test_presence_process_killed)
{
	struct jt_conn *w = watcher();
	pid_t pid;

	/* the pid is the connecting process's, not the test's */
	pid = jt_holder_start("{\"op\":\"hello\",\"proto\":1,\"name\":\"k\"}");
	expect_event(w, "k", pid, NULL);
	jt_holder_kill();
	expect_event(w, "k", pid, "closed");
}
END_TEST

START_TEST(test_presence_only_dollar_patterns)
{
	struct jt_conn *s = jt_client("s"), *w = jt_client("w"), *b;

	jt_sub(s, "#");
	jt_sub(s, "+/client/connected");
	jt_sub(s, "+/+/+");
	jt_sub(w, "$SYS/client/+");
	b = jt_client("b");
	expect_event(w, "b", getpid(), NULL);
	/* the event went out before this pub: s would have had it first */
	jt_send(b, "{\"op\":\"pub\",\"topic\":\"x/y\",\"data\":2}");
	jt_expect_msg(s, "x/y", "b", "2");
	jt_send(b, "{\"op\":\"bye\"}");
	expect_event(w, "b", getpid(), "bye");
	jt_sync(s);
}
END_TEST

/* First frames that fail the handshake (all end with the broker closing). */
static const char *const refused_hellos[] = {
	"",
	"garbage",
	"{\"op\":\"ping\"}",
	"{\"op\":\"hello\",\"proto\":2,\"name\":\"x\"}",
	"{\"op\":\"hello\",\"proto\":1,\"name\":\"bad name\"}",
	"{\"op\":\"hello\",\"proto\":1,\"name\":\"w\"}",
	"{\"op\":\"hello\",\"proto\":1,\"name\":\"x\",\"will\":5}",
};

START_TEST(test_presence_handshake_only)
{
	struct jt_conn *w = watcher(), *c;
	int64_t fails = jt_stat(w, "handshake_failures");

	for (size_t i = 0; i < ARRAY_SIZE(refused_hellos); i++) {
		c = jt_connect(jt_b.path);
		if (*refused_hellos[i])
			jt_send(c, "%s", refused_hellos[i]);
		else
			ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
		/* the broker's close: it has handled the connection completely */
		jt_expect_eof(c, JT_TIMEOUT_MS);
		jt_close(c);
	}
	ck_assert_int_eq(jt_stat(w, "handshake_failures"), fails + ARRAY_SIZE(refused_hellos));
	/* the next event is that of the next real client */
	c = jt_client("x");
	expect_event(w, "x", getpid(), NULL);
}
END_TEST

START_TEST(test_presence_not_at_shutdown)
{
	struct jt_conn *w = watcher(), *h;

	h = jt_connect(jt_b.path);
	jt_send(h, WILL_HELLO("h", "{\"topic\":\"will/h\",\"data\":1}"));
	json_object_put(jt_expect(h, "welcome"));
	expect_event(w, "h", getpid(), NULL);
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	/* no will, no disconnected events: only the broker's goodbye */
	jt_expect_error_id(w, "shutting_down", NULL, NULL);
	jt_expect_eof_next(w);
	jt_expect_error_id(h, "shutting_down", NULL, NULL);
	jt_expect_eof_next(h);
	jt_broker_expect_exit(&jt_b);
}
END_TEST

/* section: wills */

enum way { BY_CLOSE, BY_HALF_CLOSE, BY_KILL, BY_BYE, BY_N };

START_TEST(test_will_published)
{
	struct jt_conn *w = watcher(), *h = NULL;
	const char *hello = WILL_HELLO("h", "{\"data\":{\"gone\": true},\"topic\":\"will/h\"}");
	pid_t pid = getpid();

	if (_i == BY_KILL) {
		pid = jt_holder_start(hello);
	} else {
		h = jt_connect(jt_b.path);
		jt_send(h, "%s", hello);
		json_object_put(jt_expect(h, "welcome"));
	}
	expect_event(w, "h", pid, NULL);
	switch (_i) {
	case BY_CLOSE:
		jt_close(h);
		break;
	case BY_HALF_CLOSE:
		ck_assert_int_eq(shutdown(h->fd, SHUT_WR), 0);
		jt_expect_eof_next(h);
		break;
	case BY_KILL:
		jt_holder_kill();
		break;
	case BY_BYE:
		jt_send(h, "{\"op\":\"bye\"}");
		jt_expect_eof_next(h);
		/* no will: the event is the next frame */
		expect_event(w, "h", pid, "bye");
		return;
	}
	/* from the client's name, data as given, then the event: one queue, in order */
	jt_expect_msg(w, "will/h", "h", "{\"gone\": true}");
	expect_event(w, "h", pid, "closed");
	/* a will is no retained message unless asked */
	jt_send(w, "{\"op\":\"sub\",\"topic\":\"will/+\",\"id\":1}\n{\"op\":\"ping\",\"id\":2}");
	jt_expect_line(w, "{\"op\":\"ok\",\"id\":1}");
	jt_expect_line(w, "{\"op\":\"pong\",\"id\":2}");
}
END_TEST

START_TEST(test_will_retained)
{
	struct jt_conn *w = watcher(), *h, *s;
	char name[72];
	json_object *o;

	/* the usual pattern: "online" retained by the client, "offline" by its will */
	h = jt_connect(jt_b.path);
	jt_send(h, WILL_HELLO("h", "{\"topic\":\"will/h\",\"data\":\"offline\",\"retain\":true}"));
	json_object_put(jt_expect(h, "welcome"));
	expect_event(w, "h", getpid(), NULL);
	jt_send(h, "{\"op\":\"pub\",\"topic\":\"will/h\",\"data\":\"online\",\"retain\":true}");
	jt_expect_msg(w, "will/h", "h", "\"online\"");
	jt_close(h);
	jt_expect_msg(w, "will/h", "h", "\"offline\"");
	expect_event(w, "h", getpid(), "closed");
	s = jt_client("s");
	expect_event(w, "s", getpid(), NULL);
	jt_send(s, "{\"op\":\"sub\",\"topic\":\"will/#\",\"id\":1}");
	jt_expect_line(s, "{\"op\":\"ok\",\"id\":1}");
	jt_expect_line(s, "{\"op\":\"msg\",\"topic\":\"will/h\",\"from\":\"h\","
			  "\"data\":\"offline\",\"retained\":true}");
	jt_sync(s);

	/* an anonymous client's will, without data, retained: clears the topic */
	h = jt_connect(jt_b.path);
	jt_send(h, "{\"op\":\"hello\",\"proto\":1,"
		   "\"will\":{\"topic\":\"will/h\",\"retain\":true}}");
	o = jt_expect(h, "welcome");
	snprintf(name, sizeof(name), "%s", jt_str(o, "name"));
	json_object_put(o);
	expect_event(w, name, getpid(), NULL);
	ck_assert_int_eq(jt_stat(w, "retained"), 1);
	jt_close(h);
	jt_expect_msg(w, "will/h", name, "null");
	expect_event(w, name, getpid(), "closed");
	ck_assert_int_eq(jt_stat(w, "retained"), 0);
}
END_TEST

/* Hellos with an invalid will: error bad_frame naming the field, then the close. */
static const struct {
	const char *will;
	const char *field;
} bad_wills[] = {
	{ "5", "will" },
	{ "\"will/h\"", "will" },
	{ "null", "will" },
	{ "[{\"topic\":\"will/h\"}]", "will" },
	{ "{}", "will.topic" },
	{ "{\"data\":1}", "will.topic" },
	{ "{\"topic\":5}", "will.topic" },
	{ "{\"topic\":\"will/+\"}", "will.topic" },
	{ "{\"topic\":\"will/#\"}", "will.topic" },
	{ "{\"topic\":\"$SYS/x\"}", "will.topic" },
	{ "{\"topic\":\"will/h\",\"retain\":1}", "will.retain" },
	{ "{\"topic\":\"will/h\",\"retain\":\"true\"}", "will.retain" },
	{ "{\"topic\":\"will/h\",\"retain\":null}", "will.retain" },
};

START_TEST(test_will_invalid)
{
	struct jt_conn *w = watcher(), *h;
	int64_t fails = jt_stat(w, "handshake_failures");

	h = jt_connect(jt_b.path);
	jt_send(h, "{\"op\":\"hello\",\"proto\":1,\"name\":\"h\",\"id\":3,\"will\":%s}",
		bad_wills[_i].will);
	jt_expect_error_id(h, "bad_frame", "3", bad_wills[_i].field);
	jt_expect_eof_next(h);
	ck_assert_int_eq(jt_stat(w, "handshake_failures"), fails + 1);
	/* no event for it, and the name was never taken */
	h = jt_client("h");
	expect_event(w, "h", getpid(), NULL);
}
END_TEST

START_TEST(test_will_frame_too_large)
{
	struct jt_conn *w, *h;
	char big[400];

	jt_broker_start_args(&jt_b, JT_ARGV("--max-frame", "256"));
	w = watcher();
	h = jt_connect(jt_b.path);
	jt_send(h, WILL_HELLO("h", "{\"topic\":\"will/h\",\"data\":\"err\"}"));
	json_object_put(jt_expect(h, "welcome"));
	expect_event(w, "h", getpid(), NULL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	jt_send_until_closed(h, big, sizeof(big) - 1);
	jt_expect_error_id(h, "frame_too_large", NULL, NULL);
	jt_expect_eof_next(h);
	jt_expect_msg(w, "will/h", "h", "\"err\"");
	expect_event(w, "h", getpid(), "error");
}
END_TEST

START_TEST(test_will_slow_consumer)
{
	enum { PAD = 2000 };
	struct jt_conn *w, *h, *p;
	char pad[PAD + 1];
	int64_t n = 1;

	jt_broker_start_args(&jt_b, JT_ARGV("--queue-limit", "1K"));
	p = jt_client("p");
	w = watcher();
	h = jt_connect(jt_b.path);
	jt_send(h, WILL_HELLO("h", "{\"topic\":\"will/h\",\"data\":\"slow\"}"));
	json_object_put(jt_expect(h, "welcome"));
	expect_event(w, "h", getpid(), NULL);
	jt_sub(h, "flood");
	/* h reads no more: its socket fills, then its queue passes 1 KiB */
	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	for (int i = 0; n == 1; i++) {
		json_object *o;

		ck_assert_msg(i < 100000, "h was never disconnected");
		jt_send(p, "{\"op\":\"pub\",\"topic\":\"flood\",\"data\":\"%s\",\"id\":%d}", pad,
			i);
		o = jt_expect(p, "ok");
		ck_assert_int_eq(jt_int(o, "id"), i);
		n = jt_int(o, "delivered");
		json_object_put(o);
	}
	ck_assert_int_eq(n, 0);
	jt_expect_msg(w, "will/h", "h", "\"slow\"");
	expect_event(w, "h", getpid(), "slow_consumer");
	ck_assert_int_eq(jt_stat(w, "slow_consumer_disconnects"), 1);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("presence");
	const struct jt_case cases[] = {
		{ "events", test_presence_events },
		{ "process_killed", test_presence_process_killed },
		{ "only_dollar_patterns", test_presence_only_dollar_patterns },
		{ "handshake_only", test_presence_handshake_only },
		{ "not_at_shutdown", test_presence_not_at_shutdown },
		{ "will_published", test_will_published, BY_N },
		{ "will_retained", test_will_retained },
		{ "will_invalid", test_will_invalid, ARRAY_SIZE(bad_wills) },
	};
	/* each starts its broker with the limit it is about */
	const struct jt_case own_broker[] = {
		{ "will_frame_too_large", test_will_frame_too_large },
		{ "will_slow_consumer", test_will_slow_consumer },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, jt_teardown, 30);
	jt_add_cases(s, own_broker, ARRAY_SIZE(own_broker), NULL, jt_teardown, 60);
	return s;
}
