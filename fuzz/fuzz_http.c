/*
 * libFuzzer target for the broker's HTTP request parser (broker/http.c).
 *
 * http_feed() answers through a struct client, so this file is a link
 * seam: it is built with broker/http.c and the codec only, and defines the
 * few broker functions http.c calls (client_queue_buf, client_linger,
 * client_close, introspect_build_*, access_check, log_msg) as stubs that
 * record the response instead of queueing it. The policy says no to
 * inputs of odd length, so the 403 answer is checked too. No broker code is changed for it.
 *
 * For every input that http_detect() calls HTTP, it checks:
 *  - http_feed() either wants more bytes (only below 8 KiB with no end of
 *    the header block yet) or answers exactly once and closes;
 *  - the answer is one well-formed HTTP/1.1 response: a known status, the
 *    three headers, a Content-Length equal to the body (no body for HEAD);
 *  - a request still incomplete gets a well-formed 408 from http_timeout()
 *    (with its body, HEAD or not);
 *  - splitting: the first prefix that gets an answer gets the same answer
 *    as the whole input, and every shorter prefix wants more (the broker
 *    judges a request the same however its bytes arrive);
 *  - http_detect() is consistent on prefixes (no prefix says NO when the
 *    whole says YES).
 * A violation aborts (a finding); sanitizers catch memory errors.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "http.h"
#include "introspect.h"
#include "log.h"
#include "outq.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* section: stubs for what http.c calls */

static struct {
	int responses;  /* client_queue_buf calls */
	int lingers;    /* client_linger calls */
	int closes;     /* client_close calls */
	char *resp;     /* the last response, NUL-terminated */
	bool deny;      /* access_check's answer: no */
	size_t resp_len;
} rec;

enum log_level log_max_level = LOG_LVL_DEBUG;

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	/* formatted like the real one, so a bad format argument shows */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

bool client_queue_buf(struct client *c, struct wire_buf *b)
{
	rec.responses++;
	if (wire_buf_failed(b) || b->len < FRAME_HEADROOM) {
		wire_buf_free(b);
		rec.closes++;
		return false;
	}
	free(rec.resp);
	rec.resp_len = b->len - FRAME_HEADROOM;
	rec.resp = malloc(rec.resp_len + 1);
	if (!rec.resp)
		abort();
	memcpy(rec.resp, b->p + FRAME_HEADROOM, rec.resp_len);
	rec.resp[rec.resp_len] = '\0';
	wire_buf_free(b);
	return true;
}

void client_linger(struct client *c, bool restart_on_progress, enum client_end why)
{
	rec.lingers++;
	c->state = CLIENT_CLOSING;
}

void client_close(struct client *c, const char *log_why, enum client_end why)
{
	rec.closes++;
	c->state = CLIENT_DEAD;
}

/* Fixed bodies of the right shape: the parser's job ends at choosing them. */
bool access_check(struct client *c, enum policy_op op, const char *s, size_t n,
		  const char *what)
{
	(void)c, (void)op, (void)s, (void)n, (void)what;
	return !rec.deny;
}

void introspect_build_stats(struct broker *b, struct wire_buf *wb, const struct wire_value *id)
{
	wire_buf_puts(wb, "{\"op\":\"stats\",\"uptime_ms\":1}\n");
}

void introspect_build_clients(struct broker *b, struct wire_buf *wb,
			      const struct wire_value *id)
{
	wire_buf_puts(wb, "{\"op\":\"clients\",\"clients\":[]}\n");
}

/* section: checks */

static struct broker fake_broker;
static struct client fake_client;
static bool deny_input; /* this input's policy: odd lengths are denied */

static void reset(void)
{
	free(rec.resp);
	memset(&rec, 0, sizeof(rec));
	rec.deny = deny_input;
	memset(&fake_client, 0, sizeof(fake_client));
	fake_client.b = &fake_broker;
	fake_client.state = CLIENT_HANDSHAKE;
	fake_client.serial = 1;
}

/* A copy of p[0..n) in its own allocation, so ASan sees any read past n. */
static int feed(const uint8_t *p, size_t n)
{
	char *copy = malloc(n ? n : 1);
	int r;

	if (!copy)
		abort();
	memcpy(copy, p, n);
	r = http_feed(&fake_client, copy, n);
	free(copy);
	return r;
}

/* The recorded response is well formed; returns its status. */
static int check_response(bool head)
{
	const char *r = rec.resp, *hdr_end, *body;
	long clen = -1;
	int status = 0, nh = 0;
	char *e;

	CHECK(rec.responses == 1 && rec.lingers == 1 && rec.closes == 0 && r);
	CHECK(sscanf(r, "HTTP/1.1 %3d ", &status) == 1);
	CHECK(status == 200 || status == 400 || status == 403 || status == 404 || status == 408 || status == 431);
	hdr_end = strstr(r, "\r\n\r\n");
	CHECK(hdr_end);
	for (const char *l = strstr(r, "\r\n") + 2; l < hdr_end + 2; l = strstr(l, "\r\n") + 2) {
		nh++;
		if (strncmp(l, "Content-Length: ", 16) == 0) {
			clen = strtol(l + 16, &e, 10);
			CHECK(strncmp(e, "\r\n", 2) == 0);
		} else {
			CHECK(strncmp(l, "Content-Type: application/json\r\n", 32) == 0 ||
			      strncmp(l, "Connection: close\r\n", 19) == 0);
		}
	}
	CHECK(nh == 3 && clen > 0);
	body = hdr_end + 4;
	if (head)
		CHECK(body == r + rec.resp_len);
	else
		CHECK((long)(r + rec.resp_len - body) == clen && body[clen - 1] == '\n');
	return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	char *whole;
	size_t whole_len;
	int r, det = http_detect(p, size);

	deny_input = size & 1;
	/* a prefix of HTTP cannot look like something else */
	for (size_t k = 0; k <= size && k < 6; k++) {
		int d = http_detect(p, k);
		if (det == HTTP_YES)
			CHECK(d != HTTP_NO);
		if (d == HTTP_NO)
			CHECK(det == HTTP_NO);
	}
	if (det != HTTP_YES || size > 4 * HTTP_MAX_REQUEST)
		return 0;

	reset();
	r = feed(data, size);
	if (r == 1) {
		CHECK(size < HTTP_MAX_REQUEST && rec.responses == 0 && rec.lingers == 0);
		CHECK(fake_client.http);
		/* the deadline passes: 408, with its body even for HEAD */
		http_timeout(&fake_client);
		CHECK(check_response(false) == 408);
		reset();
		return 0;
	}
	CHECK(r == 0);
	check_response(data[0] == 'H');
	whole = rec.resp;
	whole_len = rec.resp_len;
	rec.resp = NULL;

	/*
	 * The same request in pieces: prefixes shorter than some K want more,
	 * K and longer get the whole input's answer. K by bisection, then its
	 * neighbour and one more prefix picked by the input are checked.
	 */
	{
		size_t m = data[0] == 'H' ? 5 : 4, lo = m, hi = size, pick;
		uint32_t h = 2166136261u;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			reset();
			if (feed(data, mid) == 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		for (size_t i = 0; i < size; i++)
			h = (h ^ data[i]) * 16777619u;
		pick = m + h % (size - m + 1);
		const size_t probes[] = { lo - 1, lo, pick };
		for (size_t i = 0; i < 3; i++) {
			size_t k = probes[i];
			if (k < m)
				continue;
			reset();
			r = feed(data, k);
			if (k < lo) {
				CHECK(r == 1 && rec.responses == 0);
				continue;
			}
			CHECK(r == 0);
			check_response(data[0] == 'H');
			CHECK(rec.resp_len == whole_len && memcmp(rec.resp, whole, whole_len) == 0);
		}
	}
	free(whole);
	reset();
	return 0;
}
