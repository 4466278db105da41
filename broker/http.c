/*
 * HTTP view (see http.h). The parser is bounded: it looks for the end of
 * the header block within HTTP_MAX bytes, validates the request line and
 * that every header line is "name: value", and ignores header contents: no
 * body is read (GET and HEAD have none), no connection is kept alive. The
 * handshake deadline bounds how long a request may take to arrive.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "introspect.h"
#include "log.h"
#include "outq.h"


int http_detect(const char *p, size_t n)
{
	static const char *const methods[] = { "GET ", "HEAD " };

	for (size_t i = 0; i < 2; i++) {
		size_t m = strlen(methods[i]);
		size_t k = n < m ? n : m;
		if (memcmp(p, methods[i], k) == 0)
			return k == m ? HTTP_YES : HTTP_MAYBE;
	}
	return HTTP_NO;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	default: return "Internal Server Error";
	}
}

/* Queues the response (body: JSON text; omitted for HEAD) and closes. */
static void respond(struct client *c, int status, const char *body, size_t body_len, bool head)
{
	struct wire_buf wb;
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, reason_of(status), body_len);
	wire_buf_init(&wb, FRAME_HEADROOM);
	wire_buf_put(&wb, hdr, (size_t)n);
	if (!head)
		wire_buf_put(&wb, body, body_len);
	c->b->stats.http_requests++;
	/* queued before closing: a closing client is never refused its last frame */
	client_linger(c, true, END_ERROR);
	client_queue_buf(c, &wb);
}

static void respond_error(struct client *c, int status, const char *code, const char *msg,
			  bool head)
{
	struct wire_buf body;

	wire_buf_init(&body, 0);
	wire_buf_puts(&body, "{\"error\":");
	wire_buf_put_jstr(&body, code, strlen(code));
	wire_buf_puts(&body, ",\"message\":");
	wire_buf_put_jstr(&body, msg, strlen(msg));
	wire_buf_puts(&body, "}\n");
	if (wire_buf_failed(&body))
		client_close(c, "out of memory", END_ERROR);
	else
		respond(c, status, body.p, body.len, head);
	wire_buf_free(&body);
}

void http_timeout(struct client *c)
{
	/* the request so far is in the input buffer: a HEAD gets no body */
	bool head = c->in_len && c->in[0] == 'H';

	respond_error(c, 408, "timeout", "the request did not arrive in time", head);
}

/* Each header line must be "name: value" with a non-empty name of visible characters. */
static bool headers_valid(const char *p, const char *end)
{
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon;
		size_t len;

		if (!eol)
			eol = end;
		len = (size_t)(eol - p);
		if (len && p[len - 1] == '\r')
			len--;
		if (len) {
			colon = memchr(p, ':', len);
			if (!colon || colon == p)
				return false;
			for (const char *q = p; q < colon; q++)
				if (*q <= ' ' || *q >= 0x7f)
					return false;
		}
		p = eol + 1;
	}
	return true;
}

/* "HTTP/1.0" or "HTTP/1.1" in v[0..eol), a CR before the LF allowed. */
static bool version_valid(const char *v, const char *eol)
{
	size_t n = (size_t)(eol - v);

	if (n && v[n - 1] == '\r')
		n--;
	return n == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1');
}

static void route(struct client *c, const char *path, size_t n, bool head)
{
	struct wire_value none = { 0 };
	struct wire_buf body;

	wire_buf_init(&body, 0);
	if (((n == 6 && !memcmp(path, "/stats", 6)) || (n == 8 && !memcmp(path, "/clients", 8))) &&
	    !access_check(c, POLICY_INTROSPECT, NULL, 0, "http introspection")) {
		wire_buf_free(&body);
		respond_error(c, 403, "forbidden", "introspection is forbidden by the policy", head);
		return;
	}
	if (n == 7 && memcmp(path, "/health", 7) == 0) {
		wire_buf_puts(&body, "{\"status\":\"ok\"}\n");
	} else if (n == 6 && memcmp(path, "/stats", 6) == 0) {
		introspect_build_stats(c->b, &body, &none);
	} else if (n == 8 && memcmp(path, "/clients", 8) == 0) {
		introspect_build_clients(c->b, &body, &none);
	} else {
		wire_buf_free(&body);
		respond_error(c, 404, "not_found", "no such resource (try /health, /stats, /clients)",
			      head);
		return;
	}
	if (wire_buf_failed(&body))
		client_close(c, "out of memory", END_ERROR);
	else
		respond(c, 200, body.p, body.len, head);
	wire_buf_free(&body);
}

int http_feed(struct client *c, const char *p, size_t n)
{
	const char *end = NULL, *eol, *sp1, *sp2, *target;
	size_t scan = n < HTTP_MAX_REQUEST ? n : HTTP_MAX_REQUEST, tlen;
	bool head = p[0] == 'H';

	c->http = true;
	/* the header block ends with an empty line (CRLF CRLF, or bare LF LF) */
	for (size_t i = 0; i + 1 < scan && !end; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			end = p + i + 2;
		else if (p[i + 1] == '\r' && i + 2 < scan && p[i + 2] == '\n')
			end = p + i + 3;
	}
	if (!end) {
		if (n < HTTP_MAX_REQUEST)
			return 1;
		respond_error(c, 431, "too_large", "request line and headers exceed 8 KiB", head);
		return 0;
	}
	eol = memchr(p, '\n', (size_t)(end - p));
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2 || sp1[1] != '/' || !version_valid(sp2 + 1, eol) || !headers_valid(eol + 1, end)) {
		respond_error(c, 400, "bad_request", "malformed HTTP request", head);
		return 0;
	}
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	for (size_t i = 0; i < tlen; i++) {
		if (target[i] == '?') {
			tlen = i; /* the query does not select anything here */
			break;
		}
	}
	log_debug("http conn=%llu pid=%d uid=%u request=%.*s", (unsigned long long)c->serial,
		  (int)c->pid, (unsigned)c->uid, (int)(eol - p), p);
	route(c, target, tlen, head);
	return 0;
}
