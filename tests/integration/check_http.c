/*
 * The HTTP view on the stream socket: a connection whose first bytes are
 * "GET " or "HEAD " gets one HTTP/1.1 response and is closed. The happy
 * paths go through the real curl (--unix-socket); malformed, oversized,
 * slow and split requests through a raw socket. Every response is checked
 * whole: status line, the three headers (Content-Type, a Content-Length
 * equal to the body, Connection: close), the body, and the close after it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jt.h"
#include "util.h"

#define CURL "/usr/bin/curl"

/* One parsed response; body points into raw. */
struct resp {
	char *raw;
	size_t len;
	int status;
	const char *body;
	size_t body_len;
	long content_length;
};

static void resp_free(struct resp *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/*
 * Parse raw[0..n) (taken over) as a response to a GET (head false) or HEAD:
 * the status line, exactly the broker's three headers, and a body whose
 * length is the Content-Length (none for HEAD, whatever its length says).
 */
static void parse_resp(struct resp *r, char *raw, size_t n, bool head)
{
	const char *p = raw, *end = raw + n, *hdr_end;
	bool type = false, length = false, conn = false;
	char reason[64];

	memset(r, 0, sizeof(*r));
	r->raw = raw;
	r->len = n;
	r->content_length = -1;
	hdr_end = memmem(raw, n, "\r\n\r\n", 4);
	ck_assert_msg(hdr_end != NULL, "no end of headers in: %s", jt_show(raw, n));
	ck_assert_msg(sscanf(p, "HTTP/1.1 %3d %63[^\r]\r\n", &r->status, reason) == 2,
		      "bad status line: %s", jt_show(raw, n));
	p = strstr(p, "\r\n") + 2;
	while (p < hdr_end + 2) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		size_t len = (size_t)(eol - p);

		if (len == 0)
			break;
		if (len == 30 && memcmp(p, "Content-Type: application/json", 30) == 0) {
			type = true;
		} else if (len > 16 && strncmp(p, "Content-Length: ", 16) == 0) {
			char *e;
			r->content_length = strtol(p + 16, &e, 10);
			ck_assert_msg(e == eol && r->content_length >= 0, "bad length: %s",
				      jt_show(p, len));
			length = true;
		} else if (len == 17 && memcmp(p, "Connection: close", 17) == 0) {
			conn = true;
		} else {
			ck_abort_msg("unexpected header: %s", jt_show(p, len));
		}
		p = eol + 2;
	}
	ck_assert_msg(type && length && conn, "missing header in: %s", jt_show(raw, n));
	r->body = hdr_end + 4;
	r->body_len = (size_t)(end - r->body);
	if (head)
		ck_assert_msg(r->body_len == 0, "a body after HEAD: %s",
			      jt_show(r->body, r->body_len));
	else
		ck_assert_msg((long)r->body_len == r->content_length,
			      "Content-Length %ld, body of %zu bytes: %s", r->content_length,
			      r->body_len, jt_show(r->body, r->body_len));
}

/* The body parsed as a JSON object (caller puts). */
static json_object *body_json(const struct resp *r)
{
	char *s = strndup(r->body, r->body_len);
	json_object *o;

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(r->body_len && r->body[r->body_len - 1] == '\n', "body without its newline");
	o = jt_parse(s);
	free(s);
	ck_assert(json_object_is_type(o, json_type_object));
	return o;
}

/* An error body: {"error":code,"message":...}. */
static void expect_error_body(const struct resp *r, const char *code)
{
	json_object *o = body_json(r);

	ck_assert_str_eq(jt_str(o, "error"), code);
	ck_assert_msg(jt_str(o, "message") && *jt_str(o, "message"), "no message");
	json_object_put(o);
}

/* section: raw client */

/* Everything c receives until the broker closes it; fails if it is not closed within 5 s. */
static char *read_to_eof(struct jt_conn *c, size_t *len)
{
	int64_t deadline = jt_now_ms() + JT_TIMEOUT_MS;
	size_t n = c->len, cap = n + 65536;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	if (n)
		memcpy(buf, c->buf, n);
	c->len = 0;
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int64_t left = deadline - jt_now_ms();
		ssize_t k;

		if (cap - n < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		ck_assert_msg(left > 0 && poll(&p, 1, (int)left) == 1,
			      "connection not closed within %d ms; got: %s", JT_TIMEOUT_MS,
			      jt_show(buf, n));
		k = read(c->fd, buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			break;
		ck_assert_msg(k > 0, "read: %s", strerror(errno));
		n += (size_t)k;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Send req on a new connection and read the whole response (the broker must close after it). */
static void raw_request(struct resp *r, const char *req, size_t n)
{
	struct jt_conn *c = jt_connect(jt_b.path);
	size_t len;
	char *raw;

	jt_send_until_closed(c, req, n);
	raw = read_to_eof(c, &len);
	jt_close(c);
	parse_resp(r, raw, len, strncmp(req, "HEAD ", 5) == 0);
}

static void raw_expect(const char *req, int status, const char *code)
{
	struct resp r;

	raw_request(&r, req, strlen(req));
	ck_assert_msg(r.status == status, "%s: status %d, want %d", jt_show(req, strlen(req)),
		      r.status, status);
	if (code && strncmp(req, "HEAD ", 5) != 0)
		expect_error_body(&r, code);
	resp_free(&r);
}

/* section: curl */

static bool have_curl(void)
{
	if (access(CURL, X_OK) == 0)
		return true;
	fprintf(stderr, "skipped: %s is missing (scripts/install-deps.sh installs curl)\n", CURL);
	return false;
}

/* curl -i (or -I for HEAD) on http://localhost<path> through the broker's socket. */
static void curl_request(struct resp *r, const char *path, bool head)
{
	char url[256];
	struct jt_proc *p;
	char *raw;

	jt_fmt(url, sizeof(url), "http://localhost%s", path);
	p = jt_proc_run(JT_ARGV(CURL, "-sS", head ? "-I" : "-i", "--max-time", "10",
				"--unix-socket", jt_b.path, url),
			NULL, NULL, 0);
	ck_assert_msg(p->status == 0, "curl exit %d: %s", p->status, p->err.p);
	raw = malloc(p->out.len + 1);
	ck_assert_ptr_nonnull(raw);
	memcpy(raw, p->out.p, p->out.len + 1);
	parse_resp(r, raw, p->out.len, head);
}

START_TEST(test_http_curl_health)
{
	struct resp r;

	if (!have_curl())
		return;
	curl_request(&r, "/health", false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
	resp_free(&r);
}
END_TEST

static const char *const stats_fields[] = {
	"uptime_ms", "clients", "subscriptions", "retained", "retained_bytes", "frames_in",
	"msgs_routed", "deliveries", "bytes_in", "bytes_out", "slow_consumer_disconnects",
	"requests_pending", "requests_timed_out", "replies_dropped", "errors_sent",
	"connections", "connections_refused", "handshake_failures", "dgram_in", "dgram_dropped",
	"http_requests",
};

START_TEST(test_http_curl_stats)
{
	struct jt_conn *a = jt_client("a");
	json_object *o, *v;
	struct resp r;

	if (!have_curl())
		return;
	curl_request(&r, "/health", false);
	resp_free(&r);
	curl_request(&r, "/stats", false);
	ck_assert_int_eq(r.status, 200);
	o = body_json(&r);
	ck_assert_str_eq(jt_str(o, "op"), "stats");
	ck_assert(!jt_has(o, "id"));
	for (size_t i = 0; i < ARRAY_SIZE(stats_fields); i++) {
		ck_assert_msg(json_object_object_get_ex(o, stats_fields[i], &v) &&
				      json_object_is_type(v, json_type_int),
			      "stats field %s missing or not an integer", stats_fields[i]);
	}
	/* the /health before it; this one is counted once answered */
	ck_assert_int_eq(jt_int(o, "http_requests"), 1);
	ck_assert_int_eq(jt_int(o, "clients"), 1);
	json_object_put(o);
	resp_free(&r);
	/* the same counters as the stats op, which now sees both requests */
	ck_assert_int_eq(jt_stat(a, "http_requests"), 2);

	/* a query string selects nothing */
	curl_request(&r, "/stats?pretty=1&x", false);
	ck_assert_int_eq(r.status, 200);
	o = body_json(&r);
	ck_assert_str_eq(jt_str(o, "op"), "stats");
	json_object_put(o);
	resp_free(&r);
}
END_TEST

START_TEST(test_http_curl_clients)
{
	struct jt_conn *w = jt_sub(jt_client("watcher"), "w/#");
	json_object *o, *list, *e, *subs;
	struct resp r;

	if (!have_curl())
		return;
	jt_sync(w);
	curl_request(&r, "/clients", false);
	ck_assert_int_eq(r.status, 200);
	o = body_json(&r);
	ck_assert_str_eq(jt_str(o, "op"), "clients");
	ck_assert(!jt_has(o, "id"));
	ck_assert(json_object_object_get_ex(o, "clients", &list));
	/* the HTTP connection itself is no client */
	ck_assert_int_eq(json_object_array_length(list), 1);
	e = json_object_array_get_idx(list, 0);
	ck_assert_str_eq(jt_str(e, "name"), "watcher");
	ck_assert_int_eq(jt_int(e, "pid"), getpid());
	ck_assert_int_eq(jt_int(e, "uid"), getuid());
	ck_assert(json_object_object_get_ex(e, "subs", &subs));
	ck_assert_int_eq(json_object_array_length(subs), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(subs, 0)), "w/#");
	json_object_put(o);
	resp_free(&r);
}
END_TEST

START_TEST(test_http_curl_not_found)
{
	static const char *const paths[] = { "/nope", "/", "/health/", "/healthz", "/Stats" };
	struct resp r;

	if (!have_curl())
		return;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		curl_request(&r, paths[i], false);
		ck_assert_msg(r.status == 404, "%s: status %d", paths[i], r.status);
		expect_error_body(&r, "not_found");
		resp_free(&r);
	}
}
END_TEST

START_TEST(test_http_curl_head)
{
	struct resp r;
	long get_len;

	if (!have_curl())
		return;
	curl_request(&r, "/health", true);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, (long)strlen("{\"status\":\"ok\"}\n"));
	resp_free(&r);
	/* a 404 keeps the length of the body a GET gets */
	curl_request(&r, "/nope", false);
	get_len = r.content_length;
	resp_free(&r);
	curl_request(&r, "/nope", true);
	ck_assert_int_eq(r.status, 404);
	ck_assert_int_eq(r.content_length, get_len);
	resp_free(&r);
	curl_request(&r, "/stats", true);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_gt(r.content_length, 100);
	resp_free(&r);
}
END_TEST

/* section: raw requests */

START_TEST(test_http_raw_ok_variants)
{
	static const char *const reqs[] = {
		"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /health HTTP/1.0\r\n\r\n",
		/* bare LF line ends */
		"GET /health HTTP/1.1\nHost: localhost\nAccept: */*\n\n",
		"GET /health HTTP/1.1\r\nHost: x\n\r\n",
		/* header values are not looked at; an empty value is fine */
		"GET /health?x=1 HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv\r\n\r\n",
	};
	struct resp r;

	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		raw_request(&r, reqs[i], strlen(reqs[i]));
		ck_assert_msg(r.status == 200, "%s: status %d", jt_show(reqs[i], strlen(reqs[i])),
			      r.status);
		ck_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
		resp_free(&r);
	}
}
END_TEST

static const char *const bad_requests[] = {
	"GET /health HTTP/2.0\r\n\r\n",
	"GET /health HTTP/1.2\r\n\r\n",
	"GET /health HTTP/1.1x\r\n\r\n",
	"GET /health http/1.1\r\n\r\n",
	"GET /health\r\n\r\n",
	"GET health HTTP/1.1\r\n\r\n",
	"GET  /health HTTP/1.1\r\n\r\n",
	"GET /health  HTTP/1.1\r\n\r\n",
	"GET /a b HTTP/1.1\r\n\r\n",
	"GET http://localhost/health HTTP/1.1\r\n\r\n",
	"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
	"GET /health HTTP/1.1\r\n: empty name\r\n\r\n",
	"GET /health HTTP/1.1\r\nBad Name: x\r\n\r\n",
	"GET /health HTTP/1.1\r\nHost : x\r\n\r\n",
	"GET /health HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n",
	"GET /health HTTP/1.1\r\nX\x7f: y\r\n\r\n",
	"GET /health HTTP/1.1\r\nX-\xc3\xa9: y\r\n\r\n",
	"HEAD /health HTTP/1.1\r\nBroken\r\n\r\n",
};

START_TEST(test_http_raw_bad_request)
{
	raw_expect(bad_requests[_i], 400, "bad_request");
}
END_TEST

/* A request of exactly len bytes: the request line, padding headers, the empty line. */
static char *request_of_len(size_t len, bool complete)
{
	static const char line[] = "GET /health HTTP/1.1\r\n";
	char *req = malloc(len + 1);
	size_t n = strlen(line), tail = complete ? 2 : 0;

	ck_assert_ptr_nonnull(req);
	memcpy(req, line, n);
	/* headers "X: xxx...\r\n" of at most 1000 bytes until the end */
	while (n < len - tail) {
		size_t left = len - tail - n, h = left > 1000 ? 1000 : left;
		if (left - h != 0 && left - h < 6)
			h = left - 6; /* leave room for one more valid header */
		ck_assert_uint_ge(h, 6);
		memcpy(req + n, "X: ", 3);
		memset(req + n + 3, 'x', h - 5);
		memcpy(req + n + h - 2, "\r\n", 2);
		n += h;
	}
	if (complete)
		memcpy(req + n, "\r\n", 2);
	req[len] = '\0';
	return req;
}

START_TEST(test_http_raw_too_large)
{
	struct resp r;
	char *req;

	/* 8 KiB exactly, the empty line included, is served */
	req = request_of_len(8192, true);
	raw_request(&r, req, 8192);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	free(req);
	/* one byte more is not, complete or not */
	req = request_of_len(8193, true);
	raw_request(&r, req, 8193);
	ck_assert_int_eq(r.status, 431);
	expect_error_body(&r, "too_large");
	resp_free(&r);
	free(req);
	req = request_of_len(9 * 1024, false);
	raw_request(&r, req, 9 * 1024);
	ck_assert_int_eq(r.status, 431);
	resp_free(&r);
	free(req);
}
END_TEST

/* a broker with a short deadline for requests (and hellos) */
static void setup_timeout(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--handshake-timeout", "0.3"));
}

START_TEST(test_http_raw_timeout)
{
	static const char *const partial[] = {
		"GET /health HTTP/1.1\r\nHost: x\r\n",
		"GET ",
	};

	for (size_t i = 0; i < ARRAY_SIZE(partial); i++) {
		struct jt_conn *c = jt_connect(jt_b.path);
		int64_t t0 = jt_now_ms();
		struct resp r;
		size_t len;
		char *raw;

		jt_send_raw(c, partial[i], strlen(partial[i]));
		raw = read_to_eof(c, &len);
		ck_assert_msg(jt_now_ms() - t0 >= 250, "answered after %lld ms",
			      (long long)(jt_now_ms() - t0));
		jt_close(c);
		parse_resp(&r, raw, len, false);
		ck_assert_int_eq(r.status, 408);
		expect_error_body(&r, "timeout");
		resp_free(&r);
	}
	/* a whole request is still served at once */
	raw_expect("GET /health HTTP/1.1\r\n\r\n", 200, NULL);
}
END_TEST

/*
 * One byte per read: a ping round trip on another connection after each
 * byte makes sure the broker read it before the next is sent (it handles
 * everything that is readable in a turn before it answers the ping).
 */
static void trickle(const char *req, int status, bool small)
{
	struct jt_conn *c = jt_connect(jt_b.path), *sync = jt_client(NULL);
	size_t len, n = strlen(req);
	struct resp r;
	char *raw;

	for (size_t i = 0; i < n; i++) {
		jt_send_raw(c, req + i, 1);
		jt_sync(sync);
	}
	raw = read_to_eof(c, &len);
	parse_resp(&r, raw, len, req[0] == 'H');
	ck_assert_msg(r.status == status, "%s: status %d", jt_show(req, n), r.status);
	if (small && r.status == 200 && req[0] == 'G')
		ck_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
	resp_free(&r);
	jt_close(c);
	jt_close(sync);
}

START_TEST(test_http_raw_one_byte_writes)
{
	trickle("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, true);
	trickle("HEAD /stats HTTP/1.1\nHost: localhost\n\n", 200, false);
	trickle("GET /health HTTP/1.1\r\nbad\r\n\r\n", 400, false);
}
END_TEST

/* with --max-frame 64 a request may still take 8 KiB, also when it trickles in */
static void setup_small_frames(void)
{
	jt_broker_start_args(&jt_b, JT_ARGV("--max-frame", "64"));
}

START_TEST(test_http_raw_small_max_frame)
{
	char *req = request_of_len(4000, true);
	struct resp r;

	raw_request(&r, req, 4000);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	free(req);
	trickle("GET /health HTTP/1.1\r\nUser-Agent: a header longer than sixty-four bytes, "
		"which is max_frame here\r\n\r\n",
		200, true);
}
END_TEST

START_TEST(test_http_raw_pipelined)
{
	static const char req[] = "GET /health HTTP/1.1\r\n\r\nGET /stats HTTP/1.1\r\n\r\n";
	struct resp r;

	/* one response, then the close: the second request is not read */
	raw_request(&r, req, strlen(req));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
	resp_free(&r);
}
END_TEST

START_TEST(test_http_raw_head_errors)
{
	/* HEAD answers carry the headers of the error, not its body */
	raw_expect("HEAD /nope HTTP/1.1\r\n\r\n", 404, NULL);
	raw_expect("HEAD /health HTTP/3\r\n\r\n", 400, NULL);
	raw_expect("HEAD /health HTTP/1.0\r\n\r\n", 200, NULL);
}
END_TEST

START_TEST(test_http_raw_counted)
{
	struct jt_conn *a = jt_client("a");

	raw_expect("GET /health HTTP/1.1\r\n\r\n", 200, NULL);
	raw_expect("GET /x HTTP/1.1\r\n\r\n", 404, "not_found");
	raw_expect("GET x HTTP/1.1\r\n\r\n", 400, "bad_request");
	raw_expect("HEAD /health HTTP/1.1\r\n\r\n", 200, NULL);
	ck_assert_int_eq(jt_stat(a, "http_requests"), 4);
	/* HTTP connections are not clients and no handshake failures */
	ck_assert_int_eq(jt_stat(a, "clients"), 1);
	ck_assert_int_eq(jt_stat(a, "handshake_failures"), 0);
}
END_TEST

/* section: not HTTP */

static const char *const not_http[] = {
	"GEX / HTTP/1.1\r\n\r\n",
	"get /health HTTP/1.1\r\n\r\n",
	"POST /health HTTP/1.1\r\n\r\n",
	"GET\r\n",
	"HEAD\t/health HTTP/1.1\r\n\r\n",
	" GET /health HTTP/1.1\r\n\r\n",
};

START_TEST(test_http_not_http)
{
	struct jt_conn *c = jt_connect(jt_b.path);

	jt_send_raw(c, not_http[_i], strlen(not_http[_i]));
	json_object_put(jt_expect_error(c, "handshake_required"));
	jt_expect_eof(c, JT_TIMEOUT_MS);
}
END_TEST

START_TEST(test_http_after_hello)
{
	struct jt_conn *c = jt_client("a");

	/* only the first bytes of a connection may start a request */
	jt_send(c, "GET /health HTTP/1.1\r");
	json_object_put(jt_expect_error(c, "bad_json"));
	jt_sync(c);
	ck_assert_int_eq(jt_stat(c, "http_requests"), 0);
}
END_TEST

Suite *jt_suite(void)
{
	Suite *s = suite_create("http");
	const struct jt_case cases[] = {
		{ "curl_health", test_http_curl_health },
		{ "curl_stats", test_http_curl_stats },
		{ "curl_clients", test_http_curl_clients },
		{ "curl_not_found", test_http_curl_not_found },
		{ "curl_head", test_http_curl_head },
		{ "ok_variants", test_http_raw_ok_variants },
		{ "bad_request", test_http_raw_bad_request, (int)ARRAY_SIZE(bad_requests) },
		{ "too_large", test_http_raw_too_large },
		{ "one_byte_writes", test_http_raw_one_byte_writes },
		{ "pipelined", test_http_raw_pipelined },
		{ "head_errors", test_http_raw_head_errors },
		{ "counted", test_http_raw_counted },
		{ "not_http", test_http_not_http, (int)ARRAY_SIZE(not_http) },
		{ "after_hello", test_http_after_hello },
	};

	jt_add_cases(s, cases, ARRAY_SIZE(cases), jt_setup, jt_teardown, 30);
	tcase_add_test(jt_tcase(s, "timeout", setup_timeout, jt_teardown, 30),
		       test_http_raw_timeout);
	tcase_add_test(jt_tcase(s, "small_max_frame", setup_small_frames, jt_teardown, 30),
		       test_http_raw_small_max_frame);
	return s;
}
