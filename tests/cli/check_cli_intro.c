/*
 * The jbus tool's view of the broker's state, run as a program ($JBUS,
 * else build/jbus) against a real jbusd: jbus stats and jbus clients (the
 * tables and --json), jbus monitor (the copies, -v, refused to another
 * user), and retained messages through pub -r and sub, also across a
 * broker restart with --retain-file.
 *
 * A monitor is known to be in place once the clients list says so; a
 * subscriber once jt_jbus_sub saw its first line. Nothing sleeps.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jt.h"

/* section: stats and clients */

/* --json: the broker's frame; the table: one "NAME VALUE" line per field of it, in order. */
START_TEST(test_cli_stats)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "stats", "--json"));
	json_object *o;
	char want[256];

	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->err.p, "");
	ck_assert_int_eq(strncmp(p->out.p, "{\"op\":\"stats\",\"id\":", 19), 0);
	ck_assert_ptr_eq(strchr(p->out.p, '\n'), p->out.p + strlen(p->out.p) - 1);
	o = jt_parse(p->out.p);
	ck_assert_int_eq(jt_int(o, "clients"), 1); /* the tool itself */
	ck_assert_int_ge(json_object_object_length(o), 17);
	json_object_put(o);
	jt_client("other");
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "stats"));
	ck_assert_int_eq(p->status, 0);
	/* the fields of an answer given at the same time: those that move stay put */
	o = jt_parse(jt_jbus_run(JT_ARGV("-s", jt_b.path, "stats", "--json"))->out.p);
	json_object_object_foreach(o, key, v)
	{
		const char *line;

		if (!strcmp(key, "op") || !strcmp(key, "id"))
			continue;
		if (json_object_is_type(v, json_type_object)) {
			/* limits: one "limits.<field> <value>" line per field */
			json_object_object_foreach(v, k2, v2)
			{
				char name[96];
				snprintf(name, sizeof(name), "%s.%s", key, k2);
				snprintf(want, sizeof(want), "%-26s %s", name,
					 json_object_to_json_string(v2));
				ck_assert_str_eq(jt_proc_line(p, &p->out), want);
			}
			continue;
		}
		line = jt_proc_line(p, &p->out);
		ck_assert_ptr_nonnull(line);
		snprintf(want, sizeof(want), "%-26s ", key);
		ck_assert_msg(!strncmp(line, want, strlen(want)), "line '%s', want %s", line, key);
		if (!strcmp(key, "clients") || !strcmp(key, "retained"))
			ck_assert_str_eq(line + strlen(want), json_object_to_json_string(v));
	}
	ck_assert_ptr_null(jt_proc_line(p, &p->out));
	json_object_put(o);
}
END_TEST

#define ROW "%-*s %7s %6s %6s %-19s %9s %9s %8s %8s %-7s %s"

START_TEST(test_cli_clients)
{
	struct jt_conn *a = jt_client("alpha");
	struct jt_proc *p;
	json_object *o, *list;
	const char *line;
	char want[200], pid[16], uid[16], gid[16];

	jt_send(a, "{\"op\":\"sub\",\"topic\":\"a/#\",\"id\":1}");
	json_object_put(jt_expect(a, "ok"));
	jt_send(a, "{\"op\":\"sub\",\"topic\":\"b\",\"id\":2}");
	json_object_put(jt_expect(a, "ok"));
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "me", "clients"));
	ck_assert_int_eq(p->status, 0);
	ck_assert_str_eq(p->err.p, "");
	/* the name column is as wide as the longest name */
	snprintf(want, sizeof(want), ROW, 5, "NAME", "PID", "UID", "GID", "SINCE", "IN", "OUT",
		 "QUEUED", "DROPPED", "MONITOR", "SUBS");
	jt_proc_expect_line(p, want);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(uid, sizeof(uid), "%d", (int)getuid());
	snprintf(gid, sizeof(gid), "%d", (int)getgid());
	line = jt_proc_line(p, &p->out);
	snprintf(want, sizeof(want), ROW, 5, "alpha", pid, uid, gid, "", "", "", "", "", "", "");
	ck_assert_msg(!strncmp(line, want, 27), "'%s' for '%s'", line, want);
	/* hello and two subs in, welcome and two oks out */
	snprintf(want, sizeof(want), " %9s %9s %8s %8s %-7s %s", "3", "3", "0", "0", "no", "a/#,b");
	ck_assert_str_eq(line + strlen(line) - strlen(want), want);
	line = jt_proc_line(p, &p->out);
	ck_assert_int_eq(strncmp(line, "me    ", 6), 0);
	ck_assert_str_eq(line + strlen(line) - 10, " no      -");
	ck_assert_ptr_null(jt_proc_line(p, &p->out));
	/* --json: the broker's frame */
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "clients", "--json"));
	ck_assert_int_eq(p->status, 0);
	o = jt_parse(p->out.p);
	ck_assert_str_eq(jt_str(o, "op"), "clients");
	ck_assert(json_object_object_get_ex(o, "clients", &list));
	ck_assert_int_eq(json_object_array_length(list), 2);
	json_object_put(o);
}
END_TEST

/* section: monitor */

/* Wait until the broker lists n monitors. */
static void monitors_ready(int n)
{
	struct jt_conn *c = jt_client("probe");
	int64_t t0 = jt_now_ms();

	for (;;) {
		char *line = NULL;
		int found = 0;

		jt_send(c, "{\"op\":\"clients\",\"id\":1}");
		json_object_put(jt_frame_raw(c, &line));
		for (const char *q = line; (q = strstr(q, "\"monitor\":true")); q++)
			found++;
		free(line);
		if (found == n)
			break;
		ck_assert_int_lt(jt_now_ms() - t0, JT_TIMEOUT_MS);
	}
	jt_close(c);
}

/* The next line that is not a copy of a broker event (the probe's, or a client's coming). */
static const char *next_routed(struct jt_proc *p, const char *sys)
{
	const char *l;

	while ((l = jt_proc_line(p, &p->out)) && strstr(l, sys))
		;
	ck_assert_ptr_nonnull(l);
	return l;
}

START_TEST(test_cli_monitor)
{
	struct jt_proc *m = jt_jbus_start(JT_ARGV("-s", jt_b.path, "monitor"), NULL, NULL, 0);
	struct jt_proc *v = jt_jbus_start(JT_ARGV("-s", jt_b.path, "monitor", "-v"), NULL, NULL, 0);
	struct jt_conn *a, *b;

	monitors_ready(2);
	a = jt_client("a");
	b = jt_client("b");
	jt_send(b, "{\"op\":\"sub\",\"topic\":\"t/#\",\"id\":1}");
	json_object_put(jt_expect(b, "ok"));
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"t/1\",\"data\":{ \"x\" : 1 }}");
	json_object_put(jt_expect(b, "msg"));
	jt_send(a, "{\"op\":\"send\",\"to\":\"b\",\"data\":[2]}");
	json_object_put(jt_expect(b, "msg"));
	ck_assert_str_eq(next_routed(m, "\"kind\":\"sys\""),
			 "{\"op\":\"mon\",\"kind\":\"pub\",\"from\":\"a\",\"to\":[\"b\"],"
			 "\"topic\":\"t/1\",\"data\":{ \"x\" : 1 }}");
	ck_assert_str_eq(next_routed(m, "\"kind\":\"sys\""),
			 "{\"op\":\"mon\",\"kind\":\"send\",\"from\":\"a\",\"to\":[\"b\"],"
			 "\"data\":[2]}");
	/* -v: "KIND FROM -> TO [TOPIC] DATA" */
	ck_assert_str_eq(next_routed(v, "sys $SYS -> "), "pub a -> b t/1 { \"x\" : 1 }");
	ck_assert_str_eq(next_routed(v, "sys $SYS -> "), "send a -> b [2]");
	/* data as deep as a frame allows (63 levels in the frame's 64): -v still reads the copy */
	{
		char deep[160], want[200], frame[240];

		memset(deep, '[', 63);
		deep[63] = '1';
		memset(deep + 64, ']', 63);
		deep[127] = '\0';
		jt_send(a, "{\"op\":\"pub\",\"topic\":\"t/deep\",\"data\":%s}", deep);
		/* the line itself, not jt_expect: json_tokener_parse() would stop at 32 levels */
		jt_fmt(frame, sizeof(frame),
		       "{\"op\":\"msg\",\"topic\":\"t/deep\",\"from\":\"a\",\"data\":%s}", deep);
		jt_expect_line(b, frame);
		jt_fmt(want, sizeof(want), "pub a -> b t/deep %s", deep);
		ck_assert_str_eq(next_routed(v, "sys $SYS -> "), want);
	}
	for (int i = 0; i < 2; i++) {
		struct jt_proc *p = i ? v : m;

		jt_proc_signal(p, SIGTERM);
		ck_assert_int_eq(jt_proc_wait(p), 0);
		ck_assert_str_eq(p->err.p, "");
	}
}
END_TEST

static void setup_open(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("-m", "0666"));
}

/* Another user than the broker's (nobody, through setpriv): forbidden, status 1. */
START_TEST(test_cli_monitor_forbidden)
{
	struct jt_proc *p;

	if (getuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
		fprintf(stderr, "skipped: needs root and setpriv to run jbus as another user\n");
		return;
	}
	ck_assert_int_eq(chmod(jt_b.dir, 0711), 0);
	p = jt_proc_run(JT_ARGV("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				"--clear-groups", jt_jbus(), "-s", jt_b.path, "monitor"),
			NULL, NULL, 0);
	ck_assert_int_eq(p->status, 1);
	ck_assert_str_eq(p->out.p, "");
	ck_assert_int_eq(strncmp(p->err.p, "jbus: forbidden: ", 17), 0);
}
END_TEST

/* section: retained */

START_TEST(test_cli_pub_retain)
{
	struct jt_proc *p, *s;
	json_object *o;

	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "panel", "pub", "-r", "heat/mode",
					   "\"eco\"")),
		       0, "", "");
	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "panel", "pub", "--retain",
					   "--wait", "heat/temp", "21.5")),
		       0, "delivered 0\n", "");
	/* a new subscriber gets them first, marked, in topic order */
	s = jt_jbus_run(JT_ARGV("-s", jt_b.path, "sub", "-C", "2", "heat/#"));
	jt_proc_expect(
		s, 0,
		"{\"op\":\"msg\",\"topic\":\"heat/mode\",\"from\":\"panel\",\"data\":\"eco\","
		"\"retained\":true}\n"
		"{\"op\":\"msg\",\"topic\":\"heat/temp\",\"from\":\"panel\",\"data\":21.5,"
		"\"retained\":true}\n",
		"");
	s = jt_jbus_run(JT_ARGV("-s", jt_b.path, "sub", "-C", "1", "-v", "heat/temp"));
	jt_proc_expect(s, 0, "heat/temp 21.5\n", "");
	/* without JSON: cleared */
	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "pub", "-r", "heat/mode")), 0, "", "");
	p = jt_jbus_run(JT_ARGV("-s", jt_b.path, "stats", "--json"));
	o = jt_parse(p->out.p);
	ck_assert_int_eq(jt_int(o, "retained"), 1);
	json_object_put(o);
}
END_TEST

/* With --retain-file, a restarted broker still has the values. */
START_TEST(test_cli_retain_restart)
{
	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "-n", "panel", "pub", "-r", "cfg/mode",
					   "{\"m\": \"eco\"}")),
		       0, "", "");
	ck_assert_int_eq(kill(jt_b.pid, SIGTERM), 0);
	jt_broker_expect_exit(&jt_b);
	jt_broker_start_at(&jt_b, jt_b.path, JT_ARGV("--retain-file", jt_retain_file()));
	jt_proc_expect(jt_jbus_run(JT_ARGV("-s", jt_b.path, "sub", "-C", "1", "--data", "cfg/#")),
		       0, "{\"m\": \"eco\"}\n", "");
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "stats", test_cli_stats },
		{ "clients", test_cli_clients },
		{ "monitor", test_cli_monitor },
		{ "pub_retain", test_cli_pub_retain },
	};
	Suite *s = suite_create("cli_intro");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, jt_teardown, 60);
	tcase_add_test(jt_tcase(s, "monitor_forbidden", setup_open, jt_teardown, 60),
		       test_cli_monitor_forbidden);
	tcase_add_test(jt_tcase(s, "retain_restart", jt_setup_retain_file, jt_teardown, 60),
		       test_cli_retain_restart);
	return s;
}
