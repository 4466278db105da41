/*
 * jbus bench, run as a program ($JBUS, else build/jbus) with tiny counts so
 * that every workload takes a moment: with a broker of its own (--spawn)
 * and against the fixture's, the table, the JSON document and its keys,
 * the SVG chart, and usage errors. Speeds are never asserted: only that
 * every workload ran, without loss, and reported what it should.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jt.h"

/* Every workload, a few messages each; after the program's name and the caller's first args. */
#define TINY "-m", "300", "-t", "50", "-c", "20", "--cycles", "20", "-k", "3", "-p", "3"

static const char *const rows[] = {
	"W1 1 pub -> 1 sub", "W2 1 pub -> 3 subs", "W3 round trip",
	"W4 20 idle clients", "W5 3 pubs -> 1 sub", "W6 connect churn",
};

/* The table's line for a workload: starts with its row name, ends with "ok" (+ a note). */
static void expect_row(const char *out, const char *row)
{
	const char *l = strstr(out, row);
	const char *eol;

	ck_assert_msg(l && (l == out || l[-1] == '\n'), "no row '%s' in:\n%s", row, out);
	eol = strchr(l, '\n');
	ck_assert_ptr_nonnull(eol);
	ck_assert_msg(strstr(l, " ok") && strstr(l, " ok") < eol, "row '%s' not ok:\n%s", row,
		      out);
}

START_TEST(test_cli_bench_spawn)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("bench", "--spawn", TINY));

	ck_assert_msg(p->status == 0, "status %d, stderr: %s", p->status, p->err.p);
	ck_assert_str_eq(p->err.p, ""); /* no progress line: stderr is not a terminal */
	ck_assert_msg(!strncmp(p->out.p, "jbus bench: jbus at ", 20), "%s", p->out.p);
	ck_assert_ptr_nonnull(strstr(p->out.p, "(spawned), payload 100 bytes, 1 run\n"));
	ck_assert_ptr_nonnull(strstr(p->out.p, "\nWORKLOAD "));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		expect_row(p->out.p, rows[i]);
}
END_TEST

/* The result of workload w in the document, which must have every documented key. */
static json_object *result_of(json_object *doc, const char *w)
{
	static const char *const keys[] = {
		"workload", "title", "runs", "ok", "error", "messages", "delivered", "lost",
		"errors", "elapsed_s", "msgs_per_s", "deliveries_per_s", "lost_per_client",
		"latency_us", "clients", "bytes_per_client", "rss_before_kib", "rss_after_kib",
		"cycles", "cycles_per_s",
	};
	json_object *res, *r = NULL;

	ck_assert(json_object_object_get_ex(doc, "results", &res));
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *e = json_object_array_get_idx(res, i);

		if (!strcmp(jt_str(e, "workload"), w))
			r = e;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			ck_assert_msg(json_object_object_get_ex(e, keys[k], NULL), "no %s in %s",
				      keys[k], json_object_to_json_string(e));
	}
	ck_assert_msg(r, "no result for %s", w);
	return r;
}

START_TEST(test_cli_bench_json)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("bench", "-s", jt_b.path, "--json", "-r", "2",
						"--cpu", "0", TINY));
	json_object *doc, *r, *lat, *params, *per;

	ck_assert_msg(p->status == 0, "status %d, stderr: %s", p->status, p->err.p);
	doc = jt_parse(p->out.p);
	ck_assert_str_eq(jt_str(doc, "tool"), "jbus bench");
	ck_assert_str_eq(jt_str(doc, "driver"), "jbus");
	ck_assert_str_eq(jt_str(doc, "target"), jt_b.path);
	ck_assert(!json_object_get_boolean(json_object_object_get(doc, "spawned")));
	ck_assert(json_object_get_boolean(json_object_object_get(doc, "ok")));
	ck_assert_int_eq(jt_int(doc, "repeat"), 2);
	ck_assert(json_object_object_get_ex(doc, "params", &params));
	ck_assert_int_eq(jt_int(params, "size"), 100);
	ck_assert_int_eq(jt_int(params, "messages"), 300);
	ck_assert_int_eq(jt_int(params, "cpu"), 0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(doc, "results")), 6);
	for (int w = 1; w <= 6; w++) {
		char name[4];

		snprintf(name, sizeof(name), "W%d", w);
		r = result_of(doc, name);
		ck_assert_msg(json_object_get_boolean(json_object_object_get(r, "ok")), "%s: %s",
			      name, json_object_to_json_string(r));
		ck_assert_int_eq(jt_int(r, "runs"), 2);
	}
	r = result_of(doc, "W1");
	ck_assert_int_eq(jt_int(r, "messages"), 300);
	ck_assert_int_eq(jt_int(r, "delivered"), 300);
	ck_assert_int_eq(jt_int(r, "lost"), 0);
	ck_assert_int_eq(jt_int(r, "errors"), 0);
	ck_assert(json_object_get_double(json_object_object_get(r, "msgs_per_s")) > 0);
	ck_assert(json_object_object_get_ex(r, "latency_us", &lat) && !lat);
	r = result_of(doc, "W2");
	ck_assert_int_eq(jt_int(r, "delivered"), 900);
	ck_assert(json_object_object_get_ex(r, "lost_per_client", &per));
	ck_assert_int_eq(json_object_array_length(per), 3);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(per, 2)), 0);
	r = result_of(doc, "W3");
	ck_assert_int_eq(jt_int(r, "delivered"), 50);
	ck_assert(json_object_object_get_ex(r, "latency_us", &lat) && lat);
	ck_assert(json_object_get_double(json_object_object_get(lat, "p50")) > 0);
	ck_assert(json_object_get_double(json_object_object_get(lat, "max")) >=
		  json_object_get_double(json_object_object_get(lat, "p99")));
	r = result_of(doc, "W4");
	ck_assert_int_eq(jt_int(r, "clients"), 20);
	ck_assert(jt_int(r, "rss_before_kib") > 0);
	r = result_of(doc, "W5");
	ck_assert_int_eq(jt_int(r, "delivered"), 900);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "lost_per_client")),
			 3);
	r = result_of(doc, "W6");
	ck_assert_int_eq(jt_int(r, "cycles"), 20);
	json_object_put(doc);
}
END_TEST

/* Loosely well formed: every tag closed in order, quotes paired in each tag. */
static void expect_svg(const char *s)
{
	const char *stack[64];
	size_t depth = 0;

	ck_assert_msg(!strncmp(s, "<svg ", 5), "%.80s", s);
	while ((s = strchr(s, '<'))) {
		const char *end = strchr(s, '>'), *name = s + 1 + (s[1] == '/');
		size_t quotes = 0, n = strcspn(name, " />");

		ck_assert_ptr_nonnull(end);
		for (const char *q = s; q < end; q++)
			quotes += *q == '"';
		ck_assert_msg(quotes % 2 == 0, "%.*s", (int)(end - s + 1), s);
		if (s[1] == '/') {
			ck_assert_msg(depth > 0 && !strncmp(stack[depth - 1], name, n),
				      "unbalanced %.*s", (int)(end - s + 1), s);
			depth--;
		} else if (end[-1] != '/') {
			ck_assert_uint_lt(depth, 64);
			stack[depth++] = name;
		}
		s = end + 1;
	}
	ck_assert_uint_eq(depth, 0);
}

START_TEST(test_cli_bench_svg)
{
	char path[PATH_MAX + 16], *text;
	struct jt_proc *p;
	FILE *f;
	long n;

	jt_fmt(path, sizeof(path), "%s/chart.svg", jt_b.dir);
	p = jt_jbus_run(JT_ARGV("bench", "-s", jt_b.path, "--svg", path, "W1,W3", "w5", TINY));
	ck_assert_msg(p->status == 0, "status %d, stderr: %s", p->status, p->err.p);
	expect_row(p->out.p, rows[0]);
	expect_row(p->out.p, rows[2]);
	expect_row(p->out.p, rows[4]);
	ck_assert_ptr_null(strstr(p->out.p, "W2 "));
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fread(text, 1, (size_t)n, f), n);
	fclose(f);
	unlink(path);
	expect_svg(text);
	ck_assert_ptr_nonnull(strstr(text, "<polyline fill=\"none\" stroke=\"steelblue\""));
	ck_assert_ptr_nonnull(strstr(text, ">W5 3 pubs -&gt; 1 sub</text>"));
	ck_assert_str_eq(text + n - 7, "</svg>\n");
	free(text);
}
END_TEST

START_TEST(test_cli_bench_usage)
{
	static const struct {
		const char *args[4];
		const char *err;
	} cases[] = {
		{ { "W7" }, "jbus bench: unknown workload 'W7' (W1 to W6)\n" },
		{ { "W1,x" }, "jbus bench: unknown workload 'x' (W1 to W6)\n" },
		{ { "," }, "jbus bench: unknown workload ',' (W1 to W6)\n" },
		{ { "-b", "10" }, "jbus bench: --size 10 is too small: the payload of these "
				  "counts needs 32 bytes\n" },
		{ { "-k", "0" }, "jbus bench: invalid --subscribers value '0' (a positive "
				 "integer)\n" },
		{ { "-p", "257" }, "jbus bench: invalid --publishers value '257' (at most 256)\n" },
		{ { "--cpu", "x" }, "jbus bench: invalid --cpu value 'x' (a CPU number)\n" },
		{ { "-d", "0" }, "jbus bench: invalid --duration value '0' (seconds, 0.001 to "
				 "1e9)\n" },
		{ { "--spawn", "-s", "/x" }, "jbus bench: --spawn and -s exclude each other\n" },
		{ { "-n", "me" }, "jbus bench: -n does not apply: the benchmark's clients take "
				  "generated names\n" },
		{ { "--frobnicate" }, "jbus bench: unknown option '--frobnicate'\n" },
	};
	char want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;
		struct jt_proc *p = jt_jbus_run(JT_ARGV("bench", a[0] ? a[0] : NULL, a[1], a[2]));

		jt_fmt(want, sizeof(want), "%sTry 'jbus bench --help' for more information.\n",
		       cases[i].err);
		jt_proc_expect(p, 2, "", want);
	}
}
END_TEST

START_TEST(test_cli_bench_no_broker)
{
	char path[PATH_MAX + 16], want[PATH_MAX + 128];
	struct jt_proc *p;

	jt_fmt(path, sizeof(path), "%s/none.sock", jt_b.dir);
	p = jt_jbus_run(JT_ARGV("bench", "-s", path, "W1"));
	jt_fmt(want, sizeof(want),
	       "jbus bench: cannot connect to %s: no broker socket at that path\n", path);
	jt_proc_expect(p, 1, "", want);
}
END_TEST

START_TEST(test_cli_bench_help)
{
	struct jt_proc *p = jt_jbus_run(JT_ARGV("bench", "--help"));

	ck_assert_int_eq(p->status, 0);
	ck_assert_msg(!strncmp(p->out.p, "Usage: jbus bench [OPTION]... [W1,W2,...]\n", 42),
		      "%s", p->out.p);
	ck_assert_ptr_nonnull(strstr(p->out.p, "--spawn"));
	p = jt_jbus_run(JT_ARGV("--help"));
	ck_assert_ptr_nonnull(strstr(p->out.p, "\n  bench [W1,W2,...]"));
}
END_TEST

Suite *jt_suite(void)
{
	const struct jt_case cases[] = {
		{ "bench_spawn", test_cli_bench_spawn },
		{ "bench_json", test_cli_bench_json },
		{ "bench_svg", test_cli_bench_svg },
		{ "bench_usage", test_cli_bench_usage },
		{ "bench_no_broker", test_cli_bench_no_broker },
		{ "bench_help", test_cli_bench_help },
	};
	Suite *s = suite_create("cli_bench");

	jt_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), jt_setup, jt_teardown, 120);
	return s;
}
