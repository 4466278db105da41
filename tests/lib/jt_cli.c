/*
 * The jbus command-line tool ($JBUS, else build/jbus) run by tests (see
 * jt.h), and knowing when a jbus that receives is ready: a subscriber once
 * a message published to its topic reaches a client (its output then
 * starts with that message), a listener once a direct message to its name
 * is accepted. Each try is a round trip with the broker, so this waits on
 * the broker, never on a clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"

const char *jt_jbus(void)
{
	const char *p = getenv("JBUS");

	return p && *p ? p : "build/jbus";
}

/* argv (80 entries) filled with $JT_WRAP's words, jbus and then args. */
static const char *const *jbus_argv(const char **argv, const char *const *args)
{
	const char *plain[32];
	int n = 0;

	plain[n++] = jt_jbus();
	for (; *args; args++) {
		ck_assert_int_lt(n, 31);
		plain[n++] = *args;
	}
	plain[n] = NULL;
	return jt_wrap_argv(argv, 80, plain);
}

struct jt_proc *jt_jbus_start(const char *const *args, const char *const *env, const char *input,
			      size_t inlen)
{
	const char *argv[80];

	return jt_proc_start(jbus_argv(argv, args), env, input, inlen);
}

struct jt_proc *jt_jbus_run_in(const char *const *args, const char *input, size_t inlen)
{
	const char *argv[80];

	return jt_proc_run(jbus_argv(argv, args), NULL, input, inlen);
}

struct jt_proc *jt_jbus_run(const char *const *args)
{
	return jt_jbus_run_in(args, NULL, 0);
}

/*
 * From a raw client "syncer", send head (a frame without its closing '}')
 * with ids 1, 2, ... until done() accepts the broker's answer; failing
 * with what after 20 s.
 */
static void resend_until(const char *head, bool (*done)(json_object *answer), const char *what)
{
	struct jt_conn *c = jt_client("syncer");
	int64_t deadline = jt_now_ms() + 4 * JT_TIMEOUT_MS;

	for (int id = 1;; id++) {
		json_object *o;
		bool ok;

		jt_send(c, "%s,\"id\":%d}", head, id);
		o = jt_frame(c);
		ok = done(o);
		json_object_put(o);
		if (ok)
			break;
		ck_assert_msg(jt_now_ms() < deadline, "%s in time", what);
	}
	jt_close(c);
}

static bool delivered(json_object *o)
{
	ck_assert_str_eq(jt_str(o, "op"), "ok");
	return jt_int(o, "delivered") >= 1;
}

static bool accepted(json_object *o)
{
	bool ok = !strcmp(jt_str(o, "op"), "ok");

	if (!ok)
		ck_assert_str_eq(jt_str(o, "code"), "no_such_client");
	return ok;
}

void jt_sync_pub(const char *topic)
{
	char head[256], what[128];

	snprintf(head, sizeof(head), "{\"op\":\"pub\",\"topic\":\"%s\",\"data\":\"sync\"", topic);
	snprintf(what, sizeof(what), "nobody subscribed to '%s'", topic);
	resend_until(head, delivered, what);
}

void jt_sync_send(const char *name)
{
	char head[256], what[128];

	snprintf(head, sizeof(head), "{\"op\":\"send\",\"to\":\"%s\",\"data\":\"sync\"", name);
	snprintf(what, sizeof(what), "no client '%s' connected", name);
	resend_until(head, accepted, what);
}

struct jt_proc *jt_jbus_sub(const char *const *args, const char *sync_topic,
			    const char *first_line)
{
	const char *argv[24] = { "sub", "-s", jt_b.path };
	int n = 3;
	struct jt_proc *p;

	for (; *args; args++) {
		ck_assert_int_lt(n, 23);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	p = jt_jbus_start(argv, NULL, NULL, 0);
	jt_sync_pub(sync_topic);
	jt_proc_expect_line(p, first_line);
	return p;
}
