/*
 * Frame handling: turns one frame's bytes (borrowed for the call) into an
 * envelope with wire_scan() and acts on it. The handshake lives in
 * handshake.c, requests in request.c, introspection in introspect.c; this
 * is the only place that maps op names to them.
 */
#pragma once

#include <stddef.h>

#include "wire.h"

struct client;
struct sub;

void dispatch_frame(struct client *c, const char *p, size_t n);

/* Printable excerpt of s[0..n) for an error message, written to buf. */
const char *dispatch_excerpt(const char *s, size_t n, char *buf, size_t cap);

/* Queues {"op":"ok"} when the frame had an id; delivered may be NULL. */
/* "<op> '<s>'" with s made printable and cut (for forbidden messages). */
const char *dispatch_what(char *buf, size_t cap, const char *op, const char *s, size_t n);

void dispatch_ok(struct client *c, const struct wire_value *id, const uint64_t *delivered);

/* Removes c's subscription s (unsub, or taken back by a policy reload). */
void dispatch_drop_sub(struct client *c, struct sub *s);

/* The handshake (handshake.c): the first frame of a connection. */
void handshake_frame(struct client *c, int scan, const struct wire_env *env,
		     const struct wire_err *err);
