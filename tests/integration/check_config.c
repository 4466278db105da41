/*
 * The configuration file (-c), --print-config, --check-config and the
 * reload on SIGHUP, with the real jbusd.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

static char cfg_path[sizeof(jt_b.dir) + 16];

/* Writes path anew by a rename, so the broker never reads half a file. */
static void put_file(const char *path, const char *text)
{
	char tmp[sizeof(jt_b.dir) + 32];

	jt_fmt(tmp, sizeof(tmp), "%s.new", path);
	jt_write_file(tmp, text);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static const char *write_cfg(const char *text)
{
	jt_fmt(cfg_path, sizeof(cfg_path), "%s/jbusd.json", jt_b.dir);
	put_file(cfg_path, text);
	return cfg_path;
}

/* jbusd args... to completion: exit status, stdout and stderr. */
static int run(const char *const *args, char *out, size_t outlen, char *err, size_t errlen)
{
	return jt_run_jbusd_out(args, out, outlen, err, errlen, JT_TIMEOUT_MS);
}

static json_object *print_config(const char *const *args)
{
	char out[8192], err[1024];
	int rc = run(args, out, sizeof(out), err, sizeof(err));

	ck_assert_msg(rc == 0, "exit %d, stderr: %s", rc, err);
	ck_assert_str_eq(err, "");
	return jt_parse(out);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s' in %s", key,
		      json_object_to_json_string(o));
	return v;
}

/* section: --print-config */

/* Every setting with its default, in the units of the command line. */
START_TEST(test_config_print_defaults)
{
	static const char *const want[][2] = {
		{ "mode", "\"0600\"" },
		{ "group", "null" },
		{ "policy", "null" },
		{ "max_frame", "1048576" },
		{ "max_clients", "10000" },
		{ "max_clients_per_uid", "0" },
		{ "max_subs", "10000" },
		{ "queue_limit", "8388608" },
		{ "handshake_timeout", "5" },
		{ "idle_timeout", "0" },
		{ "request_timeout", "30" },
		{ "max_request_timeout", "300" },
		{ "max_pending", "1024" },
		{ "max_retained", "10000" },
		{ "max_retained_bytes", "67108864" },
		{ "max_retained_bytes_per_uid", "0" },
		{ "retain_file", "null" },
		{ "dgram", "null" },
		{ "ready_fd", "null" },
		{ "log_level", "\"info\"" },
		{ "syslog", "false" },
	};
	char sock[sizeof(jt_b.dir) + 16];
	json_object *o;

	jt_fmt(sock, sizeof(sock), "%s/x.sock", jt_b.dir);
	o = print_config(JT_ARGV("--print-config", "-s", sock));
	ck_assert_str_eq(json_object_get_string(get(o, "socket")), sock);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_object *v = get(o, want[i][0]);

		ck_assert_msg(strcmp(json_object_to_json_string(v), want[i][1]) == 0,
			      "%s: %s, want %s", want[i][0], json_object_to_json_string(v),
			      want[i][1]);
	}
	/* socket + the table: nothing else */
	ck_assert_int_eq(json_object_object_length(o), (int)ARRAY_SIZE(want) + 1);
	json_object_put(o);
}
END_TEST

/*
 * Every option of --help that is a setting is a key (its long name, '_' for '-'), except -v
 * and -q, which are spellings of log_level.
 */
START_TEST(test_config_every_option_a_key)
{
	static const char *const not_settings[] = { "config",  "print-config", "check-config",
						    "help",    "version",      "verbose",
						    "quiet" };
	char out[16384], err[1024], key[64];
	struct jt_opt opts[64];
	json_object *o = print_config(JT_ARGV("--print-config"));
	size_t nopts;
	int n = 0;

	ck_assert_int_eq(run(JT_ARGV("--help"), out, sizeof(out), err, sizeof(err)), 0);
	nopts = jt_help_options(out, opts, ARRAY_SIZE(opts));
	for (size_t i = 0; i < nopts; i++) {
		const char *name = opts[i].l + 2;
		bool skip = false;

		ck_assert_uint_lt(strlen(name), sizeof(key));
		for (size_t j = 0; j < ARRAY_SIZE(not_settings); j++)
			skip |= strcmp(name, not_settings[j]) == 0;
		if (skip)
			continue;
		strcpy(key, name);
		for (char *k = key; *k; k++)
			*k = *k == '-' ? '_' : *k;
		ck_assert_msg(jt_has(o, key), "%s has no key '%s'", opts[i].l, key);
		n++;
	}
	ck_assert_int_ge(n, 20);
	json_object_put(o);
}
END_TEST

/* What --print-config writes, -c reads back to the same settings. */
START_TEST(test_config_print_round_trip)
{
	char first[8192], again[8192], err[1024];

	write_cfg("{\"mode\":\"0640\",\"group\":0,\"max_frame\":\"2M\",\"idle_timeout\":0.25,"
		  "\"handshake_timeout\":1.5,\"log_level\":\"debug\",\"syslog\":true,"
		  "\"retain_file\":\"/var/lib/jbus/retained\",\"ready_fd\":3,"
		  "\"max_clients_per_uid\":7}");
	ck_assert_int_eq(run(JT_ARGV("-c", cfg_path, "--print-config"), first, sizeof(first), err,
			     sizeof(err)),
			 0);
	write_cfg(first);
	ck_assert_int_eq(run(JT_ARGV("-c", cfg_path, "--print-config"), again, sizeof(again), err,
			     sizeof(err)),
			 0);
	ck_assert_str_eq(first, again);
	ck_assert_ptr_nonnull(strstr(first, "\"max_frame\": 2097152"));
	ck_assert_ptr_nonnull(strstr(first, "\"idle_timeout\": 0.25"));
	ck_assert_ptr_nonnull(strstr(first, "\"handshake_timeout\": 1.5"));
	ck_assert_ptr_nonnull(strstr(first, "\"mode\": \"0640\""));
	ck_assert_ptr_nonnull(strstr(first, "\"group\": \"root\""));
	ck_assert_ptr_nonnull(strstr(first, "\"retain_file\": \"/var/lib/jbus/retained\""));
}
END_TEST

/* The command line wins over the file, whatever the order of -c among the options. */
START_TEST(test_config_command_line_wins)
{
	json_object *o;

	write_cfg("{\"max_clients\":5,\"max_subs\":6,\"log_level\":\"debug\"}");
	o = print_config(JT_ARGV("--max-clients", "7", "-c", cfg_path, "-q", "--print-config"));
	ck_assert_int_eq(json_object_get_int64(get(o, "max_clients")), 7);
	ck_assert_int_eq(json_object_get_int64(get(o, "max_subs")), 6);
	ck_assert_str_eq(json_object_get_string(get(o, "log_level")), "warn");
	json_object_put(o);
}
END_TEST

/* section: --check-config */

static const struct bad_case {
	const char *text; /* the file; NULL: no such file */
	const char *want; /* stderr after "jbusd: <file>: " */
} bad_cases[] = {
	{ "{\"max_client\":5}", "key 'max_client': unknown key (did you mean 'max_clients'?)" },
	{ "{\"frobnicate\":true}", "key 'frobnicate': unknown key" },
	{ "{\"max-clients\":5}", "key 'max-clients': unknown key (did you mean 'max_clients'?)" },
	{ "{\"max_clients\":0}", "key 'max_clients': invalid value 0 (1..1000000)" },
	{ "{\"max_clients\":\"5\"}", "key 'max_clients': must be an integer" },
	{ "{\"max_clients\":1.5}", "key 'max_clients': must be an integer" },
	{ "{\"queue_limit\":\"8X\"}", "key 'queue_limit': invalid value '8X' (1K..64G)" },
	{ "{\"queue_limit\":-1}", "key 'queue_limit': invalid value -1 (1K..64G)" },
	{ "{\"handshake_timeout\":0}",
	  "key 'handshake_timeout': invalid value 0 (0.001..3600 seconds)" },
	{ "{\"idle_timeout\":\"1\"}", "key 'idle_timeout': must be a number of seconds" },
	{ "{\"mode\":432}", "key 'mode': must be a string of octal digits, such as \"0660\"" },
	{ "{\"mode\":\"0999\"}", "key 'mode': invalid value '0999' (octal, 0..0777)" },
	{ "{\"group\":\"no-such-group-here\"}",
	  "key 'group': invalid value 'no-such-group-here' (no such group)" },
	{ "{\"socket\":\"\"}", "key 'socket': invalid value '' (empty path)" },
	{ "{\"socket\":7}", "key 'socket': must be a string (a path)" },
	{ "{\"log_level\":\"loud\"}",
	  "key 'log_level': invalid value 'loud' (error, warn, info or debug)" },
	{ "{\"syslog\":1}", "key 'syslog': must be true or false" },
	{ "{\"log_level\":\"warn\",\"verbose\":true}",
	  "key 'verbose': conflicts with key 'log_level'" },
	{ "{\"request_timeout\":60,\"max_request_timeout\":30}",
	  "key 'request_timeout': 60000 ms is above max_request_timeout (30000 ms)" },
	{ "[]", "the configuration must be a JSON object" },
	{ "{\"max_clients\":5,\n  \"max_subs\": }", "line 2, column 15: unexpected character" },
	{ "{\"max_clients\":5", "line 1, column 17: unexpected end of data" },
	{ "", "line 1, column 1: unexpected end of data" },
	{ NULL, "No such file or directory" },
};

/* A wrong file: exit 1, stderr names the file, the key and why; nothing starts. */
START_TEST(test_config_check_errors)
{
	const struct bad_case *bc = &bad_cases[_i];
	char out[1024], err[1024], want[1536], sock[sizeof(jt_b.dir) + 16];
	int rc;

	jt_fmt(sock, sizeof(sock), "%s/jbus.sock", jt_b.dir);
	jt_fmt(cfg_path, sizeof(cfg_path), "%s/jbusd.json", jt_b.dir);
	if (bc->text)
		write_cfg(bc->text);
	jt_fmt(want, sizeof(want), "jbusd: %s: %s\n", cfg_path, bc->want);
	rc = run(JT_ARGV("--check-config", cfg_path), out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 1, "case %d: exit %d, stderr: %s", _i, rc, err);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(out, "");
	/* -c at start-up: the same reason, exit 1, no socket */
	jt_fmt(want, sizeof(want), "jbusd: cannot start: %s: %s\n", cfg_path, bc->want);
	rc = run(JT_ARGV("-c", cfg_path, "-s", sock), out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 1, "case %d: start: exit %d, stderr: %s", _i, rc, err);
	ck_assert_str_eq(err, want);
	ck_assert_int_ne(access(sock, F_OK), 0);
}
END_TEST

START_TEST(test_config_check_ok)
{
	char out[1024], err[1024], want[512], pol[sizeof(jt_b.dir) + 16];
	int rc;

	jt_fmt(pol, sizeof(pol), "%s/policy.json", jt_b.dir);
	put_file(pol, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"#\"]}}]}");
	jt_fmt(want, sizeof(want), "{\"policy\":\"%s\",\"max_clients\":5,\"queue_limit\":\"1M\","
				   "\"verbose\":false,\"idle_timeout\":0}",
	       pol);
	write_cfg(want);
	rc = run(JT_ARGV("--check-config", cfg_path), out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d, stderr: %s", rc, err);
	jt_fmt(want, sizeof(want), "%s: configuration ok\n", cfg_path);
	ck_assert_str_eq(out, want);
	ck_assert_str_eq(err, "");
	/* the -c spelling, and options checked with it */
	ck_assert_int_eq(run(JT_ARGV("-c", cfg_path, "--check-config"), out, sizeof(out), err,
			     sizeof(err)),
			 0);
	rc = run(JT_ARGV("-c", cfg_path, "--check-config", "--max-subs", "0"), out, sizeof(out),
		 err, sizeof(err));
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(err, "jbusd: invalid --max-subs '0' (1..10000000)\n");
	/* the policy it names is checked too */
	put_file(pol, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"a/#/b\"]}}]}");
	rc = run(JT_ARGV("--check-config", cfg_path), out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(err, "rules[0].allow.publish[0]: 'a/#/b'"));
}
END_TEST

/* section: starting with a file */

/* jt_b in jt_b.dir, where the configuration file is */
static void start(const char *const *args)
{
	char sock[sizeof(jt_b.dir) + 16];

	jt_fmt(sock, sizeof(sock), "%s/jbus.sock", jt_b.dir);
	jt_broker_start_at(&jt_b, sock, args);
}

static json_object *limits(struct jt_conn *c)
{
	json_object *o, *l;

	jt_send(c, "{\"op\":\"stats\",\"id\":\"st\"}");
	o = jt_expect(c, "stats");
	l = json_object_get(get(o, "limits"));
	json_object_put(o);
	return l;
}

static int64_t limit(struct jt_conn *c, const char *key)
{
	json_object *l = limits(c);
	int64_t v = json_object_get_int64(get(l, key));

	json_object_put(l);
	return v;
}

START_TEST(test_config_start_with_file)
{
	struct jt_conn *a;

	write_cfg("{\"max_clients\":1,\"max_subs\":3,\"queue_limit\":\"64K\"}");
	start(JT_ARGV("-c", cfg_path, "--max-subs", "4"));
	a = jt_client("a");
	ck_assert_int_eq(limit(a, "max_clients"), 1);
	ck_assert_int_eq(limit(a, "max_subs"), 4);
	ck_assert_int_eq(limit(a, "queue_limit"), 65536);
	/* and they act: a second connection is over max_clients */
	json_object_put(jt_expect_error(jt_connect(jt_b.path), "limit_reached"));
	jt_broker_stop(&jt_b);
}
END_TEST

/* section: reload */

/* Sends SIGHUP and waits (round trips on c) for a log line with every part. */
static void hup(struct jt_conn *c, const char *const *parts)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;

	ck_assert_int_eq(kill(jt_b.pid, SIGHUP), 0);
	while (!jt_log_has(parts)) {
		ck_assert_msg(jt_now_ms() < deadline, "no log line with '%s' after SIGHUP",
			      parts[0]);
		jt_sync(c);
	}
}

/*
 * Limits, timeouts and the log level change at once; connected clients stay; what needs a
 * restart keeps its value and the log says so; the command line still wins.
 */
START_TEST(test_config_reload_applies)
{
	struct jt_conn *a, *b;
	json_object *l;

	if (getenv("JT_VERBOSE"))
		return; /* reads the log file */
	write_cfg("{\"max_clients\":100,\"max_pending\":10,\"log_level\":\"info\"}");
	start(JT_ARGV("-c", cfg_path, "--max-subs", "4"));
	a = jt_client("a");
	b = jt_client("b");
	write_cfg("{\"max_clients\":2,\"max_pending\":20,\"max_subs\":9,\"log_level\":\"debug\","
		  "\"max_frame\":\"2M\",\"mode\":\"0666\",\"request_timeout\":1.5}");
	hup(a, JT_ARGV("reload: ", " applied: "));
	ck_assert(jt_log_has(JT_ARGV("reload: ", "max_clients=2 (was 100)")));
	ck_assert(jt_log_has(JT_ARGV("reload: ", "log_level=\"debug\" (was \"info\")")));
	ck_assert(jt_log_has(JT_ARGV("warn: reload: max_frame cannot change while running",
				     "keeping 1048576, not 2097152")));
	ck_assert(jt_log_has(JT_ARGV("warn: reload: mode cannot change while running")));
	l = limits(a);
	ck_assert_int_eq(jt_int(l, "max_clients"), 2);
	ck_assert_int_eq(jt_int(l, "max_pending"), 20);
	ck_assert_int_eq(jt_int(l, "max_subs"), 4); /* -- max-subs wins */
	ck_assert_int_eq(jt_int(l, "max_frame"), 1048576);
	ck_assert_int_eq(jt_int(l, "request_timeout_ms"), 1500);
	json_object_put(l);
	/* both clients are still the same connections; a third is one too many now */
	jt_sync(b);
	ck_assert_int_eq(jt_stat(a, "clients"), 2);
	json_object_put(jt_expect_error(jt_connect(jt_b.path), "limit_reached"));
	jt_broker_stop(&jt_b);
}
END_TEST

/* A wrong file or policy changes nothing, not even the parts of it that were right. */
START_TEST(test_config_reload_failure_keeps_all)
{
	char text[512], pol[sizeof(jt_b.dir) + 16];
	struct jt_conn *a;

	if (getenv("JT_VERBOSE"))
		return;
	jt_fmt(pol, sizeof(pol), "%s/policy.json", jt_b.dir);
	put_file(pol, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"#\"],"
			   "\"own\":[\"*\"],\"introspect\":true}}]}");
	jt_fmt(text, sizeof(text), "{\"max_clients\":100,\"policy\":\"%s\"}", pol);
	write_cfg(text);
	start(JT_ARGV("-c", cfg_path));
	a = jt_client("a");

	write_cfg("{\"max_clients\":50,\"max_subs\":0}");
	hup(a, JT_ARGV("error: reload: ", "key 'max_subs': invalid value 0",
		       "; keeping the running configuration"));
	ck_assert_int_eq(limit(a, "max_clients"), 100);

	put_file(pol, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"a/#/b\"]}}]}");
	jt_fmt(text, sizeof(text), "{\"max_clients\":50,\"policy\":\"%s\"}", pol);
	write_cfg(text);
	hup(a, JT_ARGV("error: reload: policy ", "'a/#/b'", "; keeping the running configuration"));
	ck_assert_int_eq(limit(a, "max_clients"), 100);
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"x\",\"id\":1}");
	jt_expect_ok(a, "1", 0);

	write_cfg("{\"max_clients\":50");
	hup(a, JT_ARGV("error: reload: ", "unexpected end of data"));
	ck_assert_int_eq(limit(a, "max_clients"), 100);
	jt_broker_stop(&jt_b);
}
END_TEST

/* A new policy file named by the reloaded configuration is in force at once. */
START_TEST(test_config_reload_policy_path)
{
	char text[512], pol[sizeof(jt_b.dir) + 16];
	struct jt_conn *a;

	if (getenv("JT_VERBOSE"))
		return;
	write_cfg("{}");
	start(JT_ARGV("-c", cfg_path));
	a = jt_client("a");
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"secret/x\",\"id\":1}");
	jt_expect_ok(a, "1", 0);

	jt_fmt(pol, sizeof(pol), "%s/policy.json", jt_b.dir);
	put_file(pol, "{\"rules\":[{\"for\":\"*\",\"allow\":{\"publish\":[\"open/#\"],"
			   "\"own\":[\"*\"],\"introspect\":true}}]}");
	jt_fmt(text, sizeof(text), "{\"policy\":\"%s\"}", pol);
	write_cfg(text);
	hup(a, JT_ARGV("reload: policy ", " loaded"));
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"secret/x\",\"id\":2}");
	jt_expect_error_id(a, "forbidden", "2", NULL);

	/* and without it again: the default policy */
	write_cfg("{}");
	hup(a, JT_ARGV("reload: no policy file; the default policy applies"));
	jt_send(a, "{\"op\":\"pub\",\"topic\":\"secret/x\",\"id\":3}");
	jt_expect_ok(a, "3", 0);
	jt_broker_stop(&jt_b);
}
END_TEST

/*
 * A session keeps the idle timeout its welcome announced; sessions after the reload get the
 * new one.
 */
START_TEST(test_config_reload_idle_timeout)
{
	struct jt_conn *a, *b;
	json_object *w;

	if (getenv("JT_VERBOSE"))
		return;
	write_cfg("{\"idle_timeout\":600}");
	start(JT_ARGV("-c", cfg_path));
	a = jt_connect(jt_b.path);
	jt_send(a, "{\"op\":\"hello\",\"proto\":1,\"name\":\"a\"}");
	w = jt_expect(a, "welcome");
	ck_assert_int_eq(jt_int(w, "idle_timeout_ms"), 600000);
	json_object_put(w);

	write_cfg("{\"idle_timeout\":0.05}");
	hup(a, JT_ARGV("reload: ", "idle_timeout=0.05 (was 600)"));
	b = jt_connect(jt_b.path);
	jt_send(b, "{\"op\":\"hello\",\"proto\":1,\"name\":\"b\"}");
	w = jt_expect(b, "welcome");
	ck_assert_int_eq(jt_int(w, "idle_timeout_ms"), 50);
	json_object_put(w);
	/* b is ended for idling 50 ms; a, idle at least as long, is not */
	json_object_put(jt_expect_error(b, "timeout"));
	jt_expect_eof(b, JT_TIMEOUT_MS);
	jt_sync(a);
	jt_broker_stop(&jt_b);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("config");

	tcase_add_test(jt_tcase(s, "print_defaults", jt_setup_dir, jt_teardown, 0),
		       test_config_print_defaults);
	tcase_add_test(jt_tcase(s, "every_option_a_key", jt_setup_dir, jt_teardown, 0),
		       test_config_every_option_a_key);
	tcase_add_test(jt_tcase(s, "print_round_trip", jt_setup_dir, jt_teardown, 0),
		       test_config_print_round_trip);
	tcase_add_test(jt_tcase(s, "command_line_wins", jt_setup_dir, jt_teardown, 0),
		       test_config_command_line_wins);
	tcase_add_loop_test(jt_tcase(s, "check_errors", jt_setup_dir, jt_teardown, 0),
			    test_config_check_errors, 0, (int)ARRAY_SIZE(bad_cases));
	tcase_add_test(jt_tcase(s, "check_ok", jt_setup_dir, jt_teardown, 0),
		       test_config_check_ok);
	tcase_add_test(jt_tcase(s, "start_with_file", jt_setup_dir, jt_teardown, 0),
		       test_config_start_with_file);
	tcase_add_test(jt_tcase(s, "reload_applies", jt_setup_dir, jt_teardown, 0),
		       test_config_reload_applies);
	tcase_add_test(jt_tcase(s, "reload_failure_keeps_all", jt_setup_dir, jt_teardown, 0),
		       test_config_reload_failure_keeps_all);
	tcase_add_test(jt_tcase(s, "reload_policy_path", jt_setup_dir, jt_teardown, 0),
		       test_config_reload_policy_path);
	tcase_add_test(jt_tcase(s, "reload_idle_timeout", jt_setup_dir, jt_teardown, 0),
		       test_config_reload_idle_timeout);
	return s;
}
