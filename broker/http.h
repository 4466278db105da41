/*
 * The HTTP view on the stream socket: a connection whose first bytes are
 * "GET " or "HEAD " is answered as HTTP/1.1 and closed. GET /health,
 * /stats and /clients answer 200 with JSON; other paths 404; a malformed
 * request 400; a request line and headers over 8 KiB 431; too slow 408.
 */
#pragma once

#include <stddef.h>

struct client;

#define HTTP_MAX_REQUEST 8192 /* request line and headers */

enum {
	HTTP_NO,    /* not HTTP: a protocol client */
	HTTP_MAYBE, /* too few bytes to tell */
	HTTP_YES,
};

/* Do the first bytes of a connection start an HTTP request? */
int http_detect(const char *p, size_t n);

/*
 * Handles the request in p[0..n) (the connection's bytes so far). Returns
 * 0 once answered (the client is then closing), or 1 when the request is
 * not complete yet and the bytes must be kept.
 */
int http_feed(struct client *c, const char *p, size_t n);

/* The request did not arrive in time: answer 408. */
void http_timeout(struct client *c);
